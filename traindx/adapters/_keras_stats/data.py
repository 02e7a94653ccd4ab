"""Data facts on the host: init scales, targets, class counts, input summaries, the output activation from values."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from traindx.adapters._common import count_ids
from traindx.adapters._common.facts import row_target_facts
from traindx.adapters._common.targets import ids_per_position
from traindx.adapters._keras_stats.model import leaf_layers, ops
from traindx.adapters._keras_stats.reduce import vec
from traindx.arrays import unique

#: Variables of these layer types are lookup tables, not kernels (no fan-in).
EMBEDDING_LAYERS = {
    "Embedding",
    "ReversibleEmbedding",
    "PositionEmbedding",
    "TokenAndPositionEmbedding",
}


def init_scales(
    model: keras.Model, out_layer: Any = None, min_size: int = 8
) -> list[tuple[str, float]]:
    """``(layer name, std(w) * sqrt(fan_in))`` for every kernel (a weight with ndim >= 2) at
    the current weights, Keras layout (fan_in = prod(shape[:-1]): Dense ``[in, out]`` -> in,
    Conv ``[*k, in, out]`` -> prod(k) * in), except the output layer's kernel, embedding
    tables and kernels of fewer than ``min_size`` entries. A constant kernel (zeros) gives
    exactly 0; Glorot/He defaults give about 0.5-1.4."""
    kernels: list[tuple[Any, Any, int]] = []  # (layer, variable, fan_in)
    seen: set[int] = set()
    for layer in leaf_layers(model)[:-1]:
        if isinstance(layer, keras.Model):
            continue
        for v in getattr(layer, "_trainable_variables", []):
            if id(v) in seen or len(v.shape) < 2:
                continue
            seen.add(id(v))
            kernels.append((layer, v, int(np.prod([int(d) for d in v.shape[:-1]]))))
    if not kernels:
        return []
    if out_layer is None or not any(k[0] is out_layer for k in kernels):
        # no layer graph, or Dense then an Activation/Softmax layer: the last kernel's layer
        out_layer = kernels[-1][0]
    cands = [
        (layer.name, v, fan_in)
        for layer, v, fan_in in kernels
        if layer is not out_layer
        and type(layer).__name__ not in EMBEDDING_LAYERS
        and "embedding" not in str(getattr(v, "name", "")).lower()
        and int(np.prod([int(d) for d in v.shape])) >= min_size
    ]
    if not cands:
        return []
    items: list[Any] = []
    for _, v, _ in cands:
        w = ops.cast(v.value, "float32")
        items += [ops.std(w), ops.max(w) - ops.min(w)]
    vals = np.asarray(ops.convert_to_numpy(vec(items)), dtype=np.float64).reshape(-1, 2)
    out = []
    for (name, _, fan_in), (std, rng) in zip(cands, vals, strict=True):
        if not (math.isfinite(std) and math.isfinite(rng)):
            continue
        out.append((name, 0.0 if rng == 0.0 else float(std * math.sqrt(fan_in))))
    return out


TARGET_CAP = 65_536  # target rows looked at


def target_facts(y: Any, out_ndim: int | None = None) -> dict[str, float | bool]:
    """What the targets are: for 1-D or (N, 1) targets ``target_integer`` (every finite value
    is a whole number, whatever the dtype), ``target_distinct`` (distinct values) and
    ``target_min`` / ``target_max`` and ``target_kind`` (``integer`` / ``continuous``); for
    (N, C) targets ``target_onehot`` (rows of 0/1 with exactly one 1), ``target_kind``,
    ``target_row_sum`` and the range (:func:`row_target_facts`); (N, T) class ids per position
    (:func:`ids_per_position`, ``out_ndim`` the model output's rank) as 1-D ids. First TARGET_CAP rows."""
    a = np.asarray(y)
    if a.size == 0 or a.dtype.kind not in "fiub" or a.ndim == 0:
        return {}
    a = a[:TARGET_CAP]
    if ids_per_position(a, out_ndim):
        a = a.reshape(-1)[:TARGET_CAP]
    if a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1):
        v = a.reshape(-1)
        if v.dtype.kind == "f":
            v = v[np.isfinite(v)]
            if v.size == 0:
                return {}
            integer = bool(np.all(v == np.round(v)))
        else:
            integer = True
        return {"target_onehot": False, "target_integer": integer,
                "target_kind": "integer" if integer else "continuous",
                "target_distinct": float(unique(v).size),
                "target_min": float(v.min()), "target_max": float(v.max())}  # fmt: skip
    if a.ndim == 2:
        return row_target_facts(a)
    return {}


# --------------------------------------------------------------------------- host statistics


def host_summary(x: np.ndarray) -> dict[str, float]:
    """Count, mean, std, min, max over the finite values; non-finite count (floats only)."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiub" or a.size == 0:
        return {}
    if a.dtype.kind == "f":
        fin = np.isfinite(a)
        bad = float(a.size - np.count_nonzero(fin))
        v = a[fin] if bad else a
    else:
        bad, v = 0.0, a
    if v.size == 0:
        return {"n": 0.0, "nonfinite": bad}
    v = v.astype(np.float64, copy=False)
    return {"n": float(v.size), "mean": float(v.mean()), "std": float(v.std()),
            "min": float(v.min()), "max": float(v.max()), "nonfinite": bad}  # fmt: skip


def class_counts(y: Any, task: str | None) -> list[int] | None:
    """Class counts of targets: integer labels, one-hot rows, or 0/1 binary targets. Rows of
    several 0/1 columns that are not one-hot (multi-hot labels, or all-zero rows) have no
    single class each: no counts (their argmax would count a row's first label only)."""
    if y is None:
        return None
    a = np.asarray(y)
    if a.size == 0:
        return None
    if a.ndim >= 2 and a.shape[-1] > 1 and a.dtype.kind == "f":
        if not np.all((a == 0) | (a == 1)) or not np.all(a.sum(-1) == 1):
            return None
        a = a.reshape(-1, a.shape[-1]).argmax(-1)
    a = a.reshape(-1)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            return None
        if task == "regression" and not np.all((a == 0) | (a == 1)):
            return None
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    counts = count_ids(a.astype(np.int64))
    return counts.tolist() if counts is not None and counts.size else None


def looks_one_hot(y: Any) -> bool:
    a = np.asarray(y)
    return bool(a.ndim >= 2 and a.shape[-1] > 1 and a.dtype.kind == "f" and a.size
                and np.all((a == 0) | (a == 1)) and np.all(a.sum(-1) == 1))  # fmt: skip


def infer_activation(out: np.ndarray) -> str:
    """Guess the output activation from probe output values (subclassed models)."""
    o = np.asarray(out, dtype=np.float64)
    if o.size == 0 or not np.all(np.isfinite(o)):
        return "linear"
    lo, hi = float(o.min()), float(o.max())
    if o.ndim < 2 or o.shape[-1] < 2:
        return "sigmoid" if 0.0 < lo and hi < 1.0 else "linear"
    if lo >= 0.0 and hi <= 1.0:
        if np.abs(o.sum(-1) - 1).max() < 1e-3:
            return "softmax"
        if lo > 0.0:
            return "sigmoid"
    if hi <= 0.0 and np.abs(np.log(np.exp(o).sum(-1))).max() < 1e-3:
        return "log_softmax"
    if lo == 0.0 and float((o == 0).mean()) > 0.05:
        return "relu"
    return "linear"
