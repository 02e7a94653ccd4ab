"""fixtures/qa/summarize.py, the Q&A sets' scorer, on a copied real Q&A run: a buggy log-only run
whose label says its logs cannot show the fault is marked and counted apart, not hidden."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "fixtures/qa_fresh/logs/hf_num_labels_one_mse"


def test_log_invisible_fault_is_marked_and_counted(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for kind in ("buggy", "fixed"):
        shutil.copytree(RUN / kind, logs / "pair" / kind)
    assert json.loads((logs / "pair/buggy/label.json").read_text())["log_visible"] is False
    out = subprocess.run([sys.executable, str(ROOT / "fixtures/qa/summarize.py"), str(logs)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    row = next(line for line in out.splitlines() if line.startswith("| hf_num_labels_one_mse | buggy |"))
    assert row.endswith("(not in logs) |"), row
    total = next(line for line in out.splitlines() if line.startswith("all:"))
    assert "buggy 1:" in total and "fixed 1:" in total
    assert "(1 buggy labelled log_visible false" in total
