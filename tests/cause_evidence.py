"""Shared by the cause-evidence tests: a run built from step series, and whether one evidence
item of a cause (picked by the start of its ``says``) holds on it."""

from __future__ import annotations

import numpy as np

from traindx.engine import check
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts

BOOK = load_rulebook()


def series_run(series: dict[str, np.ndarray], context: dict | None = None) -> Run:
    """A run whose series are logged every 50 steps (steps 49, 99, ...)."""
    run = Run(id="case", context=RunContext.model_validate(context or {}))
    for key_text, values in series.items():
        steps = (np.arange(values.size, dtype=np.int64) + 1) * 50 - 1
        run.add(Series(key=SeriesKey.parse(key_text), steps=steps, values=np.asarray(values, dtype=float), unit="step"))
    return run


def evidence_holds(cause_id: str, says_start: str, run: Run) -> bool | None:
    """The one evidence item of the cause whose text starts so, evaluated on the run's facts."""
    cause = next(c for c in BOOK.causes if c.id == cause_id)
    rules = [r for r in cause.evidence if r.says.startswith(says_start)]
    assert len(rules) == 1, [r.says for r in cause.evidence]
    ok, _needs, err = check(rules[0].condition, compute_facts(run))
    assert err is None
    return ok
