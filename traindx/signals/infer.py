"""Task facts a run's logs imply but do not state (fact group ``infer``).

A log carries no class count, no task, no validation-set size; an adapter records them in
the context (``ctx.num_classes``, ``chance.*``). The logs often imply them: a classifier
logs an accuracy, the first training loss of a fresh softmax classifier sits at ln(C) (2.30
for ten classes, 0.69 for two), a validation accuracy moves in steps of 1/n_val. These are
kept in their own group, apart from what the run states, so that a rule can tell "the
adapter recorded 10 classes" (``chance.num_classes``) from "the first loss suggests 10"
(``infer.num_classes``), and weigh the inferred fact less.

Measured on the labelled log-only corpus (benchmarks/labelled.py, true class count and task
from the generated runs' labels): a first per-step loss within 3 % of ln(k) names the class
count (k, or 9-11 for ten classes) for about 80 % of the runs that log an accuracy (a first
epoch mean: about 70 %), and for under a third of those that do not (regressions whose first
MSE is near 1.1 = ln 3): hence the class count is inferred only where a classification metric
was logged. A logged accuracy never marked a regression (an accuracy compiled on a regression
is dropped first: ``_accuracy_meaningless``).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from traindx.metric_direction import is_loss_component
from traindx.ranks import is_rank_scope
from traindx.schema import Series

#: Metrics only a classifier logs (normalized names): accuracy and its variants, F1,
#: precision/recall, ROC AUC.
CLASSIFICATION_METRICS = re.compile(
    r"(\w+_)?accuracy|acc|top_?\d+(_\w+)?|f1(_\w+)?|precision|recall|\w*auc|auroc|balanced_\w+"
)
#: Metrics of a regression (or of a reconstruction: an error on continuous targets).
REGRESSION_METRICS = re.compile(r"mse|rmse|mae|r?msle|mape|r2|huber|smape|explained_variance")
#: Names saying the loss is a binary (sigmoid) cross-entropy.
BINARY_NAMES = re.compile(r"binary|(^|[^a-z])bce|bce($|[^a-z])|sigmoid")

#: The largest class count inferred from a first loss (ln 1000 = 6.9).
MAX_CLASSES = 1000
#: A first loss within this relative distance of ln(k) reads as k classes.
FIRST_LOSS_TOL = 0.03
#: A last loss within this distance (nats) of ln(k), beside an accuracy of :data:`COLLAPSE_ACC`
#: times 1/k, reads as k classes answered by a constant output (ln k and ln(k+1) are 1/k apart:
#: an absolute window, not a relative one, keeps a chance hit rare for large k).
COLLAPSE_LOSS_TOL = 0.025
#: The accuracy (times k) of a constant output over k classes: about the largest class share.
#: Above 1.35/k: a two-class accuracy of 0.5 beside a loss at ln 3 (qa_fresh's contrastive
#: pair task, 1.49/k) is a binary at chance, not three classes.
COLLAPSE_ACC = (0.5, 1.35)


def nearest_ln(x: float | None, max_k: int = MAX_CLASSES) -> tuple[int, float] | None:
    """The integer k >= 2 whose ln(k) is nearest to ``x`` > 0, and |x - ln k| / ln k (a loss
    far under ln 2 gets k = 2 and a distance near 1)."""
    if x is None or not math.isfinite(x) or x <= 0.0 or x > 1.05 * math.log(max_k):
        return None
    cands = {max(2, math.floor(math.exp(x))), max(2, math.ceil(math.exp(x)))}
    k = min(cands, key=lambda c: abs(x - math.log(c)))
    return k, abs(x - math.log(k)) / math.log(k)


def task_from_names(names: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """``(task, evidence)`` from the logged series' names: ``(normalized metric, name as
    logged)``. A classification metric says "classification" (or "binary" where a name says
    a binary cross-entropy); an error metric (mse, mae, r2...) without one says "regression"."""
    cls = next((orig for m, orig in names if CLASSIFICATION_METRICS.fullmatch(m)), None)
    binary = next((orig for m, orig in names if BINARY_NAMES.search(orig.lower())), None)
    if cls is not None:
        return ("binary", binary) if binary is not None else ("classification", cls)
    reg = next((orig for m, orig in names if REGRESSION_METRICS.fullmatch(m)), None)
    if reg is not None:
        return "regression", reg
    if binary is not None:
        return "binary", binary
    return None, None


def count_quantum(quantum: float | None, max_n: int = 100_000) -> int | None:
    """The number of examples n an accuracy is a share of, from its quantum 1/n (the least
    step between its values, ``curve_facts``' ``quantum``): None when it is not ~1/n."""
    if not quantum or quantum <= 0 or not math.isfinite(quantum):
        return None
    n = 1.0 / quantum
    if n > max_n or n < 2 or abs(n - round(n)) > 0.02 * n:
        return None
    return int(round(n))


def chance_contradicted(
    c: int, loss: dict[str, Any], val_loss: dict[str, Any] | None, val_acc: dict[str, Any] | None
) -> bool:
    """A first loss at ln(c) reads as c classes only if the outputs were near uniform then.
    Huge logits (unscaled inputs, a bad init) say otherwise: a first loss at ln(c) for c of 50
    or more (3.9 nats; at c 20-30 randomized healthy curves of tests/synthetic.py held, a real
    20-class run starts there), a first evaluation whose validation loss is still at 0.8 ln(c) or more
    beside an accuracy of 0.5 or more (a near-uniform output over c classes scores 1/c), and a
    loss that later falls under 0.3 ln(c) - the level of a few classes, not of c. A first loss
    of 6.13 from raw inputs in the thousands on a binary task reads as 461 classes while the
    same epoch scores 0.605 and the loss ends near 0.7. On the labelled corpus, every input
    kind, the looser test without the class-count and later-fall parts held on 34 healthy
    10-class runs (validation loss near 2.0 at an accuracy of 0.6 after the first epoch) and on
    10 softmax_wrong_axis runs (a loss at ln(batch) that stays there)."""
    if not val_loss or not val_acc or c < 50:
        return False
    vl, va = val_loss.get("first_raw", val_loss.get("first")), val_acc.get("first")
    lows = [x for x in (val_loss.get("min"), loss.get("min")) if x is not None and math.isfinite(x)]
    if vl is None or va is None or not lows or not (math.isfinite(vl) and math.isfinite(va)):
        return False
    ln_c = math.log(c)
    return bool(vl >= 0.8 * ln_c and va >= 0.5 and min(lows) < 0.3 * ln_c)


def collapse_classes(
    loss: dict[str, Any] | None, val_loss: dict[str, Any] | None, acc: dict[str, Any] | None
) -> tuple[int, float, float, bool] | None:
    """``(k, err, acc_k, collapsed)`` for the last loss (validation first: no dropout, fixed
    examples): the k >= 3 whose ln(k) is nearest to it, the relative distance, the last
    accuracy times k, and whether the two agree on a constant output over k classes - the loss
    within 0.025 nats of ln(k) (the cross-entropy of the uniform guess) and the accuracy 0.5-1.35 times
    1/k (about one class's share, what any constant answer scores). A run whose first loss was
    not at ln(k) (dropout 0.95 raising it to 4.8, an LR spike) reveals its class count here once
    it collapses. Two classes are left to the class-prior facts (``degen``): ln 2 beside an
    accuracy of 0.5 is common in a fitted but under-confident binary run. None without a last
    accuracy or loss."""
    a = acc.get("last") if acc else None
    if a is None or not math.isfinite(a):
        return None
    for group in (val_loss, loss):
        x = group.get("last") if group else None
        if x is None or not math.isfinite(x) or x <= 0.0 or x > 1.05 * math.log(MAX_CLASSES):
            continue
        cands = {max(3, math.floor(math.exp(x))), max(3, math.ceil(math.exp(x)))}
        k = min(cands, key=lambda c: abs(x - math.log(c)))
        err = abs(x - math.log(k)) / math.log(k)
        near = abs(x - math.log(k)) <= COLLAPSE_LOSS_TOL
        return k, err, a * k, bool(near and COLLAPSE_ACC[0] <= a * k <= COLLAPSE_ACC[1])
    return None


def infer_facts(
    names: list[tuple[str, str]],
    loss: dict[str, Any] | None,
    val_loss: dict[str, Any] | None,
    acc: dict[str, Any] | None,
    val_acc: dict[str, Any] | None,
    parts: list[str] | None = None,
) -> dict[str, Any]:
    """The ``infer`` group: task, class count, validation-set size and the chance levels of
    the inferred class count, each with the evidence it came from. ``names``: the logged
    global series as (normalized metric, name as logged); the others: curve facts of the
    training/validation loss and accuracy (None when not logged, or when the accuracy is
    meaningless for the run); ``parts``: the training loss's components logged beside it
    (``loss_parts``): where there are any, the loss is a sum and no class count is read from
    it (a classification head's cross-entropy plus a regression head's MSE of 0.5 reads as
    38 classes)."""
    out: dict[str, Any] = {}
    task, task_from = task_from_names(names)
    if task is None and (acc or val_acc):
        task, task_from = "classification", "accuracy"
    if task is not None:
        out["task"] = task
        out["task_from"] = task_from
    acc_g = val_acc or acc
    if val_acc:  # a training accuracy is a mean over batches, not one count's share
        n = count_quantum(val_acc.get("quantum"))
        if n is not None:
            out["n_val"] = float(n)
    if task not in ("classification", "binary") or not loss:
        return out

    first = loss.get("first_raw")
    early = loss.get("unit") == "step" and loss.get("first_step", 1) <= 1
    if parts:  # a sum of terms: no level of it is a chance level (not even ln 2)
        out["loss_parts"] = float(len(parts))
        return out
    near = nearest_ln(first)
    c: int | None = None
    if task == "binary":
        c, source = 2, "loss name"
    elif near is not None and near[1] <= FIRST_LOSS_TOL:
        c, source = near[0], "first loss" if early else "first epoch loss"
        out["num_classes_err"] = near[1]
    # a collapse to the uniform guess names k by two agreeing marks (loss and accuracy); it
    # outranks a first loss near ln(k'), which any first loss above ~2 nats is for some k'
    hit = collapse_classes(loss, val_loss, acc_g) if task == "classification" else None
    if hit is not None:
        out.update(collapse_k=float(hit[0]), collapse_err=hit[1], collapse_acc_k=hit[2], collapsed=hit[3])
    if hit is not None and hit[3]:
        if hit[0] != c:
            c, source = hit[0], "last loss at ln(k) beside accuracy 1/k"
            out["num_classes_err"] = hit[1]
    if c is not None and task != "binary":  # the accuracy beside it may say: huge logits, not c classes
        out["chance_contradicted"] = chance_contradicted(c, loss, val_loss, val_acc)
        c = None if out["chance_contradicted"] else c
    if near is not None:  # how far the first loss is from any chance level, either way
        out["loss_first_lnk"] = float(near[0])
        out["loss_first_lnk_err"] = near[1]
    out["loss_first_early"] = bool(early)
    last = nearest_ln(loss.get("last"))
    if last is not None:  # a plateau at ln(k) (a stuck classifier's epoch means)
        out["loss_last_lnk"] = float(last[0])
        out["loss_last_lnk_err"] = last[1]
    if c is None:
        return out
    ln_c = math.log(c)
    out["num_classes"] = float(c)  # a float, as chance.num_classes: CEL mixes no int and double
    out["num_classes_from"] = source
    out["ln_c"] = ln_c
    if first is not None and math.isfinite(first):
        out["loss_first_ratio"] = first / ln_c
    for key, group, name in (
        ("loss_last_ratio", loss, "last"),
        ("loss_min_ratio", loss, "min"),
        ("val_loss_last_ratio", val_loss, "last"),
        ("val_loss_min_ratio", val_loss, "min"),
    ):
        v = group.get(name) if group else None
        if v is not None and np.isfinite(v):
            out[key] = float(v) / ln_c
    if acc_g:
        for key, name in (("acc_last_over_chance", "last"), ("acc_max_over_chance", "max")):
            v = acc_g.get(name)
            if v is not None and np.isfinite(v):
                out[key] = float(v) * c
    return out


#: A split word opening a name (``train_cls`` -> ``cls``; ``vl_loss`` names no part).
_SPLIT_WORD = re.compile(r"^(train(ing)?|tr|val(id(ation)?)?|vl|test|eval|dev)_")


#: A loss per step or iteration (``loss/train_step``): the loss itself, at another cadence.
_PER = re.compile(r"(step|steps|iter|iteration|it|global_step)")


def loss_parts(series: list[Series]) -> list[str]:
    """Names (as logged) of the training-loss components logged beside the total loss: a
    ``loss`` series with a scope (tensorboard's ``loss/train_cls`` beside ``loss/train``) or
    a component name (``metric_direction.is_loss_component``: Keras' ``price_loss`` beside
    ``loss``, ``cls_loss``, ``loss_a``; not ``running_loss`` or ``loss_scale``). A total that is the sum of several terms does not sit
    at ln(C) when fresh, so no class count is read from it."""
    if not any(s.key.metric == "loss" and s.key.scope == "global" and s.key.split == "train" for s in series):
        return []
    return [s.original_name or s.key.metric for s in series if s.key.split == "train" and _is_part(s.key)]


def _is_part(key: Any) -> bool:
    """A loss component's key: ``loss@<split>_<name>`` or ``<name>_loss``, where the name is
    no statistic of the loss (``loss/train_avg``, ``Loss/train_epoch``, ``running_loss``)
    and no split word (``vl_loss``)."""
    if key.metric == "loss" and key.scope != "global" and not is_rank_scope(key.scope):
        name = _SPLIT_WORD.sub("", key.scope.lower())
        if not name or _SPLIT_WORD.fullmatch(f"{name}_") or _PER.fullmatch(name):
            return False
        return is_loss_component(f"{name}_loss")
    if key.scope == "global" and is_loss_component(key.metric):
        return not _SPLIT_WORD.match(key.metric)
    return False


def series_names(series: list[Series]) -> list[tuple[str, str]]:
    """(normalized metric, name as logged) of each global series."""
    return [(s.key.metric, s.original_name or s.key.metric) for s in series if s.key.scope == "global"]


#: Names only a framework's own training loop writes: Keras' TensorBoard callback
#: (``evaluation_loss_vs_iterations``, ``epoch_learning_rate``) and the HF Trainer's closing
#: summary (``train_runtime``, ``eval_samples_per_second``). A loop the framework runs resets
#: the gradients itself (issue 10: a Keras fit's multi-label run read grad_not_zeroed 58 %).
FIT_LOOP_NAMES = re.compile(
    r"(?:.*/)?(?:evaluation_\w+_vs_iterations|epoch_learning_rate|(?:train|eval)_(?:runtime|samples_per_second|steps_per_second))"
)


def framework_loop(series: list[Series]) -> bool:
    """True when a series name shows the framework ran the training loop (its fit/Trainer)."""
    return any(FIT_LOOP_NAMES.fullmatch(s.original_name or "") for s in series)
