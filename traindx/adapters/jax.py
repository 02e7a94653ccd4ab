"""JAX adapter: fused, jittable training statistics and a recorder that writes a run.

>>> from traindx.adapters.jax import telemetry, Recorder           # doctest: +SKIP
>>> @jax.jit
... def train_step(params, opt_state, x, y, step):
...     loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
...     updates, opt_state = tx.update(grads, opt_state, params)
...     stats = telemetry(grads=grads, params=params, updates=updates, loss=loss,
...                       inputs=x, step=step)                      # pure, jittable
...     return optax.apply_updates(params, updates), opt_state, stats
>>> rec = Recorder(logdir="runs/exp1", params=params, optimizer=tx,
...                loss="softmax_cross_entropy_with_integer_labels", num_classes=10)
>>> for step, (x, y) in enumerate(batches):
...     params, opt_state, stats = train_step(params, opt_state, x, y, step)
...     rec.log(step, stats)                  # keeps device arrays: no host sync here
>>> rec.log_eval(step, val_loss=vl, val_accuracy=va)
>>> print(rec.diagnose())

:func:`telemetry` computes, in one fused computation inside the jitted step, the loss, the
global and per-layer gradient norms, per-layer weight norms and update/weight ratios,
non-finite counts, and optionally activation, output (``logits`` + ``labels``) and input
statistics, packed into one float32 vector (a :class:`Stats`). With ``step=`` everything
but the loss, global gradient norm and learning rate is computed only every ``every`` (10)
steps, under ``jax.lax.cond``. The statistics are new arrays computed from the step's
values: they never feed back into the update, so parameters are bit-identical with or
without them.

:class:`Recorder` keeps the device arrays it is handed, stacks every ``fetch_every`` (100)
steps, or every ``flush_secs`` (5 s) if that comes first, into one buffer whose host copy
starts at once and is read once it is done (never waiting on it in the training loop); what
was read reaches the disk every ``flush_secs``, so a crash loses at most the last few
seconds of steps. It writes the run directory: an event file of canonical
tags (the same as :class:`traindx.adapters.torch.Monitor` writes) plus ``context.json``
(model from the parameter tree, optimizer and hyperparameters from the optax
transformation, loss, data). An internal error turns it off with one ``RuntimeWarning``.

For a step function that should not change, :func:`monitor` wraps an optax transformation
so that its state carries the statistics of the last update (read with
:meth:`Recorder.log_opt_state`).
"""

from __future__ import annotations

import atexit
import functools
import math
import os
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

try:
    import jax
    import jax.numpy as jnp
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("traindx.adapters.jax needs JAX: pip install 'traindx[jax]'") from e

from traindx.adapters import _jax_stats as js
from traindx.adapters._common import (
    Closing,
    Moments,
    RunWriter,
    TargetFacts,
    TrainingDiverged,
    add_counts,
    default_logdir,
    fatal_message,
    init_scale_flags,
    metric_values,
    note_broadcast,
    read_run,
    warn,
)
from traindx.adapters._jax_call import telemetry  # jits itself when called outside jit
from traindx.adapters._jax_stats import (
    Stats,
    data_info,
    loss_info,
    model_info,
    optimizer_info,
    schedule_name,
    schedule_peak,
)
from traindx.schema import OptimizerInfo, RunContext

__all__ = ["MonitorState", "Recorder", "Stats", "TelemetryJit", "TrainingDiverged", "monitor", "telemetry",
           "telemetry_jit"]

FETCH_EVERY = 100  # steps per device -> host transfer
TARGET_ROWS = 4  # telemetry rows whose label counts give target_distinct (their largest)

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


# --------------------------------------------------------------------------- Recorder


class _Layout:
    """How the rows of one kind of record turn into events (decided at their first fetch).

    Columns: the entries of the ``Stats`` vector (``n_stats``), then scalars given apart
    (a loss passed to ``log``, a dict's values)."""

    def __init__(self, tags: tuple[str, ...], meta: tuple[tuple[str, Any], ...], extra: tuple[str, ...] = ()):
        self.n_stats = len(tags)
        self.tags = tags + extra
        self.meta = dict(meta)
        self.col: dict[str, int] = {}
        for i, t in enumerate(self.tags):
            if i >= self.n_stats or t not in self.col:  # a loss given apart wins
                self.col[t] = i
        self.plan: list[tuple[str, int, float]] | None = None  # (tag, column, value added)
        self.prev_w: np.ndarray | None = None  # weight norms and sums at the last telemetry row

    def step_tags(self) -> list[tuple[str, int]]:
        """Series written every step: loss, global gradient norm, lr, scalars given apart."""
        first = int(self.meta.get("per_step", 0))
        out = {t: self.col[t] for t in self.tags[:first] if not t.startswith("_")}
        for t in self.tags[self.n_stats :]:
            out[t] = self.col[t]
        return list(out.items())


class Recorder(Closing):
    """Record a JAX training loop's statistics into a run directory and diagnose it.

    Args:
        logdir: run directory (default ``runs/<run_name or date-time>``).
        params: the parameter pytree (or flax variables): model layers and sizes.
        optimizer: the optax transformation: name, learning rate (or schedule), momentum,
            weight decay, eps, clipping (read from its closures, best effort).
        loss: the loss: an optax function (``optax.softmax_cross_entropy``) or a name
            (``"mse"``, ``"softmax_cross_entropy_with_integer_labels"``): what it expects.
        num_classes, n_train, batch_size: data facts; ``data=(x_train, y_train)`` gives
            n_train, input range and class counts from the arrays themselves.
        optimizer_name: names the optimizer where it cannot be read from ``optimizer``.
        learning_rate: a float or an optax schedule (``train/lr`` is evaluated from it at
            each logged step) where it cannot be read from ``optimizer``.
        every: write per-layer statistics only for steps divisible by it (default: every
            step whose statistics were computed).
        fetch_every: steps per device-to-host transfer (one stacked buffer).
        on_fatal: ``"warn"`` (one warning) or ``"stop"`` (raise :class:`TrainingDiverged`
            from :meth:`log`) when a fetched loss is not finite, or the global gradient or
            weight norm is not finite while the loss is (on the steps that computed them);
            it is seen at the fetch after it, up to ``2 * fetch_every`` steps later.
        flush_secs: how often the buffered steps are fetched and the event file and
            ``context.json`` reach the disk (a ``kill -9`` loses about this much).
    """

    _kind = "JAX recorder"  # in SelfDisabling's warning

    def __init__(
        self,
        logdir: str | os.PathLike[str] | None = None,
        *,
        params: Any = None,
        optimizer: Any = None,
        loss: Any = None,
        num_classes: int | None = None,
        n_train: int | None = None,
        batch_size: int | None = None,
        data: Any = None,
        optimizer_name: str | None = None,
        learning_rate: Any = None,
        every: int | None = None,
        fetch_every: int = FETCH_EVERY,
        on_fatal: str = "warn",
        flush_secs: float = 5.0,
        run_name: str | None = None,
    ):
        if on_fatal not in ("warn", "stop"):
            raise ValueError(f"on_fatal must be 'warn' or 'stop', not {on_fatal!r}")
        for nm, v in (("every", every), ("fetch_every", fetch_every)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{nm} must be a positive int{' or None' if nm == 'every' else ''}, not {v!r}")
        self.logdir = Path(logdir) if logdir is not None else default_logdir(run_name)
        self.on_fatal = on_fatal
        self.every = every
        self.fetch_every = fetch_every
        self._flush_secs = flush_secs
        self._off = self._disabled = self._closed = False
        self._writer: RunWriter | None = None
        self._buf: list[tuple[int, float, Any, tuple[Any, ...]]] = []  # (step, wall, layout key, arrays)
        self._pending: list[list[tuple[list[tuple[int, float]], Any, list[Any]]]] = []
        self._layouts: dict[Any, _Layout] = {}
        self._last_key: Any = None
        self._last_layout_key: Any = None
        self._steps = 0
        self._last_dispatch = time.monotonic()
        self._fatal_warned = False
        self._fatal: tuple[int, str] | None = None  # (step, what), raised or warned in log()
        self._moments = Moments()
        self._input_nonfinite = 0.0
        self._class_counts = np.zeros(0, dtype=np.float64)
        self._atexit: Any = None
        self._lr: Any = None
        self._out_act: str | None = None
        self._probs: str | None = None
        self._act_kind: dict[str, int] = {}
        self._data_given = data is not None
        self._tgt_integer = True
        self._tgt_distinct = 0.0
        self._tgt_rows = 0
        self._tgt_binary: bool | None = None  # from data=(x, y): every target 0 or 1
        self.context = RunContext(framework="jax", framework_version=jax.__version__)
        try:
            self._setup(params, optimizer, loss, num_classes, n_train, batch_size, data, optimizer_name,
                        learning_rate, run_name)  # fmt: skip
        except Exception as e:  # noqa: BLE001 - never break the user's script
            self._fail(e, "setup")

    def _setup(self, params: Any, optimizer: Any, loss: Any, num_classes: int | None, n_train: int | None,
               batch_size: int | None, data: Any, optimizer_name: str | None, learning_rate: Any,
               run_name: str | None) -> None:  # fmt: skip
        ctx = self.context
        if params is not None:
            ctx.model = model_info(params)
            try:  # the weights as given: the initial ones when the Recorder is made first
                scales = js.init_scales(params)
                out_layer = scales[-1][1] if scales else None
                ctx.flags.update(init_scale_flags([(n, v) for n, layer, v in scales if layer != out_layer]))
            except Exception:  # noqa: BLE001, S110 - a fact not known; the recorder goes on
                pass
        try:
            info, lr = optimizer_info(optimizer, optimizer_name)
        except Exception as e:  # noqa: BLE001 - an optimizer we cannot read: no facts, go on
            info, lr = OptimizerInfo(name=optimizer_name), None
            ctx.notes.append(f"optimizer not read ({type(e).__name__}: {e})")
        if learning_rate is not None:
            lr = learning_rate
            if callable(lr):
                info.schedule, info.lr = schedule_name(lr), schedule_peak(lr)
            else:
                info.lr = js.num(lr)
        ctx.optimizer = info
        self._lr = lr
        ctx.loss, self._task, self._elementwise = loss_info(loss)
        self._loss_known = loss is not None
        if data is not None:
            ctx.data, nf = data_info(data)
            if nf:
                self._input_nonfinite += nf
                ctx.flags["input_nonfinite"] = float(self._input_nonfinite)
            if isinstance(data, (tuple, list)) and len(data) > 1 and data[1] is not None:
                tf = TargetFacts()
                tf.add(np.asarray(data[1]), limit=1 << 20)
                ctx.flags.update(tf.flags())
                self._tgt_binary = tf.binary if tf.values else None
        d = ctx.data
        d.num_classes = num_classes if num_classes is not None else d.num_classes
        d.n_train = n_train if n_train is not None else d.n_train
        d.batch_size = batch_size if batch_size is not None else d.batch_size
        d.task = self._task  # type: ignore[assignment]
        if d.num_classes is None and d.class_counts and self._task in ("classification", "binary"):
            d.num_classes = len(d.class_counts)
        if self._loss_known and not self._elementwise:
            ctx.flags["broadcast_in_loss"] = False
        if run_name:
            ctx.hyperparameters["run_name"] = run_name
        self._writer = RunWriter(self.logdir, self._flush_secs)
        self._writer.write_context(ctx)
        self._atexit = functools.partial(_atexit_close, weakref.ref(self))
        atexit.register(self._atexit)

    # ------------------------------------------------------------------ public API

    def log(self, step: int, stats: Stats | Mapping[str, Any] | None = None, *, loss: Any = None) -> None:
        """Keep one step's statistics (device arrays; nothing waits for the device here).

        ``stats`` is what :func:`telemetry` returned, or a dict of scalars by name
        (``{"loss": l, "accuracy": a}``, mapped to canonical names); ``loss`` a loss
        computed apart.
        """
        if self._off:
            return
        try:
            self._keep(int(step), stats, loss)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "log")
        if self._fatal is not None:
            fatal, self._fatal = self._fatal, None
            self._on_fatal(*fatal)

    def log_opt_state(self, step: int, opt_state: Any, *, loss: Any = None) -> None:
        """Log the statistics a :func:`monitor`-wrapped optimizer left in its state."""
        if self._off:
            return
        try:
            ms = _find_monitor_state(opt_state)
            if ms is None:
                raise TypeError("no MonitorState in opt_state: wrap the optimizer with traindx.adapters.jax.monitor(tx)")
        except Exception as e:  # noqa: BLE001
            self._fail(e, "log_opt_state")
            return
        self.log(step, ms.stats, loss=loss)

    def log_eval(self, step: int, **metrics: Any) -> None:
        """Record evaluation metrics (``val_loss=``, ``val_accuracy=`` ...) at ``step``."""
        if self._off or self._writer is None:
            return
        try:
            values = metric_values(metrics, lambda v: np.mean(np.asarray(jax.device_get(v), dtype=np.float64)),
                                   self.context.notes)  # fmt: skip
            self._writer.add(int(step), values)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "log_eval")

    def flush(self) -> None:
        """Fetch everything buffered (waits for the device), write events and context."""
        if self._off or self._writer is None:
            return
        try:
            self._drain()
            self._write_disk()
        except Exception as e:  # noqa: BLE001
            self._fail(e, "flush")
        if self._fatal is not None:
            fatal, self._fatal = self._fatal, None
            self._on_fatal(*fatal)

    def diagnose(self) -> Any:
        """The :class:`~traindx.diagnosis.Diagnosis` of what was recorded so far."""
        try:
            self.flush()
            from traindx.api import diagnose

            return diagnose(read_run(self.logdir))[0]
        except TrainingDiverged:
            raise
        except Exception as e:  # noqa: BLE001
            self._warn_once(f"traindx: diagnose failed: {type(e).__name__}: {e}")
            return None

    def _final_flush(self) -> None:  # for Closing.close: fetch and write everything
        self._drain()
        self._final_note()
        self._write_disk()

    # ------------------------------------------------------------------ buffering

    def _keep(self, step: int, stats: Any, loss: Any) -> None:
        if isinstance(stats, Stats):
            key: Any = (stats.tags, stats.meta, loss is not None)
            arrays: tuple[Any, ...] = (stats.values,) if loss is None else (stats.values, loss)
        elif isinstance(stats, Mapping):
            names = tuple(stats)
            key = ("dict", names, loss is not None)
            arrays = tuple(stats[n] for n in names) + ((loss,) if loss is not None else ())
        elif stats is None and loss is not None:
            key, arrays = ("loss",), (loss,)
        else:
            raise TypeError(f"log() takes the Stats of telemetry() or a dict of scalars, not {type(stats).__name__}")
        if key is not self._last_key and key != self._last_layout_key:
            if key not in self._layouts:
                self._layouts[key] = self._new_layout(key)
            self._last_layout_key = key
        self._last_key = key
        self._buf.append((step, time.time(), key, arrays))
        self._steps += 1
        if len(self._buf) >= self.fetch_every or time.monotonic() - self._last_dispatch >= self._flush_secs:
            self._dispatch()
            while len(self._pending) > 1:  # the batch before this one is ready by now
                self._collect(self._pending.pop(0))
        w = self._writer
        if w is not None and w.due():
            # On time as well as on steps: once flush_secs have passed, every dispatched
            # batch whose host copy is done is read and written, so a crash (kill -9) loses
            # at most the steps of the last flush_secs or so; one not done yet waits (the
            # loop never waits on the device) and is looked at again at the next log.
            while self._pending and _is_ready(self._pending[0]):
                self._collect(self._pending.pop(0))
            if not self._pending:
                self._write_disk()

    def _new_layout(self, key: Any) -> _Layout:
        from traindx.names import map_name

        if key[0] == "loss":
            return _Layout((), (), ("train/loss",))
        loss = ("train/loss",) if key[2] else ()
        if key[0] == "dict":
            names = []
            for n in key[1]:
                k = map_name(n)
                names.append(str(k) if k is not None else f"train/{n}")
            return _Layout((), (), tuple(names) + loss)
        return _Layout(key[0], key[1], loss)

    def _dispatch(self) -> None:
        """Stack the buffered arrays (one op per layout and array position) and start their
        host copy; the batch is read (:meth:`_collect`) one batch later, by when it is ready."""
        buf, self._buf = self._buf, []
        self._last_dispatch = time.monotonic()
        if not buf:
            return
        groups: dict[Any, list[int]] = {}
        for i, (_, _, key, _) in enumerate(buf):
            groups.setdefault(key, []).append(i)
        batch = []
        for key, idx in groups.items():
            rows = [buf[i] for i in idx]
            cols = list(zip(*(r[3] for r in rows), strict=True))
            stacked: list[Any] = []
            for col in cols:
                if all(isinstance(a, jax.Array) for a in col):
                    # one stacked buffer per layout (one transfer), its copy started now
                    if len(col) > 1 and len({a.shape for a in col}) == 1:
                        # counts padded to a power of 2 (the last array repeated, dropped on
                        # the host): batches cut on time have any count, and _stack compiles
                        # once per count
                        pad = (1 << (len(col) - 1).bit_length()) - len(col)
                        s = _stack(*col, *([col[-1]] * pad))
                    else:
                        s = list(col)
                    if isinstance(s, jax.Array):
                        s.copy_to_host_async()
                else:
                    s = [a if isinstance(a, jax.Array) else np.asarray(a) for a in col]
                stacked.append(s)
            batch.append(([(r[0], r[1]) for r in rows], key, stacked))
        self._pending.append(batch)

    def _drain(self) -> None:
        self._dispatch()
        while self._pending:
            self._collect(self._pending.pop(0))

    def _collect(self, batch: list[tuple[list[tuple[int, float]], Any, list[Any]]]) -> None:
        """One ``device_get`` of a dispatched batch; decode it and write it in step order."""
        host = jax.device_get([stacked for _, _, stacked in batch])
        blocks: list[tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]] = []
        for (rows, key, _), h in zip(batch, host, strict=True):
            lay = self._layouts[key]
            n = len(rows)
            mats = []
            for j, a in enumerate(h):
                a = np.asarray(np.stack([np.asarray(x) for x in a]) if isinstance(a, list) else a, dtype=np.float64)
                a = a[:n]  # without the padding rows of _dispatch
                if j == 0 and lay.n_stats:  # Stats vectors; pmap/vmap add axes: keep the first replica
                    mats.append(a.reshape(n, -1, a.shape[-1])[:, 0, :])
                else:  # scalars given apart (a non-scalar loss: its mean)
                    mats.append(a.reshape(n, -1).mean(axis=1, keepdims=True))
            m = np.concatenate(mats, axis=1) if len(mats) > 1 else mats[0]
            steps = np.asarray([r[0] for r in rows], dtype=np.int64)
            walls = np.asarray([r[1] for r in rows], dtype=np.float64)
            blocks += self._decode(lay, steps, walls, m)
        self._write_blocks(blocks)

    def _write_blocks(self, blocks: list[tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]]) -> None:
        """Write column blocks: each tag's points merged in step order (a tag written out of
        order would supersede its later points on reading), tags with the same steps
        encoded together (one vectorized call per distinct set of steps)."""
        streams: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for steps, walls, tags, mat in blocks:
            for j, tag in enumerate(tags):
                streams.setdefault(tag, []).append((steps, walls, mat[:, j]))
        groups: dict[bytes, tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]] = {}
        for tag, parts in streams.items():
            if len(parts) == 1:
                st, wl, v = parts[0]
            else:
                st = np.concatenate([p[0] for p in parts])
                order = np.argsort(st, kind="stable")
                st, wl = st[order], np.concatenate([p[1] for p in parts])[order]
                v = np.concatenate([p[2] for p in parts])[order]
            g = groups.setdefault(st.tobytes(), (st, wl, [], []))
            g[2].append(tag)
            g[3].append(v)
        w = self._writer
        assert w is not None
        for st, wl, tags, vals in sorted(groups.values(), key=lambda g: int(g[0][0]) if g[0].size else 0):
            if st.size:
                w.add_rows(st.tolist(), wl.tolist(), tuple(tags), np.stack(vals, axis=1))

    # ------------------------------------------------------------------ decoding

    def _decode(self, lay: _Layout, steps: np.ndarray, walls: np.ndarray, m: np.ndarray,
                ) -> list[tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]]:  # fmt: skip
        """Column blocks (steps, wall times, tags, values) of one layout's fetched matrix:
        the per-step series, then the telemetry rows; folds the context on the way."""
        n = len(steps)
        st = lay.step_tags()
        tags = [t for t, _ in st]
        cols = [m[:, i] for _, i in st]
        if "train/lr" not in lay.col and self._lr is not None:
            lr = self._lr_values(steps)
            if lr is not None:
                tags.append("train/lr")
                cols.append(lr)
        blocks = [(steps, walls, tuple(tags), np.stack(cols, axis=1) if cols else np.zeros((n, 0)))]
        if not self._fatal_warned and self._fatal is None:
            self._fatal = _first_fatal(lay, steps, m)
        if "train/nonfinite@inputs" in lay.col:
            nf = m[:, lay.col["train/nonfinite@inputs"]]
            self._input_nonfinite += float(np.nansum(nf))
            self.context.flags["input_nonfinite"] = float(self._input_nonfinite)
        tel = m[:, lay.col["_tel"]] > 0.5 if "_tel" in lay.col else np.zeros(n, dtype=bool)
        if self.every is not None:
            tel &= steps % self.every == 0
        idx = np.flatnonzero(tel)
        if not idx.size:
            return blocks
        t = m[idx]
        if lay.plan is None:
            lay.plan = self._plan(lay, t[0])
        t = self._update_applied(lay, t)
        self._fold(lay, t, steps[idx])
        if lay.plan:
            tv = np.stack([t[:, c] + add for _, c, add in lay.plan], axis=1)
            blocks.append((steps[idx], walls[idx], tuple(p[0] for p in lay.plan), tv))
        return blocks

    def _lr_values(self, steps: np.ndarray) -> np.ndarray | None:
        lr = self._lr
        if callable(lr):
            try:
                return np.asarray(lr(steps), dtype=np.float64).reshape(-1)
            except Exception:  # noqa: BLE001 - a schedule that is not vectorized
                return np.asarray([float(lr(int(s))) for s in steps], dtype=np.float64)
        return np.full(steps.shape, float(lr), dtype=np.float64)

    def _plan(self, lay: _Layout, row: np.ndarray) -> list[tuple[str, int, float]]:
        """Which columns become which tags, decided from the first telemetry row."""
        c = lay.col
        plan: list[tuple[str, int, float]] = []
        for tag, i in c.items():
            if tag.startswith("_") or i < int(lay.meta.get("per_step", 0)) or i >= lay.n_stats:
                continue
            if tag in ("train/pred_class_frac:max",):
                continue
            plan.append((tag, i, 0.0))
        # activation statistics: fraction zero (ReLU-like) or saturated (tanh, sigmoid)
        for tag, i in c.items():
            if not tag.startswith("_az@"):
                continue
            name = tag[4:]
            kind = self._act_kind.get(name)
            if kind is None:
                kind = self._act_kind[name] = _act_kind(name, row[c[f"_amin@{name}"]], row[c[f"_amax@{name}"]], row[i])
            if kind == 1:
                plan.append((f"train/act_frac_zero@{name}", i, 0.0))
            elif kind in (2, 3):
                plan.append((f"train/act_frac_saturated@{name}", c[f"_at@{name}" if kind == 2 else f"_as@{name}"], 0.0))
        if "_out_min" in c:
            self._decide_output(lay, row)
            classify = self._task in (None, "classification") or self._probs is not None
            if "_out_rowdev" in c and self._probs in ("softmax", "log_softmax"):  # sigmoids need not sum to 1
                plan.append(("train/output_row_sum", c["_out_rowdev"], 1.0))
            if "train/pred_class_frac:max" in c and classify:
                plan.append(("train/pred_class_frac:max", c["train/pred_class_frac:max"], 0.0))
            if "_acc" in c and classify:
                plan.append(("train/accuracy", c["_acc"], 0.0))
            elif "_acc_thr0" in c and (self._task == "binary" or (self._task is None and row[c["_label_binary"]] > 0.5)):
                thr = "_acc_thr05" if self._out_act in ("sigmoid", "softmax") else "_acc_thr0"
                plan.append(("train/accuracy", c[thr], 0.0))
            self._check_broadcast(lay)
        return plan

    def _decide_output(self, lay: _Layout, row: np.ndarray) -> None:
        if self._out_act is not None:
            return
        c = lay.col
        width = int(lay.meta.get("out_width", 1))
        lo, hi, zero = row[c["_out_min"]], row[c["_out_max"]], row[c["_out_frac_zero"]]
        # values in (0, 1) say nothing of a sigmoid for a regression (one output with targets
        # other than 0/1 counts as one when the loss is not known)
        regression = self._task == "regression" or (
            self._task is None and width == 1
            and (("_label_binary" in c and row[c["_label_binary"]] <= 0.5) or self._tgt_binary is False))  # fmt: skip
        # ReLU: a real share of exact zeros and some positive values (not an all-zero output)
        relu = lo == 0.0 and hi > 0.0 and zero > 0.05
        act = "linear"
        if width >= 2:
            if lo >= 0.0 and hi <= 1.0 and (row[c["_out_rowdev_max"]] < 1e-3 or row[c["_out_coldev_max"]] < 1e-3):
                act = "softmax"
            elif lo > 0.0 and hi < 1.0 and not regression:
                act = "sigmoid"
            elif hi <= 0.0 and row[c["_out_lse_max"]] < 1e-3:
                act = "log_softmax"
            elif relu:
                act = "relu"
        elif 0.0 < lo and hi < 1.0 and not regression:
            act = "sigmoid"
        elif relu:
            act = "relu"
        ctx = self.context
        m = ctx.model
        m.output_units = width
        self._out_act = m.output_activation = act
        if act != "linear":
            ctx.notes.append(f"output activation '{act}' inferred from the output values")
        if self._task is None:
            integer = "int" in str(lay.meta.get("label_dtype", ""))
            if width >= 2 and integer:
                self._task = "classification"
            elif width == 1 and "_label_binary" in c and row[c["_label_binary"]] > 0.5:
                self._task = "binary"
            ctx.data.task = self._task  # type: ignore[assignment]
        if act in ("softmax", "log_softmax") or (act == "sigmoid" and self._task == "classification"):
            self._probs = act
        d = ctx.data
        if d.num_classes is None and width >= 2 and self._task == "classification":
            d.num_classes = width
        if d.num_classes is None and self._task == "binary" and width == 1:
            d.num_classes = 2

    def _check_broadcast(self, lay: _Layout) -> None:
        a, b = lay.meta.get("out_shape"), lay.meta.get("label_shape")
        if not self._elementwise or a is None or b is None:
            return
        try:
            np.broadcast_shapes(tuple(a), tuple(b))
        except ValueError:
            note_broadcast(self.context, a, b, False)
        else:
            note_broadcast(self.context, a, b, True)

    def _update_applied(self, lay: _Layout, t: np.ndarray) -> np.ndarray:
        """Zero the update ratio of layers whose weights did not change since the previous
        telemetry row (updates computed but never applied to the parameters)."""
        c = lay.col
        names = [k[6:] for k in c if k.startswith("_wsum@")]
        if not names or f"train/update_ratio@{names[0]}" not in c:
            return t
        wc = [c[f"train/weight_norm@{n}"] for n in names] + [c[f"_wsum@{n}"] for n in names]
        uc = np.asarray([c[f"train/update_ratio@{n}"] for n in names])
        w = t[:, wc]
        prev = np.concatenate([lay.prev_w[None], w[:-1]]) if lay.prev_w is not None else np.concatenate([np.full((1, w.shape[1]), np.nan), w[:-1]])
        same = (w == prev)
        k = len(names)
        same_layer = same[:, :k] & same[:, k:]
        lay.prev_w = w[-1].copy()
        if same_layer.any():
            t = t.copy()
            sub = t[:, uc]
            sub[same_layer] = 0.0
            t[:, uc] = sub
            if same_layer.all(axis=1).any() and "train/update_ratio" in c:
                t[same_layer.all(axis=1), c["train/update_ratio"]] = 0.0
                note = "parameters did not change between telemetry steps although updates were computed"
                if note not in self.context.notes:
                    self.context.notes.append(note)
        return t

    def _fold(self, lay: _Layout, t: np.ndarray, steps: np.ndarray) -> None:
        """Fold telemetry rows into the context (moments, class counts, flags)."""
        c, ctx = lay.col, self.context
        flags, d = ctx.flags, ctx.data
        if "_in_n" in c:
            if not self._data_given:
                for r in t:
                    self._moments.merge(r[c["_in_n"]], r[c["train/input_mean"]], r[c["train/input_std"]],
                                        r[c["train/input_min"]], r[c["train/input_max"]])  # fmt: skip
                mo = self._moments
                if mo.n:
                    d.input_mean, d.input_std, d.input_min, d.input_max = mo.mean, mo.std, mo.min, mo.max
        meta = lay.meta
        if not self._data_given:
            if "input_dtype" in meta:
                d.input_dtype = str(meta["input_dtype"])
            if d.batch_size is None and "batch_size" in meta:
                d.batch_size = int(meta["batch_size"])
        cls = [i for t_, i in c.items() if t_.startswith("_cls")]
        if cls and not self._data_given and (self._task in ("classification", "binary") or (self._task is None and len(cls) > 1)):
            counts = np.nansum(t[:, cls], axis=0)
            if "_label_binary" in c and not np.all(t[:, c["_label_binary"]] > 0.5):
                counts = None
            if counts is not None:
                self._class_counts = add_counts(self._class_counts, counts)
                d.class_counts = [int(round(v)) for v in self._class_counts]
        if "_lbl_int" in c and not self._data_given:
            self._tgt_integer = self._tgt_integer and bool(np.all(t[:, c["_lbl_int"]] > 0.5))
            first = t[: max(TARGET_ROWS - self._tgt_rows, 0), c["_lbl_distinct"]]
            if first.size:
                self._tgt_rows += first.size
                self._tgt_distinct = max(self._tgt_distinct, float(np.max(first)))
            flags["target_integer"] = self._tgt_integer
            flags["target_distinct"] = self._tgt_distinct
        if "_pwg" in c:
            # the first steps may legitimately lack gradients, and once gradients overflow
            # they under- or overflow to exactly 0: take the median over the healthy rows
            late = steps >= 2
            if "train/nonfinite@grads" in c:
                late &= t[:, c["train/nonfinite@grads"]] == 0
            if late.any():
                flags["params_without_grad"] = float(np.median(t[late][:, c["_pwg"]]))

    def _final_note(self) -> None:
        notes = [n for n in self.context.notes if not n.startswith("traindx recorder:")]
        notes.append(f"traindx recorder: {self._steps} steps logged")
        self.context.notes = notes

    def _write_disk(self) -> None:
        w = self._writer
        if w is None:
            return
        w.write_context(self.context)
        w.flush()

    # ------------------------------------------------------------------ failure

    def _release(self) -> None:
        self._buf.clear()
        self._pending.clear()
        if self._atexit is not None:
            atexit.unregister(self._atexit)
            self._atexit = None

    def _on_fatal(self, step: int, what: str) -> None:
        msg = f"traindx: {what} at step {step}"
        if self.on_fatal == "stop":
            self._fatal_warned = True
            raise TrainingDiverged(msg + " (on_fatal='stop'); see .diagnosis", self.diagnose())
        if not self._fatal_warned:
            self._fatal_warned = True
            warn(msg + "; rec.diagnose() ranks the likely causes", stacklevel=3)


def _first_fatal(lay: _Layout, steps: np.ndarray, m: np.ndarray) -> tuple[int, str] | None:
    """The first step of a fetched matrix whose loss is not finite, or whose global weight or
    gradient norm is not finite while the loss is (on rows that computed them): fatal."""
    c = lay.col
    per_step = int(lay.meta.get("per_step", 0))
    tel = m[:, c["_tel"]] > 0.5 if "_tel" in c else np.zeros(len(steps), dtype=bool)
    found: list[tuple[int, int, str]] = []  # (row, rank, what): the loss first at a step
    for rank, (tag, kind) in enumerate((("train/loss", "loss"), ("train/grad_norm", "grads"),
                                        ("train/weight_norm", "weights"))):  # fmt: skip
        if tag not in c:
            continue
        v = m[:, c[tag]]
        rows = ~np.isfinite(v)
        if kind != "loss" and not (c[tag] < per_step or c[tag] >= lay.n_stats):
            rows &= tel  # computed on telemetry rows only (NaN elsewhere)
        bad = np.flatnonzero(rows)
        if bad.size:
            found.append((int(bad[0]), rank, fatal_message(kind, float(v[bad[0]]))))
    if not found:
        return None
    row, _, what = min(found)
    return int(steps[row]), what


def _is_ready(batch: list[tuple[list[tuple[int, float]], Any, list[Any]]]) -> bool:
    """Whether every device array of a dispatched batch is computed (no waiting)."""
    for _, _, stacked in batch:
        for s in stacked:
            for a in s if isinstance(s, list) else (s,):
                if isinstance(a, jax.Array) and not a.is_ready():
                    return False
    return True


@jax.jit
def _stack(*arrays: jax.Array) -> jax.Array:
    """``jnp.stack`` as one dispatch (compiled once per count and shape)."""
    return jnp.stack(arrays)


def _act_kind(name: str, lo: float, hi: float, zero: float) -> int:
    """0: mean/std only; 1: ReLU-like (fraction zero); 2: tanh-like; 3: sigmoid-like
    (fraction saturated). From the name when it says, else from the first values."""
    low = name.lower()
    if any(k in low for k in ("relu", "relu6", "hard_swish")):
        return 1
    if "tanh" in low:
        return 2
    if "sigmoid" in low:
        return 3
    if any(k in low for k in ("gelu", "silu", "swish", "elu", "softplus", "linear", "dense", "conv", "logits")):
        return 0
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0
    if lo == 0.0 and (hi > 1.0 or zero > 0.0):
        return 1
    if lo >= 0.0 and hi <= 1.0:
        return 3
    if lo >= -1.0 and hi <= 1.0 and lo < 0.0:
        return 2
    return 0


def _find_monitor_state(state: Any) -> MonitorState | None:
    if isinstance(state, MonitorState):
        return state
    for node in jax.tree_util.tree_leaves(state, is_leaf=lambda n: isinstance(n, MonitorState)):
        if isinstance(node, MonitorState):
            return node
    return None


def _atexit_close(ref: weakref.ref) -> None:
    rec = ref()
    if rec is not None:
        rec.close()


# Preflight (checks run before training) lives in its own module.
from traindx.adapters._jax_preflight import LRRangeResult, lr_range_test, preflight  # noqa: E402

__all__ += ["LRRangeResult", "lr_range_test", "preflight"]
