"""Which way a class-weighted loss leans: the weight of the rarest class over that of the
commonest (``loss_minority_weight_ratio``). Above 1 the weights favour the minority (the
usual fix of class imbalance is in place); below 1 they favour the majority (weights
inverted, a fault); exactly 1 they change nothing. Pure: the adapters pass what they saw."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def minority_weight_ratio(weights: Mapping[int, float], counts: Sequence[int]) -> float | None:
    """``weights[rarest] / weights[commonest]`` over the classes with a nonzero count (a class
    absent from ``weights`` weighs 1.0, as in Keras ``class_weight``); None with fewer than two
    counted classes, a tie between the rarest and the commonest count, or a weight <= 0."""
    seen = [(int(n), c) for c, n in enumerate(counts) if n > 0]
    if len(seen) < 2:
        return None
    lo = min(seen)
    hi = max(seen)
    if lo[0] == hi[0]:
        return None
    w_lo, w_hi = float(weights.get(lo[1], 1.0)), float(weights.get(hi[1], 1.0))
    if not (w_lo > 0 and w_hi > 0):
        return None
    return w_lo / w_hi


def _values(t: Any) -> list[float] | None:
    """A tensor's (or sequence's) values as floats; None for None or anything else."""
    if t is None:
        return None
    if hasattr(t, "detach"):  # a torch tensor (no torch import here)
        return [float(v) for v in t.detach().flatten().float().cpu().tolist()]
    try:
        return [float(v) for v in t]
    except (TypeError, ValueError):
        return None


def torch_loss_weights(weight: Any, pos_weight: Any) -> dict[int, float] | None:
    """The class -> weight map of a torch loss module: ``weight`` (one per class, CrossEntropyLoss
    / NLLLoss) or ``pos_weight`` (BCEWithLogitsLoss: the positive class 1 against 1.0 for class
    0; the mean over labels when it holds several); None when it holds neither."""
    weight, pos_weight = _values(weight), _values(pos_weight)
    if pos_weight is not None and len(pos_weight):
        return {0: 1.0, 1: sum(pos_weight) / len(pos_weight)}
    if weight is not None and len(weight) >= 2:
        return {c: float(w) for c, w in enumerate(weight)}
    return None
