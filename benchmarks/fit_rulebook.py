"""Fit the rulebook's symptom likelihood ratios on the fixture runs, and report held-out accuracy.

The structure (which symptom a cause explains) is written by hand; this script only
re-estimates the numbers. For a cause c and a symptom s it explains:

    LR_fit(s | c) = P(s fired | label c) / P(s fired | label != c)      (Laplace-smoothed)

and shrinks toward the hand-set value in log space with weight n_c / (n_c + K): with one or
two fixtures of a cause the hand value stays almost unchanged, with many the data decide.
Fitted values are clipped to [0.5, 50] and written back into each cause's ``explains:`` line.

Runs are split deterministically by a hash of their scenario name: about a quarter of the
scenarios is held out of the fit (with every writer's recording of them), and accuracy is reported on that held-out part before and after fitting.

    python benchmarks/fit_rulebook.py            # show fitted values and held-out accuracy
    python benchmarks/fit_rulebook.py --write    # also rewrite the YAML files
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
from collections import Counter
from pathlib import Path

from traindx.api import read
from traindx.engine import diagnose_run
from traindx.rules.loader import builtin_dir, load_rulebook
from traindx.rules.model import Rulebook

ROOT = Path(__file__).resolve().parent.parent
K = 4.0  # shrinkage strength (pseudo-runs of the hand-set value)
CLIP = (0.5, 50.0)


def held_out(name: str) -> bool:
    """By scenario (the run directory's name), so the recordings of one training run by
    different writers (torch_tb, torch_mon...) all fall on the same side of the split."""
    scenario = name.rstrip("/").rsplit("/", 1)[-1]
    return int(hashlib.sha256(scenario.encode()).hexdigest(), 16) % 4 == 0


def observe(logs: Path, book: Rulebook) -> list[tuple]:
    """(run name, true cause, fired warning/error codes, diagnosis) for every labelled run."""
    out = []
    for lf in sorted(logs.rglob("label.json")):
        label = json.loads(lf.read_text())
        d = diagnose_run(read(lf.parent)[0], book)
        fired = {s.code for s in d.symptoms if s.severity != "info"}
        out.append((str(lf.parent.relative_to(logs)), label["cause"], fired, d))
    return out


def accuracy(obs, book: Rulebook, names: set[str]) -> tuple[float, float, int]:
    hits1 = hits3 = n = 0
    for name, cause, _, d in obs:
        if name not in names or cause == "healthy":
            continue
        n += 1
        ranked = [c.id for c in d.causes]
        hits1 += bool(ranked[:1] == [cause])
        hits3 += cause in ranked[:3]
    return (hits1 / n if n else float("nan"), hits3 / n if n else float("nan"), n)


def fit(obs, book: Rulebook) -> dict[str, dict[str, float]]:
    train = [(c, f) for name, c, f, _ in obs if not held_out(name)]
    n_by_cause = Counter(c for c, _ in train)
    fitted: dict[str, dict[str, float]] = {}
    for cause in book.causes:
        n_c = n_by_cause.get(cause.id, 0)
        n_not = len(train) - n_c
        new = {}
        for code, hand in cause.explains.items():
            k_c = sum(1 for c, f in train if c == cause.id and code in f)
            k_not = sum(1 for c, f in train if c != cause.id and code in f)
            p1 = (k_c + 0.5) / (n_c + 1.0)
            p0 = (k_not + 0.5) / (n_not + 1.0)
            w = n_c / (n_c + K)
            log_lr = w * math.log(p1 / p0) + (1 - w) * math.log(hand)
            new[code] = float(min(max(math.exp(log_lr), CLIP[0]), CLIP[1]))
        fitted[cause.id] = new
    return fitted


def _fmt(v: float) -> str:
    return f"{v:.2g}" if v < 10 else f"{v:.0f}"


def write_back(fitted: dict[str, dict[str, float]], rule_dir: Path) -> int:
    changed = 0
    for path in sorted(rule_dir.rglob("*.yaml")):
        text = path.read_text()
        for cid, values in fitted.items():
            pat = re.compile(rf"(- id: {re.escape(cid)}\n(?:(?!  - id:).*\n)*?    explains: )\{{[^}}]*\}}")
            body = "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in values.items()) + "}"
            text, n = pat.subn(lambda m, body=body: m.group(1) + body, text)
            changed += n
        path.write_text(text)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logs", type=Path, default=ROOT / "fixtures" / "logs")
    ap.add_argument("--write", action="store_true", help="rewrite the explains: lines in the rule files")
    args = ap.parse_args(argv)
    book = load_rulebook()
    obs = observe(args.logs, book)
    names_out = {name for name, *_ in obs if held_out(name)}
    names_in = {name for name, *_ in obs} - names_out
    before_out = accuracy(obs, book, names_out)
    before_in = accuracy(obs, book, names_in)
    fitted = fit(obs, book)
    for cause in book.causes:
        diffs = [f"{k} {_fmt(cause.explains[k])}->{_fmt(v)}" for k, v in fitted[cause.id].items() if abs(math.log(v / cause.explains[k])) > 0.05]
        if diffs:
            print(f"{cause.id:24} " + ", ".join(diffs))
    for cause in book.causes:
        cause.explains = fitted[cause.id]
    obs_after = [(n, c, f, diagnose_run(read(args.logs / n)[0], book)) for n, c, f, _ in obs]
    after_out = accuracy(obs_after, book, names_out)
    after_in = accuracy(obs_after, book, names_in)
    print(f"\nfit on {len(names_in)} runs, held out {len(names_out)}")
    print(f"held-out faulty runs ({before_out[2]}): top1 {before_out[0]:.1%} -> {after_out[0]:.1%}, top3 {before_out[1]:.1%} -> {after_out[1]:.1%}")
    print(f"fitted faulty runs   ({before_in[2]}): top1 {before_in[0]:.1%} -> {after_in[0]:.1%}, top3 {before_in[1]:.1%} -> {after_in[1]:.1%}")
    if args.write:
        n = write_back(fitted, builtin_dir())
        print(f"rewrote {n} explains: lines under {builtin_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
