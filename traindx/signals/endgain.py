"""Is a curve still improving when the run ends, by more than its own noise? Small pure
functions over few points (3-10 evaluations, a short run's epochs), where the trend statistics
of :mod:`traindx.signals.curve` (Kendall tau over a smoothed tail) have too little to work on.

``end_gain`` reads an evaluation series (a validation loss per epoch, or a per-step training
loss averaged per epoch): the gain over its last third (at least the last interval) against
the noise of one point, and that gain's share of the whole improvement. The noise is the
run's own: for an evaluation series, the spread of its second differences (a smooth trend
cancels there, point-to-point noise does not); for epoch means of a per-step loss, the
step-to-step spread of the loss over the square root of the steps each mean averages.
"""

from __future__ import annotations

import numpy as np

from traindx.arrays import median, unique

#: 1 / Phi^-1(0.75): a median absolute deviation times this is a standard deviation
MAD_SD = 1.4826
#: the fewest and most windows a per-step loss is averaged into
MIN_WINDOWS, MAX_WINDOWS = 3, 10
EPS = 1e-12


def second_diff_noise(v: np.ndarray) -> float:
    """The noise of one point of a short series from its second differences (a linear or
    slowly bending trend cancels; white noise of s.d. ``s`` gives second differences of s.d.
    ``s * sqrt(6)``), robust to one outlier from 4 points on."""
    if v.size < 3:
        return 0.0
    d2 = np.abs(np.diff(v, 2))
    spread = float(median(d2)) * MAD_SD if d2.size >= 3 else float(np.mean(d2))
    return spread / np.sqrt(6.0)


def step_noise(v: np.ndarray) -> float:
    """The step-to-step noise of one point of a per-step series (its first differences' MAD:
    minibatch noise, which the slow trend hardly moves)."""
    if v.size < 3:
        return 0.0
    return float(median(np.abs(np.diff(v)))) * MAD_SD / np.sqrt(2.0)


def end_gain(v: np.ndarray, noise: float) -> dict[str, float]:
    """The progress of a lower-is-better evaluation series at its end: ``end_z``, the mean
    gain per interval over the last third of the intervals (at least one) over the noise of
    a one-interval difference (``noise * sqrt(2)``); ``end_share``, the gain of that last
    third over the whole improvement (first point to best); ``end_steady``, 1.0 when every
    interval of the last third improved. Empty under 3 finite points."""
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n < 3:
        return {}
    k = max(1, (n - 1) // 3)
    gains = -np.diff(v)[-k:]
    total = float(v[0] - np.min(v))
    scale = max(noise, 1e-3 * float(np.max(np.abs(v))), EPS)
    return {
        "end_z": float(np.mean(gains) / (scale * np.sqrt(2.0))),
        "end_share": float(np.sum(gains)) / total if total > EPS else 0.0,
        "end_steady": float(bool(np.all(gains > 0))),
        "end_points": float(n),
    }


def windows(steps: np.ndarray, v: np.ndarray, per_window: int | None) -> list[np.ndarray]:
    """A per-step series cut into consecutive windows: its epochs when ``per_window`` (steps
    per epoch) gives between :data:`MIN_WINDOWS` and :data:`MAX_WINDOWS` of them, else that
    many equal parts as its points allow (at least 3 points each)."""
    ok = np.isfinite(v)
    steps, v = steps[ok], v[ok]
    if per_window and per_window > 0:
        ids = steps // per_window
        uniq = unique(ids)
        if MIN_WINDOWS <= uniq.size <= MAX_WINDOWS and all(int(np.sum(ids == u)) >= 3 for u in uniq):
            return [v[ids == u] for u in uniq]
    parts = min(MAX_WINDOWS, v.size // 3)
    if parts < MIN_WINDOWS:
        return []
    return [p for p in np.array_split(v, parts) if p.size]


def step_loss_end_gain(steps: np.ndarray, v: np.ndarray, per_window: int | None) -> dict[str, float]:
    """:func:`end_gain` of a per-step loss averaged per window (:func:`windows`), with the
    noise of a window mean from the step-to-step spread."""
    ws = windows(steps, v, per_window)
    if not ws:
        return {}
    sizes = np.array([w.size for w in ws], dtype=float)
    noise = step_noise(v[np.isfinite(v)]) / float(np.sqrt(median(sizes)))
    return end_gain(np.array([float(np.mean(w)) for w in ws]), noise)


def eval_end_gain(v: np.ndarray) -> dict[str, float]:
    """:func:`end_gain` of an evaluation series (a validation loss), with its own noise."""
    f = v[np.isfinite(v)]
    return end_gain(f, second_diff_noise(f))
