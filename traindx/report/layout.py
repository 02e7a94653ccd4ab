"""Terminal layout: lines with a hanging indent, and the console the CLI prints with.

On a terminal a long line wraps at the terminal's width with its continuation lines under
the start of its text (not at column 0). When stdout is not a terminal (a pipe, a file, a CI
log) nothing is wrapped: each logical line is one physical line, so ``grep`` and diffs see
whole lines.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

#: Width given to tables when stdout is not a terminal: wide enough that no cell wraps.
UNWRAPPED_WIDTH = 400
#: The narrowest text column kept beside a hanging prefix; below it the prefix is not hung.
MIN_BODY = 24


class Hang:
    """``prefix`` then ``body``; wrapped lines of ``body`` start under its first character."""

    def __init__(self, prefix: str | Text, body: str | Text, style: str = "") -> None:
        self.prefix = prefix if isinstance(prefix, Text) else Text(prefix)
        self.body = body if isinstance(body, Text) else Text(body)
        if style:
            self.prefix.stylize(style)
            self.body.stylize(style)

    @property
    def plain(self) -> str:
        return self.prefix.plain + self.body.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        whole = Text.assemble(self.prefix, self.body)
        indent = self.prefix.cell_len
        if options.no_wrap or options.max_width - indent < MIN_BODY:
            yield whole
            return
        pad = Text(" " * indent)
        for i, line in enumerate(self.body.wrap(console, options.max_width - indent)):
            line.rstrip()
            yield Text.assemble(self.prefix if i == 0 else pad, line)


def cli_console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    """The console the CLI prints with: wrapping with hanging indents on a terminal; on
    anything else soft-wrapped (one physical line per line) and tables at their natural width."""
    probe = Console(file=file, stderr=stderr, highlight=False)
    if probe.is_terminal:
        return probe
    return Console(file=file, stderr=stderr, highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH)
