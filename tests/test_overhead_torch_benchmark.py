"""benchmarks/overhead_torch.py with ``--every1-rounds 0``: the every=1 group has no timings,
so its row is skipped and said so (a median of no rounds raised StatisticsError)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_zero_every1_rounds_skips_the_row():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    args = ["--models", "mlp", "--rounds", "1", "--block", "2", "--every1-rounds", "0"]
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "overhead_torch.py"), *args],
                       capture_output=True, text=True, env=env, timeout=300, check=False)  # fmt: skip
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    assert "skipped (0 rounds asked, no timings): mlp every=1" in p.stdout
    table = [line.split() for line in p.stdout.splitlines() if line.startswith("mlp ")]
    assert [r[1] for r in table] == ["floor", "default"]  # the every=1 row left out, the others kept
