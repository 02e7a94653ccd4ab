"""pytorch-ignite's ``avg_loss`` / ``avg_accuracy`` (a hand loop's ``loss_avg``): the metric's
epoch average is the metric itself, one series; a plain name beside it in one file is the
per-step value (traindx/name_tables.py AVERAGED, traindx/name_averages.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import traindx
from traindx.name_averages import average_twins
from traindx.names import map_name
from traindx.writers.tfevents import EventFileWriter


@pytest.mark.parametrize(("raw", "key"), [
    ("avg_loss", "train/loss"), ("Avg loss", "train/loss"), ("average_loss", "train/loss"),
    ("loss_avg", "train/loss"), ("avg_accuracy", "train/accuracy"), ("avg_acc", "train/accuracy"),
    ("avg_nll", "train/nll"), ("avg_mse", "train/mse"), ("training/avg_loss", "train/loss"),
    ("validation/avg_accuracy", "val/accuracy"), ("val_avg_loss", "val/loss"), ("avg_val_loss", "val/loss"),
    ("avg_train_loss", "train/loss"), ("val_loss_avg", "val/loss"),
    # averages over classes and average precision keep their own metric
    ("val_avg_class_acc", "val/avg_class_accuracy"), ("macro_avg_f1", "train/macro_avg_f1"),
    ("average_precision", "train/average_precision"), ("avg_precision", "train/avg_precision"),
])  # fmt: skip
def test_an_epoch_average_maps_to_its_metric(raw: str, key: str) -> None:
    got = map_name(raw)
    assert got is not None and str(got) == key


def test_a_plain_name_beside_its_average_is_the_per_step_value() -> None:
    names = ["iteration", "loss", "avg_loss", "avg_accuracy", "val_avg_loss", "val_avg_accuracy"]
    assert average_twins(names) == {"loss": "train/loss:step"}
    # alone, each keeps its reading; an average of another split or metric makes no twin
    assert average_twins(["loss"]) == {} and average_twins(["avg_loss"]) == {}
    assert average_twins(["loss", "val_avg_loss", "avg_accuracy"]) == {}


def _curve(i: int) -> float:
    return 2.3 * math.exp(-i / 80) + 0.05


def test_ignite_tensorboard_reads_one_series_per_metric(tmp_path: Path) -> None:
    # the ignite example's tags: the loss every iteration, the evaluator's averages every epoch
    with EventFileWriter(tmp_path) as w:
        it = 0
        for epoch in range(1, 13):
            for _ in range(20):
                it += 1
                w.add_scalar("training/loss", _curve(it) + 0.03 * math.sin(it), it)
            w.add_scalar("training/avg_loss", _curve(it), epoch)
            w.add_scalar("training/avg_accuracy", 1 - _curve(it) / 2.5, epoch)
            w.add_scalar("validation/avg_loss", _curve(it) + 0.03, epoch)
            w.add_scalar("validation/avg_accuracy", 1 - _curve(it) / 2.5 - 0.01, epoch)
    (run,) = traindx.read(tmp_path)
    assert sorted(str(k) for k in run.series) == [
        "train/accuracy", "train/loss", "train/loss:step", "val/accuracy", "val/loss"]  # fmt: skip
    avg, step = run.series["train/loss"], run.series["train/loss:step"]
    assert avg.original_name == "training/avg_loss" and avg.unit == "epoch" and len(avg) == 12
    assert step.original_name == "training/loss" and step.unit == "step" and len(step) == 240
    assert run.series["val/loss"].unit == "epoch"


def test_a_jsonl_with_both_forms_keeps_no_duplicate(tmp_path: Path) -> None:
    recs: list[dict] = []
    for it in range(1, 101):
        recs.append({"step": it, "loss": round(_curve(it), 4)})
        if it % 10 == 0:
            recs.append({"step": it, "avg_loss": round(_curve(it), 4), "val_avg_loss": round(_curve(it) + 0.05, 4)})
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    (run,) = traindx.read(tmp_path)
    assert sorted(str(k) for k in run.series) == ["train/loss", "train/loss:step", "val/loss"]
    assert run.series["val/loss"].original_name == "val_avg_loss"


def test_a_running_average_logged_every_step_keeps_the_step_axis(tmp_path: Path) -> None:
    # no per-step twin in its file: the x values (0..199, as epoch-like as steps) decide nothing
    with EventFileWriter(tmp_path) as w:
        for it in range(200):
            w.add_scalar("train/avg_loss", _curve(it), it)
    (run,) = traindx.read(tmp_path)
    assert list(map(str, run.series)) == ["train/loss"] and run.series["train/loss"].unit == "step"
