"""`traindx sweep` over a real sweep: 24 torch runs in key=value folders
(fixtures/make_sweep_logs.py): verdicts, clusters, importance, next region, executors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from traindx.cli import main
from traindx.errors import TraindxError
from traindx.sweep import sweep
from traindx.sweep.executors import gather
from traindx.sweep.importance import importance
from traindx.sweep.tasks import make_tasks

SWEEP = Path(__file__).resolve().parent.parent / "fixtures" / "sweep" / "lr_bs"


@pytest.fixture(scope="module")
def report():
    return sweep(SWEEP, executor="serial")


def test_every_run_has_a_verdict_and_its_hyperparameters(report):
    assert len(report.runs) == 24
    for r in report.runs:
        lr, bs = (kv.split("=")[1] for kv in r.run_id.split(","))
        assert r.hyperparameters == {"lr": float(lr), "bs": int(bs)}
        assert r.verdict in ("healthy", "findings") and r.cause
        assert r.metric == "val/loss" and r.outcome in ("good", "bad", "diverged")
    clustered = sorted(i for c in report.clusters for i in c.runs)
    assert clustered == sorted(r.run_id for r in report.runs)
    sizes = [len(c.runs) for c in report.clusters]
    assert sizes == sorted(sizes, reverse=True)


def test_the_largest_learning_rates_diverge_and_the_smallest_do_not(report):
    diverged = {r.hyperparameters["lr"] for r in report.runs if r.outcome == "diverged"}
    assert diverged and min(diverged) >= 0.3
    assert all(r.outcome != "diverged" for r in report.runs if r.hyperparameters["lr"] <= 0.01)


def test_learning_rate_matters_most_and_the_region_brackets_the_best_runs(report):
    names = [h.name for h in report.hyperparameters]
    assert names[0] == "lr" and set(names) == {"lr", "bs"}
    lr = report.hyperparameters[0]
    assert lr.log_scale and lr.kind == "numeric" and lr.distinct == 8 and lr.importance > 0
    assert report.target == "outcome"
    region = report.suggest["lr"]
    assert region["scale"] == "log" and 1e-4 <= region["low"] < region["high"] <= 3.0
    best = {r.run_id: r for r in report.runs if r.run_id in report.best}
    assert best and all(r.outcome != "diverged" for r in best.values())
    for r in best.values():  # every best run lies inside the region
        assert region["low"] <= r.hyperparameters["lr"] <= region["high"]
    # the best final validation loss of the sweep is in the best runs
    finals = [r.final for r in report.runs if r.outcome != "diverged"]
    assert min(finals) == min(r.final for r in best.values())


def test_executors_give_the_serial_summaries(report, tmp_path):
    ref = [r.model_dump() for r in report.runs]
    proc = sweep(SWEEP, executor="process", workers=2, per_task=5)
    assert [r.model_dump() for r in proc.runs] == ref
    assert proc.hyperparameters == report.hyperparameters and proc.suggest == report.suggest


def test_dask_local_cluster_gives_the_serial_summaries(report):
    distributed = pytest.importorskip("dask.distributed")
    tasks = make_tasks(SWEEP, per_task=6)
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        parts = gather(client, tasks)
    got = [s.model_dump() for part in parts for s in part.runs]
    assert got == [r.model_dump() for r in report.runs]


def test_cli_json_shape(capsys):
    assert main(["sweep", str(SWEEP), "--json", "--executor", "serial"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"runs", "hyperparameters", "suggest", "clusters"}
    assert out["hyperparameters"][0]["name"] == "lr"
    imps = [h["importance"] for h in out["hyperparameters"]]
    assert imps == sorted(imps, reverse=True)
    assert set(out["suggest"]["lr"]) == {"low", "high", "scale"}


def test_cli_table(capsys):
    assert main(["sweep", str(SWEEP), "--executor", "serial"]) == 0
    out = capsys.readouterr().out
    assert "24 runs" in out and "hyperparameter importance" in out and "next search region" in out


def test_unknown_executor_is_a_one_line_error(capsys):
    assert main(["sweep", str(SWEEP), "--executor", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "serial, process, dask or dask://HOST:PORT" in err


def test_not_a_directory(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_without_scikit_learn_the_message_names_the_extra(report, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    with pytest.raises(TraindxError, match=r"traindx\[sweep\]"):
        importance(report.runs)


def test_too_few_runs_say_so(tmp_path):
    for name in ("lr=0.001,bs=32", "lr=0.03,bs=32"):
        shutil.copytree(SWEEP / name, tmp_path / name)
    rep = sweep(tmp_path)
    assert len(rep.runs) == 2 and not rep.hyperparameters and "needs 4 runs" in rep.note


def test_html_page_plots_the_final_metric_against_each_hyperparameter(report, tmp_path):
    from traindx.sweep.plots import hyperparameter_charts, write_sweep_html

    charts = hyperparameter_charts(report)
    assert [c.key for c in charts] == ["sweep:lr", "sweep:bs"]
    lr = charts[0]
    assert lr.log_x and lr.x_label == "lr"
    labels = [ln.label.split(" ")[0] for ln in lr.lines]
    assert labels == ["good", "bad", "diverged"]
    assert lr.lines[0].points and lr.lines[1].points and lr.lines[2].markers_only
    assert set(lr.lines[2].x) == {r.hyperparameters["lr"] for r in report.runs if r.outcome == "diverged"}
    # every point is the best final value of its outcome at that lr
    good = {r.hyperparameters["lr"]: r.final for r in report.runs if r.outcome == "good"}
    assert set(lr.lines[0].x) == set(good)
    page = write_sweep_html(tmp_path / "sweep.html", report).read_text()
    assert "final val/loss against lr" in page and "next search region" in page
    assert '"points":true' in page and "no run found" not in page


def test_what_discovery_could_not_read_is_reported(tmp_path):
    import sqlite3

    for name in ("lr=0.001,bs=32", "lr=0.03,bs=32", "lr=0.3,bs=32", "lr=3,bs=32"):
        shutil.copytree(SWEEP / name, tmp_path / name)
    (tmp_path / "other").mkdir()
    with sqlite3.connect(tmp_path / "other" / "mlflow.db") as db:  # a SQLite file, not MLflow's
        db.execute("create table t (x int)")
    rep = sweep(tmp_path, per_task=1)
    assert len(rep.runs) == 4
    assert any(s.path.endswith("mlflow.db") for s in rep.skipped), rep.skipped


@pytest.mark.slow
def test_mlflow_runs_a_worker_did_not_read_are_reported(tmp_path):
    pytest.importorskip("mlflow")
    from tracker_runs import make_store  # mlflow writes the store in a child process

    make_store(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)
    rep = sweep(tmp_path, executor="process", workers=2)
    assert sorted(r.run_id for r in rep.runs)[:2] == ["digits/healthy", "digits/lr-2"]
    assert all(r.verdict != "error" for r in rep.runs)
    reasons = {s.reason.split(" (")[0].split(";")[0] for s in rep.skipped}
    assert {"an MLflow run deleted in MLflow", "an MLflow run that logged no metrics"} <= reasons


def test_two_loggers_of_one_training_are_one_run_as_in_diagnose():
    from traindx.api import diagnose

    root = SWEEP.parent.parent / "logs" / "multiwriter"
    rep = sweep(root, with_importance=False)
    want = diagnose(root)
    assert sorted(r.run_id for r in rep.runs) == sorted(d.run_id for d in want)
    assert {r.run_id: r.verdict for r in rep.runs} == {d.run_id: d.verdict for d in want}
