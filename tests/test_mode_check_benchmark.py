"""benchmarks/mode_check_cost.py: the torch Monitor's submodule-mode check timed alone and as
whole steps; a tree without the check (``--against``) is said to have none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_check_is_timed_in_train_and_eval_mode():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    args = ["--rounds", "1", "--block", "3", "--calls", "100", "--pairs", "1"]
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mode_check_cost.py"), *args],
                       capture_output=True, text=True, env=env, timeout=300, check=False)  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    lines = [line.strip() for line in p.stdout.splitlines()]
    for mode in ("train", "eval"):  # the Monitor found the 2 BatchNorm1d + 2 Dropout submodules
        assert any(line.startswith(f"the check alone, {mode} mode (4 submodules):") for line in lines), p.stdout
    assert "no mode check in this tree" not in p.stdout
