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
``torch._foreach_norm``), kept on the device and moved to the host in batches. Every
``every`` steps (a *telemetry step*; adaptive by default so the monitor costs at most 2 % of
the step time) it also records per-module gradient and weight norms, update/weight ratios,
activation statistics (forward hooks installed for that step only), output, input and
target checks. The static context (model layers, loss, optimizer, data) and the flags the
rules read go to ``context.json``.

The monitor never changes training: it only reads tensors under ``torch.no_grad()``, uses no
random numbers, and an internal error turns it off with one ``RuntimeWarning`` (removing
its hooks) instead of propagating. ``on_fatal="stop"`` raises :class:`TrainingDiverged` on a
non-finite loss, on purpose.
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

try:
    import torch
    from torch import nn
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("traindx.adapters.torch needs PyTorch: pip install 'traindx[torch]'") from e

from traindx.adapters import _torch_stats as ts
from traindx.adapters._common import (
    LOSS_KINDS,
    Moments,
    RunWriter,
    TrainingDiverged,
    default_logdir,
    read_run,
    warn,
)
from traindx.schema import DataInfo, RunContext

__all__ = ["Monitor", "TrainingDiverged"]

BUDGET = 0.02  # adapter time / step time the adaptive cadence aims below
MIN_EVERY, MAX_EVERY = 10, 10_000
FLUSH_STEPS = 50  # per-step values are moved to the host at least this often
_INPUT_TAGS = ("train/input_mean", "train/input_std", "train/input_min", "train/input_max")


class Monitor:
    """Watch a PyTorch training loop; see the module docstring for the loop it expects.

    Args:
        model: the ``nn.Module`` being trained.
        optimizer: its optimizer (for the learning rate, its settings and ``zero_grad``).
        loss_fn: the loss module or function (its kind tells what the model output must be).
        logdir: run directory for the event file and ``context.json`` (default
            ``runs/<run_name or date-time>``).
        every: per-layer telemetry every N steps; ``None`` adapts N (starting at 10,
            doubling while the monitor's own time exceeds 2 % of the step time).
        activations: record activation statistics with forward hooks.
        on_fatal: ``"warn"`` (one warning) or ``"stop"`` (raise :class:`TrainingDiverged`
            from :meth:`step`) when the loss is non-finite.
        num_classes, n_train: data facts the monitor cannot see.
        flush_secs: how often the event file is flushed to disk.
        run_name: the run's name (the default logdir's last part).
    """

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
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"every must be a positive int or None, not {every!r}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.logdir = Path(logdir) if logdir is not None else default_logdir(run_name)
        self.on_fatal = on_fatal
        self.every = every or MIN_EVERY
        self._adaptive = every is None
        self._activations = activations
        self._num_classes_given = num_classes
        self._flush_secs = flush_secs
        self._disabled = False
        self._closed = False
        self._step = 0  # index of the next mon.step call
        self._next_tel = 0
        self._handles: list[Any] = []
        self._armed = False
        self._wrapped: list[tuple[Any, Any, bool]] = []
        self._own = 0.0  # seconds spent inside the monitor
        self._fatal_warned = False
        self._writer: RunWriter | None = None
        self._act_pending: dict[str, torch.Tensor] = {}
        self._snap: list[torch.Tensor] | None = None
        self._out: torch.Tensor | None = None
        self._atexit: Any = None
        self._pending_fatal: tuple[int, float] | None = None
        self._frac: float | None = None
        t0 = time.perf_counter()
        try:
            self._setup(run_name, num_classes, n_train)
        except Exception as e:  # noqa: BLE001 - never break the user's script
            self._fail(e, "setup")
        self._own += time.perf_counter() - t0

    # ------------------------------------------------------------------ setup

    def _setup(self, run_name: str | None, num_classes: int | None, n_train: int | None) -> None:
        model = self.model
        self._groups = ts.group_params(model)
        self._n_params = len(self._groups.params)
        self._one_device = len({(p.device, p.dtype) for p in self._groups.params}) <= 1
        info, self._task, note = ts.loss_info(self.loss_fn)
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
        self.context.notes.extend(([note] if note else []) + ts.softmax_dim_note(model))
        loss_mod = self.loss_fn if isinstance(self.loss_fn, nn.Module) else None
        self._hooked = ts.hooked_modules(model, {id(loss_mod)} if loss_mod is not None else set())
        self._act_tags = {name: [f"train/act_mean@{name}", f"train/act_std@{name}"]
                          + ([f"train/act_frac_zero@{name}"] if kind == 1 else [f"train/act_frac_saturated@{name}"] if kind else [])
                          for name, _, kind in self._hooked}  # fmt: skip
        # Per-step buffers, moved to the host every FLUSH_STEPS steps or flush_secs.
        self._b_steps: list[int] = []
        self._b_loss: list[Any] = []  # floats (CPU losses) or 0-dim tensors
        self._b_gnorm: list[torch.Tensor | None] = []
        self._b_lr: list[list[float]] = []
        self._b_tel: list[tuple[int, list[str], torch.Tensor]] = []
        self._b_host: list[tuple[int, dict[str, float]]] = []
        self._last_flush = time.perf_counter()
        # Hook outputs for the step being recorded.
        self._last_leaf: nn.Module | None = None
        self._out_last_leaf: nn.Module | None = None
        self._out_act: str | None = None  # decided once from the first output seen
        self._probs: str | None = None
        self._loss_shapes: tuple[Any, Any] | None = None
        # Update ratio: parameters snapshotted on a telemetry step, compared at the next step.
        self._snap_step = -1
        self._snap_wsq: torch.Tensor | None = None
        # Gradient accumulation: zero_grad calls since the last step, and the magnitude of the
        # watched parameter's gradient just before backward adds to it.
        self._zero_calls = 0
        self._watch = min(self._groups.params, key=lambda p: p.numel()) if self._groups.params else None
        self._acc_pre: torch.Tensor | None = None
        self._acc_hits = self._acc_clean = 0
        # Data.
        self._moments = Moments()
        self._input_nonfinite = 0.0
        self._input_checked = False
        self._class_counts: torch.Tensor | None = None
        self._cc_mask_negative = False
        self._ctl_t, self._ctl_own, self._ctl_step = time.perf_counter(), 0.0, 0
        self._writer = RunWriter(self.logdir, self._flush_secs)
        for obj in (self.optimizer, model):
            if obj is not None and hasattr(obj, "zero_grad"):
                self._wrap_zero_grad(obj)
        self._arm()
        self._writer.write_context(self.context)
        self._atexit = functools.partial(_atexit_close, weakref.ref(self))
        atexit.register(self._atexit)

    def _wrap_zero_grad(self, obj: Any) -> None:
        had = "zero_grad" in getattr(obj, "__dict__", {})
        orig = obj.zero_grad
        ref = weakref.ref(self)

        @functools.wraps(orig)
        def zero_grad(*args: Any, **kw: Any) -> Any:
            mon = ref()
            if mon is not None:
                mon._zero_calls += 1
            return orig(*args, **kw)

        obj.zero_grad = zero_grad
        self._wrapped.append((obj, zero_grad, had and orig))

    def _unwrap_zero_grad(self) -> None:
        for obj, wrapper, orig in self._wrapped:
            if obj.__dict__.get("zero_grad") is wrapper:
                if orig:
                    obj.zero_grad = orig
                else:
                    del obj.zero_grad
        self._wrapped.clear()

    # ------------------------------------------------------------------ hooks

    def _arm(self) -> None:
        """Install the telemetry hooks for the next forward/backward (a telemetry step)."""
        if self._armed:
            return
        ref = weakref.ref(self)
        if self._activations or self._out_act is None:
            for name, m, kind in self._hooked:
                self._handles.append(m.register_forward_hook(_act_hook(ref, name, kind)))
        self._handles.append(self.model.register_forward_hook(_root_hook(ref)))
        if isinstance(self.loss_fn, nn.Module):
            self._handles.append(self.loss_fn.register_forward_hook(_loss_hook(ref)))
        if self._watch is not None and self._watch.requires_grad:
            self._handles.append(self._watch.register_hook(_grad_hook(ref)))
        self._armed = True

    def _disarm(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._armed = False
        self._last_leaf = None

    def _on_act(self, name: str, kind: int, module: nn.Module, out: Any) -> None:
        self._last_leaf = module
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
        if len(args) >= 2 and isinstance(args[0], torch.Tensor) and isinstance(args[1], torch.Tensor):
            self._loss_shapes = (tuple(args[0].shape), tuple(args[1].shape))

    def _on_grad(self) -> None:
        w = self._watch
        if self._zero_calls == 0 and w is not None and w.grad is not None and self._acc_pre is None:
            with torch.no_grad():
                self._acc_pre = w.grad.detach().abs().sum().float()

    # ------------------------------------------------------------------ public API

    def step(self, loss: Any, inputs: Any = None, targets: Any = None, outputs: Any = None) -> None:
        """Record one optimizer step: call after ``loss.backward()``, before ``optimizer.step()``.

        ``outputs`` (the model output) is optional: a forward hook on the model sees it.
        """
        if self._disabled or self._closed:
            return
        t0 = time.perf_counter()
        fatal = None
        try:
            with torch.no_grad():
                fatal = self._record(loss, inputs, targets, outputs, t0)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "step")
            return
        finally:
            self._own += time.perf_counter() - t0
        if fatal is None and self._pending_fatal is not None:
            fatal, self._pending_fatal = self._pending_fatal, None
        if fatal is not None:
            self._on_fatal(*fatal)

    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Record evaluation metrics (``val_loss=``, ``val_accuracy=`` ...) at the current step."""
        if self._disabled or self._closed or self._writer is None:
            return
        t0 = time.perf_counter()
        try:
            from traindx.names import map_name

            s = max(self._step - 1, 0) if step is None else int(step)
            values = {}
            for name, v in metrics.items():
                key = map_name(name)
                values[str(key) if key is not None else name] = float(v.detach().float().mean()) if isinstance(v, torch.Tensor) else float(v)
            self._writer.add(s, values)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "log")
        finally:
            self._own += time.perf_counter() - t0

    def flush(self) -> None:
        """Move buffered values to the host and write the event file and ``context.json``."""
        if self._disabled or self._closed or self._writer is None:
            return
        try:
            with torch.no_grad():
                self._flush(force=True)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "flush")

    def diagnose(self) -> Any:
        """:class:`~traindx.diagnosis.Diagnosis` of what was recorded so far."""
        try:
            self.flush()
            from traindx.api import diagnose

            return diagnose(read_run(self.logdir))
        except Exception as e:  # noqa: BLE001
            warn(f"traindx: diagnose failed: {type(e).__name__}: {e}")
            return None

    def close(self) -> None:
        """Flush everything, remove hooks and wrappers; called on ``__exit__`` and at exit."""
        if self._closed:
            return
        try:
            if not self._disabled and self._writer is not None:
                with torch.no_grad():
                    self._flush(force=True, final=True)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "close")
        finally:
            self._closed = True
            self._release()
            if self._writer is not None:
                try:
                    self._writer.close()
                except Exception:  # noqa: BLE001, S110
                    pass

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def enabled(self) -> bool:
        return not self._disabled and not self._closed

    # ------------------------------------------------------------------ failure

    def _fail(self, exc: BaseException, where: str) -> None:
        """Turn the monitor off after an internal error: one warning, hooks removed."""
        first = not self._disabled
        self._disabled = True
        try:
            self._release()
            if self._writer is not None:
                self._writer.flush()
        except Exception:  # noqa: BLE001, S110
            pass
        if first:
            warn(
                f"traindx: the torch monitor turned itself off after an internal error in {where} "
                f"({type(exc).__name__}: {exc}); training is not affected",
                stacklevel=4,
            )

    def _release(self) -> None:
        self._disarm()
        self._unwrap_zero_grad()
        self._snap = None
        self._out = None
        self._act_pending.clear()
        if self._atexit is not None:
            atexit.unregister(self._atexit)
            self._atexit = None

    def _on_fatal(self, step: int, value: float) -> None:
        msg = f"traindx: training loss is {value} at step {step}"
        if self.on_fatal == "stop":
            diag = self.diagnose()
            raise TrainingDiverged(msg + " (on_fatal='stop'); see .diagnosis", diag)
        if not self._fatal_warned:
            self._fatal_warned = True
            warn(msg + "; mon.diagnose() ranks the likely causes", stacklevel=3)

    # ------------------------------------------------------------------ recording

    def _record(self, loss: Any, inputs: Any, targets: Any, outputs: Any, t0: float) -> tuple[int, float] | None:
        s = self._step
        model = self.model
        fatal = None
        if self._snap is not None:
            self._finish_update_ratio()
        # Loss: a float on CPU (cheaper than keeping a tensor), else a tensor on its device.
        if isinstance(loss, torch.Tensor):
            lt = loss.detach()
            if lt.numel() != 1:
                lt = lt.float().mean()
            if lt.device.type == "cpu":
                lv = float(lt)
                self._b_loss.append(lv)
                if not math.isfinite(lv):
                    fatal = (s, lv)
            else:
                lt = lt.reshape(())
                self._b_loss.append(lt)
                if self.on_fatal == "stop" and not bool(torch.isfinite(lt)):
                    fatal = (s, float(lt))
        else:
            lv = float("nan") if loss is None else float(loss)
            self._b_loss.append(lv)
            if loss is not None and not math.isfinite(lv):
                fatal = (s, lv)
        self._b_steps.append(s)
        self._b_lr.append([float(g["lr"]) for g in self.optimizer.param_groups] if self.optimizer is not None else [])
        # Global gradient norm: one fused norm over all gradients.
        grads = [p.grad for p in self._groups.params]
        present = [g for g in grads if g is not None]
        norms = self._norms(present) if present else None
        self._b_gnorm.append(torch.linalg.vector_norm(norms) if norms is not None else None)
        self.context.model.training_mode = model.training
        tgt = ts.first_tensor(targets)
        if tgt is not None and (tgt.device.type == "cpu" or s == self._next_tel):
            self._count_classes(tgt)  # every step on CPU; sampled on accelerators (bincount syncs)
        if s == self._next_tel or (fatal is not None and inputs is not None):
            self._telemetry(s, grads, present, norms, inputs, tgt, outputs, full=s == self._next_tel)
        if s == 0 or s == self._next_tel:
            self._static_from_batch(inputs, tgt)
        if self._zero_calls:
            self._acc_clean += 1
        self._zero_calls = 0
        # Schedule the next telemetry step and (dis)arm the hooks for it.
        if s == self._next_tel:
            self._adapt(s)
            self._next_tel = s + self.every
        self._step = s + 1
        if len(self._b_steps) >= FLUSH_STEPS or t0 - self._last_flush >= self._flush_secs:
            self._flush()
        if self._step == self._next_tel:
            self._arm()
        elif self._armed:
            self._disarm()
        self._act_pending.clear()
        self._out = None
        self._acc_pre = None
        return fatal

    def _norms(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """L2 norm of each tensor, stacked (float32, on the first tensor's device)."""
        try:
            norms = torch._foreach_norm(tensors, 2, dtype=torch.float32)
        except (RuntimeError, TypeError, NotImplementedError):  # sparse or unusual tensors
            norms = [(t.coalesce().values() if t.is_sparse else t).float().norm() for t in tensors]
        if self._one_device:
            return torch.stack(norms)
        dev = tensors[0].device
        return torch.stack([n.to(dev) for n in norms])

    def _module_norms(self, norms: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        sq = torch.zeros(len(self._groups.names), dtype=norms.dtype, device=norms.device)
        return sq.index_add_(0, index.to(norms.device), norms * norms)

    def _telemetry(self, s: int, grads: list[Any], present: list[torch.Tensor], norms: torch.Tensor | None,
                   inputs: Any, tgt: torch.Tensor | None, outputs: Any, full: bool) -> None:  # fmt: skip
        tags: list[str] = []
        vals: list[torch.Tensor] = []
        host: dict[str, float] = {}
        g = self._groups
        x = ts.first_tensor(inputs)
        if x is not None or tgt is not None:
            nf = torch.zeros((), device=(x if x is not None else tgt).device)  # type: ignore[union-attr]
            if x is not None and x.numel():
                summ = ts.tensor_summary(x)
                tags += [*_INPUT_TAGS, "_in_nf", "_in_n"]
                vals.append(summ)
                nf = summ[4]
            if tgt is not None:
                nf = nf + ts.nonfinite_count(tgt).to(nf.device)
            tags.append("train/nonfinite@inputs")
            vals.append(nf)
        if not full:
            if vals:
                self._b_tel.append((s, tags, torch.cat([v.reshape(-1).float() for v in vals])))
            return
        if norms is not None:
            index = g.index if len(present) == len(grads) else torch.tensor(
                [m for m, gr in zip(g.module_of, grads, strict=True) if gr is not None], device=g.index.device)  # fmt: skip
            tags += [f"train/grad_norm@{n}" for n in g.names]
            vals.append(self._module_norms(norms, index).sqrt())
            missing = len(grads) - len(present)
            tags.append("_pwg")
            vals.append((norms == 0).sum().float() + missing)
            bad = (~torch.isfinite(norms)).nonzero().reshape(-1).tolist()
            host["train/nonfinite@grads"] = float(sum(
                int(present[i].numel() - torch.count_nonzero(torch.isfinite(present[i]))) for i in bad))  # fmt: skip
        elif self._n_params:
            host["_pwg"] = float(self._n_params)
        if self._n_params:
            params = g.params
            wn = self._norms(params)
            wsq = self._module_norms(wn, g.index)
            tags += [f"train/weight_norm@{n}" for n in g.names] + ["train/weight_norm"]
            vals += [wsq.sqrt(), wsq.sum().sqrt()]
            self._snap = torch._foreach_mul(params, 1.0)  # a copy; compared at the next step
            self._snap_wsq, self._snap_step = wsq, s
        for name, v in self._act_pending.items():
            tags += self._act_tags[name]
            vals.append(v)
        out = ts.first_tensor(outputs) if outputs is not None else self._out
        if out is not None:
            self._output_telemetry(out, tgt, tags, vals)
        if self._acc_pre is not None:
            tags.append("_acc")
            vals.append(self._acc_pre)
        if self._loss_shapes is not None:
            self._check_broadcast(*self._loss_shapes)
            self._loss_shapes = None
        elif out is not None and tgt is not None and self._elementwise and not isinstance(self.loss_fn, nn.Module):
            self._check_broadcast(tuple(out.shape), tuple(tgt.shape))
        if vals:
            dev = vals[0].device
            self._b_tel.append((s, tags, torch.cat([v.reshape(-1).float().to(dev) for v in vals])))
        if host:
            self._b_host.append((s, host))

    def _finish_update_ratio(self) -> None:
        """‖w_now − w_snapshot‖ / ‖w_snapshot‖ per module, recorded at the snapshot's step."""
        snap, self._snap = self._snap, None
        params = self._groups.params
        torch._foreach_sub_(snap, params)  # our copy becomes w_before - w_now
        dn = self._norms(snap)
        del snap
        dsq = self._module_norms(dn, self._groups.index)
        wsq = self._snap_wsq
        ratio = dsq.sqrt() / wsq.sqrt().clamp_min(1e-30)  # type: ignore[union-attr]
        total = dsq.sum().sqrt() / wsq.sum().sqrt().clamp_min(1e-30)  # type: ignore[union-attr]
        tags = [f"train/update_ratio@{n}" for n in self._groups.names] + ["train/update_ratio"]
        self._b_tel.append((self._snap_step, tags, torch.cat([ratio, total.reshape(1)]).float()))

    def _output_telemetry(self, out: torch.Tensor, tgt: torch.Tensor | None, tags: list[str], vals: list[torch.Tensor]) -> None:
        cdim = ts.class_dim(out, tgt)
        if self._out_act is None:
            self._decide_output(out, cdim)
        for tag, v in ts.output_stats(out, self._probs, cdim).items():
            if tag == "train/pred_class_frac:max" and self._task not in (None, "classification") and self._probs is None:
                continue
            tags.append(tag)
            vals.append(v)
        if tgt is not None:
            acc = ts.accuracy(out, tgt, self._task, cdim, self._out_act)
            if acc is not None:
                tags.append("train/accuracy")
                vals.append(acc)

    def _decide_output(self, out: torch.Tensor, cdim: int) -> None:
        """The output activation: the activation module run last, or what the values show."""
        leaf = self._out_last_leaf
        m = self.context.model
        width = out.shape[cdim] if out.dim() >= 2 else 1
        m.output_units = int(width)
        act = None
        if leaf is not None and ts.is_activation(leaf):
            act = ts.ACTIVATIONS[ts.kind_of(leaf)]
        elif out.numel():
            act = _infer_activation(out, cdim)
            if act != "linear":
                self.context.notes.append(f"output activation '{act}' inferred from the output values (a functional call)")
        self._out_act = act or "linear"
        m.output_activation = self._out_act
        if self._out_act in ("softmax", "log_softmax") or (self._out_act == "sigmoid" and self._task == "classification"):
            self._probs = self._out_act
        d = self.context.data
        if d.num_classes is None and width >= 2 and self._task == "classification":
            d.num_classes = int(width)
        if d.num_classes is None and self._task == "binary" and width == 1:
            d.num_classes = 2

    def _check_broadcast(self, a: tuple[int, ...], b: tuple[int, ...]) -> None:
        flags = self.context.flags
        if not self._elementwise:
            return
        if a != b:
            try:
                torch.broadcast_shapes(a, b)
                flags["broadcast_in_loss"] = True
                note = f"element-wise loss called with shapes {list(a)} and {list(b)} (broadcast)"
                if note not in self.context.notes:
                    self.context.notes.append(note)
            except RuntimeError:
                pass
        flags.setdefault("broadcast_in_loss", False)

    def _static_from_batch(self, inputs: Any, tgt: torch.Tensor | None) -> None:
        d = self.context.data
        x = ts.first_tensor(inputs)
        if x is not None and x.dim() >= 1:
            d.batch_size = max(d.batch_size or 0, int(x.shape[0]))
            d.input_dtype = str(x.dtype).removeprefix("torch.")
        if self._step == 0 and self._groups.params and self._watch is not None and self._watch.grad is None:
            with_grad = [p for p in self._groups.params if p.grad is not None]
            if with_grad:  # watch a parameter that does receive gradients
                self._watch = min(with_grad, key=lambda p: p.numel())
                self._disarm()

    def _count_classes(self, t: torch.Tensor) -> None:
        """Bincount of integer targets (binary float targets as 0/1), accumulated on device."""
        if self._task not in ("classification", "binary", None):
            return
        if t.is_floating_point():
            if self._task != "binary" or t.dim() > 2 or (t.dim() == 2 and t.shape[1] != 1):
                return
            t = (t > 0.5).long()
        elif t.dtype == torch.bool:
            t = t.long()
        flat = t.reshape(-1)
        if self._cc_mask_negative:
            flat = flat[flat >= 0]
        try:
            c = torch.bincount(flat, minlength=self._class_counts.numel() if self._class_counts is not None else 0)
        except RuntimeError:  # negative labels (ignore_index): drop them from now on
            self._cc_mask_negative = True
            flat = flat[flat >= 0]
            c = torch.bincount(flat, minlength=self._class_counts.numel() if self._class_counts is not None else 0)
        if self._class_counts is None:
            self._class_counts = c
        elif c.numel() > self._class_counts.numel():
            c[: self._class_counts.numel()] += self._class_counts
            self._class_counts = c
        else:
            self._class_counts += c

    def _adapt(self, s: int) -> None:
        """Adaptive cadence: double ``every`` while the monitor costs more than the budget."""
        now = time.perf_counter()
        if not self._adaptive or s - self._ctl_step < self.every or s == 0:
            if s == 0:
                self._ctl_t, self._ctl_own, self._ctl_step = now, self._own, s
            return
        wall = now - self._ctl_t
        own = self._own - self._ctl_own
        frac = own / wall if wall > 0 else 0.0
        self._frac = frac
        if frac > BUDGET and self.every < MAX_EVERY:
            self.every = min(self.every * 2, MAX_EVERY)
        elif frac < BUDGET / 4 and self.every > MIN_EVERY:
            self.every = max(self.every // 2, MIN_EVERY)
        self._ctl_t, self._ctl_own, self._ctl_step = now, self._own, s

    # ------------------------------------------------------------------ flushing

    def _flush(self, force: bool = False, final: bool = False) -> None:
        w = self._writer
        if w is None:
            return
        pieces: list[torch.Tensor] = []
        dev_loss = [v for v in self._b_loss if isinstance(v, torch.Tensor)]
        gn = [v for v in self._b_gnorm if v is not None]
        for group in (dev_loss, gn):
            if group:
                pieces.append(torch.stack([v.float().to(group[0].device) for v in group]))
        pieces += [v for _, _, v in self._b_tel]
        host_vals: list[float] = []
        if pieces:
            dev = pieces[0].device
            host_vals = torch.cat([p.reshape(-1).to(dev) for p in pieces]).tolist()
        it = iter(host_vals)
        losses = [float(next(it)) if isinstance(v, torch.Tensor) else v for v in self._b_loss]
        gnorms = [next(it) if v is not None else None for v in self._b_gnorm]
        for i, s in enumerate(self._b_steps):
            vals: dict[str, float] = {"train/loss": losses[i]}
            if gnorms[i] is not None:
                vals["train/grad_norm"] = gnorms[i]  # type: ignore[assignment]
            for j, lr in enumerate(self._b_lr[i]):
                vals["train/lr" if j == 0 else f"train/lr@pg{j}"] = lr
            w.add(s, vals)
            if not math.isfinite(losses[i]) and self.on_fatal == "warn" and not self._fatal_warned:
                self._pending_fatal = (s, losses[i])
        for s, tags, v in self._b_tel:
            vals = {}
            for tag in tags:
                vals[tag] = next(it)
            self._absorb(s, vals)
            w.add(s, {k: x for k, x in vals.items() if not k.startswith("_")})
        for s, host in self._b_host:
            self._absorb(s, host)
            w.add(s, {k: x for k, x in host.items() if not k.startswith("_")})
        if self._class_counts is not None:
            self.context.data.class_counts = [int(c) for c in self._class_counts.tolist()]
            d = self.context.data
            if d.num_classes is None and self._task == "classification" and self._out_act is None:
                d.num_classes = len(d.class_counts)
        self._b_steps.clear(), self._b_loss.clear(), self._b_gnorm.clear(), self._b_lr.clear()
        self._b_tel.clear(), self._b_host.clear()
        self._last_flush = time.perf_counter()
        if final:
            self.context.notes = [n for n in self.context.notes if not n.startswith("traindx monitor:")]
            self.context.notes.append(
                f"traindx monitor: {self._step} steps, per-layer telemetry every {self.every} steps"
                + (f", measured overhead {100 * self._frac:.2f} %" if getattr(self, "_frac", None) is not None else "")
            )
        w.write_context(self.context)
        if force:
            w.flush()
        else:
            w.maybe_flush()

    def _absorb(self, s: int, vals: dict[str, float]) -> None:
        """Fold a telemetry step's values into the context (moments, flags)."""
        flags = self.context.flags
        if "train/input_mean" in vals:
            self._moments.merge(vals["_in_n"], vals["train/input_mean"], vals["train/input_std"],
                                vals["train/input_min"], vals["train/input_max"])  # fmt: skip
            mo, d = self._moments, self.context.data
            if mo.n:
                d.input_mean, d.input_std, d.input_min, d.input_max = mo.mean, mo.std, mo.min, mo.max
        if "train/nonfinite@inputs" in vals:
            self._input_nonfinite += vals["train/nonfinite@inputs"]
            flags["input_nonfinite"] = float(self._input_nonfinite)
        if "_pwg" in vals and s >= 2:
            flags["params_without_grad"] = float(vals["_pwg"])
        if "_acc" in vals and vals["_acc"] > 0:
            self._acc_hits += 1
        if self._acc_hits >= 2:
            flags["grad_accumulating"] = True
        elif self._acc_hits == 0 and self._acc_clean >= 3:
            flags["grad_accumulating"] = False


def _infer_activation(out: torch.Tensor, cdim: int) -> str:
    """Guess a functional output activation from values (first output only; syncs once)."""
    o = out.detach().float()
    if o.dim() < 2 or o.shape[cdim] < 2:
        lo, hi = torch.aminmax(o)
        return "sigmoid" if 0.0 < float(lo) and float(hi) < 1.0 else "linear"
    lo, hi = (float(v) for v in torch.aminmax(o))
    if lo >= 0.0 and hi <= 1.0:
        rows = (o.sum(cdim) - 1).abs().max()
        cols = (o.sum(0) - 1).abs().max()
        if float(rows) < 1e-3 or float(cols) < 1e-3:
            return "softmax"
        if lo > 0.0:
            return "sigmoid"
    if hi <= 0.0 and float((torch.logsumexp(o, cdim)).abs().max()) < 1e-3:
        return "log_softmax"
    if lo == 0.0 and float((o == 0).float().mean()) > 0.05:
        return "relu"
    return "linear"


# ---------------------------------------------------------------------- hook factories
# Hooks hold a weak reference to the monitor; any error inside turns the monitor off.


def _guarded(ref: weakref.ref, where: str, fn: Any, forward: bool = True) -> None:
    mon = ref()
    # Forward hooks skip evaluation forwards (no grad); backward hooks run with grad mode off.
    if mon is None or mon._disabled or (forward and not torch.is_grad_enabled()):
        return
    t0 = time.perf_counter()
    try:
        fn(mon)
    except Exception as e:  # noqa: BLE001
        mon._fail(e, where)
    finally:
        mon._own += time.perf_counter() - t0


def _act_hook(ref: weakref.ref, name: str, kind: int) -> Any:
    def hook(module: nn.Module, args: Any, out: Any) -> None:
        _guarded(ref, f"activation hook of '{name}'", lambda mon: mon._on_act(name, kind, module, out))

    return hook


def _root_hook(ref: weakref.ref) -> Any:
    def hook(module: nn.Module, args: Any, out: Any) -> None:
        _guarded(ref, "model output hook", lambda mon: mon._on_root(out))

    return hook


def _loss_hook(ref: weakref.ref) -> Any:
    def hook(module: nn.Module, args: Any, out: Any) -> None:
        _guarded(ref, "loss hook", lambda mon: mon._on_loss(args))

    return hook


def _grad_hook(ref: weakref.ref) -> Any:
    def hook(grad: torch.Tensor) -> None:
        _guarded(ref, "gradient hook", lambda mon: mon._on_grad(), forward=False)

    return hook


def _atexit_close(ref: weakref.ref) -> None:
    mon = ref()
    if mon is not None:
        mon.close()
