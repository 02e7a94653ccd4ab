"""benchmarks/report_consistency.py: each invariant on hand-made reports (one that holds, one
that breaks it), and the shipped rulebook's fixes and evidence filled with one run's numbers
keep them (issue 10, section 3: every fix and evidence line consistent with the run's own numbers)."""

from __future__ import annotations

import pytest

from benchmarks.report_consistency import INVARIANTS, check
from traindx.engine import check as holds
from traindx.engine import fill, fixes_for
from traindx.rules.loader import load_rulebook


def _report(*causes: tuple[str, list[str], list[dict]], symptoms: list[dict] | None = None) -> dict:
    return {
        "causes": [
            {"id": cid, "evidence": [{"kind": "evidence", "says": s} for s in says], "fixes": fixes}
            for cid, says, fixes in causes
        ],
        "symptoms": symptoms or [],
    }


def _fix(text: str, **snippets: str) -> dict:
    return {"text": text, "snippets": snippets}


ADAPTER = {"ctx": {"framework": "torch", "lr": 0.01, "optimizer": "adam"}, "lr": {"max": 0.01}}
LOGS = {"lr": {"max": 0.01, "first": 0.01, "last": 0.01}}

#: invariant -> (facts, a report that holds it, a report that breaks it)
CASES: dict[str, tuple[dict, dict, dict]] = {
    "lr_direction": (
        ADAPTER,
        _report(("lr_too_high", [], [_fix("Lower the learning rate 3-10x (the run used 0.01; try 0.002).", torch="Adam(lr=0.002)")])),
        # "Raise the learning rate (the run used 0.001)" with a snippet at 3e-4 (issue 10's example)
        _report(("lr_too_low", [], [_fix("Raise the learning rate 3-10x (the run used 0.001; try 0.005).", keras="Adam(learning_rate=3e-4)")])),
    ),
    "lr_kept": (
        ADAPTER,
        _report(("lr_schedule_bad", [], [_fix("Step the scheduler once per epoch.", jax="optax.warmup_cosine_decay_schedule(0.0, 0.01, warmup_steps=500)")])),
        _report(("lr_schedule_bad", [], [_fix("Step the scheduler once per epoch.", jax="optax.warmup_cosine_decay_schedule(0.0, 3e-4, warmup_steps=500)")])),
    ),
    "lr_quoted": (
        ADAPTER,
        _report(("lr_too_high", ["adaptive optimizer with LR 0.01 (Adam-style optimizers rarely want more than 3e-3)"], [])),
        _report(("lr_too_high", ["configured LR 0.5 is very large"], [])),
    ),
    "lr_unrecorded": (
        {},
        _report(("lr_too_high", [], [_fix("Lower the learning rate 3-10x (the run used an LR the logs do not record; try 3e-4 for Adam).")])),
        # "+ logged LR reaches 3" above "(the run used an LR the logs do not record)" (issue 10)
        _report(("lr_too_high", ["logged LR reaches 3"], [_fix("Lower the learning rate 3-10x (the run used an LR the logs do not record; try 3e-4 for Adam).")])),
    ),
    "adapter_claim": (
        LOGS,
        _report(("exploding_gradients", ["gradient norm peaked at 2e+03x its start"], [_fix("Clip the global gradient norm (1.0 is a good default).")])),
        _report(("exploding_gradients", ["no gradient clipping configured in the adam optimizer"], [])),
    ),
    "units": (
        {"ctx": {"framework": "keras", "l2_max": 0.5}, "weight": {"change": -0.6}},
        _report(("too_much_regularization", ["the weight norm fell steadily (relative change -0.6) under weight decay not set, L2 factor 0.5"], [])),
        # Keras L2(0.5) shown as "weight decay 1", and a fall quoted as a negative amount
        _report(("too_much_regularization", ["the weight norm fell steadily (-0.6) under weight decay 1"], [])),
    ),
    "contradiction": (
        {"loss": {"tail_tau": -0.8}},
        _report(("too_few_epochs", ["loss already fell by 0.9"], [_fix("Train longer (the loss was still falling at step 600).")])),
        _report(("too_few_epochs", ["loss already fell by 0.9"], []), symptoms=[{"code": "LOSS024", "slug": "both-losses-barely-fell", "severity": "warning"}]),
    ),
    "first_point": (
        {"loss": {"first": 0.318, "first_raw": 0.187, "n_finite": 750}},
        _report(symptoms=[{"code": "LOSS024", "evidence": [{"kind": "fact", "fact": "loss.first", "value": 0.318,
                                                              "says": "loss.first (the median of its first 20 points; the first point is 0.187)"}]}]),
        # qa_jax47's linen autoencoder: the median of its first 20 points shown as if it were the first
        _report(symptoms=[{"code": "LOSS024", "evidence": [{"kind": "fact", "fact": "loss.first", "value": 0.318, "says": "loss.first"}]}]),
    ),
    "last_point": (
        {"loss": {"last": 0.52, "last_raw": 0.31, "n_finite": 400}},
        _report(symptoms=[{"code": "LOSS004", "evidence": [{"kind": "fact", "fact": "loss.last", "value": 0.52,
                                                              "says": "loss.last (the median of its last 20 points; the last point is 0.31)"}]}]),
        # the median of the last 20 points shown as if the run had ended there
        _report(symptoms=[{"code": "LOSS004", "evidence": [{"kind": "fact", "fact": "loss.last", "value": 0.52, "says": "loss.last"}]}]),
    ),
}


def test_every_invariant_has_cases():
    assert set(CASES) == set(INVARIANTS)


@pytest.mark.parametrize("invariant", INVARIANTS)
def test_invariant_holds_and_breaks(invariant):
    facts, good, bad = CASES[invariant]
    assert [v for v in check(good, facts) if v.invariant == invariant] == []
    got = [v for v in check(bad, facts) if v.invariant == invariant]
    assert len(got) >= 1, invariant
    assert all(v.why for v in got)


def test_units_catches_a_percentage_and_a_larger_decay_in_a_reduce_fix():
    facts = {"ctx": {"framework": "torch", "weight_decay": 0.001}}
    bad = _report(("too_much_regularization", ["validation accuracy 130 % of its best"],
                   [_fix("Reduce weight decay / L2 10x.", torch="AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)")]))
    whys = [v.why for v in check(bad, facts) if v.invariant == "units"]
    assert len(whys) == 2 and any("130" in w for w in whys) and any("weight_decay" in w for w in whys)


def test_still_falling_claim_against_a_rising_tail():
    bad = _report(("too_few_epochs", [], [_fix("Train longer (the loss was still falling at step 600).")]))
    assert [v.invariant for v in check(bad, {"loss": {"tail_tau": 0.03}})] == ["contradiction"]


#: one run's numbers: an adapter run with an LR, a strong decay that shrank the weights, a
#: loss that fell and then flattened (its tail trend slightly up)
RUN = {
    "ctx": {"framework": "keras", "lr": 0.05, "optimizer": "adam", "l2_max": 0.5, "n_layers": 4},
    "lr": {"first": 0.05, "max": 0.05, "last": 0.05},
    "loss": {"drop": 0.6, "last_step": 40, "unit": "epoch", "tail_tau": 0.05},
    "weight": {"change": -0.7},
    "layers": {"update_ratio_median": 0.2},
}


#: a log-only run whose LR series has a first value but too few points for a peak
FIRST_ONLY = {"lr": {"first": 0.02, "last": 0.02, "constant": True}, "loss": {"drop": 0.1, "last_step": 9, "unit": "step"}}


@pytest.mark.parametrize("run", [RUN, FIRST_ONLY], ids=["adapter_run", "first_lr_only"])
def test_shipped_fixes_and_evidence_keep_the_runs_numbers(run):
    """Every cause's fixes and evidence lines, filled with a run's facts, break no invariant on
    LR (a logged LR is never "not recorded"), units or the claim that the loss was still falling: the snippets keep the run's LR unless
    the text says to change it, a decay is quoted by its name, a fall as a fall. (Evidence whose
    condition the run's facts refute is left out: it is never shown on such a run.)"""
    book = load_rulebook()
    bad = []
    for cause in book.causes:
        fixes = [{"text": f.text, "snippets": f.snippets} for f in fixes_for(cause, run)]
        says = [fill(r.says, run) for r in cause.evidence if holds(r.condition, run).value is not False]
        for v in check(_report((cause.id, says, fixes)), run):
            if v.invariant in ("lr_direction", "lr_kept", "lr_quoted", "lr_unrecorded", "units") or "still falling" in v.why:
                bad.append(v)
    assert bad == []
