"""Keras 3 adapter: a callback that records a ``model.fit`` run's telemetry and diagnoses it.

>>> from traindx.adapters.keras import DiagnosisCallback                # doctest: +SKIP
>>> cb = DiagnosisCallback(logdir="runs/exp1", probe=(x_val[:256], y_val[:256]))
>>> model.fit(x, y, validation_data=(x_val, y_val), epochs=20, callbacks=[cb])
>>> print(cb.diagnosis)      # also in runs/exp1/diagnosis.txt; `traindx diagnose runs/exp1`

Works with the TensorFlow, JAX and torch backends of Keras 3. It writes the same canonical
tags and context fields as the PyTorch monitor (:mod:`traindx.adapters.torch`):

* every batch: ``train/loss`` and ``train/accuracy`` (when an accuracy metric is compiled) -
  the per-batch values. Keras' batch logs are running means over the epoch; the callback
  recovers each batch's value by de-averaging, ``v_k = (k+1) m_k - k m_(k-1)`` (exact while
  batches have equal size; the smaller last batch of an epoch is weighted by its size when
  the training-set size is known). Steps are optimizer steps counted from 0 over the run.
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

import atexit
import functools
import math
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

try:
    import keras
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("traindx.adapters.keras needs Keras 3: pip install 'traindx[keras]'") from e
if not hasattr(keras, "ops") or not hasattr(keras, "StatelessScope"):  # pragma: no cover
    raise ImportError(f"traindx.adapters.keras needs Keras 3 (found {getattr(keras, '__version__', '?')}): "
                      "pip install 'traindx[keras]'")  # fmt: skip

from traindx.adapters import _keras_stats as ks
from traindx.adapters._common import (
    Cadence,
    RunWriter,
    SelfDisabling,
    default_logdir,
    fatal_message,
    init_scale_flags,
    read_run,
    warn,
)
from traindx.schema import DataInfo, RunContext

__all__ = ["DiagnosisCallback"]

_INPUT_TAGS = ("train/input_mean", "train/input_std", "train/input_min", "train/input_max")
_SKIP_EPOCH_LOGS = {"learning_rate", "lr"}
MAX_PENDING = 512  # batch records processed mid-epoch once this many are waiting


def _first_leaf(x: Any) -> Any:
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, list | tuple):
        for v in x:
            leaf = _first_leaf(v)
            if leaf is not None:
                return leaf
        return None
    return x


def _to_numpy(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_to_numpy(v) for v in x)
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(keras.ops.convert_to_numpy(x))
    except Exception:  # noqa: BLE001 - array-likes keras does not know
        return np.asarray(x)


def _rows(x: Any, n: int) -> Any:
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: _rows(v, n) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_rows(v, n) for v in x)
    return x[:n]


def _n_rows(x: Any) -> int | None:
    leaf = _first_leaf(x)
    try:
        return int(leaf.shape[0]) if leaf is not None and leaf.shape else None
    except Exception:  # noqa: BLE001
        return None


_RANDOM_DATASETS = ("Shuffle", "Random", "Sample", "DirectedInterleave", "Choose")


def _tfdata_is_random(ds: Any, depth: int = 0) -> bool:
    """Whether iterating a tf.data pipeline draws from shared random state (shuffle with
    reshuffle_each_iteration, random datasets, stateful random ops in map/filter functions).
    Unknown structure counts as random."""
    try:
        if depth > 64 or any(k in type(ds).__name__ for k in _RANDOM_DATASETS):
            return True
        for attr in ("_map_func", "_predicate", "_func", "_scan_func", "_reduce_func"):
            fn = getattr(ds, attr, None)
            graph = getattr(getattr(fn, "function", None), "graph", None)
            if graph is not None and any("Random" in op.type and not op.type.startswith("Stateless")
                                         for op in graph.get_operations()):  # fmt: skip
                return True
        return any(_tfdata_is_random(d, depth + 1) for d in ds._inputs())
    except Exception:  # noqa: BLE001
        return True


class _rng_preserved:
    """Restore the global numpy and python random states on exit."""

    def __enter__(self) -> None:
        import random

        self._np, self._py = np.random.get_state(), random.getstate()

    def __exit__(self, *exc: Any) -> None:
        import random

        np.random.set_state(self._np)
        random.setstate(self._py)


def _accuracy_key(logs: dict[str, Any]) -> str | None:
    """The batch-log key of an accuracy metric (a running mean, like the loss), if any."""
    from traindx.names import map_name

    for k in logs:
        if k != "loss" and str(map_name(k)) == "train/accuracy":
            return k
    return None


_LEGACY_ON = ("1", "true", "yes")


def _refuse_keras2() -> None:
    """Fail at construction, with a clear message, where the model is likely a Keras 2 one
    (tf_keras loaded, or TF_USE_LEGACY_KERAS making ``tf.keras`` tf_keras): tf_keras' ``fit``
    would otherwise break on this Keras 3 callback inside the user's training."""
    import sys

    legacy = os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in _LEGACY_ON
    if legacy or "tf_keras" in sys.modules:
        why = "TF_USE_LEGACY_KERAS is set (tf.keras is Keras 2)" if legacy else "tf_keras (Keras 2) is loaded"
        raise RuntimeError(
            f"traindx: DiagnosisCallback supports Keras 3 only and {why}; a tf_keras model.fit cannot run it. "
            "Build and fit the model with Keras 3 (import keras; unset TF_USE_LEGACY_KERAS), or record the "
            "run's logs (TensorBoard callback) and run `traindx diagnose` on them."
        )


class _Cadence(Cadence):
    """The adapters' cadence with a 5 % budget (a probe forward/backward costs more than the
    torch monitor's norms), ``every`` growing at most 4x per decision (so a noisy first
    window is revisited soon), and at most ``cap`` steps (two epochs: at least one telemetry
    step every other epoch, whatever the probe costs)."""

    def __init__(self, every: int | None) -> None:
        super().__init__(every, budget=0.05)
        self.cap: int | None = None

    def advance(self, step: int, own: float) -> None:
        prev = self.every
        super().advance(step, own)
        if self.adaptive:
            e = min(self.every, 4 * prev)
            if self.cap:
                e = min(e, max(self.lo, self.cap))
            self.every = e
            self.next = step + e


class DiagnosisCallback(keras.callbacks.Callback, SelfDisabling):
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
        self._cad = _Cadence(every)
        self._off = False
        self._disabled = False
        self._started = False  # context and writer exist (a later fit continues the run)
        self._model_ready = False
        self._writer: RunWriter | None = None
        self.context: RunContext | None = None
        self._own = 0.0  # seconds the callback spent on the training thread
        self._setup_s = 0.0  # one-off costs: setup, compiling the probe, the diagnosis
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

    # ------------------------------------------------------------------ Keras hooks

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self._off:
            return
        t0 = time.perf_counter()
        try:
            if not self._started:
                self._setup()
            else:  # another fit() on the same callback continues the run (a new event file)
                if self._writer is None:
                    self._writer = RunWriter(self.logdir, self._flush_secs)
                self._read_optimizer_state()
            self._ensure_model()
        except Exception as e:  # noqa: BLE001 - never break training
            self._fail(e, "on_train_begin")
        self._setup_s += time.perf_counter() - t0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._off:
            return
        self._epoch = epoch
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
                self._acc_key = _accuracy_key(logs)
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
                self._process_records(final=True)
                if self._snap is not None and self._model_ready:
                    self._finish_update_ratio()
                self._flush(disk=True, final=True)
            except Exception as e:  # noqa: BLE001
                self._fail(e, "on_train_end")
        if self._diagnose and self._writer is not None:
            self.diagnosis = self.diagnose()
            if self.diagnosis is not None:
                try:
                    (self.logdir / "diagnosis.json").write_text(
                        self.diagnosis.to_json(indent=1), encoding="utf-8"
                    )
                    (self.logdir / "diagnosis.txt").write_text(
                        str(self.diagnosis), encoding="utf-8"
                    )
                except Exception as e:  # noqa: BLE001
                    self._warn_once(f"traindx: could not write the diagnosis to {self.logdir}: {e}")
                if self._verbose:
                    print(self.diagnosis)
        if self._writer is not None:  # a later fit() opens a new event file in the same logdir
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001, S110
                pass
            self._writer = None
        self._setup_s += time.perf_counter() - t0

    # ------------------------------------------------------------------ public helpers

    def diagnose(self) -> Any:
        """The :class:`~traindx.diagnosis.Diagnosis` of what was recorded so far."""
        try:
            if not self._off and self._writer is not None:
                self._flush(disk=True)
            elif self._writer is not None:
                self._writer.flush()
            from traindx.api import diagnose

            return diagnose(read_run(self.logdir))[0]
        except Exception as e:  # noqa: BLE001
            self._warn_once(f"traindx: diagnose failed: {type(e).__name__}: {e}")
            return None

    def close(self) -> None:
        """Flush and close the event file (also at interpreter exit)."""
        try:
            if not self._off and self._writer is not None:
                self._flush(disk=True)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "close")
        finally:
            self._off = True
            if self._atexit is not None:
                atexit.unregister(self._atexit)
                self._atexit = None
            if self._writer is not None:
                try:
                    self._writer.close()
                except Exception:  # noqa: BLE001, S110
                    pass
                self._writer = None

    # ------------------------------------------------------------------ setup

    def _setup(self) -> None:
        model = self._model
        self._epoch, self._epoch_base, self._epoch_first = 0, 0, True
        self._prev_mean = None
        self._acc_key: str | None = None
        self._acc_decided = False
        self._excl = 0.0  # time of this hook call that is a one-off cost (compiling)
        self._warm: set[str] = set()
        self._snap: list[Any] | None = None
        self._snap_step = -1
        self._snap_wsq: np.ndarray | None = None
        self._engine: ks.Engine | None = None
        self._probe: tuple[Any, Any] | None = None
        self._probe_t: tuple[Any, Any] | None = None
        self._lr_value: float | None = None
        self._lr_points: dict[int, float] = {}
        self._batch_size: int | None = self._user["batch_size"]
        self._pending_rows: list[tuple[int, float, dict[str, float]]] = []
        self._n_checked = False
        self._reg_penalty: float | None = None  # at the initial weights, until step 0's loss
        import traindx

        self.context = ctx = RunContext(
            framework="keras",
            framework_version=keras.__version__,
            data=DataInfo(
                num_classes=self._user["num_classes"],
                n_train=self._user["n_train"],
                batch_size=self._user["batch_size"],
            ),  # fmt: skip
        )
        ctx.flags["keras_backend"] = ks.BACKEND
        ctx.flags["grad_accumulating"] = False  # Keras computes fresh gradients every step
        ctx.hyperparameters["traindx_version"] = getattr(traindx, "__version__", None)
        if self._run_name:
            ctx.hyperparameters["run_name"] = self._run_name
        params = self.params or {}
        ctx.epochs = params.get("epochs")
        ctx.steps_per_epoch = params.get("steps")
        if ctx.steps_per_epoch:
            self._cad.cap = 2 * int(ctx.steps_per_epoch)
        # loss, optimizer, metrics
        info, self._loss_task, notes = ks.loss_info(getattr(model, "loss", None))
        ctx.loss = info
        ctx.notes.extend(notes)
        opt = getattr(model, "optimizer", None)
        ctx.optimizer, self._schedule = ks.optimizer_info(opt)
        self._opt = ks.inner_optimizer(opt) if opt is not None else None
        grad_acc = getattr(self._opt, "gradient_accumulation_steps", None)
        if grad_acc:
            ctx.hyperparameters["gradient_accumulation_steps"] = int(grad_acc)
        self._read_optimizer_state()
        try:
            ctx.hyperparameters["metrics"] = [
                m.name for m in model.metrics if m.name != "loss"
            ] or None
        except Exception:  # noqa: BLE001
            pass
        self._writer = RunWriter(self.logdir, self._flush_secs)
        self._started = True
        self._atexit = functools.partial(_atexit_close, weakref.ref(self))
        atexit.register(self._atexit)
        self._data_setup()
        self._writer.write_context(ctx)

    def _read_optimizer_state(self) -> None:
        opt = self._opt
        self._iter0 = 0
        if opt is None:
            return
        try:
            self._iter0 = int(ks.host_float(opt.iterations.value)) - self._step
        except Exception:  # noqa: BLE001
            self._iter0 = 0

    def _data_setup(self) -> None:
        """Data facts from ``train_data`` (all of it, when arrays) and the probe batch."""
        ctx = self.context
        assert ctx is not None
        notes = ctx.notes
        train_xy = self._batch_of(self._train_data)
        probe = self._batch_of(self._probe_arg)
        src = "the probe argument"
        if probe is None and train_xy is not None:
            probe = (_rows(train_xy[0], self._probe_size), _rows(train_xy[1], self._probe_size))
            src = "the first rows of train_data"
        if probe is not None:
            x, y = probe[0], probe[1]
            x, y = _rows(_to_numpy(x), self._probe_size), _rows(_to_numpy(y), self._probe_size)
            self._probe = (x, y)
            notes.append(
                f"probe: {_n_rows(x)} rows from {src}; gradients, activations and outputs are computed on it "
                "with training=False (dropout off, batch-norm moving statistics), so gradient norms are the "
                "probe batch's, not the training batch's"
            )
        else:
            notes.append(
                "no probe batch: recorded the Keras logs, learning rate and weights only (no gradients, "
                "activations or outputs); pass probe=(x_val, y_val) or DiagnosisCallback.from_arrays(x, y)"
            )
        d = ctx.data
        stats_x, stats_y, where = None, None, None
        if train_xy is not None and _first_leaf(train_xy[0]) is not None and train_xy[2]:
            stats_x, stats_y, where = train_xy[0], train_xy[1], "train_data"
            if d.n_train is None:
                d.n_train = _n_rows(stats_x)
        elif self._probe is not None:
            stats_x, stats_y, where = self._probe[0], self._probe[1], "the probe batch"
        self._probe_input: dict[str, float] = {}
        if self._probe is not None:
            s = ks.host_summary(np.asarray(_to_numpy(_first_leaf(self._probe[0]))))
            if s.get("n"):
                self._probe_input = {"train/input_mean": s["mean"], "train/input_std": s["std"],
                                     "train/input_min": s["min"], "train/input_max": s["max"]}  # fmt: skip
            nf = s.get("nonfinite", 0.0)
            py = _first_leaf(self._probe[1]) if self._probe[1] is not None else None
            if py is not None:
                nf += ks.host_summary(np.asarray(py)).get("nonfinite", 0.0)
            self._probe_input["train/nonfinite@inputs"] = nf
        self._y_for_counts = None
        if stats_x is not None:
            leaf = _first_leaf(stats_x)
            arr = np.asarray(_to_numpy(leaf))
            d.input_dtype = str(arr.dtype)
            s = ks.host_summary(arr)
            if s.get("n"):
                d.input_mean, d.input_std, d.input_min, d.input_max = (
                    s["mean"],
                    s["std"],
                    s["min"],
                    s["max"],
                )
            nf = s.get("nonfinite", 0.0)
            yl = _first_leaf(stats_y) if stats_y is not None else None
            if yl is not None:
                nf += ks.host_summary(np.asarray(_to_numpy(yl))).get("nonfinite", 0.0)
            ctx.flags["input_nonfinite"] = float(nf)
            if where != "train_data":
                notes.append(f"input statistics from {where}")
            self._y_for_counts = (np.asarray(_to_numpy(yl)) if yl is not None else None, where)
            if self._y_for_counts[0] is not None:
                ctx.flags.update(ks.target_facts(self._y_for_counts[0]))

    def _batch_of(self, data: Any) -> tuple[Any, Any, bool] | None:
        """``(x, y, whole)`` from arrays (``whole``: all of the data), a tf.data.Dataset (its
        first batch) or a PyDataset (``ds[0]``)."""
        if data is None:
            return None
        mod = type(data).__module__
        if "tensorflow" in mod and hasattr(data, "take") and hasattr(data, "element_spec"):
            if _tfdata_is_random(data):
                self.context.notes.append(  # type: ignore[union-attr]
                    "a tf.data pipeline with shuffling or random ops was not peeked at (a new iterator would "
                    "advance its random state and change the batches fit sees); pass probe=(x, y) arrays"
                )
                return None
            x, y = self._split_xy(next(iter(data.take(1))))  # a new iterator: fit's is not touched
            rank = self._input_rank()
            xl = _first_leaf(x)
            if rank is not None and xl is not None and len(xl.shape) == rank - 1:  # unbatched
                x, y = self._split_xy(next(iter(data.batch(self._probe_size).take(1))))
            return x, y, False
        if isinstance(data, keras.utils.PyDataset):
            with _rng_preserved():  # ds[0] may draw augmentations from the global generators
                x, y = self._split_xy(data[0])
            return x, y, False
        if isinstance(data, tuple | list) and len(data) in (2, 3):
            return data[0], data[1], True
        if hasattr(data, "shape") or isinstance(data, dict):
            return data, None, True
        if hasattr(data, "__next__") or hasattr(data, "__iter__"):
            raise TypeError("a generator or iterator cannot be peeked at without consuming it; "
                            "pass probe=(x, y) arrays")  # fmt: skip
        return None

    def _input_rank(self) -> int | None:
        try:
            return len(self._model.inputs[0].shape)
        except Exception:  # noqa: BLE001
            return None

    @staticmethod
    def _split_xy(el: Any) -> tuple[Any, Any]:
        if isinstance(el, tuple | list):
            return el[0], (el[1] if len(el) > 1 else None)
        return el, None

    def _ensure_model(self) -> bool:
        """Model-dependent setup, once the model is built (a Sequential without an Input is
        built by its first training step)."""
        if self._model_ready:
            return True
        model = self._model
        if not getattr(model, "built", False) or not model.weights:
            return False
        ctx = self.context
        assert ctx is not None
        self._groups = g = ks.group_weights(model)
        info = ks.model_info(model, g)
        ctx.model = info
        l2 = ks.l2_coefficient(model)
        if l2 is not None:
            ctx.hyperparameters["l2"] = l2
            if ctx.optimizer.weight_decay is None:
                ctx.optimizer.weight_decay = 2.0 * l2
                ctx.notes.append(
                    f"weight_decay {2.0 * l2:g} is the coupled equivalent of kernel_regularizer L2({l2:g}) (2 x l2)"
                )
        out_layer = ks.output_layer(model)
        self._weight_facts(out_layer)
        act = ks.layer_activation(out_layer) if out_layer is not None else None
        info.output_activation = act
        try:
            out_shape = model.outputs[0].shape
            info.output_units = int(out_shape[-1]) if out_shape[-1] is not None else None
        except Exception:  # noqa: BLE001 - subclassed model: from the probe output below
            pass
        if out_layer is None and self._probe is not None:
            self._infer_output(info)
        self._decide_task()
        self._static_facts()
        self._tags()
        self._build_engine()
        self._model_ready = True
        if self._writer is not None:
            self._writer.write_context(ctx)
        return True

    def _weight_facts(self, out_layer: Any) -> None:
        """Regularization and initialization facts: ``l2_max`` (static), and - at the initial
        weights, before the first optimizer step - the kernels' ``init_scale_*`` and the
        regularization penalty (``reg_loss_share`` once the first training loss is logged).
        "Initial" is the weights at the start of the first fit this callback sees, with an
        optimizer that has taken no step: weights trained before a re-compile count too."""
        ctx = self.context
        assert ctx is not None
        model = self._model
        try:
            ctx.flags["l2_max"] = ks.l2_max(model)
        except Exception:  # noqa: BLE001 - a fact less, never a failure
            pass
        if self._step > 1 or self._iter0 != 0:  # not the initial weights any more
            ctx.notes.append("init_scale not recorded: the weights were trained before this fit")
            return
        try:
            ctx.flags.update(init_scale_flags(ks.init_scales(model, out_layer)))
        except Exception:  # noqa: BLE001
            pass
        try:
            self._reg_penalty = ks.regularization_penalty(model)
        except Exception:  # noqa: BLE001
            self._reg_penalty = None

    def _reg_share(self, first_loss: float) -> None:
        """``reg_loss_share``: the regularization penalty at the initial weights over the first
        logged training loss (Keras logs the loss with the penalty included)."""
        pen, self._reg_penalty = self._reg_penalty, None
        ctx = self.context
        if pen is None or ctx is None or not math.isfinite(first_loss) or first_loss <= 0:
            return
        ctx.flags["reg_loss_share"] = float(pen / first_loss)

    def _infer_output(self, info: Any) -> None:
        """Output width and activation of a model without a layer graph (subclassed), from
        one forward pass on the probe at the current weights (stateless: nothing changes)."""
        model = self._model
        x = keras.tree.map_structure(keras.ops.convert_to_tensor, self._probe[0])  # type: ignore[index]
        tv, ntv, _ = ks.Engine(model, [], None, None, False).state()
        mapping = [*zip(model.trainable_variables, tv, strict=True),
                   *zip(model.non_trainable_variables, ntv, strict=True)]  # fmt: skip
        with keras.StatelessScope(state_mapping=mapping):
            out = _first_leaf(model(x, training=False))
        out = np.asarray(keras.ops.convert_to_numpy(out))
        if out.ndim >= 1:
            info.output_units = int(out.shape[-1]) if out.ndim >= 2 else 1
        act = ks.infer_activation(out)
        info.output_activation = act
        if act != "linear":
            self.context.notes.append(  # type: ignore[union-attr]
                f"output activation '{act}' inferred from the probe output values (no layer graph)"
            )

    def _decide_task(self) -> None:
        ctx = self.context
        assert ctx is not None
        m, d = ctx.model, ctx.data
        act, units = m.output_activation, m.output_units
        y = self._probe[1] if self._probe is not None else None
        yl = np.asarray(_first_leaf(y)) if y is not None and _first_leaf(y) is not None else None
        task = self._loss_task
        if act in ("softmax", "log_softmax") and (units or 0) >= 2:
            task = "classification"
        elif task in ("regression", None) and yl is not None:
            if ks.looks_one_hot(yl):
                task = "classification"
            elif yl.dtype.kind in "iub" and (units or 0) >= 2:
                task = "classification"
            elif task is None and (units or 0) == 1 and yl.size and np.all((yl == 0) | (yl == 1)):
                task = "binary"
        d.task = (
            task
            if task in ("classification", "binary", "regression")
            # type: ignore[assignment]
            else ("other" if task else None)
        )
        if d.num_classes is None and units:
            if task == "classification" and units >= 2:
                d.num_classes = units
            elif task == "binary":
                d.num_classes = 2 if units == 1 else units
        if self._y_for_counts is not None and task in ("classification", "binary"):
            yc, where = self._y_for_counts
            counts = ks.class_counts(yc, task) if yc is not None else None
            if counts:
                d.class_counts = counts
                if where != "train_data":
                    ctx.notes.append(f"class counts from {where} ({sum(counts)} rows)")

    def _static_facts(self) -> None:
        """Facts about how the output meets the loss; the rulebook judges them (CTX001,
        CTX002, CTX006, CTX011, CTX013)."""
        ctx = self.context
        assert ctx is not None
        if ctx.model.output_activation == "softmax" and ctx.loss.from_logits:
            # Keras on TensorFlow takes the logits from before a softmax for a from_logits
            # loss; the other backends apply softmax a second time
            ctx.flags["softmax_logits_recovered"] = ks.BACKEND == "tensorflow"
        self._broadcast_check()

    def _broadcast_check(self) -> None:
        """Keras aligns the ranks of target and prediction (one trailing axis) before a loss;
        an element-wise loss then broadcasts (N, 1) targets against an (N, C) output."""
        ctx = self.context
        assert ctx is not None
        name = ctx.loss.name
        if name not in ks.ELEMENTWISE_LOSSES or self._probe is None or self._probe[1] is None:
            return
        yl = _first_leaf(self._probe[1])
        try:
            out = list(self._model.outputs[0].shape)
        except Exception:  # noqa: BLE001
            return
        ys = list(np.shape(yl))
        if len(ys) == len(out) - 1:
            ys = ys + [1]
        elif len(ys) == len(out) + 1 and ys[-1] == 1:
            ys = ys[:-1]
        if len(ys) != len(out):
            return
        a, b = ys[1:], [d if d is not None else a_ for d, a_ in zip(out[1:], ys[1:], strict=True)]
        flags = ctx.flags
        if a != b and all(x == y or x == 1 or y == 1 for x, y in zip(a, b, strict=True)):
            flags["broadcast_in_loss"] = True
            ctx.notes.append(
                f"{name} compares targets of shape {[None, *a]} with outputs of shape {[None, *b]} (broadcast)"
            )
        else:
            flags["broadcast_in_loss"] = False

    def _tags(self) -> None:
        g = self._groups
        model = self._model
        pos = {id(v): i for i, v in enumerate(g.variables)}
        self._grad_group = [
            g.group_of[pos[id(v)]] if id(v) in pos else -1 for v in model.trainable_variables
        ]
        self._grad_groups = sorted({i for i in self._grad_group if i >= 0})
        self._weight_tags = [f"train/weight_norm@{n}" for n in g.names]
        self._update_tags = [f"train/update_ratio@{n}" for n in g.names]

    def _build_engine(self) -> None:
        """The probe sub-model (layer outputs) and the compiled functions."""
        model = self._model
        ctx = self.context
        assert ctx is not None
        acts: list[tuple[str, Any, int]] = []
        sub = None
        single = True
        try:
            single = len(model.outputs) == 1
        except Exception:  # noqa: BLE001
            single = True
        if self._activations and self._probe is not None and single:
            try:
                cand = ks.act_layers(model)
                outs, kept = [], []
                for name, layer, kind in cand:
                    try:
                        outs.append(layer.output)
                        kept.append((name, layer, kind))
                    except Exception:  # noqa: BLE001 - shared layer: no single output
                        continue
                if kept:
                    sub = keras.Model(inputs=model.inputs, outputs=outs + [model.outputs[0]])
                    acts = kept
            except Exception:  # noqa: BLE001 - subclassed model: no layer outputs
                sub, acts = None, []
            if sub is None:
                ctx.notes.append(
                    "activation statistics unavailable (not a Functional/Sequential model)"
                )
        if sub is not None:
            n_act = len(acts)

            def fwd(x: Any) -> tuple[list[Any], Any]:
                outs = sub(x, training=False)
                return list(outs[:n_act]), outs[n_act]
        else:

            def fwd(x: Any) -> tuple[list[Any], Any]:
                return [], model(x, training=False)

        self._act_tags = []
        for name, _, kind in acts:
            self._act_tags += [f"train/act_mean@{name}", f"train/act_std@{name}"]
            if kind == 1:
                self._act_tags.append(f"train/act_frac_zero@{name}")
            elif kind:
                self._act_tags.append(f"train/act_frac_saturated@{name}")
        layout = None
        y = self._probe[1] if self._probe is not None else None
        has_loss = getattr(model, "_compile_loss", None) is not None and y is not None
        if self._probe is not None:
            units = ctx.model.output_units or 0
            act = ctx.model.output_activation
            # probabilities: a softmax, or sigmoids a classification loss takes as probabilities
            probs = act == "softmax" or (act == "sigmoid" and ctx.data.task == "classification"
                                         and ctx.loss.expects == "probabilities")  # fmt: skip
            classify = ctx.data.task in (None, "classification") or probs
            out_stats = []
            if units >= 2 and single:
                if probs:
                    out_stats.append("train/output_row_sum")
                if classify:
                    out_stats.append("train/pred_class_frac:max")
            layout = ks.ProbeLayout(len(model.trainable_variables) if has_loss else 0,
                                    [(n, k) for n, _, k in acts], probs, units, out_stats)  # fmt: skip
            self._out_undecided = act is None
        self._engine = ks.Engine(model, self._groups.variables, fwd, layout, has_loss)
        if self._probe is not None:
            x, y = self._probe
            self._probe_t = (keras.tree.map_structure(keras.ops.convert_to_tensor, x),
                             keras.tree.map_structure(keras.ops.convert_to_tensor, y) if y is not None else None)  # fmt: skip

    # ------------------------------------------------------------------ per batch

    def _batch_begin(self, batch: int, t0: float) -> None:
        s = self._epoch_base + batch
        self._step = s + 1
        if not self._model_ready and not self._ensure_model():
            return
        if self._epoch_first:
            self._epoch_first = False
            self._read_lr()
            self._lr_points[s] = self._lr_at(s)
        if s == 1 and self._batch_size is None:
            self._read_batch_size()
        if self._snap is not None and s > self._snap_step:
            self._warmed("delta", self._finish_update_ratio)
        cad = self._cad
        if s >= cad.next:
            self._warmed("telemetry", self._telemetry, s)
            cad.advance(s, self._own + (time.perf_counter() - t0) - self._excl)
        with self._lock:
            waiting = len(self._records)
        if waiting >= MAX_PENDING:
            self._process_records(final=False)
        if self._writer is not None and self._writer.due():
            self._flush(disk=True)

    def _warmed(self, name: str, fn: Any, *args: Any) -> None:
        """Run ``fn``; its first call (which compiles functions) is a one-off cost, kept out of
        the per-step overhead the cadence adapts to."""
        if name in self._warm:
            fn(*args)
            return
        t = time.perf_counter()
        try:
            fn(*args)
        finally:
            self._warm.add(name)
            d = time.perf_counter() - t
            self._excl += d
            self._setup_s += d

    def _read_batch_size(self) -> None:
        """The batch size: the loss tracker's sample count after the first step."""
        tracker = getattr(self._model, "_loss_tracker", None)
        count = getattr(tracker, "count", None)
        if count is None or self._engine is None:
            return
        n = self._engine.read_metric_var(count)
        if n and n > 0:
            self._batch_size = int(round(n))
            ctx = self.context
            assert ctx is not None
            if ctx.data.batch_size is None:
                ctx.data.batch_size = self._batch_size

    def _read_lr(self) -> None:
        """The learning rate variable at the start of an epoch (a callback may have set it)."""
        opt = self._opt
        if opt is None or self._schedule is not None:
            return
        lr = getattr(opt, "_learning_rate", None)
        try:
            if hasattr(lr, "value") and self._engine is not None:
                self._lr_value = ks.host_float(lr.value)
            elif callable(lr):
                self._lr_value = ks.host_float(lr())
            else:
                self._lr_value = float(lr)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001
            self._lr_value = None

    def _lr_at(self, s: int) -> float:
        if self._schedule is not None:
            try:
                v = self._schedule(keras.ops.convert_to_tensor(self._iter0 + s, "int64"))
                return ks.host_float(v)
            except Exception:  # noqa: BLE001
                return math.nan
        return self._lr_value if self._lr_value is not None else math.nan

    def _telemetry(self, s: int) -> None:
        """Weights (norms and a snapshot) and the probe, at the weights before step ``s``."""
        eng = self._engine
        if eng is None:
            return
        g = self._groups
        values: dict[str, float] = {}
        probe = self._probe_t if eng.layout is not None else None
        sq, snap, vec = eng.telemetry(probe)
        if g.variables:
            wsq = np.bincount(np.asarray(g.group_of), weights=sq, minlength=len(g.names))
            values.update(zip(self._weight_tags, np.sqrt(wsq).tolist(), strict=True))
            values["train/weight_norm"] = float(np.sqrt(wsq.sum()))
            self._snap = snap
            self._snap_wsq, self._snap_step = wsq, s
        self._lr_points[s] = self._lr_at(s)
        if vec is not None:
            values.update(self._unpack(vec, s))
            values.update(self._probe_input)
        self._pending_rows.append((s, time.time(), values))
        self._check_state(s, values)

    def _unpack(self, vec: np.ndarray, s: int) -> dict[str, float]:
        eng = self._engine
        assert eng is not None and eng.layout is not None
        lay = eng.layout
        ctx = self.context
        assert ctx is not None
        out: dict[str, float] = {}
        pos = 1
        n = lay.n_grads
        if n:
            sq, bad = vec[pos : pos + n], vec[pos + n : pos + 2 * n]
            pos += 2 * n
            present = sq >= 0
            gsq = np.zeros(len(self._groups.names))
            has = np.zeros(len(self._groups.names), dtype=bool)
            for i, gi in enumerate(self._grad_group):
                if gi >= 0 and present[i]:
                    gsq[gi] += sq[i]
                    has[gi] = True
            for gi in self._grad_groups:
                if has[gi]:
                    out[f"train/grad_norm@{self._groups.names[gi]}"] = float(np.sqrt(gsq[gi]))
            out["train/grad_norm"] = float(np.sqrt(sq[present].sum())) if present.any() else 0.0
            if float(bad.sum()) > 0 or not np.all(np.isfinite(sq[present])):
                out["train/nonfinite@grads"] = float(bad.sum())
            if s >= 2:  # the first steps may legitimately lack gradients
                ctx.flags["params_without_grad"] = float(
                    np.sum(~present) + np.sum(sq[present] == 0)
                )
        k = len(self._act_tags)
        out.update(zip(self._act_tags, vec[pos : pos + k].tolist(), strict=True))
        pos += k
        out.update(zip(lay.out_stats, vec[pos : pos + len(lay.out_stats)].tolist(), strict=True))
        return out

    def _finish_update_ratio(self) -> None:
        """‖w_now − w_snapshot‖ / ‖w_snapshot‖ per layer, recorded at the snapshot's step."""
        eng = self._engine
        snap, self._snap = self._snap, None
        if eng is None or snap is None:
            return
        g = self._groups
        dsq = eng.delta(snap)
        dg = np.bincount(np.asarray(g.group_of), weights=dsq, minlength=len(g.names))
        wsq = self._snap_wsq
        assert wsq is not None
        ratio = np.sqrt(dg) / np.maximum(np.sqrt(wsq), 1e-30)
        values = dict(zip(self._update_tags, ratio.tolist(), strict=True))
        values["train/update_ratio"] = float(
            np.sqrt(dg.sum()) / max(float(np.sqrt(wsq.sum())), 1e-30)
        )
        self._pending_rows.append((self._snap_step, time.time(), values))

    # ------------------------------------------------------------------ logs

    def _process_records(self, final: bool) -> int | None:
        """De-average the buffered batch logs of the current epoch into per-batch values.

        ``final`` (epoch end: Keras has finished every batch callback of the epoch) processes
        all records; otherwise only the run of consecutive batches from the last processed one,
        holding back the newest (Keras may deliver batch-end calls out of order from its worker
        thread, and the newest may be the epoch's smaller last batch). Returns the global step
        of the last record processed (None if none).
        """
        with self._lock:
            recs, self._records = self._records, []
        recs.sort(key=lambda r: (r[0], r[1]))
        recs = [
            r for r in recs if r[0] == self._epoch
        ]  # (earlier epochs were processed at their end)
        steps_known = (self.params or {}).get("steps")
        if not final:
            spe = int(getattr(self._model, "steps_per_execution", 1) or 1)
            n = 0
            expect = (self._prev_mean[0] + 1) if self._prev_mean is not None else 0
            while spe == 1 and n < len(recs) - 1 and recs[n][1] == expect:
                n += 1
                expect += 1
            with self._lock:
                self._records = recs[n:] + self._records
            recs = recs[:n]
        rows: list[tuple[int, float, dict[str, float]]] = []
        last_step = None
        for i, (_, batch, mean, acc, wall) in enumerate(recs):
            prev = self._prev_mean
            if steps_known:
                is_last = batch == steps_known - 1
            else:
                is_last = final and i == len(recs) - 1
            w_last = self._last_batch_weight(batch + 1) if is_last else 1.0
            # running mean m_b over batches 0..b (b full batches and one of weight w_last):
            # the chunk since the previous record p sums to (b + w) m_b - (p + 1) m_p
            tot = batch + w_last
            vals: dict[str, float] = {}
            if prev is None:
                vals["train/loss"] = mean
                if acc is not None:
                    vals["train/accuracy"] = acc
            else:
                p, m_prev, a_prev = prev
                dk = (batch - p - 1) + w_last
                vals["train/loss"] = (tot * mean - (p + 1) * m_prev) / dk
                if acc is not None and a_prev is not None:
                    vals["train/accuracy"] = (tot * acc - (p + 1) * a_prev) / dk
            s = self._epoch_base + batch
            if self._reg_penalty is not None:  # the run's first logged loss
                self._reg_share(vals["train/loss"])
            rows.append((s, wall, vals))
            self._prev_mean = (batch, mean, acc)
            last_step = s
        self._pending_rows.extend(rows)
        if last_step is None and final and self._prev_mean is not None:
            last_step = self._epoch_base + self._prev_mean[0]
        return last_step

    def _last_batch_weight(self, k: int) -> float:
        """Size of an epoch's last batch relative to the others (1 when unknown)."""
        ctx = self.context
        n, b = (ctx.data.n_train if ctx is not None else None), self._batch_size
        if not n or not b or k < 2:
            return 1.0
        rest = n - (k - 1) * b
        return rest / b if 0 < rest <= b else 1.0

    def _epoch_logs(self, logs: dict[str, Any], last_step: int | None) -> None:
        """Validation and other epoch-level metrics at the epoch's last step; lr points."""
        from traindx.names import map_name

        s = last_step if last_step is not None else max(self._step - 1, 0)
        values: dict[str, float] = {}
        for name, v in logs.items():
            if name in ("loss", self._acc_key) or name in _SKIP_EPOCH_LOGS:
                continue
            try:
                fv = float(v)
            except (TypeError, ValueError):
                continue
            key = map_name(name)
            if key is not None:
                values[str(key)] = fv
        if last_step is not None:
            self._lr_points[s] = self._lr_at(s)
        if values:
            self._pending_rows.append((s, time.time(), values))
        ctx = self.context
        b = self._batch_size
        if ctx is not None and b and last_step is not None and not self._n_checked:
            self._n_checked = True
            k = last_step - self._epoch_base + 1
            n = ctx.data.n_train
            if n is not None and (self.params or {}).get("steps") == k and -(-n // b) != k:
                ctx.notes.append(
                    f"train_data has {n} rows but fit took {k} steps of {b} (validation_split?)"
                )
                n = None
            if n is None:
                ctx.data.n_train = k * b
                ctx.notes.append(f"n_train ~ {k} steps x batch size {b} (an upper bound)")
        if last_step is not None:
            self._step = max(self._step, last_step + 1)

    # ------------------------------------------------------------------ writing

    def _flush(self, disk: bool = False, final: bool = False) -> None:
        w = self._writer
        ctx = self.context
        if w is None or ctx is None:
            return
        if self._lr_points:
            lr_rows = sorted(self._lr_points.items())
            self._lr_points = {}
            self._pending_rows.extend(
                (s, time.time(), {"train/lr": v}) for s, v in lr_rows if math.isfinite(v)
            )
        rows = sorted(self._pending_rows, key=lambda r: r[0])
        self._pending_rows = []
        # group consecutive rows of the same tag set (per-batch loss) into one encode call
        i = 0
        while i < len(rows):
            s, wall, vals = rows[i]
            tags = tuple(vals)
            j = i + 1
            while j < len(rows) and tuple(rows[j][2]) == tags and rows[j][0] != rows[j - 1][0]:
                j += 1
            if j - i >= 4:
                w.add_rows([r[0] for r in rows[i:j]], [r[1] for r in rows[i:j]], tags,
                           np.asarray([list(r[2].values()) for r in rows[i:j]], dtype=np.float64))  # fmt: skip
            else:
                for r in rows[i:j]:
                    w.add(r[0], r[2], r[1])
            i = j
        if final:
            cad = self._cad
            ctx.notes = [n for n in ctx.notes if not n.startswith(f"traindx {self._kind} (")]
            ctx.notes.append(
                f"traindx {self._kind} ({ks.BACKEND} backend): {self._step} steps, probe and per-layer "
                f"telemetry every {cad.every} steps"
                + (
                    f", measured overhead {100 * cad.overhead:.2f} %"
                    if cad.overhead is not None
                    else ""
                )
                + self._loss_note
            )
        if disk or final:
            w.write_context(ctx)
            w.flush()

    # ------------------------------------------------------------------ failure

    def _on_fatal(self, s: int, what: str) -> None:
        """A non-finite loss, weights or gradients at step ``s``: noted in the context, then
        training stopped (``stop_on_fatal``) or one warning."""
        self.fatal_step = s
        msg = f"traindx: {what} at step {s} (epoch {self._epoch}, batch {s - self._epoch_base})"
        if self.context is not None:
            self.context.notes.append(msg.removeprefix("traindx: "))
        if self.stop_on_fatal:
            self._model.stop_training = True
            print(
                msg
                + "; stopping training (stop_on_fatal=True). cb.diagnosis ranks the likely causes.",
                flush=True,
            )
        else:
            warn(msg + "; cb.diagnosis ranks the likely causes", stacklevel=3)

    def _check_state(self, s: int, values: dict[str, float]) -> None:
        """Non-finite weights or probe gradients (their global norms) are fatal like a
        non-finite loss: with oneDNN's ReLU mapping NaN to 0 the loss can stay finite while
        every weight is NaN."""
        if self.fatal_step is not None:
            return
        probe_ok = not self._probe_input.get("train/nonfinite@inputs")  # a NaN probe is not the model's
        for tag, kind in (("train/weight_norm", "weights"), ("train/grad_norm", "grads")):
            v = values.get(tag)
            if kind == "grads" and not probe_ok:
                continue
            if v is not None and not math.isfinite(v):
                self._on_fatal(s, fatal_message(kind, v))
                return

    def _release(self) -> None:  # for SelfDisabling._fail
        self._snap = None


def _atexit_close(ref: weakref.ref) -> None:
    cb = ref()
    if cb is not None:
        cb.close()


# Preflight (checks run before training) and custom training loops (LoopRecorder: the
# callback driven by hand) live in their own modules.
from traindx.adapters._keras_loop import LoopRecorder  # noqa: E402
from traindx.adapters._keras_preflight import LRRangeResult, lr_range_test, preflight  # noqa: E402

__all__ += ["LRRangeResult", "LoopRecorder", "lr_range_test", "preflight"]
