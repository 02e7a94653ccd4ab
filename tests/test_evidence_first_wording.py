"""A symptom's ``X.first`` is the median of the curve's first points (FIRST_POINTS), not its
first point: where the two differ as printed, the evidence says so and names the first point
(issue 10, section 3: qa_jax47 showed "loss.first=0.318" under a log whose first point is
0.187). The evidence text and the run's own series must agree."""

from __future__ import annotations

import numpy as np

import traindx
from traindx.diagnosis import Evidence
from traindx.evidence_words import fact_says, fact_text
from traindx.report.markdown import render_markdown
from traindx.report.text import render_text
from traindx.signals.curve import FIRST_POINTS
from traindx.signals.robust import edge_size
from traindx.textsafe import value_text


def _write(path, loss: np.ndarray) -> None:
    path.write_text("step,loss\n" + "".join(f"{i},{v!r}\n" for i, v in enumerate(loss.tolist())))


def _rising_from_a_low_first_point(n: int) -> np.ndarray:
    """A loss whose first point sits far below the next ones, that then explodes (LOSS002
    shows loss.first): gradient ascent from step 0, as the linen autoencoder's log."""
    loss = np.linspace(1.0, 60.0, n) ** 1.5
    loss[0] = 0.4
    return loss


def _shown_first(d) -> list[Evidence]:
    return [e for s in d.symptoms for e in s.evidence if e.fact and e.fact.endswith(".first")]


def test_a_median_start_is_worded_as_one_and_names_the_first_point(tmp_path):
    loss = _rising_from_a_low_first_point(300)
    _write(tmp_path / "log.csv", loss)
    d = traindx.diagnose(tmp_path / "log.csv")[0]
    shown = [e for e in _shown_first(d) if e.fact == "loss.first"]
    assert shown, [s.code for s in d.symptoms]
    k = edge_size(loss.size, *FIRST_POINTS)
    assert k > 1
    for e in shown:
        # the number is what the text says it is: the median of the first k points of the series
        assert e.value == float(np.median(loss[:k]))
        assert e.says == f"loss.first (the median of its first {k} points; the first point is {value_text(float(loss[0]))})"
    line = fact_text(shown[0])
    assert line.startswith(f"loss.first={value_text(float(np.median(loss[:k])))} (the median of its first {k} points")
    assert line in render_text(d)
    assert line in render_markdown([d])


def test_a_start_of_one_point_is_the_first_point_and_needs_no_note(tmp_path):
    loss = _rising_from_a_low_first_point(15)  # 3 % of 15 points rounds to 0: the first point alone
    _write(tmp_path / "log.csv", loss)
    d = traindx.diagnose(tmp_path / "log.csv")[0]
    shown = [e for e in _shown_first(d) if e.fact == "loss.first"]
    assert shown, [s.code for s in d.symptoms]
    for e in shown:
        assert e.says == "loss.first"
        assert value_text(e.value) == value_text(float(loss[0]))
        assert fact_text(e) == f"loss.first={value_text(float(loss[0]))}"


def test_fact_says_words_only_a_median_that_differs_from_the_first_point():
    facts = {"loss": {"first": 0.318, "first_raw": 0.187, "n_finite": 750}, "lr": {"first": 0.01}}
    assert fact_says("loss.first", facts) == "loss.first (the median of its first 20 points; the first point is 0.187)"
    assert fact_says("loss.last", facts) == "loss.last"
    assert fact_says("lr.first", facts) == "lr.first"  # no first_raw: the LR's own first point
    # the same as printed (three significant digits): nothing to tell apart
    assert fact_says("loss.first", {"loss": {"first": 0.3181, "first_raw": 0.3183, "n_finite": 750}}) == "loss.first"
    e = Evidence(says=fact_says("loss.first", facts), fact="loss.first", value=0.318)
    assert fact_text(e) == "loss.first=0.318 (the median of its first 20 points; the first point is 0.187)"
    assert fact_text(Evidence(says="acc.last", fact="acc.last", value=0.5)) == "acc.last=0.5"
