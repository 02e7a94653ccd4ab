"""Diagnosis of the committed fixture runs (real training runs with injected faults).

The floors sit just under the measured values (`python benchmarks/accuracy.py`), so a
regression in readers, signals or rules fails here. Only logs are read: no framework needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy import evaluate, summarize  # noqa: E402

LOG_ONLY = ("torch_tb", "tbx", "keras")
#: (top-1, top-3) floors per writer, a few points under `python benchmarks/accuracy.py`.
FLOORS = {
    "log_only": (0.32, 0.50),  # measured 34.9 % / 54.0 %
    "torch_mon": (0.80, 0.90),  # 82.8 % / 93.1 %
    "keras_cb": (0.88, 0.88),  # 92.3 % / 92.3 %
    "jax_rec": (0.92, 0.96),  # 95.8 % / 100 %
}


@pytest.fixture(scope="module")
def every_outcome():
    return evaluate(ROOT / "fixtures" / "logs")


@pytest.fixture(scope="module")
def outcomes(every_outcome):
    return [o for o in every_outcome if o.writer in LOG_ONLY]


@pytest.mark.parametrize("cause", ["lr_too_high", "loss_sign_flipped", "overfitting"])
def test_headline_causes_rank_first_in_every_writer(outcomes, cause):
    runs = [o for o in outcomes if o.cause == cause]
    assert {o.writer for o in runs} >= {"torch_tb", "keras"}, "fixtures missing"
    # overfitting on a tiny training set may rank second behind insufficient_data (the learned
    # layer's reading of the same run: the fix, more data, is the same)
    second = {"overfitting": "insufficient_data"}.get(cause)
    wrong = [(o.run, o.ranked[:3]) for o in runs if o.rank != 1 and not (o.rank == 2 and o.ranked[0] == second)]
    assert not wrong, f"{cause} not ranked first: {wrong}"


def test_healthy_runs_are_reported_healthy(outcomes):
    healthy = [o for o in outcomes if o.cause == "healthy"]
    assert len(healthy) >= 10
    alarms = [(o.run, o.ranked[:2]) for o in healthy if not o.healthy_said]
    assert not alarms, f"false alarms: {alarms}"


def test_log_only_accuracy_floors(outcomes):
    s = summarize(outcomes)
    assert s["false_alarm_rate"] == 0.0
    assert s["top1"] >= FLOORS["log_only"][0], s
    assert s["top3"] >= FLOORS["log_only"][1], s


@pytest.mark.parametrize("writer", ["torch_mon", "keras_cb", "jax_rec"])
def test_adapter_accuracy_floors(every_outcome, writer):
    runs = [o for o in every_outcome if o.writer == writer]
    assert len(runs) >= 20, f"{writer} fixtures missing"
    s = summarize(runs)
    assert s["false_alarm_rate"] == 0.0, [(o.run, o.ranked[:2]) for o in runs if o.cause == "healthy" and not o.healthy_said]
    assert s["top1"] >= FLOORS[writer][0], s
    assert s["top3"] >= FLOORS[writer][1], s
