"""Never break training: the one-shot warning, the fatal-symptom stop, self-disabling hooks and closing."""

from __future__ import annotations

import warnings
from typing import Any

WARN_PREFIX = "traindx:"


class TrainingDiverged(RuntimeError):
    """Raised by an adapter's ``step`` with ``on_fatal="stop"`` when the loss is non-finite.

    ``.diagnosis`` holds the :class:`~traindx.diagnosis.Diagnosis` of the run so far (or
    ``None`` if it could not be computed).
    """

    def __init__(self, message: str, diagnosis: Any = None):
        super().__init__(message)
        self.diagnosis = diagnosis


_FATAL_WHAT = {
    "loss": "training loss is {v}",
    "weights": "weights are non-finite (global weight norm {v}) while the training loss is finite",
    "grads": "gradients are non-finite (global gradient norm {v}) while the training loss is finite",
}


def fatal_message(kind: str, value: float) -> str:
    """What an adapter says of a non-finite ``"loss"``, ``"weights"`` or ``"grads"``: the
    loss first (checked first); weights or gradients turning non-finite while the loss
    stays finite are fatal just the same (oneDNN's ReLU maps NaN to 0 on AVX-512 CPUs,
    so a NaN input can make every weight NaN and leave the loss at a plateau)."""
    return _FATAL_WHAT[kind].format(v=value)


def warn(message: str, stacklevel: int = 3) -> None:
    """A ``RuntimeWarning`` whose message starts with ``traindx:``."""
    if not message.startswith(WARN_PREFIX):
        message = f"{WARN_PREFIX} {message}"
    warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)


# --------------------------------------------------------------------------- closing


class SelfDisabling:
    """How an adapter turns itself off after an internal error: one warning naming where,
    ``_release`` (drop hooks, buffers, references), what was written so far flushed, and
    training goes on. The adapter names itself in ``_kind`` ("torch monitor")."""

    _kind: str = "adapter"
    _disabled: bool
    _off: bool
    _writer: Any

    @property
    def enabled(self) -> bool:
        """False once the adapter turned itself off (an internal error, or closed)."""
        return not self._off

    def _release(self) -> None:
        """Drop hooks, buffers and references (nothing by default)."""

    def _warn_once(self, message: str) -> None:
        """A warning about a later failure (diagnosing, writing the diagnosis), unless the
        adapter already turned itself off with its one warning (the same fault, met again)."""
        if not self._disabled:
            warn(message, stacklevel=4)

    def _fail(self, exc: BaseException, where: str) -> None:
        first = not self._disabled
        self._disabled = self._off = True
        try:
            self._release()
            if self._writer is not None:
                self._writer.flush()
        except Exception:  # noqa: BLE001, S110
            pass
        if first:
            warn(
                f"traindx: the {self._kind} turned itself off after an internal error in {where} "
                f"({type(exc).__name__}: {exc}); training is not affected",
                stacklevel=4,
            )


class Closing(SelfDisabling):
    """``close()`` and the context-manager protocol of an adapter that owns a RunWriter
    (the torch Monitor, the JAX Recorder). The adapter supplies ``_final_flush`` (write
    what is still buffered) and ``_release``."""

    _closed: bool

    def _final_flush(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Write everything still buffered and release the model; also on ``__exit__`` and
        at interpreter exit. An error here is reported once, never raised."""
        if self._closed:
            return
        try:
            if not self._off and self._writer is not None:
                self._final_flush()
        except Exception as e:  # noqa: BLE001
            self._fail(e, "close")
        finally:
            self._closed = self._off = True
            self._release()
            if self._writer is not None:
                try:
                    self._writer.close()
                except Exception:  # noqa: BLE001, S110
                    pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
