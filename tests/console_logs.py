"""Helpers of the console-log reader tests (tests/test_console_wild*.py): write printed lines to
a file and read the run back, the series' original names by key, a text's parsed records."""

from __future__ import annotations

from pathlib import Path

import traindx
from traindx.readers.textlog import parse_text


def read_lines(tmp_path: Path, lines: list[str], name: str = "train.log"):
    """The one run traindx reads from ``lines`` written to ``tmp_path / name``."""
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    return run


def original_names(run) -> dict[str, str]:
    """Each series' key (as text) -> the name it was logged under."""
    return {str(k): s.original_name for k, s in run.series.items()}


def parsed_pairs(text: str) -> list[dict]:
    """The name -> value pairs of each record parse_text finds in ``text`` (the epoch left out)."""
    return [{k: v for k, v in r.items() if isinstance(k, str) and k != "epoch"} for _, r in parse_text(text)[0]]
