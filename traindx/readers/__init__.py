"""Readers: turn log files and directory trees into :class:`~traindx.schema.Run` objects.

A *run directory* is a directory holding log files (TensorBoard event files, a metrics CSV,
JSONL, ``context.json``). Its split sub-directories (Keras' ``train/`` and ``validation/``)
belong to it, so one Keras ``TensorBoard`` log becomes one run with two splits, and files
side by side (a ``CSVLogger`` file next to the event files it mirrors) are one run. Any other
sub-directory with logs is a run of its own; run ids are paths relative to the root given.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import ValidationError

from traindx.errors import ReadError
from traindx.names import map_name
from traindx.readers.raw import RawLog
from traindx.schema import Run, RunContext, Series

SPLIT_DIRS = {"train": "train", "training": "train", "validation": "val", "val": "val",
              "valid": "val", "eval": "val", "evaluation": "val", "test": "test"}  # fmt: skip
CONTEXT_FILE = "context.json"
_EPOCH_NAME = re.compile(r"(^|[/_])epoch_|_epoch$", re.I)


def _kind(p: Path) -> str | None:
    name = p.name.lower()
    if name == "trainer_state.json":
        return "hf"
    if "tfevents" in name:
        return "tfevents"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return None


def _read_file(p: Path, kind: str) -> RawLog:
    if kind == "tfevents":
        from traindx.readers.tfevents import read_event_file

        return read_event_file(p)
    if kind == "csv":
        from traindx.readers.csvlog import read_csv

        return read_csv(p)
    if kind == "hf":
        from traindx.readers.hf_state import read_hf_state

        return read_hf_state(p)
    from traindx.readers.jsonl import read_jsonl

    return read_jsonl(p)


def _is_log(p: Path, overrides: dict[str, str] | None, skipped: list[Path]) -> bool:
    kind = _kind(p)
    if kind == "csv":
        from traindx.readers.csvlog import sniff_is_metrics_csv

        if sniff_is_metrics_csv(p, overrides):
            return True
        skipped.append(p)
        return False
    return kind is not None or p.name == CONTEXT_FILE


def _log_files(d: Path, overrides: dict[str, str] | None, skipped: list[Path]) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_file() and _is_log(p, overrides, skipped))
    except OSError as e:
        raise ReadError(str(d), f"cannot list directory: {e.strerror}") from None


def _split_of(parts: tuple[str, ...]) -> str | None:
    """Split named by directory components: ``validation``, or an ``add_scalars`` sub-run
    such as ``loss/val`` (tensorboardX) or ``loss_val`` (torch); the last one wins."""
    split = None
    for part in parts:
        low = part.lower()
        if low in SPLIT_DIRS:
            split = SPLIT_DIRS[low]
            continue
        for word, name in SPLIT_DIRS.items():
            if low.endswith("_" + word) or low.startswith(word + "_"):
                split = name
    return split


def discover(
    root: Path, overrides: dict[str, str] | None = None, skipped: list[Path] | None = None
) -> dict[Path, list[tuple[Path, str | None]]]:
    """Run directory -> [(file, split of its directory or None)].

    A directory with log files is a run, unless it lies below another run's directory: then
    it belongs to that run (Keras' ``train/``/``validation/``, ``add_scalars`` sub-runs such
    as ``loss/train/``), with the split its path names. A bare ``train/``-like directory
    whose parent holds no logs makes its parent the run. CSV files whose header has no
    recognizable metric name are skipped (listed in ``skipped``).
    """
    runs: dict[Path, list[tuple[Path, str | None]]] = {}
    skipped = [] if skipped is None else skipped
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "plugins")
        d = Path(dirpath)
        files = _log_files(d, overrides, skipped)
        if not files:
            continue
        owner = next((a for a in d.parents if a in runs and (a == root or root in a.parents)), None)
        if owner is None and d != root and d.name.lower() in SPLIT_DIRS:
            owner = d.parent
        if owner is None:
            owner, split = d, None
        else:
            split = _split_of(d.relative_to(owner).parts)
        runs.setdefault(owner, []).extend((f, split) for f in files)
    return runs


def _load_context(p: Path) -> RunContext:
    try:
        return RunContext.model_validate_json(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ReadError(str(p), f"cannot read: {e.strerror}") from None
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "document"
        raise ReadError(str(p), f"not a traindx context: {where}: {err['msg']}") from None


def build_run(run_id: str, source: Path, files: list[tuple[Path, str | None]], overrides: dict[str, str] | None = None) -> Run:
    run = Run(id=run_id, source=str(source))
    # Series of one key from different kinds of file (a CSVLogger file mirroring event files)
    # are alternatives, not parts: keep the kind with more points. Within one kind, merge
    # (several event files of a restarted run).
    by_key: dict[str, dict[str, list[Series]]] = {}
    for path, split in files:
        if path.name == CONTEXT_FILE:
            run.context = _load_context(path)
            run.ingest.files.append(str(path))
            continue
        kind = _kind(path) or "csv"
        log = _read_file(path, kind)
        run.ingest.files.append(str(path))
        run.ingest.records += log.records
        run.ingest.dropped_records += log.dropped_records
        run.ingest.problems.extend(log.problems)
        for raw in log.series:
            key = map_name(raw.name, overrides, default_split=split)
            if key is None:
                if raw.name not in run.ingest.unmapped:
                    run.ingest.unmapped.append(raw.name)
                continue
            unit = "epoch" if raw.unit == "epoch" or _EPOCH_NAME.search(raw.name) else "step"
            s = Series.from_raw(key, raw.steps, raw.values, unit=unit, original_name=raw.name, source=str(path))
            by_key.setdefault(str(key), {}).setdefault(kind, []).append(s)
    for alternatives in by_key.values():
        parts = max(alternatives.values(), key=lambda ss: sum(len(s) for s in ss))
        for s in parts:
            run.add(s)
    return run


def read(path: str | os.PathLike[str], *, overrides: dict[str, str] | None = None) -> list[Run]:
    """Read every run under ``path`` (a log file or a directory tree)."""
    root = Path(path)
    if not root.exists():
        raise ReadError(str(root), "no such file or directory; expected a log directory or a .tfevents/.csv/.jsonl file")
    if root.is_file():
        kind = _kind(root)
        if kind is None and root.name != CONTEXT_FILE:
            raise ReadError(
                str(root),
                "not a recognized log file; expected a TensorBoard event file (*tfevents*), .csv, .tsv, .jsonl or trainer_state.json",
            )
        split = SPLIT_DIRS.get(root.parent.name.lower())
        return [_check(build_run(root.name, root, [(root, split)], overrides))]
    skipped: list[Path] = []
    found = discover(root, overrides, skipped)
    if not found:
        if skipped:
            from traindx.readers.csvlog import read_text

            header = (read_text(skipped[0]).splitlines() or [""])[0][:120]
            raise ReadError(
                str(skipped[0]),
                f"no column name is a known metric (header: {header!r}); map one with --map NAME=loss (or val/loss, accuracy, lr ...)",
            )
        raise ReadError(str(root), "no training logs found; expected TensorBoard event files, a metrics CSV or JSONL below it")
    runs = []
    for d, files in sorted(found.items()):
        rel = d.relative_to(root).as_posix()
        run_id = root.resolve().name if rel == "." else rel
        runs.append(build_run(run_id, d, files, overrides))
    return [_check(r, allow_empty=len(runs) > 1) for r in runs]


def _check(run: Run, allow_empty: bool = False) -> Run:
    if not run.series and not allow_empty:
        names = ", ".join(run.ingest.unmapped[:8]) or "none"
        raise ReadError(
            run.source,
            f"no recognizable series (names seen: {names}); map them with --map NAME=loss (or val/loss, accuracy, lr ...)",
        )
    return run
