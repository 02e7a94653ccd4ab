"""The marks a step size that is too large leaves on a training-loss curve, and their absence.

An optimizer that overshoots does not leave a loss flat and quiet: the loss rises, swings in
slow waves, spikes, jumps back to a plateau after an early drop, turns non-finite, jumps from
point to point by a large share of its level, or sits at a saturated "confidently wrong"
value. A loss that barely moves, with small point-to-point noise and none of these marks, is
what vanishing gradients, dead units, a zero initialization or a step far too small give -
evidence against an LR that is too high.

:func:`overshoot_marks` reads the shape facts of :func:`traindx.signals.curve.curve_facts`
(plus ``per_error``, the loss per wrong answer, when an accuracy was logged); it is a pure
function of those facts. The thresholds restate what the loss symptoms of the rulebook call a
rise, a swing and a spike, so a run "calm" here fires none of LOSS002/003/004/008.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the loss ends above its best by more than half the progress made, and by more than two
#: standard errors of its own noise (LOSS003's test, without its relative-size guard)
RISE, RISE_Z = 0.5, 2.0
#: chunk medians swing by more than 15 % of the loss scale beyond the net change, and by more
#: than 2.5x what the point-to-point noise alone makes them do (LOSS004's test, looser)
SWING, SWING_Z = 0.15, 2.5
#: two or more points jump above 10 robust sigmas and double the local level (LOSS008)
SPIKES = 2
#: point-to-point scatter above 30 % of the loss level (second half of the run)
JITTER = 0.3
#: nats per wrong answer: the outputs are saturated and wrong (LOSS018)
SATURATED = 8.0
#: a relapse: fell by at least this share of the start, best in the first 40 % of the run,
#: then back up by half the progress to a plateau whose spread is under 5 % of its level
RELAPSE_DROP, RELAPSE_AT, RELAPSE_BACK, PLATEAU_CV = 0.2, 0.4, 0.5, 0.05
#: fewer finite points than this and the curve has no shape to judge
MIN_POINTS = 8


def _num(f: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    v = f.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else default


def which_marks(f: Mapping[str, Any]) -> dict[str, bool]:
    """Each overshoot mark, shown or not, from the shape facts ``f`` (empty without them)."""
    if "rise" not in f:
        return {}
    relapse = (
        _num(f, "drop") >= RELAPSE_DROP
        and _num(f, "min_progress", 1.0) <= RELAPSE_AT
        and _num(f, "rise") >= RELAPSE_BACK
        and _num(f, "tail_cv", 1.0) <= PLATEAU_CV
    )
    return {
        "rises": _num(f, "rise") > RISE and _num(f, "rise_z") > RISE_Z,
        "swings": _num(f, "osc") > SWING and _num(f, "osc_z") > SWING_Z,
        "spikes": _num(f, "spikes") >= SPIKES,
        "jitter": _num(f, "noise") > JITTER,
        "nonfinite": bool(f.get("has_nonfinite")),
        "explodes": _num(f, "explode_step", -1.0) >= 0,
        "saturated": _num(f, "per_error") > SATURATED,
        "relapse": relapse,
    }


def overshoot_marks(f: Mapping[str, Any]) -> dict[str, bool | int]:
    """The loss facts the rulebook reads: ``overshoot`` (how many of :func:`which_marks`
    the curve shows), ``relapse`` (an early drop followed by a jump back up to a plateau) and
    ``calm`` (none of the marks, at least ``MIN_POINTS`` finite points). Empty when the
    curve has no shape facts."""
    marks = which_marks(f)
    if not marks:
        return {}
    n = sum(marks.values())
    return {"overshoot": n, "relapse": marks["relapse"], "calm": n == 0 and _num(f, "n_finite") >= MIN_POINTS}


__all__ = ["overshoot_marks", "which_marks"]
