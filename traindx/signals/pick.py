"""Which logged series a fact group reads: the training/validation loss (or the error metric
standing in for it), the quality metric a split is judged on, and the run's planned length."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from traindx.names import quality_rank
from traindx.schema import Run, Series

#: Error metrics that stand in for the loss of a split that logged none (a script printing
#: ``train_mse``/``val_mse`` of a regression, or ``nll`` of a classifier): first match wins. A
#: negative log-likelihood is the objective itself, so it comes before the error metrics a
#: likelihood model logs beside it (qa_fresh44's Poisson counts: ``val_poisson_nll`` and ``val_mae``)
LOSS_STANDINS: tuple[str, ...] = ("nll", "mse", "rmse", "mae", "msle", "rmsle", "huber", "log_loss", "cross_entropy")


#: Evaluations of a held-out split logged during training, at least, for a run that logged no
#: validation split to read its "test" split in its place (:func:`held_out`).
HELD_OUT_MIN_POINTS = 5


def held_out(run: Run, split: str) -> str:
    """The split a fact group asks for, except that "val" reads "test" where the run logged no
    validation series at all and evaluated a test split during training (some series of it
    with HELD_OUT_MIN_POINTS or more points): a script that evaluates its held-out "test" set
    every epoch (qa_begin42's 40-image digits run: train 1.0 / test 0.77) logs what a
    validation split is, under another name."""
    if split != "val" or any(s.key.split == "val" for s in run.series.values()):
        return split
    tested = any(s.key.split == "test" and s.key.scope == "global" and len(s) >= HELD_OUT_MIN_POINTS
                 for s in run.series.values())  # fmt: skip
    return "test" if tested else split


#: Scopes that name the axis a series was logged on (TensorBoard ``Loss/Train-Epoch``,
#: ``Loss/Train-Step``: ``train/loss@epoch``), not a part of the model or the data.
AXIS_SCOPES = frozenset({"epoch", "epochs", "step", "steps", "batch", "iter", "iteration"})


def _scoped(run: Run, split: str, want: Callable[[Series], bool]) -> list[Series]:
    """The global series of a split that ``want`` accepts; where there is none, those logged
    under an axis scope (``@epoch``, ``@step``): a run whose only loss is ``Loss/Train-Epoch``
    has that loss, while an epoch mean beside a step loss never replaces it."""
    found = [s for s in run.series.values() if s.key.split == split and want(s)]
    glob = [s for s in found if s.key.scope == "global"]
    return glob or [s for s in found if s.key.scope in AXIS_SCOPES]


#: The kind of loss each stand-in is: a negative log-likelihood and a cross-entropy are one kind
#: (the likelihood a classifier or a density model minimizes); each regression error its own.
STANDIN_KIND = {"nll": "likelihood", "cross_entropy": "likelihood", "log_loss": "likelihood",
                "mse": "mse", "rmse": "rmse", "mae": "mae", "msle": "msle", "rmsle": "rmsle", "huber": "huber"}  # fmt: skip
#: The kind a loss the adapter recorded is, by its name (torch class, Keras string, optax function).
_NAMED_KINDS = ((re.compile(r"huber|smooth_?l1"), "huber"), (re.compile(r"rmsle|root_mean_squared_log"), "rmsle"),
                (re.compile(r"msle|squared_?log"), "msle"),
                (re.compile(r"mse|squared|l2_?loss"), "mse"), (re.compile(r"l1|mae|absolute"), "mae"),
                (re.compile(r"entropy|nll|bce|xent|log_?loss|logistic|likelihood"), "likelihood"))  # fmt: skip


def loss_kind(run: Run) -> str | None:
    """The kind of the training loss (:data:`STANDIN_KIND`'s values) where the run says it: a
    stand-in logged as the training loss (``train_mse``), the loss an adapter recorded, a
    classification (the task, or an accuracy logged beside the loss: a classifier's loss is a
    likelihood); None for a plain ``loss`` that nothing names."""
    t = pick(run, "loss", "train")
    if t is not None and t.key.metric in STANDIN_KIND:
        return STANDIN_KIND[t.key.metric]
    c = run.context
    kind = next((k for rx, k in _NAMED_KINDS if rx.search((c.loss.name or "").lower())), None)
    if kind is not None:
        return kind
    if c.flags.get("loss_task") in ("classification", "binary", "multilabel") or c.data.task == "classification":
        return "likelihood"
    acc = [s.values[np.isfinite(s.values)] for s in run.series.values() if s.key.metric == "accuracy"]
    return "likelihood" if any(a.size and a.max() > 0.05 for a in acc) else None  # not a regression's ~0 "accuracy"


def pick(run: Run, metric: str, split: str) -> Series | None:
    """The global series of a metric on a split; the densest one when several were logged.
    A split without a loss reads its first error metric of :data:`LOSS_STANDINS` as the loss
    (a held-out split only one of the training loss's kind, :func:`loss_kind`, where the run
    says it: a classifier's cross-entropy beside a validation MAE gives no validation loss);
    "val" reads a test split evaluated during training where no validation was logged
    (:func:`held_out`)."""
    split = held_out(run, split)
    cands = _scoped(run, split, lambda s: s.key.metric == metric)
    if not cands and metric == "loss":
        kind = loss_kind(run) if split != "train" else None
        for standin in LOSS_STANDINS:
            if kind in (None, STANDIN_KIND[standin]) and (s := pick(run, standin, split)) is not None:
                return s
    if not cands:
        return None
    # The plain value (an epoch mean where both were logged) unless it is too short to have
    # a shape; per-step series are noisier and, in Keras, running means that reset each epoch.
    plain = [s for s in cands if s.key.statistic == "value" and len(s) >= 8]
    return max(plain or cands, key=len)


#: Error metrics in the target's units (not squared, not nats): a validation RMSE or MAE
#: standing in for the loss is no measure of the gap to a training loss of another kind.
TARGET_UNIT_ERRORS = frozenset({"rmse", "mae"})


def like_with_like(train: Series, val: Series) -> bool:
    """The training and validation losses are of one kind and scale (a validation RMSE in the
    target's units is not compared with a training MSE)."""
    a, b = train.key.metric, val.key.metric
    return a == b or not ({a, b} & TARGET_UNIT_ERRORS)


def pick_quality(run: Run, split: str) -> Series | None:
    """The quality metric (higher is better) a split is judged on: the most preferred name
    of :data:`traindx.names.QUALITY_PREFERENCE` (mAP50-95 before mAP50 before F1 before
    accuracy ...), global scope and plain values; more points break ties. "val" may read a
    test split (:func:`held_out`)."""
    split = held_out(run, split)
    found = _scoped(run, split, lambda s: s.key.statistic == "value" and quality_rank(s.key.metric) is not None and len(s) > 0)
    cands = [(rank, -len(s), s) for s in found if (rank := quality_rank(s.key.metric)) is not None]
    return min(cands, key=lambda c: (c[0], c[1]))[2] if cands else None


def planned_length(run: Run, unit: str) -> int | None:
    """The run's planned last step (``unit="step"``, HF ``max_steps``) or epoch count
    (``unit="epoch"``), when the run states it."""
    c = run.context
    if unit == "step":
        return c.max_steps or (c.epochs * c.steps_per_epoch if c.epochs and c.steps_per_epoch else None)
    return c.epochs


def plan_share(run: Run, s: Series) -> float | None:
    """The share of the run's planned length (:func:`planned_length`) the series covers: its
    last step + 1 over the planned steps, or its finite points over the planned epochs for a
    per-epoch series. Below 1, something other than the plan ended the run (early stopping,
    a fault, a break); None when the run states no plan."""
    planned = planned_length(run, s.unit)
    finite = np.isfinite(s.values)
    if not planned or planned <= 0 or not finite.any():
        return None
    done = float(finite.sum()) if s.unit == "epoch" else float(s.steps[finite][-1]) + 1.0
    return round(done / float(planned), 4)
