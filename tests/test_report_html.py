"""The HTML report (`traindx diagnose PATH --html FILE`): display downsampling, the page's
content, and the page loaded in a real headless Chromium (no console error, no request
leaving the file, every chart and heatmap drawn, a small screenshot)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import cdp  # tests/cdp.py
import numpy as np
import pytest

import traindx
from traindx.cli import main
from traindx.report.html import render_html
from traindx.report.plotdata import (
    BUCKETS,
    Line,
    PlotSection,
    downsample,
    lr_range_chart,
    nonfinite_steps,
)
from traindx.schema import CheckResult

ROOT = Path(__file__).resolve().parents[1]
FAULTY = (
    ROOT / "fixtures/logs/torch_mon/lr_too_high_mlp_regression_nan"
)  # per-layer series, NaN loss
HEALTHY = ROOT / "fixtures/logs/torch_mon/healthy_mlp_clean"

needs_browser = pytest.mark.skipif(
    cdp.chromium() is None and not os.environ.get("CI"),
    reason="no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)",
)


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="traindx-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def test_downsample_keeps_extremes_and_bounds_size():
    n = 1_000_000
    steps = np.arange(n, dtype=np.int64)
    values = np.linspace(2.0, 0.1, n)
    values[123_457] = 50.0  # a one-step spike
    values[876_543] = -3.0  # a one-step dip
    values[500_000:500_010] = np.nan
    x, y = downsample(steps, values)
    assert len(x) <= 2 * BUCKETS + 2
    assert 123_457 in x.tolist() and 876_543 in x.tolist()
    assert y.max() == 50.0 and y.min() == -3.0
    assert np.all(np.diff(x) > 0) and np.isfinite(y).all()
    assert x[0] == 0 and x[-1] == n - 1
    assert nonfinite_steps(steps, values).tolist() == list(range(500_000, 500_010))
    rv = np.random.default_rng(0).standard_normal(n)  # every bucket's extremes are kept
    rx, ry = downsample(steps, rv)
    bucket = np.minimum((steps / float(n) * BUCKETS).astype(np.int64), BUCKETS - 1)  # as downsample does
    lo, hi = np.full(BUCKETS, np.inf), np.full(BUCKETS, -np.inf)
    np.minimum.at(lo, bucket, rv)
    np.maximum.at(hi, bucket, rv)
    kept = set(ry.tolist())
    assert all(a in kept and b in kept for a, b in zip(lo, hi, strict=True))
    assert np.array_equal(rv[rx], ry)
    short_x, short_y = downsample(steps[:50], values[:50])  # short series: every point
    assert short_x.tolist() == list(range(50))


def test_page_content_faulty_and_healthy(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["diagnose", str(FAULTY), str(HEALTHY), "--html", str(out)]) == 0
    page = out.read_text()
    # self-contained: no external script, style, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "@import" not in page and "url(http" not in page
    assert (
        page.count('<section class="run"') == 2
        and 'href="#run-0"' in page
        and 'href="#run-1"' in page
    )
    data = _data(page)
    faulty, healthy = data["runs"]
    titles = [c["title"] for c in faulty["charts"]]
    assert titles[:1] == ["Loss"] and "Learning rate" in titles and "Gradient norm" in titles
    loss = faulty["charts"][0]
    labels = [m["label"] for m in loss["marks"]]
    assert "LOSS001" in labels and "LOSS002" in labels  # each symptom's onset, labelled
    assert any(s["markers_only"] and "NaN/inf" in s["label"] for s in loss["series"])
    assert {h["metric"] for h in faulty["heatmaps"]} >= {"grad_norm", "act_frac_zero"}
    d = traindx.diagnose(HEALTHY)[0]
    assert d.verdict == "healthy" and "OK</span>" in page
    hl = healthy["charts"][0]
    assert hl["title"] == "Loss" and any(m["kind"] == "best" for m in hl["marks"])
    assert "copy</button>" in page


def test_escaping_and_extra_sections():
    from traindx.diagnosis import Diagnosis

    d = Diagnosis(
        run_id="</script><script>alert(1)</script>",
        verdict="no_data",
        healthy=False,
        headline="<b>x</b>",
    )
    sec = PlotSection(
        "final val loss vs lr",
        [Line("</script>", [1e-4, 1e-3, 1e-2], [0.5, 0.3, 0.9])],
        x_label="lr",
        log_x=True,
    )
    page = render_html([d], sections=[sec])
    assert "<script>alert(1)" not in page and "<b>x</b>" not in page
    assert page.count("</script>") == 3  # the data block and the two scripts: nothing closed early
    assert _data(page)["runs"][-1]["charts"][0]["series"][0]["label"] == "</script>"


def test_lr_range_chart_from_check_facts():
    c = CheckResult(name="lr", status="passed", facts={"lrs": json.dumps([1e-5, 1e-4, 1e-3, 1e-2]),
                                                        "losses": json.dumps([2.3, 2.2, 1.5, 9.0]), "suggested": 1e-3})  # fmt: skip
    sec = lr_range_chart([c])
    assert sec is not None and sec.log_x and sec.marks[0].x == 1e-3
    assert (
        lr_range_chart([CheckResult(name="lr", status="passed", facts={"configured": 0.1})]) is None
    )


def test_lr_range_chart_from_check_series():
    if "series" not in CheckResult.model_fields:
        pytest.skip("CheckResult.series (the preflight helper's curves) is not in this tree yet")
    c = CheckResult.model_validate({"name": "lr", "status": "passed", "facts": {"blowup": 0.1},
                                    "series": {"lrs": [1e-4, 1e-3, 1e-2, 1e-1, 1.0], "losses": [2.3, 2.0, 1.2, 40.0, None]}})  # fmt: skip
    sec = lr_range_chart([c])
    assert sec is not None and sec.lines[0].x == [1e-4, 1e-3, 1e-2, 1e-1]
    assert sec.lines[1].markers_only and sec.lines[1].x == [1.0]
    assert [m.label for m in sec.marks] == ["blowup 0.1"]


@needs_browser
def test_browser_harness_sees_errors_and_requests(tmp_path):
    # the checks below can fail: a page with an error and a request beyond the file is caught
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom"); '
                   "undefinedFunction();</script></body></html>")  # fmt: skip
    r = cdp.load(bad, {})
    assert any("boom" in m for m in r.errors) and any("undefinedFunction" in m for m in r.errors)
    assert any(u.startswith("http://127.0.0.1:9/") for u in r.requests)


@needs_browser
def test_html_in_headless_chromium(tmp_path):
    from PIL import Image

    out = tmp_path / "report.html"
    assert main(["diagnose", str(FAULTY), str(HEALTHY), "--html", str(out)]) == 0
    data = _data(out.read_text())
    n_charts = sum(len(r["charts"]) for r in data["runs"])
    n_heat = sum(len(r["heatmaps"]) for r in data["runs"])
    probe = {
        "uplots": "document.querySelectorAll('.uplot').length",
        "chart_divs": "document.querySelectorAll('[data-chart]').length",
        "canvases_drawn": "Array.from(document.querySelectorAll('.uplot canvas')).filter(c => c.width > 100 && c.height > 100).length",
        "heatmaps": "document.querySelectorAll('.heatmap[data-rendered]').length",
        "report": "window.traindxReport && {charts: traindxReport.charts, heatmaps: traindxReport.heatmaps, ms: traindxReport.ms}",
        # the faulty run's loss chart: pixels of the error-mark colour (#d62728) on its canvas
        "red_px": """(() => { const c = document.querySelector('#run-0 .uplot canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i]-214) < 12 && Math.abs(d[i+1]-39) < 12 && Math.abs(d[i+2]-40) < 12) n++;
            return n; })()""",
        "copied": """new Promise(res => { const b = document.querySelector('button.copy'); b.click();
            setTimeout(() => res(b.textContent), 300); })""",
    }
    r = cdp.load(
        out,
        probe,
        ready="document.documentElement.hasAttribute('data-rendered')",
        width=800,
        height=600,
        screenshot=True,
    )
    assert r.errors == []
    assert r.requests and all(u == out.resolve().as_uri() for u in r.requests), r.requests
    v = r.values
    assert v["uplots"] == v["chart_divs"] == n_charts >= 6
    assert v["canvases_drawn"] == n_charts
    assert v["heatmaps"] == n_heat >= 2
    assert v["report"]["charts"] == n_charts and v["report"]["heatmaps"] == n_heat
    assert v["red_px"] > 50  # onset lines and NaN markers drawn
    assert v["copied"] == "copied"
    img = Image.open(io.BytesIO(r.screenshot)).convert("RGB")
    assert img.size == (800, 600)
    assert len(img.getcolors(1 << 16) or range(1 << 16)) > 20  # not a blank page


@needs_browser
def test_many_runs_draw_on_scroll(tmp_path):
    # past EAGER_LIMIT plots a page draws each run's plots when it scrolls into view
    from traindx.report.html import EAGER_LIMIT

    rep = traindx.diagnose(HEALTHY, keep_runs=True)
    d, run = rep[0], rep.read_runs[0]
    n = EAGER_LIMIT // 4 + 2
    page = tmp_path / "many.html"
    page.write_text(render_html([d] * n, [run] * n))
    per_run = len(_data(page.read_text())["runs"][0]["charts"])
    assert per_run * n > EAGER_LIMIT
    probe = {
        "first": "new Promise(res => setTimeout(() => res(document.querySelectorAll('#run-0 .uplot').length), 300))",
        "last": f"""new Promise(res => {{ document.getElementById('run-{n - 1}').scrollIntoView();
            setTimeout(() => res(document.querySelectorAll('#run-{n - 1} .uplot').length), 500); }})""",
        "drawn": "document.querySelectorAll('section.run[data-drawn]').length",
    }
    r = cdp.load(page, probe, ready="document.documentElement.hasAttribute('data-rendered')", height=1500)
    assert r.errors == []
    assert r.values["first"] == per_run and r.values["last"] == per_run
    assert 0 < r.values["drawn"] < n  # not every run drawn: the middle ones were never in view


@needs_browser
def test_extra_log_x_section_in_chromium(tmp_path):
    # a chart of one's own (PlotSection, e.g. sweep results or an LR range test) with a log x
    # axis, NaN markers and labelled marks draws without an error
    from traindx.report.plotdata import Mark

    sec = PlotSection(
        "final val loss vs lr",
        [Line("val/loss", [1e-4, 1e-3, 1e-2, 1e-1], [0.9, 0.4, 0.3, 2.5]),
         Line("diverged", [1.0], [float("nan")], markers_only=True)],
        x_label="lr", log_x=True, marks=[Mark(1e-2, "best 0.01", "best")],
    )  # fmt: skip
    page = tmp_path / "extra.html"
    page.write_text(render_html([], sections=[sec]))
    # the tick labels uPlot drew on each axis (its computed values; null or '': no label)
    ticks = "traindxReport.plots[0].u.axes.map(a => (a._values || []).filter(v => v !== null && v !== ''))"
    r = cdp.load(page, {"n": "document.querySelectorAll('.uplot').length", "ticks": ticks},
                 ready="document.documentElement.hasAttribute('data-rendered')")  # fmt: skip
    assert r.errors == [] and r.values["n"] == 1
    x_ticks, y_ticks = r.values["ticks"]
    # the log x axis names its decades: 1e-4 is not "0" (each label a distinct, nonzero number)
    assert len(x_ticks) >= 3 and len(set(x_ticks)) == len(x_ticks), x_ticks
    assert all(float(t) > 0 for t in x_ticks) and "1e-4" in x_ticks and "0.01" in x_ticks, x_ticks
    assert y_ticks and all(float(t) == float(t) for t in y_ticks)


@pytest.mark.torch
def test_preflight_checks_and_lr_curve_in_the_page(tmp_path):
    # a real torch preflight written to a run dir: the page shows its checks, and the LR range
    # test's curve whenever the lr check kept its sweep (CheckResult.series)
    torch = pytest.importorskip("torch")
    from torch import nn

    from traindx.adapters.torch import preflight

    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    preflight(model, nn.CrossEntropyLoss(), (x, y), optimizer=opt, logdir=tmp_path / "run")
    out = tmp_path / "report.html"
    assert main(["diagnose", str(tmp_path / "run"), "--html", str(out)]) == 0
    page = out.read_text()
    rep = traindx.diagnose(tmp_path / "run")
    assert "<h3>Preflight checks</h3>" in page
    assert all(f"<td>{c.name}</td>" in page for c in rep[0].checks)
    swept = any((getattr(c, "series", None) or {}).get("lrs") for c in rep[0].checks)
    titles = [c["title"] for c in _data(page)["runs"][0]["charts"]]
    assert any(t.startswith("LR range test") for t in titles) == swept


def test_html_to_an_unwritable_path_is_one_line_error(tmp_path, capsys):
    target = tmp_path / "no_such_dir" / "report.html"
    assert main(["diagnose", str(HEALTHY), "--html", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_dir" in err[0] and "cannot write the report" in err[0]
