"""PyTorch adapter: record a training loop's telemetry and diagnose it.

>>> from traindx.adapters.torch import Monitor               # doctest: +SKIP
>>> with Monitor(model, optimizer, loss_fn=criterion, logdir="runs/exp1") as mon:
...     for x, y in loader:
...         optimizer.zero_grad(); loss = criterion(model(x), y); loss.backward()
...         mon.step(loss, inputs=x, targets=y)   # after backward, before optimizer.step()
...         optimizer.step()
...     mon.log(val_loss=vl, val_accuracy=va)
...     print(traindx.render_text(mon.diagnose()))

Every step records the loss, the learning rate(s) and the global gradient norm (one fused
``torch._foreach_norm`` over all gradients), kept on the device and moved to the host in
batches. Every ``every`` steps (a *telemetry step*; adaptive by default so the monitor's own
time stays under 2 % of the step time, see :class:`~traindx.adapters._common.Cadence`) it
also records per-module gradient and weight norms, update/weight ratios, activation
statistics (forward hooks installed for that step only), output, input and target checks.
Only where the gradient norm alone would break the budget (tiny models with steps of a few
ms) does the adaptive cadence take it every 2-16 steps instead of every step. Between
telemetry steps, at least 32 evenly spread per-layer *samples* a run (every max(10, step / 32)
steps) record per-module gradient and weight norms, update ratios and activation statistics,
however rare the budget makes the telemetry steps. The static context (model layers, loss, optimizer, data)
and the flags the rules read go to ``context.json``.

The monitor never changes training: it only reads tensors, under ``torch.no_grad()``, into
new tensors; it uses no random numbers; it installs nothing on the model or optimizer that
travels with them (global module and optimizer hooks pick them by identity), so they pickle
(``torch.save(model)``) and copy (``copy.deepcopy``) as without it; an internal error turns it off with one
``RuntimeWarning`` (removing its hooks) instead of propagating. A non-finite loss, or
non-finite gradients (the per-step global norm) or weights (on telemetry steps) while the
loss is finite, is *fatal*: one warning, or with ``on_fatal="stop"`` :class:`TrainingDiverged`
raised from :meth:`Monitor.step`, on purpose.
"""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path
from typing import Any

try:
    import torch
    from torch import nn
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("traindx.adapters.torch needs PyTorch: pip install 'traindx[torch]'") from e

from traindx.adapters import _torch_hooks as _hooks
from traindx.adapters import _torch_moments as _moments
from traindx.adapters import _torch_overlap as _overlap
from traindx.adapters import _torch_stats as ts
from traindx.adapters._common import (
    Cadence,
    Closing,
    RunWriter,
    TrainingDiverged,
    default_logdir,
    metric_values,
    note_fatal,
    warn,
)
from traindx.adapters._torch_context import ContextMixin
from traindx.adapters._torch_flush import FlushMixin
from traindx.adapters._torch_record import RecordMixin
from traindx.adapters._torch_telemetry import TelemetryMixin

__all__ = ["Monitor", "TrainingDiverged"]


def _scalar(v: Any) -> Any:
    """A logged tensor's mean (float64 kept: 1e45 is not inf), or the value as given."""
    if isinstance(v, torch.Tensor):
        t = v.detach()
        return (t if t.dtype == torch.float64 else t.float()).mean().item()
    return v


class Monitor(ContextMixin, RecordMixin, TelemetryMixin, FlushMixin, Closing):
    """Watch a PyTorch training loop; see the module docstring for the loop it expects.

    Args:
        model: the ``nn.Module`` being trained.
        optimizer: its optimizer (learning rates, settings; its steps are seen through a
            global optimizer hook, nothing is installed on it). Without one, the steps of
            an optimizer holding the model's parameters are still seen (flag
            ``grads_carried_over``: the share of checked steps whose first backward added
            onto the previous step's gradient, i.e. no zero_grad between them).
        loss_fn: the loss module or function (its kind says what the model output must be).
        logdir: run directory for the event file and ``context.json`` (default
            ``runs/<run_name or date-time>``).
        every: per-layer telemetry every N steps; ``None`` adapts N (10, 20, 40, ...) to keep
            the monitor's own time within 2 % of the step time.
        activations: record activation statistics with forward hooks.
        on_fatal: ``"warn"`` (one warning) or ``"stop"`` (raise :class:`TrainingDiverged`
            from :meth:`step`) when the loss, the gradients or the weights are non-finite.
        num_classes, n_train: data facts the monitor cannot see.
        flush_secs: how often the event file and ``context.json`` are written to disk.
        run_name: the run's name (the default logdir's last part).
    """

    _kind = "torch monitor"  # in SelfDisabling's warning

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        loss_fn: Any = None,
        *,
        logdir: str | os.PathLike[str] | None = None,
        every: int | None = None,
        activations: bool = True,
        on_fatal: str = "warn",
        num_classes: int | None = None,
        n_train: int | None = None,
        flush_secs: float = 5.0,
        run_name: str | None = None,
    ):
        if on_fatal not in ("warn", "stop"):
            raise ValueError(f"on_fatal must be 'warn' or 'stop', not {on_fatal!r}")
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise ValueError(f"every must be a positive int or None, not {every!r}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.logdir = Path(logdir) if logdir is not None else default_logdir(run_name)
        self.on_fatal = on_fatal
        self._cad = Cadence(every)
        self._activations = activations
        self._flush_secs = flush_secs
        self._off = False  # disabled after an internal error, or closed
        self._disabled = False
        self._closed = False
        self._step = 0  # index of the next mon.step call
        self._handles: list[Any] = []
        self._armed = False
        self._watch_armed = False  # the gradient hook alone (an early step, _arm_watch)
        self._fwd: dict[int, tuple[str, int]] = {}  # armed: module id -> activation (name, kind)
        self._fwd_map: dict[int, tuple[str, int]] | None = None  # every hooked module's (built at the first arm)
        self._fwd_hook: Any = None  # the hook functions, made once
        self._grad_hook: Any = None
        self._root_id = self._loss_id = -1
        self._hooked_watch: torch.Tensor | None = None
        self._opt_hook: Any = None
        self._opt_steps = 0  # steps of the optimizer since the last mon.step
        self._opt_seen = False  # the global optimizer hook saw this optimizer step
        self._other_opts: set[int] = set()  # ids of other optimizers seen stepping
        self._other_held: set[int] = set()  # ids of the parameters they hold
        self._bwd_seen = False  # the gradient hook fired since the last mon.step
        self._fwd_calls = 0  # training forwards of the model since the last mon.step (while armed)
        self._fwd_counts: list[int] = []  # of the last telemetry steps (flag forwards_per_step)
        self._own = 0.0  # seconds spent inside the monitor
        self._writer: RunWriter | None = None
        self._act_pending: dict[str, tuple[torch.Tensor, int, int]] = {}  # name -> (moments, size, kind)
        self._snap: list[torch.Tensor] | None = None
        self._out: torch.Tensor | None = None
        self._atexit: Any = None
        self._pending_fatal: tuple[int, str] | None = None  # (step, what) seen at a flush
        self._fatal_warned = False
        self._grad_time = 0.0
        self._periodic_time = 0.0  # of the last step: flushing
        self._overlap: _overlap.Overlap | None = _overlap.Overlap()  # train/eval rows (val_shared_frac)
        self._overlap_handle: Any = None
        self._seq_ids: dict[int, str] = {}  # modules with a batch_first setting, until first seen
        self._seq_seen: list[tuple[str, bool, tuple[int, ...]]] = []
        t0 = time.perf_counter()
        try:
            self._setup(run_name, num_classes, n_train)
            self._seq_ids = {id(m): n for n, m in model.named_modules() if isinstance(getattr(m, "batch_first", None), bool)}
            self._overlap_handle = _overlap.install(self)
        except Exception as e:  # noqa: BLE001 - never break the user's script
            self._fail(e, "setup")
        self._own += time.perf_counter() - t0

    @property
    def every(self) -> int:
        """The current per-layer telemetry interval in steps."""
        return self._cad.every

    # ------------------------------------------------------------------ hooks

    def _arm(self, sample: bool = False) -> None:
        """Install the hooks for the next forward/backward (a telemetry step; a coverage
        ``sample``: the activation hooks alone)."""
        if self._armed:
            return
        if self._watch_armed:  # an early step's gradient hook alone (_arm_watch)
            self._disarm()
        if self._fwd_map is None:  # built once (torch.compiler.disable costs ~50 us a hook)
            ref = weakref.ref(self)
            self._fwd_map = {id(m): (name, kind) for name, m, kind in self._hooked}
            self._fwd_hook, self._grad_hook = _hooks.forward_hook(ref), _hooks.grad_hook(ref)
        self._fwd = self._fwd_map if self._activations or self._out_act is None else {}
        self._root_id = id(self.model)
        self._loss_id = id(self.loss_fn) if isinstance(self.loss_fn, nn.Module) else -1
        _hooks.quiet_compile_notice()
        self._handles.append(nn.modules.module.register_module_forward_hook(self._fwd_hook))
        w = self._watch
        if w is not None and w.requires_grad and not sample:
            self._hooked_watch = w
            self._handles.append(w.register_hook(self._grad_hook))
        self._armed = True

    def _arm_watch(self) -> None:
        """Only the watched parameter's gradient hook, for one of the first steps (is the
        gradient carried over from the step before? a run that diverges within its first
        steps has no telemetry step to tell)."""
        w = self._watch
        if self._hooked_watch is not None or w is None or not w.requires_grad:
            return
        self._hooked_watch = w
        if self._grad_hook is None:
            self._grad_hook = _hooks.grad_hook(weakref.ref(self))
        self._handles.append(w.register_hook(self._grad_hook))
        self._watch_armed = True

    def _disarm(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        w = self._hooked_watch
        if w is not None:  # an emptied hook dict back to None, as torch leaves a fresh parameter
            if w._backward_hooks is not None and not w._backward_hooks:
                w._backward_hooks = None
            self._hooked_watch = None
        self._fwd = {}
        self._armed = self._watch_armed = False
        self._last_leaf = None

    def _on_act(self, name: str, kind: int, module: nn.Module, out: Any) -> None:
        self._last_leaf = module
        t = ts.first_tensor(out)
        # its storage and in-place version: an in-place op after it (F.relu(o, inplace=True)) bumps the version
        self._last_leaf_ptr = (t.data_ptr(), t._version) if t is not None else None
        if name in self._init_layers:  # the first forward only (emptied after the first step)
            self._fwd_last = name
        if self._activations and t is not None and t.is_floating_point() and t.numel():
            # no torch.no_grad() block (~1.5 us a module): the moments are taken of t.detach()
            self._act_pending[name] = (_moments.activation_moments(t, kind), t.numel(), kind)

    def _on_root(self, out: Any) -> None:
        if self.model.training:  # an evaluation forward run with grad enabled is not a step's
            self._fwd_calls += 1
        if isinstance(out, dict) and "logits" in out:
            out = out["logits"]
        t = ts.first_tensor(out)
        if t is not None and t.is_floating_point():
            self._out = t.detach()
            self._out_last_leaf = self._last_leaf
            self._out_is_leaf = self._last_leaf is not None and (t.data_ptr(), t._version) == self._last_leaf_ptr
        self._last_leaf = None

    def _on_loss(self, args: tuple[Any, ...], out: Any = None) -> None:
        if self._step == 0 and self.model.training:  # the loss module's value at the first step
            self._loss_calls0 += 1
            if isinstance(out, torch.Tensor) and out.numel() == 1:
                self._loss_out0 = out.detach()
        if (
            len(args) >= 2
            and isinstance(args[0], torch.Tensor)
            and isinstance(args[1], torch.Tensor)
        ):
            self._loss_shapes = (tuple(args[0].shape), tuple(args[1].shape))

    def _on_grad(self) -> None:
        # The first backward after the last mon.step, and after an optimizer step (a loop that
        # calls mon.step per micro-batch accumulates on purpose): zero_grad ran before it,
        # unless the gradient it is about to add to is still non-zero (or NaN: zero_grad
        # resets a NaN gradient too). Whether an optimizer step came before it is kept: a
        # run whose optimizer is seen stepping counts only the backwards that follow one.
        if self._bwd_seen:
            return
        self._bwd_seen = True
        w = self._watch
        if w is None or (self._opt_seen and self._opt_steps == 0):
            return
        self._acc_after_opt = self._opt_steps > 0
        with torch.no_grad():
            g = w.grad
            self._acc_pre = torch.zeros((), device=w.device) if g is None else g.detach().abs().sum().float()

    # ------------------------------------------------------------------ public API

    def step(self, loss: Any, inputs: Any = None, targets: Any = None, outputs: Any = None) -> None:
        """Record one optimizer step: call after ``loss.backward()``, before ``optimizer.step()``.

        ``outputs`` (the model output) is optional: a forward hook on the model sees it.
        ``loss=None``: the step's loss is not known (a trainer callback that saw none); the
        step's other values are recorded, its loss is not written.
        """
        if self._off:
            return
        t0 = time.perf_counter()
        fatal = None
        try:
            if self._overlap is not None and self._overlap_handle is not None:
                self._overlap.stepped()  # training-mode forwards since the last step
            fatal = self._record(loss, inputs, targets, outputs, t0)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "step")
            return
        finally:
            d = time.perf_counter() - t0
            self._own += d
            self._cad.record(t0, d, self._grad_time, self._periodic_time)
        if fatal is None and self._pending_fatal is not None:
            fatal, self._pending_fatal = self._pending_fatal, None
        if fatal is not None:
            self._on_fatal(*fatal)

    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Record evaluation metrics (``val_loss=``, ``val_accuracy=`` ...) at the current step."""
        if self._off or self._writer is None:
            return
        t0 = time.perf_counter()
        try:
            s = max(self._step - 1, 0) if step is None else int(step)
            self._writer.add(s, metric_values(metrics, _scalar, self.context.notes))
        except Exception as e:  # noqa: BLE001
            self._fail(e, "log")
        finally:
            self._own += time.perf_counter() - t0

    def flush(self) -> None:
        """Move buffered values to the host; write the event file and ``context.json``."""
        if self._off or self._writer is None:
            return
        try:
            self._flush(force=True)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "flush")

    def _final_flush(self) -> None:  # for Closing.close
        self._flush(force=True, final=True)

    # ------------------------------------------------------------------ failure

    def _release(self) -> None:
        self._disarm()
        if self._overlap_handle is not None:
            self._overlap_handle.remove()
            self._overlap_handle = None
        if self._opt_hook is not None:
            self._opt_hook.remove()
            self._opt_hook = None
        self._snap = None
        self._out = None
        self._act_pending.clear()
        self._forget_exit()

    def _on_fatal(self, step: int, what: str) -> None:
        msg = f"traindx: {what} at step {step}"
        note_fatal(self.context, step, stopping=self.on_fatal == "stop")
        if self.on_fatal == "stop":
            raise TrainingDiverged(msg + " (on_fatal='stop'); see .diagnosis", self.diagnose())
        if not self._fatal_warned:
            self._fatal_warned = True
            warn(msg + "; mon.diagnose() ranks the likely causes", stacklevel=3)


# Preflight (checks run on copies of the model before training) lives in its own modules.
from traindx.adapters._torch_lr_range import LRRangeResult  # noqa: E402
from traindx.adapters._torch_preflight import lr_range_test, preflight  # noqa: E402

__all__ += ["LRRangeResult", "lr_range_test", "preflight"]
