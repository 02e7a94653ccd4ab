"""Signals: turn a :class:`~traindx.schema.Run` into facts the rulebook reads.

Facts are grouped into namespaces that rule conditions name (``loss.rise``,
``val_loss.drop``, ``gap.val_rise``, ``lr.zero_progress``, ``ctx.num_classes``...). A group
is present only when the series behind it was logged, and a fact only when it could be
computed, so a rule over a missing fact is reported "not evaluated: needs X", never passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.arrays import unique
from traindx.schema import Run, Series
from traindx.signals.auxmetrics import aux_facts
from traindx.signals.compare import (
    acc_gap_facts,
    below_chance_log10p,
    ce_accuracy_bound,
    chance_facts,
    double_softmax_floor,
    fitted_binary,
    gap_facts,
    loss_when_scored,
    lr_facts,
    lr_response,
    quality_after_val_min,
    trivial_facts,
)
from traindx.signals.context import context_facts, max_steps_epochs, num_classes
from traindx.signals.curve import curve_facts, quality_floor
from traindx.signals.degenerate import degenerate_facts
from traindx.signals.endgain import eval_end_gain, step_loss_end_gain
from traindx.signals.growth import step_power
from traindx.signals.infer import (
    CLASSIFICATION_METRICS,
    framework_loop,
    infer_facts,
    loss_parts,
    series_names,
)
from traindx.signals.layers import layer_facts
from traindx.signals.lronset import lr_at_onset
from traindx.signals.overshoot import overshoot_marks
from traindx.signals.pick import (
    LOSS_STANDINS,
    TARGET_UNIT_ERRORS,
    like_with_like,
    pick,
    pick_quality,
    plan_share,
    planned_length,
)
from traindx.signals.ranks import rank_facts
from traindx.signals.testgap import val_test_quality_gap

__all__ = [
    "CURVE_GROUPS",
    "JUDGED_GROUPS",
    "LOSS_STANDINS",
    "TARGET_UNIT_ERRORS",
    "Facts",
    "compute_facts",
    "context_facts",
    "max_steps_epochs",
    "num_classes",
    "pick",
    "pick_quality",
    "planned_length",
]

Facts = dict[str, dict[str, Any]]

#: Fact groups and the series each is computed from: (metric, split).
CURVE_GROUPS: dict[str, tuple[str, str]] = {
    "loss": ("loss", "train"),
    "val_loss": ("loss", "val"),
    "acc": ("accuracy", "train"),
    "val_acc": ("accuracy", "val"),
    "grad": ("grad_norm", "train"),
    "weight": ("weight_norm", "train"),
    "update": ("update_ratio", "train"),
}


def _before(s: Series, step: int | None) -> Series:
    """The part of a series logged before ``step`` (what the run did before it broke)."""
    if step is None or not len(s) or s.steps[-1] < step:
        return s
    keep = s.steps < step
    if keep.sum() < 3:
        return s
    return s.model_copy(update={"steps": s.steps[keep], "values": s.values[keep]})


def _after_break_only(s: Series | None, broke_at: int | None) -> bool:
    """Fewer than 3 of the series' points precede the first non-finite training loss: what
    it shows (accuracy of NaN weights, a single class) is an after-effect, not evidence."""
    return s is not None and broke_at is not None and len(s) > 0 and int(np.sum(s.steps < broke_at)) < 3


def _accuracy_meaningless(run: Run) -> bool:
    """Accuracy compiled on a regression (Keras ``metrics=['accuracy']`` with continuous
    targets) measures nothing: the adapter says the task is regression with non-integer
    targets, or every logged accuracy value is under 1 % while the training loss fell by more
    than half (a cross-entropy that halves puts the true class on top for many examples; an
    accuracy that stays ~0 then compares floats to targets that are not class ids)."""
    c = run.context
    if c.data.task == "regression" and not c.flags.get("target_integer"):
        return True
    vals = [s.values for split in ("train", "val") if (s := pick(run, "accuracy", split)) is not None]
    acc = np.concatenate([v[np.isfinite(v)] for v in vals]) if vals else np.array([])
    loss = pick(run, "loss", "train")
    lv = loss.values[np.isfinite(loss.values)] if loss is not None else np.array([])
    if acc.size < 3 or lv.size < 3 or lv[0] <= 0 or np.max(acc) >= 0.01:
        return False
    return bool((lv[0] - np.min(lv)) / lv[0] > 0.5)


def _loss_per_error(loss: dict | None, acc: dict | None) -> float | None:
    """The training loss over the training error rate: nats per misclassified example if the
    correct ones cost ~0. A fresh or frozen classifier scores ~ln(C) per example (2.3 for ten
    classes); well above that, the wrong answers are given with saturated (one-hot) confidence."""
    if not loss or not acc:
        return None
    lv, av = loss.get("last"), acc.get("last")
    if lv is None or av is None or not (np.isfinite(lv) and np.isfinite(av)) or lv <= 0 or not 0.0 <= av < 1.0:
        return None
    return float(lv / max(1.0 - av, 1e-3))


def _softmax2_floor(facts: Facts, inferred: dict[str, Any]) -> dict[str, float]:
    """The training loss (last, least) over the double softmax's floor for the class count the
    run states, else the one the logs imply (a first loss near ln k within 10 %)."""
    k = (facts.get("chance") or {}).get("num_classes") or inferred.get("num_classes")
    if not k and inferred.get("loss_first_lnk_err", 1.0) <= 0.1:
        k = inferred.get("loss_first_lnk")
    lf = facts.get("loss") or {}
    floor = double_softmax_floor(int(k)) if k else None
    if k is None or not floor or lf.get("last") is None or lf.get("min_raw") is None:
        return {}
    return {"softmax2_k": float(k), "softmax2_last_ratio": lf["last"] / floor, "softmax2_min_ratio": lf["min_raw"] / floor}


def compute_facts(run: Run) -> Facts:
    facts: Facts = {}
    chosen: dict[str, Series] = {}
    # Once the training loss is non-finite, everything logged after it (accuracy collapsing
    # to one class, NaN validation) is an after-effect, not evidence of the cause: shape
    # facts use the run up to the first non-finite loss; the non-finite facts use all of it.
    loss = pick(run, "loss", "train")
    broke_at = None
    if loss is not None and len(loss) and not np.all(np.isfinite(loss.values)):
        broke_at = int(loss.steps[np.argmax(~np.isfinite(loss.values))])
    no_acc = _accuracy_meaningless(run)
    for group, (metric, split) in CURVE_GROUPS.items():
        s = pick(run, metric, split)
        if metric == "accuracy" and (no_acc or _after_break_only(s, broke_at)):
            continue
        if s is not None and len(s):
            chosen[group] = s
            fl = quality_floor(s.values) if metric == "accuracy" else None
            f = curve_facts(s.steps, s.values, fl, run.context.steps_per_epoch if s.unit == "step" else None)
            if broke_at is not None and s.key.metric != "loss":
                shape = curve_facts(*(lambda t: (t.steps, t.values))(_before(s, broke_at)), fl)
                f.update({k: v for k, v in shape.items() if not k.startswith(("n_nonfinite", "has_", "nonfinite", "ends_"))})
            if group == "grad":  # a sum of every gradient so far grows as a power of the step count
                f.update(step_power(*(lambda t: (t.steps, t.values))(_before(s, broke_at))))
            facts[group] = f
            facts[group]["unit"] = s.unit
            # the name it was logged as: a loss named for a likelihood may be negative
            facts[group]["name"] = s.original_name or s.key.metric

    for group, split in (("quality", "train"), ("val_quality", "val")):
        q = pick_quality(run, split)
        if q is not None and ((no_acc and q.key.metric == "accuracy") or _after_break_only(q, broke_at)):
            q = None
        if q is not None:
            chosen[group] = q
            # like accuracy's, its shape is read up to the first non-finite training loss
            fl = quality_floor(q.values)  # a bounded metric: its relative facts against its full scale
            f = curve_facts(q.steps, q.values, fl)
            if broke_at is not None:
                f.update(curve_facts(*(lambda t: (t.steps, t.values))(_before(q, broke_at)), fl))
            facts[group] = {**f, "unit": q.unit, "name": q.original_name or q.key.metric}

    lr = pick(run, "lr", "train")
    if lr is not None and len(lr):
        facts["lr"] = lr_facts(lr.steps, lr.values, planned=planned_length(run, lr.unit))
        ls = chosen.get("loss") or chosen.get("val_loss")
        if ls is not None and ls.unit == lr.unit:  # the loss against the LR's moves
            facts["lr"].update(lr_response(lr.steps, lr.values, ls.steps, ls.values))
        if "loss" in chosen and chosen["loss"].unit == lr.unit:  # the LR the loss blew up at
            facts["lr"].update(lr_at_onset(lr.steps, lr.values, facts["loss"].get("explode_step", -1)))

    if "loss" in chosen and "val_loss" in chosen and like_with_like(chosen["loss"], chosen["val_loss"]):
        # the gap, too, is read up to the first non-finite training loss
        def cut(x: Series) -> Series:  # only series on the training loss's step axis
            return _before(x, broke_at) if x.unit == chosen["loss"].unit else x

        t, v = cut(chosen["loss"]), cut(chosen["val_loss"])
        g = gap_facts(t.steps, t.values, v.steps, v.values, same_axis=t.unit == v.unit)
        if "acc" in chosen and "val_acc" in chosen:
            g.update(acc_gap_facts(cut(chosen["acc"]).values, cut(chosen["val_acc"]).values))
        if g and "val_quality" in chosen:
            g.update(quality_after_val_min(v.steps, v.values, chosen["val_quality"].steps, chosen["val_quality"].values))
        if g:
            facts["gap"] = g

    # still improving at the end by more than the run's own noise (few evaluations)
    for group in ("loss", "val_loss"):
        if group in chosen:
            s = chosen[group]
            eg = (step_loss_end_gain(s.steps, s.values, run.context.steps_per_epoch)
                  if group == "loss" and s.unit == "step" else eval_end_gain(s.values))  # fmt: skip
            facts[group].update(eg)

    per_error = _loss_per_error(facts.get("loss"), facts.get("acc"))
    if per_error is not None:
        facts["loss"]["per_error"] = per_error
    if "loss" in facts:  # the marks an LR too large leaves (or their absence: loss.calm)
        facts["loss"].update(overshoot_marks(facts["loss"]))

    test: dict[str, float] = {}  # test metrics are often logged once, at the end
    for name, metric in (("acc", "accuracy"), ("loss", "loss")):
        s = pick(run, metric, "test")
        finite = s.values[np.isfinite(s.values)] if s is not None else np.array([])
        if finite.size:
            test[f"{name}_last"] = float(finite[-1])
    test.update(val_test_quality_gap(run))
    if test:
        facts["test"] = test

    # accuracy against the least the logged cross-entropy allows, per split
    bound: dict[str, float] = {}
    for loss_g, acc_g in (("loss", "acc"), ("val_loss", "val_acc")):
        if loss_g in facts and acc_g in facts:
            ls, acs = chosen[loss_g], chosen[acc_g]
            at = loss_when_scored(ls.steps, ls.values, acs.steps, ls.unit == acs.unit)
            b = ce_accuracy_bound(facts[loss_g].get("last") if at is None else at, facts[acc_g].get("last"))
            if b:
                bound[f"{acc_g}_below"] = b["acc_below_ce_bound"]
                # only where the two end together: a loss median over a long window after an
                # early accuracy (an adapter's telemetry steps) is the loss of a fall, not a level
                if "acc_over_p_true" in b and at is None:
                    bound[f"{acc_g}_over_p_true"] = b["acc_over_p_true"]
    if bound:
        bound["below"] = max(v for k, v in bound.items() if k.endswith("_below"))
        # the training split's when logged: a validation loss that overfits (confident wrong
        # answers) sits high beside a good accuracy without any squashing
        over = bound.get("acc_over_p_true", bound.get("val_acc_over_p_true"))
        if over is not None:
            bound["over_p_true"] = over
        facts["ce_bound"] = bound

    ctx = context_facts(run)
    facts["ctx"] = ctx
    c = ctx.get("num_classes")
    if c and c > 1:
        lf = facts.get("loss", {})
        acc_group = facts.get("val_acc") or facts.get("acc") or {}
        first = lf.get("first_raw") if lf.get("unit") == "step" and lf.get("first_step", 1) <= 1 else None
        facts["chance"] = chance_facts(
            int(c), first, lf.get("last"), acc_group.get("last"), ctx.get("majority_share"), ctx.get("batch_size")
        )
        va = facts.get("val_acc") or {}
        facts["chance"]["fitted_binary"] = fitted_binary(
            int(c),
            va.get("last"),
            va.get("first"),
            va.get("n_finite"),
            ctx.get("majority_share"),
            (facts.get("val_loss") or {}).get("last") if ctx.get("loss_task") in ("binary", "classification") else None,
        )
    if tv := trivial_facts(ctx, run.context.loss.reduction, facts.get("loss", {}), facts.get("val_loss", {})):
        facts["trivial"] = tv  # the loss against the trivial predictor's (regression, reconstruction, multi-label)

    # what the logs imply (class count, task, validation size): apart from what the run states
    names = series_names(list(run.series.values()))
    if no_acc:  # an accuracy compiled on a regression says nothing of the task
        names = [(m, o) for m, o in names if not CLASSIFICATION_METRICS.fullmatch(m)]
    parts = loss_parts(list(run.series.values()))
    inferred = infer_facts(
        names, facts.get("loss"), facts.get("val_loss"), facts.get("acc"), facts.get("val_acc"), parts
    )
    # a validation accuracy below chance by more than its size allows a guesser: against the
    # stated class count (chance) and the one the logs imply (infer), over the stated
    # validation size or the one the accuracy's quantum implies
    n_val = run.context.data.n_val or inferred.get("n_val")
    va_last = (facts.get("val_acc") or {}).get("last")
    for grp in (facts.get("chance"), inferred):
        if grp and grp.get("num_classes") and (p := below_chance_log10p(va_last, grp["num_classes"], n_val)) is not None:
            grp["val_acc_below_log10p"] = p
    if inferred:
        facts["infer"] = inferred
    if "ce_bound" in facts and (s2 := _softmax2_floor(facts, inferred)):
        facts["ce_bound"].update(s2)

    if run.checks:
        from traindx.checks import check_facts

        facts["check"] = check_facts(run.checks)

    degen = degenerate_facts(run)  # a one-class predictor, a loss at 0 without a fit
    if degen:
        facts["degen"] = degen

    if am := aux_facts(run):  # R^2, AUC, F1/precision, error metrics against the loss
        facts["aux"] = am

    lay = layer_facts(run)
    if lay:
        facts["layers"] = lay

    ranks = rank_facts(run)  # one data-parallel job's ranks (train/loss@rank1 ...)
    if ranks:
        facts["ranks"] = ranks

    loss = chosen.get("loss") or chosen.get("val_loss")
    plan = plan_share(run, loss) if loss is not None and len(loss) else None
    facts["run"] = {
        "has_val": "val_loss" in chosen or "val_acc" in chosen,
        "n_series": len(run.series),
        "steps": int(loss.steps[-1]) if loss is not None and len(loss) else 0,
        "unit": loss.unit if loss is not None else "step",
        **_judged(chosen, run.context.steps_per_epoch),
        **({"plan_done": plan} if plan is not None else {}),
        "framework_loop": framework_loop(list(run.series.values())),
    }
    return facts


#: Fact groups whose curve can show whether a run learns: losses, then metrics whose
#: direction is known (higher is better).
JUDGED_GROUPS = ("loss", "val_loss", "val_quality", "quality", "val_acc", "acc")


def _judged(chosen: dict[str, Series], steps_per_epoch: int | None = None) -> dict[str, Any]:
    """The series a verdict of "healthy" can rest on: the one with most finite points
    among the losses and quality metrics (``curve_points`` 0 when none was logged), and
    ``curve_epochs``, the number of epochs its finite points fall in: its points for a
    per-epoch series, the distinct ``step // steps_per_epoch`` for a per-step one whose
    epoch length is known (a Lightning ``train_loss_epoch`` sits at each epoch's last
    step), else 0."""
    best: tuple[int, str] | None = None
    for g in JUDGED_GROUPS:
        if g in chosen:
            n = int(np.isfinite(chosen[g].values).sum())
            if n and (best is None or n > best[0]):
                best = (n, g)
    if best is None:
        return {"curve_points": 0, "curve_epochs": 0, "curve_name": "none", "curve_unit": "step"}
    s = chosen[best[1]]
    if s.unit == "epoch":
        epochs = best[0]
    elif steps_per_epoch:
        epochs = int(unique(s.steps[np.isfinite(s.values)] // steps_per_epoch).size)
    else:
        epochs = best[0] if _per_evaluation(chosen, s) else 0
    return {"curve_points": best[0], "curve_epochs": epochs, "curve_name": s.original_name or str(s.key),
            "curve_unit": s.unit}  # fmt: skip


def _per_evaluation(chosen: dict[str, Series], s: Series) -> bool:
    """Whether the curve's steps count its evaluations: one training and one validation point at
    each of its steps, the steps 0, 1, 2, ... (``add_scalar("Loss/train", v, epoch)`` beside
    ``add_scalar("Loss/val", v, epoch)``, a logger called once per epoch): its points are epochs."""
    if s.steps.size < 2 or not np.all(np.diff(s.steps) == 1):
        return False
    same = [g for g in JUDGED_GROUPS if g in chosen and np.array_equal(chosen[g].steps, s.steps)]
    return any(g.startswith("val") for g in same) and any(not g.startswith("val") for g in same)
