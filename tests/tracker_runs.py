"""Real MLflow stores and W&B offline runs for the reader tests, written by mlflow and
wandb themselves in a child process.

A softmax regression (numpy) trains on scikit-learn's digits and logs its loss, validation
loss and accuracy with its hyperparameters: ``healthy`` (lr 0.5) and ``lr-2`` (lr 2.0).
MLflow: a run that logged params only, a deleted run and two runs of one name come too;
the file store needs ``MLFLOW_ALLOW_FILE_STORE=true`` (MLflow 3 keeps it in maintenance).
W&B: offline runs (``WANDB_MODE=offline``), each also logging a histogram (not a number).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

_TRAIN = textwrap.dedent(
    """
    import sys, warnings
    import numpy as np
    from sklearn.datasets import load_digits

    warnings.filterwarnings("ignore")
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    tr, va = slice(0, 1400), slice(1400, None)

    def train(lr, steps=40):
        rng = np.random.default_rng(0)
        w = rng.normal(0, 0.01, (64, 10))
        for step in range(steps):
            with np.errstate(all="ignore"):
                z = x @ w
                z = z - z.max(1, keepdims=True)
                p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
                loss = -np.log(p[tr][np.arange(1400), y[tr]] + 1e-12).mean()
                vl = -np.log(p[va][np.arange(len(y) - 1400), y[va]] + 1e-12).mean()
                g = p[tr].copy()
                g[np.arange(1400), y[tr]] -= 1
                w = w - lr * x[tr].T @ g / 1400
            acc = float((p[va].argmax(1) == y[va]).mean())
            yield step, {"loss": float(loss), "val_loss": float(vl), "val_accuracy": acc}
    """
)

_MLFLOW = _TRAIN + textwrap.dedent(
    """
    import mlflow

    mlflow.set_tracking_uri(sys.argv[1])
    mlflow.set_experiment("digits")
    for name, lr in (("healthy", 0.5), ("lr-2", 2.0)):
        with mlflow.start_run(run_name=name):
            mlflow.log_params({"lr": lr, "batch_size": 1400, "optimizer": "sgd"})
            for step, metrics in train(lr):
                mlflow.log_metrics(metrics, step=step)
    with mlflow.start_run(run_name="params-only"):
        mlflow.log_param("lr", 0.1)
    with mlflow.start_run(run_name="deleted") as r:
        mlflow.log_metric("loss", 1.0, step=0)
    mlflow.delete_run(r.info.run_id)
    mlflow.set_experiment("other")
    for _ in range(2):  # two runs of one name
        with mlflow.start_run(run_name="twin"):
            mlflow.log_metrics({"loss": 1.0, "val_loss": 1.1}, step=0)
            mlflow.log_metrics({"loss": 0.5, "val_loss": 0.6}, step=1)
    """
)


_WANDB = _TRAIN + textwrap.dedent(
    """
    import wandb

    for name, lr in (("healthy", 0.5), ("lr-2", 2.0)):
        run = wandb.init(project="digits", name=name, config={"lr": lr, "batch_size": 1400, "optimizer": {"name": "sgd", "momentum": 0.0}})
        for step, metrics in train(lr):
            run.log({**metrics, "weights": wandb.Histogram(np.arange(10.0))} if step == 0 else metrics, step=step)
        run.finish()
    """
)


def _run(program: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **env}
    done = subprocess.run([sys.executable, "-c", program, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"the tracker could not write its runs:\n{done.stderr[-3000:]}")


def make_store(uri: str, cwd: Path) -> None:
    """Write the runs above to the MLflow store at ``uri`` (``file:...`` or ``sqlite:///...``)."""
    _run(_MLFLOW, [uri], cwd, {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_TRACKING_URI": uri})


def make_wandb_runs(d: Path) -> Path:
    """Two W&B offline runs under ``d/wandb``; returns that folder."""
    _run(_WANDB, [], d, {"WANDB_MODE": "offline", "WANDB_DIR": str(d), "WANDB_SILENT": "true"})
    return d / "wandb"
