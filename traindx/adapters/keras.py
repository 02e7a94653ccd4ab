"""Keras 3 adapter: a callback that records a ``model.fit`` run's telemetry and diagnoses it.

>>> from traindx.adapters.keras import DiagnosisCallback                # doctest: +SKIP
>>> cb = DiagnosisCallback(logdir="runs/exp1", probe=(x_val[:256], y_val[:256]))
>>> model.fit(x, y, validation_data=(x_val, y_val), epochs=20, callbacks=[cb])
>>> print(traindx.render_text(cb.diagnosis))  # also in runs/exp1/diagnosis.txt; `traindx diagnose runs/exp1`

Works with the TensorFlow, JAX and torch backends of Keras 3. It writes the same canonical
tags and context fields as the PyTorch monitor (:mod:`traindx.adapters.torch`):

* every batch: ``train/loss`` and ``train/accuracy`` (when an accuracy metric is compiled) -
  the per-batch values. Keras' batch logs are running means over the epoch; the callback
  recovers each batch's value by de-averaging, ``v_k = (k+1) m_k - k m_(k-1)`` (exact while
  batches have equal size; the smaller last batch of an epoch is weighted by its size when
  the training-set size is known). A custom ``train_step`` that returns each batch's raw loss
  logs no running mean: the first epoch's batches tell (``_keras_write.running_means``), the
  context's flags record it (``loss_logs_running_mean``, ``accuracy_logs_running_mean``) and
  such values are written as logged. Steps are optimizer steps counted from 0 over the run.
* at the end of each epoch, at the epoch's last step: validation metrics (``val/loss``,
  ``val/accuracy``...) and any other metric (epoch means), names mapped by
  :func:`traindx.names.map_name`.
* ``train/lr`` at the first and last step of each epoch and on telemetry steps (schedules
  are evaluated at the optimizer's iteration; a rate changed by a callback is read at the
  start of each epoch).
* every ``every`` steps (a *telemetry step*; adaptive by default so the callback's own time
  stays under 5 % of the step time, with at least one telemetry step every two epochs): per-layer ``train/weight_norm@layer`` and
  ``train/update_ratio@layer`` (weights copied at the telemetry step, compared one step
  later), and - on the *probe batch* - ``train/grad_norm@layer`` and the global
  ``train/grad_norm``, activation statistics (``train/act_mean@``, ``act_std@``,
  ``act_frac_zero@`` for ReLU-like layers, ``act_frac_saturated@`` for sigmoid/tanh),
  ``train/output_row_sum`` (softmax outputs), ``train/pred_class_frac:max``, the input
  statistics ``train/input_mean/std/min/max`` and ``train/nonfinite@inputs``.
* after fit, ``model.evaluate(x_test, y_test, callbacks=[cb])``: its metrics as ``test/loss``,
  ``test/accuracy``... at the last step, and the run diagnosed again (``cb.diagnosis``, the
  diagnosis files), so test metrics far from validation (GEN008) are seen.

The probe is a fixed batch (``probe=(x, y)``, its first ``probe_size`` rows: 128 unless set) run forward and
backward at the current weights with ``training=False``: dropout is off and batch-norm uses
its moving statistics (so the probe gradient is the inference-mode gradient of the same
loss), which keeps the probe from drawing random numbers (Keras seed generators) or
updating batch-norm statistics. Gradient norms are therefore those of the probe batch, not
of the training batch. The forward pass runs in a ``keras.StatelessScope``; gradients never
touch the optimizer. Training with and without the callback gives identical weights.

Without a probe (and without ``train_data`` to take one from) the callback records the logs,
learning rate and weights only, and says so in ``context.notes``.

The callback never breaks training: an internal error turns it off with one
``RuntimeWarning`` ("traindx: ..."). A non-finite training loss, or non-finite weights or
probe gradients on a telemetry step while the loss is finite (oneDNN's ReLU maps NaN to 0
on AVX-512 CPUs), is *fatal*: noted in the context and ``cb.fatal_step``, with one warning;
with ``stop_on_fatal=True`` (off by default) it sets ``model.stop_training`` and prints why
instead. ``cb.diagnosis`` says at which step.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import keras
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("traindx.adapters.keras needs Keras 3: pip install 'traindx[keras]'") from e
if not hasattr(keras, "ops") or not hasattr(keras, "StatelessScope"):  # pragma: no cover
    raise ImportError(f"traindx.adapters.keras needs Keras 3 (found {getattr(keras, '__version__', '?')}): "
                      "pip install 'traindx[keras]'")  # fmt: skip

from traindx.adapters import _keras_stats as ks
from traindx.adapters._common import (
    RunWriter,
    SelfDisabling,
    default_logdir,
    fatal_message,
    note_stop,
    warn,
)
from traindx.adapters._keras_carry import GradCarry
from traindx.adapters._keras_context import _refuse_keras2, _StaticContext
from traindx.adapters._keras_data import _DataFacts
from traindx.adapters._keras_finish import _Finishing
from traindx.adapters._keras_probe import _ProbeTelemetry, keras_cadence
from traindx.adapters._keras_write import _accuracy_key, _Recording, stock_train_step
from traindx.schema import RunContext

__all__ = ["DiagnosisCallback"]

_INPUT_TAGS = ("train/input_mean", "train/input_std", "train/input_min", "train/input_max")


class DiagnosisCallback(
    _StaticContext, _DataFacts, _ProbeTelemetry, _Recording, _Finishing, keras.callbacks.Callback, SelfDisabling
):
    """Record a ``model.fit`` run for traindx; see the module docstring for what it records.

    Args:
        logdir: run directory for the event file, ``context.json`` and the diagnosis
            (default ``runs/<run_name or date-time>``).
        probe: a fixed batch for gradients, activations and outputs: ``(x, y)`` arrays or
            tensors (at most ``probe_size`` rows are used), a ``tf.data.Dataset`` (its first
            batch, via ``take(1)``: the iterator ``fit`` uses is not touched) or a
            ``keras.utils.PyDataset`` (``ds[0]``).
        train_data: the training data, when the callback should describe it (size, class
            counts, input range and non-finite values over all of it) and take the probe
            from it if none is given: ``(x, y)`` arrays, a dataset or a PyDataset.
            :meth:`from_arrays` is the short form.
        every: probe and per-layer telemetry every N steps; ``None`` adapts N (from 10,
            doubling while the callback's own time exceeds 5 % of the step time, at most two
            epochs' steps).
        activations: record activation statistics on the probe batch.
        stop_on_fatal: stop training (``model.stop_training``) on a non-finite loss, or on
            non-finite weights or probe gradients (seen on telemetry steps). Off by default:
            the callback changes training only when asked (like Keras' ``TerminateOnNaN``);
            without it a fatal step gives one warning.
        probe_size: rows of the probe batch used (the probe's cost grows with it: 128 rows
            keep the default cadence near one probe per epoch on small models).
        num_classes, n_train, batch_size: data facts the callback cannot see.
        flush_secs: how often the event file and ``context.json`` are written to disk.
        run_name: the run's name (the default logdir's last part).
        diagnose: diagnose at the end of training (``cb.diagnosis``, ``diagnosis.txt`` and
            ``diagnosis.json`` in logdir).
        verbose: print the diagnosis at the end of training, and why training was stopped.
    """

    _kind = "keras callback"  # in SelfDisabling's warning
    _loss_note = "; train/loss per batch, de-averaged from Keras' running epoch means"

    #: Keras may run ``on_train_batch_end`` in a worker thread: the callback only appends to a
    #: buffer there (and sets ``stop_training``); everything else runs on the training thread.
    async_safe = True

    def __init__(
        self,
        logdir: str | os.PathLike[str] | None = None,
        probe: Any = None,
        *,
        train_data: Any = None,
        every: int | None = None,
        activations: bool = True,
        stop_on_fatal: bool = False,
        probe_size: int = 128,
        num_classes: int | None = None,
        n_train: int | None = None,
        batch_size: int | None = None,
        flush_secs: float = 5.0,
        run_name: str | None = None,
        diagnose: bool = True,
        verbose: bool = False,
    ):
        _refuse_keras2()
        super().__init__()
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise ValueError(f"every must be a positive int or None, not {every!r}")
        if not isinstance(probe_size, int) or probe_size < 1:
            raise ValueError(f"probe_size must be a positive int, not {probe_size!r}")
        self.logdir = Path(logdir) if logdir is not None else default_logdir(run_name)
        self.stop_on_fatal = stop_on_fatal
        self.diagnosis: Any = None
        self.fatal_step: int | None = None
        self._probe_arg, self._train_data = probe, train_data
        self._activations = activations
        self._probe_size = probe_size
        self._user = {"num_classes": num_classes, "n_train": n_train, "batch_size": batch_size}
        self._flush_secs = flush_secs
        self._run_name = run_name
        self._diagnose = diagnose
        self._verbose = verbose
        self._cad = keras_cadence(every)
        self._off = False
        self._disabled = False
        self._started = False  # context and writer exist (a later fit continues the run)
        self._fitting = False  # inside fit(): on_test_end is its validation, not a test
        self._model_ready = False
        self._writer: RunWriter | None = None
        self._carry: GradCarry | None = None  # torch backend, the user's train_step: .grad reset?
        self.context: RunContext | None = None
        self._own = 0.0  # seconds the callback spent on the training thread
        self._setup_s = 0.0  # one-off costs: setup, compiling the probe, the diagnosis
        self._begin_s = self._end_s = 0.0  # of which on_train_begin, on_train_end (wall seconds)
        self._step = 0  # global step of the next batch
        self._lock = threading.Lock()
        self._records: list[
            tuple[int, int, float, float | None, float]
        ] = []  # (epoch, batch, loss, acc, wall)
        self._atexit: Any = None

    # tf_keras (Keras 2) asks every callback these before any hook runs. A callback that
    # reaches a Keras 2 fit anyway (tf_keras imported after it was made) answers them and
    # turns itself off in set_model with one warning: the user's fit never fails on it.
    def _implements_train_batch_hooks(self) -> bool:
        return not self._off

    def _implements_test_batch_hooks(self) -> bool:
        return False

    def _implements_predict_batch_hooks(self) -> bool:
        return False

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        if not isinstance(model, keras.Model) and not self._off:
            self._off = True
            warn(f"traindx: DiagnosisCallback is a Keras 3 callback and was given a {type(model).__module__}."
                 f"{type(model).__name__} (Keras 2 / tf_keras, not supported yet): it records nothing; "
                 "training is not affected", stacklevel=3)  # fmt: skip

    @classmethod
    def from_arrays(cls, x: Any, y: Any = None, **kwargs: Any) -> DiagnosisCallback:
        """A callback that describes the training arrays ``x, y`` (the arrays passed to ``fit``)
        and takes its probe from their first rows unless ``probe=`` is given."""
        return cls(train_data=(x, y) if y is not None else x, **kwargs)

    @property
    def every(self) -> int:
        """The current telemetry interval in steps."""
        return self._cad.every

    def _fold_carry(self) -> None:
        """The gradient-reset check's verdict so far into the context (torch backend, a
        ``train_step`` of the user's; Keras' own resets the gradients every step)."""
        if self._carry is not None and self.context is not None:
            self._carry.fold(self.context.flags)

    # ------------------------------------------------------------------ Keras hooks

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self._off:
            return
        t0 = time.perf_counter()
        self._fitting = True
        try:
            if not self._started:
                self._setup()
            else:  # another fit() on the same callback continues the run (a new event file)
                if self._writer is None:
                    self._writer = self._open_writer()
                self._refit()
                self._read_optimizer_state()
            self._plan()
            self._ensure_model()
            if self._carry is None and ks.BACKEND == "torch" and not stock_train_step(self._model):
                self._carry = GradCarry(self._model)
        except Exception as e:  # noqa: BLE001 - never break training
            self._fail(e, "on_train_begin")
        d = time.perf_counter() - t0
        self._setup_s += d
        self._begin_s += d

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._off:
            return
        self._epoch = epoch
        self._cad.pause()  # validation and other callbacks ran since the last batch
        self._epoch_base = self._step
        self._epoch_first = True
        self._prev_mean: tuple[int, float, float | None] | None = (
            None  # (batch, loss mean, acc mean)
        )

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._off:
            return
        t0 = time.perf_counter()
        own0 = self._own
        try:
            self._batch_begin(batch, t0)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "on_train_batch_begin")
        finally:
            d = time.perf_counter() - t0 - self._excl
            self._excl = 0.0
            self._own += d
            if not self._off:
                self._cad.record(t0, self._own - own0)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # May run in Keras' callback worker thread: append, check, nothing else.
        if self._off or not logs:
            return
        try:
            loss = logs.get("loss")
            if loss is None:
                return
            loss = float(loss)
            if not self._acc_decided:
                self._read_metrics()
                self._acc_key = _accuracy_key(logs, self._aliases)
                self._acc_decided = True
            acc = logs.get(self._acc_key) if self._acc_key else None
            with self._lock:
                self._records.append(
                    (
                        self._epoch,
                        int(batch),
                        loss,
                        None if acc is None else float(acc),
                        time.time(),
                    )
                )
            if not math.isfinite(loss) and self.fatal_step is None:
                self._on_fatal(self._epoch_base + int(batch), fatal_message("loss", loss))
        except Exception as e:  # noqa: BLE001
            self._fail(e, "on_train_batch_end")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._off:
            return
        t0 = time.perf_counter()
        try:
            last = self._process_records(final=True)
            self._epoch_logs(logs or {}, last)
            self._fold_carry()
            if self._writer is not None and self._writer.due():  # else rows wait in memory
                self._flush(disk=True)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "on_epoch_end")
        self._own += time.perf_counter() - t0

    def on_train_end(self, logs: dict | None = None) -> None:
        if not self._started:
            return
        t0 = time.perf_counter()
        if not self._off:
            try:
                if getattr(self._model, "stop_training", False):  # EarlyStopping, TerminateOnNaN, ours
                    note_stop(self.context, "callback")
                self._process_records(final=True)
                self._fold_carry()
                if self._carry is not None:
                    self._carry.remove()
                if self._model_ready and self.context is not None:  # BN run in inference mode?
                    bn = ks.bn_stats_at_init(self._model)
                    if bn:
                        self.context.flags.update(bn, bn_stats_steps=float(self._step))
                if self._snap is not None and self._model_ready:
                    self._finish_update_ratio()
                self._flush(disk=True, final=True)
            except Exception as e:  # noqa: BLE001
                self._fail(e, "on_train_end")
        self._fitting = False
        if self._diagnose and self._writer is not None:
            self._write_diagnosis()
        self._close_writer()  # a later fit() or evaluate() opens a new event file in the same logdir
        d = time.perf_counter() - t0
        self._setup_s += d
        self._end_s += d

    def on_test_end(self, logs: dict | None = None) -> None:
        # fit's own validation passes come here too (their metrics arrive as val_* at the
        # epoch's end); a model.evaluate(..., callbacks=[cb]) after fit is the run's test:
        # its metrics are written as test/* at the last step and the run diagnosed again, so
        # a test set that disagrees with validation (GEN008) is seen
        if self._off or not self._started or self._fitting or not logs:
            return
        t0 = time.perf_counter()
        try:
            self._test_logs(logs)
            if self._writer is not None:
                self._flush(disk=True)
                if self._diagnose:
                    self._write_diagnosis()
        except Exception as e:  # noqa: BLE001 - never break the user's evaluate
            self._fail(e, "on_test_end")
        self._close_writer()
        self._setup_s += time.perf_counter() - t0


# Preflight (checks run before training) and custom training loops (LoopRecorder: the
# callback driven by hand, a subclass of the one above: imported on first use, so the two
# modules do not import each other) live in their own modules.
from traindx.adapters._keras_preflight import LRRangeResult, lr_range_test, preflight  # noqa: E402

__all__ += ["LRRangeResult", "LoopRecorder", "lr_range_test", "preflight"]

if TYPE_CHECKING:
    from traindx.adapters._keras_loop import LoopRecorder


def __getattr__(name: str) -> Any:
    if name == "LoopRecorder":
        from traindx.adapters._keras_loop import LoopRecorder

        return LoopRecorder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
