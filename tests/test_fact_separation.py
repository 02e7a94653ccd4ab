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
    fact, u, na, nb, _ma, _mb, mh, nh = rows[0]
    assert (fact, u, na, nb) == ("loss.max_abs", 1.0, 6, 6)  # the log-invisible run is left out
    assert (mh, nh) == (1.0, 1)
    assert dict((r[0], r[1]) for r in rows)["loss.n"] == 0.5
