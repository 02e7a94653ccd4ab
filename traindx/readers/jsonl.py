"""Read JSON-lines metric logs: one object per line, metric name -> number.

Nested objects are flattened with ``/`` (``{"train": {"loss": 1}}`` -> ``train/loss``). The x
axis is the first step key found in the file (:data:`STEP_KEYS`), else ``epoch``, else the
line index. Corrupt lines are skipped, counted and reported with their line numbers; a last
line without its newline is still being written and is left for the next read. Numbers
beyond float64 read as +-inf; objects nested deeper than :data:`MAX_DEPTH` are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from traindx.errors import ReadError
from traindx.names import is_bookkeeping
from traindx.ranks import TIMING
from traindx.readers.csvlog import WALL_COLUMNS, complete_lines, parse_number, read_text
from traindx.readers.raw import RawLog, RawSeries
from traindx.textsafe import clean

STEP_KEYS = ("step", "global_step", "trainer/global_step", "_step", "iteration", "iter")
EPOCH_KEYS = ("epoch",)
HINT = 'expected one JSON object per line like {"step": 1, "loss": 0.5}'
MAX_LINE_PROBLEMS = 5
MAX_DEPTH = 16  # nesting levels flattened into ``a/b/c`` names; deeper values are skipped
_STEP_LIMIT = float(2**63)
_BAD = object()  # a value that is present but not a number
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def _flatten(obj: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
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
                out.update(_flatten(v, f"{prefix}{k}/", depth + 1))
        else:
            out[f"{prefix}{k}"] = v
    return out


def loads(text: str) -> Any:
    """``json.loads`` whose failures are all ``ValueError`` (deep nesting included)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


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


def parse_line(line: str) -> dict[str, Any] | str:
    """The flattened object of one line, or why it is not one."""
    try:
        obj = loads(line)
    except json.JSONDecodeError as err:
        return err.msg
    except ValueError as err:
        return str(err)
    if not isinstance(obj, dict):
        return f"a JSON {_JSON_TYPES.get(type(obj), 'number')}, not an object"
    return _flatten(obj)


def _parse_lines(src: str, text: str, log: RawLog) -> list[tuple[int, dict[str, Any]]]:
    """(0-based line index, flattened object) per good line; corrupt lines go to ``log``."""
    records: list[tuple[int, dict[str, Any]]] = []
    bad: list[tuple[int, str]] = []
    for index, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        got = parse_line(line)
        if isinstance(got, str):
            bad.append((index + 1, got))
        else:
            records.append((index, got))
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


def _first_key(keys: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((keys[n] for n in names if n in keys), None)


def _x_axis(
    src: str, records: list[tuple[int, dict[str, Any]]], log: RawLog
) -> tuple[str | None, np.ndarray, str]:
    """The x key (None: line index), one integer step per record, and the unit."""
    keys = {k.lower(): k for _, rec in records for k in rec}
    line_index = np.array([i for i, _ in records], dtype=np.int64)
    for names, unit in ((STEP_KEYS, "step"), (EPOCH_KEYS, "epoch")):
        key = _first_key(keys, names)
        if key is None:
            continue
        steps = [_step(rec.get(key)) for _, rec in records]
        if any(s is _FRACTIONAL for s in steps):
            log.problem(
                "note",
                f"{src}: '{key}' has fractional values; the line index is used as the step"
            )
            return None, line_index, "step"
        missing = np.array([s is None for s in steps], dtype=bool)
        x = np.array([0 if s is None else s for s in steps], dtype=np.int64)
        if missing.any():  # a record without a step: logged at the previous record's step
            log.problem(
                "note",
                f"{src}:{records[int(np.argmax(missing))][0] + 1}: no number in '{key}' "
                f"({int(missing.sum())} lines); values placed at the previous line's step"
            )
            last = np.maximum.accumulate(np.where(missing, -1, np.arange(x.size)))
            x = np.where(last >= 0, x[np.maximum(last, 0)], 0)
        return key, x, unit
    return None, line_index, "step"


def read_jsonl(path: str | Path) -> RawLog:
    """Read a JSON-lines log into raw series, one per numeric key."""
    src = str(path)
    log = RawLog(path=src)
    records = _parse_lines(src, complete_lines(log, read_text(path)), log)
    if not records:
        return log
    return records_to_log(src, records, log)


def records_to_log(src: str, records: list[tuple[int, dict[str, Any]]], log: RawLog) -> RawLog:
    """Raw series from (line or entry index, flat metric dict) records."""
    x_key, steps, unit = _x_axis(src, records, log)
    wall_key = _first_key({k.lower(): k for _, rec in records for k in rec}, WALL_COLUMNS)

    points: dict[str, tuple[list[int], list[float], list[float]]] = {}
    bad: dict[str, list[tuple[int, Any]]] = {}
    for (index, rec), step in zip(records, steps, strict=True):
        wall = _number(rec.get(wall_key)) if wall_key else None
        for name, raw in rec.items():
            if name == x_key:
                continue
            v = _number(raw)
            if v is _BAD:
                bad.setdefault(name, []).append((index + 1, raw))
            elif v is not None:
                s, vals, walls = points.setdefault(name, ([], [], []))
                s.append(int(step))
                vals.append(v)  # type: ignore[arg-type]
                walls.append(wall if isinstance(wall, float) else np.nan)

    for name, cells in bad.items():
        line, raw = cells[0]
        if name not in points:
            log.problem(
                "skipped",
                f"{src}: key '{name}' is not numeric (line {line}: {json.dumps(raw)[:40]}); skipped"
            )
            continue
        log.dropped_records += len(cells)
        more = f" ({len(cells)} values skipped)" if len(cells) > 1 else ""
        log.problem(
            "corrupt",
            f"{src}:{line}: key '{name}': {json.dumps(raw)[:40]} is not a number{more}",
            len(cells),
        )

    for name, (s, vals, walls) in points.items():
        if is_bookkeeping(name) and not TIMING.fullmatch(name.strip()):  # timings: stragglers of a multi-rank job
            continue
        log.series.append(
            RawSeries(
                name=name,
                steps=np.array(s, dtype=np.int64),
                values=np.array(vals, dtype=np.float64),
                source=src,
                unit=unit,
                wall_time=np.array(walls) if wall_key else None,
            )
        )
    if not log.series:
        raise ReadError(src, f"no numeric values; {HINT}")
    return log
