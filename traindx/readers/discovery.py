"""Discovery: which files under a path are logs, and which directories are runs.

A *run directory* is a directory holding log files; its split sub-directories (Keras'
``train/`` and ``validation/``) belong to it, and so does any directory with logs below it,
except an experiment tracker's run folder (an MLflow run), which is a run wherever it lies.
What is found but not read goes to the caller's ``skipped`` list with why.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from traindx.ranks import is_rank_dir
from traindx.readers.filesplits import SPLIT_DIRS, name_splits
from traindx.readers.hygiene import lfs_pointer
from traindx.readers.stores import (
    MLFLOW_DB,
    MLFLOW_RUN,
    WANDB_RUN,
    store_kind,
    store_problem,
    tracker_folder,
    tracker_own_file,
)
from traindx.schema import SkippedPath

CONTEXT_FILE = "context.json"
#: Directories a trainer writes its logs into, which are not runs of their own
#: (MMEngine's ``<timestamp>/vis_data/scalars.json``).
CONTAINER_DIRS = {"vis_data"}
PREFLIGHT_FILE = "preflight.json"  # traindx.checks.PREFLIGHT_FILE

#: File names of known trainers' logs: name (lower case) -> kind.
HISTORY = "history"  # one JSON object of per-epoch lists (Keras' History.history dumped)
KNOWN_NAMES = {"trainer_state.json": "hf", "metrics.json": "jsonl", "scalars.json": "mmengine"}
#: Printed training output saved to a file (``train.log``, ``output.txt``, ``slurm-123.out``, pytorch-kaldi's ``res.res``).
TEXT = "text"
TEXT_SUFFIXES = frozenset({".log", ".txt", ".out", ".stdout", ".res", ""})
OWN_REPORTS = frozenset({"diagnosis.txt", "report.txt"})  # traindx's own reports, not logs
#: Extensions never sniffed for content (checkpoints, weights, images, archives, code).
_NEVER_LOGS = frozenset(
    ".pt .pth .ckpt .bin .safetensors .h5 .keras .onnx .pb .npz .npy .pkl .pickle .png .jpg .jpeg .gif .svg"
    " .pdf .zip .gz .tar .py .md .yaml .yml .ipynb .html .lock .whl".split()
)


def _kind(p: Path) -> str | None:
    name = p.name.lower()
    if name in KNOWN_NAMES:
        kind = KNOWN_NAMES[name]
        if kind == "jsonl" and _history_document(p):  # a metrics.json written by json.dump
            return HISTORY
        return kind
    if "tfevents" in name:
        return "tfevents"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".log.json"):
        return "mmdet"
    if name.endswith((".npy", ".npz")):  # a metric's array (np.save), not a dataset's
        from traindx.readers.numpy_arrays import numpy_kind

        return numpy_kind(p)
    if name.endswith((".pkl", ".pickle")):  # pickle.dump of a history; other pickles are not logs
        from traindx.readers.pkl_history import pickle_kind

        return pickle_kind(p)
    if name.endswith((".pt", ".pth")):  # torch.save of a history; a checkpoint is not a log
        from traindx.readers.torch_history import torch_kind

        return torch_kind(p)
    return store_kind(p)


def _head_lines(head: bytes) -> list[str]:
    return [ln for ln in head.decode("utf-8", "replace").splitlines() if ln.strip()]


def _json_lines(lines: list[str]) -> bool:
    """Whether a file's first lines are JSON objects, one a line (two at least)."""
    return len(lines) >= 2 and all(
        ln.lstrip().startswith("{") and ln.rstrip().endswith("}") for ln in lines[:2]
    )


def _history_document(p: Path) -> bool:
    """Whether a file is one JSON document holding a history (JSON lines are not parsed whole)."""
    from traindx.readers.json_history import sniff_history

    try:
        with open(p, "rb") as f:
            head = f.read(8192)
    except OSError:
        return False
    return not _json_lines(_head_lines(head)) and sniff_history(p, head)


def _sniff(p: Path, overrides: dict[str, str] | None) -> str | None:
    """The kind of a file whose name says nothing (Keras' CSVLogger ``training.log``, a
    ``.json`` of JSON lines), read from its first lines; ``"lfs"`` for a Git LFS pointer.
    JSONL needs two JSON-object lines, so a one-line configuration file is not a log."""
    if p.suffix.lower() in _NEVER_LOGS or p.name.startswith("."):
        return None
    try:
        with open(p, "rb") as f:
            head = f.read(8192)
    except OSError:
        return None
    if b"\0" in head:
        return None
    if lfs_pointer(p):
        return "lfs"
    lines = _head_lines(head)
    if _json_lines(lines):
        return "jsonl"
    from traindx.readers.json_history import sniff_history

    if sniff_history(p, head):
        return HISTORY
    from traindx.readers.csvlog import csv_header_problem

    if p.suffix.lower() in TEXT_SUFFIXES and p.name.lower() not in OWN_REPORTS:
        from traindx.readers.textlog import looks_like_text_log

        # before the CSV sniff: a table's rows hold no 'name: number' pairs, but printed
        # output with tabs ('Train Epoch: 1 [0/60000]\tLoss: 0.5') passes for a TSV
        if looks_like_text_log(head.decode("utf-8", "replace")):
            return TEXT
    if len(lines) >= 2 and csv_header_problem(p, overrides) is None:
        return "csv"
    return None


#: Files that mark a folder in a format traindx does not read: (file name test, what it is).
#: A directory holding one of these (and no log traindx reads) is reported as skipped.
UNSUPPORTED: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"wandb-metadata\.json$"), "a Weights & Biases run's files without its run-<id>.wandb log"),
]  # fmt: skip
#: Trackers' folders traindx does not read: (folder name test, what it is); each one found
#: is reported as skipped, beside logs or not (they are not walked: their names start with '.').
UNSUPPORTED_FOLDERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\.aim"), "an Aim repository (export its metrics to CSV)"),
    (re.compile(r"\.neptune"), "Neptune's offline runs (export their metrics to CSV)"),
    (re.compile(r"\.cometml-runs"), "Comet's offline experiments (export their metrics to CSV)"),
]  # fmt: skip


def _skip(skipped: list[SkippedPath], path: Path | str, reason: str) -> None:
    skipped.append(SkippedPath.model_construct(path=str(path), reason=reason))


def _is_log(p: Path, overrides: dict[str, str] | None, skipped: list[SkippedPath]) -> bool:
    kind = _kind(p)
    if kind is None and p.name not in (CONTEXT_FILE, PREFLIGHT_FILE):
        if tracker_own_file(p) or _sniff(p, overrides) is not None:
            return not tracker_own_file(p)
        if p.suffix.lower() in TEXT_SUFFIXES and not p.name.startswith("."):  # f.write(f"{epoch},{loss}\n")
            from traindx.readers.csvlog import headerless_table

            why = headerless_table(p)
            if why:
                _skip(skipped, p, why)
        return False
    if kind == "csv":
        if lfs_pointer(p):  # read (and reported) as the run's unreadable file
            return True
        from traindx.readers.csvlog import csv_header_problem

        why = csv_header_problem(p, overrides)
        if why is None:
            return True
        _skip(skipped, p, why)
        return False
    if kind in (MLFLOW_RUN, MLFLOW_DB, WANDB_RUN):
        problem = store_problem(p, kind)
        if problem:
            _skip(skipped, *problem)
        return problem is None
    return kind is not None or p.name in (CONTEXT_FILE, PREFLIGHT_FILE)


def _log_files(d: Path, overrides: dict[str, str] | None, skipped: list[SkippedPath]) -> list[Path]:
    try:
        entries = sorted(d.iterdir())
    except OSError as e:
        _skip(skipped, d, f"cannot list directory ({e.strerror or e})")
        return []
    files, other = [], []
    for p in entries:
        try:
            is_file = p.is_file()
        except OSError as e:
            _skip(skipped, p, f"cannot read ({e.strerror or e})")
            continue
        if is_file and _is_log(p, overrides, skipped):
            files.append(p)
        else:
            other.append(p.name)
            what = None if is_file else next((w for rx, w in UNSUPPORTED_FOLDERS if rx.fullmatch(p.name)), None)
            if what:
                _skip(skipped, p, f"{what}; traindx does not read this format")
    if not files:
        what = next((why for rx, why in UNSUPPORTED for name in other if rx.match(name)), None)
        if what:
            _skip(skipped, d, f"{what}; traindx does not read this format")
    return files


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
    root: Path, overrides: dict[str, str] | None = None, skipped: list[SkippedPath] | None = None
) -> dict[Path, list[tuple[Path, str | None]]]:
    """Run directory -> [(file, split of its directory or None)].

    A directory with log files is a run, unless it lies below another run's directory: then
    it belongs to that run (Keras' ``train/``/``validation/``, ``add_scalars`` sub-runs such
    as ``loss/train/``), with the split its path names. A bare ``train/``-like directory
    whose parent holds no logs makes its parent the run. CSV files whose header has no
    recognizable metric name are skipped (listed in ``skipped``, with unlistable directories
    and folders in formats traindx does not read).
    """
    runs: dict[Path, list[tuple[Path, str | None]]] = {}
    skipped = [] if skipped is None else skipped

    def unlistable(err: OSError) -> None:
        _skip(skipped, err.filename or root, f"cannot list directory ({err.strerror or err})")

    tracked: set[Path] = set()  # a tracker's run folder: a run of its own wherever it lies
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "plugins")
        d = Path(dirpath)
        parts = tracker_folder(d, filenames)
        if parts is not None:
            dirnames[:] = [x for x in dirnames if x not in parts]  # MLflow's metrics/, W&B's files/
            tracked.add(d)
        files = _log_files(d, overrides, skipped)
        if not files:
            continue
        owner = next((a for a in d.parents if a in runs and (a == root or root in a.parents)), None)
        if d in tracked:
            owner = None
        if owner is None and d != root and (d.name.lower() in SPLIT_DIRS or d.name.lower() in CONTAINER_DIRS):
            owner = d.parent
        if owner is None and d != root and is_rank_dir(d.name):  # one job's rank0/, rank1/ ...
            owner = d.parent
        while owner is not None and owner != root and is_rank_dir(owner.name):  # rank0/train/
            owner = owner.parent
        if owner is None:
            owner, split = d, None
        else:
            split = _split_of(d.relative_to(owner).parts)
        runs.setdefault(owner, []).extend((f, split) for f in files)
    # A run directory below another (an adapter's run directory inside a log folder, found
    # before the folder's own split directories made it a run) belongs to it.
    for d in sorted(runs, key=lambda p: len(p.parts)):
        owner = next((a for a in d.parents if a in runs), None)
        if owner is not None and d in runs and d not in tracked:
            split = _split_of(d.relative_to(owner).parts)
            runs[owner].extend((f, s or split) for f, s in runs.pop(d))
    return {d: name_splits(files) for d, files in runs.items()}  # train.csv beside val.csv: the run's splits
