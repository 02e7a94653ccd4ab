"""Put one logged series' points in step order without losing any that were not superseded.

Readers hand over points in write order. Steps that do not increase mean one of several
things, told apart by record order and wall time:

* all points at one step (``add_scalar`` without ``global_step``): numbered by record order;
* a step counter reset every epoch (``step=batch_idx``): every segment restarts at the first
  step and runs to the same last step: numbered as one continuous count;
* records out of order (shuffled, reversed, files concatenated): wall times that go back, or
  (without wall times) steps that never repeat: sorted by wall time, else by step;
* a resumed run (TensorBoard's "later writes supersede"): a jump back to an earlier step
  written later; points written earlier at that step or after it are superseded.

Nothing is dropped without a count: :func:`order_points` returns what it did as
``(kind, count, what)`` problems (kinds of :data:`traindx.schema.PROBLEM_KINDS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from traindx.arrays import unique

_I64_MAX = np.iinfo(np.int64).max


@dataclass
class Ordered:
    steps: np.ndarray
    values: np.ndarray
    superseded: int = 0
    problems: list[tuple[str, int, str]] = field(default_factory=list)


def _increasing(steps: np.ndarray) -> bool:
    return steps.size < 2 or bool((steps[1:] > steps[:-1]).all())


def supersede(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """TensorBoard's rule on points in write order: a point survives unless a point written
    later has a step at or below its step. Returns kept steps, values and how many went."""
    if _increasing(steps):
        return steps, values, 0
    later_min = np.minimum.accumulate(steps[::-1])[::-1]
    keep = np.ones(steps.size, dtype=bool)
    keep[:-1] = steps[:-1] < later_min[1:]
    return steps[keep], values[keep], int(steps.size - keep.sum())


def epoch_counter(steps: np.ndarray) -> np.ndarray | None:
    """Continuous steps when ``steps`` is a counter reset to its first value every epoch."""
    starts = np.flatnonzero(steps[1:] < steps[:-1]) + 1
    if not starts.size or (steps[1:] == steps[:-1]).any():
        return None
    s0 = int(steps[0])
    if (steps[starts] != s0).any():
        return None
    ends = np.append(starts, steps.size) - 1
    full_last = steps[ends[:-1]]
    if (full_last != full_last[0]).any() or steps[ends[-1]] > full_last[0]:
        return None
    period = int(full_last[0]) - s0 + 1
    if period * (starts.size + 1) + abs(s0) >= _I64_MAX:
        return None
    epoch = np.zeros(steps.size, dtype=np.int64)
    epoch[starts] = 1
    return steps + np.cumsum(epoch) * period


def order_points(
    steps: np.ndarray, values: np.ndarray, wall: np.ndarray | None = None, unit: str = "step"
) -> Ordered:
    """Points in write order -> strictly increasing steps, with what that took.

    A per-epoch counter reset is only looked for on a ``step`` axis: an epoch axis that goes
    back is a re-run or a resume."""
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    out = Ordered(steps, values)
    n = steps.size
    if _increasing(steps):
        return out
    walls = None
    if wall is not None and len(wall) == n:
        w = np.asarray(wall, dtype=np.float64)
        if np.isfinite(w).all() and (w != w[0]).any():
            walls = w
    if walls is not None and (walls[1:] < walls[:-1]).any():
        order = np.argsort(walls, kind="stable")
        moved = int((order != np.arange(n)).sum())
        steps, values, walls = steps[order], values[order], walls[order]
        out.problems.append(
            (
                "reordered",
                moved,
                "records out of write order (wall time goes back); put back in wall-time order",
            )
        )
        if _increasing(steps):
            out.steps, out.values = steps, values
            return out
    if (steps == steps[0]).all():
        start = int(steps[0]) if int(steps[0]) <= _I64_MAX - n else 0
        out.steps, out.values = start + np.arange(n, dtype=np.int64), values
        out.problems.append(
            (
                "renumbered",
                n,
                f"all {n} points logged at step {int(steps[0])} (no global_step?); numbered by record order",
            )
        )
        return out
    cont = epoch_counter(steps) if unit == "step" else None
    if cont is not None:
        k = int((steps[1:] < steps[:-1]).sum())
        out.steps, out.values = cont, values
        out.problems.append(
            (
                "renumbered",
                n,
                f"the step restarts at {int(steps[0])} {k} time(s) (a per-epoch counter such as batch_idx?); numbered as one continuous count",
            )
        )
        return out
    distinct = unique(steps).size == n
    if distinct and walls is None:
        order = np.argsort(steps, kind="stable")
        out.steps, out.values = steps[order], values[order]
        out.problems.append(
            (
                "reordered",
                int((order != np.arange(n)).sum()),
                "steps out of order (no step repeats, so nothing is superseded); sorted by step",
            )
        )
        return out
    kept_s, kept_v, gone = supersede(steps, values)
    out.steps, out.values, out.superseded = kept_s, kept_v, gone
    out.problems.append(
        (
            "superseded",
            gone,
            f"{gone} point(s) superseded by points written later at the same or an earlier step (a resumed run: the later ones are kept, as TensorBoard does)",
        )
    )
    return out
