"""Statistics of a batch (inputs, labels, outputs) for :func:`.telemetry._full`: traced
(``xp`` is ``jax.numpy``) or on the host (``numpy``, :mod:`.host`), one definition."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from traindx.adapters._common import (
    TARGET_SAMPLE,
    TargetFacts,
    batch_levels,
)
from traindx.adapters._common.levels import LEVEL_WIDTH
from traindx.adapters._jax_stats.reduce import _f32
from traindx.adapters._jax_stats.tree import first_array

MAX_COUNTED_CLASSES = 1024  # class counts are kept for at most this many classes
_F32 = np.float32


def _summary(x: Any, xp: Any = jnp) -> list[jax.Array]:
    """mean, std, min, max, non-finite count, size (over finite values where some are not)."""
    xf = _f32(x, xp)
    n = xf.size
    if jnp.issubdtype(xp.asarray(x).dtype, jnp.floating):
        # two reductions (sums; min and max), not five: each costs XLA compile time
        fin = xp.isfinite(xf).reshape(-1)
        xz = xp.where(fin, xf.reshape(-1), 0.0)
        s = xp.sum(xp.stack([fin.astype(_F32), xz, xz * xz]), axis=1)
        mm = xp.max(xp.stack([xp.where(fin, -xz, -xp.inf), xp.where(fin, xz, -xp.inf)]), axis=1)
        nf = xp.asarray(n, _F32) - s[0]
        cnt = xp.maximum(s[0], 1.0)
        mean = s[1] / cnt
        var = xp.maximum(s[2] / cnt - mean * mean, 0.0)
        lo, hi = -mm[0], mm[1]
    else:
        nf = xp.zeros((), _F32)
        mean, lo, hi = xp.mean(xf), xp.min(xf), xp.max(xf)
        var = xp.maximum(xp.mean(xf * xf) - mean * mean, 0.0)
    return [mean, xp.sqrt(var), lo, hi, nf, xp.asarray(n, _F32)]


def _output_stats(o: Any, y: Any, tags: list[str], vals: list[Any], meta: list[tuple[str, Any]],
                  xp: Any = jnp) -> None:  # fmt: skip
    """Raw output facts (the host decides the output activation from the first of them),
    the largest predicted-class fraction, accuracies, class counts of the labels."""
    o = _f32(o, xp)
    width = int(o.shape[-1]) if o.ndim >= 2 else 1
    meta.append(("out_shape", tuple(int(s) for s in o.shape)))
    tags += ["_out_min", "_out_max", "_out_frac_zero"]
    vals += [xp.min(o), xp.max(o), xp.mean(o == 0)]
    ys = None if y is None else xp.asarray(y)
    if ys is not None:
        meta += [("label_shape", tuple(int(s) for s in ys.shape)), ("label_dtype", str(ys.dtype))]
    if width >= 2:
        o2 = o.reshape(-1, width)
        rows = xp.sum(o2, axis=-1)
        cols = xp.sum(o2, axis=0)
        lse = _logsumexp(o2, xp)
        pred = xp.argmax(o2, axis=-1)
        counts = _bincount(pred, None, width, xp)
        # _out_lsedev: the row-sum deviation of exp(o), for log-probability outputs (log_softmax)
        tags += ["_out_rowdev", "_out_rowdev_max", "_out_coldev_max", "_out_lse_max", "_out_lsedev",
                 "train/pred_class_frac:max"]  # fmt: skip
        vals += [xp.mean(xp.abs(rows - 1.0)), xp.max(xp.abs(rows - 1.0)), xp.max(xp.abs(cols - 1.0)),
                 xp.max(xp.abs(lse)), xp.mean(xp.abs(xp.exp(xp.minimum(lse, 80.0)) - 1.0)),
                 xp.max(counts) / o2.shape[0]]  # fmt: skip
        if ys is not None:
            if not jnp.issubdtype(ys.dtype, jnp.floating) and ys.shape == o.shape[:-1]:
                yf = ys.reshape(-1)
                valid = (yf >= 0) & (yf < width)
                tags.append("_acc")
                vals.append(xp.sum((pred == yf) & valid, dtype=_F32) / xp.maximum(xp.sum(valid, dtype=_F32), 1.0))
                # the softmax cross-entropy of these logits and labels (mean over the valid
                # rows): the data loss, for the host to set beside the step's reported loss
                own = xp.take_along_axis(o2, xp.where(valid, yf, 0).astype(np.int32)[:, None], axis=-1)[:, 0]
                tags.append("_ce_int")
                vals.append(xp.sum(xp.where(valid, lse - own, 0.0)) / xp.maximum(xp.sum(valid, dtype=_F32), 1.0))
                meta.append(("ce_rows", int(o2.shape[0])))
                if width <= MAX_COUNTED_CLASSES:
                    tags += [f"_cls{k}" for k in range(width)]
                    vals.append(_bincount(xp.where(valid, yf, 0), valid.astype(_F32), width, xp))
            elif ys.shape == o.shape:  # one-hot or soft targets
                y2 = _f32(ys, xp).reshape(-1, width)
                tags.append("_acc")
                vals.append(xp.mean(pred == xp.argmax(y2, axis=-1)))
                if width <= MAX_COUNTED_CLASSES:
                    tags += [f"_cls{k}" for k in range(width)]
                    vals.append(xp.sum(y2, axis=0))
    elif ys is not None and ys.size == o.size:  # one output per example: binary or regression
        of, yf = o.reshape(-1), _f32(ys, xp).reshape(-1)
        pos = yf > 0.5
        tags += ["_acc_thr0", "_acc_thr05", "_cls0", "_cls1", "_label_binary"]
        vals += [xp.mean((of > 0.0) == pos), xp.mean((of > 0.5) == pos),
                 xp.sum(~pos, dtype=_F32), xp.sum(pos, dtype=_F32),
                 xp.all((yf == 0.0) | (yf == 1.0)).astype(_F32)]  # fmt: skip
        if o.ndim == ys.ndim + 1 and o.shape[-1] == 1:  # (N, 1) outputs, (N,) targets
            # an element-wise loss of the two either compared them row by row (the output
            # squeezed, o[:, 0]) or broadcast them to (N, N): the mean of MSE, of sigmoid BCE
            # (O(N): both are linear in the target) and of L1 both ways, for the host to compare
            # with the step's loss (squeezed_or_broadcast in _jax_context)
            sp = xp.maximum(of, 0.0) + xp.log1p(xp.exp(-xp.abs(of)))
            mo, my = xp.mean(of), xp.mean(yf)
            # mean |o_i - y_j| over all pairs in O(N log N): sorted targets and their prefix sums
            ys_, n = xp.sort(yf), yf.shape[0]
            cs = xp.concatenate([xp.zeros(1, _F32), xp.cumsum(ys_)])
            k = xp.searchsorted(ys_, of, side="right")
            l1_bc = xp.sum(of * k - cs[k] + (cs[-1] - cs[k]) - of * (n - k)) / (n * n)
            tags += ["_bc_mse_sq", "_bc_mse_bc", "_bc_bce_sq", "_bc_bce_bc", "_bc_l1_sq", "_bc_l1_bc"]
            vals += [xp.mean((of - yf) ** 2), xp.mean(of * of) - 2.0 * mo * my + xp.mean(yf * yf),
                     xp.mean(sp - of * yf), xp.mean(sp) - mo * my,
                     xp.mean(xp.abs(of - yf)), l1_bc]  # fmt: skip
    meta.append(("out_width", width))


def _bincount(idx: Any, weights: Any, width: int, xp: Any) -> Any:
    """Per-class sums of ``weights`` (1 each when None) at the class ids ``idx`` in [0, width)."""
    if xp is np:
        return np.bincount(idx.reshape(-1), weights, minlength=width)[:width].astype(_F32)
    return jnp.zeros((width,), _F32).at[idx].add(1.0 if weights is None else weights)


def _logsumexp(o2: Any, xp: Any) -> Any:
    """Row-wise log-sum-exp (``jax.scipy.special.logsumexp`` when traced, its formula on the host)."""
    if xp is np:
        m = np.max(o2, axis=-1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        return np.log(np.sum(np.exp(o2 - m), axis=-1)) + m[..., 0]
    return jax.scipy.special.logsumexp(o2, axis=-1)


def _label_facts(labels: Any, tags: list[str], vals: list[Any], xp: Any = jnp) -> None:
    """For 1-D or (N, 1) labels: whether every value (of the first ``TARGET_SAMPLE``) is
    integer-valued, how many distinct values there are (one sort of the sample) and the
    smallest and largest finite value (+inf / -inf when none is finite)."""
    y = first_array(labels, xp)
    if not TargetFacts.sample(tuple(y.shape)) or not y.size or np.iscomplexobj(y):
        return
    if not (jnp.issubdtype(y.dtype, jnp.number) or y.dtype == jnp.bool_):
        return
    v = y.reshape(-1)[:TARGET_SAMPLE]
    v = xp.sort(v.astype(np.int32) if v.dtype == np.bool_ else v)
    if jnp.issubdtype(v.dtype, jnp.inexact):  # non-finite labels are another fault
        fin = xp.isfinite(v)
        integer = xp.all(~fin | (v == xp.round(v))).astype(_F32)
        vf = _f32(v, xp)
        lo, hi = xp.min(xp.where(fin, vf, xp.inf)), xp.max(xp.where(fin, vf, -xp.inf))
    else:  # sorted: the ends
        integer = xp.ones((), _F32)
        lo, hi = _f32(v[0], xp), _f32(v[-1], xp)
    distinct = 1.0 + xp.sum(v[1:] != v[:-1], dtype=_F32)
    tags += ["_lbl_int", "_lbl_distinct", "_lbl_min", "_lbl_max"]
    vals += [integer, distinct, lo, hi]


def _nonfinite(x: Any, xp: Any = jnp) -> jax.Array:
    """Number of NaN/inf values of an array, or of every array of a pytree (each input of a
    multi-input model; issue 10: the first only was counted); 0 for integer arrays."""
    total = xp.zeros((), _F32)
    for leaf in [x] if hasattr(x, "shape") else jax.tree_util.tree_leaves(x):
        if not hasattr(leaf, "shape"):
            continue
        a = xp.asarray(leaf)
        if jnp.issubdtype(a.dtype, jnp.inexact) and a.size:
            total = total + xp.sum(~xp.isfinite(a), dtype=_F32)
    return total


def _level_facts(labels: Any, tags: list[str], vals: list[Any], xp: Any = jnp) -> None:
    """The batch's part of the trivial predictor's loss (:func:`batch_levels`: tags
    ``_lvl_var``, ``_lvl_mean``, ``_lvl_bce``, ``_lvl_own``, and the finite range ``_lvl_lo`` / ``_lvl_hi``)
    for numeric (N, ...) labels; integer labels wider than one column (class-id masks, token
    ids) have none. Non-finite labels make the batch's values non-finite (skipped on the host)."""
    y = first_array(labels, xp)
    if y.ndim == 0 or not y.shape[0] or not y.size or np.iscomplexobj(y):
        return
    width = y.size // y.shape[0]
    if not (jnp.issubdtype(y.dtype, jnp.number) or y.dtype == jnp.bool_) or width > LEVEL_WIDTH:
        return
    if width > 1 and jnp.issubdtype(y.dtype, jnp.integer):
        return
    var, mean, bce, own = batch_levels(y.astype(_F32), xp)
    v = y.reshape(-1).astype(_F32)
    tags += ["_lvl_var", "_lvl_mean", "_lvl_bce", "_lvl_own", "_lvl_lo", "_lvl_hi"]
    vals += [var, mean, bce, own, xp.min(v), xp.max(v)]
