"""The probe's statistics in few graph operations (keras.ops, any backend).

Tracing a TensorFlow graph costs CPU per operation (about 0.3-1 ms each on a small shared
machine), and the callback's first telemetry step traced about 300 of them: a third of what
the callback added to a 6-epoch fit. So no operation is spent where none is needed: a
float32 scalar goes into the statistics vector as it is (no reshape, cast or shape
constant per value), squared norms are one square and one sum per tensor, and non-finite
values are counted once over all tensors together, not per tensor. The values are the
same as one reduction per tensor gives.
"""

from __future__ import annotations

from typing import Any

import keras

ops = keras.ops


def f32(x: Any) -> Any:
    """``x`` as float32, with no operation when it already is."""
    if keras.backend.standardize_dtype(getattr(x, "dtype", None) or "float32") == "float32":
        return x
    return ops.cast(x, "float32")


def _is_f32_scalar(v: Any) -> bool:
    shape = getattr(v, "shape", None)
    return (
        shape is not None
        and tuple(shape) == ()
        and keras.backend.standardize_dtype(v.dtype) == "float32"
    )


def vec(items: list[Any]) -> Any:
    """Scalars (tensors or Python numbers) stacked into one float32 vector."""
    if not items:
        return ops.zeros((0,), "float32")
    parts = [
        v if _is_f32_scalar(v) else ops.reshape(f32(ops.convert_to_tensor(v)), ()) for v in items
    ]
    return ops.stack(parts)


def sq_norms(xs: list[Any]) -> Any:
    """The squared L2 norms of ``xs``, one float32 vector. On TensorFlow one ``L2Loss``
    operation per tensor (half the squared norm: doubling it is exact) instead of a square,
    a sum and its axes constant."""
    if not xs:
        return ops.zeros((0,), "float32")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return 2.0 * tf.stack([tf.nn.l2_loss(f32(x)) for x in xs])
    return ops.stack([ops.sum(ops.square(f32(x))) for x in xs])


def nonfinite_count(xs: list[Any]) -> Any:
    """The number of NaN and infinite values in all of ``xs`` (float32 scalar)."""
    if not xs:
        return ops.convert_to_tensor(0.0, "float32")
    flat = xs[0] if len(xs) == 1 else ops.concatenate([ops.reshape(x, (-1,)) for x in xs])
    return ops.sum(ops.cast(ops.logical_not(ops.isfinite(flat)), "float32"))


def grad_vec(grads: list[Any]) -> Any:
    """Per gradient its squared norm (-1 for a missing gradient), then the non-finite counts:
    the total at the first present gradient's position, 0 elsewhere (readers sum them)."""
    present = [g for g in grads if g is not None]
    n = len(grads)
    if not present:
        return ops.convert_to_tensor([-1.0] * n + [0.0] * n, "float32")
    sq = sq_norms(present)
    if len(present) < n:  # missing gradients read -1
        where = [i for i, g in enumerate(grads) if g is not None]
        index = [where.index(i) if g is not None else len(present) for i, g in enumerate(grads)]
        sq = ops.take(ops.concatenate([sq, ops.convert_to_tensor([-1.0], "float32")]), index)
    bad = [0.0] * n
    first = next(i for i, g in enumerate(grads) if g is not None)
    count = ops.reshape(nonfinite_count([f32(g) for g in present]), (1,))
    parts = [sq, ops.convert_to_tensor(bad[:first], "float32")] if first else [sq]
    parts += [count, ops.convert_to_tensor(bad[first + 1 :], "float32")]
    return ops.concatenate(parts)


def weight_sq_vec(ws: list[Any]) -> Any:
    """Squared norms of the weights, one vector."""
    return sq_norms(ws)


def delta_sq_vec(ws: list[Any], snap: list[Any]) -> Any:
    """Squared norms of ``ws - snap`` per weight, one vector."""
    return sq_norms([f32(w) - f32(s) for w, s in zip(ws, snap, strict=True)])
