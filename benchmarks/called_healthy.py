"""Faulty Q&A runs that traindx calls healthy (issue 10), grouped by why.

    python benchmarks/called_healthy.py [--sets qa,qa_keras,...] [--rows]

Diagnoses every labelled run of the Q&A sets (the CLI's ``--json``, as fixtures/qa/summarize.py
does) and, for each buggy run called healthy, says why, from the run's own facts (the accuracy
benchmark's cache, benchmarks/labelled.py) and the diagnosis' headline:

- ``layer``: a rule fired a warning, the learned layer's p(healthy) passed its threshold;
- ``unread``: a signature in the run's own numbers that no rule reads (named: ``_signatures``);
- ``reader``: the reader could not read the run, or reported ingest problems (lines or files
  not read, duplicate names dropped, steps renumbered: the note names their kinds) - the
  evidence may sit in what was not read;
- otherwise no rule fired and no signature above shows; grouped by where the run's last figures
  are more than 10 % worse than its fixed twin's (``_where``): ``metric`` (training loss as good
  as the fix's, a quality metric worse), ``validation`` (only the validation loss worse),
  ``reach`` (the training loss itself ends worse: only a reference shows it), ``invisible``
  (no figure worse than the fix's: the fault did no harm the logs show).

Prints the counts by group x input kind and by group x cause; ``--rows`` lists every run.
This measures; it tunes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

import labelled  # noqa: E402

#: every Q&A set the labelled corpus reads (benchmarks/labelled.py ROOTS), in its order
SETS = tuple(Path(r).name for r in labelled.ROOTS if Path(r).name.startswith("qa"))


def _f(facts: dict, key: str) -> float | None:
    group, _, name = key.partition(".")
    v = (facts.get(group) or {}).get(name)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _signatures(f: dict) -> list[str]:
    """The candidate signatures (issue 10) this run's facts show."""
    g = lambda k: _f(f, k)  # noqa: E731
    out = []
    ldrop = g("loss.drop")
    if (
        (g("val_loss.n_finite") or 0) >= 5
        and (g("val_loss.peak_ratio") or 0) >= 5
        and g("val_loss.drop") is not None
        and g("val_loss.drop") < 0.05
        and (g("val_loss.osc") or 0) >= 0.3
    ):
        out.append("val loss erratic, never improves (GEN013's condition)")
    lf, lmax = g("loss.first"), g("loss.max")
    if (g("loss.n_finite") or 0) >= 5 and lf is not None and lmax and lmax > 0 and lf >= 1e3 * lmax:
        out.append("first loss >= 1e3 x every later value (LOSS026's condition)")
    if g("loss.frozen_tail") and g("loss.frozen_tail") >= 0.9:
        out.append("training loss frozen")
    r0, r1 = g("gap.ratio_first"), g("gap.ratio_last")
    if r0 is not None and r1 is not None and 1.6 <= r0 <= 3 and 1.6 <= r1 <= 3:
        out.append("val loss ~2x train from the start")
    vqc, qc = g("val_quality.change"), g("quality.change")
    if vqc is not None and qc is not None and abs(vqc) < 0.02 and qc > 0.05:
        out.append("val accuracy flat while train accuracy rises")
    if (
        ldrop is not None
        and ldrop < 0.05
        and g("loss.tau") is not None
        and abs(g("loss.tau")) < 0.2
    ):
        out.append("training loss does not improve")
    return out


def _final(f: dict) -> tuple[str, float] | None:
    for key, higher in (
        ("val_quality.last", True),
        ("val_loss.last", False),
        ("quality.last", True),
        ("loss.last", False),
    ):
        v = _f(f, key)
        if v is not None:
            return key, v if higher else -v
    return None


#: the final figures compared with the fixed twin's: (fact, higher is better)
_FINALS = (("loss.last", False), ("quality.last", True), ("val_loss.last", False),
           ("val_quality.last", True))


def _where(f: dict, twin: dict) -> tuple[str, list[str]]:
    """Where a run with no warning differs from its fixed twin (the last figure of a series
    more than 10 % worse than the twin's): ``invisible`` - nowhere; ``metric`` - its training
    loss ends as low as the fix's but a quality metric (training or validation) ends worse;
    ``validation`` - training loss and metric as good as the fix's, only the validation loss
    worse; ``reach`` - the training loss itself ends worse: the run learns, only less than the
    task allows, and only a reference (the fix, a target) shows it."""
    worse = []
    for key, higher in _FINALS:
        b, x = _f(f, key), _f(twin, key)
        if b is None or x is None:
            continue
        if (b < x - 0.1 * abs(x)) if higher else (b > x + 0.1 * abs(x)):
            worse.append(f"{key.split('.')[0]} {b:.3g} vs {x:.3g}")
    names = {w.split()[0] for w in worse}
    if "loss" in names:
        return "reach", worse
    if names & {"quality", "val_quality"}:
        return "metric", worse
    if worse:
        return "validation", worse
    return "invisible", worse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--rows", action="store_true")
    a = ap.parse_args()
    roots = [ROOT / "fixtures" / s for s in a.sets.split(",")]
    facts = {r.path: r for r in labelled.load(roots)}
    rows, seen = [], set()
    for root in roots:
        dirs = [
            str(p.parent.relative_to(ROOT)) for p in sorted((root / "logs").rglob("label.json"))
        ]
        p = subprocess.run(
            [sys.executable, "-m", "traindx.cli", "diagnose", *dirs, "--json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        for r in json.loads(p.stdout)["runs"]:
            if r["source"] in seen:
                continue
            seen.add(r["source"])
            src, lab = Path(r["source"]), None
            for d in (
                src,
                *src.parents,
            ):  # a run inside a labelled directory (summarize.py's label_of)
                if str(d) in facts:
                    src, lab = str(d), facts[str(d)]
                    break
            if lab is None or lab.cause == "healthy" or not r["healthy"]:
                continue
            f = lab.facts
            m = re.search(r"rules' signs \(([^)]*)\).*?p healthy (\d+)%", r["headline"])
            sig = _signatures(f)
            problems = sorted(
                {
                    x.get("kind", "?")
                    for x in (r.get("ingest") or {}).get("problems", [])
                    if x.get("count")
                }
            )
            if m:
                why = "layer"
            elif sig:
                why = "unread"
            elif "_error" in f or problems:
                why = "reader"
                sig = ["ingest: " + ", ".join(problems or ["error"])]
            else:
                twin = facts.get(str(Path(src).parent / Path(src).name.replace("buggy", "fixed")))
                why, worse = _where(f, twin.facts if twin else {})
                sig = [("worse than fix: " + ", ".join(worse)) if worse else "as good as its fix"]
                if not lab.visible:
                    sig.append("label: not log-visible")
            note = f"{m.group(1)} p_h {m.group(2)}%" if m else "; ".join(sig)
            rows.append((root.name, src, lab.input_kind, lab.cause, why, note))
    print(f"buggy runs called healthy: {len(rows)}")
    kinds = sorted({x[2] for x in rows})
    groups = sorted({x[4] for x in rows})
    print("| group | " + " | ".join(kinds) + " | all |\n|---" * 1 + "|---" * (len(kinds) + 1) + "|")
    for gname in groups:
        c = Counter(x[2] for x in rows if x[4] == gname)
        print(f"| {gname} | " + " | ".join(str(c[k]) for k in kinds) + f" | {sum(c.values())} |")
    print("\n| cause | " + " | ".join(groups) + " |\n|---" + "|---" * len(groups) + "|")
    for cause, n in Counter(x[3] for x in rows).most_common():
        c = Counter(x[4] for x in rows if x[3] == cause)
        print(f"| {cause} ({n}) | " + " | ".join(str(c[gname]) for gname in groups) + " |")
    codes = Counter(
        code.strip() for x in rows if x[4] == "layer" for code in x[5].split(" p_h")[0].split(",")
    )
    print("\nalarms the layer cleared: " + ", ".join(f"{k} {v}" for k, v in codes.most_common()))
    sigs = Counter(s for x in rows if x[4] == "unread" for s in x[5].split("; "))
    print("unread signatures: " + ", ".join(f"{k} {v}" for k, v in sigs.most_common()))
    if a.rows:
        print("\n| set | run | input | cause | why | note |\n|---|---|---|---|---|---|")
        for x in sorted(rows, key=lambda x: (x[4], x[3], x[1])):
            print("| " + " | ".join(x[:2][:1] + (x[1].split("/logs/")[-1],) + x[2:]) + " |")


if __name__ == "__main__":
    main()
