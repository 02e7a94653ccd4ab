"""References between rule conditions (``fired.CODE``, ``shared.NAME``; traindx/rules/refs.py):
each piece of logic is written once, resolved at load in dependency order, cycles and
unknown names rejected with a one-line error naming the rule (issue 15)."""

from __future__ import annotations

import json

import pytest
from user_rules import symptom

from traindx.engine import check
from traindx.errors import RulebookError
from traindx.rules.expr import tokenize
from traindx.rules.loader import load_rulebook
from traindx.rules.refs import has_refs


def rules(tmp_path, symptoms: dict[str, str], *, evidence: str | None = None, conditions: str = ""):
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    body = "symptoms:\n" + "".join(symptom(c, w) for c, w in symptoms.items())
    body += "causes:\n  - id: too_few_epochs\n    explains: {" + ", ".join(f"{c}: 3.0" for c in symptoms) + "}\n"
    if evidence is not None:
        body += f"    evidence:\n      - {{when: {json.dumps(evidence)}, lr: 2.0, says: mine}}\n"
    (d / "mine.yaml").write_text(body + conditions)
    return d


def user_evidence(book):
    return book.cause("too_few_epochs").evidence[-1]


def test_a_symptom_reference_is_its_condition_written_out(tmp_path):
    book = load_rulebook([rules(tmp_path, {"USR001": "loss.n >= 20 && loss.last < 5.0"}, evidence="fired.USR001 && loss.first > 1.0")])
    ev = user_evidence(book)
    assert ev.when == "fired.USR001 && loss.first > 1.0"  # as written: what `traindx explain` shows
    assert ev.condition.source == "(loss.n >= 20 && loss.last < 5.0) && loss.first > 1.0"
    assert check(ev.condition, {"loss": {"n": 30, "last": 1.0, "first": 2.0}}).value is True
    assert check(ev.condition, {"loss": {"n": 3, "last": 1.0, "first": 2.0}}).value is False


def test_shared_conditions_and_chains_resolve_in_dependency_order(tmp_path):
    conds = """conditions:
  - {name: long_run, when: "loss.n >= 20", about: a run of twenty points or more}
  - {name: long_and_low, when: "shared.long_run && loss.last < 5.0", about: long and ending below five}
"""
    d = rules(tmp_path, {"USR001": "shared.long_and_low", "USR002": "fired.USR001 && loss.first > 1.0"}, conditions=conds)
    book = load_rulebook([d])
    assert book.symptom("USR002").condition.source == "((loss.n >= 20) && loss.last < 5.0) && loss.first > 1.0"
    assert not has_refs(book.symptom("USR002").condition.source)


def test_a_reference_to_an_undecidable_symptom_is_undecided_not_false(tmp_path):
    """``!fired.X`` must not hold where X cannot be evaluated (its facts were not logged):
    the reference keeps CEL's three-valued logic, as the written-out condition would."""
    book = load_rulebook([rules(tmp_path, {"USR001": "val_loss.n >= 20"}, evidence="!fired.USR001 && loss.n > 0")])
    out = check(user_evidence(book).condition, {"loss": {"n": 30}, "val_loss": {}})
    assert out.value is None


@pytest.mark.parametrize(
    ("syms", "says"),
    [
        ({"USR001": "fired.USR002 && loss.n > 0", "USR002": "fired.USR001"}, "symptom USR002: its condition refers to itself (fired.USR001 -> fired.USR002 -> fired.USR001)"),
        ({"USR001": "fired.USR001 || loss.n > 0"}, "symptom USR001: its condition refers to itself (fired.USR001 -> fired.USR001)"),
        ({"USR001": "fired.USR999 && loss.n > 0"}, "symptom USR001: fired.USR999 names no symptom code 'USR999'"),
        ({"USR001": "shared.nothing && loss.n > 0"}, "symptom USR001: shared.nothing names no shared condition 'nothing'"),
        ({"USR001": "fired.USR002 + 1.0 > 0.0", "USR002": "loss.n > 0"}, "symptom USR001: when: type error"),
    ],
)
def test_cycles_unknown_names_and_bad_expansions_are_one_line_errors_naming_the_rule(tmp_path, syms, says):
    with pytest.raises(RulebookError) as e:
        load_rulebook([rules(tmp_path, syms)])
    msg = str(e.value)
    assert says in msg and "mine.yaml:" in msg and "\n" not in msg, msg


def test_a_shared_condition_defined_twice_is_an_error(tmp_path):
    conds = """conditions:
  - {name: long_run, when: "loss.n >= 20", about: a run of twenty points or more}
  - {name: long_run, when: "loss.n >= 30", about: a run of thirty points or more}
"""
    with pytest.raises(RulebookError, match="shared condition long_run is defined twice"):
        load_rulebook([rules(tmp_path, {"USR001": "shared.long_run"}, conditions=conds)])


def test_the_shipped_rulebook_writes_each_shared_condition_once():
    """The rewritten duplicates (issue 15): the two causes that read frozen batch-norm with raw
    inputs share one definition, and the evidence that restated CTX011, CTX012 and CTX026's
    tests now names them; every resolved condition is plain CEL."""
    book = load_rulebook()
    ev = {f"{c.id}#{i + 1}": e for c in book.causes for i, e in enumerate(c.evidence)}
    frozen = [k for k, e in ev.items() if e.when == "shared.diverged_on_raw_inputs_with_frozen_batchnorm"]
    assert sorted(frozen) == ["inputs_not_normalized#6", "lr_too_high#1", "train_mode_not_set#1"]
    assert "(has(ctx.training_mode) && ctx.training_mode == false)" in ev["train_mode_not_set#1"].condition.source
    assert any(e.when == "fired.CTX011" for e in book.cause("lr_too_high").evidence)
    assert any(e.when == "fired.CTX012" for e in book.cause("batch_size_bad").evidence)
    conds = [s.condition for s in book.symptoms] + [e.condition for e in ev.values()] + [r.condition for r in book.requirements]
    assert not any(t.text in ("fired", "shared") for c in conds for t in tokenize(c.source))


def test_explain_shows_a_reference_as_written_and_written_out(capsys):
    from traindx.cli import main

    assert main(["explain", "batch_size_bad"]) == 0
    out = capsys.readouterr().out
    assert "when fired.CTX012" in out and "= ctx.batch_size <= 2 && ctx.has_batchnorm == true" in out


def test_no_compound_condition_is_written_whole_twice():
    """benchmarks/rule_duplicates.py: the rulebook names shared logic (`shared.NAME`,
    `fired.CODE`) instead of copying it; a rule that pastes another's compound condition, or a
    whole symptom condition, fails here. (Bare facts such as loss.has_nonfinite are not logic.)"""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "rule_duplicates.py"
    spec = importlib.util.spec_from_file_location("rule_duplicates", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    found = mod.duplicates(mod.rules())
    assert found["B"] == []
    assert sorted(name for name, _, _ in found["A"]) == ["GRAD003", "LOSS001"]  # grad/loss.has_nonfinite
    # a pasted copy is found: the frozen batch-norm evidence written out again
    pasted = [*mod.rules(), ("x#1", "evidence", "ctx.training_mode == false && ctx.has_batchnorm == true && loss.n > 0"),
              ("y#1", "evidence", "ctx.training_mode == false && ctx.has_batchnorm == true && loss.n > 0")]  # fmt: skip
    assert len(mod.duplicates(pasted)["B"]) == 1
