"""The optax wrapper (monitor, MonitorState) and the jit helpers that trace telemetry into a training step."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from traindx.adapters import _jax_stats as js
from traindx.adapters._jax_call import telemetry
from traindx.adapters._jax_compile import Compile
from traindx.adapters._jax_graph import StepGraph
from traindx.adapters._jax_stats import (
    Stats,
)
from traindx.adapters._jax_stats.telemetry import STEP_GRAPH
from traindx.adapters._jax_target import LABEL_READS, label_index, see_labels, step_leaves

# --------------------------------------------------------------------------- cadence


BUDGET = 0.02  # the adaptive cadence's share of the step time
MIN_SAMPLES = 32  # telemetry steps per run at least, evenly spread (see TelemetryJit)
_MEASURED = 7  # telemetry steps whose cost is measured (the 3rd to 9th: the first ones run cold)
#: The step's arguments (parameters, optimizer state, batch) up to this many bytes of arrays:
#: the statistics are computed on the host (one compile of the step; see TelemetryJit).
HOST_LIMIT = 8 << 20
#: Calls after which the host design adds the compiled light function for the steps between
#: telemetry steps: the one function's steps cost more than the light ones (the callback's
#: operands, the optimizer's updates among them, are materialized every step: MLP +0.057 ms
#: a call, deep30 +0.037, CNN +0.063, jax 0.10.2), which a long run pays more than one more
#: compile. (``jax.jit`` dispatches a function with a host callback on its C++ fast path, 4.5
#: against 4.2 us a trivial call; only an AOT-compiled one, ``.lower().compile()``, goes
#: through Python: ``pxla.create_cpp_call`` refuses host callbacks.)
HOST_ONLY_CALLS = 1000
_POSITIONAL = ("static_argnums", "donate_argnums")  # jit options that name positions (shifted by one)
_BY_NAME = ("static_argnames", "donate_argnames", "in_shardings", "out_shardings")  # not with the host design


class TelemetryJit:
    """A step function jitted twice: with every statistic (a *telemetry step*, the first
    call included) and light (loss, learning rate and non-finite inputs only). A Python
    call counter picks which, so steps between telemetry steps pay nothing for the
    statistics: no ``lax.cond`` and no extra pass over the gradients.

    ``every=N``: a telemetry step every N calls. ``every=None`` (the default) adapts the
    interval so the statistics cost at most ``budget`` (2 %) of the step time, while a run
    keeps at least ``MIN_SAMPLES`` (32) evenly spread telemetry steps:

    * the cost: at the 3rd to 9th telemetry steps (the first compiles, the next run cold) the telemetry call
      and the light call before it are each timed alone (wait for the steps dispatched
      before it, call, wait for its result), so the time is the step's dispatch and
      compute and nothing of its neighbours'. The clock: on the CPU backend the process's
      CPU time (``time.process_time``: XLA's threads are ours; the wall time of a call
      made alone counts the scheduler's waits on a busy machine, 4 ms against 0.7 ms of
      CPU measured for one telemetry step at load 7 on 2 cores), on an accelerator wall
      time (``time.perf_counter``: its compute is no CPU time of ours). The extra cost is
      the median over these pairs of the telemetry time minus the light time; seven waits per run
      cost a few pipeline drains, nothing per step;
    * the interval: the smallest ``10 * 2**k`` whose extra cost per step (extra / interval)
      fits the budget of the median light step, at most 10,000; 10 until measured (90 calls);
    * coverage: never more than ``max(10, step // MIN_SAMPLES)`` calls between telemetry
      steps, so a run of N calls has at least 32 of them with no gap longer than
      ``max(10, N / 32)`` calls, however expensive the statistics (on short runs this
      floor, not the budget, sets the cost).

    Two designs, chosen at the first call (``host``: None decides, True/False forces):

    * host (the default while the step's array arguments total at most ``HOST_LIMIT``
      bytes and JAX's persistent compilation cache is off: see :func:`_cached`): ONE ``jax.jit`` of the step, given a flag; at telemetry steps a
      ``lax.cond`` hands the arrays the statistics need to numpy on the host
      (:mod:`._jax_stats.host`: the same definitions as the traced statistics). XLA
      compiles the step once (plus a callback), not a second copy with the statistics'
      kernels, which was most of a short run's fixed cost. Every call returns one layout
      (NaN entries between telemetry steps, ``_tel`` 0), like ``telemetry(..., step=)``;
      its steps between telemetry steps cost a little more than the light function's
      (the callback's operands are materialized every step; see ``HOST_ONLY_CALLS``):
      after ``HOST_ONLY_CALLS`` calls
      (a long run) the steps between telemetry steps run the compiled ``light``
      function (one more compile, about the plain step's, in a thread: see ``_add_light``),
      the telemetry steps still the host design's;
    * compiled (larger models, where copying every leaf to the host costs more than the
      compile saves, and jit options that name arguments): ``full`` and ``light``.

    Made by :func:`telemetry_jit`; ``calls`` counts the calls so far, ``every`` is the
    current interval, ``full`` and ``light`` are the compiled design's two ``jax.jit``
    functions (compiled on first use each), ``one`` the host design's, ``host`` the design
    in use (None before the first call), ``cost`` the measured (light, telemetry) seconds
    once measured.
    """

    def __init__(self, fun: Callable[..., Any], every: int | None = None, budget: float = BUDGET,
                 host: bool | None = None, **jit_kwargs: Any):  # fmt: skip
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(f"every must be a positive int or None, not {every!r}")
        self.adaptive = every is None
        self.every = every or 10
        self.budget = budget
        self.calls = 0
        self.next = 0  # the call of the next telemetry step
        self.taken = 0  # telemetry steps so far
        self.cost: tuple[float, float] | None = None
        self._times: list[tuple[float, float]] = []
        self._light_t: float | None = None
        self.graph = StepGraph()  # what the step's graph shows, read from the first telemetry step's trace
        self.full = jax.jit(_traced_in(fun, "full", self.graph), **jit_kwargs)
        self.light = jax.jit(_traced_in(fun, "light"), **jit_kwargs) if self.every > 1 or self.adaptive else self.full
        self.host = host
        self.one: Any = None
        self._yes: Any = None  # the host design's telemetry flag (True), for tracing its step
        self._fun, self._jit_kwargs = fun, jit_kwargs
        self._pick: tuple[Callable[..., Any], Callable[..., Any]] | None = None  # (light, telemetry) calls
        self._solo = False  # the host design's one function runs every call (until HOST_ONLY_CALLS)
        self._bg: Compile | None = None  # the light function's compile in a thread (see _add_light)
        self._m0 = 2  # the cost is measured at telemetry steps m0 to m0 + _MEASURED - 1
        functools.update_wrapper(self, fun)

    def _choose(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The design (see the class): host while the arrays are small and no jit option
        names an argument."""
        if self.host is None:
            size = sum(int(getattr(x, "nbytes", 0)) for x in jax.tree_util.tree_leaves((args, kwargs)))
            self.host = size <= HOST_LIMIT and not any(k in self._jit_kwargs for k in _BY_NAME) and not _cached()
        if not self.host:
            self._pick = (self.light, self.full)
            return self._pick
        kw = dict(self._jit_kwargs)
        for k in _POSITIONAL:
            if kw.get(k) is not None:
                v = kw[k]
                kw[k] = tuple(i + 1 if i >= 0 else i for i in ((v,) if isinstance(v, int) else v))
        self.one = jax.jit(_flagged(self._fun, self.graph), **kw)
        no, yes = jax.device_put(np.bool_(False)), jax.device_put(np.bool_(True))
        self._yes = yes
        self._pick = (functools.partial(self.one, no), functools.partial(self.one, yes))
        self._solo = self.light is not self.full
        return self._pick

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        n = self.calls
        self.calls = n + 1
        light, full = self._pick or self._choose(args, kwargs)
        if not self.graph.read:
            self._read_graph(args, kwargs)
        if self.graph.label_at is not None and self.graph.label_reads < LABEL_READS:  # the targets' range
            see_labels(self.graph, step_leaves(args, kwargs, self._jit_kwargs, self._yes if self.host else None))
        if not self.adaptive:
            if n % self.every and n != 1:  # calls 0 and 1: a pair (.stepdir)
                return light(*args, **kwargs)
            if self._solo and n >= HOST_ONLY_CALLS:
                self._add_light(args, kwargs)
            return full(*args, **kwargs)
        m0 = self._m0
        if n < self.next:
            if n == self.next - 1 and self.cost is None and m0 <= self.taken < m0 + _MEASURED:
                out, self._light_t = _timed(light, args, kwargs)
                return out
            return light(*args, **kwargs)
        if self._solo and n >= HOST_ONLY_CALLS:
            light, full = self._add_light(args, kwargs)
        if self.cost is None and m0 <= self.taken < m0 + _MEASURED and self._light_t is not None:
            out, t = _timed(full, args, kwargs)
            self._times.append((self._light_t, t))
            if len(self._times) == _MEASURED:
                self._decide()
        else:
            out = full(*args, **kwargs)
        self.taken += 1
        self._light_t = None
        # calls 0 and 1 both: one pair of adjacent telemetry steps (the applied step, .stepdir)
        self.next = 1 if n == 0 else (n if n > 1 else 0) + min(self.every, max(10, n // MIN_SAMPLES))
        return out

    def _read_graph(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """What the telemetry step's jaxpr shows (inputs normalized before the first layer,
        the output's last operation, the input the loss compares it with; ``jit(...).trace``:
        the trace the first call then compiles; nothing runs)."""
        self.graph.read = True
        try:
            traced = self.one.trace(self._yes, *args, **kwargs) if self.host else self.full.trace(*args, **kwargs)
            self.graph.read_from(traced.jaxpr)
            self.graph.label_at = label_index(traced.jaxpr)
        except Exception:  # noqa: BLE001, S110 - a fact not known; the step runs as always
            pass

    def _add_light(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """A long run: steps between telemetry steps run the compiled light function (JAX's
        C++ dispatch), the telemetry steps still the host design's; the cost is measured
        again. Its compile (about the plain step's: a 1.0 s call on the main thread at load
        4, cost24's ``overhead_jax.py --background 3 --background-steps 2000``) runs in a
        daemon thread (XLA releases the GIL; ``lower(...).compile()`` fills ``jax.jit``'s
        cache for these shapes), the one function's steps meanwhile; the switch is at the
        first telemetry step after it is done (failed: compiled on the light call, as before)."""
        assert self._pick is not None
        if self._bg is None:
            self._bg = Compile(self.light, args, kwargs)
        if not self._bg.done.is_set():  # the one function's steps go on meanwhile
            return self._pick
        self._solo = False
        self._pick = (self.light, self._pick[1])
        self.cost, self._times, self._light_t, self._m0 = None, [], None, self.taken + 2
        return self._pick

    def _decide(self) -> None:
        k = len(self._times) // 2
        light = sorted(t for t, _ in self._times)[k]
        extra = max(sorted(f - t for t, f in self._times)[k], 0.0)
        self.cost = (light, light + extra)
        allowed = self.budget * light
        every = 10
        while every < 10_000 and extra > allowed * every:
            every *= 2
        self.every = every


def _cached() -> bool:
    """Whether JAX's persistent compilation cache is on (``jax_compilation_cache_dir`` set).
    JAX never caches an executable with a host callback, so there the host design's one
    function compiles every run while the compiled design's two load from disk (perf39,
    ``benchmarks/fresh_jax.py``: a 400-step MLP's extra +1.03 s against +0.41 s); without
    the cache nothing changes."""
    return bool(getattr(jax.config, "jax_compilation_cache_dir", None)) and bool(
        getattr(jax.config, "jax_enable_compilation_cache", True))


def _timed(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its time alone: the steps before it done first, its
    result waited for. On the CPU backend the process's CPU time (XLA's threads are this
    process's; wall time would count the scheduler's waits on a busy machine: 4 ms against
    0.7 ms of CPU for a telemetry step measured at load 7 on 2 cores), else wall time (an
    accelerator's compute is no CPU time of ours)."""
    clock = time.process_time if jax.default_backend() == "cpu" else time.perf_counter
    _wait((args, kwargs))
    t0 = clock()
    out = fn(*args, **kwargs)
    _wait(out)
    return out, clock() - t0


def _wait(tree: Any) -> None:
    for x in jax.tree_util.tree_leaves(tree):
        if isinstance(x, jax.Array) and not x.is_deleted():
            x.block_until_ready()


def telemetry_jit(fun: Callable[..., Any] | None = None, *, every: int | None = None, budget: float = BUDGET,
                  host: bool | None = None, **jit_kwargs: Any) -> Any:  # fmt: skip
    """``jax.jit`` for a step function that calls :func:`telemetry`: every statistic on
    telemetry steps, only the loss on the others. By default the interval adapts so the
    statistics cost at most ``budget`` (2 %) of the step time, with at least 32 evenly
    spread telemetry steps per run (see :class:`TelemetryJit`); ``every=N`` fixes it.

    >>> @telemetry_jit                         # doctest: +SKIP
    ... def train_step(params, opt_state, x, y):
    ...     ...
    ...     return params, opt_state, telemetry(grads=g, params=params, updates=u, loss=loss)

    Use it as ``@telemetry_jit`` or ``@telemetry_jit(every=20, donate_argnums=0)``; other
    keyword arguments go to ``jax.jit``. ``host``: where the statistics are computed (see
    :class:`TelemetryJit`; None: on the host for small models unless a persistent compilation cache is on, compiled into the step else). Inside ``lax.scan``/``fori_loop`` bodies, where a
    Python-side switch is impossible, use ``telemetry(..., step=step)`` instead (``lax.cond``).
    """
    if fun is None:
        return lambda f: TelemetryJit(f, every, budget, host, **jit_kwargs)
    return TelemetryJit(fun, every, budget, host, **jit_kwargs)


def _traced_in(fun: Callable[..., Any], mode: str, graph: StepGraph | None = None) -> Callable[..., Any]:
    """``fun`` with :data:`_jax_stats.MODE` (and, for the full step, the holder of what its
    graph shows) set while it is traced (a distinct function object per mode, so the two
    jits never share a trace cache)."""

    @functools.wraps(fun)
    def traced(*args: Any, **kwargs: Any) -> Any:
        token, held = js.MODE.set(mode), STEP_GRAPH.set(graph)
        try:
            return fun(*args, **kwargs)
        finally:
            STEP_GRAPH.reset(held)
            js.MODE.reset(token)

    return traced


def _flagged(fun: Callable[..., Any], graph: StepGraph | None = None) -> Callable[..., Any]:
    """``fun`` with a first argument, the traced telemetry flag, and :data:`_jax_stats.MODE`
    ``"host"`` (and the holder of what its graph shows) while it is traced (not
    ``functools.wraps``: ``jax.jit`` would read ``fun``'s signature, without the flag)."""

    def traced(flag: Any, *args: Any, **kwargs: Any) -> Any:
        token, ftoken, held = js.MODE.set("host"), js.HOST_FLAG.set(flag), STEP_GRAPH.set(graph)
        try:
            return fun(*args, **kwargs)
        finally:
            STEP_GRAPH.reset(held)
            js.HOST_FLAG.reset(ftoken)
            js.MODE.reset(token)

    traced.__name__ = getattr(fun, "__name__", "step")
    traced.__qualname__ = getattr(fun, "__qualname__", traced.__name__)
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


