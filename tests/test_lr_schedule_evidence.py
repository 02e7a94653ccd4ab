"""Cause evidence read on the logged LR schedule (gapsl46): a loss blow-up while a warm-up or a
growing schedule raised the LR, and an LR cut to 1 % of its peak early (not too few epochs)."""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()


def evidence(series: dict[str, str]) -> dict[str, list[str]]:
    case = Case(name="r", series=series, fires=True)
    return {c.id: [str(e) for e in c.evidence] for c in diagnose_run(case_run(case), BOOK).causes}


def test_a_blow_up_at_a_warm_up_peak_is_the_step_size():
    # Lightning LambdaLR warm-up 0.025 -> 0.5 over 100 steps, constant after; the loss leaves
    # its range at step ~85 (qa_mixed46)
    ev = evidence({"lr": "0.025+0.00475x100 0.5x100", "loss": "0.82x85 30*1.5x115"})
    assert any("once the logged LR had grown" in e for e in ev["lr_too_high"]), ev["lr_too_high"]


def test_a_blow_up_while_the_lr_still_climbs_is_the_schedule():
    ev = evidence({"lr": "0.001*1.05x200", "loss": "2.3*0.99x60 25*1.3x140"})
    assert any("was still climbing" in e for e in ev["lr_schedule_bad"]), ev["lr_schedule_bad"]


def test_a_blow_up_at_a_constant_lr_says_nothing_of_the_schedule():
    ev = evidence({"lr": "0.5x200", "loss": "0.82x85 30*1.5x115"})
    assert not any("logged LR had grown" in e for e in ev.get("lr_too_high", []))
    assert not any("still climbing" in e for e in ev.get("lr_schedule_bad", []))


def test_an_lr_cut_to_one_percent_early_is_not_too_few_epochs():
    # qa_jax46: optax piecewise 0.05 -> 0.0005 at step 6 of 704 (boundaries written in epochs),
    # logged in float32; LR001 fires, and the loss still falls slowly at the end (LOSS007)
    from pathlib import Path

    from traindx.readers import read

    run_dir = Path(__file__).parent.parent / "fixtures/qa_jax46/logs" / (
        "jax_linen_digits_trainstate_piecewise_boundaries_written_in_epochs_sgd_momentum_static_argnames_tf_summary_recorder/buggy")
    d = diagnose_run(read(run_dir)[0], BOOK)
    ev = {c.id: [str(e) for e in c.evidence] for c in d.causes}
    assert any("the steps, not the epoch count" in e for e in ev["too_few_epochs"]), ev["too_few_epochs"]
    order = [c.id for c in d.causes]
    assert order.index("lr_schedule_bad") < order.index("too_few_epochs"), order[:4]
