"""One run, one time axis (issue 10 s4): a folder holding several writers of one training run
is one run, epochs and steps aligned, no series mixing epoch indices with step numbers, and
a measurement two loggers wrote is read once. The runs were logged by real Keras (CSVLogger,
TensorBoard, traindx's DiagnosisCallback) and real Lightning (CSVLogger, TensorBoardLogger):
fixtures/make_multiwriter_logs.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import traindx
from traindx.readers.timeaxis import epoch_indexed, same_values, to_steps
from traindx.schema import Series, SeriesKey

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs" / "multiwriter"
EPOCH_ENDS = [33 * (e + 1) - 1 for e in range(15)]  # 1,050 examples in batches of 32


def _csv_column(path: Path, name: str) -> np.ndarray:
    lines = path.read_text().splitlines()
    col = lines[0].split(",").index(name)
    return np.array([float(r.split(",")[col]) for r in lines[1:]])


def _one_axis(run) -> None:
    for s in run.series.values():
        assert s.unit == "step", f"{s.key} is per {s.unit}"
        if len(s) >= 10:  # a series spanning the run reaches its last steps, not epoch 14
            assert s.steps[-1] >= 400, f"{s.key}: steps {s.steps[:3]}..{s.steps[-1]}"


def test_keras_csvlogger_tensorboard_and_callback_are_one_run_on_steps():
    root = LOGS / "keras_csv_tb_cb"
    (run,) = traindx.read(root)  # the callback's traindx/ directory belongs to the run
    _one_axis(run)
    assert run.context.steps_per_epoch == 33 and run.context.framework == "keras"
    val = run.get("loss", "val")
    assert val.steps.tolist() == EPOCH_ENDS  # CSVLogger, TensorBoard and the callback: once
    np.testing.assert_allclose(val.values, _csv_column(root / "training.log", "val_loss"), rtol=1e-5)
    per_step, per_epoch = run.get("loss"), run.get("loss", statistic="epoch")
    assert len(per_step) == 495 and per_epoch.steps.tolist() == EPOCH_ENDS  # the callback's, Keras'
    np.testing.assert_allclose(per_epoch.values, _csv_column(root / "training.log", "loss"), rtol=1e-5)
    assert run.get("loss", "val", statistic="step") is None  # Keras' *_vs_iterations repeat val/loss
    assert not any(p.kind in ("superseded", "dropped") for p in run.ingest.problems)


def test_an_adapter_directory_sorting_before_train_is_part_of_the_run():
    (run,) = traindx.read(LOGS / "keras_tb_cb_first")
    assert run.id == "keras_tb_cb_first" and any("/cb/" in f for f in run.ingest.files)
    _one_axis(run)
    assert run.get("loss", "val").steps.tolist() == EPOCH_ENDS
    assert run.get("loss", "val", statistic="step") is None


def test_lightning_csv_and_tensorboard_loggers_are_one_run():
    (run,) = traindx.read(LOGS / "lightning_csv_tb")  # version_0 (CSV) and version_1 (events)
    assert any("same run" in p.message for p in run.ingest.problems)
    assert {Path(f).suffix for f in run.ingest.files} == {".csv", ".0"}
    _one_axis(run)
    loss = run.get("loss")  # train_loss_epoch: an epoch mean logged at the global step
    assert loss.original_name == "train_loss_epoch" and loss.steps.tolist() == EPOCH_ENDS
    assert len(run.get("loss", statistic="step")) == 99 and len(run.get("loss", "val")) == 15
    assert run.context.steps_per_epoch == 33  # from the logged epoch counter


@pytest.mark.parametrize("name", ["keras_csv_tb_cb", "keras_tb_cb_first", "lightning_csv_tb"])
def test_diagnose_reports_one_healthy_run_in_steps(name):
    report = traindx.diagnose(LOGS / name)
    assert isinstance(report, traindx.Report) and len(report) == 1
    d = report[0]
    assert d.verdict == "healthy", d.headline
    assert all(s.onset_unit == "step" and (s.onset_step or 0) <= 494 for s in d.symptoms)


def _series(steps, values, unit="step", stat="value"):
    key = SeriesKey(metric="loss", statistic=stat)
    return Series(key=key, steps=np.asarray(steps), values=np.asarray(values, dtype=float), unit=unit)


def test_same_values_tells_one_measurement_from_two():
    a = _series([32, 65, 98], [1.0, 0.8, 0.7])
    assert same_values(a, _series([33, 66, 99], [1.0, 0.8, 0.7]))  # one step apart
    dense = np.linspace(1.2, 0.6, 99)
    dense[[32, 65, 98]] = [1.0, 0.8, 0.7]
    assert same_values(a, _series(range(99), dense))  # a subset of a denser logger's points
    assert not same_values(a, _series([32, 65, 98], [1.1, 0.8, 0.6]))
    assert not same_values(a, _series([0, 1, 2], [1.0, 0.8, 0.7]))


def test_epoch_index_and_conversion():
    assert epoch_indexed(np.arange(15)) and epoch_indexed(np.arange(10, 20))
    assert not epoch_indexed(np.array([32, 65, 98]))
    s = to_steps(_series(range(5), [5, 4, 3, 2, 1], unit="epoch"), np.array([32, 65]))
    assert s.unit == "step" and s.steps.tolist() == [32, 65, 98, 131, 164]  # past the known ends


def test_a_per_epoch_csv_beside_a_per_step_jsonl_with_no_shared_values(tmp_path):
    # no epoch end can be read from the writers or the context: the axes stay apart, the
    # per-epoch loss is ':epoch', and no series mixes the two
    d = tmp_path / "run"
    d.mkdir()
    (d / "epochs.csv").write_text("epoch,loss\n" + "".join(f"{e},{2 * 0.8**e:.4f}\n" for e in range(12)))
    (d / "steps.jsonl").write_text("".join(f'{{"step": {i}, "loss": {2.1 * 0.99**i:.4f}}}\n' for i in range(300)))
    (run,) = traindx.read(d)
    per_epoch = run.get("loss", statistic="epoch")
    assert per_epoch.unit == "epoch" and per_epoch.steps.tolist() == list(range(12))
    assert run.get("loss").unit == "step" and len(run.get("loss")) == 300


def test_epoch_ends_from_the_run_context(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "epochs.csv").write_text("epoch,val_loss\n" + "".join(f"{e},{2 * 0.8**e:.4f}\n" for e in range(12)))
    (d / "steps.jsonl").write_text("".join(f'{{"step": {i}, "loss": {2.1 * 0.99**i:.4f}}}\n' for i in range(300)))
    (d / "context.json").write_text('{"data": {"n_train": 800, "batch_size": 32}}')
    (run,) = traindx.read(d)
    val = run.get("loss", "val")
    assert val.unit == "step" and val.steps.tolist() == [25 * (e + 1) - 1 for e in range(12)]
    assert any("steps per epoch" in p.message for p in run.ingest.problems)


def test_two_names_of_one_file_for_one_measurement_are_not_a_resumed_run(tmp_path):
    """'loss' and 'train_loss' (or 'acc' and 'accuracy') in one CSV both read as one key: the
    first column is read and the other counted as dropped with both names, never the second
    silently superseding the first as if the file were a resumed run's next one."""
    rows = ["epoch,loss,train_loss,acc,accuracy,val_loss"]
    for e in range(12):
        rows.append(f"{e},{2.3 - 0.1 * e},{5.0 + e},{0.3 + 0.05 * e},{0.3 + 0.05 * e},{2.4 - 0.1 * e}")
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    (run,) = traindx.read(tmp_path)
    loss = run.get("loss")
    assert loss.original_name == "loss"
    np.testing.assert_allclose(loss.values, [2.3 - 0.1 * e for e in range(12)])
    problems = run.ingest.problems
    assert not [p for p in problems if p.kind == "superseded"]
    (drop,) = [p for p in problems if p.kind == "dropped"]  # acc/accuracy agree: kept once, silently
    assert drop.count == 12 and "'loss' and 'train_loss' both read as train/loss" in drop.message
    assert "--map 'train_loss=train/loss@alt'" in drop.message
    (apart,) = traindx.read(tmp_path, overrides={"train_loss": "train/loss@alt"})
    assert apart.get("loss", scope="alt").values[-1] == 16.0
    assert not [p for p in apart.ingest.problems if p.kind == "dropped"]


def test_a_wandb_epoch_counter_logged_once_per_epoch_states_no_steps_per_epoch():
    # wandb.log({'epoch': e, 'loss': ...}) once per epoch (a Keras LambdaCallback): '_step'
    # counts log calls, so the epoch counter moves at every logged step; that is not one
    # optimizer step per epoch (batch_size_bad's "only 1 optimizer steps per epoch")
    pytest.importorskip("wandb")
    root = LOGS.parent.parent / "qa_fresh21" / "logs" / "kr_review_ratings_1_to_5_jax" / "buggy" / "wandb"
    (run,) = traindx.read(root)
    assert len(run.get("loss")) >= 5 and run.context.steps_per_epoch is None
    d = traindx.diagnose(root).runs[0]
    assert "optimizer step" not in " ".join(e.says for c in d.causes for e in c.evidence)

def test_an_epoch_counter_over_several_steps_gives_steps_per_epoch(tmp_path):
    rows = ["step,epoch,loss"] + [f"{i},{i // 5},{2.3 * 0.99**i:.4f}" for i in range(40)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    (run,) = traindx.read(tmp_path)
    assert run.context.steps_per_epoch == 5
