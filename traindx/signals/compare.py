"""Facts that compare series: train against validation, LR schedule shape, class chance."""

from __future__ import annotations

import math

import numpy as np

from traindx.arrays import median
from traindx.signals.robust import bin_medians, first_run_start, head, smooth, tail

EPS = 1e-12


def progress(steps: np.ndarray) -> np.ndarray:
    steps = steps.astype(np.float64)
    span = steps[-1] - steps[0]
    return (steps - steps[0]) / span if span > 0 else np.zeros_like(steps)


def gap_facts(
    train_steps: np.ndarray,
    train: np.ndarray,
    val_steps: np.ndarray,
    val: np.ndarray,
    *,
    same_axis: bool,
) -> dict[str, float | int | bool]:
    """Train-vs-validation facts for a lower-is-better metric (loss).

    ``same_axis``: both series are on one step axis (else each is mapped to run progress).
    """
    ok_t, ok_v = np.isfinite(train), np.isfinite(val)
    ts, tv = train_steps[ok_t], train[ok_t]
    vs, vv = val_steps[ok_v], val[ok_v]
    if tv.size < 3 or vv.size < 2:
        return {}
    tsb, tvb = bin_medians(ts, tv, 500)
    tsm = smooth(tvb)
    if same_axis:
        tx, vx = tsb.astype(np.float64), vs.astype(np.float64)
    else:
        tx, vx = progress(tsb), progress(vs)
    train_at_val = np.interp(vx, tx, tsm)
    vsm = smooth(vv, 3) if vv.size >= 5 else vv.astype(np.float64)
    i_min = int(np.argmin(vsm))
    # the first evaluation(s) as logged when they stand above the smoothed start: a running
    # median with mirrored ends gives the first point the second one's value, which hid the
    # improvement of a model that learns most in its first epoch ("never improves")
    v_first = max(float(vsm[0]), float(median(head(vv, 0.03, 1, 20))))
    v_min = float(vsm[i_min])
    v_last = float(median(tail(vv, 0.1, 1, 20)))
    t_last = float(median(tail(tv, 0.05, 1, 200)))
    t_at_min = float(train_at_val[i_min])
    below = vv < train_at_val - 0.02 * np.abs(train_at_val)
    # Gap opening: first val point (of 2 in a row) where val exceeds train by > 25 %.
    gap_rel = (vv - train_at_val) / np.maximum(np.abs(train_at_val), EPS)
    open_idx = first_run_start(gap_rel > 0.25, 2)
    return {
        "ratio_last": v_last / max(abs(t_last), EPS),
        "ratio_first": float(vv[0]) / max(abs(_train_near(tx, tvb, float(vx[0]))), EPS),
        # the closest validation ever came to training: overfitting opens a gap from near 1,
        # data unlike the training set keep validation far above it at every evaluation
        "ratio_min": float(np.min(vsm / np.maximum(np.abs(train_at_val), EPS))),
        "diff_last": v_last - t_last,
        "val_below_frac": float(np.mean(below)),
        "val_min_step": int(vs[i_min]),
        "val_min_progress": float(progress(vs)[i_min]),
        "val_rise": (v_last - v_min) / max(v_first - v_min, 0.05 * max(abs(v_min), EPS)),
        "val_rise_rel": (v_last - v_min) / max(abs(v_min), EPS),
        "val_drop": (v_first - v_min) / max(abs(v_first), EPS),
        "train_drop_after_val_min": (t_at_min - t_last) / max(abs(t_at_min), EPS),
        # share of the whole training-loss fall that came after the first evaluation
        "train_drop_after_val_first": (float(train_at_val[0]) - t_last) / max(abs(float(tsm[0])), EPS),
        "gap_open_step": int(vs[open_idx]) if open_idx >= 0 else -1,
    }


def _train_near(tx: np.ndarray, tv: np.ndarray, x: float) -> float:
    """The training loss around ``x``: the median of the binned values in a window centred on
    the nearest one, as wide as :func:`smooth`'s but shrunk to fit at the ends instead of
    mirrored. A mirrored start gives the first point of a falling curve the second one's value
    (epoch-level logs: epoch 1's 1.23 read as epoch 2's 0.29), which made a first evaluation
    level with training look four times above it."""
    n = tv.size
    j = int(np.argmin(np.abs(tx - x)))
    h = min(max(3, (n // 15) | 1) // 2, j, n - 1 - j)
    return float(median(tv[j - h : j + h + 1]))


def acc_gap_facts(train: np.ndarray, val: np.ndarray) -> dict[str, float]:
    tv, vv = train[np.isfinite(train)], val[np.isfinite(val)]
    if tv.size < 2 or vv.size < 2:
        return {}
    t_last = float(median(tail(tv, 0.05, 1, 200)))
    v_last = float(median(tail(vv, 0.1, 1, 20)))
    return {"acc_gap_last": t_last - v_last, "val_acc_best": float(np.max(vv)), "val_acc_last": v_last}


def quality_after_val_min(
    val_steps: np.ndarray, val: np.ndarray, q_steps: np.ndarray, q: np.ndarray
) -> dict[str, float]:
    """How much a higher-is-better validation metric (mAP, accuracy) still improved after
    the validation loss's best point, relative to its value there. A validation loss that
    rises while this still improves is calibration drift, not clearly overfitting."""
    ok, okq = np.isfinite(val), np.isfinite(q)
    vs, vv, qs, qv = val_steps[ok], val[ok], q_steps[okq], q[okq]
    if vv.size < 3 or qv.size < 3:
        return {}
    vsm = smooth(vv, 3) if vv.size >= 5 else vv
    at = vs[int(np.argmin(vsm))]
    qsm = smooth(qv, 3) if qv.size >= 5 else qv
    q_at = float(np.interp(at, qs, qsm))
    q_last = float(median(tail(qv, 0.1, 1, 20)))
    return {"quality_gain_after_val_min": (q_last - q_at) / max(abs(q_at), 0.01)}


def ce_accuracy_bound(loss_last: float | None, acc_last: float | None) -> dict[str, float]:
    """Accuracy against the least a cross-entropy loss allows. An example whose true class
    gets probability <= 1/2 (the only kind that can be misclassified) costs at least ln 2, so
    a mean cross-entropy L leaves at most L / ln 2 of them: accuracy >= 1 - L / ln 2, for any
    class count and for binary cross-entropy alike. ``acc_below_ce_bound`` > 0 says the
    logged loss cannot be the cross-entropy of the predictions the accuracy scores (a loss
    that does not fit the task, a metric on other outputs)."""
    if loss_last is None or acc_last is None or not (math.isfinite(loss_last) and math.isfinite(acc_last)):
        return {}
    if loss_last < 0.0:
        return {}
    bound = 1.0 - loss_last / math.log(2.0)
    # the other side: exp(-L) is the geometric mean of the probability the true class gets,
    # so a classifier right on a share `acc` of its examples that still gives the true class
    # ~exp(-L) << acc squashes its outputs toward uniform (a second softmax, a sigmoid or
    # ReLU on the logits, a softmax over the wrong axis): right, but barely
    out = {"ce_acc_bound": bound, "acc_below_ce_bound": bound - acc_last}
    if 0.0 <= acc_last <= 1.0:  # a share, not a percentage
        out["acc_over_p_true"] = acc_last - math.exp(-loss_last)
    return out


def double_softmax_floor(k: int) -> float | None:
    """The least cross-entropy a softmax applied twice can score over ``k`` classes: the outer
    softmax of probabilities in [0, 1] gives the true class at most e / (e + k - 1), so the loss
    cannot go below ln(1 + (k - 1) / e) (0.31 for two classes, 0.55 for three, 1.46 for ten)."""
    return math.log1p((k - 1) / math.e) if k >= 2 else None


def loss_when_scored(
    loss_steps: np.ndarray, loss_values: np.ndarray, acc_steps: np.ndarray, same_axis: bool
) -> float | None:
    """The loss as it stood when the accuracy was last measured, for the cross-entropy bound:
    the median of the finite loss points logged after the accuracy's previous point and up to
    its last one (the nearest earlier loss point when none falls there). None when the two
    end together or lie on different axes - the losses' own last value is then the one to use.
    An accuracy taken on a sparser cadence than the loss (an adapter's telemetry steps that
    grew apart, an evaluation every N steps) otherwise compares the accuracy of step 50 with
    the loss of step 515."""
    if not same_axis or acc_steps.size == 0 or loss_steps.size == 0:
        return None
    ok = np.isfinite(loss_values)
    xs, ys = loss_steps[ok], loss_values[ok]
    if ys.size == 0:
        return None
    last = float(acc_steps[-1])
    later = xs > last
    if not later.any():
        return None  # the accuracy was measured at the loss's end (or after it)
    prev = float(acc_steps[-2]) if acc_steps.size >= 2 else -np.inf
    window = (xs > prev) & (xs <= last)
    if window.any():
        return float(median(ys[window]))
    before = xs <= last
    return float(ys[before][-1]) if before.any() else None


#: Points of a loss read against its LR after the opening share (the first fall, warm-up's start).
LR_RESPONSE_MIN = 8
#: Only where the LR is at least this share of its largest value is the loss read against it.
LR_LIVE = 0.1


def lr_response(
    lr_steps: np.ndarray, lr: np.ndarray, loss_steps: np.ndarray, loss: np.ndarray
) -> dict[str, float]:
    """How much a loss moved while its logged LR moved (both on one step axis). After the
    first tenth of the loss's points (at least two: the opening fall) and where the LR is at
    least a tenth of its largest value (an LR decayed to ~0 stops any loss: a schedule's fault,
    not the model's), ``lr_move`` is the ratio of the LR's largest to its smallest value there
    (at most 10x) and ``loss_move`` the loss's range there over its median. A model that learns answers a 5x LR change - a warm-up to the peak, a one-cycle,
    a decay - with a visibly moving loss; one whose loss stays within a fraction of a percent
    while the LR moves tenfold gets no gradient that the step size could scale: saturated
    outputs, dead units, a stopped gradient. Empty with fewer than 8 points there, no positive
    LR, or a loss whose median is not positive."""
    okl, okr = np.isfinite(loss), np.isfinite(lr)
    xs, ys, rs, rv = loss_steps[okl], loss[okl], lr_steps[okr], lr[okr]
    if rv.size < 2 or ys.size < 2:
        return {}
    skip = max(2, int(math.ceil(0.1 * ys.size)))
    xs, ys = xs[skip:], ys[skip:]
    if ys.size < LR_RESPONSE_MIN or xs[0] < rs[0] or xs[-1] > rs[-1]:
        return {}
    at = np.interp(xs, rs, rv)
    top = float(np.max(at))
    live = at >= LR_LIVE * top  # where the step size is a real one: a decay to ~0 stops any loss
    xs, ys, at = xs[live], ys[live], at[live]
    mid = float(median(ys)) if ys.size else 0.0
    if ys.size < LR_RESPONSE_MIN or not (top > 0.0 and mid > 0.0):
        return {}
    return {
        "lr_move": top / float(np.min(at)),
        "loss_move": float(np.max(ys) - np.min(ys)) / mid,
    }


def lr_facts(steps: np.ndarray, lr: np.ndarray, planned: int | None = None) -> dict[str, float | int | bool]:
    """Shape of the LR schedule. ``planned``: the run's planned last step (or epoch count),
    when known: ``max_plan_progress`` places the LR's peak in the whole planned run (a
    warm-up logged up to step 1000 of 8660 peaks at 0.12 of it), else in the logged part."""
    ok = np.isfinite(lr)
    s, v = steps[ok], lr[ok]
    if v.size < 2:
        return {"first": float(v[0]), "last": float(v[0]), "constant": True} if v.size else {}
    p = progress(s)
    i_max = int(np.argmax(v))
    vmax = float(v[i_max])
    # at or under 1 % of the peak: a 100x step decay (0.05 -> 0.0005) lands exactly on it,
    # and float32 logging puts it a hair above (0.0005f / 0.05f = 0.01 + 3e-8: relative tolerance 1e-5)
    after = v[i_max:] <= 0.01 * vmax * (1.0 + 1e-5) if vmax > 0.0 else np.zeros(v.size - i_max, bool)
    i_zero = int(np.argmax(after)) + i_max if np.any(after) else -1
    d = np.diff(v)
    tol = 1e-12 * max(vmax, EPS)
    rises, falls = d > tol, d < -tol
    n_moves = int(rises.sum() + falls.sum())
    return {
        "first": float(v[0]),
        "max": vmax,
        "last": float(v[-1]),
        "max_progress": float(p[i_max]),
        "max_plan_progress": (
            float(s[i_max]) / planned if planned and planned >= s[-1] else float(p[i_max])
        ),
        "plan_done": float(s[-1]) / planned if planned and planned >= s[-1] else 1.0,
        "last_over_max": float(v[-1]) / max(vmax, EPS),
        "last_over_first": float(v[-1]) / max(float(v[0]), EPS),
        "zero_progress": float(p[i_zero]) if i_zero >= 0 else -1.0,
        "zero_step": int(s[i_zero]) if i_zero >= 0 else -1,
        # the highest LR after it first fell under 1 % of its peak, relative to the peak:
        # a warm restart (cosine with restarts) brings it back up, a decay does not
        "after_zero_max": float(v[i_zero:].max()) / max(vmax, EPS) if i_zero >= 0 else -1.0,
        "rising_frac": float(np.mean(rises)),
        # the share of rises among the points where the LR CHANGES: a per-epoch schedule
        # logged per step moves on 1 step in 60, so ``rising_frac`` depends on how often
        # the LR is logged; this does not (the same history per step or per epoch agrees)
        "moves_rising_frac": float(rises.sum()) / n_moves if n_moves else 0.0,
        "constant": bool(np.all(v == v[0])),
    }


def chance_facts(
    num_classes: int,
    loss_first: float | None,
    loss_last: float | None,
    acc_last: float | None,
    majority_share: float | None,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Levels against chance for a C-class classifier: ln(C) for cross-entropy, 1/C accuracy.
    With the batch size known, the first loss against ln(batch size) too: a softmax taken over
    the batch axis spreads each class's probability over the B examples of the batch, so an
    untrained model scores ln(B) per example, not ln(C)."""
    ln_c = math.log(num_classes) if num_classes > 1 else float("nan")
    out: dict[str, float] = {"num_classes": float(num_classes), "ln_c": ln_c}
    if loss_first is not None and num_classes > 1:
        out["loss_first_ratio"] = loss_first / ln_c
        if batch_size is not None and batch_size > 2:
            out["ln_batch_over_ln_c"] = math.log(batch_size) / ln_c
            out["loss_first_over_ln_batch"] = loss_first / math.log(batch_size)
    if loss_last is not None and num_classes > 1:
        out["loss_last_ratio"] = loss_last / ln_c
    if acc_last is not None:
        out["acc_last_over_chance"] = acc_last * num_classes
        if majority_share is not None:
            out["acc_minus_majority"] = acc_last - majority_share
    return out


def below_chance_log10p(acc: float | None, num_classes: float, n: float | None) -> float | None:
    """How unlikely an accuracy this far below chance is from a model that guesses: log10 of a
    bound on P(a guesser right with probability 1/C scores <= ``acc`` on ``n`` examples), the
    Chernoff bound exp(-n KL(acc || 1/C)) of the binomial tail (never below the exact tail, so
    never overstated). 0 at or above chance; None without an accuracy or a size. A model that
    has learned nothing scores near 1/C (or the share of the class it always predicts); one
    far below it on hundreds of examples is systematically wrong - it learned a mapping that
    the validation labels contradict (the two splits' labels coded differently), or one that
    gradient ascent pushed away from the right class."""
    if acc is None or n is None or num_classes < 2 or n < 1 or not math.isfinite(acc):
        return None
    p0 = 1.0 / num_classes
    a = min(max(acc, 0.0), 1.0)
    if a >= p0:
        return 0.0
    kl = (a * math.log(a / p0) if a > 0.0 else 0.0) + (1.0 - a) * math.log((1.0 - a) / (1.0 - p0))
    return -n * kl / math.log(10.0)


def fitted_binary(
    num_classes: int,
    val_last: float | None,
    val_first: float | None,
    val_n: int | None,
    majority_share: float | None,
    val_loss_last: float | None = None,
) -> bool:
    """A two-class classifier that fitted by its outcome: validation accuracy at least halfway
    from the majority-class share to perfect, or - the prior unknown - at least 0.5 + 0.5/C and
    risen by more than 0.3 of its remaining margin since the first evaluation (a model stuck at a
    uniform output can score the majority share, never that rise). The stall symptoms' outcome
    gate (LOSS005/011/020, CTX020/021): under-confident fitted binary runs end near ln 2. Over three
    or more classes a loss near ln C is a near-uniform softmax whatever its argmax scores: False.
    Also fitted: validation accuracy above the majority share with a validation cross-entropy
    (``val_loss_last``) under 0.9 of the prior's entropy - the least a constant output scores -
    so the outputs depend on the inputs: a noisy-label task whose best accuracy is ~0.8 (qa_real37's
    fixed Keras run: val acc 0.78 over a 0.63 majority, val loss 0.57 vs 0.66) is not stuck."""
    if num_classes > 2 or val_last is None:
        return False
    if majority_share is not None:
        m = min(max(majority_share, 1e-9), 1.0 - 1e-9)
        entropy = -(m * math.log(m) + (1.0 - m) * math.log(1.0 - m))
        informative = val_loss_last is not None and val_last > m and 0.0 <= val_loss_last < 0.9 * entropy
        return informative or val_last - majority_share >= 0.5 * (1.0 - majority_share)
    if val_first is None or val_n is None:
        return False
    return val_last >= 0.5 + 0.5 / num_classes and val_n >= 3 and val_last - val_first > 0.3 * (1.0 - val_first)


#: Losses whose logged value is a trivial level's formula, by the name the adapters record
#: (torch class, Keras compile string/class, optax function): the ``ctx`` flag holding that
#: level and its factor (optax ``l2_loss`` is half the squared error).
TRIVIAL_LOSSES: dict[str, tuple[str, float]] = {
    **dict.fromkeys(("mseloss", "mse", "mean_squared_error", "meansquarederror", "squared_error"), ("trivial_mse", 1.0)),
    "l2_loss": ("trivial_mse", 0.5),
    **dict.fromkeys(("l1loss", "mae", "mean_absolute_error", "meanabsoluteerror"), ("trivial_mae", 1.0)),
    **dict.fromkeys(
        ("bceloss", "bcewithlogitsloss", "binary_crossentropy", "binarycrossentropy", "sigmoid_binary_cross_entropy"),
        ("trivial_bce", 1.0),
    ),
}


def trivial_facts(ctx: dict, reduction: str | None, train: dict, val: dict) -> dict[str, float]:
    """The loss against the trivial predictor's (the targets' mean, median or base rates,
    whatever the input: :class:`traindx.adapters._common.levels.TargetLevel`): ``ref``, the
    level for the loss the run uses, and the best (``*_best``, the curve's minimum) and last
    training / validation loss over it; ``best`` is the lower of the two best ratios. Only
    for a loss known to be that formula (``ctx.loss_kind``, else ``ctx.loss_name``), reduced
    by its mean (not ``reduction='sum'``) and without a regularization share in the logged
    value, nor weighted (``pos_weight``, class weights) or scaled by a factor (the torch
    Monitor reads both from the loss graph); for binary cross-entropy the loss and level above ``floor``, the targets' own
    entropy (``ctx.trivial_bce_floor``, 0 for 0/1 labels); binary cross-entropy only over several outputs (multi-label, reconstruction): a
    one-output classifier has the majority share and ln 2 (the chance facts). A ratio near 1
    is a model no better than ignoring its inputs; the adapters read the targets the loss is
    given, so standardized targets give the standardized level. Not seen: a loss the user
    scales or sums over outputs by hand."""
    kind = str(ctx.get("loss_kind") or ctx.get("loss_name") or "").lower()
    flag, factor = TRIVIAL_LOSSES.get(kind, (None, 1.0))
    ref = ctx.get(flag) if flag else None
    if ref is None or not ref > 0 or reduction in ("sum", "none") or (ctx.get("reg_loss_share") or 0.0) > 0.05:
        return {}
    if ctx.get("loss_weighted") or ctx.get("loss_scaled") or ctx.get("loss_class_weighted"):
        return {}  # a weighted or scaled loss has another trivial level
    if flag == "trivial_bce" and (ctx.get("target_width") or 1.0) < 2 and ctx.get("loss_task") not in ("multilabel", "reconstruction"):
        return {}
    ref = float(ref) * factor
    # soft targets (pixel intensities) leave a binary cross-entropy a floor, their own entropy:
    # the ratios are of the loss above it (0 for 0/1 labels); no room above it, no ratio
    floor = float(ctx.get("trivial_bce_floor") or 0.0) if flag == "trivial_bce" else 0.0
    if not 0.0 <= floor < 0.98 * ref:
        return {}
    out = {"ref": ref, "floor": floor}
    for name, g in (("train", train), ("val", val)):
        best, last = g.get("min"), g.get("last")
        if best is not None and last is not None and math.isfinite(best) and math.isfinite(last):
            out[f"{name}_best"], out[f"{name}_last"] = (best - floor) / (ref - floor), (last - floor) / (ref - floor)
    bests = [out[k] for k in ("train_best", "val_best") if k in out]
    if not bests:
        return {}
    out["best"] = min(bests)
    return out
