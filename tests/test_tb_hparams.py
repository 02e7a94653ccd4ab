"""TensorBoard's hparams plugin -> the run's hyperparameters (readers/tfevents/hparams.py)."""

from __future__ import annotations

import pytest

import traindx
from traindx.readers.incremental import Follower
from traindx.readers.tfevents import read_event_file
from traindx.readers.tfevents.hparams import session_hparams

pytestmark = pytest.mark.tensorboardx


def test_tensorboardx_add_hparams(tmp_path):
    tbx = pytest.importorskip("tensorboardX")
    w = tbx.SummaryWriter(str(tmp_path / "run"))
    for i in range(12):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    # add_hparams writes the session and its metric into a new sub-folder of the run
    w.add_hparams({"lr": 0.02, "bs": 64, "optim": "sgd", "nesterov": False}, {"hparam/accuracy": 0.8})
    w.close()
    (run,) = traindx.read(tmp_path)
    c = run.context
    assert c.hyperparameters == {"lr": 0.02, "bs": 64, "optim": "sgd", "nesterov": False}
    assert isinstance(c.hyperparameters["bs"], int)
    sub = [p for p in (tmp_path / "run").iterdir() if p.is_dir()]
    assert len(sub) == 1 and c.hyperparameter_sources["lr"].startswith(str(sub[0]))
    assert c.optimizer.lr == 0.02 and len(run.get("loss")) == 12


def test_tensorboard_hparams_api_summary_in_the_runs_own_file(tmp_path):
    tbx = pytest.importorskip("tensorboardX")
    from tensorboard.plugins.hparams import summary_v2
    from tensorboardX.proto.summary_pb2 import Summary

    # hparams_pb is what tensorboard.plugins.hparams.api.hparams(...) writes (without TF here)
    pb = summary_v2.hparams_pb({"learning_rate": 0.005, "layers": 3, "act": "relu", "bn": True})
    w = tbx.SummaryWriter(str(tmp_path))
    w.file_writer.add_summary(Summary.FromString(pb.SerializeToString()), 0)
    for i in range(12):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    w.close()
    (f,) = tmp_path.glob("events.out.tfevents.*")
    log = read_event_file(f)
    assert log.hyperparameters == {"learning_rate": 0.005, "layers": 3, "act": "relu", "bn": True}
    assert [s.name for s in log.series] == ["loss"]  # the hparams summaries are not series
    (run,) = traindx.read(tmp_path)
    assert run.context.optimizer.lr == 0.005
    # `traindx watch` follows the file piece by piece and keeps them too
    follower = Follower()
    assert follower.read(f, "tfevents").hyperparameters == log.hyperparameters


def test_undecodable_metadata_is_not_hyperparameters():
    assert session_hparams(b"") is None
    assert session_hparams(b"\x0a\x05\x0a\x03abc") is None  # plugin_data without content
    assert session_hparams(b"\x0a\xff") is None  # cut short


def test_huggingface_training_arguments_text_summary(tmp_path):
    # HF's TensorBoardCallback (report_to=["tensorboard"]) writes TrainingArguments.to_json_string()
    # once as add_text("args", ...): the optimizer and its LR a TensorBoard-only run states
    tbx = pytest.importorskip("tensorboardX")
    import json

    w = tbx.SummaryWriter(str(tmp_path))
    args = {"learning_rate": 0.05, "optim": "adamw_torch_fused", "warmup_steps": 23, "report_to": ["tensorboard"],
            "per_device_train_batch_size": 16, "lr_scheduler_kwargs": {}}
    w.add_text("args", json.dumps(args, indent=2))
    w.add_text("notes", "not json at all")
    for i in range(12):
        w.add_scalar("train/loss", 1.1 - 0.001 * i, i)
    w.close()
    (run,) = traindx.read(tmp_path)
    hp = run.context.hyperparameters
    assert hp["learning_rate"] == 0.05 and hp["optim"] == "adamw_torch_fused" and "report_to" not in hp
    assert run.context.optimizer.name == "adamw" and run.context.optimizer.lr == 0.05
    assert [s.key.metric for s in run.series.values()] == ["loss"]  # the texts are not series
