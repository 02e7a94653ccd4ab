"""The statistics of a telemetry step computed on the host: the step hands its arrays to
numpy through ``jax.pure_callback`` under ``lax.cond`` (only at telemetry steps), and
:func:`.telemetry._full` runs with ``xp=numpy`` there, the same definitions as the traced
path. XLA compiles the step once with a callback instead of a second copy with the
statistics' kernels (about 1 s of compile on an MLP): the default of
:func:`traindx.adapters.jax.telemetry_jit` for models whose arrays are small (every leaf
is copied to the host at a telemetry step).

The arrays cross to the host packed: one flat buffer per dtype, concatenated in the
callback's branch (telemetry steps only), split back into views on the host. JAX copies
every argument of a callback into an array of its own before calling it (``device_put``,
about 20 us an array): 219 arrays a telemetry step on a net of 30 small layers cost more
than the statistics (deep30: 8.1 ms a telemetry step against 0.42 light, the numpy 1.8).

The host function only reads its arguments, consumes no random numbers and never raises:
a failure gives NaN statistics for that step (and is kept in :data:`ERRORS`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import tree_util as jtu

from traindx.adapters._jax_stats.telemetry import _full, _pack
from traindx.adapters._jax_stats.tree import is_array

ERRORS: list[str] = []  # the first few host failures (message), for tests and debugging


def _rebuild(treedef: Any, static: dict[int, Any], arrays: list[Any], n: int) -> tuple[Any, ...]:
    it = iter(arrays)
    leaves = [static[i] if i in static else next(it) for i in range(n)]
    return tuple(jtu.tree_unflatten(treedef, leaves))


def on_host(args: tuple[Any, ...], g_names: tuple[str, ...], g_seg: tuple[int, ...], with_global: bool,
            pred: Any) -> tuple[list[str], list[tuple[str, Any]], jax.Array]:  # fmt: skip
    """(tags, meta, values) of :func:`.telemetry._full` over ``args``: the values computed
    by numpy on the host when ``pred`` (traced) is true, NaN otherwise. The layout comes
    from the same function run on zeros of the arrays' shapes and dtypes (it depends on
    nothing else)."""
    leaves, treedef = jtu.tree_flatten(args)
    arrays = [i for i, x in enumerate(leaves) if is_array(x)]
    kept = set(arrays)  # other leaves stay as they are (a PRNG key, not a statistic: None)
    static = {i: (None if hasattr(x, "shape") else x) for i, x in enumerate(leaves) if i not in kept}
    n = len(leaves)

    def stats(xs: list[Any]) -> tuple[list[str], list[tuple[str, Any]], np.ndarray]:
        with np.errstate(all="ignore"):
            t, v, m = _full(*_rebuild(treedef, static, xs, n), g_names, g_seg, with_global, xp=np,
                            with_nonfinite_inputs=False)  # fmt: skip
            return t, m, np.asarray(_pack(v, np), np.float32)

    zeros = [np.zeros(np.shape(leaves[i]), leaves[i].dtype) for i in arrays]
    tags, meta, v0 = stats(zeros)
    width = int(v0.shape[0])

    # where each array lies in the flat buffer of its dtype: (buffer, offset, size, shape)
    dtypes: list[Any] = []
    where: list[tuple[int, int, int, tuple[int, ...]]] = []
    ends: list[int] = []
    for i in arrays:
        dt = np.dtype(leaves[i].dtype)
        if dt not in dtypes:
            dtypes.append(dt)
            ends.append(0)
        b = dtypes.index(dt)
        size = int(np.prod(np.shape(leaves[i])))
        where.append((b, ends[b], size, tuple(np.shape(leaves[i]))))
        ends[b] += size

    def host(*bufs: Any) -> np.ndarray:
        try:
            flat = [np.asarray(b) for b in bufs]
            t, _, v = stats([flat[b][o : o + k].reshape(shape) for b, o, k, shape in where])
            if t != tags or v.shape != (width,):
                raise ValueError(f"host statistics changed layout ({len(t)} tags, {v.shape})")
            return v
        except Exception as e:  # noqa: BLE001 - never break the user's step
            if len(ERRORS) < 8:
                ERRORS.append(f"{type(e).__name__}: {e}")
            return np.full((width,), np.nan, np.float32)

    shape = jax.ShapeDtypeStruct((width,), jnp.float32)

    def on(xs: list[Any]) -> jax.Array:
        parts: list[list[Any]] = [[] for _ in dtypes]
        for x, (b, _, _, _) in zip(xs, where, strict=True):
            parts[b].append(jnp.reshape(x, (-1,)))
        bufs = [jnp.concatenate(p) if len(p) > 1 else p[0] for p in parts]
        return jax.pure_callback(host, shape, *bufs, vmap_method="sequential")

    def off(xs: list[Any]) -> jax.Array:
        return jnp.full((width,), jnp.nan, jnp.float32)

    return tags, meta, jax.lax.cond(pred, on, off, [leaves[i] for i in arrays])
