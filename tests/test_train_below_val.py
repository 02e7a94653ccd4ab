"""Training accuracy (measured with dropout / noise on) ending well below the validation
accuracy reads as training-time regularization, not as small steps (trainval22): evidence on
too_much_regularization, counter-evidence on lr_too_low. A run whose training accuracy ends
near or above validation fires neither."""

from __future__ import annotations

import numpy as np

from traindx.engine import check
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts

BOOK = load_rulebook()
N = 20
LOSS = 2.3 * 0.85 ** np.arange(float(N)) + 0.3
VAL_ACC = np.linspace(0.3, 0.9, N)


def _run(train_acc: np.ndarray) -> Run:
    run = Run(id="case", context=RunContext.model_validate({}))
    series = {"loss": LOSS, "val/loss": LOSS * 0.8, "accuracy": train_acc, "val/accuracy": VAL_ACC}
    for key_text, values in series.items():
        steps = (np.arange(values.size, dtype=np.int64) + 1) * 50 - 1
        run.add(
            Series(
                key=SeriesKey.parse(key_text),
                steps=steps,
                values=np.asarray(values, dtype=float),
                unit="step",
            )
        )
    return run


def _fired(cause_id: str, run: Run) -> bool | None:
    cause = next(c for c in BOOK.causes if c.id == cause_id)
    rules = [r for r in cause.evidence if r.says.startswith("training accuracy ends")]
    assert len(rules) == 1, [r.says for r in cause.evidence]
    ok, _needs, err = check(rules[0].condition, compute_facts(run))
    assert err is None
    return ok


def test_train_accuracy_far_below_validation_reads_as_regularization_not_small_steps():
    run = _run(VAL_ACC - 0.3)  # heavy dropout: training accuracy 0.3 below validation all run
    assert _fired("too_much_regularization", run)
    assert _fired("lr_too_low", run)
    reg = next(
        r
        for r in next(c for c in BOOK.causes if c.id == "too_much_regularization").evidence
        if r.says.startswith("training accuracy ends")
    )
    low = next(
        r
        for r in next(c for c in BOOK.causes if c.id == "lr_too_low").evidence
        if r.says.startswith("training accuracy ends")
    )
    assert reg.lr > 1.0 > low.lr


def test_train_accuracy_a_bit_below_validation_is_normal_dropout():
    # moderate dropout (0.5): training accuracy a few points below validation is healthy
    run = _run(VAL_ACC - 0.04)
    assert not _fired("too_much_regularization", run)
    assert not _fired("lr_too_low", run)


def test_train_accuracy_above_validation_fires_neither():
    run = _run(np.minimum(VAL_ACC + 0.08, 1.0))
    assert not _fired("too_much_regularization", run)
    assert not _fired("lr_too_low", run)
