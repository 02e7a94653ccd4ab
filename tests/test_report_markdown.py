"""`traindx diagnose --format markdown`: snapshot of a stored fixture diagnosis, and the live
CLI on fixture runs (structure, not numbers: the rulebook's probabilities move)."""

from __future__ import annotations

import os
from pathlib import Path

from traindx.cli import main
from traindx.diagnosis import Diagnosis
from traindx.report.markdown import esc, render_markdown

ROOT = Path(__file__).resolve().parents[1]
SNAP = Path(__file__).parent / "snapshots"
FAULTY = ROOT / "fixtures/logs/torch_tb/lr_too_high_mlp_regression_nan"
HEALTHY = ROOT / "fixtures/logs/keras/healthy_mlp_clean"


def test_markdown_snapshot():
    # the Diagnosis of FAULTY as traindx gave it when the snapshot was made (stored, so that
    # rulebook changes do not move it); regenerate the .md with TRAINDX_UPDATE_SNAPSHOTS=1
    d = Diagnosis.model_validate_json(
        (SNAP / "lr_too_high_mlp_regression_nan.diagnosis.json").read_text()
    )
    got = render_markdown([d])
    want = SNAP / "lr_too_high_mlp_regression_nan.md"
    if os.environ.get("TRAINDX_UPDATE_SNAPSHOTS"):
        want.write_text(got)
    assert got == want.read_text(), (
        "markdown changed; TRAINDX_UPDATE_SNAPSHOTS=1 rewrites the snapshot"
    )


def test_markdown_cli_faulty_and_healthy(capsys):
    assert main(["diagnose", str(FAULTY), str(HEALTHY), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## traindx diagnosis\n")
    assert "| run | verdict | worst | top cause |" in out  # two runs: the index table
    assert "### FINDINGS: lr_too_high_mlp_regression_nan" in out
    assert "### OK: healthy_mlp_clean" in out
    assert "| error | LOSS001 |" in out  # the loss turned NaN: a symptom row
    assert "**first fix:**" in out and "1. **" in out


def test_escaping_keeps_tables_and_markup_inert():
    assert esc("a|b") == "a\\|b"
    assert esc("lr_too_high") == "lr_too_high"  # intraword: CommonMark leaves it alone
    assert esc("_x_ *y* <script>") == "\\_x\\_ \\*y\\* \\<script\\>"
    assert esc("# title", line_start=True) == "\\# title" and esc("-1") == "-1"
    d = Diagnosis(run_id="run|<b>|\n#x", verdict="no_data", healthy=False, headline="no data yet")
    md = render_markdown([d])
    assert "run\\|\\<b\\>\\|" in md and "<b>" not in md and "\n#x" not in md
