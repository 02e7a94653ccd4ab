"""What the task metrics logged beside the loss say (fact group ``aux``).

Users log more than the loss: Keras ``metrics=['mae']``, scikit-learn's R^2 per epoch, an F1,
a precision or an AUC. Each has a level that means "learned nothing", whatever the loss does:

* **R^2 never above 0.** R^2 is 1 minus the model's squared error over the error of predicting
  the targets' mean; never above 0, the model never beat the mean (``r2_best``).
* **an AUC at 0.5.** A ranking no better than a coin (``auc_dev``: the largest distance of any
  logged AUC from 0.5).
* **F1 or precision at exactly 0.** Not one positive predicted right (``pos_zero``).
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


def aux_facts(run: Run) -> dict[str, Any]:
    """The ``aux`` group (see the module docstring); empty when no such metric was logged."""
    out: dict[str, Any] = {}
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
