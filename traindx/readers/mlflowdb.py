"""Read an MLflow SQLite tracking store (``mlflow.db``) with ``sqlite3``, no mlflow.

MLflow's SQL schema: ``experiments(experiment_id, name)``, ``runs(run_uuid, name,
experiment_id, lifecycle_stage, status)``, ``metrics(key, value, timestamp, step, is_nan,
run_uuid)``, ``params(key, value, run_uuid)``, ``tags(key, value, run_uuid)``. Every run not
deleted in MLflow is a run named ``<experiment name>/<run name>``, its params its
hyperparameters. The database is opened read-only; a metric row whose value is not a number
is skipped and counted; a SQLite file without MLflow's tables is a one-line error naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from traindx.errors import ReadError
from traindx.readers.hparams import parse_value
from traindx.readers.mlruns import add_series, metric_value
from traindx.readers.raw import RawLog

if TYPE_CHECKING:
    import sqlite3

SQLITE_MAGIC = b"SQLite format 3\x00"
SUFFIXES = (".db", ".sqlite", ".sqlite3")
TABLES = ("experiments", "runs", "metrics", "params")
_STATUS_NOTE = {"RUNNING": "still running", "FAILED": "failed", "KILLED": "killed"}


@dataclass
class StoreRun:
    """One MLflow run of the store: its name, MLflow's run id and what it logged."""

    name: str
    run_uuid: str
    log: RawLog


def is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def _connect(path: Path) -> sqlite3.Connection:
    import sqlite3  # (not at import: only a database needs it)

    uri = Path(path).resolve().as_uri() + "?mode=ro"  # percent-encoded: '?' or '#' in a name
    try:
        con = sqlite3.connect(uri, uri=True)
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as e:
        raise ReadError(str(path), f"not a readable SQLite database ({e}); expected an MLflow tracking store (mlflow.db)") from None
    missing = [t for t in TABLES if t not in names]
    if missing:
        con.close()
        raise ReadError(
            str(path),
            f"a SQLite database without MLflow's tables (no {', '.join(missing)}); expected an MLflow tracking store (mlflow.db)",
        )
    return con


def store_problem(path: Path) -> str | None:
    """Why ``path`` is not an MLflow SQLite store (None: it is one)."""
    try:
        _connect(path).close()
    except ReadError as e:
        return str(e).split(": ", 1)[-1]
    return None


def read_store(path: str | Path) -> tuple[list[StoreRun], list[tuple[str, str]]]:
    """(runs, skipped) of the store; skipped: (where, why) of runs deleted in MLflow."""
    import sqlite3

    path = Path(path)
    con = _connect(path)
    try:
        return _read(con, path)
    except sqlite3.Error as e:
        raise ReadError(str(path), f"cannot read MLflow's tables ({e}); expected an MLflow tracking store (mlflow.db)") from None
    finally:
        con.close()


def _read(con: sqlite3.Connection, path: Path) -> tuple[list[StoreRun], list[tuple[str, str]]]:
    src = str(path)
    exps = {str(i): n for i, n in con.execute("SELECT experiment_id, name FROM experiments")}
    names = dict(con.execute("SELECT run_uuid, value FROM tags WHERE key = 'mlflow.runName'")) if _has(con, "tags") else {}
    logs: dict[str, RawLog] = {}
    runs, skipped = [], []
    for uuid, name, exp_id, stage, status in con.execute(
        "SELECT run_uuid, name, experiment_id, lifecycle_stage, status FROM runs ORDER BY start_time, run_uuid"
    ):
        if stage == "deleted":
            skipped.append((f"{src}: run {uuid}", "an MLflow run deleted in MLflow (lifecycle_stage: deleted); not read"))
            continue
        log = RawLog(path=src)
        if status in _STATUS_NOTE:
            log.problem("note", f"{src}: run {uuid}: MLflow says the run {_STATUS_NOTE[status]}")
        logs[uuid] = log
        exp = exps.get(str(exp_id), str(exp_id))
        runs.append(StoreRun(f"{exp}/{name or names.get(uuid) or uuid}", uuid, log))
    for uuid, key, value in con.execute("SELECT run_uuid, key, value FROM params ORDER BY run_uuid, key"):
        if uuid in logs:
            logs[uuid].hyperparameters[str(key)] = parse_value(str(value))
    cur = con.execute("SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics ORDER BY run_uuid, key, rowid")
    last: tuple[str, str] | None = None
    points: list[tuple[float, float, int]] = []
    bad: dict[tuple[str, str], int] = {}
    for uuid, key, value, ts, step, is_nan in cur:
        if uuid not in logs:
            continue
        if (uuid, key) != last:
            if last is not None:
                add_series(logs[last[0]], last[1], points, src)
            last, points = (uuid, key), []
        logs[uuid].records += 1
        try:
            v = math.nan if is_nan else metric_value(float(value))
            points.append((float(ts or 0), v, int(step or 0)))
        except (TypeError, ValueError, OverflowError):
            bad[(uuid, key)] = bad.get((uuid, key), 0) + 1
    if last is not None:
        add_series(logs[last[0]], last[1], points, src)
    for (uuid, key), n in bad.items():
        logs[uuid].dropped_records += n
        logs[uuid].problem("corrupt", f"{src}: run {uuid}: metric '{key}': {n} row(s) whose value is not a number; skipped", n)
    return runs, skipped


def _has(con: sqlite3.Connection, table: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone() is not None
