"""Whether the model was fed the same batch at consecutive steps.

A loop that feeds the model one tensor every step (full-batch training, or a beginner's
``for epoch: out = model(X)`` over one batch) gives the same input summary at step s and
s + 1; mini-batches of real data give a different one at each. Only adjacent steps are
compared: telemetry steps every k steps of an unshuffled loader with k batches an epoch
see the same batch each time, and that is no repeat. Compared on the host, from summaries
the adapters move there with the rest. A fact only; the rulebook judges it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Moments agree to this share of the input's scale (a shuffled copy of the same rows sums
#: in another order: its float32 mean differs in the last bits); counts and extremes exactly.
REL = 1e-5


class InputRepeats:
    """Flags ``inputs_same_share`` (of the compared pairs of adjacent steps, the share whose
    inputs summarise alike: 1.0 when every compared step saw the same batch as the step
    before) and ``inputs_checked`` (how many pairs were compared)."""

    def __init__(self) -> None:
        self.last: tuple[int, tuple[float, ...], tuple[float, ...]] | None = None
        self.same = 0
        self.checked = 0

    def see(self, step: int, exact: tuple[Any, ...], approx: tuple[Any, ...]) -> None:
        """One step's input summary: ``exact`` (element count, min, max...) must be equal,
        ``approx`` (mean, std...) equal within :data:`REL` of their largest magnitude."""
        ex, ap = tuple(float(v) for v in exact), tuple(float(v) for v in approx)
        if not ex or not ex[0] or not all(math.isfinite(v) for v in ex + ap):
            return  # not recorded this step (or not finite: nothing to compare)
        prev, self.last = self.last, (int(step), ex, ap)
        if prev is None or prev[0] != int(step) - 1:
            return
        self.checked += 1
        tol = REL * max(max((abs(v) for v in ap + prev[2]), default=0.0), 1e-12)
        self.same += int(prev[1] == ex and all(abs(a - b) <= tol for a, b in zip(prev[2], ap, strict=True)))

    def see_rows(self, steps: Any, cols: Any) -> None:
        """Many steps at once: ``cols`` rows of (element count, mean, mean square), as the
        JAX telemetry's per-step entries carry them; the same as :meth:`see` row by row, in
        a few array operations (one call per 100 steps: the loop cost 5-6 us a step, 0.4-0.8 %
        of a 0.8-1.2 ms JAX step, ``benchmarks/inputs_check_cost.py``)."""
        c = np.asarray(cols, dtype=np.float64).reshape(-1, 3)
        st = np.asarray(steps).astype(np.int64).reshape(-1)
        if len(st) != len(c):
            raise ValueError(f"{len(st)} steps for {len(c)} rows")
        keep = (c[:, 0] != 0) & np.isfinite(c).all(axis=1)  # not recorded (or not finite): skipped
        st, c = st[keep], c[keep]
        if not len(st):
            return
        last = self.last
        if last is not None and len(last[1]) == 1 and len(last[2]) == 2:
            st = np.concatenate([[last[0]], st])
            c = np.concatenate([[[last[1][0], *last[2]]], c])
        elif last is not None:  # a summary of another shape before: the first row alone
            self.see(int(st[0]), (c[0, 0],), (c[0, 1], c[0, 2]))
            self.see_rows(st[1:], c[1:])
            return
        if len(st) > 1:
            prev, cur = c[:-1], c[1:]
            adj = st[1:] == st[:-1] + 1
            tol = REL * np.maximum(np.maximum(np.abs(prev[:, 1:]).max(axis=1), np.abs(cur[:, 1:]).max(axis=1)), 1e-12)
            alike = (prev[:, 0] == cur[:, 0]) & (np.abs(cur[:, 1:] - prev[:, 1:]) <= tol[:, None]).all(axis=1)
            self.checked += int(adj.sum())
            self.same += int((adj & alike).sum())
        self.last = (int(st[-1]), (float(c[-1, 0]),), (float(c[-1, 1]), float(c[-1, 2])))

    def fold(self, flags: dict[str, Any]) -> None:
        if self.checked:
            flags["inputs_same_share"] = round(self.same / self.checked, 4)
            flags["inputs_checked"] = float(self.checked)
