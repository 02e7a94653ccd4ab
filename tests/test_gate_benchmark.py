"""benchmarks/gate.py's two measures: the AUC of a score of "healthy" and the threshold it
picks at a false-alarm budget."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


def test_auc_is_the_rank_statistic_and_counts_ties_half():
    import gate
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    healthy = rng.uniform(size=300) < 0.4
    score = rng.normal(size=300) + healthy
    assert abs(gate.auc(score, healthy) - roc_auc_score(healthy, score)) < 1e-12
    assert gate.auc(np.ones(10), np.arange(10) < 5) == 0.5  # a constant score tells nothing
    assert np.isnan(gate.auc(score[:5], np.ones(5, bool)))


def test_threshold_keeps_false_alarms_within_the_budget():
    import gate

    rng = np.random.default_rng(1)
    s = rng.normal(size=200)
    for budget in (0.0, 0.03, 0.1, 0.5):
        t = gate._threshold(s, np.ones(200, bool), budget)
        flagged = (s < t).mean()
        assert flagged <= budget + 1e-12 and flagged > budget - 1 / 200 - 1e-12
