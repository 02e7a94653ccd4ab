"""How a symptom's facts are worded where a report shows them beside their values.

A curve's ``first`` is not its first logged point: it is the median of its first few points
(``FIRST_POINTS`` in traindx/signals/curve.py - 3 % of them, 1 to 20), so that one noisy batch
does not set the start every relative fact divides by; its ``last`` is likewise the median of
its last points (``LAST_POINTS``: 5 %, 1 to 200). A line that reads ``loss.first=0.318`` under a
log whose first point is 0.187 reads as a number the run never logged (issue 10: qa_jax47's
linen autoencoder), as ``loss.last=0.52`` does under a log that ends at 0.31. Where the two
differ as printed, the evidence says what the number is and gives the first (last) point
beside it. This is the one place that wording lives: the engine words each shown fact with
:func:`fact_says`; the terminal, Markdown and HTML reports print it with :func:`fact_text`.
"""

from __future__ import annotations

from typing import Any

from traindx.diagnosis import Evidence
from traindx.textsafe import value_text

#: The curve facts that are medians of the points at one end (``first``, ``last``) -> the fact
#: holding that end's own point.
_EDGES = {"first": "first_raw", "last": "last_raw"}


def fact_says(path: str, facts: dict[str, Any]) -> str:
    """The words a report shows for the fact ``path`` (``group.key``) of this run: the path
    itself, followed for a curve's ``first`` (``last``) that is a median of several points
    differing from its first (last) point by ``(the median of its first k points; the first
    point is v)``."""
    group, _, key = path.partition(".")
    g = facts.get(group)
    if key not in _EDGES or not isinstance(g, dict):
        return path
    v, raw, n = g.get(key), g.get(_EDGES[key]), g.get("n_finite")
    if not isinstance(v, float) or not isinstance(raw, float) or not isinstance(n, int):
        return path
    from traindx.signals.curve import FIRST_POINTS, LAST_POINTS
    from traindx.signals.robust import edge_size

    k = edge_size(n, *(FIRST_POINTS if key == "first" else LAST_POINTS))
    if k < 2 or value_text(v) == value_text(raw):
        return path
    return f"{path} (the median of its {key} {k} points; the {key} point is {value_text(raw)})"


def fact_text(e: Evidence) -> str:
    """A shown fact as ``name=value``, with what :func:`fact_says` added to its name after it."""
    name = e.fact or e.says
    note = e.says[len(name) :] if e.says.startswith(name) else ""
    return f"{name}={value_text(e.value)}{note}"
