"""benchmarks/symptom_rates.py: how often each symptom fires on healthy and faulty runs."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from symptom_rates import SMOOTH, rates, render  # noqa: E402

from traindx.rules.loader import load_rulebook  # noqa: E402


@dataclass
class FakeRun:
    cause: str
    facts: dict = field(default_factory=dict)
    visible: bool = True
    input_kind: str = "logs"


def _nan_run(cause: str, **kw) -> FakeRun:
    return FakeRun(cause, {"loss": {"has_nonfinite": True, "nonfinite_step": 3}}, **kw)


def _clean_run(cause: str, **kw) -> FakeRun:
    return FakeRun(cause, {"loss": {"has_nonfinite": False, "nonfinite_step": -1}}, **kw)


def test_counts_and_ratios_of_one_symptom():
    runs = (
        [_nan_run("nonfinite_in_data")] * 3 + [_clean_run("nonfinite_in_data")]
        + [_clean_run("overfitting")] * 4
        + [_nan_run("healthy")] + [_clean_run("healthy")] * 9
        + [_nan_run("overfitting", visible=False)]  # log-invisible: left out
    )  # fmt: skip
    (r,) = rates(load_rulebook(), runs, ["LOSS001"])
    assert r.healthy == (1, 10) and r.faulty == (3, 8)
    assert r.by_cause == {"nonfinite_in_data": (3, 4), "overfitting": (0, 4)}
    p = lambda k, n: (k + SMOOTH) / (n + 2 * SMOOTH)  # noqa: E731
    assert r.lr_vs_healthy == pytest.approx(p(3, 8) / p(1, 10))
    assert r.lr_by_cause()["nonfinite_in_data"] == pytest.approx(p(3, 4) / p(0, 4))
    assert r.lr_by_cause()["overfitting"] < 1.0
    text = render([r])
    assert "LOSS001" in text and "nonfinite_in_data" in text and "1/10" in text


def test_adapter_runs_count_even_when_labelled_log_invisible():
    runs = [_nan_run("nonfinite_in_data", visible=False, input_kind="torch_adapter"), _clean_run("healthy")]
    (r,) = rates(load_rulebook(), runs, ["LOSS001"])
    assert r.faulty == (1, 1) and r.healthy == (0, 1)
