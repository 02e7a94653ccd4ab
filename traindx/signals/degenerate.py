"""Degenerate predictors and objectives a log shows (fact group ``degen``).

Three marks no curve shape carries:

* **one class for every input.** A classifier that answers the majority class for every input
  scores exactly the majority share as accuracy, a recall of exactly 0 on the positive (minority)
  class, and a macro-F1 of exactly ``2a / ((1 + a) K)`` (the majority class's F1 ``2a / (1 + a)``
  at accuracy ``a``, the other ``K - 1`` classes' 0). Read at the same evaluations as the
  accuracy, such a recall or macro-F1 says "predicts one class" whatever the loss does.
* **a loss at zero without a fit.** A loss at 0 (to the printed precision) means the objective
  is met; a metric that stays far from perfect beside it means the objective measures nothing
  the task needs (a loss whose targets it ignores, a term that vanishes for most examples).
  Only a validation loss at 0 is read against an accuracy of any split, a training loss at 0
  only against a training accuracy: a memorising model drives its training loss to 0 while its
  validation accuracy stays short of perfect (overfitting, not a degenerate objective).
* **a loss at the class prior's entropy.** A classifier that learned only the class prior
  answers the majority class (accuracy = its share ``a``) and scores the prior's entropy as its
  cross-entropy: ``H(a) = -a ln a - (1 - a) ln(1 - a)`` exactly for two classes, a little more
  for more. A model that discriminates at the same accuracy is surer of its right answers and
  scores less. ``prior_loss_ratio``: the loss at the evaluations where the accuracy sat at its
  most common value, over ``H`` of that value - near 1 where a frozen accuracy is the prior's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.arrays import median
from traindx.schema import Run, Series
from traindx.signals.auxmetrics import ONE_CLASS_RECALL
from traindx.signals.classavg import class_avg_facts
from traindx.signals.robust import finite

#: A loss at or below this is 0 to the precision logs print (4 decimals).
ZERO_LOSS = 1e-3
#: Macro-F1 of the constant predictor, matched to within this (printed to 3 decimals).
F1_TOL = 2.5e-3
#: The class counts a macro-F1 is matched against.
MAX_K = 20
#: Accuracies a one-class predictor's share is read from: above a coin's, short of perfect.
PRIOR_SHARE = (0.5, 0.995)


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    return finite(s.steps, s.values)


def _of(run: Run, metric: str) -> list[Series]:
    return [
        s
        for s in run.series.values()
        if s.key.metric == metric and s.key.statistic == "value" and len(s)
    ]


def _at(steps: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``values`` at each step of ``at`` (NaN where not logged there)."""
    pos = {int(t): float(v) for t, v in zip(steps, values, strict=True)}
    return np.array([pos.get(int(t), np.nan) for t in at])


def constant_f1(acc: float, k: int) -> float:
    """Macro-F1 of answering the majority class (share ``acc``) for all of ``k`` classes."""
    return 2.0 * acc / ((1.0 + acc) * k)


def binary_entropy(a: float) -> float:
    """Cross-entropy (nats) of predicting the class prior when the majority class holds ``a``."""
    return float(-(a * np.log(a) + (1.0 - a) * np.log1p(-a)))


def prior_loss_ratio(
    run: Run, split: str, steps: np.ndarray, acc: np.ndarray, mode: float
) -> float | None:
    """The median loss of ``split`` at the evaluations where the accuracy sat at ``mode``, over
    the binary entropy of ``mode`` (None: no such loss at three or more of them, or a mode
    outside :data:`PRIOR_SHARE`)."""
    if not PRIOR_SHARE[0] < mode < PRIOR_SHARE[1]:
        return None
    losses = [s for s in _of(run, "loss") if s.key.split == split and s.key.scope == "global"]
    if not losses:
        return None
    at = steps[np.round(acc, 4) == mode]
    lv = _at(*_finite(max(losses, key=len)), at)
    lv = lv[np.isfinite(lv)]
    if lv.size < 3 or np.any(lv < 0.0):
        return None
    return float(median(lv) / binary_entropy(mode))


def _recall_bound(r: np.ndarray, acc: np.ndarray, seen: float | None) -> dict[str, float]:
    """The last finite one-class recall ``r`` (the lowest where several recalls are logged:
    ``seen``), its best (``recall_max``), and ``minority_share_max`` = (1 - a) / (1 - r) at
    that last evaluation: a class the model recalls at ``r`` can hold no more than that share of
    examples when the accuracy is ``a`` (each missed member is an error). A recall far under the
    accuracy bounds the class's share from above, so the accuracy is near the majority share
    ``1 - share``: a recall of 0.13 beside an accuracy of 0.974 holds the class to 3 % of the
    data at most - the model answers the majority class."""
    ok = np.isfinite(r) & np.isfinite(acc)
    if not ok.any():
        return {}
    last, a = float(r[ok][-1]), float(acc[ok][-1])
    if seen is not None and seen <= last:
        return {}
    out = {"recall_last": last, "recall_max": float(np.max(r[ok]))}
    if last < 1.0:
        out["minority_share_max"] = min(1.0, (1.0 - a) / (1.0 - last))
    return out


def one_class_facts(run: Run) -> dict[str, Any]:
    """Shares of the accuracy's evaluations at which a logged recall is exactly 0
    (``recall_zero_frac``) or a logged macro-F1 equals the constant predictor's at that
    accuracy for some class count 2..20 (``f1_const_frac``), with ``acc_mode_frac``: the share
    of evaluations at the accuracy's most common value (a one-class predictor's accuracy is the
    majority share at every evaluation), that value (``acc_mode``) and, where the same split's
    loss was logged at its evaluations, :func:`prior_loss_ratio`. Empty without a (validation,
    else training) accuracy logged at least three times."""
    accs = [s for s in _of(run, "accuracy") if s.key.split == "val"] or _of(run, "accuracy")
    if not accs:
        return {}
    steps, acc = _finite(max(accs, key=len))
    if acc.size < 3:
        return {}
    values, counts = np.unique(np.round(acc, 4), return_counts=True)
    mode = float(values[np.argmax(counts)])
    out: dict[str, Any] = {
        "n_evals": int(acc.size),
        "acc_mode_frac": float(counts.max() / acc.size),
        "acc_mode": mode,
    }
    best = max(accs, key=len)
    ratio = prior_loss_ratio(run, best.key.split, steps, acc, mode)
    if ratio is not None:
        out["prior_loss_ratio"] = ratio
        out["prior_entropy"] = binary_entropy(mode)  # H of that share: the loss a prior-only model scores
    unit = best.unit
    recalls = [s for s in run.series.values()
               if s.key.statistic == "value" and len(s) and ONE_CLASS_RECALL.fullmatch(s.key.metric)]
    for s in recalls:
        if s.unit == unit:
            r = _at(*_finite(s), steps)
            if np.isfinite(r).sum() >= 3:
                out["recall_zero_frac"] = max(
                    out.get("recall_zero_frac", 0.0), float(np.mean(r == 0.0))
                )
                if s.key.split == best.key.split:  # the bound pairs a recall with its own split's accuracy
                    out.update(_recall_bound(r, acc, out.get("recall_last")))
    for s in _of(run, "f1_macro"):
        if s.unit == unit:
            f = _at(*_finite(s), steps)
            ok = np.isfinite(f)
            if ok.sum() >= 3:
                const = np.array(
                    [[constant_f1(a, k) for k in range(2, MAX_K + 1)] for a in acc[ok]]
                )
                hit = np.min(np.abs(const - f[ok, None]), axis=1) <= F1_TOL
                out["f1_const_frac"] = float(np.sum(hit) / acc.size)
    return out


def zero_loss_facts(run: Run) -> dict[str, Any]:
    """``loss_zero``: True for a validation loss (or, beside a training accuracy, a training loss)
    whose last three finite values are all in [0, 1e-3] and an accuracy was logged up to them (one
    that stopped early - a tiny model's adapter telemetry at its first steps - says nothing of what
    the loss at 0 bought); ``loss_zero_acc``: the best such accuracy on a split it may be read
    against (any for a validation loss, training for a training one)."""
    out: dict[str, Any] = {}  # with no loss at 0: loss_zero False, of the last pair read
    for split in ("val", "train"):
        losses = [s for s in _of(run, "loss") if s.key.split == split and s.key.scope == "global"]
        accs = (
            _of(run, "accuracy")
            if split == "val"
            else [s for s in _of(run, "accuracy") if s.key.split == "train"]
        )
        accs = [s for s in accs if np.isfinite(s.values).sum() >= 3]
        if not losses or not accs:
            continue
        ls, lv = _finite(losses[0])
        zero = bool(lv.size >= 3 and np.all((lv[-3:] >= 0.0) & (lv[-3:] <= ZERO_LOSS)))
        if zero:  # only an accuracy logged while the loss sat at 0 says what that loss bought
            covering = [s for s in accs if (st := _finite(s)[0]).size and st[-1] >= ls[-3]]
            zero, accs = bool(covering), covering or accs
        best = max(float(np.max(_finite(s)[1])) for s in accs)
        out = {"loss_zero": zero, "loss_zero_split": split, "loss_zero_acc": best}
        if zero:
            break
    return out


def degenerate_facts(run: Run) -> dict[str, Any]:
    """The ``degen`` group: :func:`one_class_facts`, :func:`zero_loss_facts` and
    :func:`traindx.signals.classavg.class_avg_facts` together."""
    return {**one_class_facts(run), **zero_loss_facts(run), **class_avg_facts(run)}
