"""CLI habits: --version, --select/--ignore (prefixes, like ruff), [tool.traindx] defaults in
the nearest pyproject.toml (overridden by flags; errors name the file and key), and the
progress line on stderr (terminal only, after a second)."""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from traindx import __version__
from traindx.cli import main
from traindx.report.progress import Spinner


def _overfit_csv(path) -> None:
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for e in range(30):
        loss = 2.3 * 0.85**e + 0.02
        vl = 2.3 * 0.85 ** min(e, 8) + 0.06 * max(0, e - 8) + 0.05
        lines.append(f"{e},{1 - loss / 2.5:.4f},{loss:.4f},{1 - vl / 2.5:.4f},{vl:.4f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def overfit(tmp_path):
    _overfit_csv(tmp_path / "runs" / "overfit" / "training.csv")
    return tmp_path / "runs" / "overfit"


def _json(argv, capsys) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"traindx {__version__}"


def test_select_and_ignore_by_prefix(overfit, capsys):
    full = _json(["diagnose", str(overfit)], capsys)
    codes = {s["code"] for s in full["symptoms"]}
    # the learned layer (rulebook/learned/logs.json) reads this toy run, whose validation
    # accuracy falls to 0.2, as distribution_shift; the rules alone say overfitting
    assert "GEN001" in codes and full["causes"][0]["id"] in {"overfitting", "distribution_shift"}
    dropped = _json(["diagnose", str(overfit), "--ignore", "GEN"], capsys)
    assert not any(s["code"].startswith("GEN") for s in dropped["symptoms"])
    only = _json(["diagnose", str(overfit), "--select", "GEN001"], capsys)
    assert {s["code"] for s in only["symptoms"]} == {"GEN001"}
    no_cause = _json(
        ["diagnose", str(overfit), "--ignore", "overfitting,insufficient_data"], capsys
    )
    ids = {c["id"] for c in no_cause["causes"]}
    assert ids and not ids & {"overfitting", "insufficient_data"}
    assert {s["code"] for s in no_cause["symptoms"]} == codes  # causes only: symptoms stay


def test_unknown_selector_is_one_line_error(overfit, capsys):
    assert main(["diagnose", str(overfit), "--select", "NOPE"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--select NOPE" in err and "traindx rules" in err


def test_pyproject_table_found_walking_up_and_flags_override(
    overfit, tmp_path, monkeypatch, capsys
):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.traindx]\nignore = ["GEN"]\nformat = "json"\n'
    )
    monkeypatch.chdir(overfit)  # two levels below the pyproject.toml
    assert main(["diagnose", str(overfit)]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]  # format = "json" from the table
    assert not any(s["code"].startswith("GEN") for s in run["symptoms"])
    assert main(["diagnose", str(overfit), "--ignore", "LOSS", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("!!") and "GEN001" in out  # the flags replaced the table's values


def test_pyproject_without_the_table_is_passed_over(overfit, tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.traindx]\nformat = "json"\n')
    (overfit / "pyproject.toml").write_text('[project]\nname = "inner"\n')  # no [tool.traindx]
    monkeypatch.chdir(overfit)
    assert main(["diagnose", str(overfit)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"]


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('selct = ["GEN"]', "selct: unknown key"),
        ('ignore = "GEN"\nformat = "html"', "format: expected one of text, json, markdown"),
        ("select = [1, 2]", "select: expected a list of rule codes"),
        ("map = { loss = 3 }", "map: expected"),
        ("override-shipped = 1", "override-shipped: expected true or false"),
        ("select = [", "not valid TOML"),
    ],
)
def test_bad_table_names_file_and_key(overfit, tmp_path, monkeypatch, capsys, table, says):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(f"[tool.traindx]\n{table}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["diagnose", str(overfit)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(cfg) in err and says in err


def test_map_and_rulebook_from_the_table(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("step,foo\n" + "".join(f"{i},{2.3 * 0.9**i}\n" for i in range(20)))
    (tmp_path / "pyproject.toml").write_text(
        '[tool.traindx]\nmap = { foo = "loss" }\nrulebook = ["nope"]\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["series", str(run)]) == 0  # series takes --map: foo is the loss
    assert "train/loss" in capsys.readouterr().out
    assert main(["diagnose", str(run)]) == 2  # the rulebook path, resolved next to the file
    assert str(tmp_path / "nope") in capsys.readouterr().err


def _spin(work: float, delay: float, terminal: bool) -> tuple[str, Spinner]:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=80)
    with Spinner(delay=delay, console=console) as progress:
        progress("reading runs/big")
        time.sleep(work)
    return buf.getvalue(), progress


def test_progress_line_only_for_slow_work_on_a_terminal():
    out, sp = _spin(work=0.6, delay=0.1, terminal=True)
    assert sp.shown and "reading runs/big" in out
    out, sp = _spin(work=0.0, delay=1.0, terminal=True)
    assert not sp.shown and out == ""
    out, sp = _spin(work=0.3, delay=0.05, terminal=False)
    assert not sp.shown and out == ""
