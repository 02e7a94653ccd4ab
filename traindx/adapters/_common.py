"""Framework-independent pieces of the live adapters.

Loss tables (what a loss expects and which task it implies), running input moments, the
run writer (event files of canonical tags + ``context.json``), the one-shot warning an
adapter gives when it turns itself off, and reading a run directory back for ``diagnose``.
Nothing here imports a deep-learning framework.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traindx.schema import RunContext

WARN_PREFIX = "traindx:"


class TrainingDiverged(RuntimeError):
    """Raised by an adapter's ``step`` with ``on_fatal="stop"`` when the loss is non-finite.

    ``.diagnosis`` holds the :class:`~traindx.diagnosis.Diagnosis` of the run so far (or
    ``None`` if it could not be computed).
    """

    def __init__(self, message: str, diagnosis: Any = None):
        super().__init__(message)
        self.diagnosis = diagnosis


def warn(message: str, stacklevel: int = 3) -> None:
    """A ``RuntimeWarning`` whose message starts with ``traindx:``."""
    if not message.startswith(WARN_PREFIX):
        message = f"{WARN_PREFIX} {message}"
    warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)


# --------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class LossKind:
    """What a loss takes: ``expects`` (LossInfo.expects), the task it implies, and whether
    it compares prediction and target element by element (so shapes must match)."""

    expects: str | None
    task: str | None
    from_logits: bool | None
    elementwise: bool
    note: str | None = None


_NLL_NOTE = "NLLLoss expects log-probabilities: the model must end in LogSoftmax (log_softmax)"

#: Canonical (lower-case class) loss names.
LOSS_KINDS: dict[str, LossKind] = {
    "crossentropyloss": LossKind("logits", "classification", True, False),
    "nllloss": LossKind(None, "classification", None, False, _NLL_NOTE),
    "bcewithlogitsloss": LossKind("logits", "binary", True, True),
    "bceloss": LossKind("probabilities", "binary", False, True),
    "mseloss": LossKind("values", "regression", None, True),
    "l1loss": LossKind("values", "regression", None, True),
    "huberloss": LossKind("values", "regression", None, True),
    "smoothl1loss": LossKind("values", "regression", None, True),
    "multilabelsoftmarginloss": LossKind("logits", "binary", True, True),
    "kldivloss": LossKind(None, None, None, True),
}

#: Functional spellings (``torch.nn.functional``) of the losses above.
FUNCTIONAL_LOSSES: dict[str, str] = {
    "cross_entropy": "crossentropyloss",
    "nll_loss": "nllloss",
    "binary_cross_entropy_with_logits": "bcewithlogitsloss",
    "binary_cross_entropy": "bceloss",
    "mse_loss": "mseloss",
    "l1_loss": "l1loss",
    "huber_loss": "huberloss",
    "smooth_l1_loss": "smoothl1loss",
    "multilabel_soft_margin_loss": "multilabelsoftmarginloss",
    "kl_div": "kldivloss",
}


def loss_name(obj: Any) -> str | None:
    """Canonical name of a loss object or function (``CrossEntropyLoss`` -> ``crossentropyloss``)."""
    if obj is None:
        return None
    name = getattr(obj, "__name__", None) or type(obj).__name__
    name = name.lower()
    return FUNCTIONAL_LOSSES.get(name, name)


# --------------------------------------------------------------------------- moments


class Moments:
    """Running count, mean, variance, min and max merged from per-batch summaries (Chan et al.)."""

    def __init__(self) -> None:
        self.n = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def merge(self, n: float, mean: float, std: float, lo: float, hi: float) -> None:
        if not n or not all(math.isfinite(v) for v in (mean, std, lo, hi)):
            return
        tot = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / tot
        self.m2 += std * std * n + delta * delta * self.n * n / tot
        self.n = tot
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else math.nan


# --------------------------------------------------------------------------- writing


def default_logdir(run_name: str | None) -> Path:
    """``runs/<run_name>`` or ``runs/<date-time>`` (TensorBoard's convention)."""
    return Path("runs") / (run_name or time.strftime("%Y%m%d-%H%M%S"))


class RunWriter:
    """Event file of canonical tags plus ``context.json`` in one run directory.

    Points are handed over in batches (:meth:`add`); :meth:`maybe_flush` writes the file to
    disk when ``flush_secs`` have passed. ``context.json`` is rewritten (atomically) only when
    its JSON changed.
    """

    def __init__(self, logdir: str | os.PathLike[str], flush_secs: float = 5.0):
        from traindx.writers.tfevents import EventFileWriter

        self.logdir = Path(logdir)
        self.events = EventFileWriter(self.logdir)
        self.flush_secs = float(flush_secs)
        self._last_flush = time.monotonic()
        self._context_json: str | None = None

    def add(self, step: int, values: dict[str, float]) -> None:
        if values:
            self.events.add_scalars(values, step)

    def write_context(self, ctx: RunContext) -> None:
        text = ctx.model_dump_json(indent=1)
        if text == self._context_json:
            return
        tmp = self.logdir / ".context.json.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.logdir / "context.json")
        self._context_json = text

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_secs:
            self.flush()

    def flush(self) -> None:
        self.events.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self.events.close()


def read_run(logdir: str | os.PathLike[str]):
    """The run written in ``logdir`` (not the runs of its sub-directories)."""
    from traindx.api import read

    root = Path(logdir).resolve()
    runs = read(root)
    for r in runs:
        if Path(r.source).resolve() == root:
            return r
    return runs[0]
