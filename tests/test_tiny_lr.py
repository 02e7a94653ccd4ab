"""A logged LR far below any usual step size (< 1e-5) says lr_too_low - the updates are applied,
only tiny - and argues against updates_not_applied. Labelled corpus, every input kind: 56
lr_too_low runs, 9 lr_schedule_bad, 1 dying_relu, no updates_not_applied, 0 of 2,436 healthy.
qa_wild42's HF Trainer at learning_rate 1e-7 (printed 9.8e-8 decaying to 1.8e-9) led with
updates_not_applied 54 %, lr_too_low 13 %."""

from __future__ import annotations

from pathlib import Path

import traindx
from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

HF = (Path(__file__).resolve().parent.parent / "fixtures" / "qa_wild42" / "logs"
      / "hf_trainer_tiny_bert_topics_learning_rate_1e7_log_level_info_printed_dicts")


def _p(d, cid: str) -> float:
    return next((c.probability for c in d.causes if c.id == cid), 0.0)


def test_the_rules_weigh_a_tiny_logged_lr_against_a_missing_update():
    case = Case(name="c", series={"loss": "1.386x50 ~0.0005", "lr": "9.8e-8*0.92x50"}, fires=True)
    d = diagnose_run(case_run(case), load_rulebook())
    una = next(c for c in d.causes if c.id == "updates_not_applied")
    assert sum(e.weight for e in una.evidence if e.kind == "evidence" and e.weight < 0) < -3.0
    assert _p(d, "lr_too_low") > 5 * _p(d, "updates_not_applied")


def test_the_hf_run_at_lr_1e7_leads_with_lr_too_low():
    d = traindx.diagnose(HF / "buggy")[0]
    assert d.causes[0].id == "lr_too_low", [(c.id, round(c.probability, 2)) for c in d.causes[:3]]


def test_not_when_the_configured_lr_is_usual():
    # an applied LR far under a usual configured one is a schedule's doing (lr_schedule_bad)
    case = Case(name="c", series={"loss": "1.386x50 ~0.0005", "lr": "9.8e-8*0.92x50"},
                context={"optimizer": {"name": "adam", "lr": 1e-3}}, fires=True)
    d = diagnose_run(case_run(case), load_rulebook())
    says = [e.says for c in d.causes if c.id == "lr_too_low" for e in c.evidence]
    assert not any("far below any usual step size" in s for s in says), says
