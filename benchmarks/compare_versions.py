"""Score two versions of traindx on the same labelled runs: top-1/top-3 on faulty runs and
false alarms (a warning or error symptom) on healthy ones, per input kind.

With the hand-set likelihood ratios nothing is fitted, so these numbers are the same in-sample
and cross-validated; use it to compare a change against an older commit, old code reading the
runs of today's corpus:

    git worktree add --detach /tmp/old <commit>
    python benchmarks/compare_versions.py /tmp/old .

Each tree is scored in its own process with that tree's ``traindx`` and rulebook.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def list_runs() -> list[dict]:
    sys.path.insert(0, str(HERE))
    from labelled import ROOT, ROOTS, discover, map_label

    return [
        {"dir": str(d), **map_label(json.loads((d / "label.json").read_text()), d)}
        for d in discover([ROOT / r for r in ROOTS])
    ]


def score(runs: list[dict]) -> dict[str, list[int]]:
    """In a process whose sys.path starts with the tree to score."""
    warnings.simplefilter("ignore")
    from traindx.api import read
    from traindx.engine import diagnose_run
    from traindx.rules.loader import load_rulebook

    book = load_rulebook()
    st: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in runs:
        try:
            found = read(r["dir"])
            found = list(getattr(found, "runs", found))
            d = diagnose_run(found[0], book)
            ranked = [c.id for c in d.causes]
            alarm = any(s.severity in ("warning", "error") for s in d.symptoms)
        except Exception:  # an old version that cannot read a run scores it as wrong
            ranked, alarm = [], True
        for k in (r["input_kind"], "ALL"):
            s = st[k]
            if r["cause"] == "healthy":
                s[3] += 1
                s[4] += alarm
            elif r["visible"] or r["input_kind"] != "logs":
                s[0] += 1
                s[1] += ranked[:1] == [r["cause"]]
                s[2] += r["cause"] in ranked[:3]
    return dict(st)


def main() -> None:
    if sys.argv[1:2] == ["--score"]:  # child: runs on stdin, scores on stdout
        print(json.dumps(score(json.load(sys.stdin))))
        return
    runs = json.dumps(list_runs())
    for tree in sys.argv[1:]:
        code = Path(tree).resolve()
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--score"],
            input=runs, capture_output=True, text=True, check=True, cwd="/",
            env={**os.environ, "PYTHONPATH": str(code)},  # before the installed traindx
        )  # fmt: skip
        st = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"== {code}")
        for k, (n, t1, t3, h, a) in sorted(st.items()):
            print(f"{k:14s} faulty {n:5d} top1 {t1 / max(n, 1):6.1%} top3 {t3 / max(n, 1):6.1%}"
                  f"  healthy {h:4d} false alarms {a / max(h, 1):6.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
