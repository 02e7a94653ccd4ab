"""Readers: turn log files and directory trees into :class:`~traindx.schema.Run` objects.

A *run directory* is a directory holding log files (TensorBoard event files, a metrics CSV,
JSONL, ``context.json``). Its split sub-directories (Keras' ``train/`` and ``validation/``)
belong to it, so one Keras ``TensorBoard`` log becomes one run with two splits, and files
side by side (a ``CSVLogger`` file next to the event files it mirrors) are one run. Any other
sub-directory with logs is a run of its own; run ids are paths relative to the root given.

Nothing under the root is passed over without a word: a file or directory that is not read
(unlistable, unreadable, a CSV without a metric column, a folder in a format traindx does
not read) goes to the caller's ``skipped`` list as a :class:`~traindx.schema.SkippedPath`;
a file of a run that cannot be read is an ``unreadable`` problem of that run, and the rest
of the run is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from traindx.errors import ReadError
from traindx.names import map_name
from traindx.ordering import order_points
from traindx.readers.assemble import add_component_sums, add_explicit_sums, percent_to_fraction
from traindx.readers.hparams import attach as attach_hyperparameters
from traindx.readers.hygiene import lfs_pointer, report_restarts
from traindx.readers.raw import RawLog, RawSeries
from traindx.readers.timeaxis import EPOCH_AXIS, Piece, combine, epoch_indexed, same_run_groups
from traindx.schema import Run, RunContext, Series, SkippedPath

SPLIT_DIRS = {"train": "train", "training": "train", "validation": "val", "val": "val",
              "valid": "val", "eval": "val", "evaluation": "val", "test": "test"}  # fmt: skip
CONTEXT_FILE = "context.json"
#: Directories a trainer writes its logs into, which are not runs of their own
#: (MMEngine's ``<timestamp>/vis_data/scalars.json``).
CONTAINER_DIRS = {"vis_data"}
PREFLIGHT_FILE = "preflight.json"  # traindx.checks.PREFLIGHT_FILE
#: Names of per-epoch values: Keras' ``epoch_loss`` (against the epoch index); a ``_epoch``
#: suffix (Lightning's ``train_loss_epoch``) is an epoch mean, logged against the global step
#: by Lightning, so its x values decide (:func:`~traindx.readers.timeaxis.epoch_indexed`).
_EPOCH_NAME = re.compile(r"(^|[/_])epoch_", re.I)
_EPOCH_SUFFIX = re.compile(r"_epoch$", re.I)


#: File names of known trainers' logs: name (lower case) -> kind.
KNOWN_NAMES = {"trainer_state.json": "hf", "metrics.json": "jsonl", "scalars.json": "mmengine"}
#: Extensions never sniffed for content (checkpoints, weights, images, archives, code).
_NEVER_LOGS = frozenset(
    ".pt .pth .ckpt .bin .safetensors .h5 .keras .onnx .pb .npz .npy .pkl .png .jpg .jpeg .gif .svg"
    " .pdf .zip .gz .tar .py .md .yaml .yml .ipynb .html .lock .whl".split()
)


def _kind(p: Path) -> str | None:
    name = p.name.lower()
    if name in KNOWN_NAMES:
        return KNOWN_NAMES[name]
    if "tfevents" in name:
        return "tfevents"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".log.json"):
        return "mmdet"
    return None


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
    lines = [ln for ln in head.decode("utf-8", "replace").splitlines() if ln.strip()]
    if len(lines) >= 2 and all(ln.lstrip().startswith("{") and ln.rstrip().endswith("}") for ln in lines[:2]):
        return "jsonl"
    from traindx.readers.csvlog import csv_header_problem

    if len(lines) >= 2 and csv_header_problem(p, overrides) is None:
        return "csv"
    return None


#: Reads one log file of a kind (``"tfevents"``, ``"csv"``, ...) into a RawLog.
FileReader = Callable[[Path, str], RawLog]


def _read_file(p: Path, kind: str) -> RawLog:
    reason = lfs_pointer(p)
    if reason:
        raise ReadError(str(p), reason)
    if kind in ("mmdet", "mmengine"):
        from traindx.readers import mmlog

        return mmlog.read_mmdet_log(p) if kind == "mmdet" else mmlog.read_mmengine_scalars(p)
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


#: Folders in formats traindx does not read: (file or directory name test, what it is).
#: A directory holding one of these (and no log traindx reads) is reported as skipped.
UNSUPPORTED: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r".+\.wandb$|wandb-metadata\.json$"), "a Weights & Biases run (export it with `wandb sync` or to CSV)"),
    (re.compile(r"meta\.yaml$"), "an MLflow run (export its metrics to CSV)"),
    (re.compile(r"\.aim$"), "an Aim repository (export it to CSV)"),
]  # fmt: skip


def _skip(skipped: list[SkippedPath], path: Path | str, reason: str) -> None:
    skipped.append(SkippedPath(path=str(path), reason=reason))


def _is_log(p: Path, overrides: dict[str, str] | None, skipped: list[SkippedPath]) -> bool:
    kind = _kind(p)
    if kind is None and p.name not in (CONTEXT_FILE, PREFLIGHT_FILE):
        return _sniff(p, overrides) is not None
    if kind == "csv":
        if lfs_pointer(p):  # read (and reported) as the run's unreadable file
            return True
        from traindx.readers.csvlog import csv_header_problem

        why = csv_header_problem(p, overrides)
        if why is None:
            return True
        _skip(skipped, p, why)
        return False
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

    for dirpath, dirnames, _ in os.walk(root, onerror=unlistable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "plugins")
        d = Path(dirpath)
        files = _log_files(d, overrides, skipped)
        if not files:
            continue
        owner = next((a for a in d.parents if a in runs and (a == root or root in a.parents)), None)
        if owner is None and d != root and (d.name.lower() in SPLIT_DIRS or d.name.lower() in CONTAINER_DIRS):
            owner = d.parent
        if owner is None:
            owner, split = d, None
        else:
            split = _split_of(d.relative_to(owner).parts)
        runs.setdefault(owner, []).extend((f, split) for f in files)
    # A run directory below another (an adapter's run directory inside a log folder, found
    # before the folder's own split directories made it a run) belongs to it.
    for d in sorted(runs, key=lambda p: len(p.parts)):
        owner = next((a for a in d.parents if a in runs), None)
        if owner is not None and d in runs:
            split = _split_of(d.relative_to(owner).parts)
            runs[owner].extend((f, s or split) for f, s in runs.pop(d))
    return runs


def _load_context(p: Path) -> RunContext:
    try:
        return RunContext.model_validate_json(p.read_bytes())
    except OSError as e:
        raise ReadError(str(p), f"cannot read: {e.strerror}") from None
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "document"
        raise ReadError(str(p), f"not a traindx context: {where}: {err['msg']}") from None


def _load_preflight(p: Path):  # -> traindx.checks.PreflightRecord
    from traindx.checks import load

    try:
        return load(p)
    except OSError as e:
        raise ReadError(str(p), f"cannot read: {e.strerror}") from None
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "document"
        raise ReadError(str(p), f"not a traindx preflight record: {where}: {err['msg']}") from None


def build_run(
    run_id: str,
    source: Path,
    files: list[tuple[Path, str | None]],
    overrides: dict[str, str] | None = None,
    *,
    strict: bool = False,
    root_name: str | None = None,
    reader: FileReader | None = None,
) -> Run:
    """A run from its files; a file that cannot be read is an ``unreadable`` problem of the
    run (``strict``: its ReadError is raised instead, for a file the user named).
    ``root_name``: the name of the directory the run id is relative to (its ``key=value``
    hyperparameters count, :mod:`traindx.readers.hparams`). ``reader`` reads one log file
    of a kind (default: all of it; ``traindx watch``: what was appended)."""
    run = Run(id=run_id, source=str(source))
    hp_found: list[tuple[dict, str]] = []  # (hyperparameters, source) the files state
    # Several writers of one run (a CSVLogger file beside Keras' event files and the traindx
    # callback's, Lightning's two loggers) are combined on one time axis (readers/timeaxis.py).
    pieces: list[Piece] = []
    marks: list[tuple[np.ndarray, np.ndarray]] = []  # (steps, epoch) of logged epoch counters
    raws: dict[str, list[RawSeries]] = {}  # logged name -> its raw series (for --map sums)
    has_context = False
    for path, split in files:
        try:
            if path.name == CONTEXT_FILE:
                run.context = _load_context(path)
                has_context = True
                run.ingest.files.append(str(path))
                continue
            if path.name == PREFLIGHT_FILE:
                rec = _load_preflight(path)
                run.checks = rec.checks
                if not has_context:  # the training adapter's context.json, when there, wins
                    run.context = rec.context
                run.ingest.files.append(str(path))
                continue
            kind = _kind(path) or _sniff(path, overrides) or "csv"
            log = (reader or _read_file)(path, kind)
        except ReadError as err:  # one bad file never aborts the rest of the run
            if strict:
                raise
            run.ingest.add("unreadable", f"{err}; the rest of the run was read", file=str(path))
            continue
        run.ingest.files.append(str(path))
        run.ingest.records += log.records
        run.ingest.dropped_records += log.dropped_records
        run.ingest.problems.extend(log.problems)
        if log.hyperparameters:
            hp_found.append((log.hyperparameters, str(path)))
        for field_, value in log.plan.items():  # the planned length, unless already known
            if getattr(run.context, field_) is None:
                setattr(run.context, field_, value)
        restart = report_restarts(log)
        if restart:
            run.ingest.add("note", restart, file=str(path))
        if log.epochs is not None:  # an epoch column beside the step column (Lightning's CSV)
            marks.append(log.epochs)
        for raw in log.series:
            if raw.unit == "step" and EPOCH_AXIS.fullmatch(raw.name.strip()):
                marks.append((raw.steps, raw.values))  # Lightning's TensorBoard 'epoch'
                continue
            raws.setdefault(raw.name.strip(), []).append(raw)
            key = map_name(raw.name, overrides, default_split=raw.split or split)
            if key is None:
                if raw.name not in run.ingest.unmapped:
                    run.ingest.unmapped.append(raw.name)
                continue
            # Keras' epoch_loss is logged against the epoch index; Lightning's train_loss_epoch
            # (an epoch mean) against the global step: the name alone does not say the axis
            by_name = _EPOCH_NAME.search(raw.name) or (_EPOCH_SUFFIX.search(raw.name) and epoch_indexed(raw.steps))
            unit = "epoch" if raw.unit == "epoch" or by_name else "step"
            o = order_points(raw.steps, raw.values, raw.wall_time, unit=unit)
            for what, count, says in o.problems:
                run.ingest.add(what, f"{path}: '{raw.name}': {says}", file=str(path), count=count)
            s = Series(
                key=key, steps=o.steps, values=o.values, unit=unit, original_name=raw.name.strip(),
                source=str(path), superseded=o.superseded,
            )  # fmt: skip
            s, _ = percent_to_fraction(s)
            pieces.append(Piece(s, f"{path.parent}|{kind}"))
    combine(run, pieces, marks)
    add_explicit_sums(run, overrides, raws)
    add_component_sums(run)
    own = CONTEXT_FILE if has_context else PREFLIGHT_FILE  # the file the context came from
    attach_hyperparameters(run, source, [f for f, _ in files], hp_found, own, root_name)
    return run


def read(
    path: str | os.PathLike[str],
    *,
    overrides: dict[str, str] | None = None,
    skipped: list[SkippedPath] | None = None,
    reader: FileReader | None = None,
) -> list[Run]:
    """Read every run under ``path`` (a log file or a directory tree).

    Files and directories under ``path`` that were not read are appended to ``skipped``
    (when given) with the reason; a ``ReadError`` means ``path`` itself gave nothing to read.
    ``reader`` reads one log file of a kind (see :func:`build_run`).
    """
    root = Path(path)
    try:
        exists = root.exists()
    except OSError as e:  # a name over PATH_MAX, a loop of symlinks
        raise ReadError(str(root), f"cannot access ({e.strerror or e})") from None
    if not exists:
        raise ReadError(str(root), "no such file or directory; expected a log directory or a .tfevents/.csv/.jsonl file")
    if root.is_file():
        kind = _kind(root) or _sniff(root, overrides)
        if kind is None and root.name not in (CONTEXT_FILE, PREFLIGHT_FILE):
            raise ReadError(
                str(root),
                "not a recognized log file; expected a TensorBoard event file (*tfevents*), .csv, .tsv, .jsonl or trainer_state.json",
            )
        split = SPLIT_DIRS.get(root.parent.name.lower())
        return [_check(build_run(root.name, root, [(root, split)], overrides, strict=True, reader=reader))]
    skipped = [] if skipped is None else skipped
    before = len(skipped)
    found = discover(root, overrides, skipped)
    if not found:
        if len(skipped) > before:
            first = skipped[before]
            raise ReadError(first.path, first.reason)
        raise ReadError(str(root), "no training logs found; expected TensorBoard event files, a metrics CSV or JSONL below it")
    runs = build_runs(root, found, overrides, reader=reader)
    return [_check(r, allow_empty=len(runs) > 1) for r in runs]


def build_runs(
    root: Path,
    found: dict[Path, list[tuple[Path, str | None]]],
    overrides: dict[str, str] | None = None,
    reader: FileReader | None = None,
) -> list[Run]:
    """The runs of discovered run directories (:func:`discover`), ids relative to ``root``;
    sibling folders holding one training written by two loggers are read as one run."""
    built = []
    for d, files in sorted(found.items()):
        rel = d.relative_to(root).as_posix()
        run_id = root.resolve().name if rel == "." else rel
        root_name = None if rel == "." else root.resolve().name
        built.append((d, files, build_run(run_id, d, files, overrides, root_name=root_name, reader=reader)))
    runs = []
    kinds = [{_kind(f) or "log" for f, _ in files if f.name not in (CONTEXT_FILE, PREFLIGHT_FILE)} for _, files, _ in built]
    near = [str(d.parent.parent) for d, _, _ in built]  # Lightning: <save_dir>/<name>/version_N
    for group in same_run_groups([r for _, _, r in built], kinds, near):
        d, files, run = built[group[0]]
        if len(group) > 1:  # one training run written by several loggers into sibling folders
            files = [f for i in group for f in built[i][1]]
            run = build_run(run.id, d, files, overrides, root_name=None if d == root else root.resolve().name, reader=reader)
            others = ", ".join(built[i][2].id for i in group[1:])
            run.ingest.add("note", f"{others} hold(s) the same run as {run.id} (another logger: the same values at the same steps); read as one run")
        runs.append(run)
    return runs


def _check(run: Run, allow_empty: bool = False) -> Run:
    if not run.series and run.ingest.unmapped and not allow_empty:
        names = ", ".join(run.ingest.unmapped[:8]) or "none"
        raise ReadError(
            run.source,
            f"no recognizable series (names seen: {names}); map them with --map NAME=loss (or val/loss, accuracy, lr ...)",
        )
    return run
