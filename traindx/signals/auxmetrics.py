"""What the task metrics logged beside the loss say (fact group ``aux``).

Users log more than the loss: Keras ``metrics=['mae']``, scikit-learn's R^2 per epoch, an F1,
a precision or an AUC. Each has a level that means "learned nothing", whatever the loss does:

* **R^2 never above 0.** R^2 is 1 minus the model's squared error over the error of predicting
  the targets' mean; never above 0, the model never beat the mean (``r2_best``).
* **an AUC at 0.5.** A ranking no better than a coin (``auc_dev``: the largest distance of any
  logged AUC from 0.5).
* **F1, precision or recall at exactly 0.** Not one positive predicted right (``pos_zero``).
  At one value above 0 at every one of five or more evaluations, the answers it counts never
  changed (``pos_frozen``).
* **Dice or IoU never above 0.** The overlap of the predicted and true foreground masks; at 0
  for a whole run, no foreground pixel was ever predicted right - the model answers background
  everywhere (``overlap_best``, the best value of any logged Dice, IoU or Jaccard; a mean IoU
  over classes that count background is not read: predicting background everywhere scores
  its share over the class count there, a level the log does not carry).
* **a validation perplexity at 1.** exp of the per-token cross-entropy: 1 is every held-out
  token predicted with certainty, which a language model reaches on real text only when it
  sees the token it predicts (``val_ppl_min``).
* **an error metric at the mean predictor's.** Where an adapter recorded the targets' spread
  (``ctx.trivial_mse``, ``ctx.trivial_mae``: the error of predicting the targets' mean or
  median whatever the input), a logged MAE, MSE or RMSE never below 0.95 of that level never
  beat ignoring the inputs (``err_trivial``: the best such ratio, validation else training).
* **the loss moves, the task metric does not.** A training loss that falls by half (or sits at
  0 from the start) beside an error metric of the same split (MAE, MSE, RMSE, MAPE) that never
  improves by 5 %: the loss does not measure the task (``err_gain``, ``loss_gain``,
  ``err_flat``). Per head too (Keras multi-output names ``<head>_loss``, ``<head>_mae``): a
  head's loss at 0 to float precision at every point beside that head's error metric at 0.01 or
  more (``head_zero_loss``, and ``err_flat``).
* **the loss IS a quality metric.** A training loss equal (to 1e-3 of its size; a per-step
  loss by its mean over each metric interval) at every one of three or more metric points to a training metric that is higher-is-better (accuracy, Dice, IoU,
  F1, AUC, precision, recall, R^2) and falling by a fifth or more: the quantity minimised is the
  model's own quality - ``loss=dice_coef`` where ``1 - dice_coef`` was meant (``loss_is_quality``).

Hand-written metrics reach absurd values (an R^2 of -4.7e13): every fact is bounded.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from traindx.schema import Run, Series

#: Fewest finite points a metric needs to say anything.
MIN_POINTS = 3
_R2 = re.compile(r"r2(_score)?")
_AUC = re.compile(r"auc|roc_auc|auroc|auc_roc")
#: F1, precision or recall of one class: bare, or qualified by the class or the scheme that
#: names it (``entity_f1`` and ``overall_f1`` of seqeval, ``binary_f1``, ``fraud_precision``,
#: ``f1_pos``, ``recall_class1``); not one averaged over the classes (a macro F1 of a model that
#: answers the majority class everywhere is that class's F1 over C, not 0) nor an average precision.
ONE_CLASS = r"(?!(macro|micro|weighted|samples|avg|mean|average|balanced)_|\w*average_precision)(\w+_)?({})" \
    r"(_(pos(itive)?|bin(ary)?|class_?\d+))?"
_POS = re.compile(ONE_CLASS.format("f1|f1_score|precision|recall"))
#: A recall of one class, however qualified (signals/degenerate.py: a one-class predictor's is 0).
ONE_CLASS_RECALL = re.compile(ONE_CLASS.format("recall"))
_ERR = re.compile(r"mae|mse|rmse|mape|r?msle")
_LOSS = re.compile(r"loss")
_OVERLAP = re.compile(r"dice|iou|jaccard|dice_coef(ficient)?")
_PPL = re.compile(r"perplexity")
#: Higher-is-better metrics (a loss equal to one of them minimises the model's quality).
_QUALITY = re.compile(
    r"(\w+_)?(acc|accuracy|dice|dice_coef(ficient)?|iou|jaccard|f1|f1_score|auc|precision|recall|r2|r2_score)"
)
#: A one-class F1, precision or recall at one value at this many points or more is frozen
#: (``pos_frozen``; the accuracy's own test is degenerate.py's ``acc_mode_frac``) ...
FROZEN_POINTS = 5
#: ... below this value (a model that converged before its first evaluation repeats a high one).
FROZEN_CEILING = 0.95
#: Relative agreement under which a loss and a metric are one series.
_SAME = 1e-3
#: Error metric -> (the context's trivial level it compares with, the power it is taken to).
_TRIVIAL_ERR = {re.compile(n): (flag, power) for n, flag, power in (
    ("mae", "trivial_mae", 1.0), ("mse", "trivial_mse", 1.0), ("rmse", "trivial_mse", 0.5))}
#: A loss at or below this is 0 to the precision logs print.
ZERO_LOSS = 1e-3


def _values(s: Series) -> np.ndarray:
    v = np.asarray(s.values, dtype=float)
    return v[np.isfinite(v)]


def _series(run: Run, pattern: re.Pattern[str], split: str | None = None) -> list[np.ndarray]:
    out = []
    for s in run.series.values():
        if s.key.statistic != "value" or s.key.scope != "global" or not pattern.fullmatch(s.key.metric):
            continue
        if split is not None and s.key.split != split:
            continue
        v = _values(s)
        if v.size >= MIN_POINTS:
            out.append(v)
    return out


def _gain(v: np.ndarray) -> float:
    """Relative improvement of a lower-is-better curve, first to best, in [-1, 1]."""
    first = float(v[0])
    if first <= 0:
        return 0.0
    return float(np.clip((first - float(np.min(v))) / first, -1.0, 1.0))


def _err_trivial(run: Run) -> float | None:
    """The best ratio of a logged MAE/MSE/RMSE (validation, else training) to the adapter's
    trivial level of that error (None without both)."""
    ctx = run.context.flags
    best: float | None = None
    for split in ("val", "train"):
        for pattern, (flag, power) in _TRIVIAL_ERR.items():
            ref = ctx.get(flag)
            if isinstance(ref, bool) or not isinstance(ref, int | float) or not ref > 0:
                continue
            for v in _series(run, pattern, split):
                r = float(np.min(np.abs(v))) / float(ref) ** power
                best = r if best is None else min(best, r)
        if best is not None:
            return float(min(best, 1e3))
    return None


def _loss_is_quality(run: Run) -> bool:
    """The training loss equals a training quality metric at every metric point (three or more;
    a NaN loss anywhere in an interval is no match) and fell by a fifth or more from its first."""
    losses = [s for s in run.series.values() if s.key.metric == "loss" and s.key.split == "train"
              and s.key.statistic == "value" and s.key.scope == "global"]
    quality = [s for s in run.series.values() if s.key.split == "train" and s.key.statistic == "value"
               and s.key.scope == "global" and _QUALITY.fullmatch(s.key.metric) and "loss" not in s.key.metric]
    for ls in losses:
        steps, values = np.asarray(ls.steps), np.asarray(ls.values, float)
        for q in quality:
            # the loss's mean over each metric interval (prev, step]: a per-step loss beside a
            # per-epoch metric (an adapter) or two per-epoch series (one point per interval)
            qs, qv = np.asarray(q.steps), np.asarray(q.values, float)
            ends = np.searchsorted(steps, qs, side="right")
            starts = np.concatenate([[0], ends[:-1]])
            keep = (ends > starts) & np.isfinite(qv)
            sums = np.concatenate([[0.0], np.cumsum(values)])
            a = (sums[ends[keep]] - sums[starts[keep]]) / (ends[keep] - starts[keep])
            b = qv[keep]
            ok = np.isfinite(a)
            a, b = a[ok], b[ok]
            if len(a) < MIN_POINTS or not np.all(np.abs(a - b) <= _SAME * np.maximum(np.abs(a), 1e-6)):
                continue
            if a[0] > 0 and a[-1] <= 0.8 * a[0]:
                return True
    return False


def _frozen(v: np.ndarray) -> bool:
    """One value (to 4 digits) at every one of :data:`FROZEN_POINTS` or more points, above 0 and
    under :data:`FROZEN_CEILING`: the predictions the metric counts never changed."""
    return v.size >= FROZEN_POINTS and float(np.ptp(np.round(v, 4))) == 0.0 and 0.0 < float(v[0]) < FROZEN_CEILING


def aux_facts(run: Run) -> dict[str, Any]:
    """The ``aux`` group (see the module docstring); empty when no such metric was logged."""
    out: dict[str, Any] = {}
    overlap = _series(run, _OVERLAP)
    if overlap:
        out["overlap_best"] = float(np.clip(max(float(np.max(v)) for v in overlap), -1.0, 1.0))
    ppl = _series(run, _PPL, "val")
    if ppl:
        out["val_ppl_min"] = float(min(float(np.min(v)) for v in ppl))
    et = _err_trivial(run)
    if et is not None:
        out["err_trivial"] = et
    r2 = _series(run, _R2)
    if r2:
        out["r2_best"] = float(np.clip(max(float(np.max(v)) for v in r2), -1e3, 1.0))
    auc = _series(run, _AUC)
    if auc:
        out["auc_dev"] = float(min(0.5, max(float(np.max(np.abs(v - 0.5))) for v in auc)))
    pos = _series(run, _POS)
    if pos:
        out["pos_zero"] = any(bool(np.all(v == 0.0)) for v in pos)
        out["pos_frozen"] = any(_frozen(v) for v in pos)
    if _loss_is_quality(run):
        out["loss_is_quality"] = True
    loss = _series(run, _LOSS, "train")
    err = _series(run, _ERR, "train")
    if loss and err:
        lv = max(loss, key=len)
        loss_gain = _gain(lv)
        err_gain = max(_gain(v) for v in err)
        err_level = max(float(np.min(np.abs(v))) for v in err)
        loss_zero = bool(np.all((lv >= 0.0) & (lv <= ZERO_LOSS)))
        out["loss_gain"] = loss_gain
        out["err_gain"] = err_gain
        lag = _log_share(run)
        share = None
        if lag is not None:
            share, out["loss_fall_x"] = lag
            out["err_share"] = share
        # the loss fell by half or sat at 0 while the metric it should drive stayed where it began;
        # or it fell by orders of magnitude while the metric followed a small share of that fall
        out["err_flat"] = bool(
            (err_gain < 0.05 and (loss_gain >= 0.5 or (loss_zero and err_level > 10 * ZERO_LOSS)))
            or (lag is not None and lag[1] >= LAG_LOSS_FALL and lag[0] < LAG_SHARE)
        )
    head = _head_loss_zero(run)
    if head is not None:  # a head whose own loss is 0 while its own error is not
        out["head_zero_loss"] = head
        out["err_flat"] = True
    return out


#: A head's loss is 0 to float precision at or below this (a categorical cross-entropy on one
#: unit is exactly 0; Keras prints -3.8e-9) ...
HEAD_ZERO = 1e-6
#: ... beside the same head's error metric at or above this all run: an MSE/MAE/Huber loss of
#: 1e-6 means an MAE of 1e-3 at most, so the two cannot measure the same outputs.
HEAD_ERR = 0.01
_HEAD = re.compile(r"(?P<head>\w+?)_(?P<what>loss|mae|mse|rmse|mape|msle)")


def _head_loss_zero(run: Run) -> str | None:
    """The first head (Keras multi-output: ``<head>_loss`` beside ``<head>_mae``, either split)
    whose loss sits within :data:`HEAD_ZERO` of 0 at every point (three or more) while the same
    head's error metric never falls under :data:`HEAD_ERR`: the loss does not measure that head
    (qa_mixed47's regression head compiled with categorical cross-entropy: position_loss
    -3.8e-9 for 20 epochs beside position_mae 2.28 -> 1.97). None when there is no such head."""
    heads: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for s in run.series.values():
        m = _HEAD.fullmatch(s.key.metric)
        if m is None or s.key.statistic != "value" or s.key.scope != "global":
            continue
        v = _values(s)
        if v.size >= MIN_POINTS:
            heads.setdefault((s.key.split, m["head"]), {})[m["what"]] = v
    for (_, head), got in sorted(heads.items()):
        loss = got.get("loss")
        errs = [v for k, v in got.items() if k != "loss"]
        if loss is not None and errs and float(np.max(np.abs(loss))) <= HEAD_ZERO:
            if max(float(np.min(np.abs(v))) for v in errs) >= HEAD_ERR:
                return head
    return None


#: A loss (its mean over the metric's intervals) that fell to 1/20 of its first value or less ...
LAG_LOSS_FALL = 20.0
#: ... beside an error metric that followed less than this share of its fall on a log scale (a
#: metric of the same outputs follows it: an MSE loss beside an MSE 1, beside an MAE or RMSE 1/2).
LAG_SHARE = 0.2


def _log_share(run: Run) -> tuple[float, float] | None:
    """The largest share, among the training error metrics, of the training loss's fall first ->
    best on a log scale that the metric made first -> best: ln(e0 / e_min) / ln(l0 / l_min), the
    loss read as its mean over each metric interval (prev, step] - a per-step loss beside a
    per-epoch metric (an adapter) starts before the first epoch's metric, which is an epoch
    mean. With it, how many times the loss fell over that metric's span (l0 / l_min, bounded).
    None unless the loss and a metric are positive and the loss fell."""
    losses = [s for s in run.series.values() if s.key.metric == "loss" and s.key.split == "train"
              and s.key.statistic == "value" and s.key.scope == "global"]
    errs = [s for s in run.series.values() if s.key.split == "train" and s.key.statistic == "value"
            and s.key.scope == "global" and _ERR.fullmatch(s.key.metric)]
    if not losses or not errs:
        return None
    ls = max(losses, key=len)
    steps, values = np.asarray(ls.steps), np.asarray(ls.values, float)
    with np.errstate(invalid="ignore"):  # an inf loss: no mean over the intervals it falls in
        sums = np.concatenate([[0.0], np.cumsum(values)])  # once, for every metric's intervals
    shares = []
    for e in errs:
        es, ev = np.asarray(e.steps), np.asarray(e.values, float)
        ends = np.searchsorted(steps, es, side="right")
        starts = np.concatenate([[0], ends[:-1]])
        keep = (ends > starts) & np.isfinite(ev)
        with np.errstate(invalid="ignore"):  # an inf loss in an interval: no mean there
            a = (sums[ends[keep]] - sums[starts[keep]]) / (ends[keep] - starts[keep])
        b = ev[keep]
        ok = np.isfinite(a)
        a, b = a[ok], b[ok]
        if a.size < MIN_POINTS or not (np.min(a) > 0 and a[0] > np.min(a) and np.min(b) > 0 and b[0] > 0):
            continue
        fall = float(a[0] / np.min(a))
        shares.append((float(np.clip(np.log(b[0] / np.min(b)) / np.log(fall), -10.0, 10.0)), min(fall, 1e6)))
    return max(shares) if shares else None
