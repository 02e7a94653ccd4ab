"""benchmarks/label_audit.py: the corpus label check (fixtures/corpus/label.py) applied to the
Q&A runs' own curves, and the labels it holds them to."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("label_audit", ROOT / "benchmarks" / "label_audit.py")
audit = importlib.util.module_from_spec(spec)
sys.modules["label_audit"] = audit
spec.loader.exec_module(audit)

#: unseen batches written while this check was added are audited once scored (qa_fresh35 and
#: qa_real35 were, on main a925758: no fixed run overfits, stalls or goes non-finite)
UNAUDITED: set[str] = set()


def summ(el, vl, va=None, ta=None):
    return {"nonfinite_steps": 0, "epoch_loss": el, "val_loss": vl, "val_acc": va,
            "loss_first": el[0], "loss_last": el[-1], "train_acc_last": ta,
            "q_first": va[0] if va else None, "q_last": va[-1] if va else None, "q_name": "accuracy"}


def test_a_healthy_run_whose_validation_gives_back_its_gain_overfits():
    el = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02]
    vl = [1.0, 0.7, 0.6, 0.65, 0.75, 0.85, 0.95, 1.0]
    assert audit.healthy_problems(summ(el, vl)) == ["overfits"]
    assert audit.healthy_problems(summ(el, [1.0, 0.7, 0.6, 0.55, 0.5, 0.48, 0.47, 0.46])) == []


def test_a_run_that_never_learns_stalls():
    flat = [1.0, 0.99, 0.98, 0.98, 0.97, 0.97]
    assert "stalls" in audit.healthy_problems(summ(flat, flat, [0.5] * 6))


def test_a_bug_whose_run_is_as_good_as_the_fix_has_no_effect_and_a_worse_one_has():
    el = [1.0, 0.6, 0.4, 0.3, 0.25, 0.2]
    vl = [0.9, 0.6, 0.45, 0.4, 0.38, 0.37]
    fixed = summ(el, vl, [0.5, 0.7, 0.8, 0.85, 0.88, 0.9])
    same = summ(el, vl, [0.5, 0.7, 0.8, 0.85, 0.87, 0.89])
    worse = summ(el, vl, [0.5, 0.6, 0.65, 0.7, 0.72, 0.75])
    assert audit.no_effect(same, fixed)
    assert audit.no_effect(worse, fixed) is None
    stuck = summ([1.0] * 6, [1.0] * 6, [0.9] * 6)
    assert audit.no_effect(stuck, fixed) is None  # a loss that never fell is an effect
    negative = summ([0.5, -1.0, -3.0, -5.0, -7.0, -9.0], vl, [0.5, 0.7, 0.8, 0.85, 0.88, 0.9])
    assert audit.no_effect(negative, fixed) is None  # a loss running negative is one


def test_overfitting_shows_as_a_validation_loss_that_rises_while_training_falls():
    el = [1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02]
    vl = [0.9, 0.5, 0.4, 0.45, 0.5, 0.55, 0.6]
    fixed = summ(el, [0.9, 0.5, 0.4, 0.38, 0.37, 0.36, 0.36], [0.5, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9])
    holds = summ(el, vl, [0.5, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert audit.no_effect(holds, fixed, "overfitting") is None
    assert audit.no_effect(holds, fixed, "lr_too_high")  # not the effect of another cause


def qa_sets():
    return [p for p in audit.qa_sets() if p.parent.name not in UNAUDITED]


@pytest.mark.parametrize("logs", qa_sets(), ids=lambda p: p.parent.name)
def test_no_fixed_qa_run_overfits_stalls_or_goes_nonfinite(logs):
    """A Q&A program's fixed version is labelled healthy: its own curves must not overfit
    (label.py's reading), stall or go non-finite. Five did (fixed and re-recorded)."""
    bad = [r for r in audit.audit_set(logs) if r[1] == "healthy"]
    assert not bad, bad


def test_a_likelihood_loss_beside_an_error_metric_is_the_loss(tmp_path):
    """np.savetxt's '# epoch,train_nll,val_nll,val_mae' (qa_fresh49's ordinal run): the NLL is
    the loss the audit compares (traindx's LOSS_STANDINS), the MAE a metric."""
    import numpy as np

    import traindx

    rows = [[e, 1.0 / e, 1.1 / e, 0.3] for e in range(1, 9)]
    np.savetxt(tmp_path / "history.csv", rows, delimiter=",", header="epoch,train_nll,val_nll,val_mae")
    (run,) = traindx.read(tmp_path)
    s = audit.summary(run)
    assert s["loss_first"] == 1.0 and s["val_loss"][0] == 1.1 and s["val_loss"][-1] == pytest.approx(1.1 / 8)
