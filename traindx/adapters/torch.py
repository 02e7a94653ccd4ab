"""PyTorch adapter: record a training loop's telemetry and diagnose it.

>>> from traindx.adapters.torch import Monitor               # doctest: +SKIP
>>> with Monitor(model, optimizer, loss_fn=criterion, logdir="runs/exp1") as mon:
...     for x, y in loader:
...         optimizer.zero_grad(); loss = criterion(model(x), y); loss.backward()
...         mon.step(loss, inputs=x, targets=y)   # after backward, before optimizer.step()
...         optimizer.step()
...     mon.log(val_loss=vl, val_accuracy=va)
...     print(mon.diagnose())

Every step records the loss, the learning rate(s) and the global gradient norm (one fused
``torch._foreach_norm`` over all gradients), kept on the device and moved to the host in
batches. Every ``every`` steps (a *telemetry step*; adaptive by default so the monitor's own
time stays under 2 % of the step time, see :class:`~traindx.adapters._common.Cadence`) it
also records per-module gradient and weight norms, update/weight ratios, activation
statistics (forward hooks installed for that step only), output, input and target checks.
Only where the gradient norm alone would break the budget (tiny models with steps of a few
ms) does the adaptive cadence take it every 2-16 steps instead of every step. The static context (model layers, loss, optimizer, data)
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

import atexit
import functools
import math
import os
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("traindx.adapters.torch needs PyTorch: pip install 'traindx[torch]'") from e

from traindx.adapters import _torch_hooks as _hooks
from traindx.adapters import _torch_stats as ts
from traindx.adapters._common import (
    LOSS_KINDS,
    TARGET_SAMPLE,
    Cadence,
    Closing,
    Moments,
    RunWriter,
    TargetFacts,
    TrainingDiverged,
    default_logdir,
    fatal_message,
    init_scale_flags,
    metric_values,
    read_run,
    warn,
)
from traindx.adapters._torch_flush import FlushMixin
from traindx.adapters._torch_telemetry import TelemetryMixin
from traindx.schema import DataInfo, RunContext

__all__ = ["Monitor", "TrainingDiverged"]

FLUSH_STEPS = 400  # per-step values move to the host at least this often (bounded memory)
SMALL_TARGETS = 1 << 16  # targets up to this size are class-counted in batches at flush
TARGET_BATCHES = 2  # batches whose targets give target_integer / target_distinct (one sync each)


def _scalar(v: Any) -> Any:
    """A logged tensor's mean (float64 kept: 1e45 is not inf), or the value as given."""
    if isinstance(v, torch.Tensor):
        t = v.detach()
        return (t if t.dtype == torch.float64 else t.float()).mean().item()
    return v


class Monitor(TelemetryMixin, FlushMixin, Closing):
    """Watch a PyTorch training loop; see the module docstring for the loop it expects.

    Args:
        model: the ``nn.Module`` being trained.
        optimizer: its optimizer (learning rates, settings; its steps are seen through a
            global optimizer hook, nothing is installed on it).
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
        self._fwd: dict[int, tuple[str, int]] = {}  # armed: module id -> activation (name, kind)
        self._root_id = self._loss_id = -1
        self._hooked_watch: torch.Tensor | None = None
        self._opt_hook: Any = None
        self._opt_steps = 0  # steps of the optimizer since the last mon.step
        self._opt_seen = False  # the global optimizer hook saw this optimizer step
        self._bwd_seen = False  # the gradient hook fired since the last mon.step
        self._own = 0.0  # seconds spent inside the monitor
        self._writer: RunWriter | None = None
        self._act_pending: dict[str, torch.Tensor] = {}
        self._snap: list[torch.Tensor] | None = None
        self._out: torch.Tensor | None = None
        self._atexit: Any = None
        self._pending_fatal: tuple[int, str] | None = None  # (step, what) seen at a flush
        self._fatal_warned = False
        self._grad_time = 0.0
        t0 = time.perf_counter()
        try:
            self._setup(run_name, num_classes, n_train)
        except Exception as e:  # noqa: BLE001 - never break the user's script
            self._fail(e, "setup")
        self._own += time.perf_counter() - t0

    @property
    def every(self) -> int:
        """The current per-layer telemetry interval in steps."""
        return self._cad.every

    # ------------------------------------------------------------------ setup

    def _setup(self, run_name: str | None, num_classes: int | None, n_train: int | None) -> None:
        model = self.model
        self._groups = g = ts.group_params(model)
        self._one_device = len({p.device for p in g.params}) <= 1
        self._all_f32 = all(p.dtype == torch.float32 for p in g.params)
        info, self._task = ts.loss_info(self.loss_fn)
        kind = LOSS_KINDS.get(info.name or "")
        self._elementwise = bool(kind and kind.elementwise)
        self.context = RunContext(
            framework="torch",
            framework_version=torch.__version__.split("+")[0],
            model=ts.model_info(model),
            loss=info,
            optimizer=ts.optimizer_info(self.optimizer),
            data=DataInfo(num_classes=num_classes, n_train=n_train, task=self._task),  # type: ignore[arg-type]
        )
        if run_name:
            self.context.hyperparameters["run_name"] = run_name
        self.context.flags["softmax_dim0"] = ts.softmax_dim0(model)
        if kind is not None and not kind.elementwise:
            self.context.flags["broadcast_in_loss"] = False  # shapes cannot broadcast silently
        loss_mod = self.loss_fn if isinstance(self.loss_fn, nn.Module) else None
        self._hooked = ts.hooked_modules(model, {id(loss_mod)} if loss_mod is not None else set())
        self._act_tags = {
            name: [f"train/act_mean@{name}", f"train/act_std@{name}"]
            + (
                [f"train/act_frac_zero@{name}"]
                if k == 1
                else [f"train/act_frac_saturated@{name}"]
                if k
                else []
            )
            for name, _, k in self._hooked
        }
        self._grad_tags = [f"train/grad_norm@{n}" for n in g.names]
        self._weight_tags = [f"train/weight_norm@{n}" for n in g.names] + ["train/weight_norm"]
        self._update_tags = [f"train/update_ratio@{n}" for n in g.names] + ["train/update_ratio"]
        # Per-step buffers, moved to the host every FLUSH_STEPS steps or flush_secs.
        self._b_steps: list[tuple[int, float]] = []  # (step, wall time)
        self._b_loss: list[Any] = []  # floats (CPU losses) or 0-dim tensors
        # Per-parameter gradient norms, one row per step that took them, stacked into a buffer
        # allocated once (no tensor per step to keep or free); _b_gn: the row of each step.
        self._b_gn: list[int | None] = []
        self._gn_rows = 0
        self._gn_buf = torch.zeros(FLUSH_STEPS, max(len(g.params), 1), dtype=torch.float32,
                                   device=g.params[0].device if g.params else "cpu")  # fmt: skip
        self._gn_row_views = list(self._gn_buf.unbind(0))
        self._n_params = len(g.params)
        self._b_lr: list[list[Any]] = []
        self._b_tel: list[tuple[int, list[str], torch.Tensor]] = []
        self._b_host: list[tuple[int, dict[str, float]]] = []
        self._b_tgt: list[torch.Tensor] = []
        self._wall0 = time.time() - time.perf_counter()
        self._training = model.training
        # Forward-hook results for the step being recorded.
        self._last_leaf: nn.Module | None = None
        self._out_last_leaf: nn.Module | None = None
        self._out_act: str | None = None  # decided from the first output seen
        self._probs: str | None = None
        self._loss_shapes: tuple[Any, Any] | None = None
        self._snap_step = -1
        self._snap_wsq: torch.Tensor | None = None
        # Gradient accumulation: the size of the watched parameter's gradient just before the
        # first backward after an optimizer step adds to it (zero_grad resets it to None or 0).
        self._watch = min(g.params, key=lambda p: p.numel()) if g.params else None
        self._acc_pre: torch.Tensor | None = None
        self._acc_hits = self._acc_clean = 0
        self._moments = Moments()
        self._input_nonfinite = 0.0
        self._class_counts = np.zeros(0, dtype=np.int64)
        self._count_targets = self._task in ("classification", "binary", None)
        self._tfacts = TargetFacts()
        self._user_classes = num_classes
        # Initialization scales of the weights as they are now (before any update).
        self._init_w: list[tuple[str, str, float]] = []
        self._init_layers: set[str] = set()  # modules owning them, watched in the first forward
        self._init_out: str | None = None  # the output layer's module (left out)
        self._fwd_last: str | None = None  # the last of them run in the first forward
        try:
            self._init_scale_setup()
        except Exception:  # noqa: BLE001, S110 - a fact not known; the monitor goes on
            self._init_w, self._init_layers = [], set()
        self._writer = RunWriter(self.logdir, self._flush_secs)
        self._disk_at = time.perf_counter() + self._flush_secs
        if self.optimizer is not None:
            from torch.optim.optimizer import register_optimizer_step_post_hook

            self._opt_hook = register_optimizer_step_post_hook(
                _hooks.optimizer_step_hook(weakref.ref(self)))  # fmt: skip
        self._arm()
        self._writer.write_context(self.context)
        self._atexit = functools.partial(_hooks.atexit_close, weakref.ref(self))
        atexit.register(self._atexit)

    def _init_scale_setup(self) -> None:
        """``std(w) * sqrt(fan_in)`` of every layer weight, now (one host transfer); not when
        the optimizer already holds state (the weights are not the initial ones)."""
        opt = self.optimizer
        if opt is not None and getattr(opt, "state", None):
            return
        ws = ts.weight_tensors(self.model)
        scales = ts.init_scales(ws)
        self._init_w = [(n, layer, v) for (n, layer, _), v in zip(ws, scales, strict=True)]
        self._init_layers = {layer for _, layer, _ in self._init_w}
        # The output layer: the last registered until the first forward says otherwise.
        self._init_out = self._init_w[-1][1] if self._init_w else None
        self._set_init_flags()

    def _set_init_flags(self) -> None:
        flags = self.context.flags
        for k in ("init_scale_min", "init_scale_max", "init_scale_layer"):
            flags.pop(k, None)
        flags.update(
            init_scale_flags([(n, v) for n, layer, v in self._init_w if layer != self._init_out])
        )

    def _target_facts(self, tgt: torch.Tensor) -> None:
        """Integer-valued targets and their distinct values (first batches only: syncs)."""
        tf = self._tfacts
        if TargetFacts.sample(tuple(tgt.shape)) and not tgt.is_complex():
            t = tgt.detach().reshape(-1)[:TARGET_SAMPLE]
            if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
                t = t.float()
            tf.add(t.cpu().numpy())
        else:
            tf.reject()
        flags = self.context.flags
        flags.pop("target_integer", None)
        flags.pop("target_distinct", None)
        flags.update(tf.flags())

    # ------------------------------------------------------------------ hooks

    def _arm(self) -> None:
        """Install the hooks for the next forward/backward (a telemetry step)."""
        if self._armed:
            return
        ref = weakref.ref(self)
        self._fwd = ({id(m): (name, kind) for name, m, kind in self._hooked}
                     if self._activations or self._out_act is None else {})  # fmt: skip
        self._root_id = id(self.model)
        self._loss_id = id(self.loss_fn) if isinstance(self.loss_fn, nn.Module) else -1
        _hooks.quiet_compile_notice()
        self._handles.append(nn.modules.module.register_module_forward_hook(_hooks.forward_hook(ref)))
        w = self._watch
        if w is not None and w.requires_grad:
            self._hooked_watch = w
            self._handles.append(w.register_hook(_hooks.grad_hook(ref)))
        self._armed = True

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
        self._armed = False
        self._last_leaf = None

    def _on_act(self, name: str, kind: int, module: nn.Module, out: Any) -> None:
        self._last_leaf = module
        if name in self._init_layers:  # the first forward only (emptied after the first step)
            self._fwd_last = name
        if self._activations:
            t = ts.first_tensor(out)
            if t is not None and t.is_floating_point() and t.numel():
                with torch.no_grad():
                    self._act_pending[name] = ts.activation_stats(t, kind)

    def _on_root(self, out: Any) -> None:
        if isinstance(out, dict) and "logits" in out:
            out = out["logits"]
        t = ts.first_tensor(out)
        if t is not None and t.is_floating_point():
            self._out = t.detach()
            self._out_last_leaf = self._last_leaf
        self._last_leaf = None

    def _on_loss(self, args: tuple[Any, ...]) -> None:
        if (
            len(args) >= 2
            and isinstance(args[0], torch.Tensor)
            and isinstance(args[1], torch.Tensor)
        ):
            self._loss_shapes = (tuple(args[0].shape), tuple(args[1].shape))

    def _on_grad(self) -> None:
        # The first backward after the last mon.step, and after an optimizer step (a loop that
        # calls mon.step per micro-batch accumulates on purpose): zero_grad ran before it,
        # unless the gradient it is about to add to is still non-zero.
        if self._bwd_seen:
            return
        self._bwd_seen = True
        w = self._watch
        if w is None or (self._opt_seen and self._opt_steps == 0):
            return
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
            fatal = self._record(loss, inputs, targets, outputs, t0)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "step")
            return
        finally:
            d = time.perf_counter() - t0
            self._own += d
            self._cad.record(t0, d, self._grad_time)
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

    def diagnose(self) -> Any:
        """The :class:`~traindx.diagnosis.Diagnosis` of what was recorded so far."""
        try:
            self.flush()
            from traindx.api import diagnose

            return diagnose(read_run(self.logdir))[0]
        except Exception as e:  # noqa: BLE001
            self._warn_once(f"traindx: diagnose failed: {type(e).__name__}: {e}")
            return None

    def _final_flush(self) -> None:  # for Closing.close
        self._flush(force=True, final=True)

    # ------------------------------------------------------------------ failure

    def _release(self) -> None:
        self._disarm()
        if self._opt_hook is not None:
            self._opt_hook.remove()
            self._opt_hook = None
        self._snap = None
        self._out = None
        self._act_pending.clear()
        if self._atexit is not None:
            atexit.unregister(self._atexit)
            self._atexit = None

    def _on_fatal(self, step: int, what: str) -> None:
        msg = f"traindx: {what} at step {step}"
        if self.on_fatal == "stop":
            raise TrainingDiverged(msg + " (on_fatal='stop'); see .diagnosis", self.diagnose())
        if not self._fatal_warned:
            self._fatal_warned = True
            warn(msg + "; mon.diagnose() ranks the likely causes", stacklevel=3)

    # ------------------------------------------------------------------ every step

    def _record(
        self, loss: Any, inputs: Any, targets: Any, outputs: Any, t0: float
    ) -> tuple[int, str] | None:
        s = self._step
        cad = self._cad
        tel = s == cad.next
        if self._snap is not None:
            self._finish_update_ratio()
        # Loss: a float on CPU (a CPU .item() costs less than keeping the tensor), else a
        # tensor on its device, moved to the host with the others at flush.
        fatal = None
        if isinstance(loss, torch.Tensor):
            lt = loss.detach()
            if lt.numel() != 1:
                lt = lt.float().mean()
            if lt.is_cpu:
                lv = lt.item()
                self._b_loss.append(lv)
                if not math.isfinite(lv):
                    fatal = (s, fatal_message("loss", lv))
            else:
                self._b_loss.append(lt if lt.dim() == 0 else lt.reshape(()))
                if self.on_fatal == "stop" and not bool(torch.isfinite(lt)):
                    fatal = (s, fatal_message("loss", lt.item()))
        elif loss is None:  # no loss this step (a trainer callback that saw none): not written
            self._b_loss.append(None)
        else:
            lv = float(loss)
            self._b_loss.append(lv)
            if not math.isfinite(lv):
                fatal = (s, fatal_message("loss", lv))
        self._b_steps.append((s, self._wall0 + t0))
        if self.optimizer is not None:
            self._b_lr.append([pg["lr"] for pg in self.optimizer.param_groups])
        # Gradient norms: one fused norm over all gradients (per parameter); the global norm
        # is computed from them at flush. (grad_stride > 1 only when the adaptive cadence
        # finds even this too costly for the step time.)
        norms: list[torch.Tensor] = []
        grads: list[Any] = []
        present: list[torch.Tensor] = []
        self._grad_time = 0.0
        if tel or s % cad.grad_stride == 0:
            tg = time.perf_counter()
            grads = [p.grad for p in self._groups.params]  # ~1 us per parameter tensor
            present = [g for g in grads if g is not None]
        if present:
            if present[0].requires_grad:  # backward(create_graph=True)
                with torch.no_grad():
                    norms = self._norms(present)
            else:
                norms = self._norms(present)
            row = self._gn_row_views[self._gn_rows]
            if len(norms) == self._n_params:
                torch.stack(norms, out=row)
            else:  # some gradients are None: zeros add nothing to the sum of squares
                row.zero_()
                torch.stack(norms, out=row[: len(norms)])
            # Non-finite gradients are fatal like a non-finite loss: checked here where the
            # norms are on the CPU (or with on_fatal="stop"), else at the next flush.
            if fatal is None and not self._fatal_warned and (row.is_cpu or self.on_fatal == "stop"):
                if not math.isfinite(row.sum().item()):
                    fatal = (s, fatal_message("grads", math.sqrt(float(row.double().square().sum()))))
            self._grad_time = time.perf_counter() - tg
            self._b_gn.append(self._gn_rows)
            self._gn_rows += 1
        else:
            self._b_gn.append(None)
        self._training = self.model.training
        tgt = targets if type(targets) is torch.Tensor else ts.first_tensor(targets)
        if tgt is not None and self._tfacts.batches < TARGET_BATCHES:
            self._target_facts(tgt)
        if tgt is not None and self._count_targets:
            if tgt.numel() <= SMALL_TARGETS:
                self._b_tgt.append(tgt.detach() if tgt.requires_grad else tgt)
            elif tel:
                self._b_tgt.append(tgt.detach().reshape(-1)[:SMALL_TARGETS])  # a sample
        if tel or fatal is not None:
            with torch.no_grad():
                wbad = self._telemetry(s, grads, present, norms, inputs, tgt, outputs, full=tel)
            if wbad is not None and fatal is None and not self._fatal_warned:
                fatal = (s, fatal_message("weights", wbad))
        self._bwd_seen = False
        self._opt_steps = 0
        if tel:
            if s == 0:
                self._first_step_facts(inputs)
            cad.advance(s, self._own + (time.perf_counter() - t0))
        self._step = s + 1
        if len(self._b_steps) >= FLUSH_STEPS or t0 >= self._disk_at:
            self._flush(disk=t0 >= self._disk_at)
        if self._step == cad.next:
            self._arm()
        elif self._armed:
            self._disarm()
        if tel:
            self._act_pending.clear()
            self._out = None
            self._acc_pre = None
        return fatal

    def _norms(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """L2 norm of each tensor (float32, on the first tensor's device)."""
        try:
            if self._all_f32:
                norms = list(torch._foreach_norm(tensors, 2))  # ~15 % faster than with dtype=
            else:
                norms = list(torch._foreach_norm(tensors, 2, dtype=torch.float32))
        except (RuntimeError, TypeError, NotImplementedError):  # sparse or unusual tensors
            norms = [(t.coalesce().values() if t.is_sparse else t).float().norm() for t in tensors]
        if not self._one_device:
            dev = tensors[0].device
            norms = [n.to(dev) for n in norms]
        return norms


# Preflight (checks run on copies of the model before training) lives in its own modules.
from traindx.adapters._torch_lr_range import LRRangeResult  # noqa: E402
from traindx.adapters._torch_preflight import lr_range_test, preflight  # noqa: E402

__all__ += ["LRRangeResult", "lr_range_test", "preflight"]
