"""benchmarks/fact_separation.py: which recorded facts order two causes' runs apart."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from fact_separation import auc, separation, values  # noqa: E402


@dataclass
class FakeRun:
    cause: str
    facts: dict = field(default_factory=dict)
    visible: bool = True
    input_kind: str = "logs"
    benign: bool = False
    writer: str = "csv"
    data: str = "digits"


def test_auc_counts_ties_half():
    assert auc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert auc([0.0], [1.0]) == 0.0
    assert auc([1.0, 1.0], [1.0]) == 0.5


def test_values_keeps_finite_numbers_and_flags_only():
    v = values({"loss": {"max_abs": 30.0, "has_nonfinite": True, "unit": "step", "first": float("nan")}, "run": 3})
    assert v == {"loss.max_abs": 30.0, "loss.has_nonfinite": 1.0}


def test_the_fact_that_splits_the_pair_comes_first():
    grew = [FakeRun("exploding_gradients", {"loss": {"max_abs": 50.0 + i, "n": 10.0 + (i % 2)}}) for i in range(6)]
    flat = [FakeRun("nonfinite_in_data", {"loss": {"max_abs": 2.0 + i / 10, "n": 10.0 + (i % 2)}}) for i in range(6)]
    healthy = [FakeRun("healthy", {"loss": {"max_abs": 1.0, "n": 10.0}})]
    hidden = [FakeRun("nonfinite_in_data", {"loss": {"max_abs": 99.0, "n": 10.0}}, visible=False)]
    rows = separation(grew + flat + healthy + hidden, "exploding_gradients", "nonfinite_in_data")
    fact, u, na, nb, _ma, _mb, mh, nh, _worst, _fields = rows[0]
    assert (fact, u, na, nb) == ("loss.max_abs", 1.0, 6, 6)  # the log-invisible run is left out
    assert (mh, nh) == (1.0, 1)
    assert dict((r[0], r[1]) for r in rows)["loss.n"] == 0.5


def test_a_fact_that_splits_the_pair_only_across_writers_is_weak_within_each():
    """Cause a's runs all from one writer at a high level, b's from another at a low one:
    pooled the fact splits them perfectly; within the writer both share, it orders them
    backwards, and the worst within-field AUC says so."""
    a = [FakeRun("lr_too_low", {"loss": {"drop": 0.5 + i / 100}}, writer="tb") for i in range(6)]
    a += [FakeRun("lr_too_low", {"loss": {"drop": 0.1 + i / 100}}, writer="csv") for i in range(3)]
    b = [FakeRun("dying_relu", {"loss": {"drop": 0.2 + i / 100}}, writer="csv") for i in range(6)]
    rows = separation(a + b, "lr_too_low", "dying_relu")
    fact, u, *_rest, worst, fields = rows[0]
    assert fact == "loss.drop" and u > 0.6
    assert fields == 5  # writer csv (3 and 6 runs); all runs share one value of the 4 other fields; tb has no b run
    assert worst == 0.0  # within csv every a value is below every b value
