"""The learned ranking layer: the exported model's numpy inference equals scikit-learn's,
model files are validated with errors naming the file, and the engine can switch it off."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from traindx.errors import RulebookError
from traindx.learned import FORMAT, from_json, load_model, raw_feature, rule_logp
from traindx.rules.loader import builtin_dir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def _sample():
    from sklearn.datasets import make_classification

    X, yi = make_classification(n_samples=240, n_features=8, n_informative=5, n_classes=4, random_state=0)
    X[::7, 2] = np.nan  # missing facts are imputed at the training mean
    y = np.array(["healthy", "lr_too_high", "lr_too_low", "overfitting"])[yi]
    return X, y, [f"loss.k{i}" for i in range(8)]


def test_numpy_inference_equals_sklearn_predict_proba():
    from ranker import _lr, fit, standardized

    X, y, names = _sample()
    m = fit(X, y, names, kind="logs", C=0.5, inner=0)
    Z = standardized(m, X, names)
    ref = _lr(Z, y, 0.5)  # the same fit, done again by scikit-learn on the same matrix
    assert list(ref.classes_) == m.classes
    np.testing.assert_allclose(m.predict_proba(Z), ref.predict_proba(Z), atol=1e-6)
    # the JSON round trip changes nothing
    back = from_json(json.loads(json.dumps(m.to_json())))
    np.testing.assert_allclose(back.predict_proba(Z), m.predict_proba(Z), rtol=0, atol=1e-12)


def test_temperature_and_threshold_come_from_held_out_scores():
    from ranker import fit

    X, y, names = _sample()
    m = fit(X, y, names, kind="logs", C=0.5, inner=3, fa_cost=4.0)
    assert 0.3 <= m.temperature <= 10.0
    assert 0.0 <= m.healthy_threshold <= 1.0


def test_contributions_explain_the_score_difference():
    from ranker import fit, standardized

    X, y, names = _sample()
    m = fit(X, y, names, kind="logs", C=0.5, inner=0)
    z = standardized(m, X[:1], names)[0]
    s = m.scores(z)[0]
    a, b = m.classes.index("lr_too_high"), m.classes.index("healthy")
    total = sum(w for _, w in m.contributions(z, "lr_too_high", against="healthy"))
    assert total + m.intercept[a] - m.intercept[b] == pytest.approx(s[a] - s[b])


def test_features_are_read_from_facts():
    facts = {"loss": {"tau": -0.5, "explode_step": 12}, "ctx": {"output_activation": "Softmax"}}
    rules = rule_logp({"lr_too_high": 2.0, "lr_too_low": 0.0}, 0.03)
    assert rules["lr_too_high"] > rules["lr_too_low"]
    assert raw_feature("loss.tau", facts, rules, set()) == pytest.approx(-np.log1p(0.5))
    assert raw_feature("loss.explode_step>=0", facts, rules, set()) == 1.0
    assert raw_feature("ctx.output_activation==softmax", facts, rules, set()) == 1.0
    assert raw_feature("val_loss.tau", facts, rules, set()) is None
    assert raw_feature("has:val_loss", facts, rules, set()) == 0.0
    assert raw_feature("rule:dying_relu", facts, rules, set()) < rules["lr_too_low"]
    assert raw_feature("sym:LOSS001", facts, rules, {"LOSS001"}) == 1.0


def test_a_scale_fact_spanning_decades_is_read_on_a_log_scale():
    """An LR of 1e-6 and one of 1e-3 differ by 3 on the log10 scale, by ~0.001 on the
    sign-log one; a fact at or below 0 has no logarithm and is missing."""
    tiny, usual = {"lr": {"max": 1e-6}}, {"lr": {"max": 1e-3}}
    assert raw_feature("log10:lr.max", usual, {}, set()) - raw_feature("log10:lr.max", tiny, {}, set()) == pytest.approx(3.0)
    assert raw_feature("lr.max", usual, {}, set()) - raw_feature("lr.max", tiny, {}, set()) < 0.01
    assert raw_feature("log10:lr.max", {"lr": {"max": 0.0}}, {}, set()) is None
    assert raw_feature("log10:loss.min", {"loss": {"min": -0.5}}, {}, set()) is None
    assert raw_feature("log10:lr.max", {}, {}, set()) is None


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "logs.json"
    p.write_text(text)
    return p


def test_corrupt_model_file_is_one_clear_error_naming_it(tmp_path):
    _write(tmp_path, "{not json")
    with pytest.raises(RulebookError) as e:
        load_model(tmp_path, "logs")
    msg = str(e.value)
    assert "logs.json" in msg and "cannot read JSON" in msg and "\n" not in msg


def test_model_file_with_wrong_shapes_is_refused(tmp_path):
    data = {
        "format": FORMAT, "kind": "logs", "catalogue": FORMAT, "classes": ["healthy", "x"],
        "features": ["loss.tau"], "mean": [0.0], "scale": [1.0], "coef": [[1.0, 2.0]],
        "intercept": [0.0, 0.0], "temperature": 1.0, "healthy_threshold": 0.5,
    }  # fmt: skip
    _write(tmp_path, json.dumps(data))
    with pytest.raises(RulebookError, match=r"logs\.json.*shapes"):
        load_model(tmp_path, "logs")
    data["coef"] = [[1.0], [2.0]]
    data["format"] = "something-else/9"
    p2 = tmp_path / "b"
    p2.mkdir()
    (p2 / "logs.json").write_text(json.dumps(data))
    with pytest.raises(RulebookError, match="format"):
        load_model(p2, "logs")


def test_missing_model_file_means_no_layer(tmp_path):
    assert load_model(tmp_path, "jax_adapter") is None


def test_shipped_model_files_validate():
    d = builtin_dir() / "learned"
    for p in sorted(d.glob("*.json")):
        m = load_model(d, p.stem)
        assert m is not None and m.kind == p.stem and "healthy" in m.classes
        assert not any(f.startswith(("run.steps", "run.n_series")) or f.endswith("_step") for f in m.features)


def test_rules_offset_matches_between_fitter_and_runtime():
    from ranker import fit, model_proba, offset_rows, standardized

    X, y, names = _sample()
    rng = np.random.default_rng(1)
    causes = ["lr_too_high", "lr_too_low", "overfitting"]
    names = names + ["alarm"] + [f"rule:{c}" for c in causes]
    rules_rows = []
    extra = np.full((len(X), 1 + len(causes)), np.nan)
    for r in range(len(X)):
        cand = {c: float(rng.normal()) for c in causes if rng.random() < 0.6} if r % 3 else {}
        rules = rule_logp(cand, 0.03)
        rules_rows.append(rules)
        extra[r] = [raw_feature(n, {}, rules, set()) for n in names[8:]]
    X = np.hstack([X, extra])
    m = fit(X, y, names, kind="logs", C=0.5, inner=0, offset=True)
    assert m.offset_weight > 0 and not any(f.startswith("rule:") for f in m.features)
    offs = offset_rows(X, names, m.classes)
    for r in (0, 1, 2, 5):
        np.testing.assert_allclose(offs[r], m.offsets(rules_rows[r]), atol=1e-12)
    z = standardized(m, X, names)
    runtime = np.vstack([m.predict_proba(z[r], m.offsets(rules_rows[r])) for r in range(len(X))])
    np.testing.assert_allclose(runtime, model_proba(m, X, names), atol=1e-12)


FIXTURE = ROOT / "fixtures" / "logs" / "tbx" / "wrong_loss_function_mlp_mse_softmax"
#: a run the rules rank its true cause third on and the layer first (the wrong-loss fixture's
#: true cause is first by the rules alone since ACC007, the cross-entropy accuracy bound)
MOVED = (ROOT / "fixtures" / "logs" / "tbx" / "grad_not_zeroed_mlp_adam", "grad_not_zeroed")


@pytest.mark.skipif(not (builtin_dir() / "learned" / "logs.json").exists(), reason="no log-only layer shipped")
def test_learned_layer_moves_the_true_cause_up_on_a_fixture_run():
    import traindx

    run, true = MOVED
    on = traindx.diagnose(run)[0]
    off = traindx.diagnose(run, learned=False)[0]
    assert not off.healthy and not on.healthy
    def rank(d) -> int:
        ids = [c.id for c in d.causes]
        return ids.index(true) if true in ids else len(ids) + 99

    assert rank(on) < rank(off) and rank(on) < len(on.causes)
    cause = next(c for c in on.causes if c.id == true)
    moved = [e for e in cause.evidence if e.fact == "learned"]
    assert moved and "=" in moved[0].says  # names the facts with this run's values
    assert not any(e.fact == "learned" for c in off.causes for e in c.evidence)
    assert abs(sum(c.probability for c in on.causes) + on.unknown_probability - 1.0) < 1e-6


def test_user_rule_files_rank_with_the_rules_alone(tmp_path):
    import traindx

    (tmp_path / "mine.yaml").write_text("settings:\n  confusable_max: 6\n")
    d = traindx.diagnose(FIXTURE, rulebook=[tmp_path])[0]
    off = traindx.diagnose(FIXTURE, learned=False)[0]
    assert [(c.id, c.probability) for c in d.causes] == [(c.id, c.probability) for c in off.causes]


def test_a_symptom_or_cause_the_layer_never_saw_leaves_the_ranking_to_the_rules():
    from ranker import fit

    from traindx.rerank import knows
    from traindx.rules.model import Cause

    X, y, names = _sample()
    names = names[:-1] + ["sym:LOSS001"]
    m = fit(X, y, names, kind="logs", C=0.5, inner=0)
    lead = [(2.0, Cause(id="lr_too_high", prior=0.1, explains={"LOSS001": 2.0}, fixes=[{"text": "x"}]), [])]
    new = [(3.0, Cause(id="ranks_desynchronized", prior=0.1, explains={"LOSS001": 2.0}, fixes=[{"text": "x"}]), []), *lead]
    assert knows(m, {"LOSS001"}, lead, {})
    assert not knows(m, {"LOSS001", "RANK001"}, lead, {})  # a symptom added after the fit
    assert not knows(m, {"LOSS001"}, new, {})  # the rules' leader is no class of the layer


def test_context_the_layer_never_saw_leaves_the_ranking_to_the_rules():
    """A run whose configured LR (here from a ``lr=3,bs=32`` directory name) moved a cause is
    ranked by the rules: the log-only layer has no context feature and read a divergence at
    LR 3 as unnormalized inputs. The same evidence without a ctx fact leaves the layer on."""
    from ranker import fit

    from traindx.diagnosis import Evidence
    from traindx.rerank import knows
    from traindx.rules.model import Cause

    X, y, names = _sample()
    names = names[:-1] + ["sym:LOSS001"]
    m = fit(X, y, names, kind="logs", C=0.5, inner=0)
    cause = Cause(id="lr_too_high", prior=0.1, explains={"LOSS001": 2.0}, fixes=[{"text": "x"}])
    ctx = Evidence(says="configured LR 3 is very large", fact="ctx.lr >= 0.5", value=True, weight=1.1, kind="evidence")
    curve = Evidence(says="loss grew", fact="loss.peak_ratio > 10.0", value=True, weight=0.7, kind="evidence")
    assert knows(m, {"LOSS001"}, [(2.0, cause, [curve])], {"lr": 3.0})
    assert not knows(m, {"LOSS001"}, [(2.0, cause, [curve, ctx])], {"lr": 3.0})
    assert knows(m, {"LOSS001"}, [(2.0, cause, [curve, ctx.model_copy(update={"weight": 0.0})])], {"lr": 3.0})  # shown, not weighed

    import traindx

    d = traindx.diagnose(ROOT / "fixtures" / "sweep" / "lr_bs" / "lr=3,bs=32")[0]
    assert d.causes[0].id == "lr_too_high"
    assert not any(e.fact == "learned" for c in d.causes for e in c.evidence)


def test_offset_fit_without_the_rules_is_sklearns_weighted_logistic_regression():
    """The offset form's own fitter, with the rules' weight held at 0, solves scikit-learn's
    problem (multinomial, L2 on the coefficients at sklearn's C, per-run weights): the same
    probabilities on the training rows."""
    from ranker import class_weights, fit_offset
    from sklearn.linear_model import LogisticRegression

    X, y, _ = _sample()
    X = np.nan_to_num(X)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    classes = sorted(set(y))
    for how in (None, "balanced", "sqrt", "sqrt-causes"):
        sw = class_weights(y, how)
        a, W, b = fit_offset(Z, np.zeros((len(y), len(classes))), y, classes, 0.5, sw, a_fixed=0.0)
        s = Z @ W.T + b
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(Z, y, sample_weight=sw)
        assert a == 0.0 and list(ref.classes_) == classes
        np.testing.assert_allclose(p, ref.predict_proba(Z), atol=1e-3)  # L-BFGS stops near the optimum


def test_offset_fit_started_from_another_fit_reaches_the_same_optimum():
    """ranker.fit starts each inner-CV fold from the whole fit (a speed-up): the problem is
    convex, so a start from a fit on other rows - with a class the fold lacks, and the rules'
    weight fitted - ends at the cold start's optimum, class by class."""
    from ranker import fit_offset

    X, y, _ = _sample()
    X = np.nan_to_num(X)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    rng = np.random.default_rng(1)
    offs_all = rng.normal(size=(len(y), len(set(y))))
    whole = sorted(set(y))
    a0, W0, b0 = fit_offset(Z, offs_all, y, whole, 0.5)
    part = y != whole[-1]  # the fold lacks one class
    cl = sorted(set(y[part]))
    offs = offs_all[part][:, : len(cl)]
    cold = fit_offset(Z[part], offs, y[part], cl, 0.5)
    warm = fit_offset(Z[part], offs, y[part], cl, 0.5, init=(whole, a0, W0, b0))

    def proba(a, W, b):
        s = a * offs + Z[part] @ W.T + b
        p = np.exp(s - s.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    assert W0.shape[0] == len(cl) + 1 and cold[1].shape[0] == len(cl)
    np.testing.assert_allclose(proba(*warm), proba(*cold), atol=2e-3)
    assert abs(warm[0] - cold[0]) < 2e-2


def test_fit_options_are_recorded_in_the_model_file_and_read_back():
    """The chosen settings ship as data: fit_ranker.options() reads back what fit() wrote,
    so ``fit_ranker.py --write`` and the benchmarks refit the shipped layer the same way."""
    from fit_ranker import options
    from ranker import fit

    X, y, names = _sample()
    names = names[:-3] + ["alarm", "sym:LOSS001", "has:grad"]
    X[:, -3] = 1.0
    X[:, -2:] = X[:, -2:] > 0
    for offset, features, weighting, blend, bound, winsor, zclip in (
        (True, "all", None, 0.5, None, 0.0, None), ("fixed", "symptoms", "sqrt", 1.0, 3.0, 0.01, 4.0),
        (False, "no-levels", "balanced", 0.25, 6.0, 0.0, 2.5),
    ):  # fmt: skip
        m = fit(X, y, names, kind="logs", C=0.2, inner=0, offset=offset, features=features, weighting=weighting, fa_cost=7.0,
                blend=blend, bound=bound, winsor=winsor, zclip=zclip)  # fmt: skip
        back_model = from_json(json.loads(json.dumps(m.to_json())))
        assert back_model.blend == blend and back_model.bound == bound and back_model.zclip == zclip
        back = options(back_model)
        assert back == {"C": 0.2, "fa_cost": 7.0, "offset": offset, "features": features, "weighting": weighting,
                        "inner_by": "scenario", "blend": blend, "bound": bound, "winsor": winsor, "zclip": zclip}  # fmt: skip
        if features == "symptoms":  # the symptoms (and the rules' offset) only
            assert m.features == ["alarm", "sym:LOSS001"] and m.offset_weight == 1.0


def test_selection_goes_by_the_worst_field_not_the_mean():
    from select_ranker import choose

    s = {"steady": {"data": {"top1": 0.40}, "style": {"top1": 0.35}},
         "lopsided": {"data": {"top1": 0.70}, "style": {"top1": 0.20}}}  # fmt: skip
    assert choose(s, ["data", "style"]) == "steady"


def test_a_value_outside_the_training_range_is_held_at_its_edge():
    """A run unlike every training run (a fact at 1e18 where training runs sat near 0-3)
    scores as the most extreme training value does, not by a linear extrapolation."""
    from ranker import fit, standardized

    X, y, names = _sample()
    m = fit(X, y, names, kind="logs", C=0.5, inner=0)
    j = int(np.argmax(np.abs(m.coef).max(axis=0)))  # the feature that moves scores most
    edge, far = X[:1].copy(), X[:1].copy()
    edge[0, j] = np.nanmax(X[:, j])
    far[0, j] = np.nanmax(X[:, j]) + 1e6
    np.testing.assert_allclose(m.predict_proba(standardized(m, far, names)), m.predict_proba(standardized(m, edge, names)))
    # the engine's path (LearnedModel.vector, from facts) clips the same way
    facts = {"loss": {f"k{i}": float(v) for i, v in enumerate(far[0]) if np.isfinite(v)}}
    z = m.vector(facts, {}, set())
    assert np.all(z <= (m.hi - m.mean) / m.scale + 1e-12) and np.all(z >= (m.lo - m.mean) / m.scale - 1e-12)
    # and the range survives the JSON round trip
    back = from_json(json.loads(json.dumps(m.to_json())))
    np.testing.assert_array_equal(back.lo, m.lo)
    np.testing.assert_array_equal(back.hi, m.hi)


def test_the_facts_correction_of_each_class_is_bounded():
    """With ``bound`` B no class's facts correction (coef . z) exceeds B either way: a run
    whose features sit far out moves a cause by at most e^(2B / T) against another, however
    many features agree; without a bound the same run's scores spread further."""
    from ranker import fit, model_scores

    X, y, names = _sample()
    free = fit(X, y, names, kind="logs", C=5.0, inner=0)
    tight = fit(X, y, names, kind="logs", C=5.0, inner=0, bound=1.0)
    far = np.nanmax(np.abs(X), axis=0)[None, :] * np.sign(free.coef[0] - free.coef[1])[None, :] * 3
    s_free, s_tight = model_scores(free, far, names)[0], model_scores(tight, far, names)[0]
    assert np.ptp(s_free - free.intercept) > 2.0
    assert np.all(np.abs(s_tight - tight.intercept) <= 1.0 + 1e-9)
    assert from_json(json.loads(json.dumps(tight.to_json()))).bound == 1.0


def test_winsorizing_holds_graded_features_to_their_quantiles_never_flags():
    """``winsor`` q: a graded feature's one far outlier among training runs no longer sets the
    range a new run is held to; a rare flag (a symptom fired on 1 % of runs) keeps both values."""
    from ranker import fit, winsorized

    X, y, names = _sample()
    X[0, 0] = 1e3  # one training run far out
    X[:, 1] = (np.arange(len(X)) == 3).astype(float)  # a flag set on one run
    keep = np.ones(len(names), dtype=bool)
    W = winsorized(X, keep, 0.02)
    assert W[0, 0] < 10 and np.array_equal(W[:, 1], X[:, 1]) and np.isnan(W[::7, 2]).all()
    m = fit(X, y, names, kind="logs", C=0.5, inner=0, winsor=0.02)
    assert m.hi[0] < 10 and m.hi[1] == 1.0


def test_a_rare_flag_standardizes_to_at_most_zclip_in_the_fit_and_the_engine():
    """A flag set on one training run in 240 standardizes to z ~ 15.5 (sqrt(n)); with
    ``zclip`` it is held to +-zclip in the fit and in both inference paths (the benchmarks'
    ``standardized`` and the engine's ``LearnedModel.vector``), so that one fact moves a
    class by at most |coef| * zclip; the hold survives the JSON round trip."""
    from ranker import fit, standardized

    X, y, names = _sample()
    names = [*names[:-1], "sym:LOSS001"]
    X[:, -1] = (np.arange(len(X)) == 3).astype(float)  # a symptom fired on one run
    free = fit(X, y, names, kind="logs", C=0.5, inner=0)
    held = fit(X, y, names, kind="logs", C=0.5, inner=0, zclip=3.0)
    row = X[3:4].copy()
    j = free.features.index("sym:LOSS001")
    assert standardized(free, row, names)[0, j] > 10.0
    z = standardized(held, row, names)[0]
    assert np.all(np.abs(z) <= 3.0 + 1e-12) and z[j] == pytest.approx(3.0)
    # the facts whose sign-log transform (traindx.learned.raw_feature) is this row
    facts = {"loss": {f"k{i}": float(np.sign(v) * np.expm1(abs(v))) for i, v in enumerate(row[0, :-1]) if np.isfinite(v)}}
    np.testing.assert_allclose(held.vector(facts, {}, {"LOSS001"}), z)
    back = from_json(json.loads(json.dumps(held.to_json())))
    assert back.zclip == 3.0 and from_json(json.loads(json.dumps(free.to_json()))).zclip is None
    np.testing.assert_allclose(back.vector(facts, {}, {"LOSS001"}), z)


def test_model_file_with_a_bad_zclip_is_refused(tmp_path):
    data = {
        "format": FORMAT, "kind": "logs", "catalogue": FORMAT, "classes": ["healthy", "x"],
        "features": ["loss.tau"], "mean": [0.0], "scale": [1.0], "coef": [[1.0], [2.0]],
        "intercept": [0.0, 0.0], "temperature": 1.0, "healthy_threshold": 0.5, "zclip": 0,
    }  # fmt: skip
    _write(tmp_path, json.dumps(data))
    with pytest.raises(RulebookError, match=r"logs\.json.*'zclip'"):
        load_model(tmp_path, "logs")


def test_model_file_with_a_bad_bound_is_refused(tmp_path):
    data = {
        "format": FORMAT, "kind": "logs", "catalogue": FORMAT, "classes": ["healthy", "x"],
        "features": ["loss.tau"], "mean": [0.0], "scale": [1.0], "coef": [[1.0], [2.0]],
        "intercept": [0.0, 0.0], "temperature": 1.0, "healthy_threshold": 0.5, "bound": -1,
    }  # fmt: skip
    _write(tmp_path, json.dumps(data))
    with pytest.raises(RulebookError, match=r"logs\.json.*'bound'"):
        load_model(tmp_path, "logs")


def test_model_file_with_a_bad_range_is_refused(tmp_path):
    data = {
        "format": FORMAT, "kind": "logs", "catalogue": FORMAT, "classes": ["healthy", "x"],
        "features": ["loss.tau"], "mean": [0.0], "scale": [1.0], "coef": [[1.0], [2.0]],
        "intercept": [0.0, 0.0], "temperature": 1.0, "healthy_threshold": 0.5, "lo": [1.0], "hi": [0.0],
    }  # fmt: skip
    _write(tmp_path, json.dumps(data))
    with pytest.raises(RulebookError, match=r"logs\.json.*'lo' and 'hi'"):
        load_model(tmp_path, "logs")


def test_shown_probabilities_mix_the_layer_and_the_rules(monkeypatch):
    """What is shown is ``blend`` x the layer's probability + (1 - blend) x the rules' (the
    shipped log-only layer mixes them half and half: alone it ranked worse than the rules on
    held-out program styles); at blend 0 the ranking is the rules' own, at 1 the layer's."""
    import traindx
    from traindx.rerank import mixed

    m = load_model(builtin_dir() / "learned", "logs")
    assert m is not None and 0.0 < m.blend < 1.0
    p = np.full(len(m.classes), 0.5 / (len(m.classes) - 1))
    p[m.classes.index("healthy")] = 0.5
    a, b = m.classes[0], m.classes[1]
    shown = mixed(m.classes, p, {a: 0.6, "ranks_desynchronized": 0.2}, m.blend)
    assert shown[a] == pytest.approx(m.blend * p[0] + (1 - m.blend) * 0.6)
    assert shown[b] == pytest.approx(m.blend * p[1])
    assert shown["ranks_desynchronized"] == pytest.approx((1 - m.blend) * 0.2)  # a cause only the rules name
    assert "healthy" not in shown and sum(shown.values()) <= 1.0
    assert mixed(m.classes, p, {}, m.blend) == pytest.approx({c: q for c, q in zip(m.classes, p, strict=True) if c != "healthy"})

    run, _ = MOVED
    rules_alone = [c.id for c in traindx.diagnose(run, learned=False)[0].causes]
    monkeypatch.setattr(m, "blend", 0.0)
    assert [c.id for c in traindx.diagnose(run)[0].causes] == rules_alone


def test_model_file_with_a_bad_blend_is_refused(tmp_path):
    data = {
        "format": FORMAT, "kind": "logs", "catalogue": FORMAT, "classes": ["healthy", "x"],
        "features": ["loss.tau"], "mean": [0.0], "scale": [1.0], "coef": [[1.0], [2.0]],
        "intercept": [0.0, 0.0], "temperature": 1.0, "healthy_threshold": 0.5, "blend": 1.5,
    }  # fmt: skip
    _write(tmp_path, json.dumps(data))
    with pytest.raises(RulebookError, match=r"logs\.json.*'blend'"):
        load_model(tmp_path, "logs")


def test_blend_is_picked_by_the_worst_inner_fold_and_keeps_the_layers_verdict():
    """benchmarks/select_blend.py: the weight with the best worst inner fold wins over a
    better mean; a tie goes to the rules' side; p(healthy) is the layer's at every weight."""
    from select_blend import mix, pick

    assert pick({0.0: [0.30, 0.50], 0.5: [0.40, 0.42], 1.0: [0.20, 0.90]}) == 0.5
    assert pick({0.0: [0.40, 0.40], 0.5: [0.40, 0.40]}) == 0.0
    assert pick({0.0: [], 0.25: [0.1]}) == 0.25
    P = np.array([[0.6, 0.3, 0.1]])  # the layer: healthy, a, b
    R = np.array([[0.0, 0.2, 0.7]])  # the rules
    M = mix(P, R, 0.25, h=0)
    np.testing.assert_allclose(M, [[0.6, 0.25 * 0.3 + 0.75 * 0.2, 0.25 * 0.1 + 0.75 * 0.7]])
    np.testing.assert_allclose(mix(P, R, 0.0, h=0)[0, 1:], R[0, 1:])


def test_a_kind_with_no_model_file_is_tried_with_the_log_layers_mixture():
    """fit_ranker.options(None): the defaults a kind without a shipped file (the adapters) is
    refitted with by benchmarks/accuracy.py --held-out-adapters and fit_ranker.py --blends."""
    from fit_ranker import UNSHIPPED_BLEND, options

    o = options(None)
    assert o["blend"] == UNSHIPPED_BLEND == 0.5 and o["offset"] is True and o["features"] == "all"
