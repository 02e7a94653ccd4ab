"""The sweep itself: tasks run by an executor, summaries clustered by top cause, hyperparameter importance."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from traindx.errors import ReadError
from traindx.schema import SkippedPath
from traindx.sweep.executors import EXECUTORS, execute
from traindx.sweep.importance import Hyperparameter, importance
from traindx.sweep.tasks import RunSummary, make_tasks

__all__ = ["EXECUTORS", "Cluster", "Hyperparameter", "RunSummary", "SweepReport", "sweep"]


class Cluster(BaseModel):
    """Runs sharing a verdict: their top cause (``healthy`` for healthy runs)."""

    cause: str
    runs: list[str]


class SweepReport(BaseModel):
    """``traindx sweep --json`` prints this."""

    runs: list[RunSummary] = Field(default_factory=list)
    clusters: list[Cluster] = Field(default_factory=list)
    #: most important first
    hyperparameters: list[Hyperparameter] = Field(default_factory=list)
    #: name -> {"low", "high", "scale"} (numbers) or {"values", "scale": "categorical"}
    suggest: dict[str, dict] = Field(default_factory=dict)
    #: what the importance separates: "outcome" (good/bad/diverged) or "final <metric>"
    target: str = ""
    #: the runs the suggested region comes from, best first
    best: list[str] = Field(default_factory=list)
    note: str = ""
    skipped: list[SkippedPath] = Field(default_factory=list)


def clusters(runs: list[RunSummary]) -> list[Cluster]:
    groups: dict[str, list[str]] = {}
    for r in runs:
        groups.setdefault(r.cause or r.verdict, []).append(r.run_id)
    return [Cluster(cause=c, runs=ids) for c, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def sweep(
    path: str | os.PathLike[str],
    *,
    executor: str = "serial",
    workers: int | None = None,
    rulebook: Sequence[str | os.PathLike[str]] = (),
    overrides: dict[str, str] | None = None,
    override_shipped: bool = False,
    per_task: int = 8,
    with_importance: bool = True,
    progress: Callable[[int], None] | None = None,
) -> SweepReport:
    """Diagnose every run under ``path`` on ``executor`` (serial, process, dask or
    dask://HOST:PORT) and rank the hyperparameters by how well they separate the outcomes."""
    root = Path(path)
    if not root.is_dir():
        raise ReadError(str(root), "not a directory; `traindx sweep` reads a directory of runs")
    report = SweepReport()
    tasks = make_tasks(
        root, overrides=overrides, rulebook=tuple(str(p) for p in rulebook),
        override_shipped=override_shipped, per_task=per_task, skipped=report.skipped,
    )  # fmt: skip
    done = execute(tasks, executor, workers, progress)
    report.runs = done.runs
    report.skipped.extend(done.skipped)
    report.clusters = clusters(report.runs)
    if with_importance:
        imp = importance(report.runs)
        report.hyperparameters, report.suggest = imp.hyperparameters, imp.suggest
        report.target, report.best, report.note = imp.target, imp.best, imp.note
    return report
