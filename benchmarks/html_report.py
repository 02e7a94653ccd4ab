"""How the HTML report's plotting holds up on a long run: file size and load time in headless
Chromium of a 1M-step run, for the shipped approach and the alternatives it was chosen over.

    python benchmarks/html_report.py [--steps 1000000] [--plotly path/to/plotly.min.js]

Variants (the same synthetic run: train loss, LR and gradient norm logged every step, val loss
every 1,000 steps; the same diagnosis):
  uplot-downsampled  what traindx ships: uPlot (51 kB) + min/max per bucket (<= ~2,000 points/series)
  uplot-full         uPlot with every point embedded (no display downsampling)
  svg-downsampled    hand-written inline SVG polylines of the same downsampled points (no JS)
  plotly-downsampled plotly.js (the ~4.8 MB plotly.min.js; given with --plotly) + the same points
Load time: from navigation until the page says it has drawn (uPlot: data-rendered; SVG and
plotly: the load event / plotly's promises), median of 3 loads in a fresh profile each.
Exits 1 when the shipped variant is over 1 MB or takes over 10 s to load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import cdp  # noqa: E402  tests/cdp.py

from traindx.engine import diagnose_run  # noqa: E402
from traindx.report import html as H  # noqa: E402
from traindx.report import plotdata  # noqa: E402
from traindx.rules.loader import load_rulebook  # noqa: E402
from traindx.schema import Run, RunContext, Series, SeriesKey  # noqa: E402


def make_run(n: int) -> Run:
    rng = np.random.default_rng(0)
    steps = np.arange(n, dtype=np.int64)
    t = steps / n
    loss = 2.3 * np.exp(-5 * t) + 0.05 + 0.05 * rng.standard_normal(n) ** 2
    lr = 1e-3 * np.minimum(1.0, steps / 1000 + 1e-3) * (0.5 * (1 + np.cos(np.pi * t)))
    grad = 1.0 + 0.3 * np.abs(rng.standard_normal(n))
    vs = steps[999::1000]
    run = Run(id=f"synthetic_{n}_steps", source="synthetic", context=RunContext(framework="torch"))
    for key, s, v in (("train/loss", steps, loss), ("train/lr", steps, lr), ("train/grad_norm", steps, grad),
                      ("val/loss", vs, loss[vs] + 0.02)):  # fmt: skip
        run.add(Series(key=SeriesKey.parse(key), steps=s, values=v))
    return run


def svg_page(run, d) -> str:
    """Inline SVG: one polyline per series, the same downsampled points, no script."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>svg</title></head><body><h1>{H.e(d.headline)}</h1>"]
    for c in plotdata.run_charts(run, d):
        xs = np.concatenate([np.asarray(ln.x, float) for ln in c.lines if not ln.markers_only])
        x0, x1 = xs.min(), xs.max() or 1
        parts.append(f"<h4>{H.e(c.title)}</h4><svg width='1000' height='260' viewBox='0 0 1000 260'>")
        for ln in c.lines:
            y = np.asarray(ln.y, float)
            y = np.log10(y) if c.log_y else y
            lo, hi = np.nanmin(y), np.nanmax(y)
            px = (np.asarray(ln.x, float) - x0) / (x1 - x0 or 1) * 1000
            py = 250 - (y - lo) / ((hi - lo) or 1) * 240
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
            parts.append(f"<polyline fill='none' stroke='#1f77b4' points='{pts}'/>")
        parts.append("</svg>")
    return "".join(parts) + "</body></html>"


def plotly_page(run, d, plotly_js: str) -> str:
    charts = [c.to_json() for c in plotdata.run_charts(run, d)]
    script = """const C = JSON.parse(document.getElementById('d').textContent); const ps = [];
      C.forEach((c, i) => { const el = document.createElement('div'); document.body.appendChild(el);
        ps.push(Plotly.newPlot(el, c.y.map((col, j) => ({x: c.x, y: col, name: c.series[j].label, mode: 'lines', connectgaps: true})),
          {title: c.title, height: 300, yaxis: {type: c.log_y ? 'log' : 'linear'}})); });
      Promise.all(ps).then(() => document.documentElement.setAttribute('data-rendered', '1'));"""
    data = json.dumps(charts).replace("<", "\\u003c")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><h1>{H.e(d.headline)}</h1>"
            f"<script type='application/json' id='d'>{data}</script><script>{plotly_js}</script><script>{script}</script></body></html>")  # fmt: skip


def measure(path: Path, ready: str) -> tuple[float, list[str]]:
    times, errors = [], []
    for _ in range(3):
        r = cdp.load(path, {}, ready=ready, timeout=300)
        times.append(r.seconds)
        errors += r.errors
    return statistics.median(times), errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--plotly", type=Path, help="plotly.min.js (npm package plotly.js-dist-min) to compare with")
    a = ap.parse_args()
    t = time.perf_counter()
    run = make_run(a.steps)
    d = diagnose_run(run, load_rulebook())
    print(f"{a.steps:,}-step run made and diagnosed in {time.perf_counter() - t:.1f} s: {d.verdict}; {d.headline}")
    out = Path(tempfile.mkdtemp(prefix="traindx-html-bench-"))
    rendered = "document.documentElement.hasAttribute('data-rendered')"
    loaded = "document.readyState === 'complete'"
    pages: dict[str, tuple[str, str]] = {}
    t = time.perf_counter()
    pages["uplot-downsampled"] = (H.render_html([d], [run]), rendered)
    build = time.perf_counter() - t
    full = plotdata.downsample
    plotdata.downsample = lambda s, v, buckets=0: (np.asarray(s)[np.isfinite(v)], np.asarray(v)[np.isfinite(v)])
    try:
        pages["uplot-full"] = (H.render_html([d], [run]), rendered)
    finally:
        plotdata.downsample = full
    pages["svg-downsampled"] = (svg_page(run, d), loaded)
    if a.plotly:
        pages["plotly-downsampled"] = (plotly_page(run, d, a.plotly.read_text()), rendered)
    print(f"the shipped page was built in {build:.2f} s")
    print(f"{'variant':20} {'size':>10} {'load (median of 3)':>20}  console errors")
    shipped = (0, 0.0)
    for name, (page, ready) in pages.items():
        p = out / f"{name}.html"
        p.write_text(page, encoding="utf-8")
        secs, errors = measure(p, ready)
        size = p.stat().st_size
        print(f"{name:20} {size / 1e3:>8,.0f} kB {secs:>18.2f} s  {len(errors)}")
        if name == "uplot-downsampled":
            shipped = (size, secs)
    ok = shipped[0] < 1_000_000 and shipped[1] < 10
    print("shipped variant within 1 MB and 10 s:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
