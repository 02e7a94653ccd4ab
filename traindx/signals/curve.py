"""Shape facts of one curve (loss, accuracy, grad norm...): trend, divergence, spikes, ...

``curve_facts`` is a pure function of (steps, values). Everything is computed on a reduced,
finite copy (bin medians over at most ``MAX_POINTS`` points, then a running median), so
minibatch noise, warm-up bumps and single spikes move the facts little. Facts are plain
floats/ints/bools; steps are reported in the series' own step units. ``progress`` values are
fractions of the run (0 = first logged point, 1 = last).
"""

from __future__ import annotations

import numpy as np

from traindx.arrays import median, unique
from traindx.signals.robust import (
    MAX_POINTS,
    bin_medians,
    first_run_start,
    head,
    kendall_tau,
    mad,
    smooth,
    tail,
)

EPS = 1e-12
#: a start below this share of the series' own magnitude near its start (the median of its
#: first quarter: :func:`_start_magnitude`) counts as 0 for relative
#: facts (change, peak_ratio, ...): float32 resolves about 1e-7 of a value, so such a start
#: (an update ratio of 0 under an LR warm-up from 0, a norm of zero-initialized weights) is a
#: zero, and a ratio to it (1e10-1e12) says nothing about the run. Real ratios up to 1e6 keep
#: their value
ZERO_SHARE = 1e-6
#: for a bounded quality metric (accuracy, F1, IoU in [0, 1] or percent) the relative facts
#: are taken against at least this share of its full scale: an F1 that starts at exactly 0
#: and reaches 0.17 "rose" 3.4 (0.17 / 0.05), not 3.4e12
QUALITY_FLOOR = 0.05
#: ``first`` and ``last`` are medians of the series' first and last points (robust to one
#: noisy batch): (share, at least, at most) of the finite points, as :func:`head` /
#: :func:`tail` take them - a report that shows ``first`` says so (traindx/evidence_words.py)
FIRST_POINTS = (0.03, 1, 20)
LAST_POINTS = (0.05, 1, 200)


def quality_floor(values: np.ndarray) -> float:
    """The least start a bounded quality metric's relative facts divide by: QUALITY_FLOOR of
    its full scale (1 for a fraction, 100 for a percent, else its largest magnitude)."""
    y = values[np.isfinite(values)]
    top = float(np.abs(y).max()) if y.size else 0.0
    full = 1.0 if top <= 1.0 + 1e-6 else 100.0 if top <= 100.0 + 1e-4 else top
    return QUALITY_FLOOR * full


def _start_magnitude(yf: np.ndarray) -> float:
    """The magnitude a series has near its start: the median |value| over its first quarter
    (at least 3 points), else their largest, else the series' largest. Not the series' largest
    outright: a loss that explodes 1e33-fold would make its own start of 2.3 "a zero" and cap
    its peak ratio (and LOSS002's explosion step) at 1e6."""
    first = np.abs(yf[: max(3, len(yf) // 4)])
    for m in (float(median(first)), float(first.max()), float(np.abs(yf).max())):
        if m > 0.0:
            return m
    return 0.0


def _progress_index(p: np.ndarray, frac: float) -> int:
    return min(int(np.searchsorted(p, frac)), p.size - 1)


def nonfinite_facts(steps: np.ndarray, values: np.ndarray) -> dict[str, float | int | bool]:
    bad = ~np.isfinite(values)
    n_bad = int(bad.sum())
    first_bad = int(steps[np.argmax(bad)]) if n_bad else -1
    fall = 0.0  # how far a loss (positive) fell over its values before the first non-finite one,
    if n_bad:  # from 2 values on (a Keras bar's running mean: 0.72, 0.26, then nan); 0: not measured
        finite = values[~bad]
        max_abs = float(np.max(np.abs(finite))) if finite.size else -1.0
        if (k := int(np.argmax(bad))) >= 2 and values[0] > 0:
            fall = float((values[0] - values[k - 1]) / values[0])
    else:  # the same number without two copies of a long series
        max_abs = float(max(values.max(), -values.min())) if values.size else -1.0
    return {
        "n": int(values.size),
        "n_nonfinite": n_bad,
        "has_nonfinite": n_bad > 0,
        "nonfinite_step": first_bad,
        "nonfinite_progress": float(np.argmax(bad) / max(values.size - 1, 1)) if n_bad else -1.0,
        "ends_nonfinite": bool(values.size and not np.isfinite(values[-1])),
        "has_inf": bool(np.any(np.isinf(values))),
        # largest finite magnitude: an absurd value shows even in a one-point series
        "max_abs": max_abs,
        "fall_before_nonfinite": fall,
    }


#: Two logged values count as the same when they differ by less than this share of their size:
#: a model whose weights did not change evaluates to the bit-identical loss on the same data.
REPEAT_TOL = 1e-6
#: ...and as still (changed in the fifth digit at most) below this share: a model whose output
#: no longer depends on its weights' updates (constant output, dead units) moves its loss by a
#: few parts in 1e5 per epoch, while a model that still fits changes it by more
STILL_TOL = 1e-4


def repeat_facts(values: np.ndarray) -> dict[str, float]:
    """How much of a series repeats its previous value exactly (to ``REPEAT_TOL``):
    ``repeat_frac`` over all consecutive finite pairs, ``frozen_tail`` the share of the
    series that ends in one unbroken run of repeats. A validation loss repeats exactly only
    when the weights it evaluates did not change between the evaluations. ``still_tail``:
    the same share for changes below ``STILL_TOL`` (frozen to about five digits)."""
    y = values[np.isfinite(values)]
    if y.size < 3:
        return {}
    step, size = np.abs(np.diff(y)), np.maximum(np.abs(y[1:]), EPS)
    same = step <= REPEAT_TOL * size
    return {"repeat_frac": float(same.mean()), "frozen_tail": _tail_run(same),
            "still_tail": _tail_run(step <= STILL_TOL * size), "print_rel": print_rel(y)}  # fmt: skip


def print_rel(y: np.ndarray) -> float:
    """The step of the decimals a series was printed with, as a share of its median size:
    ``2.31, 2.30, 2.31`` (two decimals) 0.01 / 2.31. Values repeat at that step whether or not
    the weights changed, so a repeat is "the same" only as finely as this. 0 when the values
    need more decimals than a float32 resolves (a loss logged in full), or when fewer than two
    distinct non-zero values show them (``0.2500`` repeated reads 0.25 whatever its print)."""
    y = unique(np.abs(y[y != 0]))
    if y.size < 2:
        return 0.0
    for d in range(10):
        x = y * 10.0**d
        if x.max() >= 1e6:  # 6 significant digits: float32 (TensorBoard) holds no coarser print
            return 0.0
        if np.all(np.abs(x - np.round(x)) <= 1e-3 + 1e-7 * x):
            return float(10.0**-d / max(float(median(y)), EPS))
    return 0.0


def _tail_run(same: np.ndarray) -> float:
    """The share of the pairs ``same`` that end the series in one unbroken run of True."""
    moved = np.flatnonzero(~same)
    return (same.size - (int(moved[-1]) + 1) if moved.size else same.size) / same.size


def _rise_z(xf: np.ndarray, yf: np.ndarray, x_best: float) -> float:
    """How far the end of a curve sits above its best stretch, in standard errors of the
    run's own point-to-point noise, beyond what picking the best of n/k stretches gives by
    chance: the median of the last k points against the median of the k points around the
    best (smoothed) value, k as for ``last`` (at least 5). Per-step fine-tuning losses that
    bounce between 0.4 and 0.9 end "above their best" by chance; a real rise stands many
    standard errors above it."""
    n = yf.size
    k = int(min(max(5, round(0.05 * n)), 200, max(n // 2, 1)))
    j = int(np.clip(np.searchsorted(xf, x_best), 0, n - 1))
    lo = int(np.clip(j - k // 2, 0, n - k))
    best = float(median(yf[lo : lo + k]))
    end = float(median(yf[n - k :]))
    sigma = mad(np.diff(yf[max(0, n - 4 * k) :])) / np.sqrt(2.0) if n >= 4 else 0.0
    se = 1.25 * sigma * np.sqrt(2.0 / k)  # two medians of k points
    diff = end - best
    if not se > EPS * max(abs(best), 1.0):
        return float("inf") if diff > EPS * max(abs(best), 1.0) else 0.0
    # the best stretch was picked as the lowest of about n/k: chance alone puts the end
    # sqrt(2 ln(n/k)) standard errors above it (the expected maximum of n/k normals)
    return float(diff / se - np.sqrt(2.0 * np.log(max(n / k, 1.0))))


#: an explosion the run recovers from: its points above 10x the start span at most this share
#: of the run's points (at least RECOVER_MIN_POINTS), and the end is at most RECOVER_END of the
#: start and of the level just before it (the run went on to learn: halved its loss)
RECOVER_SHARE = 0.05
RECOVER_MIN_POINTS = 5
RECOVER_END = 0.5


def explode_recovered(yf: np.ndarray, explode_idx: int, ref: float) -> bool:
    """Whether the loss's explosion at ``explode_idx`` (two points above 10x ``ref``) was a
    transient the run recovered from: every point above 10x ``ref`` is positive (a loss that
    runs off to minus infinity is not a spike) and all lie within one short window from the
    first of them (``RECOVER_SHARE`` of the run, at least ``RECOVER_MIN_POINTS`` points), and
    the end (median of the last 5 %) is at most ``RECOVER_END`` of both the start ``ref`` and
    the level just before the first such point (median of up to 5 points): the run went on to
    learn. A per-step loss that jumps 1.0 -> 130 at step 2 and trains to 0.01 did not diverge;
    SGD at lr 5 that spikes to 560, 181, 69 over 15 epochs and ends above its start did
    (fixtures/logs lr_too_high_mlp_oscillate), and so did a fine-tune at Adam lr 0.5 that spikes
    to 1039 and only gets back to 0.83 of its start (qa_fresh26)."""
    if explode_idx < 0:
        return False
    out = np.flatnonzero(np.abs(yf) > 10.0 * ref)
    window = max(RECOVER_MIN_POINTS, int(RECOVER_SHARE * yf.size))
    if out[-1] - out[0] >= window or np.any(yf[out] <= 0.0) or out[-1] >= yf.size - 1:
        return False
    pre = float(median(yf[max(0, out[0] - 5) : out[0]])) if out[0] else ref
    return abs(float(median(tail(yf, *LAST_POINTS)))) <= RECOVER_END * min(abs(pre), ref)


def level_facts(xf: np.ndarray, yf: np.ndarray) -> dict[str, float | int]:
    """The levels of a series of one or two finite points (an HF Trainer run logging its
    training loss every 500 steps, a two-epoch fit): where it starts and ends, its extremes.
    No shape fact (change, drop, trend) - two points cannot tell a trend from noise."""
    return {
        "first": float(yf[0]),
        "first_raw": float(yf[0]),
        "first_step": int(xf[0]),
        "last": float(yf[-1]),
        "last_raw": float(yf[-1]),
        "last_step": int(xf[-1]),
        "min_raw": float(yf.min()),
        "peak_raw": float(yf.max()),
    }


def chunk_medians(xf: np.ndarray, yf: np.ndarray, period: int | None = None, chunks: int = 20) -> np.ndarray:
    """The medians of ``chunks`` consecutive chunks of the curve (equal counts of points), each
    chunk made of whole epochs when ``period`` (steps per epoch) is known and the curve spans
    ``chunks`` epochs or more. Batches in a fixed order each epoch have their own loss level by
    their place in it; chunks of 75 steps over epochs of 10 alternate between holding the
    first or the last half of an extra epoch, and their medians alternate with it - a sawtooth
    of the chunking, not of training (qa_keras40's sine fix through the Keras callback:
    medians 0.14 / 0.10 alternating, LOSS004 osc 1.23, where the epoch means fall smoothly)."""
    if period and period > 1 and xf.size >= 3:
        epoch = (xf - xf[0]) // period
        n_ep = int(epoch[-1]) + 1
        if n_ep >= chunks:
            edges = np.searchsorted(epoch, (np.arange(1, chunks) * n_ep) // chunks)
            parts = np.split(yf, edges)
            if all(p.size for p in parts):
                return np.array([float(median(p)) for p in parts])
    return bin_medians(np.arange(yf.size), yf, chunks)[1]


def curve_facts(
    steps: np.ndarray, values: np.ndarray, floor: float | None = None, period: int | None = None
) -> dict[str, float | int | bool]:
    """Facts about the shape of one series. Needs 3 finite points for shape facts (1-2 give
    :func:`level_facts`). ``floor``: the least magnitude the relative facts (change,
    peak_ratio, rise_rel, half_change, ...) divide by, for a start at or near 0 (default:
    ZERO_SHARE of the series' magnitude near its start; :func:`quality_floor` for a bounded metric).
    ``period``: the steps of one epoch, for a per-step series (the oscillation chunks then hold
    whole epochs, :func:`chunk_medians`)."""
    facts: dict[str, float | int | bool] = nonfinite_facts(steps, values)
    ok = np.isfinite(values)
    xf, yf = (steps, values) if ok.all() else (steps[ok], values[ok])
    del ok
    facts["n_finite"] = int(yf.size)
    if yf.size < 3:  # too few for a shape; the levels of an all-finite one say what it logged
        if yf.size and yf.size == values.size:  # (1-2 finite points before a NaN: not its end)
            facts.update(level_facts(xf, yf))
        return facts
    facts.update(repeat_facts(yf))

    xb, yb = bin_medians(xf, yf, MAX_POINTS)
    s = smooth(yb)
    span = float(xb[-1] - xb[0]) or 1.0
    prog = (xb - xb[0]) / span

    first = float(median(head(yf, *FIRST_POINTS)))
    last = float(median(tail(yf, *LAST_POINTS)))
    i_min, i_max = int(np.argmin(s)), int(np.argmax(s))
    smin, smax = float(s[i_min]), float(s[i_max])
    scale = max(abs(first), abs(smin), EPS)
    if floor is None:
        floor = ZERO_SHARE * _start_magnitude(yf)
    ref = max(abs(first), floor, EPS)  # what relative facts divide by
    progress_made = max(first - smin, 0.0)

    # Noise: robust sigma of point-to-point differences in the second half, relative.
    half = yb[yb.size // 2 :] if yb.size >= 8 else yb
    noise = mad(np.diff(half)) / np.sqrt(2.0) if half.size > 2 else 0.0
    level = float(median(np.abs(half))) or scale

    # Oscillation: variation of 20 bin medians beyond the net change, relative to scale.
    y20 = chunk_medians(xf, yf, period)
    tv = float(np.abs(np.diff(y20)).sum())
    net = abs(float(y20[-1] - y20[0]))
    wasted = (tv - net) / 2.0
    # What the run's own point-to-point noise alone gives: medians of m points vary with
    # sigma 1.25 s / sqrt(m); 19 steps between 20 of them add up to ~19 * 1.128 of that.
    m = max(yf.size / 20.0, 1.0)
    s_pt = mad(np.diff(yf)) / np.sqrt(2.0) if yf.size >= 3 else 0.0
    tv_noise = 19 * 1.128 * 1.25 * s_pt / np.sqrt(m)
    rng20 = float(y20.max() - y20.min())

    # Spikes: points far above a local running median, measured in log space when the
    # series is positive (per-batch losses are heavy-tailed and their noise multiplicative:
    # near convergence most batches score ~0 and a few score 100x that, which is not a
    # fault), else relative to the local level. A spike is above 10 robust sigmas of that
    # residual and at least double the local level.
    w = min(max(5, (yf.size // 50) | 1), 51)
    local = smooth(yf, w) if yf.size >= 5 else yf
    # (in place: a 10M-step series makes every temporary 80 MB)
    if np.all(yf > 0):
        rel = np.log(yf)
        lev = np.maximum(local, EPS)
        rel -= np.log(lev, out=lev)
        jump = np.log(2.0)
    else:
        rel = yf - local
        lev = np.abs(local)
        rel /= np.maximum(lev, EPS, out=lev)
        jump = 1.0
    del lev, local
    sig = mad(rel) or EPS
    spike = (rel > 10.0 * sig) & (rel > jump)
    n_spike = int(spike.sum())

    # Where does the curve leave its best value for good? Onset of the rise: the last step
    # at the minimum of the smoothed curve (the curve is worse from there on).
    i_q3 = _progress_index(prog, 0.75)
    i_q2 = _progress_index(prog, 0.5)
    total_drop = first - last
    tail_share = (float(s[i_q3]) - float(s[-1])) / total_drop if total_drop > EPS * scale else 0.0

    # Exact zeros after the series first went clearly positive: a quality metric (mAP,
    # accuracy) that drops to 0.000 at one evaluation and back.
    went_up = np.flatnonzero(yf > 0.05 * max(float(yf.max()), EPS))
    zero_dips = int(np.sum(yf[went_up[0] :] == 0.0)) if went_up.size and yf.max() > 0 else 0

    # A count's quantum: a share of n examples (accuracy on a validation set of n) moves in
    # steps of k/n. The least nonzero change between consecutive values (last 10k points)
    # is taken as 1/n when every change and the last value are whole multiples of it (a
    # continuous quantity, or a few large jumps, are not: quantum 0) - or a half to a fifth
    # of it, when the least change was 2-5 examples (45 examples whose accuracy moved by 2
    # and 3 of them: least change 2/45) and that fraction is 1/n for a whole n.
    steps_abs = np.abs(np.diff(yf[-10_000:]))
    steps_abs = steps_abs[steps_abs > 1e-9 * scale]
    quantum = 0.0
    if steps_abs.size:
        least = float(steps_abs.min())
        for k in range(1, 6):
            q = least / k
            units = np.r_[steps_abs, abs(last)] / q
            whole_n = k == 1 or (round(1.0 / q) >= 2 and abs(round(1.0 / q) * q - 1.0) < 1e-3)
            if whole_n and np.all(np.abs(units - np.round(units)) < 0.05):
                quantum = q
                break

    # Ten times the start's magnitude, upwards - or downwards from a positive start (a loss
    # that runs off to -1e4). A series that starts at or below 0 and goes further down fell:
    # a negative loss (a log-likelihood, a clipped sign-flipped loss) from -0.78 to -11.9
    # did not explode.
    grown = yf > 10.0 * ref
    if first > 0.0:
        grown |= yf < -10.0 * ref
    explode_idx = first_run_start(grown, 2)

    facts.update(
        {
            "first": first,
            "first_raw": float(yf[0]),
            "first_step": int(xf[0]),
            "last": last,
            "last_raw": float(yf[-1]),  # the last point, as first_raw is the first
            "last_step": int(xf[-1]),
            "min": smin,
            "min_step": int(round(float(xb[i_min]))),
            "min_progress": float(prog[i_min]),
            "max": smax,
            "max_progress": float(prog[i_max]),
            "max_step": int(round(float(xb[i_max]))),
            "peak_raw": float(yf.max()),
            "peak_ratio": float(yf.max() / ref),
            "min_raw": float(yf.min()),
            "drop": progress_made / scale,  # how much it ever improved, relative
            "change": (last - first) / ref,  # < 0: fell over the run
            "rise": (last - smin) / max(progress_made, 0.05 * scale, floor, EPS),  # back from the best
            "rise_rel": (last - smin) / max(abs(smin), 0.05 * scale, floor, EPS),
            "rise_z": _rise_z(xf, yf, float(xb[i_min])),  # in standard errors of the run's own noise
            "tau": kendall_tau(s),
            "tail_tau": kendall_tau(yb[i_q2:]),
            # the trend from the best (smoothed) value on: ~1 a curve that gets steadily worse
            # after it improved (gradients accumulating without zero_grad grow each step, an
            # overfitting validation loss), ~0 a minimum at the end or noise around a plateau
            "rise_tau": kendall_tau(s[i_min:]),
            "tail_share": tail_share,  # share of the total fall made in the last quarter
            "half_change": (float(s[-1]) - float(s[i_q2])) / ref,
            # the raw last change as a share of the whole fall (short per-epoch runs, where
            # smoothed shape facts have no room): ~0 converged, ~1/n a steady decline
            "last_delta_share": float(yf[-2] - yf[-1]) / max(float(yf[0] - yf[-1]), EPS * scale),
            "noise": noise / max(level, EPS),
            "noise_abs": noise,
            "osc": wasted / max(abs(first), abs(smax), EPS),
            "tv_ratio": tv / max(rng20, EPS),
            "osc_z": tv / tv_noise if tv_noise > EPS * scale else float("inf"),  # swings / noise
            "spikes": n_spike,
            "spike_frac": n_spike / yf.size,
            "spike_step": int(xf[np.argmax(spike)]) if n_spike else -1,
            "neg_frac": float(np.mean(yf < 0)),
            "tail_neg_frac": float(np.mean(tail(yf, 0.2, 1, 10_000) < 0)),
            "tail_zero_frac": float(np.mean(tail(yf, 0.2, 1, 10_000) == 0)),
            "explode_step": int(xf[explode_idx]) if explode_idx >= 0 else -1,
            # the explosion was a short upward spike the run came back from (LOSS002 reads it)
            "explode_recovered": explode_recovered(yf, explode_idx, ref),
            "zero_dips": zero_dips,
            "tail_cv": float(np.std(tail(yf, 0.2, 2, 10_000)) / max(abs(last), EPS)),
            "quantum": quantum,  # 1/n of a share of n examples, else 0
        }
    )
    return facts
