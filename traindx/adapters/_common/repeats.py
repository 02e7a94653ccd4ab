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
        JAX telemetry's per-step entries carry them."""
        for st, (n, mean, ms) in zip(steps, cols, strict=True):
            self.see(int(st), (n,), (mean, ms))

    def fold(self, flags: dict[str, Any]) -> None:
        if self.checked:
            flags["inputs_same_share"] = round(self.same / self.checked, 4)
            flags["inputs_checked"] = float(self.checked)
