"""Tests generated from the rule files' own cases: ``pytest -k LOSS003`` runs one rule."""

from __future__ import annotations

import pytest

from traindx.rules.loader import load_rulebook
from traindx.rules.testing import run_case

BOOK = load_rulebook()
CASES = [(s, c) for s in [*BOOK.symptoms, *BOOK.requirements] for c in s.cases]


@pytest.mark.parametrize(("sym", "case"), CASES, ids=[f"{s.code}_{c.name}" for s, c in CASES])
def test_rule_case(sym, case):
    res = run_case(sym, case)
    assert res.ok, f"{res.id}: {res.message}"


@pytest.mark.parametrize("sym", [*BOOK.symptoms, *BOOK.requirements], ids=[s.code for s in [*BOOK.symptoms, *BOOK.requirements]])
def test_rule_has_fire_and_no_fire_cases(sym):
    fires = {c.fires for c in sym.cases}
    assert fires == {True, False}, f"{sym.code} needs at least one must-fire and one must-not-fire case"


@pytest.mark.parametrize(("key", "says"), [("acc", "'train/accuracy'"), ("val_acc", "'val/accuracy'")])
def test_a_case_series_under_an_alias_no_fact_reads_is_refused(key, says):
    # 'acc' is what a reader maps to accuracy; in a case it is a metric of its own that no
    # signal reads, so the case would pass without exercising the rule
    from pydantic import ValidationError

    from traindx.rules.model import Case

    with pytest.raises(ValidationError, match=f"no fact reads metric .*; write {says}"):
        Case(name="c", series={key: "0.5x10"}, fires=True)
    Case(name="c", series={"val/map": "0.5x10", "mae": "1x10", "val/accuracy": "0.5x10"}, fires=True)
