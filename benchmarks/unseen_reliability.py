"""How trustworthy traindx's answers were on runs nobody had tuned on (issue 10, section 3).

    python benchmarks/unseen_reliability.py                  # every fixtures/qa_*/verdicts_before.md
    python benchmarks/unseen_reliability.py --sets qa_real39,qa_fresh39 --json out.json
    python benchmarks/unseen_reliability.py --confusions 10     # + the largest true -> said cells

Each unseen batch's ``verdicts_before.md`` holds one row per run as traindx (main as it was
then) answered it BEFORE any change was made for the batch: the honest record of how the
tool does on code it never saw. This reads those rows only (nothing is re-diagnosed, nothing
tuned) and reports, per input kind (own logs; each adapter):

- the reliability of the top answer: runs binned by the stated probability, with the share
  that was right, and the expected calibration error (ECE) over the answered runs;
- the "healthy" call: how many buggy runs were called healthy, and of all runs called healthy
  the share that really were (the fixed versions), i.e. what "healthy" is worth on unseen code;
- wrong top answers at >= 80 % (issue 10's target: none).

The rows were produced by several versions of traindx (each batch by the main of its day), so
this is the tool's unseen track record, not one version's score.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("logs", "torch_adapter", "keras_adapter", "jax_adapter")
_TOP = re.compile(r"^(\S+) (\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class Row:
    """One run's before-any-change answer."""

    batch: str
    pair: str
    run: str
    kind: str
    label: str
    top: str | None  # the top cause; None when traindx called the run healthy or gave no verdict
    p: float | None  # its probability
    verdict: str  # summarize.py's verdict word: top1, top3, wrong, missed, ok, FALSE ALARM, ...


def parse(text: str, batch: str) -> list[Row]:
    """The run rows of one verdicts_before.md (other tables in the file, such as totals, are
    told apart by their input column and verdict word, and skipped)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| pair ") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or cells[2] not in KINDS:
            continue
        pair, run, kind, label, top, verdict = cells[:6]
        word = verdict.split(" (")[0]
        if word not in ("top1", "top3", "wrong", "missed", "ok", "FALSE ALARM", "no verdict", "not read"):
            continue
        m = _TOP.match(top)
        rows.append(Row(batch, pair, run, kind, label, m.group(1) if m else None,
                        float(m.group(2)) / 100 if m else None, word))
    return rows


def load(sets: list[str] | None = None) -> list[Row]:
    rows = []
    for f in sorted(ROOT.glob("fixtures/qa_*/verdicts_before.md")):
        batch = f.parent.name
        if sets and batch not in sets:
            continue
        rows += parse(f.read_text(), batch)
    return rows


def reliability(rows: list[Row], edges: tuple[float, ...] = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.01)) -> dict:
    """Binned reliability and ECE of the top answer over the buggy runs that got a cause."""
    answered = [r for r in rows if r.label != "healthy" and r.p is not None]
    bins = []
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        sel = [r for r in answered if lo <= r.p < hi]
        if not sel:
            continue
        conf = sum(r.p for r in sel) / len(sel)
        acc = sum(r.top == r.label for r in sel) / len(sel)
        ece += len(sel) / len(answered) * abs(acc - conf)
        bins.append({"from": lo, "to": min(hi, 1.0), "n": len(sel), "mean_p": round(conf, 3), "right": round(acc, 3)})
    return {"answered": len(answered), "bins": bins, "ece": round(ece, 3) if answered else None}


def summary(rows: list[Row]) -> dict:
    buggy = [r for r in rows if r.label != "healthy"]
    fixed = [r for r in rows if r.label == "healthy"]
    called_healthy_buggy = sum(r.verdict == "missed" for r in buggy)
    called_healthy_fixed = sum(r.verdict == "ok" for r in fixed)
    calls = called_healthy_buggy + called_healthy_fixed
    return {
        "batches": len({r.batch for r in rows}),
        "buggy": len(buggy),
        "top1": sum(r.verdict == "top1" for r in buggy),
        "top3": sum(r.verdict in ("top1", "top3") for r in buggy),
        "called_healthy": called_healthy_buggy,
        "no_verdict_or_unread": sum(r.verdict in ("no verdict", "not read") for r in buggy),
        "fixed": len(fixed),
        "false_alarms": sum(r.verdict == "FALSE ALARM" for r in fixed),
        "healthy_calls": calls,
        "healthy_calls_right": round(called_healthy_fixed / calls, 3) if calls else None,
        "wrong_at_80": sum(r.label != "healthy" and r.p is not None and r.p >= 0.8 and r.top != r.label for r in rows),
        "reliability": reliability(rows),
    }


def said(r: Row) -> str:
    """What a buggy run's row answered: its top cause, "healthy" for a healthy call, or the
    verdict word where there was no answer ("no verdict", "not read")."""
    if r.top is not None:
        return r.top
    return "healthy" if r.verdict == "missed" else r.verdict


def confusions(rows: list[Row], n: int = 10) -> dict:
    """The buggy rows' off-diagonal true -> said cells: the ``n`` largest between two causes,
    and, apart, the causes most often called healthy (the two kinds of miss need different
    evidence: one separates a pair, the other raises an alarm at all)."""
    buggy = [r for r in rows if r.label != "healthy"]
    pairs: dict[tuple[str, str], int] = {}
    healthy: dict[str, int] = {}
    for r in buggy:
        s = said(r)
        if s == r.label or s in ("no verdict", "not read"):
            continue
        if s == "healthy":
            healthy[r.label] = healthy.get(r.label, 0) + 1
        else:
            pairs[(r.label, s)] = pairs.get((r.label, s), 0) + 1
    by_n = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return {"buggy": len(buggy),
            "cells": [{"true": t, "said": s, "n": k} for (t, s), k in by_n],
            "called_healthy": [{"true": t, "n": k} for t, k in sorted(healthy.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]}


def headline(kind: str, s: dict) -> str:
    """One kind's summary line; a kind with no 'healthy' call (a small batch) says '-'."""
    right = "-" if s["healthy_calls_right"] is None else f"{s['healthy_calls_right']:.0%}"
    return (f"{kind}: {s['batches']} batches, buggy {s['buggy']}: top-1 {s['top1']} ({s['top1'] / s['buggy']:.0%}), "
            f"top-3 {s['top3']}, called healthy {s['called_healthy']}, no verdict/unread {s['no_verdict_or_unread']}; "
            f"fixed {s['fixed']}: flagged {s['false_alarms']}; a 'healthy' call was right "
            f"{right} of {s['healthy_calls']}; wrong at >= 80 %: {s['wrong_at_80']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", help="comma-separated batch names (default: every batch with a verdicts_before.md)")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--confusions", type=int, default=0, metavar="N",
                    help="also print the N largest true -> said cells between causes and the N causes most often called healthy")
    a = ap.parse_args()
    rows = load(a.sets.split(",") if a.sets else None)
    out = {"logs": summary([r for r in rows if r.kind == "logs"]),
           "adapters": summary([r for r in rows if r.kind != "logs"])}
    out.update({k: summary([r for r in rows if r.kind == k]) for k in KINDS[1:]})
    for kind, s in out.items():
        if not s["buggy"]:
            continue
        rel = s["reliability"]
        print(headline(kind, s))
        print(f"  top answer reliability ({rel['answered']} answered, ECE {rel['ece']}):")
        for b in rel["bins"]:
            print(f"    p {b['from']:.0%}-{b['to']:.0%}: n={b['n']:4d}  mean p {b['mean_p']:.2f}  right {b['right']:.2f}")
    if a.confusions:
        for kind in ("logs", "adapters"):
            c = confusions([r for r in rows if (r.kind == "logs") == (kind == "logs")], a.confusions)
            print(f"{kind}: {c['buggy']} buggy runs; largest true -> said cells between causes:")
            for cell in c["cells"]:
                print(f"  {cell['true']:24} -> {cell['said']:24} {cell['n']}")
            print("  called healthy: " + ", ".join(f"{h['true']} {h['n']}" for h in c["called_healthy"]))
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": [asdict(r) for r in rows], "summary": out}, indent=1))


if __name__ == "__main__":
    main()
