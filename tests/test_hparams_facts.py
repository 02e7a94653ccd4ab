"""What a run's hyperparameter files state becomes the context facts the rules read
(traindx/readers/hparams_facts.py): the name habits, the units, the adapter winning, bad values
skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import traindx
from traindx.readers.hparams_facts import fill_context, optimizer_name, stated
from traindx.schema import RunContext
from traindx.signals import compute_facts, context_facts

QA = Path(__file__).resolve().parents[1] / "fixtures"


def _csv(path: Path, n: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("step,loss\n" + "".join(f"{i},{2.0 - 0.05 * i}\n" for i in range(n)))


def test_lightning_hparams_yaml_states_the_context(tmp_path):
    run_dir = tmp_path / "lightning_logs" / "version_0"
    _csv(run_dir / "metrics.csv")
    (run_dir / "hparams.yaml").write_text(
        "dropout: 0.9\nnum_classes: 10\nweight_decay: 1e-2\nbatch_size: 32\n"
        "optimizer: torch.optim.SGD\nmax_epochs: 20\ngradient_clip_val: 0\n"
    )  # PyYAML reads 1e-2 as text (YAML 1.1 wants a dot): read as the number
    (run,) = traindx.read(tmp_path)
    ctx = context_facts(run)
    assert ctx["dropout_max"] == 0.9 and ctx["num_classes"] == 10 and ctx["weight_decay"] == 0.01
    assert ctx["batch_size"] == 32 and ctx["optimizer"] == "sgd" and ctx["optimizer_from_config"] is True
    assert "clipnorm" not in ctx  # Lightning's gradient_clip_val 0: no clipping
    assert run.context.epochs == 20
    assert set(ctx["from_config"].split(",")) == {"dropout_max", "num_classes", "weight_decay", "batch_size",
                                                  "optimizer", "epochs"}  # fmt: skip
    assert "chance" in compute_facts(run)  # the stated class count gives the chance levels
    assert not [p for p in run.ingest.problems if p.kind == "skipped"]


def test_hf_training_args_json(tmp_path):
    """The keys ``TrainingArguments.to_json_string()`` writes (per-device sizes, ``optim``,
    ``adam_epsilon``, ``max_grad_norm``); the evaluation batch size is not the batch size."""
    args = {
        "learning_rate": 5e-5, "per_device_train_batch_size": 8, "per_device_eval_batch_size": 64,
        "optim": "adamw_torch", "weight_decay": 0.0, "adam_epsilon": 1e-8, "max_grad_norm": 1.0,
        "num_train_epochs": 3.0, "warmup_ratio": 0.1, "warmup_steps": 0, "label_smoothing_factor": 0.0,
    }  # fmt: skip
    (tmp_path / "training_args.json").write_text(json.dumps(args))
    _csv(tmp_path / "metrics.csv")
    (run,) = traindx.read(tmp_path)
    ctx = context_facts(run)
    assert (ctx["batch_size"], ctx["optimizer"], ctx["weight_decay"], ctx["eps"]) == (8, "adamw", 0.0, 1e-8)
    assert ctx["clipnorm"] == 1.0 and ctx["lr"] == 5e-5 and run.context.epochs == 3
    assert ctx["warmup_ratio"] == 0.1 and ctx["warmup_steps"] == 0.0 and ctx["label_smoothing"] == 0.0


def test_key_value_directory_names_state_the_context(tmp_path):
    _csv(tmp_path / "sweep" / "opt=sgd,bs=4,wd=0.1,momentum=0.0" / "metrics.csv")
    (run,) = traindx.read(tmp_path / "sweep")
    ctx = context_facts(run)
    assert (ctx["optimizer"], ctx["batch_size"], ctx["weight_decay"], ctx["momentum"]) == ("sgd", 4, 0.1, 0.0)


def test_wandb_config_of_a_real_run():
    pytest.importorskip("wandb")
    (run,) = traindx.read(QA / "qa_fresh21/logs/kr_review_ratings_1_to_5_jax/buggy")
    ctx = context_facts(run)
    assert (ctx["num_classes"], ctx["optimizer"], ctx["batch_size"], run.context.epochs) == (5, "adam", 64, 25)
    assert compute_facts(run)["chance"]["num_classes"] == 5.0


def test_the_adapter_wins_where_config_and_adapter_disagree(tmp_path):
    run_dir = tmp_path / "run"
    _csv(run_dir / "metrics.csv")
    ctx = {
        "framework": "torch", "optimizer": {"name": "Adam", "lr": 0.001, "weight_decay": 0.0},
        "data": {"batch_size": 16}, "model": {"has_dropout": False, "output_units": 3},
        "flags": {"loss_task": "classification"},  # the loss the Monitor read: the width counts classes
    }  # fmt: skip
    (run_dir / "context.json").write_text(json.dumps(ctx))
    (run_dir / "hparams.yaml").write_text(
        "weight_decay: 0.5\nbatch_size: 64\ndropout: 0.9\nnum_classes: 10\noptimizer: sgd\nmomentum: 0.9\n"
    )
    (run,) = traindx.read(run_dir)
    facts = context_facts(run)
    assert (facts["optimizer"], facts["weight_decay"], facts["batch_size"]) == ("adam", 0.0, 16)
    assert "dropout_max" not in facts  # the adapter saw the model: no dropout layer
    assert facts["num_classes"] == 3  # from the output layer, not the config's 10
    assert facts["momentum"] == 0.9 and facts["from_config"] == "momentum"  # what it left unsaid


def test_bad_values_are_skipped_and_counted(tmp_path):
    _csv(tmp_path / "metrics.csv")
    (tmp_path / "hparams.yaml").write_text(
        "dropout: lots\nnum_classes: null\nbatch_size: [32, 64]\nmomentum: 1.5\nlr: 1e-3\n"
        "optimizer: my_fancy_optimizer\nepochs: 2.5\nmodel: {a: {weight_decay: 0.1}, b: {weight_decay: 0.2}}\n"
        f"num_labels: '{'x' * 500}\\n{'y' * 50}'\n"
    )
    (run,) = traindx.read(tmp_path)
    (p,) = [p for p in run.ingest.problems if p.kind == "skipped"]
    assert p.count == 9 and "\n" not in p.message and "x" * 40 not in p.message
    for name in ("dropout", "num_classes", "batch_size", "momentum", "optimizer", "epochs", "model.a.weight_decay",
                 "num_labels"):
        assert name in p.message
    ctx = context_facts(run)
    assert not {"dropout_max", "num_classes", "batch_size", "momentum", "optimizer", "weight_decay"} & set(ctx)
    assert run.context.epochs is None and len(run.get("loss")) == 12


@pytest.mark.parametrize(
    ("hp", "expected"),
    [
        # which batch? (the accumulation itself is stated: tests/test_plan_facts.py)
        ({"per_device_train_batch_size": 1, "gradient_accumulation_steps": 32}, {"grad_accum_steps": 32.0}),
        ({"batch_size": 8, "accumulate_grad_batches": 1}, {"batch_size": 8}),
        ({"model.dropout": 0.1, "model.attn.dropout_rate": 0.3}, {"dropout_max": 0.3}),  # the largest
        ({"keep_prob": 0.2}, {"dropout_max": 0.8}),  # TF1's share kept
        ({"classes": ["cat", "dog", "bird"]}, {"num_classes": 3}),
        ({"n_classes": 1}, {}),  # one output is no class count
        ({"l2": 0.5}, {"l2_max": 0.5}),  # a Keras L2 factor, not a weight decay
        ({"data.val.batch_size": 128, "data.batch_size": 32}, {"batch_size": 32}),
        ({"optimizer._target_": "torch.optim.AdamW", "optimizer.weight_decay": 0.05},
         {"optimizer": "adamw", "weight_decay": 0.05}),
        ({"model.name": "adam_net"}, {}),  # a name outside an optimizer's scope
        ({"clip": 0.0, "max_grad_norm": None}, {}),
    ],
)
def test_name_habits_and_units(hp, expected):
    ctx = RunContext(hyperparameters=hp)
    fill_context(ctx)
    assert set(str(ctx.flags.get("from_config") or "").split(",")) - {""} == set(expected)
    got, _ = stated(hp)
    want = {k: v for k, v in expected.items() if k != "grad_accum_steps"}  # fill_context's, not stated's
    assert {k: v for k, (v, _) in got.items() if k != "batch_size" or "batch_size" in expected} == want


@pytest.mark.parametrize(
    ("text", "name"),
    [("Adam", "adam"), ("torch.optim.AdamW", "adamw"), ("adamw_torch_fused", "adamw"), ("paged_adamw_32bit", "adamw"),
     ("keras.optimizers.SGD", "sgd"), ("RMSprop", "rmsprop"), ("custom", None), ("", None), (3, None)],
)  # fmt: skip
def test_optimizer_names(text, name):
    assert optimizer_name(text) == name


def test_an_output_width_that_counts_no_classes_leaves_the_count_to_the_config(tmp_path):
    # the adapter recorded a 16-wide output and could not read the loss (an embedding under a
    # custom loss): its width is no class count, so the config's statement stands
    run_dir = tmp_path / "run"
    _csv(run_dir / "metrics.csv")
    ctx = {"framework": "torch", "model": {"output_units": 16, "output_activation": "linear"},
           "flags": {"loss_task": "unknown"}}  # fmt: skip
    (run_dir / "context.json").write_text(json.dumps(ctx))
    (run_dir / "hparams.yaml").write_text("num_classes: 10\n")
    (run,) = traindx.read(run_dir)
    assert context_facts(run)["num_classes"] == 10
