"""A loss that runs negative on a run known to be a regression is the loss itself (a loss linear
in the output: an MAE without its abs) or its sign, never logits fed a log-likelihood loss; and
OUT003's first loss at ln(batch) is no batch softmax where the validation loss starts at the class
softmax's ln(C). Read on the qa_real26 logs that showed both, and on synthetic curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.engine import check, diagnose_run
from traindx.readers import read
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts

BOOK = load_rulebook()
LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "qa_real26" / "logs"
NO_LOGITS = ("logits_loss_mismatch", "the run is a regression")
LINEAR = ("wrong_loss_function", "a regression loss that starts")


def _run(series: dict[str, np.ndarray], context: dict | None = None) -> Run:
    run = Run(id="case", context=RunContext.model_validate(context or {}))
    for key_text, values in series.items():
        steps = (np.arange(values.size, dtype=np.int64) + 1) * 50 - 1
        run.add(Series(key=SeriesKey.parse(key_text), steps=steps, values=np.asarray(values, float), unit="step"))
    return run


def _fired(item: tuple[str, str], facts: dict) -> bool | None:
    cause = next(c for c in BOOK.causes if c.id == item[0])
    (rule,) = [r for r in cause.evidence if r.says.startswith(item[1])]
    ok, _needs, err = check(rule.condition, facts)
    assert err is None, err
    return ok


def _logged(pair: str, which: str) -> Run:
    (run,) = read(LOGS / pair / which)
    return run


def test_mae_without_abs_is_read_as_a_regression_loss_not_logits():
    for which in ("buggy", "buggy_adapter"):  # r2 / val_r2 logged, no accuracy; the callback's task
        facts = compute_facts(_logged("kr_custom_mae_without_abs_torch", which))
        assert _fired(NO_LOGITS, facts) is True, which
        assert _fired(LINEAR, facts) is True, which
    top = diagnose_run(_logged("kr_custom_mae_without_abs_torch", "buggy_adapter"), BOOK).causes[0].id
    assert top == "wrong_loss_function"
    for which in ("fixed", "fixed_adapter"):
        facts = compute_facts(_logged("kr_custom_mae_without_abs_torch", which))
        assert not _fired(NO_LOGITS, facts) and not _fired(LINEAR, facts), which


def _falling(start: float, end: float, n: int = 60) -> np.ndarray:
    return np.linspace(start, end, n)


def test_a_negated_error_on_a_regression_is_not_read_as_a_linear_loss():
    # -MSE on standardised targets starts near -1: the regression has no logits, but the loss
    # is a negated error (loss_sign_flipped), not one linear in the output
    run = _run({"loss": _falling(-1.0, -400.0), "val/r2": _falling(-0.5, -300.0, 10)})
    facts = compute_facts(run)
    assert _fired(NO_LOGITS, facts) is True
    assert _fired(LINEAR, facts) is False


def test_a_classifier_starting_near_zero_keeps_the_logits_reading():
    # NLL on raw logits: starts near 0, runs negative, accuracy logged - a classifier
    run = _run({"loss": _falling(-0.05, -300.0), "accuracy": _falling(0.1, 0.6), "val/mae": _falling(1.0, 0.9, 10)})
    facts = compute_facts(run)
    assert _fired(NO_LOGITS, facts) is False
    assert _fired(LINEAR, facts) is False


def test_a_gaussian_nll_a_little_below_zero_is_no_unbounded_linear_loss():
    run = _run({"loss": _falling(0.2, -1.5), "val/mse": _falling(1.0, 0.5, 10)})
    assert _fired(LINEAR, compute_facts(run)) is False


def test_first_loss_at_ln_batch_by_coincidence_with_validation_at_ln_classes():
    # Recorder run: dropout 0.7 inflates the first logits (first loss 4.26 ~ ln 64) while the
    # first validation loss is 2.297 ~ ln 10: a softmax over the classes
    run = _logged("jax_flax_mlp_dropout_every_layer", "buggy_adapter")
    facts = compute_facts(run)
    assert 0.95 < facts["chance"]["loss_first_over_ln_batch"] < 1.05
    assert "OUT003" not in {s.code for s in diagnose_run(run, BOOK).symptoms}
