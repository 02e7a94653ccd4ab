"""Tables printed in training output (:mod:`traindx.readers.textlog`).

A header row of names over rows of numbers, one row per epoch or step:

- fastai's ``fit`` table: ``epoch  train_loss  valid_loss  accuracy  time`` then
  ``0      0.512345    0.623456    0.810000  00:01`` (columns padded with spaces);
- a Markdown table: ``| epoch | loss | val_loss |``, ``|---|---|---|``, ``| 1 | 0.5 | 0.6 |``;
- an ASCII table (``prettytable``, ``tabulate``): ``+-------+`` rules around ``| epoch | loss |``;
- a pandas frame printed: a header, then rows opening with the row index.

A cell that is not a number (fastai's ``00:01``, a ``#na#`` placeholder) is no value; a row
with another number of cells ends the table.
"""

from __future__ import annotations

import re
from typing import Any

from traindx.readers.csvlog import parse_number

_RULE = re.compile(r"^\s*[|+]?(?:\s*:?-{3,}:?\s*[|+])+\s*:?-*:?\s*[|+]?\s*$|^\s*[+=-]{6,}\s*$")
_NAME = re.compile(r"^[A-Za-z_][\w/@.()-]*$")
_AXES = ("epoch", "step")
#: A training history's header names its axis or a loss (scikit-learn's classification_report,
#: ``precision recall f1-score support`` over rows opening with a class label, is no history).
_WORD = re.compile(r"(?i)epoch|step|iter|loss")


def _cells(line: str) -> list[str]:
    s = line.strip()
    if "|" in s:
        return [c.strip() for c in s.strip("|").split("|")]
    return s.split()


def _header(line: str) -> list[str] | None:
    cells = _cells(line)
    if len(cells) < 2 or not all(_NAME.match(c) for c in cells) or not any(_WORD.search(c) for c in cells):
        return None
    if {"train_loss", "valid_loss"} <= set(cells):  # fastai: its metrics are the validation set's
        cells = [c if c in ("train_loss", "valid_loss", "time") or c.lower() in _AXES else f"valid_{c}" for c in cells]
    return cells


def _row(line: str, width: int) -> list[float | None] | None:
    cells = _cells(line)
    if len(cells) == width + 1 and "|" not in line:  # a pandas frame's row index first
        cells = cells[1:]
    if len(cells) != width:
        return None
    values = [parse_number(c) for c in cells]
    return values if any(v is not None for v in values) else None


def table_records(lines: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """(line index, {column: number}) for each row of every table in ``lines``."""
    out: list[tuple[int, dict[str, Any]]] = []
    names: list[str] | None = None
    for i, line in enumerate(lines):
        if _RULE.match(line):
            continue
        if names is not None:
            row = _row(line, len(names))
            if row is not None:
                rec = {n.lower() if n.lower() in _AXES else n: v for n, v in zip(names, row, strict=True) if v is not None}
                if "epoch" in rec:
                    rec["epoch"] = int(rec["epoch"]) if float(rec["epoch"]).is_integer() else rec["epoch"]
                out.append((i, rec))
                continue
        names = _header(line)
    return out
