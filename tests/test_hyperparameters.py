"""Hyperparameters wherever a run keeps them (traindx/readers/hparams.py), and the LR they give the rules."""

from __future__ import annotations

import json

import pytest

import traindx
from traindx.readers.hparams import from_dir_name, learning_rate, parse_value
from traindx.signals import context_facts


def _csv(path, n=12):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("step,loss\n" + "".join(f"{i},{2.0 - 0.05 * i}\n" for i in range(n)))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lr=0.01,bs=32", {"lr": 0.01, "bs": 32}),  # Hydra multirun
        ("optimizer.lr=1e-3,model=resnet18,aug=true", {"optimizer.lr": 0.001, "model": "resnet18", "aug": True}),
        ("train_fn_1a2b3_00004_4_lr=0.0100,momentum=0.9000_2024-01-02_03-04-05", {"lr": 0.01, "momentum": 0.9}),  # Ray Tune
        ("train_fn_1a2b3_00000_0_batch_size=64", {"batch_size": 64}),
        ("seed=-3", {"seed": -3}),
        ("lr_0.01-batch_size_32", {"lr": 0.01, "batch_size": 32}),
        # not unambiguous: left alone
        ("lr_1e-3-bs_32", {}),  # '-' inside a number
        ("run_2024-01-05", {}),
        ("lr_0.1-lr_0.2", {}),
        ("run1,lr=0.1", {}),
        ("lr=0.1=2", {}),
        ("lr=0.1,lr=0.2", {}),
        ("version_0", {}),  # Lightning's folder: one pair is not read
        ("a b=1", {}),
    ],
)
def test_directory_names(name, expected):
    got = from_dir_name(name)
    assert got == expected
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_values_are_parsed_as_numbers_only_when_they_are_numbers():
    assert parse_value("32") == 32 and isinstance(parse_value("32"), int)
    assert parse_value(" 3e-4 ") == 3e-4 and parse_value(".5") == 0.5
    assert parse_value("nan") == "nan" and parse_value("1e") == "1e" and parse_value("0x10") == "0x10"


def test_one_learning_rate_or_none():
    assert learning_rate({"optimizer.lr": 0.1, "bs": 3}) == ("optimizer.lr", 0.1)
    assert learning_rate({"lr": 0.1, "optim.learning_rate": 0.1}) == ("lr", 0.1)  # the same LR twice
    assert learning_rate({"backbone.lr": 0.01, "head.lr": 0.1}) is None  # per-group LRs: not one LR
    assert learning_rate({"lr": "auto", "lr_decay": 0.5}) is None


def test_key_value_directories_give_hyperparameters_and_the_lr(tmp_path):
    _csv(tmp_path / "sweep" / "lr=0.3,bs=32" / "metrics.csv")
    _csv(tmp_path / "sweep" / "opt=sgd" / "seed=1" / "metrics.csv")
    runs = {r.id: r for r in traindx.read(tmp_path / "sweep")}
    a, b = runs["lr=0.3,bs=32"].context, runs["opt=sgd/seed=1"].context
    assert a.hyperparameters == {"lr": 0.3, "bs": 32}
    assert a.hyperparameter_sources == {"lr": "directory name 'lr=0.3,bs=32'", "bs": "directory name 'lr=0.3,bs=32'"}
    assert a.optimizer.lr == 0.3 and context_facts(runs["lr=0.3,bs=32"])["lr"] == 0.3  # the rules' ctx.lr
    assert b.hyperparameters == {"seed": 1, "opt": "sgd"} and b.optimizer.lr is None


def test_the_root_given_names_hyperparameters_too(tmp_path):
    _csv(tmp_path / "wd=0.01" / "seed=1" / "metrics.csv")
    _csv(tmp_path / "wd=0.01" / "seed=2" / "metrics.csv")
    runs = traindx.read(tmp_path / "wd=0.01")
    assert [r.context.hyperparameters for r in runs] == [{"seed": 1, "wd": 0.01}, {"seed": 2, "wd": 0.01}]
    (one,) = traindx.read(tmp_path / "wd=0.01" / "seed=2" / "metrics.csv")  # a file: its folder's name
    assert one.context.hyperparameters == {"seed": 2}


def test_the_adapter_context_wins_and_keeps_its_lr(tmp_path):
    run_dir = tmp_path / "lr=0.5"
    _csv(run_dir / "metrics.csv")
    ctx = {"framework": "torch", "optimizer": {"name": "Adam", "lr": 0.001}, "hyperparameters": {"lr": 0.001, "run_name": "x"}}
    (run_dir / "context.json").write_text(json.dumps(ctx))
    (run,) = traindx.read(run_dir)
    c = run.context
    assert c.optimizer.lr == 0.001 and c.hyperparameters["lr"] == 0.001
    assert c.hyperparameter_sources["lr"].endswith("context.json")


def test_trainer_state_and_its_trial_params(tmp_path):
    state = {
        "max_steps": 40, "num_train_epochs": 2, "train_batch_size": 8,
        "trial_params": {"learning_rate": 2e-5, "warmup": {"ratio": 0.1}},
        "log_history": [{"loss": 2.0 - 0.1 * i, "learning_rate": 2e-5, "step": 5 * i} for i in range(1, 8)],
    }  # fmt: skip
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    (run,) = traindx.read(tmp_path)
    hp = run.context.hyperparameters
    assert hp == {"train_batch_size": 8, "num_train_epochs": 2, "max_steps": 40, "learning_rate": 2e-5, "warmup.ratio": 0.1}
    assert run.context.optimizer.lr == 2e-5
    assert run.context.hyperparameter_sources["warmup.ratio"].endswith("trainer_state.json")


def test_bad_hparams_file_is_named_and_the_run_is_read(tmp_path):
    _csv(tmp_path / "metrics.csv")
    (tmp_path / "hparams.yaml").write_text("lr: [0.1\nbs: 3\n")
    (run,) = traindx.read(tmp_path)
    (p,) = [p for p in run.ingest.problems if p.kind == "unreadable"]
    assert p.file.endswith("hparams.yaml") and "not valid YAML" in p.message and "\n" not in p.message
    assert run.context.hyperparameters == {} and len(run.get("loss")) == 12


def test_hydra_overrides_and_python_tags(tmp_path):
    _csv(tmp_path / "metrics.csv")
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- optimizer.lr=0.02\n- +trainer.max_epochs=3\n")
    (tmp_path / "hparams.yaml").write_text(
        "hidden: 16\nact: !!python/name:torch.nn.modules.activation.ReLU ''\nbetas: [0.9, 0.99]\n"
    )
    (run,) = traindx.read(tmp_path)
    hp = run.context.hyperparameters
    assert hp["optimizer.lr"] == 0.02 and hp["trainer.max_epochs"] == 3 and hp["hidden"] == 16
    assert hp["betas"] == [0.9, 0.99] and "ReLU" in hp["act"]
    assert run.context.optimizer.lr == 0.02


def test_an_lr_yaml_reads_as_text_is_still_the_runs_lr(tmp_path):
    # PyYAML (YAML 1.1) reads ``1e-3`` without a dot as the string "1e-3"
    _csv(tmp_path / "metrics.csv")
    (tmp_path / "hparams.yaml").write_text("lr: 1e-3\nname: run-1e\n")
    (run,) = traindx.read(tmp_path)
    assert run.context.hyperparameters["lr"] == "1e-3"
    assert run.context.optimizer.lr == 0.001


def test_an_lr_that_is_not_a_number_is_not_the_runs_lr(tmp_path):
    _csv(tmp_path / "metrics.csv")
    (tmp_path / "hparams.yaml").write_text("learning_rate: auto\n")
    (run,) = traindx.read(tmp_path)
    assert run.context.optimizer.lr is None


@pytest.mark.slow
def test_real_lightning_hparams_yaml(tmp_path):
    torch = pytest.importorskip("torch")
    L = pytest.importorskip("lightning")
    from lightning.pytorch.loggers import CSVLogger

    class Model(L.LightningModule):
        def __init__(self, lr=0.07, hidden=4, opt_name="sgd"):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
    trainer = L.Trainer(
        max_epochs=2, logger=CSVLogger(tmp_path), log_every_n_steps=1, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    trainer.fit(Model(), data)
    (run,) = traindx.read(tmp_path)
    assert run.context.hyperparameters == {"lr": 0.07, "hidden": 4, "opt_name": "sgd"}
    assert run.context.hyperparameter_sources["lr"].endswith("hparams.yaml")
    assert run.context.optimizer.lr == 0.07


@pytest.mark.slow
def test_real_hf_training_args_json(tmp_path):
    transformers = pytest.importorskip("transformers")
    args = transformers.TrainingArguments(output_dir=str(tmp_path), learning_rate=3e-4, per_device_train_batch_size=4, report_to=[])
    (tmp_path / "training_args.json").write_text(args.to_json_string())
    _csv(tmp_path / "metrics.csv")
    (run,) = traindx.read(tmp_path)
    hp = run.context.hyperparameters
    assert hp["learning_rate"] == 3e-4 and hp["per_device_train_batch_size"] == 4
    assert run.context.optimizer.lr == 3e-4
    # the context the rules read (traindx/readers/hparams_facts.py): HF's default optim is an AdamW
    assert run.context.data.batch_size == 4 and run.context.optimizer.name == "adamw"
    assert run.context.epochs == 3 and run.context.optimizer.weight_decay == 0.0


def test_the_diagnosis_reports_carry_the_hyperparameters(tmp_path, capsys):
    """``diagnose --json`` has each run's hyperparameters (issues 12/13); the markdown,
    HTML and verbose terminal reports show them."""
    from traindx.cli import main

    run = tmp_path / "sweep" / "lr=0.3,bs=32"
    _csv(run / "metrics.csv", n=30)
    (run / "hparams.yaml").write_text("optimizer: {name: adamw, betas: [0.9, 0.999]}\ntag: 'a|b'\n")
    assert main(["diagnose", str(run), "--json"]) == 0
    (d,) = json.loads(capsys.readouterr().out)["runs"]
    assert d["hyperparameters"] == {"lr": 0.3, "bs": 32, "optimizer.name": "adamw", "optimizer.betas": [0.9, 0.999], "tag": "a|b"}
    assert traindx.diagnose(run)[0].hyperparameters == d["hyperparameters"]  # the API's Diagnosis too

    assert main(["diagnose", str(run), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    (line,) = [x for x in md.splitlines() if x.startswith("hyperparameters: ")]
    assert {"`lr`=0.3", "`bs`=32", "`optimizer.name`=adamw", "`tag`=a\\|b"} <= set(line[17:].split(", "))
    html = tmp_path / "r.html"
    assert main(["diagnose", str(run), "--html", str(html)]) == 0
    assert "<code>optimizer.betas=[0.9, 0.999]</code>" in html.read_text()
    capsys.readouterr()
    assert main(["diagnose", str(run), "-v"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  hyperparameters: ")]
    assert {"lr=0.3", "bs=32", "optimizer.name=adamw", "tag=a|b"} <= set(line[19:].split(", "))
    assert main(["diagnose", str(run)]) == 0
    assert "hyperparameters" not in capsys.readouterr().out  # the short report leaves them to -v
