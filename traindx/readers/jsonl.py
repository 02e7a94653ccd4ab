"""Read JSON-lines metric logs: one object per line, metric name -> number.

Nested objects are flattened with ``/`` (``{"train": {"loss": 1}}`` -> ``train/loss``). The x
axis is the first step key found in the file (:data:`STEP_KEYS`), else ``epoch``, else the
line index. Corrupt lines are skipped, counted and reported with their line numbers; a last
line without its newline is still being written and is left for the next read; the Hugging Face Trainer's
summary blocks (``***** eval metrics *****`` and its ``key = value`` rows) are no corrupt lines
(:class:`Summaries`). Numbers
beyond float64 read as +-inf; objects nested deeper than :data:`MAX_DEPTH` are skipped.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path
from typing import Any

from traindx.errors import ReadError
from traindx.readers.csvlog import parse_number, read_text
from traindx.readers.raw import RawLog
from traindx.textsafe import clean

STEP_KEYS = ("step", "global_step", "trainer/global_step", "_step", "iteration", "iter")
EPOCH_KEYS = ("epoch",)
HINT = 'expected one JSON object per line like {"step": 1, "loss": 0.5}'
MAX_LINE_PROBLEMS = 5
MAX_DEPTH = 16  # nesting levels flattened into ``a/b/c`` names; deeper values are skipped
_STEP_LIMIT = float(2**63)
_BAD = object()  # a value that is present but not a number
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def flatten_record(obj: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}``; keys made valid Unicode; levels past
    :data:`MAX_DEPTH` become a non-numeric value (reported as not a number)."""
    if not prefix and not any(type(v) is dict for v in obj.values()):
        if all(type(k) is str and k.isascii() for k in obj):
            return obj
        return {clean(k): v for k, v in obj.items()}
    out: dict[str, Any] = {}
    for k, v in obj.items():
        k = clean(k)
        if isinstance(v, dict):
            if depth >= MAX_DEPTH:
                out[f"{prefix}{k}"] = v  # not a number: counted, never recursed into
            else:
                out.update(flatten_record(v, f"{prefix}{k}/", depth + 1))
        else:
            out[f"{prefix}{k}"] = v
    return out


def loads(text: str) -> Any:
    """``json.loads`` whose failures are all ``ValueError`` (deep nesting included)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def load_document(path: str | Path, hint: str = "") -> Any:
    """A file holding one JSON document, parsed; a ReadError naming the file (and the line)
    when it is not JSON, with ``hint`` (what was expected) appended."""
    src, tail = str(path), f"; {hint}" if hint else ""
    try:
        return loads(read_text(path))
    except json.JSONDecodeError as e:
        raise ReadError(src, f"not valid JSON ({e.msg}){tail}", line=e.lineno) from None
    except ValueError as e:
        raise ReadError(src, f"not valid JSON ({e}){tail}") from None


def _number(v: Any) -> float | None | object:
    """A float, None when not logged (null), or _BAD."""
    if type(v) is float:
        return v
    if v is None:
        return None
    if isinstance(v, bool):
        return _BAD
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:  # a 400-digit integer
            return float("inf") if v > 0 else float("-inf")
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        x = parse_number(v.strip())
        return _BAD if x is None else x
    return _BAD


_FRACTIONAL = object()


def _step(v: Any) -> int | None | object:
    """An exact integer step, None (missing, not a number, beyond int64) or _FRACTIONAL."""
    if type(v) is int:
        return v if -(2**63) <= v < 2**63 else None
    x = _number(v)
    if not isinstance(x, float) or not abs(x) < _STEP_LIMIT:
        return None
    return int(x) if x == round(x) else _FRACTIONAL


_PY_SPECIAL = re.compile(r"(?<![\w'\"])(-?(?:nan|inf))(?![\w'\"])")
_PY_SCALAR = re.compile(r"\b(?:np|numpy)\.(?:float|int)\d*\(([^()]*)\)")


def python_dict(line: str) -> dict[str, Any] | None:
    """A line printed as a Python dict (``print(logs)``, the Hugging Face Trainer's ``{'loss':
    0.51, 'epoch': 0.5}``) or as JSON (``json.dumps``, which writes a NaN loss as ``NaN`` and
    ``None`` as ``null``): its literal, ``nan``/``inf`` and numpy scalars read as numbers;
    None when it is not one (only literals are evaluated, never code)."""
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")) or len(text) > 100_000:
        return None
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except (ValueError, RecursionError):
        pass
    text = _PY_SPECIAL.sub(r"'\1'", _PY_SCALAR.sub(r"\1", text))
    try:
        obj = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


#: The Hugging Face Trainer's summaries (``log_metrics``, the start of ``train()``): a banner,
#: ``***** eval metrics *****`` / ``***** Running training *****``, then ``  eval_loss = 0.2219``
#: rows. An eval (test) block is the last evaluation's values: read unless the dict printed before
#: it holds them already; the train block holds the run's means and the Running ones its settings.
_BANNER = re.compile(r"\*{5} ([^*]+) \*{5}\s*$")
_READ_BANNER = re.compile(r"(?i)^(?:eval|test|predict)\w* metrics$")
_BANNER_ROW = re.compile(r"^\s+(?P<k>[^=]*\S)\s+=\s+(?P<v>\S+)\s*$")
_SAME = {"rel_tol": 1e-3, "abs_tol": 1e-4}  # the block rounds to 4 digits
#: A tracker client's own console lines in the same output: W&B's ``wandb: Run history:`` /
#: ``wandb: Run summary:`` blocks (sparklines, last values), Comet's ``COMET INFO:`` summary: the
#: values the logged records hold already, never corrupt records.
_TRACKER_LINE = re.compile(r"^\s*(?:wandb|COMET (?:INFO|WARNING|ERROR)):")


class Summaries:
    """Tells the lines of the summary blocks (:data:`_BANNER`) of a printed log: never corrupt;
    an eval block that is new (:meth:`new`) is a record."""

    def __init__(self) -> None:
        self.open, self.reads, self.block, self.at = False, False, dict[str, float](), 0

    def skips(self, line: str, index: int = 0) -> bool:
        """Whether ``line`` (at 0-based ``index``) is a block's banner or row (read into the block),
        or a tracker client's console line (:data:`_TRACKER_LINE`)."""
        if _TRACKER_LINE.match(line):
            self.open = False
            return True
        if m := _BANNER.search(line):
            self.open, self.reads, self.block, self.at = True, bool(_READ_BANNER.match(m[1].strip())), {}, index
        elif self.open and (row := _BANNER_ROW.match(line)):
            if self.reads and (x := parse_number(row["v"])) is not None:
                self.block[row["k"]] = x
        else:
            self.open = False
        return self.open

    def new(self, last: dict[str, Any]) -> tuple[int, dict[str, float]] | None:
        """The block just read as (line index, record), None when there is none or ``last``, the
        values printed before it, holds every metric in it already (the Trainer printed the dict)."""
        block, self.block = self.block, {}
        metrics = [k for k in block if k != "epoch" and "runtime" not in k and "per_second" not in k]
        if not metrics or all(isinstance(x := _number(last.get(k)), float) and math.isclose(x, block[k], **_SAME) for k in metrics):
            return None
        return self.at, block


def parse_line(line: str) -> dict[str, Any] | str:
    """The flattened object of one line (JSON, or a printed Python dict), or why it is not one."""
    try:
        obj = loads(line)
    except json.JSONDecodeError as err:
        obj = python_dict(line)
        if obj is None:
            return err.msg
    except ValueError as err:
        return str(err)
    if not isinstance(obj, dict):
        return f"a JSON {_JSON_TYPES.get(type(obj), 'number')}, not an object"
    return flatten_record(obj)


def _parse_lines(src: str, text: str, log: RawLog) -> list[tuple[int, dict[str, Any]]]:
    """(0-based line index, flattened object) per good line; corrupt lines go to ``log``."""
    records: list[tuple[int, dict[str, Any]]] = []
    bad: list[tuple[int, str]] = []
    summaries, last = Summaries(), dict[str, Any]()
    for index, line in enumerate(text.split("\n")):
        if not line.strip() or summaries.skips(line, index):
            continue
        if (block := summaries.new(last)) is not None:
            records.append(block)
        got = parse_line(line)
        if isinstance(got, str):
            bad.append((index + 1, got))
        else:
            records.append((index, got))
            last.update(got)
    if (block := summaries.new(last)) is not None:
        records.append(block)
    return count_bad_lines(src, records, bad, log)


def count_bad_lines(
    src: str, records: list[tuple[int, dict[str, Any]]], bad: list[tuple[int, str]], log: RawLog
) -> list[tuple[int, dict[str, Any]]]:
    """``records``, with the corrupt lines ``bad`` ((line number, why) each) counted in ``log``."""
    if not records:
        if not bad:  # nothing logged yet
            return records
        raise ReadError(src, f"no line is a JSON object ({bad[0][1]}); {HINT}", line=bad[0][0])
    log.records = len(records) + len(bad)
    log.dropped_records += len(bad)
    for line, msg in bad[:MAX_LINE_PROBLEMS]:
        log.problem("corrupt", f"{src}:{line}: not a JSON object ({msg}); line skipped", 1)
    if len(bad) > MAX_LINE_PROBLEMS:
        log.problem(
            "corrupt", f"{src}: {len(bad) - MAX_LINE_PROBLEMS} more corrupt lines skipped",
            len(bad) - MAX_LINE_PROBLEMS,
        )
    return records


def read_jsonl(path: str | Path) -> RawLog:
    """Read a JSON-lines log into raw series, one per numeric key (in batches of lines,
    :mod:`traindx.readers.jsonlstream`: memory holds the numbers, not the text)."""
    from traindx.readers.jsonlstream import read_jsonl_stream

    return read_jsonl_stream(path)


def records_to_log(src: str, records: list[tuple[int, dict[str, Any]]], log: RawLog) -> RawLog:
    """Raw series from (line or entry index, flat metric dict) records."""
    from traindx.readers.jsonlstream import Points

    pts = Points()
    pts.add(records)
    return pts.finish(src, log)
