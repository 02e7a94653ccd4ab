"""MLflow stores written by mlflow itself, read without mlflow (readers/mlruns.py, mlflowdb.py)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import traindx
from traindx.errors import ReadError

pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow  # mlflow writes the stores in a child process (10-40 s)

from tracker_runs import make_store  # noqa: E402


@pytest.fixture(scope="module")
def file_store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("filestore")
    make_store(f"file:{d / 'mlruns'}", d)
    return d / "mlruns"


@pytest.fixture(scope="module")
def db_store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sqlite")
    make_store(f"sqlite:///{d / 'mlflow.db'}", d)
    return d / "mlflow.db"


def _check_runs(runs, skipped, prefix=""):
    by_id = {r.id: r for r in runs}
    twins = sorted(i for i in by_id if i.startswith(f"{prefix}other/twin ("))
    assert sorted(by_id) == sorted([f"{prefix}digits/healthy", f"{prefix}digits/lr-2", *twins]) and len(twins) == 2
    healthy = by_id[f"{prefix}digits/healthy"]
    assert sorted(healthy.series) == ["train/loss", "val/accuracy", "val/loss"]
    assert len(healthy.get("loss")) == 40 and healthy.get("loss").steps.tolist() == list(range(40))
    assert healthy.get("loss").values[-1] < healthy.get("loss").values[0]
    assert healthy.context.hyperparameters == {"lr": 0.5, "batch_size": 1400, "optimizer": "sgd"}
    assert healthy.context.optimizer.lr == 0.5  # the rules' ctx.lr
    assert by_id[f"{prefix}digits/lr-2"].context.optimizer.lr == 2.0
    reasons = sorted(s.reason.split(" (")[0].split(";")[0] for s in skipped)
    assert reasons == ["an MLflow run deleted in MLflow", "an MLflow run that logged no metrics"]


def test_file_store(file_store):
    skipped = []
    runs = traindx.read(file_store, skipped=skipped)
    _check_runs(runs, skipped)
    healthy = next(r for r in runs if r.id == "digits/healthy")
    assert healthy.context.hyperparameter_sources["lr"].endswith("meta.yaml")
    assert healthy.ingest.files == [healthy.source + "/meta.yaml"] and healthy.ingest.records == 120


def test_sqlite_store(db_store):
    skipped = []
    runs = traindx.read(db_store, skipped=skipped)
    _check_runs(runs, skipped)
    assert all(r.context.hyperparameter_sources.get("lr", str(db_store)) == str(db_store) for r in runs)


def test_stores_found_in_a_project_folder(file_store, db_store, tmp_path):
    shutil.copytree(file_store, tmp_path / "proj" / "mlruns")
    shutil.copy(db_store, tmp_path / "proj" / "mlflow.db")
    skipped = []
    runs = traindx.read(tmp_path / "proj", skipped=skipped)
    ids = sorted(r.id for r in runs)
    assert [i for i in ids if i.startswith("digits/")] == ["digits/healthy", "digits/lr-2"]  # the database's
    assert [i for i in ids if i.startswith("mlruns/digits/")] == ["mlruns/digits/healthy", "mlruns/digits/lr-2"]
    assert len(ids) == 8 and len(skipped) == 4


def test_corrupt_metric_lines_are_skipped_and_counted(file_store, tmp_path):
    store = shutil.copytree(file_store, tmp_path / "mlruns")
    run_dir = next(p.parent for p in store.glob("*/*/meta.yaml") if "run_name: healthy" in p.read_text())
    with open(run_dir / "metrics" / "loss", "a") as f:
        f.write("1700000000000 not-a-number 40\ngarbage\n1700000000001 0.1 41\n")
    (run,) = [r for r in traindx.read(store) if r.id == "digits/healthy"]
    (p,) = [p for p in run.ingest.problems if p.kind == "corrupt"]
    assert p.count == 2 and "line 41, 42" in p.message and p.file.endswith("metrics/loss")
    assert run.ingest.dropped_records == 2 and len(run.get("loss")) == 41


def test_bad_experiment_meta_names_the_runs_by_its_id(file_store, tmp_path):
    store = shutil.copytree(file_store, tmp_path / "mlruns")
    exp = next(p.parent for p in store.glob("*/meta.yaml") if "name: digits" in p.read_text())
    (exp / "meta.yaml").write_text("name: [digits\n")
    runs = {r.id: r for r in traindx.read(store)}
    run = runs[f"{exp.name}/healthy"]
    (p,) = [p for p in run.ingest.problems if p.kind == "note"]
    assert str(exp / "meta.yaml") in p.message and "not valid YAML" in p.message
    assert len(run.get("loss")) == 40


def test_run_without_metrics_folder_is_listed_as_skipped(file_store, tmp_path):
    store = shutil.copytree(file_store, tmp_path / "mlruns")
    run_dir = next(p.parent for p in store.glob("*/*/meta.yaml") if "run_name: lr-2" in p.read_text())
    shutil.rmtree(run_dir / "metrics")
    skipped = []
    runs = traindx.read(store, skipped=skipped)
    assert "digits/lr-2" not in {r.id for r in runs}
    (s,) = [s for s in skipped if s.path == str(run_dir)]
    assert "without a metrics/ folder" in s.reason


def test_bad_metric_rows_in_the_database_are_skipped_and_counted(db_store, tmp_path):
    db = Path(shutil.copy(db_store, tmp_path / "mlflow.db"))
    con = sqlite3.connect(db)
    uuid = con.execute("SELECT run_uuid FROM runs WHERE name = 'healthy'").fetchone()[0]
    con.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES ('loss', 'oops', 1, ?, 99, 0)", (uuid,))
    con.commit()
    con.close()
    (run,) = [r for r in traindx.read(db) if r.id == "digits/healthy"]
    (p,) = [p for p in run.ingest.problems if p.kind == "corrupt"]
    assert p.count == 1 and uuid in p.message and "'loss'" in p.message
    assert len(run.get("loss")) == 40


def test_a_database_that_is_not_mlflows(tmp_path):
    db = tmp_path / "optuna.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE trials (trial_id INTEGER, value REAL)")
    con.commit()
    con.close()
    with pytest.raises(ReadError) as e:
        traindx.read(db)
    msg = str(e.value)
    assert msg.startswith(str(db)) and "without MLflow's tables" in msg and "\n" not in msg
    (tmp_path / "notes.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)  # damaged
    (tmp_path / "m.csv").write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(12)))
    skipped = []
    (run,) = traindx.read(tmp_path, skipped=skipped)
    assert sorted(Path(s.path).name for s in skipped) == ["notes.db", "optuna.db"]
    assert all("expected an MLflow tracking store" in s.reason for s in skipped)


def test_cli_diagnoses_each_store_with_one_command(file_store, db_store):
    for store in (file_store, db_store):
        out = subprocess.run(
            [sys.executable, "-m", "traindx.cli", "diagnose", str(store)], capture_output=True, text=True, timeout=120
        )
        assert out.returncode in (0, 1), out.stderr
        assert "digits/healthy" in out.stdout and "digits/lr-2" in out.stdout
        assert "deleted in MLflow" in out.stdout and "logged no metrics" in out.stdout
