"""User rule files (``--rulebook DIR``) are validated at load and cannot hang or crash the
engine: each hostile file below crashed, hung or was silently accepted before (issue 9 s6)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from user_rules import CASES, DOCS, symptom

import traindx
from traindx.cli import main
from traindx.engine import check
from traindx.errors import RulebookError
from traindx.rules.loader import load_rulebook
from traindx.rules.parse import load_file


def rule_file(tmp_path, when: str, *, code: str = "USR001", extra: str = "", name: str = "mine.yaml"):
    """A user rule directory with one symptom (condition ``when``) linked to a shipped cause."""
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    body = "symptoms:\n" + symptom(code, when) + f"""\
causes:
  - id: too_few_epochs
    explains: {{{code}: 3.0}}
{extra}"""
    (d / name).write_text(body)
    return d


@pytest.fixture
def run_dir(tmp_path):
    p = tmp_path / "run" / "training.csv"
    p.parent.mkdir()
    p.write_text("epoch,loss,val_loss\n" + "".join(f"{e},{2.3 * 0.9**e:.4f},{2.4 * 0.9**e:.4f}\n" for e in range(30)))
    return p.parent


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in a subprocess: a crash (segfault) or hang fails the test, not the suite."""
    return subprocess.run([sys.executable, "-m", "traindx.cli", *args], capture_output=True, text=True, timeout=timeout)


def load_error(capsys, run_dir, rules) -> str:
    assert main(["diagnose", str(run_dir), "--rulebook", str(rules)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


# ---------------------------------------------------------------- crashes and hangs


def test_a_100k_term_expression_is_refused_not_a_segfault(tmp_path, run_dir):
    rules = rule_file(tmp_path, " + ".join(["loss.n"] * 100_000) + " > 0")
    res = cli("diagnose", str(run_dir), "--rulebook", str(rules))
    assert res.returncode == 2, res.stderr[-500:]
    assert f"{rules / 'mine.yaml'}:6:" in res.stderr and "characters long" in res.stderr


def test_nested_comprehensions_are_refused_not_run_for_minutes(tmp_path, run_dir):
    cond = "loss.n > 0"
    for i in range(7):
        cond = f"[1,2,3,4,5,6,7,8,9,10].all(x{i}, x{i} > 0 && ({cond}))"
    rules = rule_file(tmp_path, cond)
    res = cli("diagnose", str(run_dir), "--rulebook", str(rules), timeout=60)
    assert res.returncode == 2 and "comprehensions" in res.stderr and ":6:" in res.stderr


def test_a_yaml_alias_bomb_is_refused(tmp_path, run_dir):
    lines = ["settings:", '  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    d = tmp_path / "bomb"
    d.mkdir()
    (d / "bomb.yaml").write_text("\n".join(lines) + "\n")
    assert (d / "bomb.yaml").stat().st_size < 600
    res = cli("diagnose", str(run_dir), "--rulebook", str(d), timeout=60)
    assert res.returncode == 2 and "aliases" in res.stderr and "bomb.yaml:3" in res.stderr


def test_deeply_nested_yaml_is_an_error(tmp_path, run_dir, capsys):
    d = tmp_path / "deep"
    d.mkdir()
    (d / "deep.yaml").write_text("settings: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested more than" in load_error(capsys, run_dir, d)


def test_a_non_utf8_file_names_its_line(tmp_path, run_dir, capsys):
    d = tmp_path / "latin"
    d.mkdir()
    (d / "latin.yaml").write_bytes(b"symptoms: []\n# caf\xe9\n")
    err = load_error(capsys, run_dir, d)
    assert "latin.yaml:2" in err and "UTF-8" in err


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ("{symptoms: []}", "symptoms: Extra inputs are not permitted"),
        ("{unknwn_prior: 0.1}", "unknwn_prior: Extra inputs"),
        ("{unknown_prior: 0}", "unknown_prior: Input should be greater than 0"),
        ("{unexplained_lr: .nan}", "unexplained_lr"),
        ("[1, 2]", "'settings' must be a mapping"),
    ],
)
def test_settings_are_validated(tmp_path, run_dir, capsys, settings, says):
    d = tmp_path / "s"
    d.mkdir()
    (d / "s.yaml").write_text(f"# my settings\nsettings: {settings}\n")
    err = load_error(capsys, run_dir, d)
    assert says in err and "s.yaml:2" in err


def test_evaluation_errors_are_contained_as_not_evaluated(tmp_path, run_dir, capsys):
    rules = rule_file(tmp_path, "loss.n / 0 > 1")
    rule_file(tmp_path, "9223372036854775807 + loss.n > 0", code="USR002", name="ovf.yaml")
    assert main(["diagnose", str(run_dir), "--rulebook", str(rules)]) == 0
    out = capsys.readouterr().out
    assert "USR001: error ZeroDivisionError" in out and "USR002: error OverflowError" in out
    assert main(["diagnose", str(run_dir), "--rulebook", str(rules), "--json"]) == 0
    notes = {n["rule"]: n for n in json.loads(capsys.readouterr().out)["runs"][0]["not_evaluated"]}
    assert "division by zero" in notes["USR001"]["error"] and "overflow" in notes["USR002"]["error"].lower()
    # test-rules reports them as failures, it does not crash
    assert main(["test-rules", "--rulebook", str(rules)]) == 1
    assert "USR001_a: not evaluated: error ZeroDivisionError" in capsys.readouterr().out


# ---------------------------------------------------------------- accepted silently before


def test_a_typo_in_a_fact_name_is_an_error_with_a_suggestion(tmp_path, run_dir, capsys):
    err = load_error(capsys, run_dir, rule_file(tmp_path, "loss.firts > 1 && has(loss.first)"))
    assert "mine.yaml:6" in err and "unknown fact loss.firts" in err and "loss.first" in err
    err = load_error(capsys, run_dir, rule_file(tmp_path, "los.first > 1"))
    assert "unknown fact group 'los'" in err and "'loss'" in err


def test_adapter_context_facts_are_in_the_catalogue(tmp_path, run_dir):
    # flags the adapters record (context.json) and the context's own fields load
    rules = rule_file(tmp_path, "has(ctx.target_onehot) && ctx.init_scale_min < 0.1 && ctx.batch_size > 1")
    assert load_rulebook([rules]).symptom("USR001") is not None
    with pytest.raises(RulebookError, match="ctx.grad_acumulating"):
        load_rulebook([rule_file(tmp_path, "ctx.grad_acumulating")])


@pytest.mark.parametrize(
    ("when", "says"),
    [("loss.n + 1", "must be true or false"), ("loss.first + 1 > 2", "type error"), ("ctx.optimizer > 1", "type error")],
)
def test_conditions_must_be_boolean_and_well_typed(tmp_path, run_dir, capsys, when, says):
    assert says in load_error(capsys, run_dir, rule_file(tmp_path, when))


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("onset", "loss.min_stp", "onset: unknown fact loss.min_stp"),
        ("shows", "[loss.first, loss.lst]", "shows.1: unknown fact loss.lst"),
    ],
)
def test_fact_paths_are_checked(tmp_path, run_dir, capsys, field, value, says):
    rules = rule_file(tmp_path, "loss.n > 20")
    f = rules / "mine.yaml"
    f.write_text(f.read_text().replace("    severity: warning\n", f"    severity: warning\n    {field}: {value}\n"))
    err = load_error(capsys, run_dir, rules)
    assert says in err and "mine.yaml:6" in err


def test_placeholders_in_fix_texts_are_checked(tmp_path, run_dir, capsys):
    rules = rule_file(tmp_path, "loss.n > 20", extra='    fixes: [{text: "train past epoch {loss.last_stp}"}]\n')
    assert "placeholder {loss.last_stp}" in load_error(capsys, run_dir, rules)


def test_duplicate_codes_are_an_error(tmp_path, run_dir, capsys):
    rule_file(tmp_path, "loss.n > 20", name="a.yaml")
    rules = rule_file(tmp_path, "loss.n > 25", name="b.yaml")
    err = load_error(capsys, run_dir, rules)
    assert "code USR001 is defined twice" in err and "a.yaml:2" in err and "b.yaml:2" in err


def test_replacing_a_shipped_rule_needs_the_override_flag(tmp_path, run_dir, capsys):
    d = tmp_path / "shadow"
    d.mkdir()
    (d / "shadow.yaml").write_text(
        "causes:\n  - id: nonfinite_in_data\n    prior: 0.5\n    explains: {LOSS001: 3.0}\n    fixes: [{text: mine}]\n"
    )
    err = load_error(capsys, run_dir, d)
    assert "cause nonfinite_in_data is already defined by the shipped rulebook" in err and "--override-shipped" in err
    with pytest.raises(RulebookError, match="already defined"):
        traindx.diagnose(run_dir, rulebook=[d])
    book = load_rulebook([d], override_shipped=True)
    assert book.overridden == ["nonfinite_in_data"] and book.cause("nonfinite_in_data").prior == 0.5
    assert main(["diagnose", str(run_dir), "--rulebook", str(d), "--override-shipped"]) == 0
    assert main(["rules", "--rulebook", str(d), "--override-shipped"]) == 0
    # re-rating a symptom a shipped cause already explains is a replacement too
    (d / "shadow.yaml").write_text("causes:\n  - id: nonfinite_in_data\n    explains: {LOSS001: 30.0}\n")
    with pytest.raises(RulebookError, match="ratio nonfinite_in_data.LOSS001 is already defined"):
        load_rulebook([d])
    assert load_rulebook([d], override_shipped=True).cause("nonfinite_in_data").explains["LOSS001"] == 30.0


def test_a_cause_without_prior_extends_the_shipped_cause(tmp_path):
    shipped = load_rulebook().cause("too_few_epochs")
    book = load_rulebook([rule_file(tmp_path, "loss.n > 20", extra='    fixes: [{text: "a user fix"}]\n')])
    cause = book.cause("too_few_epochs")
    assert cause.explains == {**shipped.explains, "USR001": 3.0}
    assert cause.prior == shipped.prior and [f.text for f in cause.fixes][-1] == "a user fix"
    assert not book.overridden


def test_test_rules_works_for_a_valid_user_rulebook(tmp_path, capsys):
    assert main(["test-rules", "--rulebook", str(rule_file(tmp_path, "loss.n >= 20"))]) == 0
    assert " 0 failed" in capsys.readouterr().out


def test_case_series_and_context_are_validated_at_load(tmp_path, run_dir, capsys):
    rules = rule_file(tmp_path, "loss.n >= 20")
    f = rules / "mine.yaml"
    f.write_text(f.read_text().replace('"1x30"', '"1x999999999"'))
    assert "at most 100,000 points" in load_error(capsys, run_dir, rules)
    f.write_text(f.read_text().replace('"1x999999999"}, fires: true', '"1x30"}, context: {data: {n_train: lots}}, fires: true'))
    assert "context" in load_error(capsys, run_dir, rules)


# ---------------------------------------------------------------- fuzzing

_ATOMS = ["loss.n", "loss.first", "ctx.lr", "1", "0", "2.5", "true", "'adam'", "ctx.optimizer", "[1, 2]", "x", "9223372036854775807"]
_OPS = [" + ", " - ", " * ", " / ", " % ", " < ", " == ", " && ", " || ", " in "]


@st.composite
def _condition(draw, depth: int = 0) -> str:
    if depth > 3 or draw(st.booleans()):
        return draw(st.sampled_from(_ATOMS))
    kind = draw(st.sampled_from(["op", "paren", "not", "all", "has", "size"]))
    if kind == "op":
        return draw(_condition(depth + 1)) + draw(st.sampled_from(_OPS)) + draw(_condition(depth + 1))
    inner = draw(_condition(depth + 1))
    return {"paren": f"({inner})", "not": f"!{inner}", "all": f"[1, 2].all(x, {inner})",
            "has": "has(loss.first)", "size": f"size({inner}) > 0"}[kind]  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(when=_condition())
def test_fuzz_conditions_load_or_fail_cleanly_and_never_raise_at_evaluation(tmp_path, when):
    f = tmp_path / "fuzz.yaml"
    f.write_text(f"symptoms:\n  - {{code: USR001, slug: u, summary: s, severity: info, when: {json.dumps(when)},\n"
                 f"      docs: {DOCS}, cases: {CASES}}}\n")  # fmt: skip
    try:
        (sym,), *_ = load_file(f)
    except RulebookError:
        return
    cond = sym.condition
    for facts in ({}, {"loss": {"n": 0, "first": 0.0}}, {"loss": {"n": 3, "first": -1.0}, "ctx": {"lr": 0.0, "optimizer": ""}}):
        out = check(cond, facts)
        assert out.value in (True, False) or out.needs or out.error


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=300), st.text(alphabet="symptoms:causes- &*[]{}\n\t'\"#!|>x1.", max_size=300)))
def test_fuzz_rule_files_load_or_fail_with_a_rulebook_error(tmp_path, data):
    f = tmp_path / "fuzz.yaml"
    f.write_bytes(data if isinstance(data, bytes) else data.encode())
    try:
        load_file(f)
    except RulebookError as e:
        assert str(e).startswith(str(f)) and "\n" not in str(e).strip()
