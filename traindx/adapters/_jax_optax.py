"""The optax wrapper (monitor, MonitorState) and the jit helpers that trace telemetry into a training step."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from traindx.adapters import _jax_stats as js
from traindx.adapters._jax_call import telemetry
from traindx.adapters._jax_stats import (
    Stats,
)

# --------------------------------------------------------------------------- cadence


class TelemetryJit:
    """A step function jitted twice: with every statistic (a *telemetry step*, every
    ``every`` calls, the first included) and light (loss, learning rate and non-finite
    inputs only). Calls alternate by a call counter, so steps between telemetry steps pay
    nothing for the statistics: no ``lax.cond`` and no extra pass over the gradients.

    Made by :func:`telemetry_jit`; ``calls`` counts the calls so far, ``full`` and ``light``
    are the two ``jax.jit`` functions (compiled on first use each).
    """

    def __init__(self, fun: Callable[..., Any], every: int = 10, **jit_kwargs: Any):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, not {every!r}")
        self.every = every
        self.calls = 0
        self.full = jax.jit(_traced_in(fun, "full"), **jit_kwargs)
        self.light = jax.jit(_traced_in(fun, "light"), **jit_kwargs) if every > 1 else self.full
        functools.update_wrapper(self, fun)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        n = self.calls
        self.calls = n + 1
        return (self.full if n % self.every == 0 else self.light)(*args, **kwargs)


def telemetry_jit(fun: Callable[..., Any] | None = None, *, every: int = 10, **jit_kwargs: Any) -> Any:
    """``jax.jit`` for a step function that calls :func:`telemetry`: every statistic on
    every ``every``-th call (the default cadence: 10), only the loss on the others.

    >>> @telemetry_jit                         # doctest: +SKIP
    ... def train_step(params, opt_state, x, y):
    ...     ...
    ...     return params, opt_state, telemetry(grads=g, params=params, updates=u, loss=loss)

    Use it as ``@telemetry_jit`` or ``@telemetry_jit(every=20, donate_argnums=0)``; other
    keyword arguments go to ``jax.jit``. Inside ``lax.scan``/``fori_loop`` bodies, where a
    Python-side switch is impossible, use ``telemetry(..., step=step)`` instead (``lax.cond``).
    """
    if fun is None:
        return lambda f: TelemetryJit(f, every, **jit_kwargs)
    return TelemetryJit(fun, every, **jit_kwargs)


def _traced_in(fun: Callable[..., Any], mode: str) -> Callable[..., Any]:
    """``fun`` with :data:`_jax_stats.MODE` set while it is traced (a distinct function
    object per mode, so the two jits never share a trace cache)."""

    @functools.wraps(fun)
    def traced(*args: Any, **kwargs: Any) -> Any:
        token = js.MODE.set(mode)
        try:
            return fun(*args, **kwargs)
        finally:
            js.MODE.reset(token)

    return traced


# --------------------------------------------------------------------------- optax monitor


class MonitorState(NamedTuple):
    """State of :func:`monitor`: the inner transformation's state, an update counter and
    the :class:`Stats` of the last update (gradient, parameter and update norms)."""

    inner_state: Any
    count: Any
    stats: Stats


def monitor(tx: Any, *, every: int = 1) -> Any:
    """Wrap an optax ``GradientTransformation`` so its state carries training statistics.

    The updates are the inner transformation's, unchanged; ``state.stats`` holds per-layer
    gradient, weight and update norms, update/weight ratios and non-finite counts of the
    last update (computed every ``every`` updates, NaN in between). Read them without a
    device sync with :meth:`Recorder.log_opt_state`::

        tx = traindx.adapters.jax.monitor(optax.adam(3e-4))
        opt_state = tx.init(params)
        ...                                       # the jitted step is unchanged
        rec.log_opt_state(step, opt_state, loss=loss)

    The update must be given ``params`` (``tx.update(grads, state, params)``) for weight
    norms and update ratios; without them those entries are NaN.
    """
    import optax

    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive int, not {every!r}")
    inner = optax.with_extra_args_support(tx)

    def layout(params: Any) -> tuple[tuple[str, ...], tuple[Any, ...], int]:
        shapes = jax.eval_shape(lambda p: telemetry(grads=p, params=p, updates=p), params)
        return shapes.tags, shapes.meta, shapes.values.shape[0]

    def init_fn(params: Any) -> MonitorState:
        tags, meta, n = layout(params)
        return MonitorState(inner.init(params), jnp.zeros((), jnp.int32), Stats(jnp.full((n,), jnp.nan, jnp.float32), tags, meta))

    def update_fn(updates: Any, state: MonitorState, params: Any = None, **extra: Any) -> tuple[Any, MonitorState]:
        new_updates, inner_state = inner.update(updates, state.inner_state, params, **extra)
        tags, meta = state.stats.tags, state.stats.meta
        n = len(tags)

        def compute(ops: tuple[Any, Any, Any]) -> jax.Array:
            g, p, u = ops
            s = telemetry(grads=g, params=p, updates=u)
            return conform(s.values, s.tags, tags)

        def skip(ops: tuple[Any, Any, Any]) -> jax.Array:
            return jnp.full((n,), jnp.nan, jnp.float32)

        ops = (updates, params, new_updates)
        values = compute(ops) if every == 1 else jax.lax.cond(state.count % every == 0, compute, skip, ops)
        return new_updates, MonitorState(inner_state, state.count + 1, Stats(values, tags, meta))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def conform(values: jax.Array, tags: tuple[str, ...], target: tuple[str, ...]) -> jax.Array:
    """``values`` (named by ``tags``) rearranged to the layout ``target`` (NaN where missing)."""
    if tags == target:
        return values
    pos = {t: i for i, t in enumerate(tags)}
    src = [pos.get(t, -1) for t in target]
    picked = values[jnp.asarray([max(i, 0) for i in src], dtype=jnp.int32)]
    return jnp.where(jnp.asarray([i >= 0 for i in src]), picked, jnp.nan)


def _find_monitor_state(state: Any) -> MonitorState | None:
    if isinstance(state, MonitorState):
        return state
    for node in jax.tree_util.tree_leaves(state, is_leaf=lambda n: isinstance(n, MonitorState)):
        if isinstance(node, MonitorState):
            return node
    return None


