"""Read an MLflow file store (``mlruns/``) with the standard library and YAML, no mlflow.

The store holds ``<experiment id>/meta.yaml`` (the experiment's ``name``) and one folder per
run, ``<experiment id>/<run id>/`` with ``meta.yaml`` (``run_name``, ``lifecycle_stage``),
``metrics/<key>`` (one line per point: ``<timestamp ms> <value> <step>``; a ``/`` in a key is
a sub-folder), ``params/<key>`` (the value) and ``tags/<key>``. Each run folder is a run
named ``<experiment name>/<run name>``; its params are its hyperparameters and its metric
names go through the naming layer like any logged name. A metric line that does not parse
is skipped and counted; a run folder without metrics, or deleted in MLflow, is listed as
skipped with why (:func:`run_problem`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from traindx.errors import ReadError
from traindx.readers.hparams import parse_value
from traindx.readers.raw import RawLog, RawSeries
from traindx.schema import IngestProblem

META = "meta.yaml"
MAX_LINE_PROBLEMS = 5
#: MLflow's SQL store keeps +-inf as +-sys.float_info.max; read back as +-inf.
_FMAX = sys.float_info.max


def _meta(path: Path) -> dict:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as e:
        raise ReadError(str(path), f"cannot read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        first = (str(e).strip().splitlines() or ["?"])[0]
        raise ReadError(str(path), f"not valid YAML ({first}); expected an MLflow meta.yaml") from None
    return doc if isinstance(doc, dict) else {}


def is_run_meta(path: Path) -> bool:
    """Whether ``path`` is the ``meta.yaml`` of an MLflow run (not of an experiment)."""
    if path.name != META:
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(65536)
    except OSError:
        return False
    return any(line.startswith(("run_id:", "run_uuid:")) for line in head.splitlines())


def run_problem(run_dir: Path) -> str | None:
    """Why an MLflow run folder cannot be read (None: it can): deleted, or no metrics."""
    try:
        meta = _meta(run_dir / META)
    except ReadError as e:
        return str(e).split(": ", 1)[-1]
    if meta.get("lifecycle_stage") == "deleted":
        return "an MLflow run deleted in MLflow (lifecycle_stage: deleted); not read"
    metrics = run_dir / "metrics"
    if not metrics.is_dir():
        return "an MLflow run without a metrics/ folder (it logged no metrics, or the folder was not copied); nothing to read"
    if not any(p.is_file() for p in metrics.rglob("*")):
        return "an MLflow run that logged no metrics (metrics/ is empty); nothing to read"
    return None


def _files(d: Path) -> Iterable[tuple[str, Path]]:
    """(key, file) below ``d``; a key with ``/`` is a sub-folder."""
    if d.is_dir():
        for p in sorted(d.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                yield p.relative_to(d).as_posix(), p


def metric_value(v: float) -> float:
    """MLflow's SQL store's stand-in for infinity back to infinity."""
    return math.copysign(math.inf, v) if abs(v) >= _FMAX else v


def add_series(log: RawLog, key: str, points: list[tuple[float, float, int]], source: str) -> None:
    """One metric's (timestamp ms, value, step) points, in write order, as a raw series."""
    if not points:
        return
    a = np.asarray(points, dtype=np.float64)
    log.series.append(
        RawSeries(
            name=key, steps=a[:, 2].astype(np.int64), values=a[:, 1], source=source,
            wall_time=a[:, 0] / 1000.0,
        )
    )  # fmt: skip


def _read_metric(log: RawLog, key: str, path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        says = f"{path}: cannot read ({e.strerror or e}); metric '{key}' not read"
        log.problems.append(IngestProblem.model_construct(kind="unreadable", file=str(path), message=says))
        return
    points, bad = [], []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        log.records += 1
        f = line.split()
        try:
            ts, value = float(f[0]), float(f[1])
            step = int(f[2]) if len(f) > 2 else 0  # MLflow < 1.0 wrote no step
            if len(f) > 3 or not math.isfinite(ts):
                raise ValueError
        except (ValueError, IndexError):
            bad.append(i)
            continue
        points.append((ts, value, step))
    if bad:
        log.dropped_records += len(bad)
        lines = ", ".join(str(i) for i in bad[:MAX_LINE_PROBLEMS]) + (" ..." if len(bad) > MAX_LINE_PROBLEMS else "")
        says = f"{path}: {len(bad)} line(s) not '<timestamp> <value> <step>' (line {lines}); skipped"
        log.problems.append(IngestProblem.model_construct(kind="corrupt", file=str(path), count=len(bad), message=says))
    add_series(log, key, points, str(path))


def read_mlflow_run(meta_path: str | Path) -> RawLog:
    """The metrics, params and name of the MLflow run whose ``meta.yaml`` this is."""
    meta_path = Path(meta_path)
    run_dir = meta_path.parent
    meta = _meta(meta_path)
    log = RawLog(path=str(meta_path))
    for key, p in _files(run_dir / "metrics"):
        _read_metric(log, key, p)
    for key, p in _files(run_dir / "params"):
        try:
            log.hyperparameters[key] = parse_value(p.read_text(encoding="utf-8", errors="replace"))
        except OSError as e:
            log.problem("unreadable", f"{p}: cannot read ({e.strerror or e}); param '{key}' not read")
    run_name = meta.get("run_name")
    tag = run_dir / "tags" / "mlflow.runName"
    if not run_name and tag.is_file():
        run_name = tag.read_text(encoding="utf-8", errors="replace").strip()
    exp_meta = run_dir.parent / META
    try:
        exp = _meta(exp_meta).get("name") if exp_meta.is_file() else None
    except ReadError as e:  # the run is still read, named by its experiment's id
        exp = None
        log.problem("note", f"{e}; the experiment is named by its id")
    log.name = f"{exp or meta.get('experiment_id') or run_dir.parent.name}/{run_name or run_dir.name}"
    status = meta.get("status")
    if status in (1, 4, 5):  # RUNNING, FAILED, KILLED (mlflow.entities.RunStatus)
        says = {1: "still running", 4: "failed", 5: "killed"}[status]
        log.problem("note", f"{meta_path}: MLflow says the run {says}")
    if not log.series and not log.problems:
        raise ReadError(str(run_dir), "an MLflow run with no metrics; nothing to read")
    return log
