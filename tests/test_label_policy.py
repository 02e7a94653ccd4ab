"""The one label policy (fixtures/corpus/label.py ``policy``/``overfits``) and how the accuracy
benchmark scores its three classes: faulty, healthy, and benign (a fault present that did not
hurt: "healthy" and the injected cause are both right, another cause is a false alarm)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy import Outcome, fittable, summarize  # noqa: E402
from labelled import Labelled, map_label  # noqa: E402

_spec = importlib.util.spec_from_file_location("corpus_label", ROOT / "fixtures" / "corpus" / "label.py")
label = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(label)


def summary(el, vl, va=None, ta=None) -> dict:
    return {"task": "multiclass", "epoch_loss": list(el), "val_loss": list(vl),
            "val_acc": None if va is None else list(va), "train_acc_last": ta, "nonfinite_steps": 0}


def lab(cause="healthy", s=None, **kw) -> dict:
    return {"cause": cause, "log_visible": True, "summary": s or summary([1, 0.5, 0.3, 0.2], [1, 0.6, 0.4, 0.3]),
            "spec": {}, **kw}


def test_a_classic_overfit_is_overfitting():
    el = 2.0 * 0.8 ** np.arange(20)
    vl = np.r_[2.0 * 0.8 ** np.arange(6), 2.0 * 0.8**5 + 0.08 * np.arange(1, 15)]
    assert label.overfits(summary(el, vl))


def test_validation_noise_around_a_flat_level_is_not():
    # a healthy corpus run (torch_6_00313) the older ">= 1.1x its minimum" called overfitting:
    # the validation loss dropped fast, then wandered around its level (gave back 2 % of its gain)
    el = np.array([0.69, 0.429, 0.233, 0.14, 0.135, 0.155, 0.092, 0.117, 0.113, 0.126, 0.16, 0.126,
                   0.116, 0.104, 0.104, 0.112, 0.082])
    vl = np.array([0.601, 0.295, 0.117, 0.08, 0.068, 0.066, 0.058, 0.06, 0.067, 0.07, 0.065, 0.068,
                   0.064, 0.066, 0.067, 0.069, 0.069])
    assert not label.overfits(summary(el, vl))
    old = vl[-1] >= 1.1 * vl.min() and int(np.argmin(vl)) <= len(vl) - 3 and el[-1] < el[int(np.argmin(vl))]
    assert old  # the case the older criterion got wrong


def test_rising_val_loss_while_val_accuracy_still_improves_is_not():
    el = 2.0 * 0.8 ** np.arange(12)
    vl = [2.0, 1.2, 0.8, 0.6, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9, 2.1, 2.3]
    va = [0.3, 0.5, 0.6, 0.7, 0.72, 0.74, 0.76, 0.78, 0.8, 0.82, 0.84, 0.86]
    assert label.overfits(summary(el, vl))
    assert not label.overfits(summary(el, vl, va))


def _rise():
    el = 2.0 * 0.8 ** np.arange(16)
    vl = [2.0, 1.2, 0.8, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8]
    return el, vl


def test_rising_val_loss_while_val_accuracy_holds_its_best_is_not():
    # over-confidence, not a generalization gap: the Q&A fixed versions' reading (policy19)
    el, vl = _rise()
    holds = [0.5, 0.7, 0.8, 0.9] + [0.9] * 12
    assert label.overfits(summary(el, vl))  # no quality metric logged: the loss rule alone
    assert not label.overfits(summary(el, vl, holds))
    assert label.policy(lab("overfitting", s=summary(el, vl, holds))) == ("overfitting", True)  # benign
    assert label.policy(lab(s=summary(el, vl, holds))) == ("healthy", False)


def test_rising_val_loss_while_val_accuracy_falls_is():
    el, vl = _rise()
    falls = [0.5, 0.7, 0.8, 0.9, 0.89, 0.88, 0.87, 0.86, 0.85, 0.84, 0.83, 0.82, 0.81, 0.8, 0.8, 0.8]
    assert label.overfits(summary(el, vl, falls))


def test_a_dip_within_the_metrics_own_noise_is_not_a_fall():
    # accuracy flickering by +-0.04 around 0.85 ends 0.03 under its best: noise, not a fall
    el, vl = _rise()
    noisy = [0.5, 0.7, 0.8, 0.85, 0.89, 0.81, 0.88, 0.82, 0.89, 0.81, 0.87, 0.82, 0.86, 0.83, 0.86, 0.84]
    assert not label.quality_fell(noisy, 3)
    assert label.quality_fell([*noisy[:-3], 0.7, 0.7, 0.7], 3)  # a fall well beyond it


def test_a_memorized_training_set_is_overfitting_without_a_rise():
    el = 2.0 * 0.5 ** np.arange(10)
    vl = [2.0, 1.5, 1.3, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2]
    assert label.overfits(summary(el, vl, [0.5] * 10, ta=1.0))
    assert not label.overfits(summary(el, vl, [0.9] * 10, ta=1.0))


def test_policy_classes():
    ovf = summary(2.0 * 0.8 ** np.arange(20), np.r_[2.0 * 0.8 ** np.arange(6), 0.66 + 0.08 * np.arange(1, 15)])
    assert label.policy(lab()) == ("healthy", False)
    assert label.policy(lab(s=ovf)) == ("overfitting", False)  # a healthy run that overfits
    assert label.policy(lab(injected="lr_too_low")) == ("lr_too_low", True)  # trained fine anyway
    assert label.policy(lab("dying_relu", log_visible=False)) == ("dying_relu", True)  # adapter-only
    assert label.policy(lab("overfitting")) == ("overfitting", True)  # injected, did not overfit
    assert label.policy(lab("overfitting", s=ovf)) == ("overfitting", False)
    assert label.policy(lab("lr_too_high")) == ("lr_too_high", False)  # kept: it degraded
    # authors' labels (no summary/spec: fixtures/logs, the Q&A programs) are kept as written
    assert label.policy({"cause": "healthy", "injected": "x"}) == ("healthy", False)
    assert label.policy({"cause": "overfitting"}) == ("overfitting", False)


def test_map_label_carries_the_policy():
    m = map_label(lab(injected="batch_size_bad", writer="monitor", input_kind="torch_adapter"), Path("a/b"))
    assert m["cause"] == "batch_size_bad" and m["benign"]


def _out(cause, *, benign=False, alarmed=False, ranked=(), said=None) -> Outcome:
    return Outcome(run=f"r{np.random.default_rng().integers(1 << 30)}", writer="w", cause=cause, visible=True,
                   healthy_said=(not alarmed) if said is None else said, ranked=list(ranked), p_true=0.0,
                   input_kind="torch_adapter", alarmed=alarmed, benign=benign,
                   confidence=0.5 if ranked else 0.0)


def test_benign_runs_are_scored_apart():
    outs = [
        _out("healthy"), _out("healthy", alarmed=True, ranked=["lr_too_high"]),
        _out("lr_too_low", alarmed=True, ranked=["lr_too_low"]),
        _out("lr_too_low", benign=True),  # said healthy: right
        _out("lr_too_low", benign=True, alarmed=True, ranked=["lr_too_low", "x"]),  # named: right
        _out("lr_too_low", benign=True, alarmed=True, ranked=["dying_relu"]),  # another cause: FA
    ]
    s = summarize(outs)
    assert (s["faulty"], s["healthy"], s["benign"]) == (1, 2, 3)
    assert s["false_alarm_rate"] == 0.5 and s["top1"] == 1.0
    assert s["benign_alarm_rate"] == pytest.approx(2 / 3)
    assert s["benign_right"] == pytest.approx(2 / 3) and s["benign_false_alarm"] == pytest.approx(1 / 3)
    assert not any(o.scored for o in outs if o.benign)


def test_nothing_is_fitted_on_benign_runs():
    mk = {"visible": True, "input_kind": "logs", "framework": "t", "writer": "w", "data": "d", "model": "m",
          "style": "s", "scenario": "x"}
    runs = [Labelled(path="a", cause="healthy", **mk), Labelled(path="b", cause="lr_too_low", benign=True, **mk)]
    assert fittable(runs).tolist() == [True, False]
    from fit_ranker import trainable

    assert trainable(runs).tolist() == [True, False]


def test_on_the_corpus_the_classes_are_what_the_policy_says():
    import json

    from labelled import discover

    labels = [json.loads((d / "label.json").read_text()) for d in discover([ROOT / "fixtures" / "corpus"])]
    got = [(lb, *label.policy(lb)) for lb in labels]
    healthy = [lb for lb, c, b in got if lb["cause"] == "healthy" and "injected" not in lb]
    # noise on healthy runs seldom reaches the overfitting criterion (4 of 416 when written)
    assert len(healthy) > 300 and sum(label.overfits(lb["summary"]) for lb in healthy) <= 0.02 * len(healthy)
    # every relabelled run is benign (or overfits), never a plain healthy one
    assert all(b or c == "overfitting" for lb, c, b in got if "injected" in lb)
    assert all(c == lb["injected"] for lb, c, b in got if "injected" in lb and b)
    # a faulty overfitting label is one whose curves overfit
    assert all(label.overfits(lb["summary"]) for lb, c, b in got if c == "overfitting" and not b)


def test_an_injected_form_is_labelled_by_what_its_code_is():
    saturated = {**summary([15.0, 15.2, 15.1, 15.3], [15.0, 15.1, 15.1, 15.2]), "loss_first": 15.0, "loss_max": 16.1}
    blown = {**saturated, "nonfinite_steps": 230}
    risen = {**saturated, "loss_max": 400.0}
    big_init = {"form": "deep_large_init", "framework": "keras-jax"}
    # a large init that saturated the net without any gradient growing is the init's scale
    assert label.policy(lab("exploding_gradients", s=saturated, **big_init)) == ("bad_weight_init", False)
    assert label.policy(lab("exploding_gradients", s=saturated, form="rnn_relu_gain")) == ("bad_weight_init", False)
    # one whose loss went non-finite or rose 10x exploded: its label stands
    assert label.policy(lab("exploding_gradients", s=blown, **big_init)) == ("exploding_gradients", False)
    assert label.policy(lab("exploding_gradients", s=risen, **big_init)) == ("exploding_gradients", False)
    # Keras' stand-in for "the optimizer holds the wrong parameters" freezes the whole model
    frozen = {"form": "wrong_params", "framework": "keras-torch"}
    assert label.policy(lab("updates_not_applied", **frozen)) == ("gradients_not_flowing", False)
    assert label.policy(lab("updates_not_applied", form="wrong_params", framework="torch")) == ("updates_not_applied", False)
    # authors' labels (no summary/spec) are never relabelled
    assert label.policy({"cause": "exploding_gradients", "form": "deep_large_init"}) == ("exploding_gradients", False)
