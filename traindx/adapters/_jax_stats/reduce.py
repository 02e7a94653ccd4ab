"""Reductions over many arrays in few XLA kernels: per-leaf sums of squares of a pytree,
per-layer sums, and activation statistics (small same-shaped arrays stacked into one
reduction per group; on CPU a step's statistics cost mostly kernels, not arithmetic).

Each function takes ``xp``, the array module: ``jax.numpy`` inside a traced step,
``numpy`` on the host (:mod:`.host`), so a statistic is defined once for both."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_F32 = np.float32


def _f32(x: Any, xp: Any = jnp) -> jax.Array:
    if xp is np and type(x) is np.ndarray and x.dtype == _F32:  # the host's common case, as is
        return x
    x = xp.asarray(x)
    if xp.iscomplexobj(x):
        x = xp.abs(x)
    return x if x.dtype == _F32 else x.astype(_F32)


SMALL_LEAF = 16384  # arrays up to this size are reduced together with their same-shaped peers


def _grouped(arrays: list[Any], xp: Any = jnp) -> tuple[list[list[int]], np.ndarray | None]:
    """Indices of the arrays reduced together (small arrays of one shape and dtype; a large
    array alone), and the static permutation that puts the groups' results back in order
    (None when they already are). Kept per list of shapes and dtypes on the host (asked at
    every host telemetry step)."""
    if xp is not np:
        return _grouping([(tuple(np.shape(x)), xp.result_type(x)) for x in arrays])
    key = tuple((np.shape(x), np.result_type(x)) for x in arrays)
    hit = _GROUPS.get(key)
    if hit is None:
        if len(_GROUPS) >= 64:
            _GROUPS.clear()
        hit = _GROUPS[key] = _grouping([(tuple(s), d) for s, d in key])
    return hit


_GROUPS: dict[Any, tuple[list[list[int]], np.ndarray | None]] = {}


def _grouping(kinds: list[tuple[tuple[int, ...], Any]]) -> tuple[list[list[int]], np.ndarray | None]:
    groups: dict[Any, list[int]] = {}
    for i, (shape, dt) in enumerate(kinds):
        key = (shape, dt) if int(np.prod(shape)) <= SMALL_LEAF else ("alone", i)
        groups.setdefault(key, []).append(i)
    order = [i for g in groups.values() for i in g]
    if order == list(range(len(order))):
        return list(groups.values()), None
    inv = np.empty(len(order), dtype=np.int32)
    inv[np.asarray(order)] = np.arange(len(order), dtype=np.int32)
    inv.setflags(write=False)
    return list(groups.values()), inv


def _stacked(arrays: list[Any], idx: list[int], xp: Any = jnp) -> jax.Array:
    """The group's arrays as float32 along a new first axis (fused into its reduction)."""
    return xp.stack([_f32(arrays[i], xp) for i in idx]) if len(idx) > 1 else _f32(arrays[idx[0]], xp)[None]


def _in_order(parts: list[jax.Array], inv: np.ndarray | None, xp: Any = jnp) -> jax.Array:
    v = xp.concatenate(parts)
    return v if inv is None else v[inv]


def _chunk(sizes: list[int]) -> int:
    """Row width of the chunked matrix of small leaves: the widest power of two (8 to 1024)
    whose padding keeps the matrix within 1.25 times the leaves' total size."""
    total = sum(sizes)
    for c in (1024, 512, 256, 128, 64, 32, 16):
        if sum(-(-n // c) * c for n in sizes) <= 1.25 * total + c:
            return c
    return 8


def leaf_sums(leaves: list[Any], plain: bool | list[bool] = False, xp: Any = jnp) -> tuple[jax.Array, jax.Array | None]:
    """Per-leaf sums of squares (and plain sums where ``plain``: one flag for all leaves or
    one per leaf; NaN-free zeros elsewhere), in few XLA kernels.

    On CPU a step's statistics cost mostly kernels, not arithmetic: one reduction per leaf
    is a kernel per leaf (a 30-layer net of small layers: 62 leaves, three pytrees). Pass
    the leaves of all pytrees at once: the small leaves (up to ``SMALL_LEAF`` entries, of
    any shape and dtype) are flattened into one padded ``[rows, width]`` matrix whose rows
    each belong to one leaf, reduced by one kernel, and the rows summed per leaf by one
    static gather; a large leaf keeps its own reduction, which its size amortizes (copying
    large leaves was measured slower). A non-finite value stays in its own leaf's sums."""
    n = len(leaves)
    flags = [bool(plain)] * n if isinstance(plain, bool) else [bool(f) for f in plain]
    want_plain = any(flags)
    if not leaves:
        z = xp.zeros((0,), _F32)
        return z, (z if want_plain else None)
    if xp is np:
        return _host_sums(leaves, flags)
    sizes = [int(np.prod(np.shape(x))) for x in leaves]
    limit = SMALL_LEAF  # traced: small leaves share one kernel (numpy on the host: _host_sums)
    small = [i for i in range(n) if sizes[i] <= limit]
    big = [i for i in range(n) if sizes[i] > limit]
    sq_parts: list[jax.Array] = []
    sum_parts: list[jax.Array] = []
    if small:
        width = _chunk([max(sizes[i], 1) for i in small])
        parts, rows_of = [], []
        row = 0
        for i in small:
            k = max(-(-sizes[i] // width), 1)
            parts.append(xp.reshape(_f32(leaves[i], xp), (-1,)))
            if k * width > sizes[i]:
                parts.append(xp.zeros((k * width - sizes[i],), _F32))
            rows_of.append(range(row, row + k))
            row += k
        m = xp.concatenate(parts).reshape(row, width)
        r = xp.sum(xp.stack([m * m, m]) if want_plain else (m * m)[None], axis=-1)  # [1 or 2, rows]
        idx = np.full((len(small), max(len(g) for g in rows_of)), row, dtype=np.int32)
        for j, g in enumerate(rows_of):
            idx[j, : len(g)] = list(g)
        per = xp.sum(xp.concatenate([r, xp.zeros((r.shape[0], 1), _F32)], axis=1)[:, idx], axis=-1)
        sq_parts.append(per[0])
        if want_plain:
            sum_parts.append(per[1])
    for i in big:
        x = _f32(leaves[i], xp)
        sq_parts.append(xp.sum(x * x)[None])
        if want_plain:
            sum_parts.append(xp.sum(x)[None] if flags[i] else xp.zeros((1,), _F32))
    order = small + big
    inv = None
    if order != list(range(n)):
        inv = np.empty(n, dtype=np.int32)
        inv[np.asarray(order)] = np.arange(n, dtype=np.int32)
    sq_v = _in_order(sq_parts, inv, xp)
    if not want_plain:
        return sq_v, None
    sum_v = _in_order(sum_parts, inv, xp)
    if not all(flags):  # plain sums only where asked (zeros elsewhere)
        sum_v = xp.where(np.asarray(flags), sum_v, 0.0)
    return sq_v, sum_v


def _host_sums(leaves: list[Any], flags: list[bool]) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`leaf_sums` with numpy: the small leaves (up to ``SMALL_LEAF`` entries)
    concatenated and summed per leaf by one ``np.add.reduceat`` in float64 (a reduction per
    leaf is a few microseconds of Python each: 186 leaves on a net of 30 small layers), a
    large leaf alone in float32 as before. A non-finite value stays in its own leaf's sums."""
    xs = [_f32(x, np).reshape(-1) for x in leaves]
    n = len(xs)
    sq = np.zeros(n, np.float64)
    sm = np.zeros(n, np.float64)
    small = [i for i in range(n) if 0 < xs[i].size <= SMALL_LEAF]
    if small:
        sizes = np.array([xs[i].size for i in small], dtype=np.int64)
        starts = np.concatenate([np.zeros(1, np.int64), np.cumsum(sizes)[:-1]])
        flat = np.concatenate([xs[i] for i in small]).astype(np.float64)
        with np.errstate(all="ignore"):
            sq[small] = np.add.reduceat(flat * flat, starts)
            if any(flags[i] for i in small):
                sm[small] = np.add.reduceat(flat, starts)
    with np.errstate(all="ignore"):
        for i in range(n):
            if xs[i].size > SMALL_LEAF:
                sq[i] = np.sum(xs[i] * xs[i])
                if flags[i]:
                    sm[i] = np.sum(xs[i])
    sm[[i for i in range(n) if not flags[i]]] = 0.0
    return sq.astype(_F32), (sm.astype(_F32) if any(flags) else None)


@lru_cache(maxsize=256)
def _segment_index(seg: tuple[int, ...], n: int) -> np.ndarray:
    groups: list[list[int]] = [[] for _ in range(n)]
    for i, j in enumerate(seg):
        groups[j].append(i)
    idx = np.full((n, max(1, max(len(g) for g in groups))), len(seg), dtype=np.int32)
    for j, g in enumerate(groups):
        idx[j, : len(g)] = g
    idx.setflags(write=False)
    return idx


def _segment(v: jax.Array, seg: tuple[int, ...], n: int, xp: Any = jnp) -> jax.Array:
    """Per-layer sums of per-leaf values: one static gather (padded with a zero) and one
    sum, so a non-finite leaf stays in its own layer's sum."""
    seg = tuple(seg)
    if seg == tuple(range(n)):
        return v
    idx = _segment_index(seg, n)
    return xp.sum(xp.concatenate([v, xp.zeros((1,), v.dtype)])[idx], axis=1)


ACT_STATS = 7  # per activation: mean, std, frac == 0, frac |a| > 0.99, frac |a - 0.5| > 0.49, min, max


def _act_block(arrays: list[Any], xp: Any = jnp) -> jax.Array:
    """The ``ACT_STATS`` statistics of each activation, one row each, flattened: per group
    of same-shaped activations (see :func:`leaf_sums`) one reduction for the five sums and
    one for min and max (numpy on the host: :func:`_host_act_block`)."""
    if xp is np:
        return _host_act_block(arrays)
    groups, inv = _grouped(arrays, xp)
    rows = []
    for idx in groups:
        x = _stacked(arrays, idx, xp)
        axes = tuple(range(2, x.ndim + 1))
        n = max(int(np.prod(x.shape[1:])), 1)
        s = xp.sum(xp.stack([x, x * x, (x == 0).astype(_F32), (xp.abs(x) > 0.99).astype(_F32),
                               (xp.abs(x - 0.5) > 0.49).astype(_F32)], axis=1), axis=axes) / n  # fmt: skip
        hi = xp.max(xp.stack([-x, x], axis=1), axis=axes)
        mean = s[:, 0]
        std = xp.sqrt(xp.maximum(s[:, 1] - mean * mean, 0.0))
        rows.append(xp.stack([mean, std, s[:, 2], s[:, 3], s[:, 4], -hi[:, 0], hi[:, 1]], axis=1))
    return _in_order(rows, inv, xp).reshape(-1)


def _host_act_block(arrays: list[Any]) -> np.ndarray:
    """:func:`_act_block` with numpy: the same statistics, each group's arrays as rows of one
    contiguous ``[arrays, elements]`` matrix reduced along its rows, the three fractions
    counted (``count_nonzero``) rather than summed from float masks. The traced form stacks
    five masked copies so that XLA fuses them into one kernel; numpy would allocate and
    reduce each copy over several axes (a small CNN's activations: 4.6 ms a telemetry
    step). Sums, minima and maxima are float32 as before; a fraction is an exact count over
    the size either way."""
    groups, inv = _grouped(arrays, np)
    rows = []
    for idx in groups:
        x = _stacked(arrays, idx, np)
        n = max(int(np.prod(x.shape[1:])), 1)
        x = x.reshape(x.shape[0], -1)
        with np.errstate(all="ignore"):
            mean = x.sum(axis=1) / _F32(n)
            sq = (x * x).sum(axis=1) / _F32(n)
            std = np.sqrt(np.maximum(sq - mean * mean, _F32(0.0)))
            zero = np.count_nonzero(x == 0, axis=1) / n
            tanh = np.count_nonzero(np.abs(x) > _F32(0.99), axis=1) / n
            sig = np.count_nonzero(np.abs(x - _F32(0.5)) > _F32(0.49), axis=1) / n
            lo, hi = x.min(axis=1), x.max(axis=1)
        rows.append(np.stack([mean, std, zero, tanh, sig, lo, hi], axis=1).astype(_F32))
    return _in_order(rows, inv, np).reshape(-1)
