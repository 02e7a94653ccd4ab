"""The trivial predictor's loss from the targets an adapter sees: what a model that ignores its
inputs scores (the targets' mean for MSE, median for MAE, base rates for binary cross-entropy),
one definition for the torch Monitor, the Keras callback (:class:`TargetLevel`, on the host)
and the JAX Recorder (:func:`batch_levels` inside a compiled step, :func:`levels_of_batches`
on the host)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from traindx.arrays import median

LEVEL_ROWS = 8192  # target rows the reference levels are taken from
LEVEL_WIDTH = 1 << 16  # targets wider than this per row (large images, long sequences): no levels
LEVEL_CELLS = 1 << 18  # values kept for the per-output medians (MAE reference)
#: fewest rows a reference level is taken from when they are a probe batch, not the training
#: targets: a variance from n rows has a relative standard error of about sqrt(2/(n-1)) (0.71 at
#: 5 rows, 0.25 at 32)
LEVEL_MIN_ROWS = 32


def _entropy(p: Any, xp: Any = np) -> Any:
    """Binary entropy (nats) of probabilities ``p``, clipped away from 0 and 1."""
    p = xp.clip(p, 1e-7, 1.0 - 1e-7)
    return -(p * xp.log(p) + (1.0 - p) * xp.log1p(-p))


class TargetLevel:
    """The trivial predictor's loss: what a model that ignores its inputs and predicts the
    training targets' per-output mean (median for MAE) scores. Per output column (a target
    row flattened; 1-D targets are one column) a running count, mean and variance merged over
    the rows seen (Chan et al., so batches in order - an unshuffled series - count their
    between-batch spread), the first :data:`LEVEL_CELLS` values for the medians, and the range.
    ``trivial_mse``: the mean over outputs of the variance (MSE of the mean predictor; an
    autoencoder's mean image); ``trivial_mae``: the mean absolute deviation from each
    output's median; ``trivial_bce``: for targets in [0, 1], the mean over outputs of the
    base rate's binary entropy (binary cross-entropy of the base-rate predictor; multi-label
    tags, pixel intensities) and ``trivial_bce_floor``, the targets' own mean entropy (the least
    a binary cross-entropy can reach: 0 for 0/1 labels, above it for soft targets). Integer targets wider than one column (class-id masks, token
    ids) and non-finite rows are left out."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.kept: list[np.ndarray] = []
        self.cells = 0
        self.lo, self.hi = math.inf, -math.inf
        self.ent = 0.0  # the targets' own entropy, summed over rows (mean over outputs)
        self.off = False

    def full(self) -> bool:
        return self.off or self.n >= LEVEL_ROWS

    def add(self, y: Any) -> None:
        if self.full():
            return
        a = np.asarray(y)
        if a.ndim == 0 or not a.shape[0] or np.iscomplexobj(a) or a.dtype.kind not in "fiub":
            return
        a = a.reshape(a.shape[0], -1)
        if a.shape[1] > LEVEL_WIDTH or (a.shape[1] > 1 and a.dtype.kind in "iu"):
            self.off = True
            return
        a = a[: LEVEL_ROWS - self.n].astype(np.float64)
        a = a[np.isfinite(a).all(axis=1)]
        if not a.size:
            return
        if self.mean is not None and self.mean.size != a.shape[1]:
            self.off = True  # targets of changing width: no one reference
            return
        n, mean = a.shape[0], a.mean(axis=0)
        m2 = ((a - mean) ** 2).sum(axis=0)
        if self.mean is None or self.m2 is None:
            self.mean, self.m2 = mean, m2
        else:
            tot, delta = self.n + n, mean - self.mean
            self.m2 = self.m2 + m2 + delta * delta * self.n * n / tot
            self.mean = self.mean + delta * n / tot
        self.n += n
        self.ent += float(_entropy(np.clip(a, 0.0, 1.0)).mean(axis=1).sum())
        self.lo, self.hi = min(self.lo, float(a.min())), max(self.hi, float(a.max()))
        if self.cells < LEVEL_CELLS:
            take = a[: max((LEVEL_CELLS - self.cells) // a.shape[1], 1)]
            self.kept.append(take)
            self.cells += take.size

    def flags(self) -> dict[str, float]:
        if self.off or self.n < 2 or self.mean is None or self.m2 is None:
            return {}
        out = {
            "trivial_mse": float(np.mean(self.m2 / self.n)),
            "target_width": float(self.mean.size),
        }
        s = np.concatenate(self.kept)
        if s.shape[0] >= 2:
            out["trivial_mae"] = float(np.mean(np.abs(s - median(s, axis=0))))
        if self.lo >= 0.0 and self.hi <= 1.0:
            out["trivial_bce"] = float(np.mean(_entropy(self.mean)))
            out["trivial_bce_floor"] = self.ent / self.n
        return out


def batch_levels(y: Any, xp: Any = np) -> tuple[Any, Any, Any, Any]:
    """One batch's (N, ...) float targets, inside a compiled step: (the mean over outputs of
    the within-batch variance, the batch's grand mean, the mean over outputs of the base
    rate's binary entropy and of the targets' own - meaningful for targets in [0, 1]). Over batches, the mean of the
    first plus the variance of the second is :class:`TargetLevel`'s ``trivial_mse`` (exact
    for one output column); the mean of the third its ``trivial_bce`` (low by about 1/(2N)
    per output: a batch's base rates are noisier than the whole set's)."""
    a = y.reshape(y.shape[0], -1).astype(xp.float32)
    mean = xp.mean(a, axis=0)
    own = xp.mean(_entropy(xp.clip(a, 0.0, 1.0), xp))
    return xp.mean(xp.var(a, axis=0)), xp.mean(mean), xp.mean(_entropy(mean, xp)), own


def levels_of_batches(rows: np.ndarray) -> dict[str, float]:
    """``trivial_mse`` (and ``trivial_bce`` for targets in [0, 1]) from :func:`batch_levels`
    rows, one per batch: (variance, grand mean, base-rate entropy, own entropy, min, max).
    Batches with a non-finite value are left out."""
    r = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    r = r[np.isfinite(r).all(axis=1)]
    if not len(r):
        return {}
    out = {"trivial_mse": float(r[:, 0].mean() + r[:, 1].var())}
    if r[:, 4].min() >= 0.0 and r[:, 5].max() <= 1.0:
        out["trivial_bce"], out["trivial_bce_floor"] = float(r[:, 2].mean()), float(r[:, 3].mean())
    return out
