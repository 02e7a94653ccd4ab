"""The Keras callback's end: the diagnosis written next to the run (``cb.diagnosis``,
``diagnosis.json``, ``diagnosis.txt``) and the event file flushed and closed. A mixin of
:class:`traindx.adapters.keras.DiagnosisCallback`, before :class:`SelfDisabling` in its bases."""

from __future__ import annotations

from typing import Any

from traindx.adapters._common.guards import note_stop


class _Finishing:
    """Writing the diagnosis and closing the writer (the callback's ``_writer``, ``_flush``,
    ``_off``, ``_fail`` and ``_forget_exit`` are the recording's and SelfDisabling's)."""

    _writer: Any
    _off: bool
    _verbose: bool
    diagnosis: Any

    def _write_diagnosis(self) -> None:
        """``cb.diagnosis``, ``diagnosis.json`` and ``diagnosis.txt`` (printed when verbose)."""
        self.diagnosis = self.diagnose()
        if self.diagnosis is None:
            return
        from traindx.report.text import render_text

        text = render_text(self.diagnosis)
        try:
            (self.logdir / "diagnosis.json").write_text(self.diagnosis.to_json(indent=1), encoding="utf-8")
            (self.logdir / "diagnosis.txt").write_text(text, encoding="utf-8")
        except Exception as e:  # noqa: BLE001
            self._warn_once(f"traindx: could not write the diagnosis to {self.logdir}: {e}")
        if self._verbose:
            print(text, end="")

    def _close_writer(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001, S110
                pass
            self._writer = None

    # ------------------------------------------------------------------ public helpers

    def _flush_for_diagnosis(self) -> None:
        if not self._off and self._writer is not None:
            self._flush(disk=True)
        elif self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file (also at interpreter exit). Closed inside fit (no
        ``on_train_end``: an exception or Ctrl-C left it), the run is noted as interrupted."""
        try:
            if getattr(self, "_fitting", False):
                note_stop(getattr(self, "context", None), "interrupted")
            if not self._off and self._writer is not None:
                self._flush(disk=True)
        except Exception as e:  # noqa: BLE001
            self._fail(e, "close")
        finally:
            self._off = True
            self._forget_exit()
            self._close_writer()
