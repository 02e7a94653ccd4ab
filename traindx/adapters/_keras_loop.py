"""Keras custom training loops: :class:`LoopRecorder`, the Keras callback driven by hand.

>>> from traindx.adapters.keras import LoopRecorder                      # doctest: +SKIP
>>> rec = LoopRecorder(model, optimizer, loss_fn, logdir="runs/exp1")
>>> for x, y in batches:
...     with tf.GradientTape() as tape:
...         loss = loss_fn(y, model(x, training=True))
...     grads = tape.gradient(loss, model.trainable_variables)
...     rec.step(loss, grads=grads, inputs=x, targets=y)   # before apply_gradients
...     optimizer.apply_gradients(zip(grads, model.trainable_variables))
>>> rec.log(val_loss=vl, val_accuracy=va); rec.close()       # then: traindx diagnose runs/exp1

Everything :class:`~traindx.adapters.keras.DiagnosisCallback` records comes from the same
code (its setup, probe, weight and update-ratio telemetry, learning rate, flushing; the
statistics of :mod:`traindx.adapters._keras_stats`), with what a custom loop has and ``fit``
does not: the loss of every step as given (not de-averaged), and the training gradients
themselves (``grads=``, in ``model.trainable_variables`` order) - their global norm every step
(every few on tiny models, as the adaptive cadence decides) and per layer on telemetry steps,
in place of the probe's. The probe (activations, outputs) is ``probe=`` or the first
``probe_size`` rows of the first batch given to :meth:`LoopRecorder.step`. The model need not
be compiled: ``loss_fn`` and ``optimizer`` describe the run.

It never changes training (no random numbers drawn; the probe runs with ``training=False``
in a stateless scope); an internal error turns it off with one ``RuntimeWarning``. A
non-finite loss or gradients warn once, or with ``on_fatal="stop"`` raise
:class:`~traindx.adapters._common.TrainingDiverged` from :meth:`LoopRecorder.step`.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import keras
import numpy as np

from traindx.adapters import _keras_stats as ks
from traindx.adapters._common import (
    TrainingDiverged,
    fatal_message,
    metric_values,
    note_fatal,
    warn,
)
from traindx.adapters._keras_data import _rows
from traindx.adapters.keras import DiagnosisCallback

__all__ = ["LoopRecorder"]


class LoopRecorder(DiagnosisCallback):
    """Record a hand-written Keras training loop; see the module docstring for the loop.

    Args:
        model: the ``keras.Model`` being trained.
        optimizer: its ``keras.optimizers.Optimizer`` (learning rate, schedule, settings).
        loss_fn: the loss (a ``keras.losses.Loss``, a Keras loss name or function).
        logdir, probe, train_data, every, activations, probe_size, num_classes, n_train,
            batch_size, flush_secs, run_name, diagnose, verbose: as for
            :class:`~traindx.adapters.keras.DiagnosisCallback`.
        on_fatal: ``"warn"`` or ``"stop"`` (raise ``TrainingDiverged`` from :meth:`step`).
        epochs, steps_per_epoch: the plan of the loop, when known.
    """

    _kind = "keras loop recorder"
    _loss_note = "; train/loss per step as given to LoopRecorder.step; gradients are the loop's own"

    def __init__(self, model: Any, optimizer: Any = None, loss_fn: Any = None, *,
                 logdir: str | os.PathLike[str] | None = None, on_fatal: str = "warn",
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 **kwargs: Any):  # fmt: skip
        if on_fatal not in ("warn", "stop"):
            raise ValueError(f"on_fatal must be 'warn' or 'stop', not {on_fatal!r}")
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model, not {type(model).__name__}")
        kwargs.pop("stop_on_fatal", None)
        super().__init__(logdir, **kwargs)
        self._loop_opt, self._loop_loss = optimizer, loss_fn
        self.on_fatal = on_fatal
        self._pending_stop: str | None = None
        self._gstats: Any = None
        self._n_tv = 0
        self.set_model(model)
        self.set_params({"epochs": epochs, "steps": steps_per_epoch})

    # ------------------------------------------------------------------ public API

    def step(self, loss: Any, grads: Any = None, inputs: Any = None, targets: Any = None) -> None:
        """Record one optimizer step: after ``tape.gradient``, before ``apply_gradients``."""
        if self._off:
            return
        t0 = time.perf_counter()
        try:
            if not self._started:
                if self._probe_arg is None and self._train_data is None and inputs is not None:
                    n = self._probe_size
                    self._probe_arg = (
                        _rows(inputs, n),
                        _rows(targets, n) if targets is not None else None,
                    )
                self.on_train_begin()
                if self._off:
                    return
            s = self._step
            tel = s >= self._cad.next  # decided before the callback's step advances it
            self.on_train_batch_begin(s)
            if self._off:
                return
            self._record(s, loss, grads, tel)
        except Exception as e:  # noqa: BLE001 - never break training
            self._fail(e, "step")
        finally:
            self._own += time.perf_counter() - t0
        self._raise_pending()

    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Record evaluation metrics (``val_loss=``, ``val_accuracy=`` ...) at the last step."""
        if self._off or not self._started:
            return
        try:
            s = max(self._step - 1, 0) if step is None else int(step)
            values = metric_values(metrics, ks.host_float, self.context.notes)  # type: ignore[union-attr]
            if values:
                self._pending_rows.append((s, time.time(), values))
        except Exception as e:  # noqa: BLE001
            self._fail(e, "log")

    def close(self) -> None:
        """Write everything (and the diagnosis, unless ``diagnose=False``); also at exit."""
        if self._started and self._writer is not None:
            self.on_train_end()
        super().close()

    # ------------------------------------------------------------------ the callback's setup

    def _setup(self) -> None:
        super()._setup()
        ctx = self.context
        assert ctx is not None
        if self._loop_loss is not None:
            info, self._loss_task, notes = ks.loss_info(self._loop_loss)
            ctx.loss = info
            ctx.notes.extend(n for n in notes if n not in ctx.notes)
        if self._loop_opt is not None:
            ctx.optimizer, self._schedule = ks.optimizer_info(self._loop_opt)
            self._opt = ks.inner_optimizer(self._loop_opt)
            self._read_optimizer_state()
        self._read_lr()

    def _build_engine(self) -> None:
        super()._build_engine()
        eng = self._engine
        if eng is not None and eng.layout is not None and eng.layout.n_grads:
            # a compiled model's probe would take gradients of its own: the loop's are used
            eng.layout.n_grads, eng.has_loss = 0, False
        self._n_tv = len(self._model.trainable_variables)

    def _on_fatal(self, s: int, what: str) -> None:
        if self.fatal_step is not None:
            return
        self.fatal_step = s
        msg = f"traindx: {what} at step {s}"
        if self.context is not None:
            self.context.notes.append(msg.removeprefix("traindx: "))
        note_fatal(self.context, s, stopping=self.on_fatal == "stop")
        if self.on_fatal == "stop":
            self._pending_stop = msg
        else:
            warn(msg + "; rec.diagnose() ranks the likely causes", stacklevel=5)

    def _raise_pending(self) -> None:
        msg, self._pending_stop = self._pending_stop, None
        if msg is not None:
            raise TrainingDiverged(msg + " (on_fatal='stop'); see .diagnosis", self.diagnose())

    # ------------------------------------------------------------------ per step

    def _record(self, s: int, loss: Any, grads: Any, tel: bool) -> None:
        values: dict[str, float] = {}
        if loss is not None:
            lv = ks.host_float(loss)
            values["train/loss"] = lv
            if self._reg_penalty is not None:
                self._reg_share(lv)
            if not math.isfinite(lv):
                self._on_fatal(s, fatal_message("loss", lv))
        if grads is not None and self._model_ready and (tel or s % self._cad.grad_stride == 0):
            values.update(self._grad_values(list(grads), s, per_layer=tel))
            gn = values.get("train/grad_norm")
            if (
                gn is not None
                and not math.isfinite(gn)
                and math.isfinite(values.get("train/loss", 0.0))
            ):
                self._on_fatal(s, fatal_message("grads", gn))
        if values:
            self._pending_rows.append((s, time.time(), values))

    def _grad_values(self, grads: list[Any], s: int, per_layer: bool) -> dict[str, float]:
        """Global (and per-layer) gradient norms of the loop's gradients, one compiled call."""
        if self._gstats is None:
            eng = self._engine
            assert eng is not None
            self._gstats = eng._compile(ks.grad_vec)
        vec = np.asarray(keras.ops.convert_to_numpy(self._gstats(grads)), dtype=np.float64)
        n = len(grads)
        return self._grad_norms(vec[:n], vec[n:], s, per_layer=per_layer and n == self._n_tv)
