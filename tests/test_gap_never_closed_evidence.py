"""A validation loss that was never close to the training loss speaks against overfitting
(which opens a gap from near 1), even when validation falls for a few epochs first."""

from __future__ import annotations

import numpy as np

from traindx.engine import check
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts

BOOK = load_rulebook()
NEVER = "validation loss was never within 1.8x"


def _run(train: np.ndarray, val: np.ndarray) -> Run:
    run = Run(id="case", context=RunContext.model_validate({}))
    e = np.arange(1, train.size + 1, dtype=np.int64)
    for key, v in (("loss", train), ("val/loss", val)):
        run.add(Series(key=SeriesKey.parse(key), steps=e, values=np.asarray(v, dtype=float), unit="epoch"))
    return run


def _fired(run: Run) -> bool | None:
    cause = next(c for c in BOOK.causes if c.id == "overfitting")
    rules = [r for r in cause.evidence if r.says.startswith(NEVER)]
    assert len(rules) == 1
    ok, _needs, err = check(rules[0].condition, compute_facts(run))
    assert err is None, err
    return ok


def test_a_gap_from_the_first_evaluation_that_falls_first_is_never_closed():
    e = np.arange(30.0)
    train = 0.03 * 0.8**e + 0.0007
    val = np.maximum(0.12 * 0.6**e, 0.04)  # falls for three epochs, then flat far above
    assert _fired(_run(train, val)) is True


def test_overfitting_that_opens_from_near_one_is_not():
    e = np.arange(30.0)
    train = 1.0 * 0.85**e + 0.01
    val = np.maximum(1.05 * 0.85**e, 0.25) + 0.01 * e  # close, then apart
    assert _fired(_run(train, val)) is False
