"""Tables printed in training output (:mod:`traindx.readers.textlog`).

A header row of names over rows of numbers, one row per epoch or step:

- fastai's ``fit`` table: ``epoch  train_loss  valid_loss  accuracy  time`` then
  ``0      0.512345    0.623456    0.810000  00:01`` (columns padded with spaces);
- a Markdown table: ``| epoch | loss | val_loss |``, ``|---|---|---|``, ``| 1 | 0.5 | 0.6 |``;
- an ASCII table (``prettytable``, ``tabulate``): ``+-------+`` rules around ``| epoch | loss |``;
- a pandas frame printed: a header, then rows opening with the row index;
- a box of line-drawing characters (``rich``'s ``┏━┳┓ ┃ ┡━╇┩ │ └─┴┘`` and its square, rounded,
  double, minimal styles; tabulate's ``fancy_grid`` ``╒═╤╕``; prettytable's ``╔═╦╗``): its
  vertical strokes read as ``|`` and its lines of strokes only as rules; a header a narrow
  column wrapped over two lines (``┃ Train ┃`` over ``┃ loss  ┃``) is one name per column;
  tabulate's ``simple``/``rst`` rules of dashes between spaces (``-----  ------``).

A cell that is not a number (fastai's ``00:01``, a ``#na#`` placeholder) is no value; a row
with another number of cells ends the table (a line between bars that gives no row is counted:
``table_records(lines, skipped)``). Between ``|`` a header name may hold spaces
(`` Epoch | Train Loss | Val Acc |  Time | ETA``); a percent cell (``98.91%``) reads as a
fraction, an epoch or step cell of a count (``3/25``) as its first number, and the columns of
elapsed or remaining time (``time``, ``ETA``: ``0.4s``, ``0:00:09``) are no metrics and are
not read.
"""

from __future__ import annotations

import re
from typing import Any

from traindx.readers.csvlog import parse_number

_RULE = re.compile(r"^\s*[|+]?(?:\s*:?-{3,}:?\s*[|+])+\s*:?-*:?\s*[|+]?\s*$|^\s*[+=-]{6,}\s*$|^\s*(?:[-=]{3,}\s*)+$")
#: Line-drawing characters (U+2500..U+257F): a line of them and spaces only is a box's rule;
#: in a row, the vertical strokes separate cells.
_BOX_ONLY = re.compile(r"^[\u2500-\u257f\s]+$")
_VERTICAL = str.maketrans(dict.fromkeys("┃│║╎╏┆┇┊┋", "|"))
_NAME = re.compile(r"^[A-Za-z_][\w/@.()-]*$")
_SPACED_NAME = re.compile(r"^[A-Za-z_][\w/@.()%-]*(?: [\w/@.()%-]+)*$")  # between bars: 'Train Loss', 'Val Acc (%)'
#: Columns of elapsed or remaining time: progress, not a metric of the run.
_CLOCK = re.compile(r"(?i)^(?:time|eta|elapsed|duration|remaining|epoch[ _]?time|time[ _]?\(?s\)?|wall[ _]?time)$")
_COUNT = re.compile(r"^\s*(\d+)\s*/\s*\d+\s*$")  # an epoch cell '3/25'
_PERCENT = re.compile(r"^\s*(.+?)\s*%\s*$")
_AXES = ("epoch", "step")
#: A timestamp cell (``2026-12-07 21:01:02``, ``2026-12-07T21:01:02.5``, ``21:01:02``): two tokens
#: under one header name in a table between spaces; no value, but a row may open with it.
_STAMP = re.compile(r"(?<!\S)(\d{4}-\d\d-\d\d)(?:[ T](\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?))?(?!\S)|(?<!\S)\d\d:\d\d:\d\d(?:[.,]\d+)?(?!\S)")
#: Python's warning printed among a table's rows (``path.py:630: UserWarning: ...``, then its source
#: line indented): not the table's end.
WARNING = re.compile(r"^\S.*:\d+: [A-Z]\w*(?:Warning|Error)\b")
#: A training history's header names its axis or a loss (scikit-learn's classification_report,
#: ``precision recall f1-score support`` over rows opening with a class label, is no history).
_WORD = re.compile(r"(?i)epoch|step|iter|loss")


def _cells(line: str) -> list[str]:
    s = line.strip()
    if "|" in s:
        return [c.strip() for c in s.strip("|").split("|")]
    return s.split()


def unbox(line: str) -> str:
    """A box's line as a ``|`` table's: a rule of line-drawing strokes (``┡━━━╇━━━┩``) as
    ``---``, a row's vertical strokes (``│ 1 │ 0.41 │``) as ``|``."""
    if _BOX_ONLY.match(line) and line.strip():
        return "---"
    return line.translate(_VERTICAL)


def _bars(line: str) -> tuple[int, ...]:
    return tuple(i for i, c in enumerate(line) if c == "|")


def _name_cells(line: str, bars: tuple[int, ...]) -> list[str] | None:
    """The cells between the bars at ``bars`` (by position: a blank first cell is kept) when each
    is blank or a name without a number; else None."""
    cells = [line[i + 1 : j].strip() for i, j in zip((-1, *bars), (*bars, len(line)), strict=True)]
    ok = all(c == "" or (_SPACED_NAME.match(c) and all(parse_number(w) is None for w in c.split())) for c in cells)
    return cells if ok and any(cells) else None


def join_wrapped(lines: list[str]) -> list[str]:
    """``lines`` with a header a narrow column wrapped over lines (rich: ``|       |  Train |``
    over ``| Epoch |   loss |``) joined into its last line, column by column (bars at the same
    places); the lines joined become rules."""
    out = list(lines)
    for i in range(1, len(out)):
        bars = _bars(out[i])
        if not bars or bars != _bars(out[i - 1]):
            continue
        upper, lower = _name_cells(out[i - 1], bars), _name_cells(out[i], bars)
        if upper is not None and lower is not None:
            out[i] = " | ".join(f"{u} {w}".strip() for u, w in zip(upper, lower, strict=True))
            out[i - 1] = "---"
    return out


#: A header behind a comment mark (numpy's ``savetxt(..., header="loss val_loss")`` writes
#: ``# loss val_loss``; gnuplot-style data files, R's ``write.table`` with a ``#`` header).
_COMMENTED = re.compile(r"^\s*#+\s*(?=[A-Za-z_])")


def _header(line: str) -> list[str] | None:
    cells = _cells(_COMMENTED.sub("", line, count=1))
    name = _SPACED_NAME if "|" in line else _NAME
    if len(cells) < 2 or not all(name.match(c) for c in cells) or not any(_WORD.search(c) for c in cells):
        return None
    if {"train_loss", "valid_loss"} <= set(cells):  # fastai: its metrics are the validation set's
        cells = [c if c in ("train_loss", "valid_loss", "time") or c.lower() in _AXES else f"valid_{c}" for c in cells]
    return cells


def _row(line: str, names: list[str], barred: bool) -> list[float | None] | None:
    if ("|" in line) != barred:  # a table between bars ends at a line without them
        return None
    cells = _cells(line if barred else _STAMP.sub(lambda m: m[0].replace(" ", "T"), line))
    if not barred and cells and _number(cells[0], True) is None and not _STAMP.fullmatch(cells[0]):
        return None  # a row opens with its index or epoch: 'test acc (20 new machines): 69.0%' ends the table
    if len(cells) == len(names) + 1 and "|" not in line:  # a pandas frame's row index first
        cells = cells[1:]
    if len(cells) != len(names):
        return None
    values = [_number(c, n.lower() in _AXES) for c, n in zip(cells, names, strict=True)]
    return values if any(v is not None for v in values) else None


def _number(cell: str, axis: bool) -> float | None:
    """A cell's number: ``0.41``, ``98.91%`` (0.9891), in an epoch or step column ``3/25`` (3)."""
    if axis and (count := _COUNT.match(cell)) is not None:
        return float(count[1])
    if (pct := _PERCENT.match(cell)) is not None:
        value = parse_number(pct[1])
        return None if value is None else value / 100.0
    return parse_number(cell)


#: Lightning's ``trainer.test()`` / ``validate()`` results, a Rich box (``┃ Test metric ┃ DataLoader 0 ┃``
#: over ``│ test_loss │ 32520.31 │``) or its plain form (``Test metric  DataLoader 0`` over ``test_loss  0.41``):
#: one row per metric, its name then its value on each loader (the first read).
_RESULTS = re.compile(r"(?i)^\s*[┃│|]?\s*(test|validate)\s+metric\s*[┃│|]?\s+DataLoader\s+\d+")
_RESULT_ROW = re.compile(r"^\s*[┃│|]?\s*([A-Za-z_][\w/@.-]*)\s*[┃│|]?\s+(\S+)\s*[┃│|]?(?:\s|$)")
_BOX = re.compile(r"^\s*[━─┏┓┗┛┡┩└┘┳┻╇╈┼+=-]+\s*$|^\s*[━─┏┡└┌╭╰][━─┳╇┴┬┼]*")
_SPLIT_NAMED = re.compile(r"(?i)(?<![a-z])(?:train|val|valid|validation|test|eval)(?![a-z])")


def result_records(lines: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """(line index, {metric: value}) for each row of Lightning's results table (:data:`_RESULTS`):
    test points (validation ones under ``Validate metric``); a name without a split word takes the
    table's (``mse`` under ``Test metric`` is ``test_mse``)."""
    out: list[tuple[int, dict[str, Any]]] = []
    split: str | None = None
    rows = 0  # of the table being read: its closing rule ends it
    for i, line in enumerate(lines):
        if (head := _RESULTS.match(line)) is not None:
            split, rows = ("test" if head[1].lower() == "test" else "val"), 0
            continue
        if split is None or _BOX.match(line):
            split = None if rows else split
            continue
        row = _RESULT_ROW.match(line)
        value = parse_number(row[2]) if row else None
        if row is None or value is None:
            split = None if line.strip() else split
            continue
        name = row[1] if _SPLIT_NAMED.search(row[1]) else f"{split}_{row[1]}"
        out.append((i, {name: value}))
        rows += 1
    return out


def table_records(lines: list[str], skipped: list[int] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(line index, {column: number}) for each row of every table in ``lines``; the index of
    each line between bars among a table's rows that gave no row (another number of cells, no
    number) is appended to ``skipped`` (the table goes on to its first line without bars)."""
    skip = {i for i, _ in result_records(lines)}  # read as a line's pairs (textlog)
    out: list[tuple[int, dict[str, Any]]] = []
    names: list[str] | None = None
    barred = False
    warned = False  # the line before was a warning (its indented source line follows)
    for i, line in enumerate(join_wrapped([unbox(ln) for ln in lines])):
        if i in skip:
            names = None
            continue
        if _RULE.match(line):
            continue
        if names is not None and (WARNING.match(line) or (warned and line[:1].isspace())):
            warned = True  # a warning between a header and its rows (once per new batch shape)
            continue
        warned = False
        if names is not None:
            row = _row(line, names, barred)
            if row is None and barred and "|" in line and _header(line) is None:
                if skipped is not None:  # a row of another shape among the table's: counted, the table goes on
                    skipped.append(i)
                continue
            if row is not None:
                rec = {
                    n.lower() if n.lower() in _AXES else n: v
                    for n, v in zip(names, row, strict=True)
                    if v is not None and not _CLOCK.match(n)
                }
                if "epoch" in rec:
                    rec["epoch"] = int(rec["epoch"]) if float(rec["epoch"]).is_integer() else rec["epoch"]
                out.append((i, rec))
                continue
        names, barred = _header(line), "|" in line
    return out


def merge_tables(
    records: list[tuple[int, dict[str, Any]]], tables: list[tuple[int, dict[str, Any]]]
) -> list[tuple[int, dict[str, Any]]]:
    """The line records and a table's rows in line order (the parser gave a line after a row
    the row's epoch, as under an ``Epoch 3`` marker). Where the rows carry the epoch, a line
    before the first row without an epoch (``train 1500  val 500  test 360``: the split sizes
    printed before training) is a preamble and is not read as a point."""
    firsts = [i for i, r in tables if "epoch" in r]
    merged = sorted(records + tables, key=lambda r: r[0])
    if not firsts:
        return merged
    return [(i, r) for i, r in merged if i >= firsts[0] or r.get("epoch") is not None]
