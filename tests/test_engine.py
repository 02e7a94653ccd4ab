"""Scoring in the engine: grouped symptoms count once, specific symptoms penalize causes that
do not explain them, and a fact that is missing leaves a rule "not evaluated"."""

from __future__ import annotations

import math

import numpy as np

from traindx.engine import diagnose_facts
from traindx.rules.model import Cause, Rulebook, Symptom
from traindx.schema import Run, Series, SeriesKey

DOCS = {"what": "test symptom text", "why": "test symptom text", "false_positives": "none known"}
CASES = [{"name": "a", "fires": True}, {"name": "b", "fires": False}]
FIX = [{"text": "fix it"}]


def symptom(code: str, when: str, **kw) -> Symptom:
    return Symptom(code=code, slug=code.lower(), summary=code, severity="warning", when=when, docs=DOCS, cases=CASES, **kw)


def book(*symptoms: Symptom, causes: list[Cause]) -> Rulebook:
    return Rulebook(symptoms=list(symptoms), causes=causes, unexplained_lr=0.5, unknown_prior=0.01)


def log_odds(d, cid: str) -> float:
    return next(c.log_odds for c in d.causes if c.id == cid)


def test_symptoms_of_one_group_count_once_with_the_strongest_ratio():
    stall = [symptom("LOSS005", "loss.drop < 0.1", group="stall"), symptom("LOSS011", "loss.drop < 0.1", group="stall")]
    cause = Cause(id="lr_too_low", prior=0.1, explains={"LOSS005": 3.0, "LOSS011": 2.0}, fixes=FIX)
    d = diagnose_facts(Run(id="r"), {"loss": {"drop": 0.0}}, book(*stall, causes=[cause]))
    assert math.isclose(log_odds(d, "lr_too_low"), math.log(0.1) + math.log(3.0))
    # ungrouped, the same two symptoms multiply
    free = [s.model_copy(update={"group": None}) for s in stall]
    d = diagnose_facts(Run(id="r"), {"loss": {"drop": 0.0}}, book(*free, causes=[cause]))
    assert math.isclose(log_odds(d, "lr_too_low"), math.log(0.1) + math.log(3.0) + math.log(2.0))


def test_a_specific_symptom_penalizes_causes_that_do_not_explain_it():
    syms = [
        symptom("LOSS001", "loss.bad"),
        symptom("CTX007", "ctx.input_nonfinite > 0", unexplained_lr=0.05),
    ]
    causes = [
        Cause(id="lr_too_high", prior=0.15, explains={"LOSS001": 3.0}, fixes=FIX),
        Cause(id="nonfinite_in_data", prior=0.04, explains={"LOSS001": 3.0, "CTX007": 40.0}, fixes=FIX),
    ]
    d = diagnose_facts(Run(id="r"), {"loss": {"bad": True}, "ctx": {"input_nonfinite": 3}}, book(*syms, causes=causes))
    assert [c.id for c in d.causes] == ["nonfinite_in_data", "lr_too_high"]
    assert math.isclose(log_odds(d, "lr_too_high"), math.log(0.15) + math.log(3.0) + math.log(0.05))
    assert math.isclose(sum(c.probability for c in d.causes) + d.unknown_probability, 1.0)


def test_a_missing_fact_is_reported_not_evaluated():
    s = symptom("ACT001", "layers.dead_frac_max > 0.9")
    run = Run(id="r")
    run.add(Series(key=SeriesKey(metric="loss"), steps=np.arange(3), values=np.ones(3)))
    d = diagnose_facts(run, {"loss": {"drop": 0.0}}, book(s, causes=[]))
    assert d.healthy
    assert [(n.rule, n.needs) for n in d.not_evaluated] == [("ACT001", ["layers"])]
