"""Terminal report: one block per run, rendered with rich (plain text when not a terminal)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from rich.console import Console, Group
from rich.markup import escape
from rich.text import Text

from traindx.diagnosis import CauseResult, Diagnosis
from traindx.schema import IngestReport, SkippedPath
from traindx.textsafe import printable

SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
TOP_CAUSES = 3


def _num(v: object) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.3g}"
    return str(v)


def _cause_lines(rank: int, c: CauseResult, framework: str | None, verbose: bool) -> list[Text]:
    out = [Text.from_markup(f"  {rank}. [bold]{c.id}[/bold]  {c.probability:.0%}  [dim]{escape(c.summary)}[/dim]")]
    moved = sorted((e for e in c.evidence if e.kind != "prior"), key=lambda e: -abs(e.weight))
    for e in moved[: (None if verbose else 4)]:
        sign = "+" if e.weight > 0 else "-"
        out.append(Text(f"       {sign} {e.says}  (x{math.exp(e.weight):.2g})", style="green" if e.weight > 0 else "dim"))
    fixes = c.fixes if verbose or rank == 1 else c.fixes[:1]
    for f in fixes:
        out.append(Text(f"     fix: {f.text}"))
        snip = f.snippets.get(framework or "") if framework else None
        if snip:
            out.append(Text(f"          {framework}: {snip}", style="dim"))
    return out


#: How each kind of ingest problem is counted in the one-line summary.
_KIND_WORDS = {
    "corrupt": "corrupt record(s) skipped", "superseded": "point(s) superseded by later writes",
    "dropped": "point(s) dropped", "reordered": "point(s) put back in step order",
    "renumbered": "point(s) renumbered by record order", "unreadable": "file(s) unreadable",
}  # fmt: skip


def _ingest_lines(ing: IngestReport, verbose: bool) -> list[Text]:
    counts: dict[str, int] = {}
    for p in ing.problems:
        if p.kind in _KIND_WORDS:
            counts[p.kind] = counts.get(p.kind, 0) + (p.count if p.kind != "unreadable" else 1)
    out = []
    said = [f"{n:,} {_KIND_WORDS[k]}" for k, n in counts.items() if n]
    if said:
        out.append(Text(f"  input: {'; '.join(said)}", style="yellow"))
    shown = ing.problems if verbose else ing.problems[:3]
    for p in shown:
        out.append(Text(f"  input: {printable(p.message)}", style="yellow"))
    if len(shown) < len(ing.problems):
        out.append(Text(f"  input: {len(ing.problems) - len(shown)} more (-v shows them)", style="dim"))
    return out


def render_diagnosis(d: Diagnosis, *, verbose: bool = False) -> Group:
    parts: list[Text] = []
    run_id, headline = escape(printable(d.run_id)), escape(printable(d.headline))
    if d.healthy:
        parts.append(Text.from_markup(f"[bold green]OK[/bold green] [bold]{run_id}[/bold]  {headline}"))
    elif d.verdict == "no_data":
        parts.append(Text.from_markup(f"[bold yellow]--[/bold yellow] [bold]{run_id}[/bold]  {headline}"))
    elif d.verdict == "insufficient_data":
        parts.append(Text.from_markup(f"[bold yellow]??[/bold yellow] [bold]{run_id}[/bold]  {headline}"))
        for m in d.missing[1:]:
            parts.append(Text(f"  also missing: {printable(m)}", style="yellow"))
    else:
        parts.append(Text.from_markup(f"[bold red]!![/bold red] [bold]{run_id}[/bold]  {headline}"))
    if d.symptoms and (d.verdict == "findings" or verbose):
        parts.append(Text("  symptoms", style="bold"))
        for s in d.symptoms:
            at = f" (from {s.onset_unit} {s.onset_step})" if s.onset_step is not None else ""
            line = Text("    ")
            line.append(f"{s.severity.upper():7}", style=SEV_STYLE[s.severity])
            line.append(f" {s.code} {s.summary}{at}")
            parts.append(line)
            if s.evidence:
                facts = "  ".join(f"{e.fact}={_num(e.value)}" for e in s.evidence)
                parts.append(Text(f"            {facts}", style="dim"))
    elif d.symptoms:
        notes = ", ".join(f"{s.code} {s.slug}" for s in d.symptoms)
        parts.append(Text(f"  note: {notes}", style="cyan"))
    if d.causes:
        parts.append(Text("  likely causes", style="bold"))
        for i, c in enumerate(d.causes[: (None if verbose else TOP_CAUSES)], 1):
            parts.extend(_cause_lines(i, c, d.framework, verbose))
        rest = d.causes[TOP_CAUSES:] if not verbose else []
        tail = ", ".join(f"{c.id} {c.probability:.0%}" for c in rest[:5])
        if tail:
            parts.append(Text(f"     also: {tail}", style="dim"))
        parts.append(Text(f"     none of these: {d.unknown_probability:.0%}", style="dim"))
        g = d.confusable
        if g:
            parts.append(Text(f"  cannot separate: {' / '.join(g.causes)} (together {g.probability:.0%})", style="bold yellow"))
            for how in g.tell_apart[: (None if verbose else 3)]:
                parts.append(Text(f"     would tell them apart: {how}"))
            if not g.tell_apart:
                parts.append(Text("     the recorded facts weigh them about equally; try each cause's first fix in turn"))
    if d.checks:  # preflight: failed and skipped checks always, passed ones when verbose
        n = {st: sum(c.status == st for c in d.checks) for st in ("passed", "failed", "skipped")}
        parts.append(Text(f"  preflight checks: {n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped", style="bold"))
        style = {"passed": "green", "failed": "red", "skipped": "yellow"}
        for c in d.checks:
            if c.status != "passed" or verbose:
                parts.append(Text(f"    {c.status:7} {printable(c.name)}: {printable(c.explanation)}", style=style[c.status]))
    parts.extend(_ingest_lines(d.ingest, verbose))
    # a rule whose evaluation failed is a rulebook bug: always said, with its error
    for ne in (ne for ne in d.not_evaluated if ne.error):
        parts.append(Text(f"  not evaluated: {ne.rule}: error {printable(ne.error or '')}", style="yellow"))
    lacking = [ne for ne in d.not_evaluated if not ne.error]
    if lacking and (verbose or d.verdict == "findings"):
        needs = sorted({n for ne in lacking for n in ne.needs})
        parts.append(Text(f"  not evaluated: {len(lacking)} rule(s) lack data ({', '.join(needs)})", style="dim"))
        if verbose:
            for ne in lacking:
                parts.append(Text(f"    {ne.rule}: needs {', '.join(ne.needs)}", style="dim"))
    return Group(*parts)


def print_report(
    diags: Sequence[Diagnosis],
    console: Console,
    *,
    verbose: bool = False,
    skipped: Sequence[SkippedPath] = (),
    errors: Sequence[SkippedPath] = (),
) -> None:
    for i, d in enumerate(diags):
        if i:
            console.print()
        console.print(render_diagnosis(d, verbose=verbose))
    if skipped:
        console.print(Text(f"\nnot read: {len(skipped)} file(s)/folder(s)", style="bold yellow"))
        for s in skipped[: (None if verbose else 10)]:
            console.print(Text(f"  {printable(s.path)}: {printable(s.reason)}", style="yellow"))
        if not verbose and len(skipped) > 10:
            console.print(Text(f"  ... {len(skipped) - 10} more (-v shows them)", style="dim"))
    for e in errors:
        console.print(Text(f"error: {printable(e.reason)}", style="bold red"))
    if len(diags) > 1:
        kinds = ("healthy", "findings", "insufficient_data", "no_data")
        n = {v: sum(d.verdict == v for d in diags) for v in kinds}
        line = f"\n{len(diags)} runs: {n['healthy']} healthy, {n['findings']} with findings"
        if n["insufficient_data"]:
            line += f", {n['insufficient_data']} with insufficient data"
        if n["no_data"]:
            line += f", {n['no_data']} with no data yet"
        console.print(Text(line, style="bold"))


def render_text(
    diags: Sequence[Diagnosis],
    *,
    verbose: bool = False,
    skipped: Sequence[SkippedPath] = (),
    errors: Sequence[SkippedPath] = (),
) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=110, no_color=True, highlight=False, soft_wrap=False)
    print_report(diags, console, verbose=verbose, skipped=skipped, errors=errors)
    return buf.getvalue()
