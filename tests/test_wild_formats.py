"""The logs of the trainers people use, read natively and diagnosed (issue 16).

Keras' CSVLogger is run for real; the other formats are written by tests/wild_logs.py from
each library's documented format (their libraries need torchvision, not installable here).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import wild_logs as w

import traindx
from traindx.cli import main


def _diag(path: Path, *args: str) -> dict:
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["diagnose", str(path), "--json", *args]) == 0
    return json.loads(buf.getvalue())["runs"][0]


@pytest.mark.parametrize(
    ("writer", "parts"),
    [
        (lambda p: w.ultralytics_v8(p), "train/box_loss+train/cls_loss+train/dfl_loss"),
        (
            lambda p: w.ultralytics_v8(p, padded=False),
            "train/box_loss+train/cls_loss+train/dfl_loss",
        ),
        (lambda p: w.ultralytics_v5(p), "train/box_loss+train/obj_loss+train/cls_loss"),
    ],
    ids=["yolov8_padded", "yolo11", "yolov5"],
)
def test_ultralytics_results_csv(tmp_path, writer, parts):
    writer(tmp_path / "train" / "results.csv")
    (run,) = traindx.read(tmp_path / "train")
    assert run.ingest.unmapped == [] and run.ingest.problems == []
    loss, val = run.get("loss"), run.get("loss", "val")
    assert loss.original_name == parts and len(loss) == 60 and loss.unit == "epoch"
    box = run.get(parts.split("+")[0].split("/")[1])  # the parts are kept
    assert box is not None and np.all(loss.values > box.values)
    assert (
        val is not None
        and run.get("map", "val") is not None
        and run.get("map50", "val") is not None
    )
    assert run.get("lr") is not None and run.get("lr", scope="pg2") is not None
    (d,) = traindx.diagnose(run)
    assert d.verdict == "healthy", d.headline


def test_ultralytics_faults_are_findings(tmp_path):
    w.ultralytics_v8(tmp_path / "nan" / "results.csv", val_nan=True)
    w.ultralytics_v8(tmp_path / "zero" / "results.csv", map_zero_at=30)
    w.ultralytics_v8(tmp_path / "peak" / "results.csv", epochs=100, map_peak_at=2)
    by = {d.run_id: d for d in traindx.diagnose(tmp_path)}
    assert "GEN006" in [s.code for s in by["nan"].symptoms]
    assert [s.code for s in by["zero"].symptoms] == ["GEN010"]
    assert "GEN009" in [s.code for s in by["peak"].symptoms]
    assert all(d.verdict == "findings" for d in by.values())


def test_map_can_express_a_sum(tmp_path, capsys):
    w.ultralytics_v8(tmp_path / "results.csv")
    run = _diag(tmp_path / "results.csv", "--map", "loss=train/box_loss+train/cls_loss")
    assert run["verdict"] == "healthy"
    main(["series", str(tmp_path / "results.csv"), "--map", "loss=train/box_loss+train/cls_loss"])
    assert "train/box_loss+train/cls_loss" in capsys.readouterr().out
    (r,) = traindx.read(
        tmp_path / "results.csv", overrides={"+train/loss": "train/box_loss+train/cls_loss"}
    )
    box, cls = r.get("box_loss"), r.get("cls_loss")
    np.testing.assert_allclose(r.get("loss").values, box.values + cls.values)
    (bad,) = traindx.read(
        tmp_path / "results.csv", overrides={"+train/loss": "train/box_loss+nope"}
    )
    assert any("no series named 'nope'" in p.message for p in bad.ingest.problems)


def test_detectron2_metrics_json(tmp_path):
    w.detectron2_metrics(tmp_path / "out" / "metrics.json")
    (run,) = traindx.read(tmp_path / "out")
    assert run.get("loss").original_name == "total_loss" and len(run.get("loss")) == 100
    ap = run.get("map", "val")
    assert ap.original_name == "bbox/AP" and ap.values.max() <= 1.0  # percent read as a fraction
    assert traindx.diagnose(run)[0].verdict == "healthy"


def test_mmengine_scalars_json(tmp_path):
    w.mmengine_scalars(tmp_path / "work" / "20240101_000000" / "vis_data" / "scalars.json")
    (run,) = traindx.read(tmp_path / "work")
    assert run.id == "20240101_000000"
    m = run.get("map", "val")
    assert m.original_name == "coco/bbox_mAP" and m.steps.tolist()[:2] == [
        200,
        400,
    ]  # end of epochs 1, 2
    assert traindx.diagnose(run)[0].verdict == "healthy"


def test_mmdet_log_json(tmp_path):
    w.mmdet_log_json(tmp_path / "work" / "20230101_120000.log.json")
    (run,) = traindx.read(tmp_path / "work")
    loss = run.get("loss")
    assert loss.steps[:3].tolist() == [50, 100, 150] and loss.steps[10] == 550  # epoch 2 continues
    assert run.get("map", "val").steps[0] == 500 and run.get("accuracy").values.max() < 1.0
    assert not run.ingest.problems, (
        run.ingest.problems
    )  # mode, env_info, copypaste strings are not problems
    assert traindx.diagnose(run)[0].verdict == "healthy"


def test_timm_summary_csv(tmp_path):
    w.timm_summary(tmp_path / "run" / "summary.csv")
    (run,) = traindx.read(tmp_path / "run")
    assert run.get("accuracy", "val").original_name == "eval_top1"
    assert run.get("accuracy", "val").values.max() < 1.0
    assert traindx.diagnose(run)[0].verdict == "healthy"


def test_fastai_history_csv(tmp_path):
    w.fastai_history(tmp_path / "run" / "history.csv")
    (run,) = traindx.read(tmp_path / "run")
    assert run.get("accuracy", "val") is not None and run.get("error", "val") is not None
    assert run.get("loss", "val").original_name == "valid_loss"
    assert run.ingest.problems == []  # the mm:ss time column is bookkeeping
    assert traindx.diagnose(run)[0].verdict == "healthy"


@pytest.mark.keras
def test_keras_csvlogger_training_log_with_a_restart(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    keras = pytest.importorskip("keras")
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=256, n_features=10, random_state=0)
    log = tmp_path / "run" / "training.log"
    log.parent.mkdir()
    for epochs in (2, 6):  # a first attempt, then a restart appended to the same file
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((10,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
        )
        cb = keras.callbacks.CSVLogger(str(log), append=True)
        model.fit(
            x, y, epochs=epochs, batch_size=32, validation_split=0.25, verbose=0, callbacks=[cb]
        )
    assert [ln.split(",")[0] for ln in log.read_text().splitlines()[1:]] == [
        "0",
        "1",
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    (run,) = traindx.read(log.parent)  # found by content, not by extension
    assert run.get("loss").steps.tolist() == [0, 1, 2, 3, 4, 5] and run.get("loss").superseded == 2
    assert any(
        "restarted 1 time(s)" in p.message and "epoch went back from 1 to 0" in p.message
        for p in run.ingest.problems
    )
    (d,) = traindx.diagnose(log)  # the file itself, too
    assert d.verdict == "healthy" and "restarted" in str(d)


def test_multi_task_loss_family_is_summed_per_split(tmp_path):
    rows = ["epoch,seg_loss,depth_loss,val_seg_loss,val_depth_loss,loss_scale"]
    for e in range(12):
        rows.append(f"{e},{1.2 * 0.85**e:.4f},{0.6 * 0.9**e:.4f},{1.3 * 0.87**e:.4f},{0.7 * 0.9**e:.4f},65536")
    p = tmp_path / "log.csv"
    p.write_text("\n".join(rows) + "\n")
    (run,) = traindx.read(p)
    assert run.get("loss").original_name == "seg_loss+depth_loss"  # loss_scale (AMP) is no part
    assert run.get("loss", "val").original_name == "val_seg_loss+val_depth_loss"
    np.testing.assert_allclose(run.get("loss").values[0], 1.8)
    assert traindx.diagnose(run)[0].verdict == "healthy"
