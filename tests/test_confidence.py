"""The confidence maps (traindx/confidence.py): the last step before probabilities are
shown keeps the ranking and the causes' shares, respects the cap, and ships for every input
kind; the engine applies it."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from traindx.confidence import find, recalibrate, top_probability
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Confidence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def _m(slope=1.0, shift=0.0, cap=1.0, share=False, unknown_slope=0.0) -> Confidence:
    return Confidence(
        kind="logs", ranker="rules", slope=slope, shift=shift, cap=cap, share=share, unknown_slope=unknown_slope
    )


def test_identity_map_changes_nothing():
    probs, unknown = recalibrate([0.5, 0.3, 0.1], 0.1, _m())
    assert probs == pytest.approx([0.5, 0.3, 0.1]) and unknown == pytest.approx(0.1)


@given(
    st.lists(st.floats(0.001, 1.0), min_size=1, max_size=6),
    st.floats(0.0, 2.0),
    st.floats(0.05, 4.0),
    st.floats(-3.0, 3.0),
    st.sampled_from([1.0, 0.79]),
    st.sampled_from([None, -1.0, 0.0, 0.7]),
)
def test_order_shares_and_total_are_kept(raw, u, slope, shift, cap, unknown_slope):
    total = sum(raw) + u
    probs = sorted((x / total for x in raw), reverse=True)
    unknown = u / total
    m = _m(slope, shift, cap, share=unknown_slope is not None, unknown_slope=unknown_slope or 0.0)
    out, unk = recalibrate(probs, unknown, m)
    assert all(a >= b - 1e-12 for a, b in zip(out, out[1:], strict=False))  # no cause overtakes
    assert out[0] <= cap + 1e-12
    assert sum(out) + unk == pytest.approx(1.0, abs=1e-9) and unk >= 0
    assert out[0] == pytest.approx(top_probability(probs[0], m, probs[0] / sum(probs), unknown))
    if out[0] <= probs[0]:  # shrunk: every listed cause by the same factor
        ratios = [a / b for a, b in zip(out, probs, strict=True) if b > 1e-9]
        assert max(ratios) - min(ratios) < 1e-9


def test_the_cap_holds_and_the_map_is_monotone():
    m = _m(1.4, 0.3, 0.79)
    ps = np.linspace(0.01, 0.999, 200)
    qs = [top_probability(float(p), m) for p in ps]
    assert max(qs) <= 0.79 and all(b >= a for a, b in zip(qs, qs[1:], strict=False))
    assert top_probability(0.5, _m(2.0, math.log(3))) == pytest.approx(0.75)


def test_shipped_maps_cover_every_input_kind_and_stay_below_the_cap():
    book = load_rulebook()
    for kind in ("logs", "torch_adapter", "keras_adapter", "jax_adapter"):
        assert find(book, kind, "rules") is not None, kind
    learned = {p.stem for p in (ROOT / "rulebook" / "learned").glob("*.json")}
    for kind in learned:
        assert find(book, kind, "learned") is not None, kind
    for m in book.confidence:
        assert m.cap < 0.8 or m.cap == 1.0


def test_bad_map_is_refused(tmp_path):
    from traindx.errors import RulebookError

    f = tmp_path / "cal.yaml"
    f.write_text(
        "settings:\n  confidence:\n    - {kind: logs, ranker: rules, slope: -1, shift: 0}\n"
    )
    with pytest.raises(RulebookError, match="slope"):
        load_rulebook([f])


def test_the_benchmark_scores_what_the_engine_says():
    """benchmarks/accuracy.py's shipped outcomes (learned layer, its verdict rule, the
    rerank.knows fallback and the confidence maps) equal traindx's own diagnoses."""
    from accuracy import evaluate

    from traindx.api import read
    from traindx.engine import diagnose_run

    book = load_rulebook()
    outs = evaluate([ROOT / "fixtures" / "logs" / w for w in ("torch_tb", "keras_cb")], book)
    checked = 0
    for o in outs:
        (d,) = [diagnose_run(r, book) for r in read(ROOT / o.run)[:1]]
        assert (d.verdict == "findings") == bool(o.ranked), (o.run, d.headline)
        if d.causes:
            assert d.causes[0].id == o.ranked[0], o.run
            assert d.causes[0].probability == pytest.approx(o.confidence, abs=1e-6), o.run
            assert d.unknown_probability == pytest.approx(o.unknown, abs=1e-6), o.run
            assert d.causes[0].probability < 0.8
            checked += 1
    assert checked >= 20 and {o.input_kind for o in outs} == {"logs", "keras_adapter"}


def _outcomes(n_per=40):
    from accuracy import Outcome

    rng = np.random.default_rng(0)
    outs = []
    for fam, right_rate in (("a", 0.2), ("b", 0.9), ("c", 0.6)):
        for i in range(n_per):
            conf = float(rng.uniform(0.3, 0.95))
            right = rng.uniform() < right_rate
            ranked = ["lr_too_high", "lr_too_low"] if right else ["lr_too_low", "lr_too_high"]
            outs.append(Outcome(
                run=f"{fam}/{i}", writer="w", cause="lr_too_high", visible=True, healthy_said=False,
                ranked=ranked, p_true=conf if right else (1 - conf) / 2, input_kind="logs", alarmed=True,
                confidence=conf, families={"data": fam}, probs=[conf, (1 - conf) / 2],
                unknown=(1 - conf) / 2, scenario=f"{fam}{i}",
            ))  # fmt: skip
    return outs


def test_nested_maps_never_see_the_family_they_score():
    import calibrate

    book = load_rulebook()
    outs = _outcomes()
    after = calibrate.nested(outs, "data", book)
    for fam in "abc":
        others = [o for o in outs if o.families["data"] != fam]
        m = calibrate.fit_maps(others, "data")[("logs", "rules")]
        for o, a in zip(outs, after, strict=True):
            if o.families["data"] == fam:
                share = o.probs[0] / sum(o.probs)
                assert a.confidence == pytest.approx(top_probability(o.confidence, m, share, o.unknown))
    # the map fitted on everything moves a 0.9 answer toward the 57 % these answers are right
    m = calibrate.fit_maps(outs)[("logs", "rules")]
    assert top_probability(0.9, m, 0.9 / 0.95, 0.05) < 0.8 and m.cap == calibrate.CAP


def test_a_big_held_out_family_counts_for_less_than_its_size_in_the_map(monkeypatch):
    """A big family (b: 160 answers, right 90 %) and a small one (a: 20, right 20 %): with
    the answers as they come (the default, as the ECE counts them) the map follows the big
    one; weighed 1 / sqrt(family size) (``weights="sqrt"``), the small one moves it."""
    import calibrate

    monkeypatch.setattr(calibrate, "FORM", "platt")  # the share and unknown mass follow conf here
    outs = _outcomes(n_per=20)
    big = [o for o in _outcomes(n_per=160) if o.families["data"] == "b"]
    outs = [o for o in outs if o.families["data"] == "a"] + big
    w = calibrate.family_weights(outs, "data")
    assert w[0] == pytest.approx(20**-0.5) and w[-1] == pytest.approx(160**-0.5)
    plain = calibrate.fit_maps(outs, "data")[("logs", "rules")]
    fair = calibrate.fit_maps(outs, "data", weights="sqrt")[("logs", "rules")]
    assert top_probability(0.5, fair) < top_probability(0.5, plain) - 0.05, (fair, plain)


def test_written_maps_load_back(tmp_path):
    import shutil

    import calibrate

    shutil.copytree(ROOT / "rulebook", tmp_path / "rulebook")
    knots = [(0.2, 0.1), (0.5, 0.4), (0.9, 0.79)]
    maps = {
        ("logs", "learned"): calibrate.Map(0.5, 0.1, 0.79, 10),
        ("torch_adapter", "rules"): calibrate.Map(0.7, -0.2, 1.0, 10),
        ("adapter", "rules"): calibrate.Map(cap=0.79, n=10, knots=knots),
    }
    calibrate.write(maps, tmp_path / "rulebook" / "calibration.yaml")
    book = load_rulebook([tmp_path / "rulebook"], builtin=False)
    got = {(m.kind, m.ranker): (m.slope, m.shift, m.cap, [tuple(k) for k in m.knots]) for m in book.confidence}
    assert got == {
        ("logs", "learned"): (0.5, 0.1, 0.79, []),
        ("torch_adapter", "rules"): (0.7, -0.2, 1.0, []),
        ("adapter", "rules"): (1.0, 0.0, 0.79, knots),
    }
    assert book.calibration and [s.code for s in book.symptoms if s.never_healthy]
    # an adapter kind without its own map gets the adapters' one; bare logs never do
    assert find(book, "jax_adapter", "rules").knots and find(book, "torch_adapter", "rules").slope == 0.7
    assert find(book, "logs", "rules") is None


def _knots(knots, cap=1.0) -> Confidence:
    return Confidence(kind="logs", ranker="rules", knots=knots, cap=cap)


def test_knots_map_is_the_monotone_line_through_them():
    m = _knots([(0.2, 0.1), (0.5, 0.3), (0.8, 0.3), (0.9, 0.7)], cap=0.79)
    assert top_probability(0.5, m) == pytest.approx(0.3) and top_probability(0.05, m) == pytest.approx(0.1)
    assert top_probability(0.99, m) == pytest.approx(0.7)  # flat beyond the last knot
    assert top_probability(0.6, m) == pytest.approx(0.3)  # a step
    # between two knots: linear in logit(p)
    mid = 1 / (1 + math.exp(-(math.log(0.2 / 0.8) + math.log(0.5 / 0.5)) / 2))
    assert top_probability(mid, m) == pytest.approx(0.2)
    qs = [top_probability(float(p), m) for p in np.linspace(0.001, 0.999, 300)]
    assert all(b >= a for a, b in zip(qs, qs[1:], strict=False)) and max(qs) <= 0.79
    out, unk = recalibrate([0.95, 0.03], 0.02, m)
    assert out[0] == pytest.approx(0.7) and out[1] / 0.03 == pytest.approx(0.7 / 0.95)


@pytest.mark.parametrize("knots", [[(0.2, 0.5), (0.5, 0.4)], [(0.5, 0.4), (0.5, 0.6)], [(0.5, 0.4)], [(0.0, 0.1), (0.5, 0.2)]])
def test_bad_knots_are_refused(tmp_path, knots):
    from traindx.errors import RulebookError

    f = tmp_path / "cal.yaml"
    f.write_text(f"settings:\n  confidence:\n    - {{kind: logs, ranker: rules, knots: {[list(k) for k in knots]}}}\n")
    with pytest.raises(RulebookError, match="knots"):
        load_rulebook([f])


def _graded(n_bins=40, per=100, slope=1.5, shift=0.5, plateau=1.0):
    """Answers whose share right at each top probability is exactly
    min(sigmoid(slope * logit(p) + shift), plateau)."""
    conf, right = [], []
    for p in np.linspace(0.15, 0.97, n_bins):
        acc = min(1 / (1 + math.exp(-(slope * math.log(p / (1 - p)) + shift))), plateau)
        k = round(acc * per)
        conf += [p] * per
        right += [True] * k + [False] * (per - k)
    return np.array(conf), np.array(right)


def test_platt_fit_knows_the_cap():
    """The answers above the cap say 0.79 whatever the curve: where the top answers are
    right 90 % (a plateau, as the adapters' are), the fit recovers the curve below it
    (slope 1.5, shift 0.5) instead of flattening it to pull the plateau down."""
    import calibrate

    conf, right = _graded(plateau=0.9)
    m = calibrate.fit_map(conf, right, form="platt")
    assert m.cap == calibrate.CAP
    assert m.slope == pytest.approx(1.5, abs=0.15) and m.shift == pytest.approx(0.5, abs=0.15), m
    mid = conf < 0.5
    assert np.mean([top_probability(c, m) for c in conf[mid]]) == pytest.approx(right[mid].mean(), abs=0.02)


def test_pooled_map_is_calibrated_under_the_cap():
    """``form="pool"``: an isotonic step map whose top step is merged down until it is right
    no more often than the cap; every step says how often its answers are right."""
    import calibrate

    conf, right = _graded()
    m = calibrate.fit_map(conf, right, form="pool")
    q = np.array([top_probability(c, m) for c in conf])
    assert q.max() <= calibrate.CAP and m.cap == calibrate.CAP
    assert all(b >= a for a, b in zip(m.knots, m.knots[1:], strict=False))
    top = q == q.max()
    assert right[top].mean() == pytest.approx(q.max(), abs=0.02) and top.mean() > 0.3
    for v in np.unique(q):  # each step: its share right (within the identity prior's pull)
        assert right[q == v].mean() == pytest.approx(v, abs=0.05)


def test_a_kind_right_at_every_confident_answer_is_not_capped():
    """>= CAP_MIN answers mapped to >= 0.8 and all right: no cap, and the curve is fitted
    on them too (the capped fit cannot see above the cap)."""
    import calibrate

    conf, right = _graded()
    right = right | (conf >= 0.4)  # every answer above 0.4 right
    m = calibrate.fit_map(conf, right, form="platt")
    assert m.cap == 1.0 and top_probability(0.95, m) > 0.95, m

    def log_loss(mm) -> float:
        q = np.clip([top_probability(c, mm) for c in conf], 1e-9, 1 - 1e-9)
        return float(-np.mean(right * np.log(q) + (1 - right) * np.log(1 - q)))

    capped_fit = calibrate._platt(conf, right, np.ones(len(conf)))  # as if capped, cap lifted
    capped_fit.cap = 1.0
    assert log_loss(m) < log_loss(capped_fit) - 1e-3


def test_share_map_reads_the_top_share_and_the_unknown_mass():
    """``share``: the input is the top's share of the listed mass (0.5 of 0.6 listed), plus
    ``unknown_slope`` times logit(unknown mass); the plain map reads the probability."""
    share = _m(slope=2.0, shift=0.5, share=True, unknown_slope=-0.5)
    want = 1 / (1 + math.exp(-(2.0 * math.log(5) + 0.5 - 0.5 * math.log(0.4 / 0.6))))
    assert top_probability(0.5, share, 0.5 / 0.6, 0.4) == pytest.approx(want)
    out, unk = recalibrate([0.5, 0.1], 0.4, share)
    assert out[0] == pytest.approx(want) and out[1] / 0.1 == pytest.approx((1 - want) / 0.5)
    plain = _m(slope=2.0, shift=0.5)
    assert top_probability(0.5, plain, 0.5 / 0.6, 0.4) == pytest.approx(1 / (1 + math.exp(-0.5)))
    # the same top probability, a larger unknown mass: a higher share of the listed causes
    assert recalibrate([0.3, 0.1], 0.6, _m(share=True))[0][0] > recalibrate([0.3, 0.3], 0.4, _m(share=True))[0][0]


def test_share_fit_finds_the_inputs_the_answers_follow():
    """Answers right as often as sigmoid(1.5 logit(share) - 0.8 logit(unknown) - 1), for
    top probabilities that say little by themselves (the unknown mass varies): the "share"
    fit recovers the three numbers; the Platt fit on the probability fits these answers worse."""
    import calibrate

    rng = np.random.default_rng(1)
    share = rng.uniform(0.2, 0.95, 6000)
    unknown = rng.uniform(0.05, 0.9, 6000)
    conf = share * (1 - unknown) * 0.95  # the listed mass is 95 % of what the unknown leaves
    z = 1.5 * np.log(share / (1 - share)) - 0.8 * np.log(unknown / (1 - unknown)) - 1.0
    right = rng.uniform(size=6000) < 1 / (1 + np.exp(-z))
    m = calibrate.fit_map(conf, right, form="share", share=share, unknown=unknown)
    assert m.share and m.cap == calibrate.CAP
    assert (m.slope, m.unknown_slope, m.shift) == pytest.approx((1.5, -0.8, -1.0), abs=0.2), m
    platt = calibrate.fit_map(conf, right, form="platt")

    def log_loss(mm) -> float:
        q = np.clip([top_probability(c, mm, s, u) for c, s, u in zip(conf, share, unknown, strict=True)], 1e-9, 1 - 1e-9)
        return float(-np.mean(right * np.log(q) + (1 - right) * np.log(1 - q)))

    assert log_loss(m) < log_loss(platt) - 0.02


def test_written_share_maps_load_back_and_the_engine_applies_them(tmp_path):
    """A "share" map written by calibrate.write loads back, and the engine's probabilities
    under it equal what benchmarks/accuracy.py scores (the share is of the listed causes the
    engine shows, the unknown mass the one it shows)."""
    import shutil

    import calibrate
    from accuracy import evaluate

    from traindx.api import read
    from traindx.engine import diagnose_run

    shutil.copytree(ROOT / "rulebook", tmp_path / "rulebook")
    maps = {(k, r): calibrate.Map(0.8, 0.3, 0.79, 10, share=True, unknown_slope=-0.4, group_slope=1.3, group_shift=0.6)
            for k, r in (("logs", "rules"), ("logs", "learned"), ("keras_adapter", "rules"), ("adapter", "rules"))}  # fmt: skip
    calibrate.write(maps, tmp_path / "rulebook" / "calibration.yaml")
    written = load_rulebook([tmp_path / "rulebook"], builtin=False).confidence
    assert {(m.kind, m.ranker, m.share, m.unknown_slope, m.slope, m.group_slope, m.group_shift) for m in written} == {
        (k, r, True, -0.4, 0.8, 1.3, 0.6) for k, r in maps
    }
    # the shipped rulebook with these maps (the engine ranks a rulebook read from elsewhere
    # with its rules alone, traindx.rerank.model_for; accuracy.evaluate always with the layer)
    book = load_rulebook().model_copy(update={"confidence": written})
    outs = evaluate([ROOT / "fixtures" / "logs" / w for w in ("torch_tb", "keras_cb")], book)
    checked = grouped = 0
    for o in outs:
        (d,) = [diagnose_run(r, book) for r in read(ROOT / o.run)[:1]]
        if d.causes:
            assert d.causes[0].id == o.ranked[0], o.run
            assert d.causes[0].probability == pytest.approx(o.confidence, abs=1e-6), o.run
            assert d.unknown_probability == pytest.approx(o.unknown, abs=1e-6), o.run
            # the "cannot separate" group, stated through the group map (where both name the
            # same members: causes tied in probability may be listed in another order)
            assert bool(d.confusable) == (len(o.group) >= 2), o.run
            if d.confusable and set(d.confusable.causes) == set(o.group):
                listed = sum(c.probability for c in d.causes[: len(o.group)])
                assert d.confusable.probability == pytest.approx(o.group_p, abs=1e-6), o.run
                assert d.confusable.probability > listed  # slope 1.3, shift 0.6: up in this range
                grouped += 1
            checked += 1
    assert checked >= 20 and grouped >= 1 and {o.input_kind for o in outs} == {"logs", "keras_adapter"}


def test_group_map_states_how_often_such_groups_held_the_true_cause():
    """Groups of two whose members' probabilities sum to ~0.6 and that held the true cause
    80 % of the time: the fitted group map says ~0.8 for them (the top answer's map is
    fitted as before); the identity group map (the default) changes nothing."""
    import calibrate
    from accuracy import Outcome

    from traindx.confidence import group_probability

    rng = np.random.default_rng(2)
    outs = []
    for i in range(800):
        p0 = float(rng.uniform(0.3, 0.34))
        first = ["lr_too_high", "lr_too_low"] if rng.uniform() < 0.5 else ["lr_too_low", "lr_too_high"]
        outs.append(Outcome(
            run=f"r{i}", writer="w", cause="lr_too_high" if rng.uniform() < 0.8 else "overfitting", visible=True,
            healthy_said=False, ranked=[*first, "overfitting"], p_true=0.3, input_kind="logs", alarmed=True,
            confidence=p0, families={"data": "a"}, probs=[p0, p0 - 0.02, 0.05], unknown=1 - (2 * p0 - 0.02 + 0.05),
            scenario=f"s{i}",
        ))  # fmt: skip
    m = calibrate.fit_maps(outs)[("logs", "rules")]
    applied = [calibrate.apply(o, m, load_rulebook()) for o in outs]
    stated = [o.group_p for o in applied if len(o.group) >= 2]
    assert len(stated) > 700 and all(len(o.group) == 2 for o in applied if o.group)
    assert float(np.mean(stated)) == pytest.approx(0.8, abs=0.04)
    assert group_probability(0.6, _m()) == pytest.approx(0.6)
