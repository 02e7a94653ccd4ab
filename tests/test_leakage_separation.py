"""benchmarks/leakage_separation.py: the log-only leakage patterns and the table that says
whether any could be a warning (healthy share <= 1 %)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import leakage_separation as ls  # noqa: E402


def _facts(vb: float, rf: float, rl: float, drop: float, n: int = 30, **series: float) -> dict:
    return {"gap": {"val_below_frac": vb, "ratio_first": rf, "ratio_last": rl},
            "loss": {"drop": drop}, "val_loss": {"n_finite": n, "last": 0.07}, "series": series}  # fmt: skip


def test_signs_leak_like_curves_fire_and_an_opening_gap_does_not():
    leak = ls.signs(_facts(0.975, 0.96, 1.005, 0.97, below_all=1.0, ratio_tau=-0.2, dcorr=0.99))
    assert leak["val below train >=90% of evals, train fits"]
    assert leak["val within 5% of train at end, train down 90%"]
    assert leak["series:   + ratio tau <= 0 (no gap opens)"]
    opening = ls.signs(_facts(0.125, 0.965, 2.94, 0.97, below_all=0.1, ratio_tau=0.9, dcorr=0.99))
    assert not any(opening.values())


def test_signs_missing_facts_are_false():
    assert not any(ls.signs({}).values())


def test_tracking_validation_on_training_rows_against_a_held_out_split():
    steps = np.arange(1, 401, dtype=float)
    def curve(s: np.ndarray) -> np.ndarray:
        return 0.1 + 2.2 * np.exp(-s / 80.0)

    train = curve(steps)  # per step; evaluations every 20 steps
    ev = np.arange(20, 401, 20, dtype=float)
    leak = ls.tracking(steps, train, ev, curve(ev))  # the end-of-epoch training loss
    assert leak["below_all"] == 1.0 and leak["dcorr"] > 0.9
    held = ls.tracking(steps, train, ev, curve(ev) + 0.01 * ev / 20.0)  # a gap opens
    assert held["below_all"] < 0.5
    # the epoch average's lag shrinks as training flattens: even a leaking ratio rises toward 1
    assert leak["ratio_tau"] > 0.5
    assert ls.tracking(steps, train, ev[:3], train[:3]) == {}


def test_table_calls_a_pattern_a_warning_only_under_the_healthy_share():
    rows = [("healthy", {"a": i < 1, "b": i < 5}) for i in range(100)]
    rows += [("data_leakage", {"a": True, "b": True}) for _ in range(10)]
    out = {name: (hit, n, ok) for name, hit, n, ok in ls.table(rows)}
    assert out["a"][2] and not out["b"][2]  # 1 % of healthy runs is allowed, 5 % is not
    assert out["b"][0]["healthy"] == 5 and out["b"][1]["data_leakage"] == 10
