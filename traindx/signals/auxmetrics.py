"""What the task metrics logged beside the loss say (fact group ``aux``).

Users log more than the loss: Keras ``metrics=['mae']``, scikit-learn's R^2 per epoch, an F1,
a precision or an AUC. Each has a level that means "learned nothing", whatever the loss does:

* **R^2 never above 0.** R^2 is 1 minus the model's squared error over the error of predicting
  the targets' mean; never above 0, the model never beat the mean (``r2_best``).
* **an AUC at 0.5.** A ranking no better than a coin (``auc_dev``: the largest distance of any
  logged AUC from 0.5).
* **F1 or precision at exactly 0.** Not one positive predicted right (``pos_zero``).
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
  ``err_flat``).

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
_POS = re.compile(r"f1|f1_score|f1_binary|precision")
_ERR = re.compile(r"mae|mse|rmse|mape|msle")
_LOSS = re.compile(r"loss")
_OVERLAP = re.compile(r"dice|iou|jaccard|dice_coef(ficient)?")
_PPL = re.compile(r"perplexity")
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
        # the loss fell by half or sat at 0 while the metric it should drive stayed where it began
        out["err_flat"] = bool(err_gain < 0.05 and (loss_gain >= 0.5 or (loss_zero and err_level > 10 * ZERO_LOSS)))
    return out
