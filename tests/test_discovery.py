"""How a path becomes runs: run directories, split sub-directories, side-by-side files."""

from __future__ import annotations

import json

import pytest

import traindx


def _csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")


def test_each_directory_with_logs_is_a_run(tmp_path):
    for name in ("a", "b/c"):
        _csv(tmp_path / name / "metrics.csv", "step,loss", [(i, 2.0 - 0.01 * i) for i in range(20)])
    runs = traindx.read(tmp_path)
    assert sorted(r.id for r in runs) == ["a", "b/c"]


def test_split_directories_merge_into_parent_run(tmp_path):
    _csv(tmp_path / "exp" / "train" / "log.csv", "epoch,loss", [(i, 2.0 - 0.05 * i) for i in range(10)])
    _csv(tmp_path / "exp" / "validation" / "log.csv", "epoch,loss", [(i, 2.1 - 0.04 * i) for i in range(10)])
    (run,) = traindx.read(tmp_path)
    assert run.id == "exp"
    assert run.get("loss", "train") is not None and run.get("loss", "val") is not None
    assert run.get("loss", "val").values[0] == pytest.approx(2.1)


def test_add_scalars_subruns_belong_to_the_run(tmp_path):
    _csv(tmp_path / "exp" / "metrics.csv", "step,lr", [(i, 0.1) for i in range(10)])
    _csv(tmp_path / "exp" / "loss" / "val" / "x.csv", "step,loss", [(i, 1.0) for i in range(10)])
    _csv(tmp_path / "exp" / "loss_train" / "x.csv", "step,loss", [(i, 0.5) for i in range(10)])
    (run,) = traindx.read(tmp_path)
    assert run.get("loss", "val").values[0] == 1.0
    assert run.get("loss", "train").values[0] == 0.5


def test_context_json_is_read(tmp_path):
    _csv(tmp_path / "r" / "m.csv", "step,loss", [(i, 1.0) for i in range(5)])
    (tmp_path / "r" / "context.json").write_text(json.dumps({"framework": "torch", "data": {"num_classes": 10}}))
    (run,) = traindx.read(tmp_path / "r")
    assert run.context.framework == "torch" and run.context.data.num_classes == 10


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [("context.json", b'{"data": {"num_classes": "ten"}}', "not a traindx context: data.num_classes"),
     ("context.json", b'{"framework": "\xff\xfe"}', "context"),
     ("preflight.json", b'{"checks": [{"name": 3}]}', "not a traindx preflight record: checks.0")],
)  # fmt: skip
def test_bad_context_json_names_the_file_and_the_run_is_still_read(tmp_path, name, data, says):
    _csv(tmp_path / "r" / "m.csv", "step,loss", [(i, 1.0) for i in range(5)])
    (tmp_path / "r" / name).write_bytes(data)  # invalid, then not UTF-8 (issue 9)
    (run,) = traindx.read(tmp_path / "r")
    (p,) = run.ingest.problems
    assert p.kind == "unreadable" and p.file.endswith(name) and says in p.message
    assert len(run.get("loss")) == 5


def test_unrelated_csv_is_ignored_next_to_a_log(tmp_path):
    _csv(tmp_path / "r" / "m.csv", "step,loss", [(i, 1.0) for i in range(5)])
    _csv(tmp_path / "r" / "predictions.csv", "id,label", [(i, i % 3) for i in range(5)])
    (run,) = traindx.read(tmp_path / "r")
    assert list(run.series) == ["train/loss"]


def test_diagnose_always_gives_a_report_with_runs(tmp_path):
    for name in ("a", "b"):
        _csv(tmp_path / name / "metrics.csv", "step,loss", [(i, 2.0 * 0.95**i) for i in range(40)])
    rep = traindx.diagnose(tmp_path)
    assert isinstance(rep, traindx.Report) and len(rep) == 2 and rep.healthy
    one = traindx.diagnose(tmp_path / "a")  # one run: a Report too
    assert isinstance(one, traindx.Report) and len(one) == 1 and one.healthy
    assert isinstance(one[0], traindx.Diagnosis) and one[0].run_id == "a"
    assert "healthy" in str(one)
    assert json.loads(one.to_json())["runs"][0]["healthy"] is True
    (run,) = traindx.read(tmp_path / "b")
    from_run = traindx.diagnose(run)  # a Run built or read by the caller: a Report too
    assert isinstance(from_run, traindx.Report) and [d.run_id for d in from_run] == ["b"]


def test_jsonl_run(tmp_path):
    p = tmp_path / "r" / "log.jsonl"
    p.parent.mkdir()
    p.write_text("".join(json.dumps({"step": i, "train/loss": 2.3 * 0.9**i}) + "\n" for i in range(30)))
    (run,) = traindx.read(p.parent)
    assert len(run.get("loss")) == 30


def test_huggingface_trainer_state(tmp_path):
    hist = []
    for step in range(10, 510, 10):
        hist.append({"loss": 2.3 * 0.99 ** step + 0.05, "learning_rate": 5e-5, "grad_norm": 1.0, "epoch": step / 100, "step": step})
        if step % 100 == 0:
            # a rising accuracy: one value at every evaluation is ACC017's gate (never healthy)
            hist.append({"eval_loss": 2.4 * 0.99 ** step + 0.1, "eval_accuracy": 0.8 + step / 5000, "epoch": step / 100, "step": step})
    ck = tmp_path / "out" / "checkpoint-500"
    ck.mkdir(parents=True)
    (ck / "trainer_state.json").write_text(json.dumps({"global_step": 500, "log_history": hist}))
    (run,) = traindx.read(tmp_path / "out")
    assert len(run.get("loss")) == 50 and len(run.get("loss", "val")) == 5
    assert run.get("lr") is not None and run.get("grad_norm") is not None
    assert traindx.diagnose(run).healthy


def test_trackers_folders_it_does_not_read_are_listed_beside_logs(tmp_path):
    _csv(tmp_path / "metrics.csv", "step,loss", [(i, 2.0 - 0.01 * i) for i in range(20)])
    for name in (".aim", ".neptune", ".cometml-runs", ".git"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x").write_text("x")
    skipped = []
    (run,) = traindx.read(tmp_path, skipped=skipped)
    assert sorted((s.path.rsplit("/", 1)[-1], s.reason.split(" ")[1]) for s in skipped) == [
        (".aim", "Aim"), (".cometml-runs", "offline"), (".neptune", "offline")
    ]  # fmt: skip
    assert all("traindx does not read this format" in s.reason for s in skipped)
