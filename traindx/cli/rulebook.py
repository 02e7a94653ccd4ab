"""The commands about the rulebook: ``rules`` (list it), ``explain`` (one symptom or cause),
``facts`` (what conditions can read), ``schema`` (JSON Schemas) and ``test-rules`` (run the
rules' cases)."""

from __future__ import annotations

import argparse
import json

from traindx.errors import TraindxError


def cmd_rules(args: argparse.Namespace) -> int:
    from rich.table import Table

    from traindx.report.layout import cli_console
    from traindx.rules.loader import load_rulebook

    book = load_rulebook(args.rulebook, override_shipped=args.override_shipped)
    console = cli_console()
    t = Table(title=f"{len(book.symptoms)} symptoms", title_justify="left")
    for col in ("code", "severity", "status", "summary"):
        t.add_column(col)
    for s in sorted(book.symptoms, key=lambda s: s.code):
        t.add_row(s.code, s.severity, s.status, s.summary)
    console.print(t)
    c = Table(title=f"{len(book.causes)} causes", title_justify="left")
    for col in ("cause", "family", "prior", "explains"):
        c.add_column(col)
    for cause in sorted(book.causes, key=lambda c: (c.family, c.id)):
        c.add_row(cause.id, cause.family, f"{cause.prior:g}", " ".join(sorted(cause.explains)))
    console.print(c)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from traindx.rules.loader import load_rulebook

    book = load_rulebook(args.rulebook, override_shipped=args.override_shipped)
    name = args.name
    sym = book.symptom(name.upper())
    if sym is not None:
        print(
            f"{sym.code} ({sym.slug}) - {sym.summary}\nseverity: {sym.severity}   status: {sym.status}   file: {sym.file}:{sym.line}\n"
        )
        print(
            f"What it does\n  {sym.docs.what}\n\nWhy it matters\n  {sym.docs.why}\n\nKnown false positives\n  {sym.docs.false_positives}\n"
        )
        print(f"Condition\n  {sym.when}\n")
        causes = sorted(
            (c for c in book.causes if sym.code in c.explains), key=lambda c: -c.explains[sym.code]
        )
        print(
            "Causes it points to (likelihood ratio)\n  "
            + ", ".join(f"{c.id} x{c.explains[sym.code]:g}" for c in causes)
        )
        return 0
    cause = book.cause(name.lower())
    if cause is not None:
        print(
            f"{cause.id} ({cause.family}) - {cause.summary}\nprior: {cause.prior:g}   file: {cause.file}:{cause.line}\n"
        )
        print("Symptoms it explains (likelihood ratio)")
        for code, ratio in sorted(cause.explains.items(), key=lambda kv: -kv[1]):
            s = book.symptom(code)
            print(f"  {code} x{ratio:g}  {s.summary if s else ''}")
        if cause.evidence:
            print("\nEvidence")
            for ev in cause.evidence:
                print(f"  x{ev.lr:g} when {ev.when}\n        {ev.says}")
        print("\nFixes")
        for f in cause.fixes:
            print(f"  - {f.text}")
            for fw in ("torch", "keras", "jax"):
                if getattr(f, fw):
                    print(f"      {fw}: {getattr(f, fw)}")
        return 0
    raise TraindxError(
        f"{name!r} is neither a symptom code nor a cause id; `traindx rules` lists them"
    )


def cmd_facts(args: argparse.Namespace) -> int:
    from traindx.rules.catalogue import catalogue, unknown

    cat = catalogue()
    if args.group and args.group not in cat:
        raise TraindxError(unknown(args.group, None) or args.group)
    for group in [args.group] if args.group else sorted(cat):
        print(f"{group}: " + ", ".join(f"{k} ({t})" for k, t in sorted(cat[group].items())))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from pydantic import BaseModel

    from traindx.api import Report
    from traindx.schema import Run, RunContext

    models: dict[str, type[BaseModel]] = {"report": Report, "run": Run, "context": RunContext}
    model = models[args.which]
    print(json.dumps(model.model_json_schema(mode="serialization"), indent=2))
    return 0


def cmd_test_rules(args: argparse.Namespace) -> int:
    from traindx.rules.loader import load_rulebook
    from traindx.rules.testing import run_all

    results = run_all(load_rulebook(args.rulebook, override_shipped=args.override_shipped))
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"FAIL {r.id}: {r.message}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
