"""What each preflight check measures, as facts: pure numpy functions, no framework.

The adapters run the user's model (on copies) and hand these functions plain arrays: losses,
outputs, gradients, data. Each function returns ``(facts, line)``: the numbers the rulebook's
``check`` symptoms judge (``check.<check>_<fact>``), and one line saying what was measured.
Judging is the rulebook's job (rulebook/symptoms/checks.yaml); nothing here decides a fault.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from traindx.arrays import median, unique
from traindx.checks.targets import (  # noqa: F401 (re-exported: M.infer_loss, M.chance_loss ...)
    _f,
    chance_loss,
    infer_activation,
    infer_loss,
    is_integer_labels,
    is_onehot,
    uniform_loss,
)
from traindx.rowid import shared_frac

Facts = dict[str, Any]


def initial_loss(loss: float, chance: float | None, out: np.ndarray, prior: float | None = None) -> tuple[Facts, str]:
    """The loss before any step against the chance loss (an uninformed output: ln C for a
    classifier, E[y^2] for a regression), the best input-blind loss (``prior``: the
    class-prior entropy, the target variance) and the output scale."""
    o = np.asarray(out, np.float64)
    fin = o[np.isfinite(o)]
    facts: Facts = {"loss": _f(loss), "finite": bool(math.isfinite(loss))}
    if prior is not None:
        facts["prior"] = prior
    if fin.size:
        facts["out_std"] = _f(fin.std())
        facts["out_absmax"] = _f(np.abs(fin).max())
    if chance is not None and chance > 1e-6 and math.isfinite(loss):
        facts["chance"] = chance
        facts["ratio"] = _f(loss / chance)
        line = f"initial loss {loss:.4g} vs chance {chance:.4g} (ratio {loss / chance:.3g}); output std {facts.get('out_std', float('nan')):.3g}"
    else:
        line = f"initial loss {loss:.4g} (no chance level for this task); output std {facts.get('out_std', float('nan')):.3g}"
    return facts, line


def overfit(losses: list[float], changed: bool | None = None) -> tuple[Facts, str]:
    """How the loss on one small batch moved under the user's optimizer: ``mode`` is fits
    (below a tenth of its start), slow (below half), stalls, rises, nonfinite, or
    negative (a loss that starts or goes below zero is not a bounded loss being fitted)."""
    v = np.asarray(losses, np.float64)
    first = v[0]
    fin = np.isfinite(v)
    facts: Facts = {"steps": int(v.size), "first": _f(first)}
    if changed is not None:
        facts["params_changed"] = bool(changed)
    if not fin.all():
        k = int(np.argmax(~fin))
        facts.update(mode="nonfinite", nonfinite_step=k, peak_ratio=_f(np.nanmax(np.abs(v[:max(k, 1)])) / max(abs(first), 1e-12)))
        return facts, f"loss turned non-finite at step {k} of {v.size} (from {first:.4g})"
    last, best = v[-1], v.min()
    facts.update(last=_f(last), min=_f(best), peak_ratio=_f(v.max() / first) if first > 0 else 0.0)
    ups = np.diff(v) > 0
    facts["up_frac"] = _f(ups.mean()) if ups.size else 0.0
    tol = 1e-6 * max(1.0, abs(first))  # Keras' log(1 - p + eps) puts a clipped BCE ~1e-7 below zero
    if first < -tol or best < -tol:
        facts["mode"] = "negative"
        return facts, f"loss went from {first:.4g} to {last:.4g}: below zero, so it is not a bounded loss"
    if first <= tol:
        facts["mode"] = "fits"
        return facts, f"loss {first:.4g} before any step: the batch is already fitted"
    ratio = last / first
    facts["ratio"] = _f(ratio)
    facts["min_ratio"] = _f(best / first)
    if best / first <= 0.1:
        mode = "fits"
    elif ratio > 1.1 or v.max() > 3 * first:
        mode = "rises"
    elif best / first <= 0.5:
        mode = "slow"
    else:
        mode = "stalls"
    facts["mode"] = mode
    return facts, f"one batch, {v.size} steps: loss {first:.4g} -> {last:.4g} (best {best:.4g}, {mode})"


def batch_mixing(out_a: np.ndarray, out_b: np.ndarray, changed_rows: list[int]) -> tuple[Facts, str]:
    """Rows whose output changed when only other rows of the batch were changed: the model
    mixes samples (softmax over the batch axis, a reshape across samples)."""
    a = np.asarray(out_a, np.float64).reshape(len(out_a), -1)
    b = np.asarray(out_b, np.float64).reshape(len(out_b), -1)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        from traindx.checks import Skip

        raise Skip("the model's outputs are not finite")
    keep = np.ones(len(a), bool)
    keep[changed_rows] = False
    scale = max(_f(np.abs(a[np.isfinite(a)]).max(initial=0.0)), 1e-12)
    d = np.abs(a[keep] - b[keep]) / scale
    d = np.where(np.isfinite(d), d, 1.0)
    per_row = d.max(1) if d.size else np.zeros(0)
    facts = {"max_dev": _f(per_row.max(initial=0.0)), "rows_changed": _f((per_row > 1e-4).mean()) if per_row.size else 0.0}
    return facts, (
        f"changing {len(changed_rows)} sample(s) moved the other samples' outputs by up to "
        f"{facts['max_dev']:.2g} of the output scale ({facts['rows_changed']:.0%} of rows)"
    )


def gradient_flow(names: list[str], norms: list[float | None], frozen: list[str], not_in_opt: list[str]) -> tuple[Facts, str]:
    """Trainable parameters with no gradient (None), an all-zero or a non-finite one; frozen
    parameters the optimizer holds; trainable parameters the optimizer does not hold."""
    none = [n for n, g in zip(names, norms, strict=True) if g is None]
    zero = [n for n, g in zip(names, norms, strict=True) if g == 0.0]
    bad = [n for n, g in zip(names, norms, strict=True) if g is not None and not math.isfinite(g)]
    facts: Facts = {
        "n_params": len(names), "no_grad": len(none) + len(zero), "nonfinite": len(bad),
        "frozen_in_optimizer": len(frozen), "not_in_optimizer": len(not_in_opt),
    }  # fmt: skip
    worst = (none + zero)[:3] or bad[:3] or frozen[:3] or not_in_opt[:3]
    if worst:
        facts["example"] = ", ".join(worst)
    line = (
        f"{len(names)} trainable tensors: {len(none) + len(zero)} without gradient, {len(bad)} non-finite; "
        f"{len(frozen)} frozen held by the optimizer, {len(not_in_opt)} not in the optimizer"
        + (f" (e.g. {facts['example']})" if worst else "")
    )
    return facts, line


def gradient_check(analytic: np.ndarray, numeric: np.ndarray) -> tuple[Facts, str]:
    """Analytic vs central-difference gradients (float64) on a few parameter entries."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    err = np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-7)
    bad = (np.abs(a - n) > 1e-6) & (err > 1e-3)
    den = np.linalg.norm(a) * np.linalg.norm(n)
    facts = {
        "n": int(a.size), "bad_frac": _f(bad.mean()), "median_rel_err": _f(median(err)),
        "cos": _f(a @ n / den) if den > 0 else 1.0,
    }  # fmt: skip
    return facts, (
        f"{a.size} entries: median relative error {facts['median_rel_err']:.2g}, {facts['bad_frac']:.0%} off, "
        f"cosine {facts['cos']:.3f}"
    )


def output_pairing(out: np.ndarray, y: np.ndarray, loss_expects: str | None, task: str | None) -> tuple[Facts, str]:
    """Output activation vs what the loss expects, output width vs classes, targets vs loss."""
    o = np.asarray(out, np.float64).reshape(len(out), -1)
    act = infer_activation(o)
    facts: Facts = {"activation": act, "width": int(o.shape[1])}
    if loss_expects:
        facts["loss_expects"] = loss_expects
    if task:
        facts["task"] = task
    if o.shape[1] >= 2 and np.all(np.isfinite(o)) and o.min() >= 0:
        facts["row_sum_dev"] = _f(np.abs(o.sum(1) - 1).mean())
    yy = np.asarray(y)
    if is_integer_labels(yy):
        labels = yy.reshape(-1).astype(np.int64)
        facts["target_integer"] = True
        facts["target_distinct"] = int(unique(labels).size)
        facts["label_max"] = int(labels.max(initial=0))
        facts["label_min"] = int(labels.min(initial=0))
    else:
        facts["target_integer"] = False
    facts["target_onehot"] = is_onehot(yy)
    return facts, (
        f"output looks {act} ({o.shape[1]} wide), loss expects {loss_expects or 'unknown'}"
        + (f"; integer targets with {facts['target_distinct']} values up to {facts['label_max']}" if facts["target_integer"] else "")
    )


def dummy_input(loss_real: float, loss_zero: float, loss_start: float) -> tuple[Facts, str]:
    """Loss after a few steps on the real inputs vs on all-zero inputs (same targets): a
    model that does as well without its input is not reading it."""
    facts: Facts = {"real": _f(loss_real), "zero": _f(loss_zero), "start": _f(loss_start)}
    if all(math.isfinite(v) for v in (loss_real, loss_zero, loss_start)) and loss_start > 0:
        facts["real_drop"] = _f(1 - loss_real / loss_start)
        facts["gain"] = _f((loss_zero - loss_real) / max(abs(loss_zero), 1e-12))
    return facts, f"after a few steps: loss {loss_real:.4g} on real inputs, {loss_zero:.4g} on zeroed inputs (start {loss_start:.4g})"


def modes(eval_a: np.ndarray, eval_b: np.ndarray, train_out: np.ndarray | None, has_dropout: bool,
          has_norm: bool, training: bool) -> tuple[Facts, str]:
    """Eval-mode determinism (two eval passes on one input) and the train/eval difference."""
    a, b = np.asarray(eval_a, np.float64), np.asarray(eval_b, np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        from traindx.checks import Skip

        raise Skip("the model's outputs are not finite")
    scale = max(_f(np.abs(a[np.isfinite(a)]).max(initial=0.0)), 1e-12)
    facts: Facts = {
        "eval_dev": _f(np.nan_to_num(np.abs(a - b), nan=1.0).max(initial=0.0) / scale),
        "has_dropout": has_dropout, "has_norm": has_norm, "training": training,
    }  # fmt: skip
    if train_out is not None:
        t = np.asarray(train_out, np.float64)
        facts["train_eval_dev"] = _f(np.nan_to_num(np.abs(t - a), nan=1.0).max(initial=0.0) / scale)
    return facts, (
        f"two eval passes differ by {facts['eval_dev']:.2g}"
        + (f", train vs eval by {facts['train_eval_dev']:.2g}" if "train_eval_dev" in facts else "")
        + f" (model {'in train' if training else 'in eval'} mode; dropout {has_dropout}, normalization {has_norm})"
    )


def input_normalization(facts: Facts, line: str, first_layer: str | None, normalizes: bool) -> tuple[Facts, str]:
    """Add to the data check whether the model's first layer with weights normalizes its
    inputs per feature (a BatchNorm, Keras' Normalization): raw-scale inputs are then fine."""
    facts = {**facts, "normalized_in_model": bool(normalizes)}
    return facts, line + (f"; the model's first layer ({first_layer}) normalizes its inputs" if normalizes else "")


def data(x: np.ndarray, y: np.ndarray | None, task: str | None, xv: np.ndarray | None = None) -> tuple[Facts, str]:
    """NaN/inf, input scale and dtype, class balance, and rows shared with validation."""
    xa = np.asarray(x)
    facts: Facts = {"n": int(len(xa)), "dtype": str(xa.dtype)}
    nonfinite = 0
    if xa.dtype.kind == "f":
        nonfinite += int((~np.isfinite(xa)).sum())
    if y is not None and np.asarray(y).dtype.kind == "f":
        nonfinite += int((~np.isfinite(np.asarray(y))).sum())
    facts["nonfinite"] = nonfinite
    if xa.dtype.kind in "fiub" and xa.size:
        flat = xa.reshape(len(xa), -1).astype(np.float64)
        flat = np.where(np.isfinite(flat), flat, np.nan)
        with np.errstate(all="ignore"):
            facts["abs_max"] = _f(np.nanmax(np.abs(flat))) if np.isfinite(flat).any() else 0.0
            std = np.nanstd(flat, 0)
            mean = np.nanmean(flat, 0)
        facts["std_max"] = _f(np.nanmax(std)) if np.isfinite(std).any() else 0.0
        facts["mean_absmax"] = _f(np.nanmax(np.abs(mean))) if np.isfinite(mean).any() else 0.0
        facts["token_ids"] = xa.dtype.kind in "i" and xa.dtype.itemsize >= 4
    yy = np.asarray(y) if y is not None else None
    if yy is not None and (task == "classification" or (task == "binary" and yy.ndim <= 2 and yy.size == len(yy))) and np.isfinite(yy).all():
        labels = np.argmax(yy, 1) if is_onehot(yy) else yy.reshape(-1).astype(np.int64)
        counts = np.bincount(labels - labels.min(initial=0))
        facts["majority_share"] = _f(counts.max() / counts.sum())
        facts["n_classes_seen"] = int((counts > 0).sum())
    if xv is not None and len(xv) and (shared := shared_frac(xa, xv)) is not None:
        facts["val_shared_frac"] = _f(shared)
    line = f"{facts['n']} rows ({facts['dtype']}), {nonfinite} non-finite values, |x| up to {facts.get('abs_max', float('nan')):.3g}"
    if "majority_share" in facts:
        line += f", largest class {facts['majority_share']:.0%}"
    if "val_shared_frac" in facts:
        line += f", {facts['val_shared_frac']:.0%} of validation rows also in training"
    return facts, line


def suggest_lr(lrs: np.ndarray, losses: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(suggested LR, LR where the loss blew up, LR of steepest descent) from a sweep.

    The loss is smoothed; it blows up where it passes 4x its minimum (or turns non-finite);
    the suggestion is a tenth of the blow-up LR, else the steepest-descent LR
    (None when the loss never fell, or was not finite at the smallest LR).
    """
    lrs, v = np.asarray(lrs, np.float64), np.asarray(losses, np.float64)
    fin = np.isfinite(v)
    end = int(np.argmax(~fin)) if not fin.all() else v.size
    if end < 3:  # not finite from the first LRs: a fault of the model or data, not the LR
        return None, None, None
    s = v[:end].copy()
    for i in range(1, s.size):  # exponential smoothing, as fastai's finder
        s[i] = 0.7 * s[i - 1] + 0.3 * v[i]
    best = int(np.argmin(s))
    blow_idx = next((i for i in range(best, s.size) if s[i] > 4 * s[best]), None)
    if blow_idx is None and v[end - 1] > 4 * v[:end].min():  # the sweep stopped on a raw jump
        blow_idx = end - 1
    blowup = _f(lrs[blow_idx]) if blow_idx is not None else (_f(lrs[end]) if end < v.size else None)
    grads = np.gradient(s[: best + 1], np.log(lrs[: best + 1])) if best >= 2 else np.zeros(0)
    steep = _f(lrs[int(np.argmin(grads))]) if grads.size and grads.min() < 0 else None
    if s[best] > 0.98 * s[0]:  # the loss fell at no LR: nothing blew up that had worked
        return None, None, None
    if blowup:
        return blowup / 10, blowup, steep
    return steep or _f(lrs[best]) / 10, blowup, steep
