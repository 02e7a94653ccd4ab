"""What labels and outputs are, read from their values: class ids or one-hot targets, the
loss an uninformed model scores, the output's last activation, and the kind of loss an
opaque loss function's value matches. Pure numpy; the preflight measures build on these."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _f(x: Any) -> float:
    return float(x)


def is_integer_labels(y: np.ndarray) -> bool:
    """Class ids: an integer array, or floats that are all whole numbers >= 0 (1-D)."""
    y = np.asarray(y)
    if y.ndim > 1 and not (y.ndim == 2 and y.shape[1] == 1):
        return False
    if y.dtype.kind in "iub":
        return True
    if y.dtype.kind != "f" or not np.all(np.isfinite(y)):
        return False
    return bool(np.all(y == np.round(y)) and y.min(initial=0) >= 0)


def is_onehot(y: np.ndarray) -> bool:
    y = np.asarray(y)
    return y.ndim == 2 and y.shape[1] > 1 and bool(np.all((y == 0) | (y == 1))) and bool(np.all(y.sum(1) == 1))


def uniform_loss(y: np.ndarray, task: str, width: int) -> float | None:
    """Loss of an uninformed fresh model: uniform probabilities over ``width`` classes
    (ln C), 1/2 for a binary target (ln 2), a zero output for a regression (E[y^2])."""
    if task == "classification" and width > 1:
        return math.log(width)
    if task == "binary":
        return math.log(2.0)
    if task == "regression":
        return _f(np.mean(np.asarray(y, np.float64) ** 2))
    return None


def chance_loss(y: np.ndarray, task: str) -> float | None:
    """Loss of the best input-blind prediction: the class-prior entropy for a classifier
    (nats), the binary entropy for a binary/multi-label target, the target variance for a
    regression (what predicting the mean gives under MSE)."""
    y = np.asarray(y)
    if task == "classification":
        labels = np.argmax(y, 1) if is_onehot(y) else y.reshape(-1).astype(np.int64)
        p = np.bincount(labels - labels.min()) / labels.size
        p = p[p > 0]
        return _f(-(p * np.log(p)).sum())
    if task == "binary":
        p = np.clip(np.asarray(y, np.float64).mean(0), 1e-7, 1 - 1e-7)
        return _f(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
    if task == "regression":
        yy = np.asarray(y, np.float64).reshape(len(y), -1)
        return _f(yy.var(0).mean())
    return None


def infer_activation(out: np.ndarray) -> str:
    """The output's last operation, read from its values: softmax (rows sum to 1),
    softmax_batch (columns sum to 1, rows not), log_softmax, sigmoid, relu, tanh, linear."""
    o = np.asarray(out, np.float64).reshape(len(out), -1)
    if not np.all(np.isfinite(o)) or o.size == 0:
        return "unknown"
    lo, hi = o.min(), o.max()
    if o.shape[1] >= 2 and lo >= 0 and hi <= 1:
        if np.abs(o.sum(1) - 1).max() < 1e-3:
            return "softmax"
        if len(o) >= 2 and np.abs(o.sum(0) - 1).max() < 1e-3:
            return "softmax_batch"
    if o.shape[1] >= 2 and hi <= 0 and np.abs(np.log(np.exp(o).sum(1))).max() < 1e-3:
        return "log_softmax"
    if lo > 0 and hi < 1:
        return "sigmoid"
    if lo == 0 and hi > 0 and (o == 0).mean() > 0.05:
        return "relu"
    if lo > -1 and hi < 1 and lo < 0 and (np.abs(o) > 0.9).mean() > 0.05:
        return "tanh"
    return "linear"


def _lse(o: np.ndarray) -> np.ndarray:
    m = o.max(1, keepdims=True)
    return m + np.log(np.exp(o - m).sum(1, keepdims=True))


def infer_loss(out: np.ndarray, y: np.ndarray, value: float) -> tuple[str | None, str | None]:
    """What an opaque loss function expects and the task it implies, from its value: the
    standard losses (cross-entropy on logits, on probabilities or log-probabilities, with
    class ids or one-hot targets; binary cross-entropy on logits or probabilities; MSE and
    L1) are computed on ``out`` and ``y`` and the one ``value`` matches (to 1e-4, relative)
    is the answer. (None, None) when none or several disagreeing ones match (a loss with
    regularization terms, a sum instead of a mean)."""
    o = np.asarray(out, np.float64).reshape(len(out), -1)
    yy = np.asarray(y)
    if not (math.isfinite(value) and np.isfinite(o).all()) or yy.dtype.kind not in "fiub" or not np.isfinite(yy.astype(np.float64)).all():
        return None, None
    n, c = o.shape
    cand: list[tuple[str, str, float]] = []
    with np.errstate(all="ignore"):
        if is_integer_labels(yy) and c > 1 and yy.size == n:
            lab = yy.reshape(-1).astype(np.int64)
            if lab.min(initial=0) >= 0 and lab.max(initial=0) < c:
                pick = o[np.arange(n), lab]
                cand.append(("logits", "classification", _f(np.mean(_lse(o)[:, 0] - pick))))
                if o.min() > 0:
                    cand.append(("probabilities", "classification", _f(-np.mean(np.log(pick)))))
                cand.append(("log_probs", "classification", _f(-np.mean(pick))))
                hot = np.eye(c)[lab]
                cand.append(("values", "regression", _f(np.mean((o - hot) ** 2))))
                cand.append(("values", "regression", _f(np.mean(np.abs(o - hot)))))
        t = yy.reshape(n, -1).astype(np.float64) if yy.size == o.size else None
        if t is not None:
            soft = c > 1 and bool(np.all(t >= 0)) and bool(np.allclose(t.sum(1), 1))
            if soft:
                cand.append(("logits", "classification", _f(np.mean((t * (_lse(o) - o)).sum(1)))))
                if o.min() > 0:
                    cand.append(("probabilities", "classification", _f(-np.mean((t * np.log(o)).sum(1)))))
            if np.all((t == 0) | (t == 1)):
                cand.append(("logits", "binary", _f(np.mean(np.logaddexp(0, o) - o * t))))
                if o.min() > 0 and o.max() < 1:
                    cand.append(("probabilities", "binary", _f(-np.mean(t * np.log(o) + (1 - t) * np.log(1 - o)))))
            cand.append(("values", "regression", _f(np.mean((o - t) ** 2))))
            cand.append(("values", "regression", _f(np.mean(np.abs(o - t)))))
    hits = {(e, k) for e, k, v in cand if math.isfinite(v) and abs(v - value) <= 1e-4 * max(1.0, abs(value))}
    return next(iter(hits)) if len(hits) == 1 else (None, None)
