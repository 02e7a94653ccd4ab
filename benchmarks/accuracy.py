"""Diagnostic accuracy over the fixture runs (real training runs with known injected faults).

For every run directory under fixtures/logs/<writer>/<run>/ with a label.json, diagnose it
and compare with the label. Prints, per input mode/writer: top-1 and top-3 accuracy over the
faulty runs whose fault is visible in logs, the false-alarm rate over healthy runs (a warning
or worse on a healthy run), the mean probability given to the true cause, and a per-cause
table. Runs labelled ``"log_visible": false`` are reported apart (their fault can only be
seen by a live adapter).

    python benchmarks/accuracy.py [--logs fixtures/logs] [--json out.json] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from traindx.api import read
from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    run: str
    writer: str
    cause: str
    visible: bool
    healthy_said: bool
    ranked: list[str]
    p_true: float

    @property
    def rank(self) -> int | None:
        if self.cause == "healthy":
            return 1 if self.healthy_said else None
        return self.ranked.index(self.cause) + 1 if self.cause in self.ranked else None


def evaluate(logs: Path, book=None) -> list[Outcome]:
    book = book or load_rulebook()
    out = []
    for label_file in sorted(logs.glob("*/*/label.json")):
        label = json.loads(label_file.read_text())
        run_dir = label_file.parent
        runs = read(run_dir)
        d = diagnose_run(runs[0], book)
        ranked = [c.id for c in d.causes]
        probs = {c.id: c.probability for c in d.causes}
        cause = label["cause"]
        p_true = (1.0 if d.healthy else 0.0) if cause == "healthy" else probs.get(cause, 0.0)
        out.append(
            Outcome(
                run=f"{run_dir.parent.name}/{run_dir.name}",
                writer=label.get("writer", run_dir.parent.name),
                cause=cause,
                visible=label.get("log_visible", True),
                healthy_said=d.healthy,
                ranked=ranked,
                p_true=p_true,
            )
        )
    return out


def summarize(outcomes: list[Outcome]) -> dict[str, float]:
    faulty = [o for o in outcomes if o.cause != "healthy" and o.visible]
    healthy = [o for o in outcomes if o.cause == "healthy"]

    def share(xs: list[bool]) -> float:
        return sum(xs) / len(xs) if xs else float("nan")

    return {
        "faulty": len(faulty),
        "healthy": len(healthy),
        "top1": share([o.rank == 1 for o in faulty]),
        "top3": share([o.rank is not None and o.rank <= 3 for o in faulty]),
        "false_alarm_rate": share([not o.healthy_said for o in healthy]),
        "mean_p_true": share([o.p_true for o in faulty]) if faulty else float("nan"),
        "healthy_said_on_faulty": share([o.healthy_said for o in faulty]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logs", type=Path, default=ROOT / "fixtures" / "logs")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    outcomes = evaluate(args.logs)
    if not outcomes:
        print(f"no labelled runs under {args.logs}", file=sys.stderr)
        return 2
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.writer].append(o)
    groups["ALL"] = outcomes
    print(f"{'writer':10} {'faulty':>6} {'top1':>6} {'top3':>6} {'p_true':>7} {'healthy':>7} {'false_alarm':>11}")
    summary = {}
    for w, os_ in groups.items():
        s = summarize(os_)
        summary[w] = s
        print(f"{w:10} {s['faulty']:>6} {s['top1']:>6.1%} {s['top3']:>6.1%} {s['mean_p_true']:>7.2f} {s['healthy']:>7} {s['false_alarm_rate']:>11.1%}")
    print()
    per_cause: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        per_cause[o.cause].append(o)
    print(f"{'cause':26} {'runs':>4} {'top1':>5} {'top3':>5} {'p_true':>6}  misses (run -> said)")
    for cause, os_ in sorted(per_cause.items()):
        vis = [o for o in os_ if o.visible] or os_
        t1 = sum(o.rank == 1 for o in vis)
        t3 = sum(o.rank is not None and o.rank <= 3 for o in vis)
        pm = sum(o.p_true for o in vis) / len(vis)
        misses = [f"{o.run.split('/')[0]}->{'healthy' if o.healthy_said else (o.ranked[0] if o.ranked else '-')}" for o in vis if o.rank != 1]
        hidden = "" if all(o.visible for o in os_) else " (not log-visible)"
        print(f"{cause:26} {len(vis):>4} {t1:>5} {t3:>5} {pm:>6.2f}  {', '.join(misses)}{hidden}")
    if args.verbose:
        print()
        for o in outcomes:
            print(f"{o.run:60} {o.cause:24} rank={o.rank} said={'healthy' if o.healthy_said else o.ranked[:3]}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": [asdict(o) | {"rank": o.rank} for o in outcomes]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
