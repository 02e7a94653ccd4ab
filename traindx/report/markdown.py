"""Markdown report: compact, for a pull request or a CI job summary (``--format markdown``).

Per run: the headline, a table of symptoms, the top causes with their strongest evidence,
and the first fix (with the run's framework's snippet). Several runs start with a table of
runs and verdicts. Everything logged (run ids, metric names) is escaped, so a name cannot
break the table or inject markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from traindx.diagnosis import CauseResult, Diagnosis
from traindx.evidence_words import fact_text
from traindx.headline import not_ruled_out
from traindx.schema import SkippedPath
from traindx.textsafe import printable, value_text

TOP_CAUSES = 3
EVIDENCE_PER_CAUSE = 3
HYPERPARAMETERS = 20  # shown per run (the JSON report has them all)
_MARK = {
    "healthy": "OK",
    "findings": "FINDINGS",
    "insufficient_data": "INSUFFICIENT DATA",
    "no_data": "NO DATA",
}
#: markup characters anywhere; "_" only at a word's edge (CommonMark ignores lr_too_high's)
_SPECIAL = re.compile(r"([\\`*\[\]<>|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def esc(text: object, *, line_start: bool = False) -> str:
    """Markdown-inert text on one line (table cells too); ``line_start``: it begins a line."""
    out = _SPECIAL.sub(r"\\\1", printable(str(text)).replace("\n", " "))
    return "\\" + out if line_start and out[:1] in ("#", "+", "-", "=", ">") else out


def _code(text: str) -> str:
    """Inline code: a fence of backticks longer than any run inside the text."""
    text = printable(text).replace("\n", " ")
    n = max((len(m) for m in re.findall(r"`+", text)), default=0) + 1
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{'`' * n}{pad}{text}{pad}{'`' * n}"


def _onset(s) -> str:
    return f"{s.onset_unit} {s.onset_step}" if s.onset_step is not None else ""


def _cause(rank: int, c: CauseResult, framework: str | None) -> list[str]:
    out = [f"{rank}. **{esc(c.id)}** {c.probability:.0%} - {esc(c.summary)}"]
    moved = sorted((e for e in c.evidence if e.kind != "prior"), key=lambda e: -abs(e.weight))
    for e in moved[:EVIDENCE_PER_CAUSE]:
        sign = "+" if e.weight > 0 else "-"
        out.append(f"   - {sign} {esc(e.says)} (x{math.exp(e.weight):.2g})")
    if rank == 1 and c.fixes:
        fix = c.fixes[0]
        out.append(f"   - **first fix:** {esc(fix.text)}")
        order = ([framework] if framework in fix.snippets else []) + [
            k for k in fix.snippets if k != framework
        ]
        if order:
            fw = order[0]
            out.append(f"     {esc(fw)}: {_code(fix.snippets[fw])}")
    return out


def render_run(d: Diagnosis, *, heading: str = "###") -> str:
    lines = [
        f"{heading} {_MARK[d.verdict]}: {esc(d.run_id)}",
        "",
        esc(d.headline, line_start=True),
        "",
    ]
    if d.hyperparameters:
        hps = list(d.hyperparameters.items())
        more = f" and {len(hps) - HYPERPARAMETERS} more" if len(hps) > HYPERPARAMETERS else ""
        shown = ", ".join(f"{_code(str(k))}={esc(value_text(v))}" for k, v in hps[:HYPERPARAMETERS])
        lines += [f"hyperparameters: {shown}{more}", ""]
    if d.not_ruled_out:
        lines += [f"not ruled out: {esc(not_ruled_out(d))}", ""]
    for m in d.missing[1:]:
        lines.append(f"- also missing: {esc(m)}")
    if d.missing[1:]:
        lines.append("")
    if d.symptoms:
        lines += ["| severity | code | symptom | from | evidence |", "|---|---|---|---|---|"]
        for s in d.symptoms:
            ev = ", ".join(esc(fact_text(e)) for e in s.evidence)
            lines.append(
                f"| {s.severity} | {esc(s.code)} | {esc(s.summary)} | {_onset(s)} | {ev} |"
            )
        lines.append("")
    if d.causes and d.verdict == "findings":
        lines.append("**Likely causes**")
        lines.append("")
        for i, c in enumerate(d.causes[:TOP_CAUSES], 1):
            lines += _cause(i, c, d.framework)
        lines.append(f"\nnone of these: {d.unknown_probability:.0%}")
        if d.confusable:
            g = d.confusable
            lines.append(
                f"\ncannot separate: {esc(' / '.join(g.causes))} (together {g.probability:.0%})"
            )
            for how in g.tell_apart[:3]:
                lines.append(f"- would tell them apart: {esc(how)}")
        lines.append("")
    failed = [c for c in d.checks if c.status == "failed"]
    if d.checks:
        n = {st: sum(c.status == st for c in d.checks) for st in ("passed", "failed", "skipped")}
        lines.append(
            f"preflight checks: {n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped"
        )
        for chk in failed:
            lines.append(f"- failed {esc(chk.name)}: {esc(chk.explanation)}")
        lines.append("")
    if d.ingest.unmapped:  # logged names not read: counted and named, never dropped silently
        names = ", ".join(_code(n) for n in d.ingest.unmapped[:10])
        more = f" and {len(d.ingest.unmapped) - 10} more" if len(d.ingest.unmapped) > 10 else ""
        lines.append(f"input: {len(d.ingest.unmapped)} logged name(s) not read: {names}{more} "
                     "(`traindx series` says why; `--map NAME=METRIC` reads one)")  # fmt: skip
        lines.append("")
    lost = d.ingest.lost()
    if lost:
        lines.append(
            f"input: {lost:,} point(s) or record(s) not read ({len(d.ingest.problems)} problem(s); `traindx diagnose -v` lists them)"
        )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(
    diags: Sequence[Diagnosis],
    *,
    skipped: Sequence[SkippedPath] = (),
    errors: Sequence[SkippedPath] = (),
) -> str:
    """The Markdown report of ``diags`` (one ``###`` section per run)."""
    parts = ["## traindx diagnosis", ""]
    if len(diags) > 1:
        n = {v: sum(d.verdict == v for d in diags) for v in _MARK}
        parts.append(
            f"{len(diags)} runs: {n['healthy']} healthy, {n['findings']} with findings, "
            f"{n['insufficient_data']} with insufficient data, {n['no_data']} with no data"
        )
        parts += ["", "| run | verdict | worst | top cause |", "|---|---|---|---|"]
        for d in diags:
            top = (
                f"{esc(d.top.id)} {d.top.probability:.0%}"
                if d.top and d.verdict == "findings"
                else ""
            )
            parts.append(f"| {esc(d.run_id)} | {d.verdict} | {d.worst_severity or ''} | {top} |")
        parts.append("")
    if not diags:
        parts += ["no run found", ""]
    for d in diags:
        parts.append(render_run(d))
    if skipped:
        parts.append(f"not read: {len(skipped)} file(s)/folder(s)")
        parts += [f"- {esc(s.path)}: {esc(s.reason)}" for s in skipped[:10]]
        if len(skipped) > 10:
            parts.append(f"- ... {len(skipped) - 10} more")
        parts.append("")
    for e in errors:
        parts.append(f"**error:** {esc(e.reason)}")
    return "\n".join(parts).rstrip() + "\n"
