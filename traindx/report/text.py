"""Terminal report: one block per run, as lines (:mod:`traindx.report.layout`) that rich
renders on a terminal and that are written as plain text elsewhere (rich not imported)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from traindx.diagnosis import CauseResult, Diagnosis
from traindx.evidence_words import fact_text
from traindx.headline import not_ruled_out
from traindx.report.layout import Hang, Line, Printer
from traindx.schema import IngestReport, SkippedPath
from traindx.textsafe import printable, value_text

if TYPE_CHECKING:
    from traindx.api import Report

SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
TOP_CAUSES = 3


def _cause_lines(rank: int, c: CauseResult, framework: str | None, verbose: bool) -> list[Hang]:
    head = [(c.id, "bold"), (f"  {c.probability:.0%}  ", ""), (c.summary, "dim")]
    out = [Hang(f"  {rank}. ", head)]
    moved = sorted((e for e in c.evidence if e.kind != "prior"), key=lambda e: -abs(e.weight))
    for e in moved[: (None if verbose else 4)]:
        sign = "+" if e.weight > 0 else "-"
        out.append(Hang(f"       {sign} ", f"{e.says}  (x{math.exp(e.weight):.2g})", "green" if e.weight > 0 else "dim"))
    fixes = c.fixes if verbose or rank == 1 else c.fixes[:1]
    for f in fixes:
        out.append(Hang("     fix: ", f.text))
        snip = f.snippets.get(framework or "") if framework else None
        if snip:
            out.append(Hang(f"          {framework}: ", snip, "dim"))
    return out


#: How each kind of ingest problem is counted in the one-line summary.
_KIND_WORDS = {
    "corrupt": "corrupt record(s) skipped", "superseded": "point(s) superseded by later writes",
    "dropped": "point(s) dropped", "reordered": "point(s) put back in step order",
    "renumbered": "point(s) renumbered by record order", "unreadable": "file(s) unreadable",
}  # fmt: skip


def _ingest_lines(ing: IngestReport, verbose: bool) -> list[Hang]:
    counts: dict[str, int] = {}
    for p in ing.problems:
        if p.kind in _KIND_WORDS:
            counts[p.kind] = counts.get(p.kind, 0) + (p.count if p.kind != "unreadable" else 1)
    out = []
    said = [f"{n:,} {_KIND_WORDS[k]}" for k, n in counts.items() if n]
    if said:
        out.append(Hang("  input: ", "; ".join(said), "yellow"))
    if ing.unmapped:  # logged names traindx does not read: counted, never dropped silently
        names = ", ".join(printable(repr(n)) for n in ing.unmapped[: None if verbose else 6])
        more = "" if verbose or len(ing.unmapped) <= 6 else ", ..."
        out.append(Hang("  input: ", f"{len(ing.unmapped)} logged name(s) not read: {names}{more} "
                        "(`traindx series` says why; --map NAME=METRIC reads one)", "dim"))  # fmt: skip
    shown = ing.problems if verbose else ing.problems[:3]
    for p in shown:
        out.append(Hang("  input: ", printable(p.message), "yellow"))
    if len(shown) < len(ing.problems):
        out.append(Hang("  input: ", f"{len(ing.problems) - len(shown)} more (-v shows them)", "dim"))
    return out


def _headline(d: Diagnosis) -> Hang:
    mark = {"healthy": ("OK", "bold green"), "no_data": ("--", "bold yellow"),
            "insufficient_data": ("??", "bold yellow")}.get(d.verdict, ("!!", "bold red"))  # fmt: skip
    return Hang([mark, (" ", "")], [(printable(d.run_id), "bold"), (f"  {printable(d.headline)}", "")])


def render_diagnosis(d: Diagnosis, *, verbose: bool = False) -> list[Hang | Line]:
    """The report's lines for one run (print each with a rich console or a PlainConsole)."""
    parts: list[Hang | Line] = [_headline(d)]
    if d.hyperparameters and verbose:
        hps = ", ".join(f"{k}={value_text(v)}" for k, v in d.hyperparameters.items())
        parts.append(Hang("  hyperparameters: ", printable(hps), "dim"))
    if d.not_ruled_out:
        parts.append(Hang("  not ruled out: ", not_ruled_out(d), "dim"))
    if d.verdict == "insufficient_data":
        for m in d.missing[1:]:
            parts.append(Hang("  also missing: ", printable(m), "yellow"))
    if d.symptoms and (d.verdict == "findings" or verbose):
        parts.append(Line("  symptoms", style="bold"))
        for s in d.symptoms:
            at = f" (from {s.onset_unit} {s.onset_step})" if s.onset_step is not None else ""
            sev = [("    ", ""), (f"{s.severity.upper():7}", SEV_STYLE[s.severity]), (" ", "")]
            parts.append(Hang(sev, f"{s.code} {s.summary}{at}"))
            if s.evidence:
                facts = "  ".join(fact_text(e) for e in s.evidence)
                parts.append(Hang(" " * 12, facts, "dim"))
    elif d.symptoms:
        notes = ", ".join(f"{s.code} {s.slug}" for s in d.symptoms)
        parts.append(Hang("  note: ", notes, "cyan"))
    if d.causes:
        parts.append(Line("  likely causes", style="bold"))
        for i, c in enumerate(d.causes[: (None if verbose else TOP_CAUSES)], 1):
            parts.extend(_cause_lines(i, c, d.framework, verbose))
        rest = d.causes[TOP_CAUSES:] if not verbose else []
        tail = ", ".join(f"{c.id} {c.probability:.0%}" for c in rest[:5])
        if tail:
            parts.append(Hang("     also: ", tail, "dim"))
        parts.append(Line(f"     none of these: {d.unknown_probability:.0%}", style="dim"))
        g = d.confusable
        if g:
            parts.append(Hang("  cannot separate: ", f"{' / '.join(g.causes)} (together {g.probability:.0%})", "bold yellow"))
            for how in g.tell_apart[: (None if verbose else 3)]:
                parts.append(Hang("     would tell them apart: ", how))
            if not g.tell_apart:
                parts.append(Hang("     ", "the recorded facts weigh them about equally; try each cause's first fix in turn"))
    if d.checks:  # preflight: failed and skipped checks always, passed ones when verbose
        n = {st: sum(c.status == st for c in d.checks) for st in ("passed", "failed", "skipped")}
        parts.append(Line(f"  preflight checks: {n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped", style="bold"))
        style = {"passed": "green", "failed": "red", "skipped": "yellow"}
        for chk in d.checks:
            if chk.status != "passed" or verbose:
                parts.append(Hang(f"    {chk.status:7} ", f"{printable(chk.name)}: {printable(chk.explanation)}", style[chk.status]))
    parts.extend(_ingest_lines(d.ingest, verbose))
    # a rule whose evaluation failed is a rulebook bug: always said, with its error
    for ne in (ne for ne in d.not_evaluated if ne.error):
        parts.append(Hang("  not evaluated: ", f"{ne.rule}: error {printable(ne.error or '')}", "yellow"))
    lacking = [ne for ne in d.not_evaluated if not ne.error]
    if lacking and verbose:
        needs = sorted({n for ne in lacking for n in ne.needs})
        parts.append(Hang("  not evaluated: ", f"{len(lacking)} rule(s) lack data ({', '.join(needs)})", "dim"))
        for ne in lacking:
            parts.append(Hang(f"    {ne.rule}: ", f"needs {', '.join(ne.needs)}", "dim"))
    elif lacking and d.verdict == "findings":  # a count; the list is -v's
        parts.append(Line(f"  not evaluated: {len(lacking)} rule(s) lack data (-v lists them)", style="dim"))
    return parts


def print_report(
    diags: Sequence[Diagnosis],
    console: Printer,
    *,
    verbose: bool = False,
    skipped: Sequence[SkippedPath] = (),
    errors: Sequence[SkippedPath] = (),
) -> None:
    for i, d in enumerate(diags):
        if i:
            console.print()
        for part in render_diagnosis(d, verbose=verbose):
            console.print(part)
    if skipped:
        console.print(Line(f"\nnot read: {len(skipped)} file(s)/folder(s)", style="bold yellow"))
        for s in skipped[: (None if verbose else 10)]:
            console.print(Line(f"  {printable(s.path)}: {printable(s.reason)}", style="yellow"))
        if not verbose and len(skipped) > 10:
            console.print(Line(f"  ... {len(skipped) - 10} more (-v shows them)", style="dim"))
    for e in errors:
        console.print(Line(f"error: {printable(e.reason)}", style="bold red"))
    if len(diags) > 1:
        kinds = ("healthy", "findings", "insufficient_data", "no_data")
        n = {v: sum(d.verdict == v for d in diags) for v in kinds}
        line = f"\n{len(diags)} runs: {n['healthy']} healthy, {n['findings']} with findings"
        if n["insufficient_data"]:
            line += f", {n['insufficient_data']} with insufficient data"
        if n["no_data"]:
            line += f", {n['no_data']} with no data yet"
        console.print(Line(line, style="bold"))


def render_text(
    what: Diagnosis | Report | Sequence[Diagnosis],
    *,
    verbose: bool = False,
    skipped: Sequence[SkippedPath] = (),
    errors: Sequence[SkippedPath] = (),
) -> str:
    """The terminal report as plain text (110 columns): of one diagnosis, of a
    :class:`~traindx.api.Report` (its runs, what was not read and the errors) or of a list of
    diagnoses. ``print(render_text(traindx.diagnose("runs/exp1")))``."""
    if isinstance(what, Diagnosis):
        diags: Sequence[Diagnosis] = [what]
    elif isinstance(what, Sequence):
        diags = what
    else:
        diags, skipped, errors = what.runs, [*what.skipped, *skipped], [*what.errors, *errors]
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=110, no_color=True, highlight=False, soft_wrap=False)
    print_report(diags, console, verbose=verbose, skipped=skipped, errors=errors)
    return buf.getvalue()
