"""Experiment trackers' stores found among the logs: MLflow's file store (one run folder per
run, :mod:`traindx.readers.mlruns`), MLflow's SQLite database (many runs in one file,
:mod:`traindx.readers.mlflowdb`) and W&B run folders (:mod:`traindx.readers.wandb_log`).
Discovery asks :func:`store_kind` what a file is, :func:`store_problem` why it cannot be
read and :func:`tracker_folder` which sub-folders of a tracker's run folder hold no logs;
:func:`db_runs` turns a database into runs."""

from __future__ import annotations

import re
from pathlib import Path

from traindx.readers import mlflowdb, mlruns, wandb_log
from traindx.readers.raw import RawLog
from traindx.schema import SkippedPath

MLFLOW_RUN = "mlflow"
MLFLOW_DB = "mlflow-db"
WANDB_RUN = "wandb"
#: An MLflow run folder's parts that hold no logs of their own (read by the store's reader).
RUN_PARTS = frozenset({"metrics", "params", "tags"})
#: W&B's own process logs in a ``wandb/`` folder (JSON lines that are not metrics).
_WANDB_OWN = re.compile(r"debug(-[a-z]+)*\.log")


def store_kind(p: Path) -> str | None:
    """``"mlflow"`` for an MLflow run's ``meta.yaml``, ``"mlflow-db"`` for a SQLite file
    (``.db``/``.sqlite``) that may be MLflow's; None otherwise."""
    name = p.name.lower()
    if name == mlruns.META and mlruns.is_run_meta(p):
        return MLFLOW_RUN
    if name.endswith(mlflowdb.SUFFIXES) and mlflowdb.is_sqlite(p):
        return MLFLOW_DB
    if name.endswith(".wandb"):
        return WANDB_RUN
    return None


def tracker_folder(d: Path, filenames: list[str]) -> frozenset[str] | None:
    """The sub-folders to leave unread when ``d`` is a tracker's run folder (a run of its own
    wherever it lies); None when it is not one."""
    if mlruns.META in filenames and store_kind(d / mlruns.META) == MLFLOW_RUN:
        return RUN_PARTS
    if any(f.endswith(".wandb") for f in filenames):
        return wandb_log.RUN_PARTS
    return None


def tracker_own_file(p: Path) -> bool:
    """A tracker's own file that is not a log of the run (W&B's ``wandb/debug.log``)."""
    return p.parent.name == "wandb" and _WANDB_OWN.fullmatch(p.name) is not None


def store_problem(p: Path, kind: str) -> tuple[Path, str] | None:
    """(what is skipped, why) when the store at ``p`` cannot be read; None when it can."""
    if kind == MLFLOW_RUN:
        why = mlruns.run_problem(p.parent)
        return None if why is None else (p.parent, why)
    if kind == WANDB_RUN:
        why = wandb_log.log_problem(p)
        return None if why is None else (p.parent, why)
    why = mlflowdb.store_problem(p)
    return None if why is None else (p, why)


def named_id(run_id: str, name: str, replaces: int = 2) -> str:
    """The id of a tracker's run: the last ``replaces`` parts of its folder's id (MLflow's
    ``<experiment id>/<run id>``, W&B's ``offline-run-<time>-<id>``) replaced by the
    tracker's name of the run (``<experiment>/<run name>``, ``<project>/<run name>``)."""
    parts = run_id.split("/")
    return "/".join([*parts[:-replaces], name]) if len(parts) >= replaces else name


def db_runs(db: Path, prefix: str, skipped: list[SkippedPath]) -> list[tuple[str, str, RawLog]]:
    """(run id, MLflow run id, log) of each run of an MLflow database; ``prefix``: the id of
    the folder it lies in ('' at the root). Deleted runs go to ``skipped``."""
    runs, deleted = mlflowdb.read_store(db)
    skipped.extend(SkippedPath.model_construct(path=where, reason=why) for where, why in deleted)
    empty = "an MLflow run that logged no metrics; nothing to read"
    skipped.extend(SkippedPath.model_construct(path=f"{db}: run {r.run_uuid} ({r.name})", reason=empty) for r in runs if not r.log.series)
    return [(f"{prefix}/{r.name}" if prefix else r.name, r.run_uuid, r.log) for r in runs if r.log.series]


def unique_ids(ids: list[str], tags: list[str]) -> list[str]:
    """Ids made unique: a repeated one gets its run's tag (MLflow's run id, 8 characters)."""
    seen: dict[str, int] = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    return [f"{i} ({t[:8]})" if seen[i] > 1 and t else i for i, t in zip(ids, tags, strict=True)]
