"""OpenMMLab logs: MMDetection 2.x ``*.log.json`` and MMEngine ``scalars.json``.

Both are JSON lines. MMDetection 2.x writes an environment line first, then lines whose
``"mode"`` is ``"train"`` or ``"val"`` and whose ``iter`` restarts every epoch; the global
step is rebuilt from (epoch, iter). MMEngine's ``LocalVisBackend`` writes training lines with
the global iteration in ``step`` and, for an epoch-based loop, validation lines whose
``step`` is the epoch; those are placed at the last iteration of that epoch, so training and
validation share one step axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traindx.errors import ReadError
from traindx.readers.csvlog import read_text
from traindx.readers.jsonl import _parse_lines, records_to_log
from traindx.readers.raw import RawLog

#: Keys of non-metric values in these logs (strings, configuration): not series, not problems.
_META = ("mode", "env_info", "config", "seed", "exp_name", "hook_msgs", "mmdet_version", "CLASSES")


def _clean(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in _META and not k.endswith("_copypaste")}


def read_mmdet_log(path: str | Path) -> RawLog:
    src = str(path)
    log = RawLog(path=src)
    lines = _parse_lines(src, read_text(path), log)
    offset: dict[int, int] = {}  # epoch -> global step before it
    last_iter: dict[int, int] = {}
    records: list[tuple[int, dict[str, Any]]] = []
    for index, rec in lines:
        mode = rec.get("mode")
        if mode not in ("train", "val"):
            continue  # the environment/config line
        epoch, it = int(rec.get("epoch", 1) or 1), int(rec.get("iter", 0) or 0)
        if epoch not in offset:
            offset[epoch] = max((offset[e] + last_iter.get(e, 0) for e in offset), default=0)
        if mode == "train":
            last_iter[epoch] = max(last_iter.get(epoch, 0), it)
            step = offset[epoch] + it
        else:  # evaluated after the epoch's last iteration
            step = offset[epoch] + last_iter.get(epoch, it)
        metrics = _clean(rec)
        for k in ("epoch", "iter"):
            metrics.pop(k, None)
        if mode == "val":
            metrics = {f"val/{k}": v for k, v in metrics.items() if k != "lr"}  # lr: the train line's
        records.append((index, {"step": step, **metrics}))
    if not records:
        raise ReadError(
            src, 'no "mode": "train" or "val" lines; expected an MMDetection *.log.json'
        )
    return records_to_log(src, records, log)


def read_mmengine_scalars(path: str | Path) -> RawLog:
    src = str(path)
    log = RawLog(path=src)
    lines = _parse_lines(src, read_text(path), log)
    end_of_epoch: dict[int, int] = {}
    for _, rec in lines:
        if "iter" in rec and isinstance(rec.get("epoch"), int) and isinstance(rec.get("step"), int):
            end_of_epoch[rec["epoch"]] = max(end_of_epoch.get(rec["epoch"], 0), rec["step"])
    records = []
    for index, rec in lines:
        rec = _clean(rec)
        is_val = "iter" not in rec and "loss" not in rec and end_of_epoch
        if is_val and isinstance(rec.get("step"), int) and rec["step"] in end_of_epoch:
            rec = {**rec, "step": end_of_epoch[rec["step"]]}
        rec.pop("iter", None)
        records.append((index, rec))
    return records_to_log(src, records, log)
