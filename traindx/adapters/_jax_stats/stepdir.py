"""The direction of the step the loop applied, against the gradient (flags ``step_grad_cos``,
``step_grad_pairs``).

At a telemetry step :func:`sketch` keeps a fixed, strided sample of each parameter leaf and
of its gradient (at most :data:`SKETCH` coordinates in all: a slice, no RNG). Two telemetry
rows at adjacent steps give the change the loop applied, ``p[t+1] - p[t]``, on the sample;
:class:`StepDirection` takes its cosine with the gradient ``g[t]``: -1 for a plain descent
step (SGD), -|g|_1 / (sqrt(n) |g|_2) for Adam's first (sign-like) step, negative for momentum
and clipping, whatever the step size (an LR too high overshoots along the descent direction);
+1 where the parameters move along the gradient - gradient ascent (``optax.apply_updates(
params, grads)``, a ``+`` in a hand-written update). The Recorder's cadence makes step 1 a
telemetry step beside step 0, so every run has a pair; the host keeps the median cosine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.adapters._jax_stats.reduce import _f32
from traindx.arrays import median

SKETCH = 256  # sampled coordinates per telemetry row, parameters and gradients each
MAX_PAIRS = 4096  # cosines kept (bounded memory)


def sketch(gl: list[Any], pl: list[Any], xp: Any) -> tuple[list[str], list[Any]]:
    """Tags and values of the sampled coordinates of parameter and gradient leaves of the
    same shapes (``_skp{i}``, ``_skg{i}``); none when the two trees differ."""
    if not gl or len(gl) != len(pl) or any(np.shape(g) != np.shape(p) for g, p in zip(gl, pl, strict=True)):
        return [], []
    per = max(1, SKETCH // len(gl))
    ps, gs = [], []
    for g, p in list(zip(gl, pl, strict=True))[:SKETCH]:
        n = int(np.size(p))
        if not n:
            continue
        k = min(per, n)
        s = n // k
        ps.append(_f32(xp.reshape(p, (-1,))[: s * k : s], xp))
        gs.append(_f32(xp.reshape(g, (-1,))[: s * k : s], xp))
    if not ps:
        return [], []
    m = sum(int(x.shape[0]) for x in ps)
    return [f"_skp{i}" for i in range(m)] + [f"_skg{i}" for i in range(m)], [xp.concatenate(ps), xp.concatenate(gs)]


class StepDirection:
    """Cosines of the applied parameter change with the gradient, over telemetry rows at
    adjacent steps (the last row is kept across fetches)."""

    def __init__(self) -> None:
        self.cos: list[float] = []
        self.prev: tuple[int, np.ndarray, np.ndarray] | None = None

    def see(self, col: dict[str, int], steps: np.ndarray, rows: np.ndarray) -> dict[str, float]:
        """Fold telemetry rows (at their steps) in; the flags so far."""
        m = sum(1 for t in col if t.startswith("_skp"))
        if not m or "_skg0" not in col:
            return self.flags()
        cp, cg = col["_skp0"], col["_skg0"]
        for s, r in zip(steps.tolist(), rows, strict=True):
            p, g = r[cp : cp + m].astype(np.float64), r[cg : cg + m].astype(np.float64)
            if self.prev is not None and s == self.prev[0] + 1 and np.all(np.isfinite(p)):
                d, g0 = p - self.prev[1], self.prev[2]
                nd, ng = float(np.linalg.norm(d)), float(np.linalg.norm(g0))
                if nd > 0.0 and ng > 0.0 and len(self.cos) < MAX_PAIRS:
                    self.cos.append(float(d @ g0) / (nd * ng))
            self.prev = (int(s), p, g) if np.all(np.isfinite(p)) and np.all(np.isfinite(g)) else None
        return self.flags()

    def flags(self) -> dict[str, float]:
        if not self.cos:
            return {}
        return {"step_grad_cos": float(median(self.cos)), "step_grad_pairs": float(len(self.cos))}
