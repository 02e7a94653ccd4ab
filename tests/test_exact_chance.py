"""A loss that starts AT ln(K) (within 0.1 %) and never leaves it is the zero/constant-init
signature: identical outputs for every class from the first step give exactly ln K, a random
init a few % above. Labelled corpus, every input kind: 44 of 174 bad_weight_init runs against
123 of 3,932 other faulty runs and 1 of 2,436 healthy (x8, weighed at 4)."""

from __future__ import annotations

from pathlib import Path

import traindx
from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()
KERAS = (Path(__file__).resolve().parent.parent / "fixtures" / "qa_real42" / "logs"
         / "kb_wine_dense_kernel_initializer_zeros_sgd_callback_csvlogger_semicolon_tf")


def _init_says(loss: str) -> list[str]:
    d = diagnose_run(case_run(Case(name="c", series={"loss": loss, "accuracy": "0.398x30"}, fires=True)), BOOK)
    return [e.says for c in d.causes if c.id == "bad_weight_init" for e in c.evidence]


def test_a_loss_at_exactly_ln3_throughout_is_evidence_of_a_constant_init():
    assert any("never leaves it" in s for s in _init_says("1.0986x30 ~0.002"))


def test_a_random_init_a_few_percent_above_ln3_is_not():
    assert not any("never leaves it" in s for s in _init_says("1.13x30 ~0.002"))


def test_the_rules_rank_the_keras_zero_init_run_bad_weight_init_first():
    d = traindx.diagnose(KERAS / "buggy", learned=False)[0]
    assert d.causes[0].id == "bad_weight_init", [(c.id, round(c.probability, 2)) for c in d.causes[:3]]


def test_units_dead_from_the_start_share_the_signature():
    d = diagnose_run(case_run(Case(name="c", series={"loss": "1.0986x30 ~0.002", "accuracy": "0.398x30"},
                                   fires=True)), BOOK)
    assert any("units dead from the start" in e.says for c in d.causes if c.id == "dying_relu" for e in c.evidence)
