"""How a series grows with the step count: as a power of it, or exponentially.

Gradients that are never reset (no ``zero_grad``, a hand-written accumulator never zeroed)
make the recorded gradient the sum of every gradient since the start: its norm grows about
in proportion to the number of steps summed (power 1; 0.5 for gradients that point every
which way), a straight line of log-norm against log-step. A gradient that explodes (an LR
too high for the curvature, a deep net without clipping) grows by a factor per step: a
straight line of log-norm against the step itself.
"""

from __future__ import annotations

import numpy as np

MIN_POINTS = 8  # finite, positive values a fit needs


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` and the fit's R^2 (0 where ``x`` or ``y`` is constant)."""
    xc, yc = x - x.mean(), y - y.mean()
    sxx, syy = float(xc @ xc), float(yc @ yc)
    if sxx <= 0.0 or syy <= 0.0:
        return 0.0, 0.0
    sxy = float(xc @ yc)
    return sxy / sxx, sxy * sxy / (sxx * syy)


def step_power(steps: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """``step_power``: the slope of log(value) against log(steps counted from the first
    logged one, starting at 1) - the power of the step count the series grows with;
    ``step_power_fit``: that fit's R^2; ``exp_fit``: the R^2 of log(value) against the step
    (exponential growth). Empty with fewer than :data:`MIN_POINTS` finite positive values."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(y) & (y > 0.0) & np.isfinite(x)
    x, y = x[ok], y[ok]
    if y.size < MIN_POINTS:
        return {}
    k = x - x[0] + 1.0
    if np.any(k < 1.0):  # steps out of order: no step count to speak of
        return {}
    ly = np.log(y)
    power, fit = _fit(np.log(k), ly)
    _, exp_fit = _fit(k, ly)
    return {"step_power": power, "step_power_fit": fit, "exp_fit": exp_fit}
