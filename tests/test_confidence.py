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


def _m(slope=1.0, shift=0.0, cap=1.0) -> Confidence:
    return Confidence(kind="logs", ranker="rules", slope=slope, shift=shift, cap=cap)


def test_identity_map_changes_nothing():
    probs, unknown = recalibrate([0.5, 0.3, 0.1], 0.1, _m())
    assert probs == pytest.approx([0.5, 0.3, 0.1]) and unknown == pytest.approx(0.1)


@given(
    st.lists(st.floats(0.001, 1.0), min_size=1, max_size=6),
    st.floats(0.0, 2.0),
    st.floats(0.05, 4.0),
    st.floats(-3.0, 3.0),
    st.sampled_from([1.0, 0.79]),
)
def test_order_shares_and_total_are_kept(raw, u, slope, shift, cap):
    total = sum(raw) + u
    probs = sorted((x / total for x in raw), reverse=True)
    unknown = u / total
    out, unk = recalibrate(probs, unknown, _m(slope, shift, cap))
    assert all(a >= b - 1e-12 for a, b in zip(out, out[1:], strict=False))  # no cause overtakes
    assert out[0] <= cap + 1e-12
    assert sum(out) + unk == pytest.approx(1.0, abs=1e-9) and unk >= 0
    assert out[0] == pytest.approx(top_probability(probs[0], _m(slope, shift, cap)))
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
                assert a.confidence == pytest.approx(top_probability(o.confidence, m))
    # the map fitted on everything moves a 0.9 answer toward the 57 % these answers are right
    m = calibrate.fit_maps(outs)[("logs", "rules")]
    assert top_probability(0.9, m) < 0.8 and m.cap == calibrate.CAP


def test_a_big_held_out_family_counts_for_less_than_its_size_in_the_map():
    """A big family (b: 160 answers, right 90 %) and a small one (a: 20, right 20 %): with
    the answers as they come the map follows the big one; weighed 1 / sqrt(family size), the
    small one moves it."""
    import calibrate

    outs = _outcomes(n_per=20)
    big = [o for o in _outcomes(n_per=160) if o.families["data"] == "b"]
    outs = [o for o in outs if o.families["data"] == "a"] + big
    w = calibrate.family_weights(outs, "data")
    assert w[0] == pytest.approx(20**-0.5) and w[-1] == pytest.approx(160**-0.5)
    plain = calibrate.fit_maps(outs)[("logs", "rules")]
    fair = calibrate.fit_maps(outs, "data")[("logs", "rules")]
    assert top_probability(0.5, fair) < top_probability(0.5, plain) - 0.05, (fair, plain)


def test_written_maps_load_back(tmp_path):
    import shutil

    import calibrate

    shutil.copytree(ROOT / "rulebook", tmp_path / "rulebook")
    maps = {
        ("logs", "learned"): calibrate.Map(0.5, 0.1, 0.79, 10),
        ("torch_adapter", "rules"): calibrate.Map(0.7, -0.2, 1.0, 10),
    }
    calibrate.write(maps, tmp_path / "rulebook" / "calibration.yaml")
    book = load_rulebook([tmp_path / "rulebook"], builtin=False)
    got = {(m.kind, m.ranker): (m.slope, m.shift, m.cap) for m in book.confidence}
    assert got == {
        ("logs", "learned"): (0.5, 0.1, 0.79),
        ("torch_adapter", "rules"): (0.7, -0.2, 1.0),
    }
    assert book.learned_keeps and book.calibration
