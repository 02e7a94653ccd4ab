"""A declared likelihood loss that levels off below 0 is no runaway (gapsr48).

torch's PoissonNLLLoss (log_input=True, full=False) drops the log(y!) term, so it is negative
wherever the model fits; qa_real48's fixed Monitor run falls 1.50 -> -3.23 and keeps creeping
down by a hair to its last epoch (its lowest point is the last, so "stopped falling before the
last tenth" missed it) while the validation MAE falls to 1.33. Starting above 0 and making
under a tenth of its fall in the last quarter, it settled (shared.likelihood_loss_settled);
a negated log-likelihood starts below 0, and a likelihood run away keeps falling at its pace.
"""

from __future__ import annotations

from pathlib import Path

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parent.parent
PAIR = ROOT / "fixtures/qa_real48/logs/torch_event_counts_poisson_nllloss_log_input_false_linear_head_csv_writer_monitor"
NEGATED = ROOT / "fixtures/qa_fresh36/logs/tf_gradienttape_gaussian_head_log_prob_without_minus_jsonl"


def _codes(path: Path) -> set[str]:
    return {s.code for s in diagnose(path, learned=False)[0].symptoms}


def test_poisson_nll_monitor_run_that_levels_off_is_healthy():
    fixed = diagnose(PAIR / "fixed_adapter")[0]
    assert fixed.healthy
    assert "LOSS006" not in _codes(PAIR / "fixed_adapter")


def test_negated_log_likelihood_still_reads_as_negative_runaway():
    assert "LOSS006" in _codes(NEGATED / "buggy")
