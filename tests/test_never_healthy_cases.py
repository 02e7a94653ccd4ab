"""Issue 10's invariants as rulebook data: a run a ``never_healthy`` symptom fires on (a
validation metric collapsing to zero, validation accuracy at chance while training learns,
test metrics far from validation) is never called healthy, whatever the learned layer says.

The refitted layer of the last session (92c05a0) gave an Ultralytics run whose mAP fell to
exactly 0 at one epoch p(healthy) 0.28 against 0.28 for its likeliest fault and called it
healthy: the layer weighs what it saw on labelled runs, and a warning it may clear is one it
saw on healthy runs. Which symptoms it may never clear is marked on each symptom
(``never_healthy: true``, beside its cases); every must-fire case of such a symptom is then a
run the verdict must call "findings"."""

from __future__ import annotations

import json

import pytest

from traindx.engine import diagnose_run
from traindx.errors import RulebookError
from traindx.learned import from_json, load_model
from traindx.rerank import clearable, says_healthy
from traindx.rules.loader import builtin_dir, load_rulebook
from traindx.rules.testing import case_run

BOOK = load_rulebook()
NEVER = [(s, c) for s in BOOK.symptoms if s.never_healthy for c in s.cases if c.fires]

DOCS = "{what: Fires in this test only., why: A user rule under test., false_positives: none known}"
CASES = '[{name: a, series: {loss: "1x30"}, fires: true}, {name: b, series: {loss: "1x3"}, fires: false}]'


def test_the_shipped_never_healthy_symptoms():
    # the issue's: a validation metric that collapses to zero (GEN010), validation accuracy at
    # chance while training learns (GEN007), test metrics far from validation (GEN008), a model
    # that answers one class (ACC010: recall 0 / the majority's macro-F1 with accuracy frozen;
    # qa_real40's 3 %-positive run was cleared at p(healthy) 43 %), a class-averaged metric at
    # <= 0.5 far below accuracy (ACC021: qa_fresh44's macro recall 0.27 beside accuracy 0.907
    # was cleared at p(healthy) 80 %); a NaN validation loss
    # (GEN006) and an accuracy collapse (ACC006) are errors, never cleared
    marked = {s.code for s in BOOK.symptoms if s.never_healthy}
    assert {"GEN007", "GEN008", "GEN010", "ACC010", "ACC015", "ACC021"} <= marked
    assert all(BOOK.never_healthy(c) for c in ("GEN006", "ACC006", "LOSS001", *marked))
    assert not BOOK.never_healthy("GEN009") and not BOOK.never_healthy("LOSS007")  # weak: the layer may clear them


@pytest.mark.parametrize(("sym", "case"), NEVER, ids=[f"{s.code}_{c.name}" for s, c in NEVER])
def test_a_must_fire_case_is_a_finding(sym, case):
    d = diagnose_run(case_run(case, f"{sym.code}_{case.name}"), BOOK)
    alarms = {s.code: s.severity for s in d.symptoms if s.severity != "info"}
    assert sym.code in alarms and d.verdict == "findings", (d.headline, alarms)
    assert not clearable(BOOK, set(alarms), alarms)


def test_a_layer_sure_the_run_is_healthy_still_cannot_clear_them():
    # the shipped layer with its healthy class raised far above every fault: it says healthy
    # on any run; the verdict's gate still keeps these findings, and clears a weak warning
    data = load_model(builtin_dir() / "learned", "logs").to_json()
    h = data["classes"].index("healthy")
    data["intercept"] = [v + (50.0 if i == h else 0.0) for i, v in enumerate(data["intercept"])]
    sure = from_json(json.loads(json.dumps(data)))
    assert says_healthy(sure, BOOK, 0.99, 0.01)
    for code in ("GEN010", "GEN007", "GEN008", "ACC010"):
        assert not clearable(BOOK, {code, "LOSS007"}, {code: "warning", "LOSS007": "warning"}), code
    assert clearable(BOOK, {"LOSS007", "GEN009"}, {"LOSS007": "warning", "GEN009": "warning"})


def _user_rules(tmp_path, extra_symptom: str = "", settings: str = "") -> object:
    d = tmp_path / "rules"
    d.mkdir(parents=True, exist_ok=True)
    (d / "mine.yaml").write_text(f"""\
symptoms:
  - code: USR001
    slug: user-rule
    summary: A user rule
    severity: warning
{extra_symptom}    when: "loss.n_finite >= 5"
    docs: {DOCS}
    cases: {CASES}
causes:
  - id: too_few_epochs
    explains: {{USR001: 3.0}}
{settings}""")
    return d


def test_a_user_rule_marked_never_healthy(tmp_path):
    book = load_rulebook([_user_rules(tmp_path, "    never_healthy: true\n")])
    assert book.never_healthy("USR001") and not clearable(book, {"USR001"}, {"USR001": "warning"})
    plain = load_rulebook([_user_rules(tmp_path / "b")])
    assert not plain.never_healthy("USR001") and clearable(plain, {"USR001"}, {"USR001": "warning"})
    listed = load_rulebook([_user_rules(tmp_path / "c", settings="settings:\n  learned_keeps: [USR001]\n")])
    assert listed.never_healthy("USR001")  # the settings' list still counts


def test_never_healthy_on_an_info_symptom_is_refused_naming_the_file(tmp_path):
    d = _user_rules(tmp_path, "    never_healthy: true\n")
    (d / "mine.yaml").write_text((d / "mine.yaml").read_text().replace("severity: warning", "severity: info"))
    with pytest.raises(RulebookError, match=r"mine\.yaml.*USR001: never_healthy needs severity warning or error"):
        load_rulebook([d])
