"""A progress line on stderr for work that takes over a second (terminal only).

``with Spinner() as progress: ... progress("reading runs/a") ...``: nothing is shown for
quick work, nor when stderr is not a terminal (a CI log, a pipe); after ``delay`` seconds a
rich spinner with what is being done and the time taken appears, and it is erased when the
work ends, before the report is printed.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

from traindx.report.layout import shows_styles

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


class Spinner:
    def __init__(self, delay: float = 1.0, console: Console | None = None) -> None:
        if console is None and shows_styles(sys.stderr):
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console  # None: stderr is no terminal (rich not imported)
        self.delay = delay
        self.enabled = console is not None and console.is_terminal
        self.shown = False
        self._lock = threading.Lock()
        self._closed = False
        self._timer: threading.Timer | None = None
        self._progress: Progress | None = None
        self._task: Any = None
        if self.enabled:  # rich.progress only where it can be shown (a tenth of the start-up)
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                console=self.console, transient=True,
            )  # fmt: skip
            self._task = self._progress.add_task("", total=None)

    def __call__(self, what: str) -> None:
        """Say what is being done now."""
        if self._progress is not None:
            self._progress.update(self._task, description=what)

    def _show(self) -> None:
        with self._lock:
            if not self._closed and self._progress is not None:
                self._progress.start()
                self.shown = True

    def __enter__(self) -> Spinner:
        if self.enabled:
            self._timer = threading.Timer(self.delay, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._closed = True
            if self.shown and self._progress is not None:
                self._progress.stop()
