"""Read JSON-lines metric logs: one object per line, metric name -> number.

Nested objects are flattened with ``/`` (``{"train": {"loss": 1}}`` -> ``train/loss``). The x
axis is the first step key found in the file (:data:`STEP_KEYS`), else ``epoch``, else the
line index. Corrupt lines are skipped, counted and reported with their line numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from traindx.errors import ReadError
from traindx.names import is_bookkeeping
from traindx.readers.csvlog import WALL_COLUMNS, parse_number, read_text
from traindx.readers.raw import RawLog, RawSeries

STEP_KEYS = ("step", "global_step", "trainer/global_step", "_step", "iteration", "iter")
EPOCH_KEYS = ("epoch",)
HINT = 'expected one JSON object per line like {"step": 1, "loss": 0.5}'
MAX_LINE_PROBLEMS = 5
_BAD = object()  # a value that is present but not a number
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    if not prefix and not any(type(v) is dict for v in obj.values()):
        return obj
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _number(v: Any) -> float | None | object:
    """A float, None when not logged (null), or _BAD."""
    if type(v) is float or type(v) is int:
        return float(v)
    if v is None:
        return None
    if isinstance(v, bool):
        return _BAD
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        x = parse_number(v.strip())
        return _BAD if x is None else x
    return _BAD


def _parse_lines(src: str, text: str, log: RawLog) -> list[tuple[int, dict[str, Any]]]:
    """(0-based line index, flattened object) per good line; corrupt lines go to ``log``."""
    records: list[tuple[int, dict[str, Any]]] = []
    bad: list[tuple[int, str]] = []
    for index, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            bad.append((index + 1, err.msg))
            continue
        if not isinstance(obj, dict):
            bad.append((index + 1, f"a JSON {_JSON_TYPES.get(type(obj), 'number')}, not an object"))
            continue
        records.append((index, _flatten(obj)))
    if not records:
        if not bad:
            raise ReadError(src, f"empty file; {HINT}")
        raise ReadError(src, f"no line is a JSON object ({bad[0][1]}); {HINT}", line=bad[0][0])
    log.records = len(records) + len(bad)
    log.dropped_records += len(bad)
    for line, msg in bad[:MAX_LINE_PROBLEMS]:
        log.problems.append(f"{src}:{line}: not a JSON object ({msg}); line skipped")
    if len(bad) > MAX_LINE_PROBLEMS:
        log.problems.append(f"{src}: {len(bad) - MAX_LINE_PROBLEMS} more corrupt lines skipped")
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
        raw = [_number(rec.get(key)) for _, rec in records]
        x = np.array([v if isinstance(v, float) else np.nan for v in raw])
        if np.any(np.isfinite(x) & (x != np.round(x))):
            log.problems.append(
                f"{src}: '{key}' has fractional values; the line index is used as the step"
            )
            return None, line_index, "step"
        missing = ~np.isfinite(x)
        if missing.any():  # a record without a step: logged at the previous record's step
            log.problems.append(
                f"{src}:{records[int(np.argmax(missing))][0] + 1}: no number in '{key}' "
                f"({int(missing.sum())} lines); values placed at the previous line's step"
            )
            last = np.maximum.accumulate(np.where(missing, -1, np.arange(x.size)))
            x = np.where(last >= 0, x[np.maximum(last, 0)], 0.0)
        return key, x.astype(np.int64), unit
    return None, line_index, "step"


def read_jsonl(path: str | Path) -> RawLog:
    """Read a JSON-lines log into raw series, one per numeric key."""
    src = str(path)
    log = RawLog(path=src)
    records = _parse_lines(src, read_text(path), log)
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
            log.problems.append(
                f"{src}: key '{name}' is not numeric (line {line}: {json.dumps(raw)[:40]}); skipped"
            )
            continue
        log.dropped_records += len(cells)
        more = f" ({len(cells)} values skipped)" if len(cells) > 1 else ""
        log.problems.append(
            f"{src}:{line}: key '{name}': {json.dumps(raw)[:40]} is not a number{more}"
        )

    for name, (s, vals, walls) in points.items():
        if is_bookkeeping(name):
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
