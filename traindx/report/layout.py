"""Terminal layout: lines with a hanging indent, and the consoles the CLI prints with.

On a terminal a long line wraps at the terminal's width with its continuation lines under
the start of its text (not at column 0). When stdout is not a terminal (a pipe, a file, a CI
log) nothing is wrapped: each logical line is one physical line, so ``grep`` and diffs see
whole lines. Lines are plain data (text runs with rich styles); rich renders them on a
terminal, and a report printed where no terminal shows it (:func:`text_console`) is written
as plain text without importing rich at all (a tenth of a ``traindx diagnose``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.text import Text

#: Width given to tables when stdout is not a terminal: wide enough that no cell wraps.
UNWRAPPED_WIDTH = 400
#: The narrowest text column kept beside a hanging prefix; below it the prefix is not hung.
MIN_BODY = 24

#: a run of text and its rich style ("" for none)
Span = tuple[str, str]


def _spans(text: str | Sequence[Span]) -> tuple[Span, ...]:
    return ((text, ""),) if isinstance(text, str) else tuple(text)


def _rich(spans: tuple[Span, ...], style: str) -> Text:
    from rich.text import Text

    t = Text.assemble(*spans)
    if style:
        t.stylize(style)
    return t


class Hang:
    """``prefix`` then ``body`` (each a string or styled runs); wrapped lines of ``body``
    start under its first character."""

    def __init__(self, prefix: str | Sequence[Span], body: str | Sequence[Span], style: str = "") -> None:
        self.prefix, self.body, self.style = _spans(prefix), _spans(body), style

    @property
    def plain(self) -> str:
        return "".join(t for t, _ in self.prefix + self.body)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        prefix, body = _rich(self.prefix, self.style), _rich(self.body, self.style)
        whole = Text.assemble(prefix, body)
        indent = prefix.cell_len
        if options.no_wrap or options.max_width - indent < MIN_BODY:
            yield whole
            return
        pad = Text(" " * indent)
        for i, line in enumerate(body.wrap(console, options.max_width - indent)):
            line.rstrip()
            yield Text.assemble(prefix if i == 0 else pad, line)


class Line:
    """One line of text in one style, wrapped at column 0 on a terminal (rich's ``Text``)."""

    def __init__(self, text: str, style: str = "") -> None:
        self.plain, self.style = text, style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        yield Text(self.plain, style=self.style)


class Printer(Protocol):
    """What a report prints with: a rich ``Console`` or a :class:`PlainConsole`."""

    def print(self, *objects: Any) -> None: ...


class PlainConsole:
    """Prints :class:`Hang` and :class:`Line` objects as plain text, one physical line
    each: what a rich console prints where no terminal shows the output, without rich."""

    is_terminal = False
    width = UNWRAPPED_WIDTH

    def __init__(self, file: TextIO | None = None, *, stderr: bool = False) -> None:
        self._file, self._stderr = file, stderr

    @property
    def file(self) -> TextIO:  # looked up when printing, as rich does (redirected streams)
        return self._file or (sys.stderr if self._stderr else sys.stdout)

    def print(self, *objects: Hang | Line) -> None:
        self.file.write(" ".join(o.plain for o in objects) + "\n")


def shows_styles(stream: TextIO) -> bool:
    """Whether rich would treat ``stream`` as a terminal (its ``Console.is_terminal``): a
    tty, or told so by ``TTY_COMPATIBLE`` / ``FORCE_COLOR``; True wherever unsure (IDLE,
    IPython), so that rich decides."""
    if "IPython" in sys.modules or getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return True
    tty = os.environ.get("TTY_COMPATIBLE", "")
    if tty in ("0", "1"):
        return tty == "1"
    if os.environ.get("FORCE_COLOR") is not None:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def cli_console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    """The console the CLI prints with: wrapping with hanging indents on a terminal; on
    anything else soft-wrapped (one physical line per line) and tables at their natural width."""
    from rich.console import Console

    probe = Console(file=file, stderr=stderr, highlight=False)
    if probe.is_terminal:
        return probe
    return Console(file=file, stderr=stderr, highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH)


def text_console(file: TextIO | None = None, *, stderr: bool = False) -> Console | PlainConsole:
    """:func:`cli_console` for output made only of :class:`Hang` and :class:`Line`: a
    :class:`PlainConsole` where no terminal shows it (same text, rich not imported)."""
    stream = file or (sys.stderr if stderr else sys.stdout)
    if shows_styles(stream):
        return cli_console(file, stderr=stderr)
    return PlainConsole(file, stderr=stderr)
