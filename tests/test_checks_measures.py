"""Framework-neutral preflight measures (traindx.checks.measures) and the check plumbing."""

from __future__ import annotations

import math

import numpy as np

from traindx.checks import Skip, check_facts, diagnose_checks, run_check
from traindx.checks import measures as M
from traindx.report.text import render_text
from traindx.schema import RunContext


def test_chance_loss_is_the_prior_entropy_and_the_target_variance():
    assert math.isclose(M.chance_loss(np.arange(10).repeat(5), "classification"), math.log(10))
    skewed = np.array([0] * 90 + [1] * 10)
    assert math.isclose(M.chance_loss(skewed, "classification"), -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)))
    y = np.random.default_rng(0).normal(3.0, 2.0, size=(500, 1))
    assert math.isclose(M.chance_loss(y, "regression"), float(y.var()))


def test_overfit_modes():
    assert M.overfit([2.3 * 0.9**i for i in range(60)])[0]["mode"] == "fits"
    assert M.overfit([2.3, 2.2, 2.25, 2.2] * 10)[0]["mode"] == "stalls"
    assert M.overfit([2.3 + 0.2 * i for i in range(30)])[0]["mode"] == "rises"
    f, _ = M.overfit([2.3, 5.0, float("nan")])
    assert f["mode"] == "nonfinite" and f["nonfinite_step"] == 2
    assert M.overfit([-2.3 - i for i in range(10)])[0]["mode"] == "negative"


def test_batch_mixing_and_activation_inference():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(8, 5))
    b = a.copy()
    b[0] += 1
    assert M.batch_mixing(a, b, [0])[0]["max_dev"] == 0.0
    sm0 = np.exp(a) / np.exp(a).sum(0)
    b0 = a.copy()
    b0[0] += 1
    sm0b = np.exp(b0) / np.exp(b0).sum(0)
    assert M.batch_mixing(sm0, sm0b, [0])[0]["max_dev"] > 0.01
    assert M.infer_activation(sm0) == "softmax_batch"
    assert M.infer_activation(np.exp(a) / np.exp(a).sum(1, keepdims=True)) == "softmax"
    assert M.infer_activation(np.maximum(a, 0)) == "relu"
    assert M.infer_activation(a) == "linear"


def test_suggest_lr_is_a_tenth_of_the_blowup():
    lrs = np.exp(np.linspace(math.log(1e-6), math.log(10), 60))
    loss = np.where(lrs < 0.1, 2.3 - 1.5 / (1 + np.exp(-4 * (np.log10(lrs) + 3))), 2.3 * (lrs / 0.1) ** 2 + 0.8)
    sug, blow, steep = M.suggest_lr(lrs, loss)
    assert blow is not None and 0.1 < blow < 2.0
    assert sug is not None and sug <= blow / 10 * 1.0001
    assert M.suggest_lr(lrs, 2.3 + lrs) == (None, None, None)  # never fell: nothing to suggest


def test_data_checks_find_nonfinite_scale_imbalance_and_shared_rows():
    x = np.random.default_rng(1).normal(size=(200, 4)).astype(np.float32)
    y = np.array([0] * 190 + [1] * 10)
    f, _ = M.data(x, y, "classification", xv=np.concatenate([x[:20], x[:20] + 10]))
    assert f["nonfinite"] == 0 and f["majority_share"] == 0.95 and f["val_shared_frac"] == 0.5
    x[3, 1] = np.nan
    f, _ = M.data(x * 255, y, "classification")
    assert f["nonfinite"] == 1 and f["std_max"] > 100


def test_a_check_that_raises_or_skips_is_skipped_never_passed():
    def boom():
        raise ValueError("bad shape (3, 4)")

    def skip():
        raise Skip("no labels")

    r1, r2 = run_check("a", boom), run_check("b", skip)
    assert r1.status == r2.status == "skipped"
    assert "ValueError: bad shape" in r1.explanation and r2.explanation == "skipped: no labels"
    assert check_facts([r1, r2]) == {"n_run": 0, "n_skipped": 2}


def test_checks_alone_give_a_diagnosis_with_failed_checks_named():
    ok = run_check("overfit", lambda: M.overfit([2.3 * 0.9**i for i in range(60)]))
    bad = run_check("batch", lambda: ({"max_dev": 0.4, "rows_changed": 1.0}, "mixing"))
    d = diagnose_checks([ok, bad], RunContext(framework="torch"))
    assert d.causes[0].id == "softmax_wrong_axis"
    st = {c.name: c.status for c in d.checks}
    assert st == {"overfit": "passed", "batch": "failed"}
    assert "CHK009" in next(c for c in d.checks if c.name == "batch").explanation
    d = diagnose_checks([ok], RunContext(framework="torch"))
    assert d.healthy and d.verdict == "healthy"


def test_terminal_report_lists_failed_and_skipped_checks():
    ok = run_check("overfit", lambda: M.overfit([2.3 * 0.9**i for i in range(60)]))
    bad = run_check("batch", lambda: ({"max_dev": 0.4, "rows_changed": 1.0}, "mixing"))

    def skip():
        raise Skip("no labels")

    text = render_text(diagnose_checks([ok, bad, run_check("dummy", skip)], RunContext(framework="torch")))
    assert "preflight checks: 1 passed, 1 failed, 1 skipped" in text
    assert "failed  batch: CHK009" in text and "skipped dummy: skipped: no labels" in text
    assert "overfit: one batch" not in text  # passed checks only with verbose


def test_infer_loss_names_the_standard_loss_an_opaque_value_matches():
    rng = np.random.default_rng(0)
    o = rng.normal(size=(32, 5))
    y = rng.integers(0, 5, 32)
    lse = np.log(np.exp(o).sum(1))
    ce_logits = float(np.mean(lse - o[np.arange(32), y]))
    assert M.infer_loss(o, y, ce_logits) == ("logits", "classification")
    p = np.exp(o - lse[:, None])
    assert M.infer_loss(p, y, float(-np.mean(np.log(p[np.arange(32), y])))) == ("probabilities", "classification")
    hot = np.eye(5)[y]
    assert M.infer_loss(o, y, float(np.mean((o - hot) ** 2))) == ("values", "regression")
    assert M.infer_loss(o, hot, ce_logits) == ("logits", "classification")  # one-hot targets
    b = rng.normal(size=(32, 1))
    t = rng.integers(0, 2, (32, 1)).astype(float)
    assert M.infer_loss(b, t, float(np.mean(np.logaddexp(0, b) - b * t))) == ("logits", "binary")
    assert M.infer_loss(o, y, ce_logits + 0.3) == (None, None)  # a regularization term: no claim
    assert M.infer_loss(o, y, float("nan")) == (None, None)


def test_input_normalization_fact_silences_large_scale_only_when_the_model_normalizes():
    facts, line = M.data(np.array([[1000.0, 2.0], [3000.0, 1.0], [2000.0, 5.0]]), None, None)
    on, line_on = M.input_normalization(facts, line, "BatchNormalization", True)
    off, _ = M.input_normalization(facts, line, "Dense", False)
    assert on["normalized_in_model"] is True and "BatchNormalization" in line_on
    assert off["normalized_in_model"] is False and facts.get("normalized_in_model") is None


def test_a_check_keeps_its_curves_and_preflight_json_round_trips_them(tmp_path):
    from traindx.checks import load, save

    r = run_check("lr", lambda: ({"configured": 1e-3}, "sweep", {"lrs": [1e-4, 1e-3, 1e-2], "losses": [2.3, 1.9, float("nan")]}))
    assert r.series == {"lrs": [1e-4, 1e-3, 1e-2], "losses": [2.3, 1.9, None]}  # non-finite kept as a gap
    save(tmp_path, [r], RunContext())
    (back,) = load(tmp_path / "preflight.json").checks
    assert back.series == r.series and back.facts == {"configured": 1e-3}
