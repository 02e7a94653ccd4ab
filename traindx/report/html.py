"""HTML report: one self-contained file (``traindx diagnose PATH --html report.html``).

Per run: the headline, symptoms, ranked causes with evidence and fixes (snippets with a copy
button, the run's framework first), charts of loss, metrics, LR and gradient norm with each
symptom's onset and the best checkpoint marked, per-layer heatmaps when an adapter recorded
them, the preflight checks and the LR range test's curve; several runs get an index table.

Plotting: uPlot (MIT, vendored in ``assets/``, 51 kB minified) draws the line charts on
canvas; heatmaps are drawn on canvas by ``assets/report.js``. Series are downsampled for
display only (:mod:`traindx.report.plotdata`: min/max per bucket, at most ~2,000 points per
series), so a 1M-step run gives a file of the same size as a 10k-step one. Measured with
``benchmarks/html_report.py`` (see the README for the numbers and the alternatives compared).
Nothing is fetched when the file is opened: styles, scripts and data are inline.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from traindx.diagnosis import CauseResult, Diagnosis
from traindx.errors import TraindxError
from traindx.evidence_words import fact_text
from traindx.headline import not_ruled_out
from traindx.report.plotdata import PlotSection, heatmaps, lr_range_chart, run_charts
from traindx.schema import Run, SkippedPath
from traindx.textsafe import printable, value_text

#: draw every plot at load when the page has at most this many; else each run's on scroll
EAGER_LIMIT = 60
TOP_CAUSES = 5
_BADGE = {
    "healthy": "OK",
    "findings": "FINDINGS",
    "insufficient_data": "INSUFFICIENT DATA",
    "no_data": "NO DATA",
}


def _asset(name: str) -> str:
    return (
        resources.files("traindx.report")
        .joinpath("assets")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


def e(text: object) -> str:
    """Escaped, printable text for HTML content and attributes."""
    return html.escape(printable(str(text)), quote=True)


def _snippets(snips: Mapping[str, str], framework: str | None) -> str:
    """The run's framework's snippet first; the others folded when the framework is known."""

    def one(fw: str) -> str:
        return (f'<div class="snip"><span class="fw">{e(fw)}</span><button class="copy" type="button">copy</button>'
                f"<pre><code>{e(snips[fw])}</code></pre></div>")  # fmt: skip

    if framework is None or framework not in snips:
        return "".join(one(fw) for fw in snips)
    others = [fw for fw in snips if fw != framework]
    folded = f'<details><summary class="dim">{", ".join(others)}</summary>{"".join(one(fw) for fw in others)}</details>'
    return one(framework) + (folded if others else "")


def _cause(rank: int, c: CauseResult, framework: str | None) -> str:
    moved = sorted((x for x in c.evidence if x.kind != "prior"), key=lambda x: -abs(x.weight))
    ev = "".join(
        f'<div class="ev {"pos" if x.weight > 0 else "neg"}">{"+" if x.weight > 0 else "-"} {e(x.says)} '
        f'<span class="dim">(x{math.exp(x.weight):.2g})</span></div>'
        for x in moved
    )
    fixes = c.fixes if rank == 1 else c.fixes[:1]
    fx = "".join(
        f'<div class="fix">fix: {e(f.text)}</div>{_snippets(f.snippets, framework)}' for f in fixes
    )
    head = f'<b>{rank}. {e(c.id)}</b><span class="prob">{c.probability:.0%}</span> <span class="dim">{e(c.summary)}</span>'
    if rank == 1:  # the leading cause open; the others folded to one line each
        return f'<div class="cause rank1">{head}{ev}{fx}</div>'
    return f'<details class="cause"><summary>{head}</summary>{ev}{fx}</details>'


def _chart_html(i: int, c: PlotSection) -> str:
    marks = "".join(f"<li>{e(m.title or m.label)}</li>" for m in c.marks)
    return (
        f'<h4>{e(c.title)}</h4><div class="chart" data-chart="{i}" data-title="{e(c.title)}"></div>'
        + (f'<div class="note">{e(c.note)}</div>' if c.note else "")
        + (f'<ul class="marks">{marks}</ul>' if marks else "")
    )


def _heat_html(i: int, hm: dict[str, Any]) -> str:
    return (
        f'<h4>{e(hm["title"])}</h4><div class="heatmap" data-heatmap="{i}"><canvas></canvas>'
        '<div class="tip"></div><div class="scale dim"></div></div>'
    )


def _run_section(
    i: int, d: Diagnosis, run: Run | None, charts: list[PlotSection], heats: list[dict]
) -> str:
    out = [f'<section class="run" id="run-{i}" data-run="{i}">',
           f'<h2><span class="badge v-{d.verdict}">{_BADGE[d.verdict]}</span>{e(d.run_id)}</h2>']  # fmt: skip
    meta = [x for x in (d.source, d.framework) if x]
    if run is not None:
        meta.append(
            f"{len(run.series)} series, {sum(len(s) for s in run.series.values()):,} points"
        )
    out.append(f'<div class="meta">{" &middot; ".join(e(m) for m in meta)}</div>')
    out.append(f'<p class="headline">{e(d.headline)}</p>')
    if d.hyperparameters:
        hps = " ".join(f"<code>{e(k)}={e(value_text(v))}</code>" for k, v in d.hyperparameters.items())
        out.append(f'<div class="meta hyperparameters">hyperparameters: {hps}</div>')
    if d.not_ruled_out:
        out.append(f'<p class="meta">not ruled out: {e(not_ruled_out(d))}</p>')
    if d.missing[1:]:
        out.append(
            "<ul>" + "".join(f"<li>also missing: {e(m)}</li>" for m in d.missing[1:]) + "</ul>"
        )
    if d.symptoms:
        rows = "".join(
            f'<tr><td class="sev-{s.severity}">{s.severity}</td><td>{e(s.code)}</td><td>{e(s.summary)}</td>'
            f"<td>{'' if s.onset_step is None else f'{e(s.onset_unit)} {s.onset_step}'}</td>"
            f'<td class="dim">{" ".join(e(fact_text(x)) for x in s.evidence)}</td></tr>'
            for s in d.symptoms
        )
        out.append("<h3>Symptoms</h3><table><tr><th>severity</th><th>code</th><th>symptom</th>"
                   f"<th>from</th><th>evidence</th></tr>{rows}</table>")  # fmt: skip
    if d.causes and d.verdict == "findings":
        out.append("<h3>Likely causes</h3>")
        out.extend(_cause(k, c, d.framework) for k, c in enumerate(d.causes[:TOP_CAUSES], 1))
        rest = d.causes[TOP_CAUSES:]
        if rest:
            more = ", ".join(f"{e(c.id)} {c.probability:.0%}" for c in rest)
            out.append(f'<div class="dim">also: {more}</div>')
        out.append(f'<div class="dim">none of these: {d.unknown_probability:.0%}</div>')
        if d.confusable:
            g = d.confusable
            tell = "".join(f"<li>would tell them apart: {e(t)}</li>" for t in g.tell_apart)
            out.append(
                f"<p><b>cannot separate:</b> {e(' / '.join(g.causes))} (together {g.probability:.0%})</p><ul>{tell}</ul>"
            )
    if charts or heats:
        out.append("<h3>Plots</h3>")
        out.extend(_chart_html(k, c) for k, c in enumerate(charts))
        out.extend(_heat_html(k, h) for k, h in enumerate(heats))
    elif run is None:
        out.append(
            '<p class="dim">no plots: the series were not kept (write_html needs a report made with keep_runs=True)</p>'
        )
    if d.checks:
        rows = "".join(
            f'<tr><td class="{c.status}">{c.status}</td><td>{e(c.name)}</td><td>{e(c.explanation)}</td></tr>'
            for c in d.checks
        )
        out.append(f'<h3>Preflight checks</h3><table class="checks">{rows}</table>')
    if d.ingest.problems or d.ingest.unmapped:
        items = "".join(f"<li>{e(p.message)}</li>" for p in d.ingest.problems[:50])
        more = (
            f"<li>... {len(d.ingest.problems) - 50} more</li>"
            if len(d.ingest.problems) > 50
            else ""
        )
        if d.ingest.unmapped:  # logged names not read: counted and named, never dropped silently
            names = ", ".join(e(repr(n)) for n in d.ingest.unmapped[:50])
            items = f"<li>{len(d.ingest.unmapped)} logged name(s) not read: {names}</li>" + items
        out.append(f'<h3>Input</h3><ul class="dim">{items}{more}</ul>')
    out.append("</section>")
    return "\n".join(out)


def _index(diags: Sequence[Diagnosis]) -> str:
    rows = "".join(
        f'<tr><td><a href="#run-{i}">{e(d.run_id)}</a></td><td><span class="badge v-{d.verdict}">{_BADGE[d.verdict]}</span></td>'
        f"<td>{e(d.top.id) + f' {d.top.probability:.0%}' if d.top and d.verdict == 'findings' else ''}</td><td>{e(d.headline)}</td></tr>"
        for i, d in enumerate(diags)
    )
    n = {v: sum(d.verdict == v for d in diags) for v in _BADGE}
    summary = (f"{len(diags)} runs: {n['healthy']} healthy, {n['findings']} with findings, "
               f"{n['insufficient_data']} with insufficient data, {n['no_data']} with no data")  # fmt: skip
    return (f'<nav class="index"><h2>Runs</h2><p>{summary}</p><table><tr><th>run</th><th>verdict</th>'
            f"<th>top cause</th><th>headline</th></tr>{rows}</table></nav>")  # fmt: skip


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.6g}")
    if isinstance(v, list):
        return [_round(x) for x in v]
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    return v


def render_html(
    diags: Sequence[Diagnosis],
    runs: Sequence[Run | None] = (),
    *,
    sections: Sequence[PlotSection] = (),
    skipped: Sequence[SkippedPath] = (),
    errors: Sequence[SkippedPath] = (),
    title: str = "traindx report",
) -> str:
    """The report page. ``runs[i]`` is the Run of ``diags[i]`` (plots need it); ``sections``
    are extra charts shown after the runs (e.g. a final metric against a hyperparameter)."""
    data: dict[str, Any] = {"runs": [], "eager_limit": EAGER_LIMIT}
    body = [f"<h1>{e(title)}</h1>"]
    if len(diags) > 1:
        body.append(_index(diags))
    for i, d in enumerate(diags):
        run = runs[i] if i < len(runs) else None
        charts = run_charts(run, d) if run is not None else []
        if (lr := lr_range_chart(d.checks)) is not None:
            charts.append(lr)
        heats = heatmaps(run) if run is not None else []
        data["runs"].append({"charts": [c.to_json() for c in charts], "heatmaps": heats})
        body.append(_run_section(i, d, run, charts, heats))
    if sections:
        k = len(data["runs"])
        data["runs"].append({"charts": [c.to_json() for c in sections], "heatmaps": []})
        body.append(
            f'<section class="run extra" data-run="{k}">'
            + "".join(_chart_html(j, c) for j, c in enumerate(sections))
            + "</section>"
        )
    if not diags and not sections:
        body.append("<p>no run found</p>")
    if skipped:
        items = "".join(f"<li>{e(s.path)}: {e(s.reason)}</li>" for s in skipped)
        body.append(
            f'<section class="extra"><h3>Not read: {len(skipped)} file(s)/folder(s)</h3><ul class="dim">{items}</ul></section>'
        )
    for err in errors:
        body.append(f'<p class="sev-error">error: {e(err.reason)}</p>')
    payload = json.dumps(_round(data), separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    payload = (
        payload.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title>\n<style>{_asset('uPlot.min.css')}\n{_asset('report.css')}</style></head>\n<body><main>\n"
        + "\n".join(body)
        + '\n<p class="dim">made by traindx; plots downsampled for display only (the diagnosis reads every point); '
        "charts by uPlot (MIT licence, bundled)</p></main>\n"
        f'<script type="application/json" id="traindx-data">{payload}</script>\n'
        f"<script>/*\n{_asset('uPlot.LICENSE')}*/\n{_asset('uPlot.iife.min.js')}</script>\n<script>{_asset('report.js')}</script>\n</body></html>\n"
    )


def write_html(
    path: str | os.PathLike[str],
    report: Any,
    *,
    sections: Sequence[PlotSection] = (),
    title: str = "traindx report",
) -> Path:
    """Write the HTML report of ``report`` (a :class:`traindx.api.Report`; made with
    ``keep_runs=True`` for plots) to ``path``; returns the path."""
    page = render_html(report.runs, getattr(report, "read_runs", []), sections=sections,
                       skipped=report.skipped, errors=report.errors, title=title)  # fmt: skip
    p = Path(path)
    try:
        p.write_text(page, encoding="utf-8")
    except OSError as err:
        raise TraindxError(
            f"{path}: --html: cannot write the report: {err.strerror or err}"
        ) from None
    return p
