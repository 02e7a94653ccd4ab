"""A negative log-likelihood named for its distribution is a loss, and one that may be negative
(issue 10, qa_fresh44): a JAX Poisson regression's JSONL logged ``train_poisson_nll`` /
``val_poisson_nll`` (the NLL without its log(y!) term, which settles at -35.9 when the model
fits) beside ``val_mae``. The names were not read at all; read as a loss, a settled negative
Poisson NLL is no negated objective (LOSS006), while a plain ``nll`` running below zero is still
one (torch's NLLLoss fed raw logits)."""

from __future__ import annotations

import json

import numpy as np

from traindx.api import diagnose, read

EPOCHS = 30


def _jsonl(path, name: str) -> None:
    # falls from 0.6 to about -36 over the first half, then flat (a fitted Poisson NLL)
    t = np.arange(EPOCHS)
    train = np.where(t < 15, 0.6 - 2.4 * t, -35.4 - 0.03 * np.sin(t))
    with path.open("w") as f:
        for e in range(EPOCHS):
            row = {"epoch": e, f"train_{name}": float(train[e]), f"val_{name}": float(train[e] - 0.4), "val_mae": 3.3 + 1.0 / (e + 1)}
            f.write(json.dumps(row) + "\n")


def _codes(path) -> set[str]:
    (d,) = diagnose(path).runs
    return {s.code for s in d.symptoms}


def test_a_distribution_named_nll_is_read_as_the_loss(tmp_path):
    _jsonl(tmp_path / "log.jsonl", "poisson_nll")
    (run,) = read(tmp_path / "log.jsonl")
    assert {"train/nll", "val/nll", "val/mae"} <= set(run.series)
    assert not run.ingest.unmapped


def test_a_settled_negative_poisson_nll_is_no_negated_loss(tmp_path):
    _jsonl(tmp_path / "log.jsonl", "poisson_nll")
    assert "LOSS006" not in _codes(tmp_path / "log.jsonl")


def test_a_plain_nll_below_zero_still_is(tmp_path):
    # NLLLoss on raw logits: the same curve under a name that says no distribution
    _jsonl(tmp_path / "log.jsonl", "nll")
    assert "LOSS006" in _codes(tmp_path / "log.jsonl")
