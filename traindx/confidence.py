"""The last step before probabilities are shown: a per-input-kind map of the top cause's
probability to how often such an answer is right, fitted on held-out runs.

The differential's temperature and the learned layer's temperature are fitted on the
log-loss of every class; what a reader acts on is the top answer's number, and on runs of
families the fit never saw it was off both ways (the learned layer said 25 % where it was
right 42 % of the time, the torch adapter's rules 96 % where they were right 81 %). The map
is Platt scaling of the top probability, ``sigmoid(slope * logit(p) + shift)`` (slope > 0:
an order-preserving map); with ``share`` its input is instead the top cause's share of the
listed causes' mass, ``p / sum(listed)``, and ``unknown_slope * logit(unknown)`` is added
(the "none of these" mass is a second input: the adapters' rules give the top a small
probability where the unknown mass is large, and such answers were right as often as those
with a larger one); or a monotone line through ``knots`` (an isotonic fit); followed by
a ``cap``: a kind whose held-out answers at >= 0.8 were not all right never says 0.8 or more. The whole vector moves so the ranking and the
listed causes' relative shares never change:

- the top probability goes down: every listed cause is scaled by the same factor and the
  mass it gives up goes to "none of these" (the confusable group stays the same);
- it goes up: the top gets the new value and every other cause and "none of these" give
  up mass in proportion (no cause overtakes the top).

The "cannot separate" group (traindx/separation.py) is stated with its own probability:
its members' sum, after the map above, through a second Platt map (``group_slope``,
``group_shift``) fitted on held-out groups against how often they held the true cause (the
sum alone said 67 % where such log-only groups held it 77 % of the time: the map above
moves mass to "none of these" that the group, wider than the top answer, still covers).

The maps are rulebook data (``confidence:`` in rulebook/calibration.yaml, one entry per
input kind and ranker; ``kind: adapter``, fitted on every adapter's answers, serves an
adapter kind without its own), written by ``python benchmarks/calibrate.py --write``.
"""

from __future__ import annotations

import bisect
import math
from typing import Protocol


class ConfidenceMap(Protocol):
    slope: float
    shift: float
    cap: float
    knots: list[tuple[float, float]]
    share: bool
    unknown_slope: float
    group_slope: float
    group_shift: float


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1.0 - 1e-9)
    return math.log(p / (1.0 - p))


def top_probability(p: float, m: ConfidenceMap, share: float | None = None, unknown: float = 0.0) -> float:
    """The calibrated probability of a top answer the ranker gave ``p``; ``share``: its share
    of the listed causes' mass (``p`` when not given), ``unknown``: the "none of these" mass
    (both read only by a ``share`` map)."""
    if m.knots:  # the line through the knots in logit(p), flat beyond the ends
        x = _logit(p)
        xs = [_logit(k[0]) for k in m.knots]
        if x <= xs[0]:
            return min(m.knots[0][1], m.cap)
        i = bisect.bisect_left(xs, x)
        if i == len(xs):
            return min(m.knots[-1][1], m.cap)
        (q0, q1), (x0, x1) = (m.knots[i - 1][1], m.knots[i][1]), (xs[i - 1], xs[i])
        return min(q0 + (q1 - q0) * (x - x0) / (x1 - x0), m.cap)
    if m.share:
        z = m.slope * _logit(p if share is None else share) + m.unknown_slope * _logit(max(unknown, 1e-4)) + m.shift
    else:
        z = m.slope * _logit(p) + m.shift
    q = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
    return min(q, m.cap)


def group_probability(p: float, m: ConfidenceMap | None) -> float:
    """The calibrated probability of a "cannot separate" group whose members sum to ``p``
    (``p`` itself without a map)."""
    if m is None or p <= 0.0:
        return p
    z = m.group_slope * _logit(min(p, 1.0)) + m.group_shift
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def recalibrate(probs: list[float], unknown: float, m: ConfidenceMap) -> tuple[list[float], float]:
    """(probabilities, "none of these") after the map; ``probs`` are the listed causes'
    probabilities, highest first. Order and the causes' relative shares are kept."""
    if not probs:
        return probs, unknown
    c = probs[0]
    if c <= 0.0:
        return list(probs), unknown
    g = top_probability(c, m, c / sum(probs), unknown)
    if g <= c:
        f = g / c
        out = [q * f for q in probs]
    else:
        f = (1.0 - g) / (1.0 - c) if c < 1.0 else 0.0
        out = [g] + [q * f for q in probs[1:]]
    return out, max(0.0, 1.0 - sum(out))


def find(book, kind: str, ranker: str):
    """The rulebook's map for this input kind and ranker ("rules" or "learned"), else, for
    an adapter kind, the one fitted on every adapter's answers (``kind: adapter``), or None."""
    ms = [m for m in book.confidence if m.ranker == ranker]
    m = next((m for m in ms if m.kind == kind), None)
    if m is None and kind.endswith("_adapter"):
        m = next((m for m in ms if m.kind == "adapter"), None)
    return m


__all__ = ["find", "group_probability", "recalibrate", "top_probability"]
