"""A healthy verdict keeps its info-severity symptoms visible as notes in every report."""

from __future__ import annotations

import json
from pathlib import Path

import traindx
from traindx.report.html import render_html
from traindx.report.markdown import render_markdown

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "fixtures/logs/tbx/healthy_mlp_wine"  # healthy; GEN003 (info) fires


def test_healthy_verdict_shows_its_info_symptoms():
    (d,) = traindx.diagnose(RUN)
    assert d.verdict == "healthy"
    notes = [s for s in d.symptoms if s.severity == "info"]
    assert notes and all(s.severity == "info" for s in d.symptoms)
    code = notes[0].code
    text = traindx.render_text(d)
    assert "OK" in text and "note: " in text and code in text.split("note: ", 1)[1]
    assert code in render_markdown([d])
    html = render_html([d])
    assert code in html.split("<h3>Symptoms</h3>", 1)[1]
    assert code in {s["code"] for s in json.loads(d.model_dump_json())["symptoms"]}
