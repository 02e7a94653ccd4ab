"""Read a Weights & Biases run's transaction log (``run-<id>.wandb``) with the wandb SDK's
own reader, offline: no ``wandb.init``, no network, the file opened read-only.

An offline run (``wandb/offline-run-<time>-<id>/``) and a synced one (``wandb/run-<time>-<id>/``)
both keep every record in ``run-<id>.wandb``, a LevelDB-style log of protobuf ``Record``\\ s
(``wandb.sdk.internal.datastore``, ``wandb.proto.wandb_internal_pb2``): ``run`` (name,
project, initial config), ``config`` (updates), ``history`` (one ``run.log`` row: items of
a key and its JSON value, and the step) and ``exit``. History values that are numbers
become series (W&B's own ``_step``, ``_runtime``, ``_timestamp`` give the axis and wall
time); the config, flattened, is the run's hyperparameters. The SDK is the optional extra
``traindx[wandb]``: without it the run is listed as skipped, naming the extra.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from traindx.errors import ReadError
from traindx.readers.hparams import flatten
from traindx.readers.raw import RawLog, RawSeries

#: Why a W&B run is not read when the SDK is missing.
MISSING = "a Weights & Biases run; reading it needs the wandb SDK: pip install 'traindx[wandb]'"
#: Sub-folders of a W&B run folder with W&B's own files (debug logs, copies), not logs to read.
RUN_PARTS = frozenset({"files", "logs", "tmp"})


#: The first bytes of a W&B transaction log: ident ":W&B", magic 0xBEE1, version 0.
HEADER = b":W&B\xe1\xbe\x00"


def log_problem(path: Path) -> str | None:
    """Why ``path`` is not a W&B transaction log traindx can read (None: it may be one)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(HEADER))
    except OSError as e:
        return f"a Weights & Biases run whose log {path.name} cannot be read ({e.strerror or e})"
    if head != HEADER:
        return f"a Weights & Biases run whose log {path.name} is not a W&B transaction log (bad header); nothing to read"
    return None if available() else MISSING


def available() -> bool:
    """Whether the wandb SDK can be imported (looked up, not imported: it is slow to import)."""
    try:
        return importlib.util.find_spec("wandb") is not None
    except (ImportError, ValueError):
        return False


def _open(path: Path):  # -> wandb.sdk.internal.datastore.DataStore, scanning from the start
    try:
        from wandb.sdk.internal.datastore import DataStore
    except ImportError as e:
        raise ReadError(str(path), f"the installed wandb has no log reader ({e}); traindx[wandb] needs wandb>=0.17,<0.30") from None

    ds = DataStore()
    # DataStore.open_for_scan opens the file for writing too ("r+b"); the same state, read-only
    ds._fname = str(path)
    ds._fp = open(path, "rb")  # noqa: SIM115  (closed by read_wandb_run)
    ds._size_bytes = os.stat(path).st_size
    ds._opened_for_scan = True
    try:
        ds._read_header()
    except Exception:  # wandb raises a bare Exception("Invalid header") or AssertionError
        ds._fp.close()
        raise ReadError(str(path), "not a W&B transaction log (bad header); expected a run-<id>.wandb file") from None
    return ds


#: LevelDB log framing (wandb.sdk.internal.datastore): 32 KiB blocks, a 7-byte header
#: (crc32, length, type) before each fragment; a fragment never crosses a block.
BLOCK, HEAD, KINDS = 32768, 7, (1, 2, 3, 4)


def _cut_short(ds: Any, at: int) -> bool:
    """Whether the record whose scan failed at byte ``at`` is sound up to the end of the file,
    which ends inside it: a run still being written. Walks its fragments as the SDK does; a
    flipped byte shows as an unknown type, a length its block cannot hold (the SDK's read then
    also runs to the end of the file) or a whole fragment whose checksum fails."""
    fp, size = ds._fp, ds._size_bytes
    while True:
        if BLOCK - at % BLOCK < HEAD:  # zero padding at the end of a block
            at += BLOCK - at % BLOCK
        if at + HEAD > size:
            return True  # the header itself is cut
        fp.seek(at)
        head = fp.read(HEAD)
        crc, length, kind = int.from_bytes(head[:4], "little"), int.from_bytes(head[4:6], "little"), head[6]
        if kind not in KINDS or at % BLOCK + HEAD + length > BLOCK:
            return False
        if at + HEAD + length > size:
            return True
        if zlib.crc32(fp.read(length), ds._crc[kind]) & 0xFFFFFFFF != crc:
            return False
        if kind in (1, 4):  # FULL or LAST: the record is whole, so the failure was elsewhere
            return False
        at += HEAD + length


def _number(text: str) -> float | None:
    try:
        v = json.loads(text)
    except ValueError:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def _config(updates: Any, into: dict[str, Any]) -> None:
    for item in updates:
        key = _key(item)
        if key == "_wandb":
            continue
        try:
            into[key] = json.loads(item.value_json)
        except ValueError:
            into[key] = item.value_json


def read_wandb_run(path: str | Path) -> RawLog:
    """Series, config and name of the W&B run whose transaction log ``path`` is."""
    if not available():
        raise ReadError(str(path), MISSING)
    from wandb.proto import wandb_internal_pb2 as pb

    path = Path(path)
    src = str(path)
    log = RawLog(path=src)
    points: dict[str, list[tuple[int, float, float]]] = {}  # key -> (step, value, wall time)
    not_numbers: set[str] = set()
    config: dict[str, Any] = {}
    meta = {"project": "", "name": "", "exited": False}
    try:
        ds = _open(path)
    except OSError as e:
        raise ReadError(src, f"cannot read ({e.strerror or e})") from None
    try:
        at = ds._index
        while True:
            last, at = at, ds._index
            try:
                data = ds.scan_data()
            except Exception:  # damaged framing: nothing after it can be found again
                left = ds._size_bytes - at
                if not meta["exited"] and _cut_short(ds, at):
                    log.problem("incomplete", f"{src}: byte {at}: the last record is still being written; not read")
                else:
                    log.dropped_records += 1
                    log.problem("corrupt", f"{src}: byte {at}: damaged record; the rest of the file ({left} bytes) not read", 1)
                break
            if data is None:
                if ds._index > ds._size_bytes:  # the SDK checks the bytes the file has, not the length
                    log.problem("corrupt", f"{src}: byte {last}: the last record's length is damaged (past the end of the file)", 1)
                break
            log.records += 1
            rec = pb.Record()  # type: ignore[attr-defined]  # a generated protobuf module
            try:
                rec.ParseFromString(data)
            except Exception:  # google.protobuf.message.DecodeError
                log.dropped_records += 1
                log.problem("corrupt", f"{src}: byte {at}: a record that does not decode; skipped", 1)
                continue
            kind = rec.WhichOneof("record_type")
            if kind == "history":
                _history(rec.history, points, not_numbers)
            elif kind == "run":
                meta["project"], meta["name"] = rec.run.project, rec.run.display_name or rec.run.run_id
                _config(rec.run.config.update, config)
            elif kind == "config":
                _config(rec.config.update, config)
            elif kind == "exit":
                meta["exited"] = True
                if rec.exit.exit_code:
                    log.problem("note", f"{src}: the run exited with code {rec.exit.exit_code}")
    finally:
        ds._fp.close()
    unit = "epoch" if rows_are_evaluations(points) else "step"
    for key, pts in points.items():
        a = np.asarray(pts, dtype=np.float64)
        log.series.append(RawSeries(name=key, steps=a[:, 0].astype(np.int64), values=a[:, 1], source=src, unit=unit,
                                    wall_time=a[:, 2]))
    if not_numbers:
        names = ", ".join(sorted(not_numbers)[:8])
        log.problem("skipped", f"{src}: logged values that are not numbers (media, tables, text): {names}; not read")
    log.hyperparameters = flatten(config)
    if meta["name"]:
        log.name = f"{meta['project'] or 'wandb'}/{meta['name']}"
        log.name_parts = 1
    return log


def rows_are_evaluations(points: dict[str, list[tuple[int, float, float]]]) -> bool:
    """Every ``run.log`` row holds every key, among them a validation metric and a training
    one, and the steps are W&B's own count of the rows (0, 1, 2, ...: no ``step=`` given): each
    row is one evaluation, logged once per epoch - a Keras ``LambdaCallback(on_epoch_end=lambda
    e, logs: wandb.log(logs))`` or a loop's ``wandb.log({...})`` after its validation pass
    (issue 10: qa_fresh44's 8 such rows were read as 8 steps, "insufficient data"). A loop that
    logs per step logs its validation metrics at a few of its rows, or gives ``step=``."""
    if not points:
        return False
    steps = {tuple(p[0] for p in pts) for pts in points.values()}
    if len(steps) != 1:
        return False
    (only,) = steps
    if len(only) < 2 or list(only) != list(range(len(only))):
        return False
    from traindx.names import map_name

    splits = {k.split for k in (map_name(name) for name in points) if k is not None}
    return "val" in splits and "train" in splits


def _history(h: Any, points: dict[str, list[tuple[int, float, float]]], not_numbers: set[str]) -> None:
    row = {_key(item): item.value_json for item in h.item}
    step = h.step.num if h.HasField("step") else int(_number(row.get("_step", "")) or 0)
    wall = _number(row.get("_timestamp", "")) or math.nan
    for key, text in row.items():
        if key.startswith("_"):
            continue
        v = _number(text)  # W&B writes NaN and Infinity as JSON's extension does
        if v is None:
            not_numbers.add(key)
            continue
        points.setdefault(key, []).append((step, v, wall))
