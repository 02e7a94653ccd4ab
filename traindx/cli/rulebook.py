"""The commands about the rulebook: ``rules`` (list it), ``explain`` (one symptom or cause),
``facts`` (what conditions can read), ``schema`` (JSON Schemas) and ``test-rules`` (run the
rules' cases)."""

from __future__ import annotations

import argparse
import json
from typing import Any

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
    from traindx.report.layout import cli_console
    from traindx.rules.loader import load_rulebook

    book = load_rulebook(args.rulebook, override_shipped=args.override_shipped)
    lines = explain(book, args.name)
    console = cli_console()
    for line in lines:
        console.print(line, markup=False, highlight=False)
    return 0


def explain(book: Any, name: str) -> list[Any]:
    """What ``traindx explain NAME`` prints, line by line: texts and hanging-indented
    paragraphs (:class:`~traindx.report.layout.Hang`), wrapped on a terminal as the
    diagnosis is."""
    from rich.text import Text

    from traindx.report.layout import Hang

    out: list[Any] = []

    def section(title: str, body: str) -> None:
        out.extend([Text(title), Hang("  ", body), Text("")])

    sym = book.symptom(name.upper())
    if sym is not None:
        out.append(Hang("", f"{sym.code} ({sym.slug}) - {sym.summary}"))
        out += [Text(f"severity: {sym.severity}   status: {sym.status}   file: {sym.file}:{sym.line}"), Text("")]
        section("What it does", sym.docs.what)
        section("Why it matters", sym.docs.why)
        section("Known false positives", sym.docs.false_positives)
        section("Condition", sym.when)
        if sym.condition.source != sym.when:  # fired.CODE / shared.NAME references
            section("Written out", sym.condition.source)
        causes = sorted((c for c in book.causes if sym.code in c.explains), key=lambda c: -c.explains[sym.code])
        out += [Text("Causes it points to (likelihood ratio)"),
                Hang("  ", ", ".join(f"{c.id} x{c.explains[sym.code]:g}" for c in causes))]  # fmt: skip
        return out
    cause = book.cause(name.lower())
    if cause is None:
        raise TraindxError(f"{name!r} is neither a symptom code nor a cause id; `traindx rules` lists them")
    out.append(Hang("", f"{cause.id} ({cause.family}) - {cause.summary}"))
    out += [Text(f"prior: {cause.prior:g}   file: {cause.file}:{cause.line}"), Text(""), Text("Symptoms it explains (likelihood ratio)")]
    for code, ratio in sorted(cause.explains.items(), key=lambda kv: -kv[1]):
        s = book.symptom(code)
        out.append(Hang(f"  {code} x{ratio:g}  ", s.summary if s else ""))
    if cause.evidence:
        out += [Text(""), Text("Evidence")]
        for ev in cause.evidence:
            out += [Hang(f"  x{ev.lr:g} when ", ev.when), Hang(" " * 8, ev.says)]
            if ev.condition.source != ev.when:  # references written out
                out.append(Hang("        = ", ev.condition.source))
    out += [Text(""), Text("Fixes")]
    for f in cause.fixes:
        out.append(Hang("  - ", f.text))
        if f.when:
            out.append(Hang("      only when ", f.when))
        out.extend(Hang(f"      {fw}: ", getattr(f, fw)) for fw in ("torch", "keras", "jax") if getattr(f, fw))
    return out


def cmd_facts(args: argparse.Namespace) -> int:
    from traindx.rules.catalogue import catalogue, unknown

    cat = catalogue()
    if args.group and args.group not in cat:
        raise TraindxError(unknown(args.group, None) or args.group)
    for group in [args.group] if args.group else sorted(cat):
        print(f"{group}: " + ", ".join(f"{k} ({t})" for k, t in sorted(cat[group].items())))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from traindx.api import Report
    from traindx.lazymodel import LazyModel
    from traindx.schema import Run, RunContext

    models: dict[str, type[LazyModel]] = {"report": Report, "run": Run, "context": RunContext}
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
