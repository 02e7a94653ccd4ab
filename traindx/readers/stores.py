"""Experiment trackers' stores found among the logs: MLflow's file store (one run folder per
run, :mod:`traindx.readers.mlruns`) and MLflow's SQLite database (many runs in one file,
:mod:`traindx.readers.mlflowdb`). Discovery asks :func:`store_kind` what a file is and
:func:`store_problem` why it cannot be read; :func:`db_runs` turns a database into runs."""

from __future__ import annotations

from pathlib import Path

from traindx.readers import mlflowdb, mlruns
from traindx.readers.raw import RawLog
from traindx.schema import SkippedPath

MLFLOW_RUN = "mlflow"
MLFLOW_DB = "mlflow-db"
#: A store's run folder's parts that hold no logs of their own (read by the store's reader).
RUN_PARTS = frozenset({"metrics", "params", "tags"})


def store_kind(p: Path) -> str | None:
    """``"mlflow"`` for an MLflow run's ``meta.yaml``, ``"mlflow-db"`` for a SQLite file
    (``.db``/``.sqlite``) that may be MLflow's; None otherwise."""
    name = p.name.lower()
    if name == mlruns.META and mlruns.is_run_meta(p):
        return MLFLOW_RUN
    if name.endswith(mlflowdb.SUFFIXES) and mlflowdb.is_sqlite(p):
        return MLFLOW_DB
    return None


def store_problem(p: Path, kind: str) -> tuple[Path, str] | None:
    """(what is skipped, why) when the store at ``p`` cannot be read; None when it can."""
    if kind == MLFLOW_RUN:
        why = mlruns.run_problem(p.parent)
        return None if why is None else (p.parent, why)
    why = mlflowdb.store_problem(p)
    return None if why is None else (p, why)


def named_id(run_id: str, name: str) -> str:
    """The id of a tracker's run: its folder's id with ``<experiment id>/<run id>`` replaced
    by the tracker's ``<experiment name>/<run name>``."""
    parts = run_id.split("/")
    return "/".join([*parts[:-2], name]) if len(parts) >= 2 else name


def db_runs(db: Path, prefix: str, skipped: list[SkippedPath]) -> list[tuple[str, str, RawLog]]:
    """(run id, MLflow run id, log) of each run of an MLflow database; ``prefix``: the id of
    the folder it lies in ('' at the root). Deleted runs go to ``skipped``."""
    runs, deleted = mlflowdb.read_store(db)
    skipped.extend(SkippedPath(path=where, reason=why) for where, why in deleted)
    empty = "an MLflow run that logged no metrics; nothing to read"
    skipped.extend(SkippedPath(path=f"{db}: run {r.run_uuid} ({r.name})", reason=empty) for r in runs if not r.log.series)
    return [(f"{prefix}/{r.name}" if prefix else r.name, r.run_uuid, r.log) for r in runs if r.log.series]


def unique_ids(ids: list[str], tags: list[str]) -> list[str]:
    """Ids made unique: a repeated one gets its run's tag (MLflow's run id, 8 characters)."""
    seen: dict[str, int] = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    return [f"{i} ({t[:8]})" if seen[i] > 1 and t else i for i, t in zip(ids, tags, strict=True)]
