"""Readers: turn log files and directory trees into :class:`~traindx.schema.Run` objects.

A *run directory* is a directory holding log files (TensorBoard event files, a metrics CSV,
JSONL, ``context.json``). Its split sub-directories (Keras' ``train/`` and ``validation/``)
belong to it, so one Keras ``TensorBoard`` log becomes one run with two splits, and files
side by side (a ``CSVLogger`` file next to the event files it mirrors) are one run. Any other
sub-directory with logs is a run of its own; run ids are paths relative to the root given.
Experiment trackers' stores are read too: an MLflow file store's run folders and MLflow
SQLite databases (:mod:`traindx.readers.stores`), each MLflow run a run named
``<experiment>/<run name>``; discovery itself is :mod:`traindx.readers.discovery`.

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
from typing import TypeVar

import numpy as np

from traindx import context_json
from traindx.errors import ReadError
from traindx.name_averages import epoch_averages
from traindx.names import is_bookkeeping, map_name, paired_names
from traindx.ordering import order_points
from traindx.ranks import rank_key, rank_plan, timing_key
from traindx.readers.assemble import add_component_sums, add_explicit_sums, percent_to_fraction
from traindx.readers.bare_twins import HAND_TABLES, held_out_bare
from traindx.readers.discovery import (  # noqa: F401  (SPLIT_DIRS ... are this package's names too)
    CONTAINER_DIRS,
    CONTEXT_FILE,
    KNOWN_NAMES,
    PREFLIGHT_FILE,
    SPLIT_DIRS,
    UNSUPPORTED,
    _kind,
    _skip,
    _sniff,
    discover,
)
from traindx.readers.folds import fold_files, fold_tables
from traindx.readers.hparams import attach as attach_hyperparameters
from traindx.readers.hygiene import lfs_pointer, report_restarts
from traindx.readers.raw import RawLog, RawSeries
from traindx.readers.stores import MLFLOW_DB, MLFLOW_RUN, WANDB_RUN, db_runs, named_id, unique_ids
from traindx.readers.timeaxis import EPOCH_AXIS, Piece, combine, epoch_indexed, same_run_groups
from traindx.schema import Run, Series, SkippedPath, StepUnit

T = TypeVar("T")

#: Names of per-epoch values: Keras' ``epoch_loss`` (against the epoch index); a ``_epoch``
#: suffix (Lightning's ``train_loss_epoch``) is an epoch mean, logged against the global step
#: by Lightning, so its x values decide (:func:`~traindx.readers.timeaxis.epoch_indexed`), as they do
#: for an epoch average beside its per-step twin (ignite's ``training/avg_loss``: name_averages.py).
_EPOCH_NAME = re.compile(r"(^|[/_])epoch_", re.I)
_EPOCH_SUFFIX = re.compile(r"_epoch$", re.I)


#: Reads one log file of a kind (``"tfevents"``, ``"csv"``, ...) into a RawLog.
FileReader = Callable[[Path, str], RawLog]


def once_per_log(epochs: np.ndarray) -> bool:
    """An epoch counter that moves on at every logged point. Logged with ``wandb.log``,
    whose ``_step`` counts log calls, it says the user logged once per epoch, not that an
    epoch took one optimizer step (``ctx.steps_per_epoch`` 1 would read as full-batch
    training in the rules)."""
    e = np.asarray(epochs, dtype=float)
    return e.size > 1 and bool(np.all(np.diff(e) >= 1))


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
    if kind == "text":
        from traindx.readers.textlog import read_text_log

        return read_text_log(p)
    if kind == "numpy":
        from traindx.readers.numpy_arrays import read_numpy

        return read_numpy(p)
    if kind == "torch":
        from traindx.readers.torch_history import read_torch_history

        return read_torch_history(p)
    if kind == "pickle":
        from traindx.readers.pkl_history import read_pkl_history

        return read_pkl_history(p)
    if kind == "history":
        from traindx.readers.json_history import read_json_history

        return read_json_history(p)
    if kind == "hf":
        from traindx.readers.hf_state import read_hf_state

        return read_hf_state(p)
    if kind == MLFLOW_RUN:
        from traindx.readers.mlruns import read_mlflow_run

        return read_mlflow_run(p)
    if kind == WANDB_RUN:
        from traindx.readers.wandb_log import read_wandb_run

        return read_wandb_run(p)
    from traindx.readers.jsonl import read_jsonl

    return read_jsonl(p)


def _validated(p: Path, load: Callable[[Path], T], what: str) -> T:
    """``load(p)``; an unreadable file or a document that fails validation is a ReadError
    naming the file and the first field at fault."""
    try:
        return load(p)
    except OSError as e:
        raise ReadError(str(p), f"cannot read: {e.strerror}") from None
    except ValueError as e:  # pydantic's ValidationError (it validated the document)
        from pydantic import ValidationError

        if not isinstance(e, ValidationError):
            raise
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "document"
        raise ReadError(str(p), f"not a traindx {what}: {where}: {err['msg']}") from None


def _load_preflight(p: Path):  # -> traindx.checks.PreflightRecord
    from traindx.checks import load

    return _validated(p, load, "preflight record")


def build_run(
    run_id: str,
    source: Path,
    files: list[tuple[Path, str | None]],
    overrides: dict[str, str] | None = None,
    *,
    strict: bool = False,
    root_name: str | None = None,
    reader: FileReader | None = None,
    logs: list[tuple[Path, str, RawLog]] = (),  # type: ignore[assignment]
) -> Run:
    """A run from its files; a file that cannot be read is an ``unreadable`` problem of the
    run (``strict``: its ReadError is raised instead, for a file the user named).
    ``root_name``: the name of the directory the run id is relative to (its ``key=value``
    hyperparameters count, :mod:`traindx.readers.hparams`). ``reader`` reads one log file
    of a kind (default: all of it; ``traindx watch``: what was appended). ``logs``: (file,
    kind, log) already read (one run of a store that holds many, such as an MLflow database)."""
    run = Run.model_construct(id=str(run_id), source=str(source))  # no validator built (issue 15)
    hp_found: list[tuple[dict, str]] = []  # (hyperparameters, source) the files state
    # Several writers of one run (a CSVLogger file beside Keras' event files and the traindx
    # callback's, Lightning's two loggers) are combined on one time axis (readers/timeaxis.py).
    pieces: list[Piece] = []
    marks: list[tuple[np.ndarray, np.ndarray]] = []  # (steps, epoch) of logged epoch counters
    raws: dict[str, list[RawSeries]] = {}  # logged name -> its raw series (for --map sums)
    has_context = False
    ranks, main_rank = rank_plan(source, [f for f, _ in files])  # one job's per-rank logs
    entries = [(p, s, None, None) for p, s in files] + [(p, None, k, lg) for p, k, lg in logs]
    for path, split, kind, log in entries:
        rank = ranks.get(path)
        if main_rank is not None and rank not in (None, main_rank) and path.name in (CONTEXT_FILE, PREFLIGHT_FILE):
            run.ingest.add("note", f"{path}: rank {rank}'s {path.name} not read; the run's is rank {main_rank}'s", file=str(path))
            continue
        try:
            if log is None and path.name == CONTEXT_FILE:
                run.context = _validated(path, lambda q: context_json.read(q.read_bytes()), "context")
                has_context = True
                run.ingest.files.append(str(path))
                continue
            if log is None and path.name == PREFLIGHT_FILE:
                rec = _load_preflight(path)
                run.checks = rec.checks
                if not has_context:  # the training adapter's context.json, when there, wins
                    run.context = rec.context
                run.ingest.files.append(str(path))
                continue
            if log is None:
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
        if log.name and not logs:  # a tracker's own name of the run (MLflow's experiment/run)
            run.id = named_id(run_id, log.name, log.name_parts)
        for field_, value in log.plan.items():  # the planned length, unless already known
            if getattr(run.context, field_) is None:
                setattr(run.context, field_, value)
        for flag, stated in {**({"steps_counted": True} if log.steps_counted else {}), **log.flags}.items():
            run.context.flags.setdefault(flag, stated)  # an adapter's flag, when it recorded one, wins
        restart = report_restarts(log)
        if restart:
            run.ingest.add("note", restart, file=str(path))
        if log.epochs is not None:  # an epoch column beside the step column (Lightning's CSV)
            marks.append(log.epochs)
        tables = log.series if split is None and kind in HAND_TABLES else []  # a hand table's bare mse beside train_mse
        paired = paired_names(raw.name for raw in log.series) | held_out_bare(tables) | log.names  # tl beside vl: train/val loss
        names = {**paired, **overrides} if paired and overrides else paired or overrides
        averages = epoch_averages([raw.name for raw in log.series])  # avg_loss beside loss
        for raw in log.series:
            if raw.unit == "step" and EPOCH_AXIS.fullmatch(raw.name.strip()):
                if not (kind == WANDB_RUN and once_per_log(raw.values)):
                    marks.append((raw.steps, raw.values))  # Lightning's TensorBoard 'epoch'
                continue
            raws.setdefault(raw.name.strip(), []).append(raw)
            key = map_name(raw.name, names, default_split=raw.split or split)
            if key is None and timing_key(raw.name) is not None:  # a rank's timings: stragglers
                if main_rank is None:
                    continue  # bookkeeping outside a multi-rank job
                key = timing_key(raw.name)
            if key is None:  # counted and listed in the report (an axis or timing is no loss)
                if raw.name not in run.ingest.unmapped and not is_bookkeeping(raw.name):
                    run.ingest.unmapped.append(raw.name)
                continue
            key = rank_key(key, rank, main_rank)  # train/loss@rank1 beside rank 0's train/loss
            # Keras' epoch_loss is logged against the epoch index; Lightning's train_loss_epoch
            # (an epoch mean) against the global step: the name alone does not say the axis
            by_name = _EPOCH_NAME.search(raw.name) or ((_EPOCH_SUFFIX.search(raw.name) or raw.name in averages)
                                                       and epoch_indexed(raw.steps))
            unit: StepUnit = "epoch" if raw.unit == "epoch" or by_name else "step"
            o = order_points(raw.steps, raw.values, raw.wall_time, unit=unit)
            raw.wall_time = None  # ordered: its wall times are not needed again (memory)
            for what, count, says in o.problems:
                run.ingest.add(what, f"{path}: '{raw.name}': {says}", file=str(path), count=count)
            s = Series.checked(
                key=key, steps=o.steps, values=o.values, unit=unit, original_name=raw.name.strip(),
                source=str(path), superseded=int(o.superseded),
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
            from traindx.readers.csvlog import headerless_table

            why = headerless_table(root)
            raise ReadError(str(root), why) if why else ReadError(
                str(root),
                "not a recognized log file; expected a TensorBoard event file (*tfevents*), .csv, .tsv, .jsonl, trainer_state.json, an MLflow run's meta.yaml, an MLflow database (mlflow.db) or printed training output (.log/.txt lines like 'Epoch 3/20 - loss: 0.51 - val_loss: 0.62')",
            )
        split = SPLIT_DIRS.get(root.parent.name.lower())
        if kind == MLFLOW_DB:
            return [_check(r, allow_empty=True) for r in build_runs(root.parent, {root.parent: [(root, None)]}, overrides, skipped=skipped, strict=True)]
        for _, folds in fold_tables([(root, split)], reader):  # a k-fold table: a run per fold
            return [_check(build_run(f"{root.name}/{k}", root, [], overrides, logs=[(root, "csv", lg)]), True) for k, lg in folds]
        return [_check(build_run(root.name, root, [(root, split)], overrides, strict=True, reader=reader))]
    skipped = [] if skipped is None else skipped
    before = len(skipped)
    found = discover(root, overrides, skipped)
    if not found:
        if len(skipped) > before:
            first = skipped[before]
            raise ReadError(first.path, first.reason)
        raise ReadError(str(root), "no training logs found; expected TensorBoard event files, a metrics CSV or JSONL below it")
    runs = build_runs(root, found, overrides, reader=reader, skipped=skipped)
    if not runs:
        raise ReadError(str(root), "no runs to read: " + "; ".join(str(s) for s in skipped[before:][:3]))
    return [_check(r, allow_empty=len(runs) > 1) for r in runs]


def build_runs(
    root: Path,
    found: dict[Path, list[tuple[Path, str | None]]],
    overrides: dict[str, str] | None = None,
    reader: FileReader | None = None,
    *,
    skipped: list[SkippedPath] | None = None,
    strict: bool = False,
) -> list[Run]:
    """The runs of discovered run directories (:func:`discover`), ids relative to ``root``;
    sibling folders holding one training written by two loggers are read as one run. An
    MLflow database among the files gives a run per MLflow run (its deleted runs, or the
    database when it cannot be read, go to ``skipped``; ``strict``: its ReadError is raised)."""
    skipped = [] if skipped is None else skipped
    built: list[tuple[Path, list, Run, list, str]] = []  # (folder, files, run, logs already read, tag for a repeated id)
    for d, files in sorted(found.items()):
        rel = d.relative_to(root).as_posix()
        run_id = root.resolve().name if rel == "." else rel
        root_name = None if rel == "." else root.resolve().name
        for db in [f for f, _ in files if _kind(f) == MLFLOW_DB]:
            files = [(f, s) for f, s in files if f != db]
            try:
                for rid, uuid, log in db_runs(db, "" if rel == "." else rel, skipped):
                    logs = [(db, MLFLOW_RUN, log)]
                    built.append((d, [], build_run(rid, db, [], overrides, logs=logs), logs, uuid))
            except ReadError as err:
                if strict:
                    raise
                _skip(skipped, db, str(err).split(": ", 1)[-1])
        for f, folds in fold_tables(files, reader):  # a k-fold table: a run per fold
            files, own = _fold_taken(files, f)
            for label, log in folds:
                logs = [(f, "csv", log)]
                fold_run = build_run(f"{run_id}/{label}", f, own, overrides, root_name=root_name, logs=logs)
                built.append((d, own, fold_run, logs, ""))
        for f, split, label in fold_files(files) if reader is None else []:  # fold_1.csv, fold_2.csv: a run each
            files, own = _fold_taken(files, f)
            fold_run = build_run(f"{run_id}/{label}", f, [*own, (f, split)], overrides, root_name=root_name)
            built.append((d, [*own, (f, split)], fold_run, [], ""))
        if files:
            run = build_run(run_id, d, files, overrides, root_name=root_name, reader=reader)
            built.append((d, files, run, [], d.name.rsplit("-", 1)[-1] if run.id != run_id else ""))  # MLflow's, W&B's run id
    for b, new in zip(built, unique_ids([b[2].id for b in built], [b[4] for b in built]), strict=True):
        b[2].id = new
    runs = []
    kinds = [
        {_kind(f) or "log" for f, _ in files if f.name not in (CONTEXT_FILE, PREFLIGHT_FILE)} | {k for _, k, _ in logs}
        for _, files, _, logs, _ in built
    ]  # fmt: skip
    near = [str(d.parent.parent) for d, *_ in built]  # Lightning: <save_dir>/<name>/version_N
    for group in same_run_groups([b[2] for b in built], kinds, near):
        d, files, run, logs, _ = built[group[0]]
        if len(group) > 1:  # one training run written by several loggers into sibling folders
            files = [f for i in group for f in built[i][1]]
            logs = [lg for i in group for lg in built[i][3]]
            root_name = None if d == root else root.resolve().name
            run = build_run(run.id, d, files, overrides, root_name=root_name, reader=reader, logs=logs)
            run.id = built[group[0]][2].id  # (a tracker's run keeps the id made unique above)
            others = ", ".join(built[i][2].id for i in group[1:])
            run.ingest.add("note", f"{others} hold(s) the same run as {run.id} (another logger: the same values at the same steps); read as one run")
        runs.append(run)
    return runs


def _fold_taken(files: list[tuple[Path, str | None]], f: Path) -> tuple[list[tuple[Path, str | None]], list[tuple[Path, str | None]]]:
    """The folder's files once fold file ``f`` is a run of its own, and the folder's context
    files that run reads (each fold's; left for a run of the folder only while other logs stay)."""
    files = [(x, s) for x, s in files if x != f]
    own = [(x, s) for x, s in files if x.name in (CONTEXT_FILE, PREFLIGHT_FILE)]
    return (files if len(own) < len(files) else []), own


def _check(run: Run, allow_empty: bool = False) -> Run:
    if not run.series and run.ingest.unmapped and not allow_empty:
        names = ", ".join(run.ingest.unmapped[:8]) or "none"
        raise ReadError(
            run.source,
            f"no recognizable series (names seen: {names}); map them with --map NAME=loss (or val/loss, accuracy, lr ...)",
        )
    return run
