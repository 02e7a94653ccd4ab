"""Writers of the log formats of trainers people use, from each library's documented format.

Ultralytics, detectron2, MMEngine/MMDetection, timm and fastai need torchvision, which cannot
be installed beside this project's torch on the test machines, so their files are written
here the way each library writes them (column names, padding, key layout, percent scales,
as in their source and docs); Keras' CSVLogger is run for real in the tests that use it.
Curves are synthetic: a healthy detector unless a fault is asked for.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

V8_KEYS = [
    "train/box_loss", "train/cls_loss", "train/dfl_loss",
    "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)",
    "val/box_loss", "val/cls_loss", "val/dfl_loss", "lr/pg0", "lr/pg1", "lr/pg2",
]  # fmt: skip
V5_KEYS = [
    "train/box_loss", "train/obj_loss", "train/cls_loss",
    "metrics/precision", "metrics/recall", "metrics/mAP_0.5", "metrics/mAP_0.5:0.95",
    "val/box_loss", "val/obj_loss", "val/cls_loss", "x/lr0", "x/lr1", "x/lr2",
]  # fmt: skip


def detector_curves(epochs: int, *, seed: int = 0, val_nan: bool = False, map_zero_at: int | None = None,
                    map_peak_at: int | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Per-epoch loss parts, P/R/mAP and LRs of a detector; faults on request."""
    rng = np.random.default_rng(seed)
    e = np.arange(epochs, dtype=float)
    noise = lambda: 1 + 0.01 * rng.standard_normal(epochs)  # noqa: E731
    out = {
        "box": (1.6 * np.exp(-e / 30) + 0.9) * noise(), "cls": (3.0 * np.exp(-e / 20) + 0.6) * noise(),
        "third": (1.5 * np.exp(-e / 40) + 0.95) * noise(),
        "vbox": (1.5 * np.exp(-e / 30) + 1.0) * noise(), "vcls": (2.6 * np.exp(-e / 20) + 0.8) * noise(),
        "vthird": (1.4 * np.exp(-e / 40) + 1.05) * noise(),
    }  # fmt: skip
    quality = 1 - np.exp(-e / 15)
    if map_peak_at is not None:  # mAP best early, then falling for the rest of the run
        quality = np.where(e <= map_peak_at, e / map_peak_at, np.exp(-(e - map_peak_at) / 25))
    out["p"] = (0.2 + 0.6 * quality) * noise()
    out["r"] = (0.1 + 0.6 * quality) * noise()
    out["map50"] = (0.7 * quality) * noise()
    out["map"] = (0.45 * quality) * noise()
    if map_zero_at is not None:
        for k in ("p", "r", "map50", "map"):
            out[k][map_zero_at] = 0.0
    if val_nan:
        for k in ("vbox", "vcls", "vthird"):
            out[k][:] = np.nan
    # warm-up over 3 epochs, then linear decay (Ultralytics' default schedule)
    lr = np.where(e < 3, 0.01 * (e + 1) / 3, 0.01 * (1 - 0.99 * e / epochs))
    out["lr0"] = out["lr1"] = lr
    out["lr2"] = np.where(e < 3, 0.1 - (0.1 - 0.01) * (e + 1) / 3, lr)
    return out


def _rows(c: dict[str, np.ndarray], v5: bool) -> list[list[float]]:
    cols = ["box", "third" if not v5 else "third", "cls"] if v5 else ["box", "cls", "third"]
    vcols = ["vbox", "vthird", "vcls"] if v5 else ["vbox", "vcls", "vthird"]
    names = cols + ["p", "r", "map50", "map"] + vcols + ["lr0", "lr1", "lr2"]
    return [[float(c[n][i]) for n in names] for i in range(len(c["box"]))]


def ultralytics_v8(path: Path, epochs: int = 60, *, padded: bool = True, **faults) -> Path:
    """results.csv as YOLOv8 (<= 8.2, names and values right-aligned in 25 characters) or
    YOLO11 (>= 8.3: unpadded, with a ``time`` column) writes it; epochs count from 1."""
    c = detector_curves(epochs, **faults)
    path.parent.mkdir(parents=True, exist_ok=True)
    if padded:
        keys = ["epoch", *V8_KEYS]
        lines = [",".join(f"{k:>25}" for k in keys)]
        for i, row in enumerate(_rows(c, v5=False)):
            lines.append(",".join([f"{i + 1:>25}"] + [f"{v:>25.5g}" for v in row]))
    else:
        keys = ["epoch", "time", *V8_KEYS]
        lines = [",".join(keys)]
        for i, row in enumerate(_rows(c, v5=False)):
            lines.append(
                ",".join([str(i + 1), f"{37.5 * (i + 1):.3f}"] + [f"{v:.6g}" for v in row])
            )
    path.write_text("\n".join(lines) + "\n")
    return path


def ultralytics_v5(path: Path, epochs: int = 60, **faults) -> Path:
    """results.csv as YOLOv5's train.py writes it: names and values right-aligned in 20
    characters, epochs counting from 0, box/obj/cls loss parts and x/lr0..2."""
    c = detector_curves(epochs, **faults)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(f"{k:>20}" for k in ["epoch", *V5_KEYS])]
    for i, row in enumerate(_rows(c, v5=True)):
        lines.append(",".join([f"{i:>20}"] + [f"{v:>20.5g}" for v in row]))
    path.write_text("\n".join(lines) + "\n")
    return path


def detectron2_metrics(
    path: Path, iters: int = 2000, period: int = 20, eval_period: int = 500
) -> Path:
    """metrics.json of detectron2's JSONWriter: one JSON object per line, ``iteration``,
    ``total_loss`` and its ``loss_*`` parts, timings, and COCO evaluation lines (``bbox/AP``
    in percent) at the evaluation period."""
    rng = np.random.default_rng(1)
    lines = []
    for it in range(period - 1, iters, period):
        parts = {
            "loss_box_reg": 0.5 * math.exp(-it / 900) + 0.2, "loss_cls": 0.9 * math.exp(-it / 700) + 0.15,
            "loss_rpn_cls": 0.3 * math.exp(-it / 500) + 0.03, "loss_rpn_loc": 0.2 * math.exp(-it / 800) + 0.04,
        }  # fmt: skip
        parts = {k: v * (1 + 0.05 * rng.standard_normal()) for k, v in parts.items()}
        rec = {"data_time": 0.004, "eta_seconds": 3.0 * (iters - it), "fast_rcnn/cls_accuracy": 0.9,
               "fast_rcnn/false_negative": 0.5, "iteration": it, "lr": 0.02 * min(1.0, (it + 1) / 200),
               **parts, "rank_data_time": 0.004, "roi_head/num_bg_samples": 480.0, "time": 0.3,
               "total_loss": sum(parts.values())}  # fmt: skip
        lines.append(json.dumps(rec))
        if (it + 1) % eval_period == 0:
            ap = 40 * (1 - math.exp(-(it + 1) / 800))
            lines.append(json.dumps({"bbox/AP": ap, "bbox/AP50": ap * 1.6, "bbox/AP75": ap * 1.05,
                                     "bbox/APl": ap * 1.3, "bbox/APm": ap, "bbox/APs": ap * 0.5, "iteration": it}))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def mmengine_scalars(
    path: Path, epochs: int = 12, iters_per_epoch: int = 200, interval: int = 50
) -> Path:
    """vis_data/scalars.json of MMEngine's LocalVisBackend: training lines carry ``step``
    (the global iteration), ``epoch`` and ``iter``; validation lines of an epoch-based loop
    carry ``step`` = the epoch and metrics under ``coco/``."""
    lines = []
    for ep in range(1, epochs + 1):
        for i in range(interval, iters_per_epoch + 1, interval):
            step = (ep - 1) * iters_per_epoch + i
            cls_, bbox = 1.2 * math.exp(-step / 800) + 0.3, 0.6 * math.exp(-step / 1000) + 0.25
            lines.append(json.dumps({"lr": 0.02 * min(1.0, step / 500), "data_time": 0.01, "loss": cls_ + bbox,
                                     "loss_cls": cls_, "loss_bbox": bbox, "time": 0.4, "epoch": ep, "iter": i,
                                     "memory": 3012, "step": step}))  # fmt: skip
        m = 0.4 * (1 - math.exp(-ep / 4))
        lines.append(json.dumps({"coco/bbox_mAP": m, "coco/bbox_mAP_50": m * 1.6, "coco/bbox_mAP_75": m * 1.1,
                                 "coco/bbox_mAP_s": m * 0.5, "data_time": 0.01, "time": 0.1, "step": ep}))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def mmdet_log_json(
    path: Path, epochs: int = 12, iters_per_epoch: int = 500, interval: int = 50
) -> Path:
    """``<timestamp>.log.json`` of MMDetection 2.x: an environment line, then lines with
    ``"mode": "train"`` (``iter`` restarts each epoch, ``acc`` in percent) and
    ``"mode": "val"`` (``bbox_mAP`` and a ``bbox_mAP_copypaste`` string)."""
    lines = [json.dumps({"env_info": "sys.platform: linux\nPython: 3.8", "config": "model = dict(...)", "seed": 0,
                         "exp_name": "faster_rcnn_r50_fpn_1x_coco.py", "hook_msgs": {}})]  # fmt: skip
    for ep in range(1, epochs + 1):
        for i in range(interval, iters_per_epoch + 1, interval):
            g = (ep - 1) * iters_per_epoch + i
            parts = {"loss_rpn_cls": 0.3 * math.exp(-g / 900) + 0.02, "loss_rpn_bbox": 0.1 * math.exp(-g / 900) + 0.03,
                     "loss_cls": 0.8 * math.exp(-g / 1200) + 0.2, "loss_bbox": 0.5 * math.exp(-g / 1500) + 0.2}  # fmt: skip
            lines.append(json.dumps({"mode": "train", "epoch": ep, "iter": i, "lr": 0.02, "memory": 3500,
                                     "data_time": 0.05, **parts, "acc": 90.0 + ep * 0.3,
                                     "loss": sum(parts.values()), "time": 0.45}))  # fmt: skip
        m = 0.37 * (1 - math.exp(-ep / 3))
        lines.append(json.dumps({"mode": "val", "epoch": ep, "iter": iters_per_epoch, "lr": 0.02, "bbox_mAP": m,
                                 "bbox_mAP_50": m * 1.6, "bbox_mAP_75": m * 1.1, "bbox_mAP_s": m * 0.5,
                                 "bbox_mAP_copypaste": f"{m:.3f} {m * 1.6:.3f} {m * 1.1:.3f} -1.000 -1.000 -1.000"}))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def timm_summary(path: Path, epochs: int = 30) -> Path:
    """summary.csv of timm's train.py (``update_summary``): one row per epoch, train and
    eval metrics, top-1/top-5 in percent, and the LR."""
    lines = ["epoch,train_loss,eval_loss,eval_top1,eval_top5,lr"]
    for ep in range(epochs):
        tl = 6.9 * math.exp(-ep / 8) + 1.2
        el = 6.9 * math.exp(-ep / 8) + 1.0
        top1 = 76.0 * (1 - math.exp(-ep / 6))
        lr = 0.1 * (1 + math.cos(math.pi * ep / epochs)) / 2
        lines.append(f"{ep},{tl:.6f},{el:.6f},{top1:.5f},{min(99.9, top1 * 1.2):.5f},{lr:.8f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def fastai_history(path: Path, epochs: int = 10) -> Path:
    """history.csv of fastai's CSVLogger: ``epoch,train_loss,valid_loss,<metrics>,time`` with
    the metrics (computed on the validation set) unprefixed and time as mm:ss."""
    lines = ["epoch,train_loss,valid_loss,accuracy,error_rate,time"]
    for ep in range(epochs):
        tl = 1.2 * math.exp(-ep / 3) + 0.1
        vl = 1.1 * math.exp(-ep / 3) + 0.15
        acc = 0.95 - 0.6 * math.exp(-ep / 2.5)
        lines.append(f"{ep},{tl:.6f},{vl:.6f},{acc:.6f},{1 - acc:.6f},00:{12 + ep:02d}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
