"""A symptom's ``X.last`` is the median of the curve's last points (LAST_POINTS), not its last
point: where the two differ as printed, the evidence says so and gives the true last point, as
it does for ``X.first`` (issue 10, section 3; tests/test_evidence_first_wording.py)."""

from __future__ import annotations

import numpy as np

import traindx
from traindx.diagnosis import Evidence
from traindx.evidence_words import fact_says, fact_text
from traindx.report.text import render_text
from traindx.signals.curve import LAST_POINTS, curve_facts
from traindx.signals.robust import edge_size
from traindx.textsafe import value_text


def test_curve_facts_keep_the_last_point_beside_the_median_end():
    y = np.r_[np.linspace(2.0, 0.5, 199), 0.1]
    f = curve_facts(np.arange(y.size), y)
    k = edge_size(y.size, *LAST_POINTS)
    assert f["last_raw"] == 0.1 and f["last"] == float(np.median(y[-k:]))
    assert curve_facts(np.arange(2), np.array([1.0, 0.7]))["last_raw"] == 0.7  # two points: their levels


def test_fact_says_words_only_a_median_end_that_differs_from_the_last_point():
    facts = {"loss": {"last": 0.52, "last_raw": 0.31, "n_finite": 400}, "lr": {"last": 0.001}}
    k = edge_size(400, *LAST_POINTS)
    assert fact_says("loss.last", facts) == f"loss.last (the median of its last {k} points; the last point is 0.31)"
    assert fact_says("lr.last", facts) == "lr.last"  # no last_raw: the LR's own last point
    assert fact_says("loss.last", {"loss": {"last": 0.5201, "last_raw": 0.5203, "n_finite": 400}}) == "loss.last"
    assert fact_says("loss.last", {"loss": {"last": 0.52, "last_raw": 0.31, "n_finite": 12}}) == "loss.last"  # k = 1
    e = Evidence(says=fact_says("loss.last", facts), fact="loss.last", value=0.52)
    assert fact_text(e) == f"loss.last=0.52 (the median of its last {k} points; the last point is 0.31)"


def test_a_shown_median_end_names_the_last_point_in_the_report(tmp_path):
    # a loss that grows (LOSS002-like rise, shows loss.first and loss.last) and whose last
    # logged point falls below the median of its last points
    n = 400
    rng = np.random.default_rng(0)
    loss = np.linspace(1.0, 40.0, n) ** 1.5 * (1 + 0.05 * rng.standard_normal(n))
    loss[-1] = loss[-1] * 0.5
    (tmp_path / "log.csv").write_text("step,loss\n" + "".join(f"{i},{v!r}\n" for i, v in enumerate(loss.tolist())))
    d = traindx.diagnose(tmp_path / "log.csv")[0]
    shown = [e for s in d.symptoms for e in s.evidence if e.fact == "loss.last"]
    assert shown, [s.code for s in d.symptoms]
    k = edge_size(n, *LAST_POINTS)
    for e in shown:
        assert e.value == float(np.median(loss[-k:]))
        assert e.says == f"loss.last (the median of its last {k} points; the last point is {value_text(float(loss[-1]))})"
    assert fact_text(shown[0]) in render_text(d)
