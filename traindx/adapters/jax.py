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
>>> print(traindx.render_text(rec.diagnose()))

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

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

try:
    import jax
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("traindx.adapters.jax needs JAX: pip install 'traindx[jax]'") from e

from traindx.adapters import _jax_models
from traindx.adapters._common import (
    Closing,
    Moments,
    RunWriter,
    TrainingDiverged,
    default_logdir,
    metric_values,
    note_fatal,
    warn,
)
from traindx.adapters._common.repeats import InputRepeats
from traindx.adapters._jax_call import telemetry  # jits itself when called outside jit
from traindx.adapters._jax_context import ContextMixin
from traindx.adapters._jax_optax import (
    MonitorState,
    TelemetryJit,
    _find_monitor_state,
    monitor,
    telemetry_jit,
)
from traindx.adapters._jax_pipeline import PipelineMixin, _Layout
from traindx.adapters._jax_stats import (
    Stats,
)
from traindx.adapters._jax_stats.stepdir import StepDirection
from traindx.context_json import construct
from traindx.schema import RunContext

__all__ = ["MonitorState", "Recorder", "Stats", "TelemetryJit", "TrainingDiverged", "monitor", "telemetry",
           "telemetry_jit"]

FETCH_EVERY = 100  # steps per device -> host transfer


class Recorder(ContextMixin, PipelineMixin, Closing):
    """Record a JAX training loop's statistics into a run directory and diagnose it.

    Args:
        logdir: run directory (default ``runs/<run_name or date-time>``).
        params: the parameter pytree (or flax variables): model layers and sizes. A flax
            ``nnx.Module`` is read through its ``nnx.Param`` state, and the mode of its
            BatchNorm / Dropout submodules is read at each :meth:`log` (flags ``mode_layers``,
            ``mode_layers_checked``, ``mode_layers_eval_share``: a ``model.eval()`` left on
            while training).
        optimizer: the optax transformation: name, learning rate (or schedule), momentum,
            weight decay, eps, clipping (read from its closures, best effort).
        loss: the loss: an optax function (``optax.softmax_cross_entropy``) or a name
            (``"mse"``, ``"softmax_cross_entropy_with_integer_labels"``): what it expects.
        num_classes, n_train, batch_size: data facts; ``data=(x_train, y_train)`` gives
            n_train, input range and class counts from the arrays themselves.
        val_data: ``(x_val, y_val)`` or ``x_val``, with ``data=``: the share of validation rows
            identical to a training row (``val_shared_frac``, read once at set-up).
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
        epochs, steps_per_epoch, max_steps: the loop's plan, when known (the number of
            epochs it means to run, the steps it logs per epoch, or a planned last step):
            a run that ends before it (a ``break``, early stopping) reads as stopped early,
            not as one trained for too few epochs. Epoch ends can also be marked as they
            come: ``log_eval(step, epoch=e, val_loss=...)``.
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
        val_data: Any = None,
        optimizer_name: str | None = None,
        learning_rate: Any = None,
        every: int | None = None,
        fetch_every: int = FETCH_EVERY,
        on_fatal: str = "warn",
        flush_secs: float = 5.0,
        run_name: str | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        max_steps: int | None = None,
    ):
        if on_fatal not in ("warn", "stop"):
            raise ValueError(f"on_fatal must be 'warn' or 'stop', not {on_fatal!r}")
        for nm, v in (("every", every), ("fetch_every", fetch_every), ("epochs", epochs),
                      ("steps_per_epoch", steps_per_epoch), ("max_steps", max_steps)):  # fmt: skip
            if (v is not None or nm == "fetch_every") and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"{nm} must be a positive int{'' if nm == 'fetch_every' else ' or None'}, not {v!r}")
        self.logdir = Path(logdir) if logdir is not None else default_logdir(run_name)
        self.on_fatal = on_fatal
        self.every = every
        self.fetch_every = fetch_every
        self._flush_secs = flush_secs
        self._off = self._disabled = self._closed = False
        self._writer: RunWriter | None = None
        self._buf: list[tuple[int, float, _Layout, tuple[Any, ...]]] = []  # (step, wall, layout, arrays)
        self._pending: list[list[tuple[list[tuple[int, float]], _Layout, list[Any]]]] = []
        self._layouts: dict[Any, _Layout] = {}
        self._by_id: dict[tuple[int, int, bool], tuple[Any, Any, _Layout]] = {}  # Stats' tags/meta by identity
        self._steps = 0
        self._last_dispatch = time.monotonic()
        self._flush_wanted = False  # a batch dispatched on time waits to be written
        self._fatal_warned = False
        self._fatal: tuple[int, str] | None = None  # (step, what), raised or warned in log()
        self._moments = Moments()
        self._repeats = InputRepeats()  # the same batch step after step (flag inputs_same_share)
        self._stepdir = StepDirection()  # the applied step against the gradient (flag step_grad_cos)
        self._input_nonfinite = 0.0
        self._class_counts = np.zeros(0, dtype=np.float64)
        self._atexit: Any = None
        self._lr: Any = None
        self._lr_every = 1  # micro-steps per count of the optimizer's schedule (optax.MultiSteps)
        self._out_act: str | None = None
        self._relu_seen = 0  # telemetry rows with a ReLU output (-1: a negative output seen)
        self._probs: str | None = None
        self._act_kind: dict[str, int] = {}
        self._modal: list[Any] = []  # an nnx model's BatchNorm / Dropout submodules (params=module)
        self._mode_reads = self._mode_eval = 0
        self._data_given = data is not None
        self._task_multilabel = False  # a binary loss on (N, k) targets
        self._user_classes = num_classes
        self._label_pos = [0.0, 0.0]  # positive labels, labels seen (multi-label)
        self._reach: Any = None  # GradReach over the telemetry rows (created from the first)
        self._tgt_integer = True
        self._tgt_distinct = 0.0
        self._tgt_rows = 0
        self._tgt_range = [math.inf, -math.inf]  # smallest, largest finite label seen (telemetry rows)
        self._tgt_binary: bool | None = None  # from data=(x, y): every target 0 or 1
        self._lvl_rows: list[np.ndarray] = []  # per-batch trivial-level rows (telemetry)
        plan = {k: int(v) for k, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch),
                                       ("max_steps", max_steps)) if v is not None}  # the loop's plan, as given
        # as validated, without pydantic's import and the context's twin where the values have
        # their fields' types: 0.13-0.25 s of CPU in a fresh process (issue 15)
        self.context = construct(RunContext, framework="jax", framework_version=jax.__version__, **plan)
        self._spe_given = steps_per_epoch is not None
        try:
            self._setup(params, optimizer, loss, num_classes, n_train, batch_size, data, optimizer_name,
                        learning_rate, run_name, val_data)  # fmt: skip
        except Exception as e:  # noqa: BLE001 - never break the user's script
            self._fail(e, "setup")

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
            if self._modal:  # the mode the nnx model is in at this training step
                self._mode_reads += 1
                self._mode_eval += _jax_models.all_in_eval(self._modal)
                self.context.flags.update(mode_layers=float(len(self._modal)), mode_layers_checked=float(self._mode_reads),
                                          mode_layers_eval_share=round(self._mode_eval / self._mode_reads, 4))  # fmt: skip
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

    def log_state(self, step: int, variables: Any) -> None:
        """Record what the loop's non-trained state says: the flax ``batch_stats`` it keeps
        (or the whole variables dict), e.g. at each evaluation or at the end -
        ``rec.log_state(step, {"batch_stats": batch_stats})``, ``step`` the training steps
        taken. Flags ``bn_layers``, ``bn_stats_at_init`` (BatchNorm statistics still at their
        initial 0 / 1: the ``batch_stats`` returned by ``apply(..., mutable=["batch_stats"])``
        discarded, or ``use_running_average=True`` while training) and ``bn_stats_steps``."""
        if self._off:
            return
        try:
            bn = _jax_models.bn_stats_at_init(variables)
            if bn:
                self.context.flags.update(bn, bn_stats_steps=float(step))
        except Exception as e:  # noqa: BLE001
            self._fail(e, "log_state")

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

    def _final_flush(self) -> None:  # for Closing.close: fetch and write everything
        self._drain()
        self._final_note()
        self._write_disk()

    # ------------------------------------------------------------------ failure

    def _release(self) -> None:
        self._buf.clear()
        self._pending.clear()
        self._forget_exit()

    def _on_fatal(self, step: int, what: str) -> None:
        msg = f"traindx: {what} at step {step}"
        note_fatal(self.context, step, stopping=self.on_fatal == "stop")
        if self.on_fatal == "stop":
            self._fatal_warned = True
            raise TrainingDiverged(msg + " (on_fatal='stop'); see .diagnosis", self.diagnose())
        if not self._fatal_warned:
            self._fatal_warned = True
            warn(msg + "; rec.diagnose() ranks the likely causes", stacklevel=3)


# Preflight (checks run before training) lives in its own module.
from traindx.adapters._jax_preflight import LRRangeResult, lr_range_test, preflight  # noqa: E402

__all__ += ["LRRangeResult", "lr_range_test", "preflight"]
