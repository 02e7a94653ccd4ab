"""Accuracy at the largest class's share weighs for class_imbalance (ACC003 x20, ACC011 x6) only
where one class dominates: on near-balanced data it says "the model answers one class", which
every stall produces. Labelled corpus: ACC003 with a recorded share under 0.7 fired on 31 faulty
runs, none class_imbalance; at 0.8 or more on 30 class_imbalance runs of 31 (qa_real42's JAX
broadcast run, share 0.63, led with class_imbalance 50 %)."""

from __future__ import annotations

from pathlib import Path

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()
FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _imbalance(counts: list[int] | None, acc: str) -> tuple[float, list[str]]:
    ctx = {"data": {"class_counts": counts}} if counts else {}
    case = Case(name="c", series={"loss": "0.69*0.999x30", "val/accuracy": acc}, units={"val/accuracy": "epoch"},
                context=ctx, fires=True)
    d = diagnose_run(case_run(case), BOOK)
    c = next(c for c in d.causes if c.id == "class_imbalance")
    return c.probability, [e.says for e in c.evidence]


def test_a_near_balanced_share_cancels_the_majority_evidence():
    p_near, says = _imbalance([63, 37], "0.63x30")
    assert any("holds only 0.63" in s for s in says), says
    p_far, says_far = _imbalance([95, 5], "0.95x30")
    assert not any("holds only" in s for s in says_far)
    assert p_near < p_far / 5


def test_from_logs_a_frozen_accuracy_near_half_argues_against_imbalance():
    _, says = _imbalance(None, "0.613x30")
    assert any("near-balanced" in s for s in says), says
    _, says_high = _imbalance(None, "0.9x30")
    assert not any("near-balanced" in s for s in says_high)
