"""A ``jax.jit`` compiled off the critical path: in a daemon thread, waited for at exit."""

from __future__ import annotations

import atexit
import threading
from typing import Any


class Compile:
    """``fn`` (a ``jax.jit``) lowered and compiled for ``args`` in a daemon thread: its cache
    then holds the executable, so its first call dispatches without compiling. The arrays
    themselves are passed (an abstract ``ShapeDtypeStruct`` keys another cache entry); nothing
    runs and no RNG is drawn; an exception leaves the compile to the first call."""

    def __init__(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.done, self.ok = threading.Event(), False
        _PENDING.add(self)
        threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True, name="traindx-compile").start()

    def _run(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            fn.lower(*args, **kwargs).compile()
            self.ok = True
        except Exception:  # noqa: BLE001, S110 - compiled on its first call instead
            pass
        finally:
            self.done.set()
            _PENDING.discard(self)


_PENDING: set[Compile] = set()


@atexit.register
def _finish() -> None:
    """At exit, wait for the compiles still running: a daemon thread inside XLA when the
    interpreter finalizes aborts the process ("FATAL: exception not rethrown", exit 134)."""
    for c in list(_PENDING):
        c.done.wait(120)
