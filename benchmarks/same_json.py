"""Is ``traindx diagnose --json`` byte-identical between two source trees, on every run?

    python benchmarks/same_json.py --against DIR [PATH ...]

Runs ``traindx diagnose --json`` on each PATH (default: every folder of fixtures/logs and
the logs of the Q&A fixture sets) with this tree and with the tree in DIR (``git archive
REV traindx rulebook | tar -x -C DIR``), and says which outputs differ (exit 1 when any
does). A refactoring that must not change a report (issue 15's start-up work) runs this.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _paths() -> list[Path]:
    logs = sorted(p for p in (ROOT / "fixtures" / "logs").iterdir() if p.is_dir())
    return logs + sorted(p for p in ROOT.glob("fixtures/qa*/logs") if p.is_dir())


def _json(tree: Path, path: Path, cache: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "TRAINDX_CACHE_DIR": cache,
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "traindx.cli", "diagnose", "--json", str(path)],
                         cwd=tree, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    return out.returncode, out.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", type=Path, required=True, help="the other source tree")
    ap.add_argument("paths", nargs="*", type=Path)
    args = ap.parse_args()
    caches = [tempfile.mkdtemp(prefix="traindx-same-"), tempfile.mkdtemp(prefix="traindx-same-")]
    differ = 0
    for path in args.paths or _paths():
        (rc_a, a), (rc_b, b) = _json(ROOT, path.resolve(), caches[0]), _json(args.against.resolve(), path.resolve(), caches[1])
        runs = a.count('"run_id"')
        if (rc_a, a) == (rc_b, b):
            print(f"same      {path} ({runs} runs, {len(a):,} bytes, exit {rc_a})")
            continue
        differ += 1
        print(f"DIFFERENT {path} (exit {rc_a} here, {rc_b} there)")
        diff = difflib.unified_diff(b.splitlines(), a.splitlines(), "there", "here", lineterm="", n=1)
        print("\n".join(list(diff)[:40]))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
