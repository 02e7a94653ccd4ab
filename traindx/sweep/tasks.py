"""A sweep's units of work: the runs under a root, cut into independent tasks, and the
worker that reads and diagnoses one task's runs and keeps only a small summary of each.

Runs are found once, in the caller (:func:`traindx.readers.discover`, the same walk as
``traindx diagnose``); a worker reads the files of its runs and diagnoses them one at a
time, so a worker holds one run's series at a time and the caller only summaries.
Sibling folders written by two loggers of one training (Lightning's CSV and TensorBoard
loggers) are read as one run by ``traindx diagnose``; folders that could be such a pair
(same grandparent, file kinds with nothing in common) go to one task together, read as
``traindx diagnose`` reads them - up to :data:`MAX_UNIT` folders; a larger group of mixed
formats is cut into single runs, so that one CSV among a thousand event-file runs does not
make the sweep serial (a two-logger pair in such a group is then read as two runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from traindx.arrays import median
from traindx.schema import SkippedPath

#: Verdict classes the importance separates: a healthy run, one with findings, one whose
#: loss went non-finite or ended above where it started.
Outcome = str  # "good" | "bad" | "diverged" | "unjudged"
#: most folders kept in one task so that two loggers' copies of one training meet (a larger
#: group of mixed formats is cut into single runs: its copies are then read apart)
MAX_UNIT = 32
#: a run whose training loss ends at this multiple of its start (or above) diverged
DIVERGED_RATIO = 2.0


class RunSummary(BaseModel):
    """What a sweep keeps of one run's diagnosis."""

    run_id: str
    source: str = ""
    verdict: str
    #: the top cause (``healthy`` for a healthy run; None without a verdict)
    cause: str | None = None
    probability: float | None = None
    symptoms: list[str] = Field(default_factory=list)
    #: good (healthy), bad (findings), diverged (training loss non-finite, or ending at
    #: :data:`DIVERGED_RATIO` x its start or above), unjudged (no verdict)
    outcome: Outcome
    #: the series the run is scored on (val/loss, then train/loss, then a quality metric)
    metric: str | None = None
    #: its final value (median of the last 5 % of its finite points); None if none
    final: float | None = None
    #: True when a higher final value is better (accuracy-like metrics)
    higher_is_better: bool = False
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    #: why the run has no verdict (``verdict == "error"``: traindx failed on it)
    error: str | None = None


class TaskResult(BaseModel):
    """What a worker returns: its runs' summaries and what under them was not read."""

    runs: list[RunSummary] = Field(default_factory=list)
    skipped: list[SkippedPath] = Field(default_factory=list)


@dataclass
class Task:
    """Runs one worker reads together: (run directory, its files) under ``root``."""

    root: str
    runs: list[tuple[str, list[tuple[str, str | None]]]] = field(default_factory=list)
    overrides: dict[str, str] | None = None
    rulebook: tuple[str, ...] = ()
    override_shipped: bool = False


def _kinds(files: list[tuple[Path, str | None]]) -> set[str]:
    from traindx.readers import CONTEXT_FILE, PREFLIGHT_FILE, _kind

    return {_kind(f) or "log" for f, _ in files if f.name not in (CONTEXT_FILE, PREFLIGHT_FILE)}


def make_tasks(
    root: Path,
    *,
    overrides: dict[str, str] | None = None,
    rulebook: tuple[str, ...] = (),
    override_shipped: bool = False,
    per_task: int = 8,
    skipped: list[SkippedPath] | None = None,
) -> list[Task]:
    """The runs under ``root`` cut into tasks of about ``per_task`` runs."""
    from traindx.errors import ReadError
    from traindx.readers import discover

    skipped = [] if skipped is None else skipped
    before = len(skipped)
    found = discover(root, overrides, skipped)
    if not found:
        if len(skipped) > before:
            raise ReadError(skipped[before].path, skipped[before].reason)
        raise ReadError(str(root), "no training logs found; expected TensorBoard event files, a metrics CSV or JSONL below it")
    # runs that `traindx diagnose` could read as one (see the module docstring) stay together
    near: dict[str, list[tuple[Path, list[tuple[Path, str | None]]]]] = {}
    for d, files in sorted(found.items()):
        near.setdefault(str(d.parent.parent), []).append((d, files))
    units: list[list[tuple[Path, list[tuple[Path, str | None]]]]] = []
    for group in near.values():
        kinds = [_kinds(files) for _, files in group]
        if 1 < len(group) <= MAX_UNIT and not set.intersection(*kinds):
            units.append(group)
        else:
            units.extend([g] for g in group)
    tasks: list[Task] = []
    for unit in units:
        if not tasks or len(tasks[-1].runs) + len(unit) > per_task:
            tasks.append(Task(str(root), overrides=overrides, rulebook=rulebook, override_shipped=override_shipped))
        tasks[-1].runs.extend((str(d), [(str(f), s) for f, s in files]) for d, files in unit)
    return tasks


_BOOKS: dict[tuple[tuple[str, ...], bool], Any] = {}


def _book(paths: tuple[str, ...], override_shipped: bool):  # -> Rulebook, loaded once per process
    from traindx.rules.loader import load_rulebook

    key = (paths, override_shipped)
    if key not in _BOOKS:
        _BOOKS[key] = load_rulebook([Path(p) for p in paths], override_shipped=override_shipped)
    return _BOOKS[key]


def run_task(task: Task) -> TaskResult:
    """Read and diagnose a task's runs; a summary of each, and what was not read."""
    from traindx.engine import diagnose_run
    from traindx.readers import build_runs

    book = _book(task.rulebook, task.override_shipped)
    root = Path(task.root)
    found = {Path(d): [(Path(f), s) for f, s in files] for d, files in task.runs}
    out = TaskResult()
    for run in build_runs(root, found, task.overrides, skipped=out.skipped):
        try:
            out.runs.append(summarize(run, diagnose_run(run, book)))
        except Exception as e:  # a bug in traindx on one run never loses the sweep's others
            what = f"{type(e).__name__}: {e}"[:300]
            out.runs.append(RunSummary(run_id=run.id, source=run.source, verdict="error", outcome="unjudged",
                                       error=f"internal error: {what}; please report it"))  # fmt: skip
    return out


def summarize(run, diagnosis) -> RunSummary:  # (Run, Diagnosis)
    from traindx.signals import pick, pick_quality

    facts = diagnosis.facts
    top = diagnosis.top
    cause = "healthy" if diagnosis.healthy else (top.id if top else None)
    series = pick(run, "loss", "val") or pick(run, "loss", "train")
    higher = False
    if series is None:
        series = pick_quality(run, "val") or pick_quality(run, "train")
        higher = series is not None
    final, name = None, None
    if series is not None and len(series):
        from traindx.signals.robust import tail

        v = series.values[np.isfinite(series.values)]
        name = str(series.key)
        if v.size:
            final = float(median(tail(v, 0.05, 1, 200)))
    loss = facts.get("loss", {})
    first, last = loss.get("first"), loss.get("last")
    # diverged: the training loss went non-finite, or ended at twice its start or more
    diverged = bool(loss.get("has_nonfinite")) or (
        first is not None and last is not None and first > 0 and last >= DIVERGED_RATIO * first
    )
    if diverged:
        outcome = "diverged"
    elif diagnosis.verdict == "healthy":
        outcome = "good"
    elif diagnosis.verdict == "findings":
        outcome = "bad"
    else:
        outcome = "unjudged"
    if final is not None and not math.isfinite(final):
        final = None
    return RunSummary(
        run_id=diagnosis.run_id, source=diagnosis.source, verdict=diagnosis.verdict, cause=cause,
        probability=None if diagnosis.healthy or top is None else round(top.probability, 4),
        symptoms=[s.code for s in diagnosis.symptoms], outcome=outcome, metric=name, final=final,
        higher_is_better=higher, hyperparameters=dict(run.context.hyperparameters),
    )  # fmt: skip
