"""The learned layer may not raise a cause the rules firmly argue against (its fired
counter-evidence, the evidence items with a ratio below 1, multiplies it by 0.1 or less):
qa_fresh28's unclipped RNN, whose loss improved for 620 steps and then went NaN, was
loss_sign_flipped first at x1.8e3 from "loss max abs" although its rule said "gradient
ascent never improves the loss it climbs (x0.1)"."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from traindx.diagnosis import Evidence
from traindx.rerank import COUNTERED_LR, COUNTERED_MAX_RATIO, bounded, countered
from traindx.rules.loader import builtin_dir, load_rulebook

ROOT = Path(__file__).resolve().parent.parent
RNN = ROOT / "fixtures" / "qa_fresh28" / "logs" / "torch_rnn_sum_task_no_clip_sgd_lr_01_steps" / "buggy"


def _ev(weight: float, kind: str = "evidence") -> Evidence:
    return Evidence(says="x", weight=weight, kind=kind)


def test_countered_means_the_rules_counter_evidence_multiplies_the_cause_by_0_1_or_less():
    x01, x03, x04 = math.log(COUNTERED_LR), math.log(0.3), math.log(0.4)
    assert countered([_ev(0.7), _ev(x01)])
    assert countered([_ev(x03), _ev(x03)])  # x0.09 together
    # milder counter-evidence the layer may outweigh (an x0.4 "no overshoot marks")
    assert not countered([_ev(0.7), _ev(x04)])
    assert not countered([_ev(0.7), _ev(1.1)])
    # an unexplained symptom or a low prior is no counter-evidence of the rules' own reading
    assert not countered([_ev(-2.0, "symptom"), _ev(-3.0, "prior")])


def test_a_countered_cause_is_held_to_the_rules_probability_and_the_rest_is_left_alone():
    classes = ["healthy", "loss_sign_flipped", "exploding_gradients"]
    p = np.array([0.05, 0.9, 0.05])
    rules = 0.5 / COUNTERED_MAX_RATIO / 10  # the rules' share, far below the layer's 0.9
    out = bounded(classes, p, {"loss_sign_flipped": rules, "exploding_gradients": 0.5}, {"loss_sign_flipped"})
    assert out[1] == pytest.approx(COUNTERED_MAX_RATIO * rules) and out[1] < 0.9
    assert out[0] == pytest.approx(0.05) and out[2] == pytest.approx(0.05)  # never handed to another class
    # a countered cause the rules do not list gets nothing from the layer
    assert bounded(classes, p, {}, {"loss_sign_flipped"})[1] == 0.0
    # the layer may still lower a countered cause, and is free on the others
    assert bounded(classes, np.array([0.5, 0.1, 0.4]), {"loss_sign_flipped": 0.3}, {"loss_sign_flipped"})[1] == pytest.approx(0.1)
    assert bounded(classes, p, {"loss_sign_flipped": 0.2}, set()) == pytest.approx(list(p))


@pytest.mark.skipif(not (builtin_dir() / "learned" / "logs.json").exists(), reason="no log-only layer shipped")
def test_the_layer_no_longer_puts_a_countered_cause_first_on_the_unclipped_rnn():
    import traindx

    on = traindx.diagnose(RNN)[0]
    off = traindx.diagnose(RNN, learned=False)[0]
    assert "loss_sign_flipped" in [c.id for c in off.causes]
    lsf = next((c for c in on.causes if c.id == "loss_sign_flipped"), None)
    assert on.causes[0].id != "loss_sign_flipped"
    assert "exploding_gradients" in [c.id for c in on.causes[:2]]
    # a bounded cause gets no "the learned ranking moved it up" line
    assert lsf is None or not any(e.fact == "learned" for e in lsf.evidence)


def test_the_cv_marks_the_same_causes_countered_as_the_engine():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from differential import Compiled

    from traindx.api import read
    from traindx.engine import diagnose_facts
    from traindx.signals import compute_facts

    book = load_rulebook()
    run = read(RNN)[0]
    facts = compute_facts(run)
    comp = Compiled.build(book, [facts])
    d = diagnose_facts(run, facts, book.model_copy(update={"learned": False}))
    assert comp.countered(0) == {c.id for c in d.causes if countered(c.evidence)}
    assert "loss_sign_flipped" in comp.countered(0)
