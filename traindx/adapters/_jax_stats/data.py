"""Initial weight scales and data facts (sizes, input range, targets) of a JAX run."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import tree_util as jtu

from traindx.adapters._common import (
    INIT_MIN_SIZE,
    count_ids,
)
from traindx.adapters._jax_stats.telemetry import _f32
from traindx.adapters._jax_stats.tree import _natural, key_str, layer_of
from traindx.context_json import construct
from traindx.schema import DataInfo

_QKV = ("query", "key", "value")


def _ordered_leaves(tree: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path parts, leaf) in the tree's own order: a mapping's insertion order (the order
    its modules were created in), or its natural order where the keys are sorted (as
    ``jax.tree.map`` leaves them: ``Dense_2`` before ``Dense_10``)."""
    if isinstance(tree, Mapping):
        keys = list(tree.keys())
        if [str(k) for k in keys] == sorted(str(k) for k in keys):
            keys.sort(key=lambda k: _natural(str(k)))
        out = []
        for k in keys:
            out += _ordered_leaves(tree[k], (*prefix, str(k)))
        return out
    flat, _ = jtu.tree_flatten_with_path(tree)
    return [((*prefix, *(key_str(k) for k in path)), leaf) for path, leaf in flat]


def _is_weight_leaf(name: str) -> bool:
    return name.isdigit() or name.startswith(("kernel", "w")) or "weight" in name or "kernel" in name


#: weights up to this many bytes in all have their scales computed with numpy on the host
#: (one transfer, no compile: the jitted ``_stds`` took 0.3-0.45 s of XLA compile in a fresh
#: process, most of a fresh ``Recorder(...)``); larger ones are reduced on the device
INIT_HOST_LIMIT = 8 << 20


@jax.jit
def _stds(leaves: list[Any]) -> jax.Array:
    """Standard deviation of each array, exactly 0 for a constant one (one compiled call)."""

    def std(w: Any) -> jax.Array:
        w = _f32(w)
        return jnp.where(jnp.min(w) == jnp.max(w), 0.0, jnp.std(w))

    return jnp.stack([std(w) for w in leaves])


def _host_stds(leaves: list[Any]) -> list[float]:
    """``_stds`` with numpy (one ``device_get``): float32 values as ``_f32`` makes them, the
    deviation accumulated in float64 and rounded to float32 (the device's float32 result or
    one ulp from it; a few ulp more accurate where the mean dwarfs the spread, 4e-6 relative
    at most over 50 test arrays), exactly 0 for a constant array."""
    out = []
    for w in jax.device_get(leaves):
        w = np.asarray(w)
        w = np.abs(w) if np.iscomplexobj(w) else w
        w = w if w.dtype == np.float32 else w.astype(np.float32)
        out.append(0.0 if w.min() == w.max() else float(np.float32(w.std(dtype=np.float64))))
    return out


def init_scales(params: Any) -> list[tuple[str, str, float]]:
    """(name, layer, ``std(w) * sqrt(fan_in)``) of the layer weights of a parameter tree,
    in the model's order (one host transfer). Weights are >= 2-D leaves named like
    ``kernel``, ``w*``, ``*weight*`` (or list indices); embedding tables are left out.
    fan_in follows the layout: flax/haiku ``[*kernel, in, out]`` -> ``prod(shape[:-1])``
    (attention ``query/key/value`` kernels ``[in, heads, dim]`` -> ``in``), a leaf named
    ``weight`` (torch/equinox ``[out, in, *kernel]``) -> ``prod(shape[1:])``. Constant
    weights give exactly 0; weights of fewer than ``INIT_MIN_SIZE`` entries are left out."""
    tree = params["params"] if isinstance(params, Mapping) and "params" in params else params
    items = []
    for parts, leaf in _ordered_leaves(tree):
        shape = tuple(int(d) for d in getattr(leaf, "shape", ()))
        if len(shape) < 2 or math.prod(shape) < INIT_MIN_SIZE or not jnp.issubdtype(leaf.dtype, jnp.floating):
            continue
        leaf_name = parts[-1].lower() if parts else ""
        layer = layer_of(list(parts))
        if "embed" in leaf_name or "embed" in layer.lower() or not _is_weight_leaf(leaf_name):
            continue
        if leaf_name == "weight":
            fan_in = math.prod(shape[1:])
        elif len(shape) == 3 and layer.rsplit(".", 1)[-1].lower() in _QKV:
            fan_in = shape[0]
        else:
            fan_in = math.prod(shape[:-1])
        items.append((parts, layer, leaf, fan_in))
    if not items:
        return []
    leaves = [leaf for _, _, leaf, _ in items]
    small = sum(int(getattr(w, "nbytes", 0)) for w in leaves) <= INIT_HOST_LIMIT
    stds = None
    if small:
        try:
            stds = _host_stds(leaves)
        except Exception:  # noqa: BLE001 - not addressable from this host (multi-host arrays): on the device
            stds = None
    if stds is None:
        stds = jax.device_get(_stds(leaves))
    per_layer: dict[str, int] = {}
    for _, layer, _, _ in items:
        per_layer[layer] = per_layer.get(layer, 0) + 1
    return [(layer if per_layer[layer] == 1 else f"{layer}.{parts[-1]}", layer, float(sd) * math.sqrt(fan_in))
            for (parts, layer, _, fan_in), sd in zip(items, stds, strict=True)]  # fmt: skip


def data_info(data: Any) -> tuple[DataInfo, float]:
    """n_train, input range and dtype, class counts of ``(x, y)`` arrays (host side)."""
    x, y = data if isinstance(data, (tuple, list)) else (data, None)
    x = np.asarray(x)
    d = construct(DataInfo, n_train=int(x.shape[0]) if x.ndim else None, input_dtype=str(x.dtype))
    nonfinite = 0.0
    if x.size and np.issubdtype(x.dtype, np.number):
        xf = x.astype(np.float64, copy=False)
        fin = np.isfinite(xf)
        nonfinite = float(xf.size - fin.sum())
        v = xf[fin] if nonfinite else xf
        if v.size:
            d.input_mean, d.input_std = float(v.mean()), float(v.std())
            d.input_min, d.input_max = float(v.min()), float(v.max())
    if y is not None:
        y = np.asarray(y)
        if np.issubdtype(y.dtype, np.floating):
            nonfinite += float(np.sum(~np.isfinite(y)))
        if np.issubdtype(y.dtype, np.integer) and y.size:
            counts = count_ids(y)  # None: ids beyond MAX_CLASSES are not class ids
            d.class_counts = counts.tolist() if counts is not None and counts.size else None
        elif y.size and np.all(np.isin(y, (0.0, 1.0))):
            yv = y.reshape(-1) > 0.5
            d.class_counts = [int((~yv).sum()), int(yv.sum())]
    return d, nonfinite
