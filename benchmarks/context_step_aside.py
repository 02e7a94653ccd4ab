"""How often the learned layer steps aside for the rules because the rules weighed the run's
context (traindx.rerank._unseen_context, mirrored by differential.Compiled.context_weighed),
per input kind with a shipped layer, over the labelled corpus.

    python benchmarks/context_step_aside.py [--kinds logs]

Prints, per kind: runs, runs with an alarm (where the layer is asked), runs it steps aside
on, how many of those have no ``ctx`` fact at all, and the same counts for the older test by
the condition's text (a fired item whose ``when`` names ``ctx.``, whether or not the run has
the fact) and the runs on which the two differ, with the evidence items behind the
step-asides. This measures; it changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from differential import Compiled  # noqa: E402
from labelled import load  # noqa: E402

from traindx.rerank import reads_context  # noqa: E402
from traindx.rules.loader import builtin_dir, load_rulebook  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default="", help="input kinds (default: the kinds with a shipped layer)")
    args = ap.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k] or [p.stem for p in sorted((builtin_dir() / "learned").glob("*.json"))]
    book = load_rulebook()
    runs = load()
    for kind in kinds:
        sel = [r for r in runs if r.input_kind == kind]
        comp = Compiled.build(book, [r.facts for r in sel])
        now, text, items = [], [], Counter()
        for i, r in enumerate(sel):
            if not comp.alarmed[i]:
                continue
            ctx = r.facts.get("ctx") or {}
            fired = [comp.book.cause(comp.names[k][1]).evidence[comp.names[k][2]] for _, _, ps in comp._rows[i] for k in ps[1:]]
            fired = [e for e in fired if e.lr != 1.0]
            if comp.context_weighed(i, ctx):
                now.append(r)
                items.update(e.condition.source for e in fired if reads_context(e.condition.source, ctx))
            if any("ctx." in e.condition.source for e in fired):
                text.append(r)
        print(f"{kind}: {len(sel)} runs, {int(comp.alarmed.sum())} with an alarm; the layer steps aside on "
              f"{len(now)} ({sum(not r.facts.get('ctx') for r in now)} without any ctx fact); by the condition's "
              f"text it would on {len(text)} ({sum(not r.facts.get('ctx') for r in text)} without any ctx fact); the two "
              f"differ on {len({r.path for r in now} ^ {r.path for r in text})} runs")  # fmt: skip
        for when, n in items.most_common():
            print(f"  {n:5}  {when}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
