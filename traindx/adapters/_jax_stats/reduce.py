"""Reductions over many arrays in few XLA kernels: per-leaf sums of squares of a pytree,
per-layer sums, and activation statistics (small same-shaped arrays stacked into one
reduction per group; on CPU a step's statistics cost mostly kernels, not arithmetic)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_F32 = jnp.float32


def _f32(x: Any) -> jax.Array:
    x = jnp.asarray(x)
    if jnp.iscomplexobj(x):
        x = jnp.abs(x)
    return x if x.dtype == _F32 else x.astype(_F32)


SMALL_LEAF = 16384  # arrays up to this size are reduced together with their same-shaped peers


def _grouped(arrays: list[Any]) -> tuple[list[list[int]], np.ndarray | None]:
    """Indices of the arrays reduced together (small arrays of one shape and dtype; a large
    array alone), and the static permutation that puts the groups' results back in order
    (None when they already are)."""
    groups: dict[Any, list[int]] = {}
    for i, x in enumerate(arrays):
        shape = tuple(jnp.shape(x))
        key = (shape, jnp.result_type(x)) if int(np.prod(shape)) <= SMALL_LEAF else ("alone", i)
        groups.setdefault(key, []).append(i)
    order = [i for g in groups.values() for i in g]
    if order == list(range(len(order))):
        return list(groups.values()), None
    inv = np.empty(len(order), dtype=np.int32)
    inv[np.asarray(order)] = np.arange(len(order), dtype=np.int32)
    return list(groups.values()), inv


def _stacked(arrays: list[Any], idx: list[int]) -> jax.Array:
    """The group's arrays as float32 along a new first axis (fused into its reduction)."""
    return jnp.stack([_f32(arrays[i]) for i in idx]) if len(idx) > 1 else _f32(arrays[idx[0]])[None]


def _in_order(parts: list[jax.Array], inv: np.ndarray | None) -> jax.Array:
    v = jnp.concatenate(parts)
    return v if inv is None else v[inv]


def leaf_sums(leaves: list[Any], plain: bool = False) -> tuple[jax.Array, jax.Array | None]:
    """Per-leaf sums of squares (and plain sums when ``plain``), in few XLA kernels.

    On CPU a step's statistics cost mostly kernels, not arithmetic: one reduction per leaf
    is a kernel per leaf (a 30-layer net of small layers: 62 leaves, three pytrees). Small
    leaves of the same shape and dtype are stacked and reduced by one kernel per group (the
    stack is fused into the reduction); a large leaf keeps its own reduction, which its size
    amortizes (stacking large leaves was measured slower). The results are put back in leaf
    order by one static gather."""
    if not leaves:
        z = jnp.zeros((0,), _F32)
        return z, (z if plain else None)
    groups, inv = _grouped(leaves)
    sq_parts: list[jax.Array] = []
    sum_parts: list[jax.Array] = []
    for idx in groups:
        x = _stacked(leaves, idx)
        axes = tuple(range(1, x.ndim))
        sq_parts.append(jnp.sum(x * x, axis=axes))
        if plain:
            sum_parts.append(jnp.sum(x, axis=axes))
    return _in_order(sq_parts, inv), (_in_order(sum_parts, inv) if plain else None)


def _segment(v: jax.Array, seg: tuple[int, ...], n: int) -> jax.Array:
    """Per-layer sums of per-leaf values: one static gather (padded with a zero) and one
    sum, so a non-finite leaf stays in its own layer's sum."""
    if tuple(seg) == tuple(range(n)):
        return v
    groups: list[list[int]] = [[] for _ in range(n)]
    for i, j in enumerate(seg):
        groups[j].append(i)
    idx = np.full((n, max(1, max(len(g) for g in groups))), len(seg), dtype=np.int32)
    for j, g in enumerate(groups):
        idx[j, : len(g)] = g
    return jnp.sum(jnp.concatenate([v, jnp.zeros((1,), v.dtype)])[idx], axis=1)


ACT_STATS = 7  # per activation: mean, std, frac == 0, frac |a| > 0.99, frac |a - 0.5| > 0.49, min, max


def _act_block(arrays: list[Any]) -> jax.Array:
    """The ``ACT_STATS`` statistics of each activation, one row each, flattened: per group
    of same-shaped activations (see :func:`leaf_sums`) one reduction for the five sums and
    one for min and max."""
    groups, inv = _grouped(arrays)
    rows = []
    for idx in groups:
        x = _stacked(arrays, idx)
        axes = tuple(range(2, x.ndim + 1))
        n = max(int(np.prod(x.shape[1:])), 1)
        s = jnp.sum(jnp.stack([x, x * x, (x == 0).astype(_F32), (jnp.abs(x) > 0.99).astype(_F32),
                               (jnp.abs(x - 0.5) > 0.49).astype(_F32)], axis=1), axis=axes) / n  # fmt: skip
        hi = jnp.max(jnp.stack([-x, x], axis=1), axis=axes)
        mean = s[:, 0]
        std = jnp.sqrt(jnp.maximum(s[:, 1] - mean * mean, 0.0))
        rows.append(jnp.stack([mean, std, s[:, 2], s[:, 3], s[:, 4], -hi[:, 0], hi[:, 1]], axis=1))
    return _in_order(rows, inv).reshape(-1)
