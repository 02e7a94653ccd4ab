"""Compact notation for synthetic series in rule cases, in the spirit of promtool's.

Tokens, separated by spaces, append points left to right:

==============  =========================================================
``2.3``         one point of value 2.3
``2.3x4``       the value 2.3 four times
``2.3-0.05x40`` start at 2.3, then 40 more points each adding -0.05
``+0.1x10``     10 more points each adding 0.1 to the last value (``+-0.1x10`` subtracts)
``*0.95x50``    50 more points each multiplying the last value by 0.95
``2.3*0.95x50`` start at 2.3, then 50 points multiplying by 0.95
``nan`` ``inf``  non-finite points (``nanx5``: five of them)
``~0.05``       multiplicative Gaussian noise (sigma 0.05) on every point so far (seeded)
``%3``          sawtooth: alternate +/- 3 around the points so far (oscillation)
==============  =========================================================

Example: ``"2.3*0.97x200 ~0.03"`` is a noisy, converging loss. Steps are 0, 1, 2, ...
(or multiples of ``every``).
"""

from __future__ import annotations

import re

import numpy as np

#: Points one series of a rule case may have (a case is a small synthetic run).
MAX_POINTS = 100_000

_NUM = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-inf"
_TOKEN = re.compile(
    rf"^(?P<start>{_NUM})?(?:(?P<op>[-+*])(?P<arg>{_NUM}))?(?:x(?P<count>\d+))?$", re.IGNORECASE
)


def parse_series(text: str, *, seed: int = 0) -> np.ndarray:
    """Expand the notation into a float array. Raises ValueError naming the bad token."""
    out: list[float] = []
    rng = np.random.default_rng(seed)
    for tok in text.split():
        if tok.startswith("~"):
            sigma = float(tok[1:])
            arr = np.asarray(out)
            out = list(arr * (1.0 + sigma * rng.standard_normal(arr.size)))
            continue
        if tok.startswith("%"):
            amp = float(tok[1:])
            arr = np.asarray(out)
            out = list(arr + amp * np.where(np.arange(arr.size) % 2 == 0, 1.0, -1.0))
            continue
        m = _TOKEN.match(tok)
        if not m or (m["start"] is None and m["op"] is None):
            raise ValueError(f"bad series token {tok!r}: expected e.g. '2.3', '2.3x4', '2.3-0.05x40', '*0.9x10', 'nan', '~0.05'")
        count = int(m["count"]) if m["count"] else None
        if len(out) + (count or 1) + 1 > MAX_POINTS:
            raise ValueError(f"series token {tok!r}: a case series may have at most {MAX_POINTS:,} points")
        if m["start"] is not None and m["op"] is None:
            out.extend([float(m["start"])] * (count or 1))
            continue
        if m["start"] is not None:
            out.append(float(m["start"]))
        if not out:
            raise ValueError(f"series token {tok!r} continues from a previous value, but there is none")
        arg = float(m["arg"])
        k = np.arange(1, (count or 1) + 1)
        last = out[-1]
        if m["op"] == "*":
            out.extend((last * arg**k).tolist())
        else:
            sign = -1.0 if m["op"] == "-" else 1.0
            out.extend((last + sign * arg * k).tolist())
    return np.asarray(out, dtype=np.float64)
