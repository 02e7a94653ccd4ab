"""The fact catalogue rule files are checked against, and the bounds on conditions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import traindx
from traindx.engine import check
from traindx.rules.catalogue import ADAPTER_FLAGS, catalogue, cel_type
from traindx.rules.expr import MAX_CHARS, check_bounds, references, tokenize
from traindx.rules.model import Condition
from traindx.signals import compute_facts

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
ADAPTER_RUNS = sorted({p.parent for p in LOGS.rglob("context.json")})


def test_the_shipped_rulebook_reads_only_catalogued_facts():
    # load_rulebook checks every condition, fact path and placeholder; this is its smoke test
    from traindx.rules.loader import load_rulebook

    book = load_rulebook()
    assert book.symptoms and book.causes and not book.overridden


@pytest.mark.parametrize("run_dir", ADAPTER_RUNS[::2], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fact_of_a_real_run_is_catalogued_with_its_type(run_dir):
    cat = catalogue()
    for run in traindx.read(run_dir):
        for group, facts in compute_facts(run).items():
            for name, value in facts.items():
                assert cat.get(group, {}).get(name) == cel_type(value), f"{group}.{name} = {value!r}"


def test_every_flag_the_adapters_recorded_is_an_adapter_flag():
    assert ADAPTER_RUNS, "adapter fixtures (context.json) are missing"
    for run_dir in ADAPTER_RUNS:
        flags = json.loads((run_dir / "context.json").read_text()).get("flags", {})
        for name, value in flags.items():
            assert name in ADAPTER_FLAGS, f"{run_dir}: flag {name!r} is not in catalogue.ADAPTER_FLAGS"
            assert isinstance(value, ADAPTER_FLAGS[name]) or (ADAPTER_FLAGS[name] is float and isinstance(value, int)), name


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("loss.n" + " + loss.n" * 500 + " > 0", "characters long"),
        ("(" * 13 + "loss.n" + ")" * 13 + " > 0", "nests brackets 13 deep"),
        ("[" + ",".join(["1"] * 65) + "].exists(x, x == loss.n)", "65 items"),
        ("[1].all(a, [1].all(b, [1].exists(c, c == loss.n)))", "comprehensions"),
    ],
)
def test_conditions_beyond_the_bounds_are_refused_before_cel(text, says):
    with pytest.raises(ValueError, match=says):
        check_bounds(text)


def test_conditions_within_the_bounds_pass():
    assert check_bounds("[1, 2].all(a, [3].exists(b, a < b)) && loss.n > 0")
    assert check_bounds("(" * 12 + "true" + ")" * 12)
    assert len("x" * MAX_CHARS) == MAX_CHARS and check_bounds("x" * MAX_CHARS)


def test_references_name_groups_and_facts_not_bound_variables_or_functions():
    text = "has(ctx.lr) && [1].exists(x, x < loss['first']) && size(ctx.optimizer) > 0 && 'adam' in lr"
    assert [str(r) for r in references(tokenize(text))] == ["ctx.lr", "loss.first", "ctx.optimizer", "lr"]


def test_a_non_boolean_value_at_evaluation_is_an_error_not_a_verdict():
    # the load-time dry run cannot see every branch; evaluation checks the value too
    out = check(Condition(source="loss.n > 3 ? loss.n : false"), {"loss": {"n": 5}})
    assert out.value is None and "not true or false" in (out.error or "")
    out = check(Condition(source="loss.n > 3"), {"val_loss": {}})
    assert out.value is None and out.error is None and out.needs == ["loss"]


def test_facts_command_lists_a_group_and_names_a_typo(capsys):
    from traindx.cli import main

    assert main(["facts", "lr"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lr: ") and "last_over_max (double)" in out
    assert main(["facts", "lrr"]) == 2
    assert "did you mean 'lr'" in capsys.readouterr().err
