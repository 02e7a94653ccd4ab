"""Every fix and evidence line agrees with the run's own numbers: the LR it suggests moves in
the direction the cause calls for from the run's LR, nothing is claimed that the input cannot
know, regularization is shown in the units the user wrote, and a sign flip needs what a
sign flip produces."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from traindx.api import read
from traindx.engine import diagnose_facts, fill
from traindx.rules.loader import load_rulebook
from traindx.signals import compute_facts

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"


@pytest.fixture(scope="module")
def book():
    return load_rulebook()


def _run(path: Path):
    run = read(path)[0]
    return run, compute_facts(run)


def test_placeholders_take_the_first_recorded_fact_and_scale_it():
    facts = {"ctx": {"lr": 0.001}, "lr": {"max": 3.0}}
    assert fill("{ctx.lr|lr.max|unknown}", facts) == "0.001"
    assert fill("{ctx.momentum|lr.max|unknown}", facts) == "3"
    assert fill("{ctx.lr*5|1e-3} {lr.max/5|3e-4}", facts) == "0.005 0.6"
    assert fill("{ctx.nope|none} {ctx.nope}", facts) == "none ?"
    assert fill("class_weight={0: 1.0, 1: n0 / n1}", facts) == "class_weight={0: 1.0, 1: n0 / n1}"


def _lr_in(text: str) -> float:
    m = re.search(r"(?:lr|learning_rate)=([0-9.e-]+)", text)
    assert m, text
    return float(m.group(1))


@pytest.mark.parametrize("run_lr", [1e-5, 1e-3, 0.1])
def test_raise_and_lower_lr_snippets_move_from_the_runs_lr(book, run_lr):
    run, facts = _run(LOGS / "torch_tb" / "lr_too_low_mlp_sgd")
    facts = copy.deepcopy(facts)
    facts["ctx"]["lr"] = run_lr
    d = diagnose_facts(run, facts, book)
    by_id = {c.id: c for c in d.causes}
    up = by_id["lr_too_low"].fixes[0]
    assert f"the run used {run_lr:.3g}" in up.text
    assert all(_lr_in(s) > run_lr for s in up.snippets.values()), up.snippets
    facts["lr"] = {"max": run_lr}
    hi = diagnose_facts(run, facts, book)
    for c in hi.causes:
        if c.id == "lr_too_high":
            assert all(_lr_in(s) < run_lr for s in c.fixes[0].snippets.values()), c.fixes[
                0
            ].snippets


def test_a_logged_lr_fills_the_fix_when_the_config_is_unknown(book):
    run, facts = _run(LOGS / "torch_tb" / "lr_too_high_mlp_oscillate")
    facts = copy.deepcopy(facts)
    facts.get("ctx", {}).pop("lr", None)
    facts["lr"] = {"max": 3.0, "first": 3.0, "last": 3.0}
    d = diagnose_facts(run, facts, book)
    top = next(c for c in d.causes if c.id == "lr_too_high")
    assert any("logged LR reaches 3" in e.says for e in top.evidence)
    assert "do not record" not in top.fixes[0].text and "the run used 3" in top.fixes[0].text


def test_no_claim_about_clipping_from_logs(book):
    for path in sorted((LOGS / "torch_tb").glob("*exploding*")) + sorted(
        (LOGS / "torch_mon").glob("*exploding*")
    ):
        d = diagnose_facts(*_run(path), book)
        for c in d.causes:
            assert not any("clipping" in e.says for e in c.evidence), (path.name, c.id)


def test_keras_l2_is_shown_as_l2_not_as_weight_decay(book):
    run, facts = _run(LOGS / "keras_cb" / "too_much_regularization_mlp_l2")
    assert facts["ctx"].get("l2_max") == pytest.approx(0.1)
    d = diagnose_facts(run, facts, book)
    says = [e.says for c in d.causes for e in c.evidence]
    assert any("L2 regularizer factor 0.1" in s for s in says), says
    assert not any(s.startswith("weight decay 0.2") for s in says), says


def test_sign_flip_needs_a_loss_that_never_improved(book):
    """Gradients that are never zeroed: the loss improves, then diverges (positive loss)."""
    d = diagnose_facts(*_run(LOGS / "torch_tb" / "grad_not_zeroed_mlp_sgd"), book)
    assert d.causes[0].id != "loss_sign_flipped"
    flip = next((c for c in d.causes if c.id == "loss_sign_flipped"), None)
    assert flip is None or flip.probability < 0.2
    for fixture in ("loss_sign_flipped_mlp_maximize", "loss_sign_flipped_mlp_ascent"):
        for path in LOGS.glob(f"*/{fixture}"):
            assert diagnose_facts(*_run(path), book).causes[0].id == "loss_sign_flipped", path
