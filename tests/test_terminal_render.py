"""Snapshot tests of the terminal report at 80 and 120 columns, and of piped output.

The diagnoses rendered are those of fixture runs, frozen as JSON in tests/snapshots/terminal/
(so a rulebook change does not churn these files: they test the layout, not the engine), and
rendered here at fixed widths. Regenerate both after an intended change with
``PYTHONPATH=. python tests/test_terminal_render.py`` and read the diff.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

from traindx.diagnosis import Diagnosis
from traindx.report.layout import UNWRAPPED_WIDTH, PlainConsole, cli_console, text_console
from traindx.report.text import print_report
from traindx.schema import SkippedPath

ROOT = Path(__file__).resolve().parent.parent
SNAP = Path(__file__).resolve().parent / "snapshots" / "terminal"
#: snapshot name -> fixture run whose diagnosis it freezes
RUNS = {
    "torch_mon_lr_too_high": "fixtures/logs/torch_mon/lr_too_high_mlp_regression_nan",
    "torch_tb_lr_too_high": "fixtures/logs/torch_tb/lr_too_high_mlp_regression_nan",
    "torch_tb_healthy": "fixtures/logs/torch_tb/healthy_mlp_clean",
}
CASES = [(name, width, False) for name in RUNS for width in (80, 120)] + [
    ("torch_mon_lr_too_high", 80, True)
]


def _diag(name: str) -> Diagnosis:
    return Diagnosis.model_validate_json((SNAP / f"{name}.diagnosis.json").read_text())


def _render(d: Diagnosis, width: int, verbose: bool) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, highlight=False, force_terminal=False)
    print_report([d], console, verbose=verbose)
    return buf.getvalue()


def _expected_path(name: str, width: int, verbose: bool) -> Path:
    return SNAP / f"{name}.{width}{'.v' if verbose else ''}.txt"


@pytest.mark.parametrize(("name", "width", "verbose"), CASES)
def test_terminal_report_matches_snapshot(name, width, verbose):
    got = _render(_diag(name), width, verbose)
    want = _expected_path(name, width, verbose).read_text()
    assert got == want
    lines = got.splitlines()
    assert max(len(ln) for ln in lines) <= width
    # hanging indents: a wrapped line never continues at column 0 or 1
    assert all(ln.startswith(("!!", "OK", "??", "--")) or ln.startswith("  ") for ln in lines)


def test_not_evaluated_is_a_count_unless_verbose():
    d = _diag("torch_tb_lr_too_high")
    assert d.not_evaluated
    short = _render(d, 120, verbose=False)
    assert re.search(r"not evaluated: \d+ rule\(s\) lack data \(-v lists them\)", short)
    assert not any(ne.rule in short for ne in d.not_evaluated if not ne.error)
    long = _render(d, 120, verbose=True)
    assert all(f"{ne.rule}: needs" in long for ne in d.not_evaluated if not ne.error)


def test_piped_output_is_not_wrapped():
    """A pipe (not a terminal) gets one physical line per logical line, however long."""
    d = _diag("torch_mon_lr_too_high")
    buf = io.StringIO()
    console = cli_console(buf)
    assert not console.is_terminal and console.width == UNWRAPPED_WIDTH
    print_report([d], console)
    piped = buf.getvalue().splitlines()
    wrapped = _render(d, 80, False).splitlines()
    assert len(piped) < len(wrapped)
    assert any(len(ln) > 120 for ln in piped)  # a long line kept whole
    assert f"!! {d.run_id}  {d.headline}" in piped
    # every wrapped line's words are in the unwrapped text, in the same order
    assert " ".join(" ".join(piped).split()) == " ".join(" ".join(wrapped).split())


@pytest.mark.parametrize("verbose", [False, True])
def test_plain_text_is_what_rich_prints_to_a_pipe(verbose):
    """Where no terminal shows the report, ``traindx diagnose`` prints it without rich
    (traindx.report.layout.PlainConsole): the same text rich's piped console prints, on the
    frozen diagnoses and on fresh ones of every log kind, with skipped paths and a summary."""
    from traindx.api import diagnose

    diags = [_diag(name) for name in RUNS]
    diags += [diagnose(p)[0] for p in sorted((ROOT / "fixtures" / "logs").glob("*/*"))[::40] if p.is_dir()]
    assert len(diags) > 6
    skipped = [SkippedPath(path=f"runs/x{i}.csv", reason="no numeric column") for i in range(12)]
    rich_buf, plain_buf = io.StringIO(), io.StringIO()
    print_report(diags, cli_console(rich_buf), verbose=verbose, skipped=skipped)
    print_report(diags, PlainConsole(plain_buf), verbose=verbose, skipped=skipped)
    assert plain_buf.getvalue() == rich_buf.getvalue()
    assert isinstance(text_console(io.StringIO()), PlainConsole)


def _refresh() -> None:  # pragma: no cover - run by hand after an intended change
    from traindx.api import diagnose

    for name, run in RUNS.items():
        d = diagnose(ROOT / run)[0]
        (SNAP / f"{name}.diagnosis.json").write_text(d.model_dump_json(indent=1) + "\n")
    for name, width, verbose in CASES:
        _expected_path(name, width, verbose).write_text(_render(_diag(name), width, verbose))


if __name__ == "__main__":
    sys.exit(_refresh())
