"""Test against validation on every bounded quality metric logged for both (recall, F1,
precision, AUC, accuracy...): a test set the validation set does not represent shows in the
metric that matters for the task even where accuracy agrees (a fraud model's accuracy 0.93
against 0.97 beside recall 0.50 against 1.00)."""

from __future__ import annotations

import math

from traindx.metric_direction import BOUNDED_01
from traindx.schema import Run


def _last(values) -> float | None:
    finite = [float(v) for v in values if math.isfinite(float(v))]
    return finite[-1] if finite and 0.0 <= finite[-1] <= 1.0 else None


def val_test_quality_gap(run: Run) -> dict[str, float]:
    """``quality_gap_max``: the largest |test - validation| of the last values of a bounded
    quality metric (higher is better, values in [0, 1]) logged globally on both splits;
    ``quality_gap_n``: how many such metrics the run logged on both."""
    val = {s.key.metric: s for s in run.series.values() if s.key.split == "val" and s.key.scope == "global"}
    gaps = []
    for s in run.series.values():
        if s.key.split != "test" or s.key.scope != "global" or not BOUNDED_01.fullmatch(s.key.metric):
            continue
        v = val.get(s.key.metric)
        t_last, v_last = _last(s.values), (_last(v.values) if v is not None else None)
        if t_last is not None and v_last is not None:
            gaps.append(abs(t_last - v_last))
    return {"quality_gap_max": max(gaps), "quality_gap_n": float(len(gaps))} if gaps else {}
