"""Never break training: the one-shot warning, the fatal-symptom stop, self-disabling hooks;
the life cycle every adapter shares (opening the run writer, closing at exit, the final
note, diagnosing what was written)."""

from __future__ import annotations

import atexit
import functools
import warnings
import weakref
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


def note_stop(ctx: Any, by: str) -> None:
    """Record in the context's flags what ended a run before its plan: ``stopped_by`` is
    ``"traindx"`` (the adapter stopped training on a fatal fault: ``stop_on_fatal`` /
    ``on_fatal="stop"``), ``"callback"`` (Keras: another callback set ``model.stop_training``
    - EarlyStopping, TerminateOnNaN, the user's own) or ``"interrupted"`` (an exception or
    Ctrl-C left the training loop). Facts, not judgments: the rulebook decides what a run so
    ended says (a short run a fault ended is not too few epochs). Never raises."""
    if ctx is None:
        return
    try:
        ctx.flags.setdefault("stopped_by", by)
    except Exception:  # noqa: BLE001, S110 - a fact not recorded never breaks training
        pass


def note_fatal(ctx: Any, step: int, stopping: bool) -> None:
    """Record ``fatal_step``, the step of a fatal fault (non-finite loss, weights or
    gradients), and, where the adapter stops training on it, ``stopped_by="traindx"``
    (:func:`note_stop`). Never raises."""
    if ctx is None:
        return
    try:
        ctx.flags.setdefault("fatal_step", float(step))
    except Exception:  # noqa: BLE001, S110 - a fact not recorded never breaks training
        pass
    if stopping:
        note_stop(ctx, "traindx")


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

    # -------------------------------------------------------------- life cycle

    def _open_writer(self) -> Any:
        """The run writer in ``self.logdir``; the adapter is closed at interpreter exit
        (through a weak reference: an adapter nobody holds is not kept alive for it)."""
        from traindx.adapters._common.writer import RunWriter

        self._writer = RunWriter(self.logdir, self._flush_secs)  # type: ignore[attr-defined]
        if getattr(self, "_atexit", None) is None:
            self._atexit = functools.partial(_close_at_exit, weakref.ref(self))
            atexit.register(self._atexit)
        return self._writer

    def _forget_exit(self) -> None:
        if getattr(self, "_atexit", None) is not None:
            atexit.unregister(self._atexit)
            self._atexit = None

    def _set_final_note(self, context: Any, prefix: str, text: str) -> None:
        """Replace the adapter's summary line in ``context.notes`` (written once per run,
        again by a later flush)."""
        context.notes = [n for n in context.notes if not n.startswith(prefix)]
        context.notes.append(prefix + text)

    def _flush_for_diagnosis(self) -> None:
        self.flush()  # type: ignore[attr-defined]

    def diagnose(self) -> Any:
        """The :class:`~traindx.diagnosis.Diagnosis` of what was recorded so far."""
        try:
            self._flush_for_diagnosis()
            from traindx.adapters._common.writer import read_run
            from traindx.api import diagnose

            return diagnose(read_run(self.logdir))[0]  # type: ignore[attr-defined]
        except TrainingDiverged:
            raise
        except Exception as e:  # noqa: BLE001
            self._warn_once(f"traindx: diagnose failed: {type(e).__name__}: {e}")
            return None

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


def _close_at_exit(ref: weakref.ref) -> None:
    adapter = ref()
    if adapter is not None:
        adapter.close()


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
        if exc and exc[0] is not None:  # the loop left by an exception (TrainingDiverged noted its own)
            note_stop(getattr(self, "context", None), "interrupted")
        self.close()
