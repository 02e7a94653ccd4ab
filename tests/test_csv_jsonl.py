"""The CSV and JSON-lines readers, on log text written the way the frameworks write it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from traindx.errors import ReadError
from traindx.readers.csvlog import read_csv, sniff_is_metrics_csv
from traindx.readers.jsonl import read_jsonl
from traindx.readers.raw import RawLog, RawSeries

# keras.callbacks.CSVLogger: csv.excel dialect (CRLF), "epoch" then the sorted log keys.
KERAS_CSV = (
    "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\r\n"
    "0,0.8523333072662354,0.0010000000474974513,0.4259392023086548,0.8830000162124634,0.32419881224632263\r\n"
    "1,0.8945000171661377,0.0010000000474974513,0.2905004024505615,0.8989999890327454,0.2771402597427368\r\n"
    "2,0.9083333611488342,0.0010000000474974513,nan,0.9014999866485596,0.2698114216327667\r\n"
)

# CSVLogger with validation_freq=2: val_ keys missing from the first epoch's logs are
# added by Keras and written as NA on epochs without validation.
KERAS_CSV_NA = (
    "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
    "0,0.5,1.2,NA,NA\r\n"
    "1,0.6,1.0,0.55,1.1\r\n"
    "2,0.7,0.8,NA,NA\r\n"
    "3,0.75,0.7,0.6,0.9\r\n"
)

# lightning CSVLogger metrics.csv: sorted keys, one row per log_metrics call, sparse columns;
# LearningRateMonitor rows carry no epoch; train and val rows share step 99.
LIGHTNING_CSV = """epoch,lr-Adam,step,train_loss_epoch,train_loss_step,val_acc,val_loss
,0.001,0,,,,
0,,49,,0.6931,,
0,,99,,0.5512,,
0,,99,,,0.81,0.4523
0,,99,0.6012,,,
1,,149,,0.4023,,
1,,199,,0.3511,,
1,,199,,,0.85,0.3812
1,,199,0.3807,,,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def by_name(log: RawLog) -> dict[str, RawSeries]:
    return {s.name: s for s in log.series}


def test_keras_csvlogger(tmp_path: Path) -> None:
    log = read_csv(write(tmp_path, "training.log", KERAS_CSV))
    series = by_name(log)
    assert sorted(series) == ["accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"]
    loss = series["loss"]
    assert loss.unit == "epoch"
    assert loss.steps.dtype == np.int64 and loss.steps.tolist() == [0, 1, 2]
    assert loss.values[0] == pytest.approx(0.4259392023086548)
    assert math.isnan(loss.values[2])  # a NaN loss is evidence, not a bad cell
    assert log.records == 3 and log.dropped_records == 0 and log.problems == []


def test_keras_csvlogger_na_is_not_logged(tmp_path: Path) -> None:
    log = read_csv(write(tmp_path, "log.csv", KERAS_CSV_NA))
    series = by_name(log)
    assert series["val_loss"].steps.tolist() == [1, 3]
    assert series["val_loss"].values.tolist() == [1.1, 0.9]
    assert series["loss"].steps.tolist() == [0, 1, 2, 3]
    assert log.problems == [] and log.dropped_records == 0


def test_lightning_sparse_metrics_csv(tmp_path: Path) -> None:
    log = read_csv(write(tmp_path, "metrics.csv", LIGHTNING_CSV))
    series = by_name(log)
    assert "epoch" not in series and "step" not in series
    assert series["train_loss_step"].steps.tolist() == [49, 99, 149, 199]
    assert series["train_loss_epoch"].steps.tolist() == [99, 199]
    assert series["val_loss"].values.tolist() == [0.4523, 0.3812]
    assert series["lr-Adam"].steps.tolist() == [0]
    assert all(s.unit == "step" for s in log.series)
    assert log.records == 9 and log.problems == []


def test_repeated_steps_keep_write_order(tmp_path: Path) -> None:
    text = "step,loss\n0,3.0\n10,2.0\n20,1.5\n10,2.1\n20,1.4\n30,1.2\n"  # resumed from step 10
    loss = by_name(read_csv(write(tmp_path, "resumed.csv", text)))["loss"]
    assert loss.steps.tolist() == [0, 10, 20, 10, 20, 30]
    assert loss.values.tolist() == [3.0, 2.0, 1.5, 2.1, 1.4, 1.2]


@pytest.mark.parametrize("step_col", ["step", "global_step", "iteration", "iter", "batch", "Step"])
def test_generic_tab_separated(tmp_path: Path, step_col: str) -> None:
    text = f"{step_col}\tepoch\tloss\taccuracy\n100\t0\t0.9\t0.5\n200\t0\t0.7\t0.6\n300\t1\tinf\t-inf\n"
    log = read_csv(write(tmp_path, "log.tsv", text))
    series = by_name(log)
    assert sorted(series) == ["accuracy", "loss"]  # the epoch column is bookkeeping
    assert series["loss"].steps.tolist() == [100, 200, 300]
    assert series["loss"].unit == "step"
    assert series["loss"].values[2] == np.inf and series["accuracy"].values[2] == -np.inf


def test_semicolon_and_no_axis_column(tmp_path: Path) -> None:
    log = read_csv(write(tmp_path, "log.csv", "loss;val_loss\n0,9;1,0\n0,7;0,8\n"))
    series = by_name(log)
    assert series["loss"].steps.tolist() == [0, 1]  # the row number is the step
    assert series["val_loss"].values.tolist() == [1.0, 0.8]  # decimal commas


def test_bad_cells_are_skipped_and_reported_once(tmp_path: Path) -> None:
    rows = "".join(f"{i},{1.0 / (i + 1)}\n" for i in range(20))
    rows = rows.replace("15,0.0625", "15,abc").replace("17,", "17,oops") + "20,NaN\n"
    path = write(tmp_path, "metrics.csv", "step,loss\n" + rows)
    log = read_csv(path)
    loss = by_name(log)["loss"]
    assert len(loss.steps) == 19 and 15 not in loss.steps.tolist() and 17 not in loss.steps
    assert math.isnan(loss.values[-1])
    assert log.dropped_records == 2
    assert [str(p) for p in log.problems] == [f"{path}:17: column 'loss': 'abc' is not a number (2 cells skipped)"]


def test_non_numeric_column_is_skipped_with_a_problem(tmp_path: Path) -> None:
    text = (
        "timestamp,run_name,step,loss\n2024-01-01 10:00,exp1,1,0.5\n2024-01-01 10:01,exp1,2,0.4\n"
    )
    log = read_csv(write(tmp_path, "log.csv", text))
    assert [s.name for s in log.series] == ["loss"]
    assert len(log.problems) == 2
    assert "column 'timestamp' is not numeric" in log.problems[0].message
    assert "column 'run_name' is not numeric" in log.problems[1].message
    assert log.dropped_records == 0


def test_wall_time_column(tmp_path: Path) -> None:
    text = "step,wall_time,loss\n1,1700000000.5,0.5\n2,1700000001.5,\n3,1700000002.5,0.3\n"
    loss = read_csv(write(tmp_path, "log.csv", text)).series[0]
    assert loss.name == "loss" and loss.wall_time is not None
    assert loss.wall_time.tolist() == [1700000000.5, 1700000002.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.5,0.4\n0.3,0.2\n", "no header row"),
        ("name,comment\nexp1,hello\n", "no numeric columns; expected a header row like"),
    ],
)
def test_unreadable_csv(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ReadError, match=message) as err:
        read_csv(path)
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize("text", ["", "\n  \n", "epoch,loss\n", "epoch,loss,val_loss\r\n"])
def test_csv_with_no_rows_yet_is_empty_not_an_error(tmp_path: Path, text: str) -> None:
    log = read_csv(write(tmp_path, "m.csv", text))  # a run that just started (issue 9)
    assert log.series == [] and log.records == 0 and log.dropped_records == 0


def test_empty_jsonl_is_empty_not_an_error(tmp_path: Path) -> None:
    log = read_jsonl(write(tmp_path, "m.jsonl", ""))
    assert log.series == [] and log.problems == []


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    for reader in (read_csv, read_jsonl):
        with pytest.raises(ReadError) as err:
            reader(tmp_path / "nope.csv")
        assert str(tmp_path / "nope.csv") in str(err.value)
    with pytest.raises(ReadError, match="directory"):
        read_csv(tmp_path)


def test_sniff_is_metrics_csv(tmp_path: Path) -> None:
    assert sniff_is_metrics_csv(write(tmp_path, "a.csv", KERAS_CSV))
    assert sniff_is_metrics_csv(write(tmp_path, "b.csv", LIGHTNING_CSV))
    assert not sniff_is_metrics_csv(write(tmp_path, "c.csv", "name,address\nBob,Main St\n"))
    assert not sniff_is_metrics_csv(write(tmp_path, "d.csv", "step,epoch\n1,0\n"))
    assert not sniff_is_metrics_csv(write(tmp_path, "e.csv", ""))
    assert not sniff_is_metrics_csv(tmp_path / "missing.csv")


JSONL = """{"step": 0, "loss": 2.30, "lr": 0.1, "train": {"acc": 0.1}}
{"step": 1, "loss": NaN, "lr": 0.1}
{"step": 2, "loss": 1.9, "lr": 0.
{"step": 3, "loss": "abc", "run": "exp1"}

{"step": 4, "loss": 1.5, "val": {"loss": 1.7, "acc": 0.4}}
"""


def test_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "log.jsonl", JSONL)
    log = read_jsonl(path)
    series = by_name(log)
    assert sorted(series) == ["loss", "lr", "train/acc", "val/acc", "val/loss"]
    assert series["loss"].steps.tolist() == [0, 1, 4]
    assert math.isnan(series["loss"].values[1])
    assert series["val/loss"].steps.tolist() == [4] and series["val/loss"].values.tolist() == [1.7]
    assert log.records == 5 and log.dropped_records == 2  # the corrupt line and 'abc'
    assert any(p.message.startswith(f"{path}:3: not a JSON object") for p in log.problems)
    assert f"{path}:4: key 'loss': \"abc\" is not a number" in [p.message for p in log.problems]
    assert any("key 'run' is not numeric" in p.message for p in log.problems)


def test_jsonl_axis_choice(tmp_path: Path) -> None:
    epochs = read_jsonl(
        write(tmp_path, "e.jsonl", '{"epoch": 1, "loss": 1}\n{"epoch": 2, "loss": 0.5}\n')
    )
    assert epochs.series[0].unit == "epoch" and epochs.series[0].steps.tolist() == [1, 2]
    lines = read_jsonl(write(tmp_path, "l.jsonl", '{"loss": 1}\n{"loss": 0.5}\n{"loss": 0.25}\n'))
    assert lines.series[0].steps.tolist() == [0, 1, 2]
    wandb = read_jsonl(
        write(
            tmp_path, "w.jsonl", '{"_step": 5, "_runtime": 3.1, "_timestamp": 1.7e9, "loss": 1}\n'
        )
    )
    assert [s.name for s in wandb.series] == ["loss"] and wandb.series[0].steps.tolist() == [5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{oops\n[1, 2]\n", "no line is a JSON object"),
        ('{"run": "x"}\n', "no numeric values"),
    ],
)
def test_unreadable_jsonl(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.jsonl", text)
    with pytest.raises(ReadError, match=message) as err:
        read_jsonl(path)
    assert str(err.value).startswith(str(path))
