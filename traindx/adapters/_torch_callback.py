"""What the trainer callbacks built on the torch :class:`~traindx.adapters.torch.Monitor`
share (Lightning, HF Transformers): their arguments, opening the monitor, turning themselves
off after an internal error, and finding inputs and targets in a batch.

A callback runs inside someone else's training loop: every hook goes through
:meth:`MonitorCallback._guarded`, which turns an internal error into one ``RuntimeWarning``
(the monitor closed, what it recorded kept) and lets training go on. The one exception that
passes is :class:`~traindx.adapters._common.TrainingDiverged`, raised on purpose with
``on_fatal="stop"``.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch

from traindx.adapters._common import TrainingDiverged, warn

_X_KEYS = ("x", "input", "inputs", "image", "images", "pixel_values", "input_values",
           "inputs_embeds", "features")  # fmt: skip
_Y_KEYS = ("y", "target", "targets", "label", "labels")


def split_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets)`` of a batch as data loaders yield them: ``(x, y, ...)``, a dict
    with the usual keys, or a lone tensor (no targets); ``(None, None)`` otherwise."""
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and batch:
        x = batch[0] if isinstance(batch[0], torch.Tensor) else None
        y = batch[1] if len(batch) > 1 and isinstance(batch[1], torch.Tensor) else None
        return x, y
    if isinstance(batch, dict):
        x = next((batch[k] for k in _X_KEYS if isinstance(batch.get(k), torch.Tensor)), None)
        y = next((batch[k] for k in _Y_KEYS if isinstance(batch.get(k), torch.Tensor)), None)
        return x, y
    return None, None


def plain(value: Any) -> Any:
    """A hyperparameter as JSON can hold it (numbers, strings, bools, None), else ``None``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return None


def dataset_len(loader: Any) -> int | None:
    """Rows in a data loader's dataset; None for an iterable dataset (it has no length)."""
    try:
        return len(loader.dataset)
    except Exception:  # noqa: BLE001 - iterable datasets have no length
        return None


class MonitorCallback:
    """A callback owning a :class:`~traindx.adapters.torch.Monitor` in ``self.monitor``: the
    Monitor's arguments (``loss_fn``, ``num_classes``, ``n_train`` when the trainer cannot tell
    them), the monitor opened by :meth:`_open_monitor` when training starts, and the guard of
    every hook; subclasses name themselves in ``_kind``."""

    _kind = "callback"
    monitor: Any = None
    _off = False

    def __init__(
        self,
        logdir: str | os.PathLike[str] | None = None,
        *,
        loss_fn: Any = None,
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
        super().__init__()
        self.logdir, self.loss_fn, self.run_name = logdir, loss_fn, run_name
        self._kw = dict(every=every, activations=activations, on_fatal=on_fatal,
                        flush_secs=flush_secs, run_name=run_name)  # fmt: skip
        self.num_classes, self.n_train = num_classes, n_train
        self.monitor = None
        self._off = False

    def _open_monitor(
        self, model: Any, optimizer: Any, loss_fn: Any, num_classes: int | None, n_train: int | None
    ) -> Any:
        """The Monitor on ``model`` (the user's ``loss_fn``, ``num_classes`` and ``n_train``
        win over those the trainer gave); returns its context for the trainer's facts."""
        from traindx.adapters.torch import Monitor

        self.monitor = Monitor(
            model,
            optimizer,
            loss_fn=self.loss_fn if self.loss_fn is not None else loss_fn,
            logdir=self.logdir,
            num_classes=self.num_classes if self.num_classes is not None else num_classes,
            n_train=self.n_train if self.n_train is not None else n_train,
            **self._kw,
        )
        return self.monitor.context

    @property
    def enabled(self) -> bool:
        """False once the callback turned itself off (an internal error) or finished."""
        return not self._off and (self.monitor is None or self.monitor.enabled)

    def _guarded(self, where: str, fn: Any, *args: Any) -> Any:
        if self._off:
            return None
        try:
            return fn(*args)
        except TrainingDiverged:
            raise
        except Exception as e:  # noqa: BLE001 - never break the user's training
            self._fail(e, where)
            return None

    def _fail(self, exc: BaseException, where: str) -> None:
        self._off = True
        try:
            if self.monitor is not None:
                self.monitor.close()
        except Exception:  # noqa: BLE001, S110
            pass
        warn(
            f"traindx: the {self._kind} turned itself off after an internal error in {where} "
            f"({type(exc).__name__}: {exc}); training is not affected",
            stacklevel=4,
        )

    def _close(self) -> None:
        if self.monitor is not None:
            self.monitor.close()

    def diagnose(self) -> Any:
        """The :class:`~traindx.diagnosis.Diagnosis` of what was recorded (``None`` before
        training started)."""
        return self.monitor.diagnose() if self.monitor is not None else None
