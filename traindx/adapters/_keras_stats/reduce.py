"""The probe's statistics in few graph operations (keras.ops, any backend).

Tracing a TensorFlow graph costs CPU per operation (about 0.3-1 ms each on a small shared
machine), and the callback's first telemetry step traced about 300 of them: a third of what
the callback added to a 6-epoch fit. So no operation is spent where none is needed: a
float32 scalar goes into the statistics vector as it is (no reshape, cast or shape
constant per value), squared norms are one square and one sum per tensor, and non-finite
values are counted once over all tensors together, not per tensor. The values are the
same as one reduction per tensor gives.

Every function takes ``xp``: ``keras.ops`` (traced into the backend's compiled function) or
:data:`HOST` (numpy on the host: no compile; Keras on JAX, where compiling each function
cost 0.1-0.6 s of a short fit). One definition of each statistic for both.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

ops = keras.ops


class _HostOps:
    """The ``keras.ops`` functions the statistics use, on numpy arrays."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def cast(x: Any, dtype: str) -> Any:
        return np.asarray(x).astype(dtype)

    @staticmethod
    def convert_to_tensor(x: Any, dtype: str | None = None) -> Any:
        return np.asarray(x, dtype=dtype)

    @staticmethod
    def one_hot(x: Any, n: int) -> Any:
        return np.eye(n, dtype="float32")[np.asarray(x)]


HOST: Any = _HostOps()


def on_host(fn: Any, *args: Any) -> np.ndarray:
    """``fn(*args, HOST)`` as float64, numpy's warnings silenced: a diverged run's inf - inf
    is a NaN statistic to record, never a warning from the user's fit."""
    with np.errstate(all="ignore"):
        return np.asarray(fn(*args, HOST), dtype=np.float64)


def f32(x: Any, xp: Any = ops) -> Any:
    """``x`` as float32, with no operation when it already is."""
    if type(x) is np.ndarray:  # the host statistics: numpy's dtype check (standardize_dtype ~12 us)
        return x if x.dtype == np.float32 else x.astype("float32")
    if keras.backend.standardize_dtype(getattr(x, "dtype", None) or "float32") == "float32":
        return x
    return xp.cast(x, "float32")


def _is_f32_scalar(v: Any) -> bool:
    shape = getattr(v, "shape", None)
    return (
        shape is not None
        and tuple(shape) == ()
        and keras.backend.standardize_dtype(v.dtype) == "float32"
    )


def vec(items: list[Any], xp: Any = ops) -> Any:
    """Scalars (tensors or Python numbers) stacked into one float32 vector."""
    if not items:
        return xp.zeros((0,), "float32")
    parts = [
        v if _is_f32_scalar(v) else xp.reshape(f32(xp.convert_to_tensor(v), xp), ()) for v in items
    ]
    return xp.stack(parts)


def sq_norms(xs: list[Any], xp: Any = ops) -> Any:
    """The squared L2 norms of ``xs``, one float32 vector. On TensorFlow one ``L2Loss``
    operation per tensor (half the squared norm: doubling it is exact) instead of a square,
    a sum and its axes constant."""
    if not xs:
        return xp.zeros((0,), "float32")
    if xp is ops and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return 2.0 * tf.stack([tf.nn.l2_loss(f32(x)) for x in xs])
    return xp.stack([xp.sum(xp.square(f32(x, xp))) for x in xs])


def nonfinite_count(xs: list[Any], xp: Any = ops) -> Any:
    """The number of NaN and infinite values in all of ``xs`` (float32 scalar)."""
    if not xs:
        return xp.convert_to_tensor(0.0, "float32")
    flat = xs[0] if len(xs) == 1 else xp.concatenate([xp.reshape(x, (-1,)) for x in xs])
    return xp.sum(xp.cast(xp.logical_not(xp.isfinite(flat)), "float32"))


def grad_vec(grads: list[Any], xp: Any = ops) -> Any:
    """Per gradient its squared norm (-1 for a missing gradient), then the non-finite counts:
    the total at the first present gradient's position, 0 elsewhere (readers sum them)."""
    present = [g for g in grads if g is not None]
    n = len(grads)
    if not present:
        return xp.convert_to_tensor([-1.0] * n + [0.0] * n, "float32")
    sq = sq_norms(present, xp)
    if len(present) < n:  # missing gradients read -1
        where = [i for i, g in enumerate(grads) if g is not None]
        index = [where.index(i) if g is not None else len(present) for i, g in enumerate(grads)]
        sq = xp.take(xp.concatenate([sq, xp.convert_to_tensor([-1.0], "float32")]), index)
    bad = [0.0] * n
    first = next(i for i, g in enumerate(grads) if g is not None)
    count = xp.reshape(nonfinite_count([f32(g, xp) for g in present], xp), (1,))
    parts = [sq, xp.convert_to_tensor(bad[:first], "float32")] if first else [sq]
    parts += [count, xp.convert_to_tensor(bad[first + 1 :], "float32")]
    return xp.concatenate(parts)


def weight_sq_vec(ws: list[Any], xp: Any = ops) -> Any:
    """Squared norms of the weights, one vector."""
    return sq_norms(ws, xp)


def delta_sq_vec(ws: list[Any], snap: list[Any], xp: Any = ops) -> Any:
    """Squared norms of ``ws - snap`` per weight, one vector."""
    return sq_norms([f32(w, xp) - f32(s, xp) for w, s in zip(ws, snap, strict=True)], xp)


def act_stats(a: Any, kind: int, xp: Any = ops) -> list[Any]:
    a = f32(a, xp)
    mean = xp.mean(a)
    std = xp.sqrt(xp.maximum(xp.mean(xp.square(a - mean)), 0.0))
    out = [mean, std]
    if kind == 1:
        out.append(xp.mean(xp.cast(xp.equal(a, 0.0), "float32")))
    elif kind == 2:
        out.append(xp.mean(xp.cast(xp.greater(xp.abs(a), 0.99), "float32")))
    elif kind == 3:
        out.append(xp.mean(xp.cast(xp.greater(xp.abs(a - 0.5), 0.49), "float32")))
    return out


def output_stats(y_pred: Any, probs: bool, n_classes: int, xp: Any = ops) -> list[Any]:
    out: list[Any] = []
    p = xp.reshape(f32(y_pred, xp), (-1, n_classes))
    if probs:
        out.append(xp.mean(xp.abs(xp.sum(p, axis=-1) - 1.0)) + 1.0)
    if n_classes >= 2:
        pred = xp.argmax(p, axis=-1)
        out.append(xp.max(xp.mean(xp.one_hot(pred, n_classes), axis=0)))
    return out
