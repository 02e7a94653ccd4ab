"""HF Transformers adapter: a ``TrainerCallback`` that records a ``Trainer.train`` run.

>>> from traindx.adapters.hf import DiagnosisCallback             # doctest: +SKIP
>>> trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val,
...                   callbacks=[DiagnosisCallback(logdir="runs/exp1")])
>>> trainer.train()                                              # doctest: +SKIP
$ traindx diagnose runs/exp1

Built on the torch :class:`~traindx.adapters.torch.Monitor`, with the model and optimizer the
callback events carry. The loss of every optimizer step comes from the model's own output
(``outputs.loss``, seen by a forward hook on the model that exists only between
``on_step_begin`` and ``on_pre_optimizer_step``; micro-batches of gradient accumulation
combined as the Trainer combines them); when the model computes no loss (a custom
``compute_loss``, label smoothing) the logged ``loss`` of ``on_log`` is recorded instead.
Gradients are read in ``on_pre_optimizer_step`` (after clipping), evaluation metrics come
from ``on_evaluate``, and the context from ``TrainingArguments`` (learning rate, schedule,
warmup, weight decay, clipping, batch size, accumulation, epochs, ``max_steps``) and the
model (its layers; the loss its head computes; ``num_labels`` of a classifier). Only the
main process records.

The callback never changes training (it reads tensors, draws no random numbers and leaves
nothing installed on the model or optimizer between steps); an internal error turns it off
with one ``RuntimeWarning``.
"""

from __future__ import annotations

import math
import os
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("traindx.adapters.hf needs transformers: pip install 'traindx[hf]'") from e

import torch
from torch import nn

from traindx.adapters._torch_callback import MonitorCallback, dataset_len, plain
from traindx.names import map_name

__all__ = ["DiagnosisCallback"]

_ARGS = ("learning_rate", "lr_scheduler_type", "warmup_steps", "warmup_ratio", "weight_decay",
         "max_grad_norm", "per_device_train_batch_size", "gradient_accumulation_steps",
         "num_train_epochs", "max_steps", "seed", "optim", "adam_beta1", "adam_beta2",
         "adam_epsilon", "label_smoothing_factor", "fp16", "bf16")  # fmt: skip
_INPUT_KEYS = ("pixel_values", "input_values", "inputs_embeds", "x", "inputs", "input", "features")
_CLASSIFIERS = ("ForSequenceClassification", "ForImageClassification", "ForAudioClassification")


def head_loss(model: nn.Module) -> nn.Module | None:
    """The loss a Transformers model's head computes, from its class and ``config``."""
    name = type(model).__name__
    cfg = getattr(model, "config", None)
    if cfg is None or "For" not in name:
        return None
    if name.endswith(_CLASSIFIERS):
        pt = getattr(cfg, "problem_type", None)
        if pt == "regression" or (pt is None and getattr(cfg, "num_labels", 2) == 1):
            return nn.MSELoss()
        if pt == "multi_label_classification":
            return nn.BCEWithLogitsLoss()
    return nn.CrossEntropyLoss()


def _value(v: Any) -> Any:
    v = getattr(v, "value", v)  # enums (SchedulerType.LINEAR -> "linear")
    return plain(v)


class DiagnosisCallback(TrainerCallback, MonitorCallback):
    """Record an HF ``Trainer`` run in ``logdir`` (default ``runs/<run_name or date-time>``);
    the other arguments are the torch Monitor's (``loss_fn``: the loss, when the model is
    not a Transformers model whose head says it)."""

    _kind = "HF Trainer callback"

    def __init__(self, logdir: str | os.PathLike[str] | None = None, **kwargs: Any):
        super().__init__(logdir, **kwargs)  # MonitorCallback: the Monitor's arguments
        self._handle: Any = None
        self._losses: list[torch.Tensor] = []
        self._summed = False  # micro-batch losses already divided by the items of the step
        self._x: Any = None
        self._y: Any = None
        self._seen_loss = False  # the model's output carried a loss at least once

    # ------------------------------------------------------------------ events

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._guarded("on_train_begin", self._start, args, state, kw)

    def on_step_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        if self.monitor is not None:
            self._guarded("on_step_begin", self._hook, model)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.monitor is not None:
            self._guarded("on_pre_optimizer_step", self._step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._unhook()

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if self.monitor is not None and not self._seen_loss and logs and "loss" in logs:
            self._guarded("on_log", self._log, state, {"loss": logs["loss"]})

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kw: Any
    ) -> None:
        if self.monitor is not None and metrics:
            vals = {k: v for k, v in metrics.items() if str(map_name(k) or "").startswith("val/")}
            self._guarded("on_evaluate", self._log, state, vals)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._unhook()
        self._guarded("on_train_end", self._close)

    # ------------------------------------------------------------------ work

    def _start(self, args: Any, state: Any, kw: dict[str, Any]) -> None:
        if not getattr(state, "is_world_process_zero", True) or self.monitor is not None:
            return
        model, opt, dl = kw.get("model"), kw.get("optimizer"), kw.get("train_dataloader")
        opt = getattr(opt, "optimizer", opt)  # accelerate's AcceleratedOptimizer wraps it
        num_classes = None
        if type(model).__name__.endswith(_CLASSIFIERS):
            n = getattr(getattr(model, "config", None), "num_labels", None)
            num_classes = n if isinstance(n, int) and n >= 2 else None
        loss_fn = head_loss(model) if self.loss_fn is None else None
        n_train = dataset_len(dl) if self.n_train is None else None
        ctx = self._open_monitor(model, opt, loss_fn, num_classes, n_train)
        hp = ctx.hyperparameters
        for k in _ARGS:
            v = _value(getattr(args, k, None))
            if v is not None:
                hp[k] = v
        if isinstance(state.max_steps, int) and state.max_steps > 0:
            ctx.max_steps = state.max_steps
        epochs = getattr(state, "num_train_epochs", None) or getattr(args, "num_train_epochs", None)
        if epochs:
            ctx.epochs = math.ceil(float(epochs))
        gas = max(int(getattr(args, "gradient_accumulation_steps", 1) or 1), 1)
        try:
            ctx.steps_per_epoch = max(len(dl) // gas, 1)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001, S110
            pass
        ctx.optimizer.schedule = _value(getattr(args, "lr_scheduler_type", None))
        clip = getattr(args, "max_grad_norm", None)
        if clip and clip > 0:
            ctx.optimizer.clipnorm = float(clip)
        bs = getattr(dl, "batch_size", None) or getattr(args, "per_device_train_batch_size", None)
        if isinstance(bs, int):
            ctx.data.batch_size = bs

    def _hook(self, model: Any) -> None:
        self._unhook()
        self._losses.clear()
        self._x = self._y = None
        if isinstance(model, nn.Module):  # (still in eval mode after an evaluation)
            self._handle = model.register_forward_hook(self._on_forward, with_kwargs=True)

    def _unhook(self) -> None:
        h, self._handle = self._handle, None
        if h is not None:
            h.remove()

    def _on_forward(self, module: Any, args: Any, kwargs: Any, out: Any) -> None:
        if self._off:
            return
        try:
            loss = out.get("loss") if isinstance(out, dict) else getattr(out, "loss", None)
            if isinstance(loss, torch.Tensor) and loss.numel() == 1:
                self._losses.append(loss.detach().reshape(()))
                self._summed = "num_items_in_batch" in kwargs
            y = kwargs.get("labels", args[1] if len(args) > 1 else None)
            self._y = y if isinstance(y, torch.Tensor) and y.dim() == 1 else None
            x = next((kwargs[k] for k in _INPUT_KEYS if isinstance(kwargs.get(k), torch.Tensor)),
                     args[0] if args and isinstance(args[0], torch.Tensor) else None)  # fmt: skip
            self._x = x if isinstance(x, torch.Tensor) and x.is_floating_point() else None
        except Exception as e:  # noqa: BLE001
            self._unhook()
            self._fail(e, "the forward hook")

    def _step(self) -> None:
        self._unhook()
        ls, self._losses = self._losses, []
        loss = None
        if ls:
            self._seen_loss = True
            loss = torch.stack(ls).sum() if self._summed else torch.stack(ls).mean()
        self.monitor.step(loss, inputs=self._x, targets=self._y)  # type: ignore[union-attr]
        self._x = self._y = None

    def _log(self, state: Any, metrics: dict[str, Any]) -> None:
        if metrics:
            step = max(int(state.global_step) - 1, 0)
            self.monitor.log(step=step, **metrics)  # type: ignore[union-attr]

    def _fail(self, exc: BaseException, where: str) -> None:
        self._unhook()
        super()._fail(exc, where)
