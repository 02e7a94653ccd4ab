"""Adapter runs by what raised their alarms: context smells (static facts about the code) or
the curves, and what the curves alone say about the runs that only context flagged.

An adapter records two kinds of evidence a log lacks: static context (``ctx.*``: the model's
output activation, the loss, the input scale, the batch size...) and per-layer telemetry
(``layers.*``). A *context symptom* is an adapter symptom whose condition reads ``ctx`` and
no telemetry (rulebook/symptoms/adapter.yaml, CTX*). For every labelled adapter run this
splits the alarms (warning/error symptoms) into

- ``none``: no alarm; ``context``: context symptoms only; ``curve``: none of them a context
  symptom; ``mixed``: both;

and, for the ``context`` group, diagnoses the same run with ``ctx`` and ``layers`` removed
(what its logs alone would say, the shipped learned log-only layer included): the run's
"curves look healthy" when that fires no alarm. A gate that calls such runs healthy clears
the healthy ones (false alarms) and loses the faulty ones (bugs found only in the code);
``--gates`` prints both sides for two gates:

- ``context``: every alarm a warning-severity context symptom and the curves alone healthy;
- ``curve``: no adapter symptom fired, the curves alone fire the same alarms, and the
  learned log-only layer calls the curves alone healthy (the layer steps aside on adapter
  runs today). Counted also on the runs whose scenario has no log-only recording (the
  shipped layer was fitted on those: in-sample otherwise).

    python benchmarks/context_alarms.py            # the split per input kind and label
    python benchmarks/context_alarms.py --gates --list
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from traindx.engine import Bound, diagnose_facts  # noqa: E402
from traindx.rules.loader import load_rulebook  # noqa: E402
from traindx.schema import Run  # noqa: E402

#: fact groups only an adapter records: static context and per-layer telemetry
ADAPTER_GROUPS = ("ctx", "layers")


def adapter_codes(book) -> set[str]:
    """Symptoms of rulebook/symptoms/adapter.yaml (only an adapter's facts fire them)."""
    return {s.code for s in book.symptoms if Path(s.file or "").name == "adapter.yaml"}


def context_codes(book) -> set[str]:
    """Adapter symptoms that read the static context and no telemetry."""
    return {
        s.code for s in book.symptoms
        if s.code in adapter_codes(book) and "ctx" in s.condition.groups and "layers" not in s.condition.groups
    }  # fmt: skip


def split(alarms: set[str], context: set[str]) -> str:
    """``none``, ``context`` (context symptoms only), ``curve`` (no context symptom) or ``mixed``."""
    if not alarms:
        return "none"
    if alarms <= context:
        return "context"
    return "mixed" if alarms & context else "curve"


def curves_alone(facts: dict[str, Any]) -> dict[str, Any]:
    """The run's facts without what only an adapter records: what its logs alone show."""
    return {g: v for g, v in facts.items() if g not in ADAPTER_GROUPS}


@dataclass
class Row:
    path: str
    kind: str
    label: str  # healthy, faulty or benign
    group: str
    alarms: set[str]
    severities: set[str]
    top: str | None  # the top cause
    curve_alarms: set[str] = field(default_factory=set)
    curve_verdict: str = ""
    adapter_alarm: bool = False
    scenario_logged: bool = False  # a log-only recording of the same training run exists


def diagnose(book, named: set[str], facts: dict[str, Any], run_id: str):
    # the facts are all the engine reads; the series stand in for "something was read"
    run = Run.model_construct(id=run_id, series={"loss": [0.0]}, checks=[])
    return diagnose_facts(run, Bound(facts, named), book)


def row(book, named: set[str], run, context: set[str], adapter: set[str], logged: bool) -> Row:
    d = diagnose(book, named, run.facts, run.path)
    alarms = [s for s in d.symptoms if s.severity != "info"]
    codes = {s.code for s in alarms}
    label = "benign" if run.benign else ("healthy" if run.cause == "healthy" else "faulty")
    r = Row(run.path, run.input_kind, label, split(codes, context), codes, {s.severity for s in alarms},
            d.causes[0].id if d.causes else None, adapter_alarm=bool(codes & adapter), scenario_logged=logged)  # fmt: skip
    if codes:
        d2 = diagnose(book, named, curves_alone(run.facts), run.path)
        r.curve_alarms = {s.code for s in d2.symptoms if s.severity != "info"}
        r.curve_verdict = d2.verdict
    return r


def context_gate(r: Row) -> bool:
    return r.group == "context" and r.severities == {"warning"} and not r.curve_alarms


def curve_gate(r: Row) -> bool:
    return bool(r.alarms) and not r.adapter_alarm and r.curve_alarms == r.alarms and r.curve_verdict == "healthy"


def main(argv: list[str] | None = None) -> int:
    from labelled import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gates", action="store_true", help="what two outcome gates would clear and lose")
    ap.add_argument("--list", action="store_true", help="list the context-only runs whose curves look healthy")
    args = ap.parse_args(argv)
    book = load_rulebook()
    named = {g for sym in book.symptoms for g in sym.condition.groups}
    context, adapter = context_codes(book), adapter_codes(book)
    runs = load()
    kinds_of: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        kinds_of[run.scenario].add(run.input_kind)
    rows = [
        row(book, named, run, context, adapter, "logs" in kinds_of[run.scenario])
        for run in runs if run.input_kind != "logs" and "_error" not in run.facts
    ]  # fmt: skip
    print(f"{len(rows)} adapter runs; context symptoms: {', '.join(sorted(context))}")
    print(f"{'kind':24} {'label':8} {'runs':>5} {'none':>5} {'curve':>6} {'mixed':>6} {'context':>8}  context-only, curves alone: no alarm (warning-only)")
    for kind in sorted({r.kind for r in rows}) + ["qa (all kinds)"]:
        sel = [r for r in rows if r.kind == kind or (kind.startswith("qa") and "fixtures/qa" in r.path)]
        for label in ("healthy", "faulty", "benign"):
            s = [r for r in sel if r.label == label]
            c = Counter(r.group for r in s)
            ok = [r for r in s if r.group == "context" and not r.curve_alarms]
            print(f"{kind:24} {label:8} {len(s):5} {c['none']:5} {c['curve']:6} {c['mixed']:6} {c['context']:8}"
                  f"  {len(ok)} ({sum(r.severities == {'warning'} for r in ok)})")  # fmt: skip
    if args.list:
        for r in rows:
            if r.group == "context" and not r.curve_alarms and r.label != "benign":
                print(f"  {r.label:7} {r.kind:14} {','.join(sorted(r.alarms)):16} top {r.top}  {r.path}")
    if args.gates:
        for name, gate in (("context", context_gate), ("curve", curve_gate)):
            for unlogged in (False, True):
                print(f"gate {name}{' (scenarios without a log-only recording)' if unlogged else ''}:")
                for kind in sorted({r.kind for r in rows}):
                    s = [r for r in rows if r.kind == kind and not (unlogged and r.scenario_logged)]
                    n = Counter(r.label for r in s)
                    fa = Counter(r.label for r in s if r.alarms)
                    g = Counter(r.label for r in s if gate(r))
                    lost1 = sum(1 for r in s if gate(r) and r.label == "faulty" and r.top == next(
                        (x.cause for x in runs if x.path == r.path), None))  # fmt: skip
                    print(f"  {kind:14} healthy flagged {fa['healthy']}/{n['healthy']} -> {fa['healthy'] - g['healthy']};"
                          f" faulty called healthy +{g['faulty']} (top-1 lost {lost1}) of {n['faulty']};"
                          f" benign cleared {g['benign']}/{fa['benign']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
