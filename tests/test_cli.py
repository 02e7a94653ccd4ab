"""The CLI end to end on small logs written here (the fixture runs are tested elsewhere)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from traindx.cli import main


def _keras_csv(path, *, overfit: bool) -> None:
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for e in range(30):
        loss = 2.3 * 0.85**e + 0.02
        vl = 2.3 * 0.85 ** min(e, 8) + 0.06 * max(0, e - 8) + 0.05 if overfit else 1.1 * loss + 0.05
        lines.append(f"{e},{1 - loss / 2.5:.4f},{loss:.4f},{1 - vl / 2.5:.4f},{vl:.4f}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def logs(tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "overfit").mkdir()
    _keras_csv(tmp_path / "good" / "training.csv", overfit=False)
    _keras_csv(tmp_path / "overfit" / "training.csv", overfit=True)
    return tmp_path


def test_diagnose_json_lists_every_run(logs, capsys):
    # the rules' ranking (the learned layer reads this toy run, whose validation accuracy
    # falls to near chance, as distribution_shift; the JSON's shape is what is tested here)
    assert main(["diagnose", str(logs), "--json", "--no-learned"]) == 0
    out = json.loads(capsys.readouterr().out)
    by_id = {r["run_id"]: r for r in out["runs"]}
    assert set(by_id) == {"good", "overfit"}
    assert by_id["good"]["healthy"] is True
    bad = by_id["overfit"]
    assert bad["healthy"] is False
    assert bad["causes"][0]["id"] == "overfitting"
    assert 0.5 < bad["causes"][0]["probability"] <= 1.0
    assert any(s["code"] == "GEN001" for s in bad["symptoms"])


def test_fail_on_sets_exit_code(logs):
    assert main(["diagnose", str(logs / "good"), "--fail-on", "warning"]) == 0
    assert main(["diagnose", str(logs / "overfit"), "--fail-on", "warning"]) == 1
    assert main(["diagnose", str(logs / "overfit"), "--fail-on", "error"]) == 0


def test_terminal_report_healthy_is_the_verdict_and_what_it_did_not_rule_out(logs, capsys):
    main(["diagnose", str(logs / "good")])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and "healthy" in out[0]
    assert out[1].startswith("  not ruled out: ") and "data_leakage" in out[1]


def test_missing_path_is_one_line_exit_2(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope" in err and "no such file" in err


def test_unrecognized_names_say_how_to_map(tmp_path, capsys):
    p = tmp_path / "run" / "log.csv"
    p.parent.mkdir()
    p.write_text("step,foo,bar\n" + "".join(f"{i},{2.3 * 0.9**i},{i}\n" for i in range(20)))
    assert main(["diagnose", str(p.parent)]) == 2
    err = capsys.readouterr().err
    assert "--map" in err
    # ... and --map fixes it
    assert main(["diagnose", str(p.parent), "--map", "foo=loss", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"][0]["healthy"] is True


def test_bad_map_option(logs, capsys):
    assert main(["diagnose", str(logs), "--map", "nonsense"]) == 2
    assert "--map" in capsys.readouterr().err


def test_series_shows_mapping(logs, capsys):
    assert main(["series", str(logs / "good")]) == 0
    out = capsys.readouterr().out
    assert "val/loss" in out and "val_loss" in out


def test_explain_symptom_and_cause(capsys):
    assert main(["explain", "LOSS003"]) == 0
    out = capsys.readouterr().out
    for section in ("What it does", "Why it matters", "Known false positives"):
        assert section in out
    assert main(["explain", "lr_too_high"]) == 0
    assert "Fixes" in capsys.readouterr().out
    assert main(["explain", "NOPE999"]) == 2


def test_explain_hangs_wrapped_lines_under_their_text():
    """On a narrow terminal a paragraph wraps under its first character, as diagnose's
    report does (traindx/report/layout.py), not at column 0."""
    import io

    from rich.console import Console

    from traindx.cli.rulebook import explain
    from traindx.rules.loader import load_rulebook

    book = load_rulebook()
    for name, indent in (("LOSS003", "  "), ("lr_too_high", "  - ")):
        buf = io.StringIO()
        console = Console(file=buf, width=60, no_color=True, highlight=False)
        for line in explain(book, name):
            console.print(line)
        lines = buf.getvalue().splitlines()
        assert max(len(x) for x in lines) <= 60
        body = [x for x in lines if x.startswith(indent)]
        following = [lines[i + 1] for i, x in enumerate(lines[:-1]) if x.startswith(indent) and lines[i + 1].strip()]
        assert body and following
        # every line is a heading (flush left), a blank, or indented; nothing wraps to column 0 inside a section
        headings = {"What it does", "Why it matters", "Known false positives", "Condition", "Written out", "Evidence", "Fixes",
                    "Causes it points to (likelihood ratio)", "Symptoms it explains (likelihood ratio)"}  # fmt: skip
        after_head = lines[lines.index("") :]  # the name, summary and file lines wrap as they may
        flush = [x for x in after_head if x and not x.startswith(" ")]
        assert set(flush) <= headings, set(flush) - headings


def test_rules_lists_everything(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "LOSS001" in out and "overfitting" in out


def test_schema_is_json(capsys):
    for which in ("report", "run", "context"):
        assert main(["schema", which]) == 0
        assert json.loads(capsys.readouterr().out)["type"] == "object"


def test_test_rules_passes(capsys):
    assert main(["test-rules"]) == 0
    assert " 0 failed" in capsys.readouterr().out


def test_user_rulebook_adds_a_rule(tmp_path, logs, capsys):
    rule = tmp_path / "rules" / "mine.yaml"
    rule.parent.mkdir()
    rule.write_text(
        """
symptoms:
  - code: MINE001
    slug: long-run
    summary: Run has more than 20 epochs
    severity: warning
    when: loss.n >= 20
    docs: {what: Fires on long runs of 20 points or more., why: A demo of user rules here., false_positives: none known}
    cases:
      - {name: long, series: {loss: "1x30"}, fires: true}
      - {name: short, series: {loss: "1x5"}, fires: false}
causes:
  - id: too_few_epochs          # no prior: adds MINE001 to the shipped cause
    explains: {MINE001: 3.0}
    fixes: [{text: "a user fix"}]
"""
    )
    assert main(["test-rules", "--rulebook", str(rule.parent)]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(logs / "good"), "--rulebook", str(rule.parent), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert any(s["code"] == "MINE001" for s in run["symptoms"])
    assert run["causes"][0]["id"] == "too_few_epochs"


def test_broken_rule_file_names_file_and_line(tmp_path, logs, capsys):
    rule = tmp_path / "bad.yaml"
    rule.write_text("symptoms:\n  - code: BAD001\n    slug: x\n    summary: s\n    severity: fatal\n")
    assert main(["diagnose", str(logs / "good"), "--rulebook", str(rule)]) == 2
    err = capsys.readouterr().err
    assert f"{rule}:5:" in err and "severity" in err  # the line of the bad key


def test_rule_with_unparsable_condition(tmp_path, logs, capsys):
    rule = tmp_path / "bad.yaml"
    rule.write_text(
        "symptoms:\n  - code: BAD001\n    slug: x\n    summary: s\n    severity: error\n    when: 'loss.n >'\n"
        "    docs: {what: aaaaaaaaaaaa, why: bbbbbbbbbbbbb, false_positives: none}\n"
        "    cases: [{name: a, fires: true}, {name: b, fires: false}]\n"
    )
    assert main(["diagnose", str(logs / "good"), "--rulebook", str(rule)]) == 2
    err = capsys.readouterr().err
    assert str(rule) in err and "does not parse" in err


def test_text_where_numbers_belong_is_reported_not_fatal(tmp_path, capsys):
    p = tmp_path / "run" / "metrics.csv"
    p.parent.mkdir()
    rows = [f"{i},{2.3 * 0.9**i:.4f}" for i in range(30)]
    rows[10] = "10,abc"
    p.write_text("step,loss\n" + "\n".join(rows) + "\n")
    assert main(["diagnose", str(p.parent)]) == 0
    out = capsys.readouterr().out
    assert "abc" in out and "metrics.csv" in out


def test_nan_loss_is_an_error_finding(tmp_path, capsys):
    p = tmp_path / "run" / "metrics.csv"
    p.parent.mkdir()
    vals = list(2.3 * 0.97 ** np.arange(40)) + [float("nan")] * 5
    p.write_text("step,loss\n" + "".join(f"{i},{v}\n" for i, v in enumerate(vals)))
    assert main(["diagnose", str(p.parent), "--fail-on", "error", "--json"]) == 1
    run = json.loads(capsys.readouterr().out)["runs"][0]
    sym = next(s for s in run["symptoms"] if s["code"] == "LOSS001")
    assert sym["onset_step"] == 40
