"""Lightning adapter: a ``Callback`` that records a ``Trainer.fit`` run for diagnosis.

>>> from traindx.adapters.lightning import DiagnosisCallback      # doctest: +SKIP
>>> trainer = L.Trainer(max_epochs=10, callbacks=[DiagnosisCallback(logdir="runs/exp1")])
>>> trainer.fit(model, datamodule=dm)                            # doctest: +SKIP
$ traindx diagnose runs/exp1

Built on the torch :class:`~traindx.adapters.torch.Monitor`: the loss of every optimizer
step comes from ``on_before_backward`` (summed over accumulated micro-batches: Lightning
divides each by ``accumulate_grad_batches``), gradients are read in
``on_before_optimizer_step`` (after backward and AMP unscaling, before the step), inputs and
targets from the batch (``(x, y, ...)`` or a dict), validation metrics from
``trainer.callback_metrics`` after each validation (sanity checks left out), and the context
from the LightningModule (layers, ``hparams``, a loss module it holds), its first optimizer
and scheduler, the trainer (epochs, steps, accumulation, clipping) and the datamodule or
train loader (``num_classes``, batch size, dataset size). Only the global-zero process
records.

The callback never changes training (it reads tensors; it draws no random numbers; it
installs nothing on the module or optimizer); an internal error turns it off with one
``RuntimeWarning``. With ``on_fatal="stop"`` a non-finite loss raises
:class:`~traindx.adapters._common.TrainingDiverged` on purpose.

``lightning`` is the package imported; with only the older ``pytorch_lightning`` installed
that one is used (:func:`callback_class` builds the callback for either).
"""

from __future__ import annotations

import os
from typing import Any

try:
    try:
        import lightning.pytorch as pl
    except ImportError:
        import pytorch_lightning as pl  # type: ignore[no-redef]
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "traindx.adapters.lightning needs Lightning: pip install 'traindx[lightning]'"
    ) from e

import torch
from torch import nn

from traindx.adapters._torch_callback import MonitorCallback, dataset_len, plain, split_batch
from traindx.names import map_name

__all__ = ["DiagnosisCallback", "callback_class"]

_LOSS_ATTRS = ("loss_fn", "criterion", "loss", "loss_func", "loss_module", "criterion_fn")
_OWN = {"train/loss", "train/lr", "train/grad_norm"}  # recorded every step by the monitor


def find_loss(module: nn.Module) -> Any:
    """The loss module a LightningModule holds (an attribute such as ``self.criterion``, or
    the first ``torch.nn`` loss among its children), else ``None``."""
    for name in _LOSS_ATTRS:
        v = getattr(module, name, None)
        if isinstance(v, nn.Module) or (callable(v) and not hasattr(v, "__self__")):
            return v  # a loss module, or a function such as F.cross_entropy (not a method)
    for m in module.modules():
        if isinstance(m, nn.modules.loss._Loss):
            return m
    return None


class _Hooks(MonitorCallback):
    """The hooks; :func:`callback_class` mixes them into a Lightning ``Callback``."""

    _kind = "Lightning callback"

    def __init__(self, logdir: str | os.PathLike[str] | None = None, **kwargs: Any):
        super().__init__(logdir, **kwargs)  # MonitorCallback: the Monitor's arguments
        self._loss: torch.Tensor | None = None
        self._batch: Any = None

    # ------------------------------------------------------------------ hooks

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._guarded("on_train_start", self._start, trainer, pl_module)

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.monitor is not None:
            self._batch = batch

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None:
        if self.monitor is not None and not self._off:
            self._guarded("on_before_backward", self._add_loss, loss)

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.monitor is not None:
            self._guarded("on_before_optimizer_step", self._step, optimizer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None and not trainer.sanity_checking:
            self._guarded("on_validation_end", self._log, trainer, True)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None:
            self._guarded("on_train_epoch_end", self._log, trainer, False)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._guarded("on_train_end", self._close)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._guarded("on_exception", self._close)

    # ------------------------------------------------------------------ work

    def _start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero or self.monitor is not None:
            return
        opts = list(trainer.optimizers)
        dm = getattr(trainer, "datamodule", None)
        dl = trainer.train_dataloader
        loss_fn = find_loss(pl_module) if self.loss_fn is None else None
        ctx = self._open_monitor(pl_module, opts[0] if opts else None, loss_fn,
                                 self.num_classes or _int_attr("num_classes", pl_module, dm),
                                 self.n_train or dataset_len(dl))  # fmt: skip
        hp = ctx.hyperparameters
        for src in (getattr(dm, "hparams", None), getattr(pl_module, "hparams", None)):
            for k, v in dict(src or {}).items():
                if plain(v) is not None:
                    hp[str(k)] = plain(v)
        if trainer.max_epochs is not None and trainer.max_epochs > 0:
            ctx.epochs = int(trainer.max_epochs)
        if trainer.max_steps is not None and trainer.max_steps > 0:
            ctx.max_steps = int(trainer.max_steps)
        n_batches = trainer.num_training_batches
        acc = int(trainer.accumulate_grad_batches or 1)
        if isinstance(n_batches, int) and n_batches > 0:
            ctx.steps_per_epoch = max(n_batches // acc, 1)
        if acc > 1:
            hp["accumulate_grad_batches"] = acc
        if len(opts) > 1:
            ctx.notes.append(
                f"{len(opts)} optimizers: gradients are recorded at the first one's steps"
            )
        bs = getattr(dl, "batch_size", None) or _int_attr("batch_size", dm, pl_module)
        if isinstance(bs, int):
            ctx.data.batch_size = bs
        clip = trainer.gradient_clip_val
        if clip and (trainer.gradient_clip_algorithm or "norm") == "norm":
            ctx.optimizer.clipnorm = float(clip)
        elif clip:
            ctx.optimizer.clipvalue = float(clip)
        scheds = getattr(trainer, "lr_scheduler_configs", None) or []
        if scheds:
            ctx.optimizer.schedule = type(scheds[0].scheduler).__name__.lower()

    def _add_loss(self, loss: Any) -> None:
        if isinstance(loss, torch.Tensor):
            t = loss.detach()
            self._loss = t if self._loss is None else self._loss + t

    def _step(self, optimizer: Any) -> None:
        mon = self.monitor
        opt = getattr(optimizer, "optimizer", optimizer)  # a LightningOptimizer wraps it
        if mon is None or (mon.optimizer is not None and opt is not mon.optimizer):
            return
        loss, self._loss = self._loss, None
        x, y = split_batch(self._batch)
        self._batch = None
        mon.step(loss, inputs=x, targets=y)

    def _log(self, trainer: Any, validation: bool) -> None:
        metrics = {}
        for k, v in trainer.callback_metrics.items():
            tag = str(map_name(k) or k)
            if k.endswith("_step") or tag in _OWN:
                continue
            if tag.startswith("val/") == validation:
                metrics[k] = v
        if metrics:
            self.monitor.log(**metrics)  # type: ignore[union-attr]


def _int_attr(name: str, *objs: Any) -> int | None:
    for o in objs:
        if o is None:
            continue
        v = getattr(o, name, None)
        if v is None:
            hp = getattr(o, "hparams", None)
            v = hp.get(name) if hasattr(hp, "get") else None
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def callback_class(base: type) -> type:
    """The diagnosis callback as a subclass of ``base`` (``lightning.pytorch.Callback`` or
    ``pytorch_lightning.Callback``: each Trainer accepts only its own)."""
    return type(
        "DiagnosisCallback", (_Hooks, base), {"__module__": __name__, "__doc__": _Hooks.__doc__}
    )


DiagnosisCallback: Any = callback_class(pl.Callback)
DiagnosisCallback.__doc__ = """Record a Lightning ``Trainer.fit`` run in ``logdir`` (default
``runs/<run_name or date-time>``); the other arguments are the torch Monitor's (``loss_fn``:
the loss, when the module does not hold it as an attribute such as ``self.criterion``)."""
