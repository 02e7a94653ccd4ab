"""Real MLflow stores for the reader tests, written by mlflow itself in a child process.

A softmax regression (numpy) trains on scikit-learn's digits and logs its loss, validation
loss and accuracy to MLflow with its params: ``healthy`` (lr 0.5) and ``lr-2`` (lr 2.0);
a run that logged params only, a deleted run and two runs of one name come too.
The file store needs ``MLFLOW_ALLOW_FILE_STORE=true`` (MLflow 3 keeps it in maintenance).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

_PROGRAM = textwrap.dedent(
    """
    import sys, warnings
    import numpy as np
    import mlflow
    from sklearn.datasets import load_digits

    warnings.filterwarnings("ignore")
    mlflow.set_tracking_uri(sys.argv[1])
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


def make_store(uri: str, cwd: Path) -> None:
    """Write the runs above to the MLflow store at ``uri`` (``file:...`` or ``sqlite:///...``)."""
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_TRACKING_URI": uri, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, uri], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode:
        raise RuntimeError(f"mlflow could not write the store:\n{done.stderr[-3000:]}")
