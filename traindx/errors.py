"""Errors traindx raises on bad input: one line that names the file, the place and the fix."""

from __future__ import annotations


class TraindxError(Exception):
    """Base of the errors the CLI turns into a one-line message and exit code 2."""


class ReadError(TraindxError):
    """A file or directory could not be read as telemetry.

    ``str(err)`` is one line: ``path[:line or record]: what is wrong; what was expected``.
    """

    def __init__(self, path: str, message: str, *, line: int | None = None, record: int | None = None):
        self.path = str(path)
        self.line = line
        self.record = record
        where = self.path
        if line is not None:
            where += f":{line}"
        elif record is not None:
            where += f": record {record}"
        super().__init__(f"{where}: {message}")


class RulebookError(TraindxError):
    """A rule file is malformed: names the file, the line and what is wrong."""

    def __init__(self, path: str, message: str, *, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = self.path + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}")
