"""A class-averaged metric against the plain accuracy (facts ``degen.avg_*``).

Plain accuracy weighs every example alike, so on imbalanced data it is dominated by the
majority class: a model that answers the majority class for most minority examples still
scores about the majority share. A class-averaged metric (balanced accuracy - the mean of the
per-class recalls -, macro recall, macro-F1) weighs every class alike: the same model scores
about 1/K there. Both logged at the same evaluations, their disagreement says where the errors
are: ``avg_err_ratio = (1 - m) / (1 - a)``, the class-averaged error over the plain error, is
about 1 when the errors spread over the classes in proportion to their size (a balanced task, or
a model that treats every class alike) and grows far above 1 when they concentrate in the small
classes (0.727 balanced accuracy beside 0.978 accuracy: 12x - the minority classes are mostly
missed). ``avg_gap = a - m`` keeps a tiny plain error from making a small gap look large.

A one-class F1 (``val_f1``: sklearn's ``average='binary'``, the positive class's F1) beside the
accuracy of a two-class task fixes the whole confusion matrix but the split of the errors: with
``E = 1 - a`` the error share, ``F1 = 2TP / (2TP + E)`` gives ``TP = F1 E / (2 (1 - F1))``, the
true negatives ``TN = a - TP`` and the other class's F1 ``2TN / (2TN + E)``; their mean is the
macro-F1, read like a logged one. A 0.361 F1 beside an accuracy of 0.969 (4 % positives) is a
macro-F1 of 0.673 - ten times the plain error. Where the bare ``f1`` is really a macro or
weighted F1 of a many-class task the conversion reads it leniently (an F1 near the accuracy
gives a macro-F1 near it too), never more harshly than the logged value itself.

The accuracy is read on the metric's own split; a training class-averaged metric is read
against the validation accuracy only when neither split logs both (a training metric is usually
the better of the two, so a gap read that way is understated, not inflated).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from traindx.schema import Run, Series
from traindx.signals.auxmetrics import ONE_CLASS
from traindx.signals.robust import finite

#: Canonical names of class-averaged metrics (not micro- or sample-averaged ones: a micro
#: average over single-label classes is the plain accuracy). The readers expand a trailing
#: ``acc`` to ``accuracy``: ``val_bal_acc`` is ``bal_accuracy`` (qa_wild47's tickets run, 0.47
#: beside 0.95 accuracy, went unread); a macro-averaged accuracy (torchmetrics' ``average=
#: 'macro'``) is the mean per-class recall; ``macro_avg_*`` is sklearn's report row.
CLASS_AVG = re.compile(
    r"bal(anced)?_acc(uracy)?|f1_macro|macro_(avg_)?f1|recall_macro|macro_(avg_)?recall|macro_acc(uracy)?"
    r"|(mean|avg|average)_(per_)?class_acc(uracy)?|class_(avg|mean)_acc(uracy)?"
)
#: F1 of one class (bare or qualified, not averaged over the classes: signals/auxmetrics.py).
ONE_CLASS_F1 = re.compile(ONE_CLASS.format("f1|f1_score"))
#: Fewest evaluations at which both must be logged.
MIN_COMMON = 3
#: The plain error is floored here (one error in a thousand) in the ratio.
ERR_FLOOR = 1e-3


def _global(run: Run, split: str, match: Any) -> list[Series]:
    return [
        s for s in run.series.values()
        if s.key.split == split and s.key.statistic == "value" and s.key.scope == "global"
        and match(s.key.metric) and np.isfinite(np.asarray(s.values, float)).sum() >= MIN_COMMON
    ]


def binary_macro_f1(a: float, f1: float) -> float | None:
    """The macro-F1 of a two-class task whose accuracy is ``a`` and one class's F1 ``f1``
    (module docstring); None where the two cannot come from one confusion matrix."""
    e = 1.0 - a
    if not (0.0 <= f1 < 1.0 and 0.0 <= e <= 1.0):
        return None
    tp = f1 * e / (2.0 * (1.0 - f1))
    tn = a - tp
    if tn < 0.0:
        return None
    other = 2.0 * tn / (2.0 * tn + e) if tn + e > 0.0 else 0.0
    return (f1 + other) / 2.0


def _pair(acc: Series, avg: Series, one_class: bool = False) -> tuple[float, float] | None:
    """The last evaluation at which both were logged (finite), if they share three or more
    (``one_class``: ``avg`` is one class's F1, turned into the macro-F1 by
    :func:`binary_macro_f1`)."""
    sa, va = finite(acc.steps, acc.values)
    sm, vm = finite(avg.steps, avg.values)
    if acc.unit != avg.unit:
        return None
    common, ia, im = np.intersect1d(sa, sm, return_indices=True)
    if common.size < MIN_COMMON:
        return None
    a, m = float(va[ia[-1]]), float(vm[im[-1]])
    if not (0.0 <= a <= 1.0 and 0.0 <= m <= 1.0):
        return None  # a percentage or a hand-written metric out of range: not compared
    if one_class:
        mf = binary_macro_f1(a, m)
        return None if mf is None else (a, mf)
    return a, m


def class_avg_facts(run: Run) -> dict[str, Any]:
    """``avg_last`` (the class-averaged metric), ``avg_acc`` (the plain accuracy at the same
    evaluation), ``avg_gap`` and ``avg_err_ratio`` (module docstring); empty when no
    class-averaged metric was logged beside an accuracy at three or more evaluations. Where
    several pairs exist, the one with the largest gap (validation pairs first)."""
    # each split against itself, then a training metric against the validation accuracy
    pairs = [("val", "val"), ("train", "train"), ("test", "test"), ("val", "train")]
    found: list[tuple[float, float]] = []
    for acc_split, avg_split in pairs:
        for acc in _global(run, acc_split, lambda m: m == "accuracy"):
            for avg in _global(run, avg_split, CLASS_AVG.fullmatch):
                if (p := _pair(acc, avg)) is not None:
                    found.append(p)
            for avg in _global(run, avg_split, ONE_CLASS_F1.fullmatch):
                if (p := _pair(acc, avg, one_class=True)) is not None:
                    found.append(p)
        if found:
            break
    if not found:
        return {}
    a, m = max(found, key=lambda p: p[0] - p[1])
    return {
        "avg_last": m,
        "avg_acc": a,
        "avg_gap": a - m,
        "avg_err_ratio": float(min((1.0 - m) / max(1.0 - a, ERR_FLOOR), 1e3)),
    }
