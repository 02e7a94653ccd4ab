"""The probe-batch telemetry engine: activations, outputs and gradients in one fused pass with keras.ops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from traindx.adapters._keras_stats.config import host_float
from traindx.adapters._keras_stats.model import BACKEND, ops
from traindx.adapters._keras_stats.reduce import delta_sq_vec, f32, grad_vec, vec, weight_sq_vec

#: Update-ratio differences computed eagerly on TensorFlow before the function is traced.
EAGER_DELTAS = 24

# --------------------------------------------------------------------------- compiled functions


def _act_stats(a: Any, kind: int) -> list[Any]:
    a = f32(a)
    mean = ops.mean(a)
    std = ops.sqrt(ops.maximum(ops.mean(ops.square(a - mean)), 0.0))
    out = [mean, std]
    if kind == 1:
        out.append(ops.mean(ops.cast(ops.equal(a, 0.0), "float32")))
    elif kind == 2:
        out.append(ops.mean(ops.cast(ops.greater(ops.abs(a), 0.99), "float32")))
    elif kind == 3:
        out.append(ops.mean(ops.cast(ops.greater(ops.abs(a - 0.5), 0.49), "float32")))
    return out


def _output_stats(y_pred: Any, probs: bool, n_classes: int) -> list[Any]:
    out: list[Any] = []
    p = ops.reshape(f32(y_pred), (-1, n_classes))
    if probs:
        out.append(ops.mean(ops.abs(ops.sum(p, axis=-1) - 1.0)) + 1.0)
    if n_classes >= 2:
        pred = ops.argmax(p, axis=-1)
        out.append(ops.max(ops.mean(ops.one_hot(pred, n_classes), axis=0)))
    return out


def tf_function(fn: Any) -> Any:
    """``fn`` as a TensorFlow graph function, traced without autograph where it can be.

    Autograph rewrites the Python source of every function a trace calls (ours and Keras'),
    which made the probe's first call in a process cost 0.9 s CPU instead of 0.2 (a 6-epoch
    Keras fit on digits: the callback's fixed cost). The statistics need none of it (their
    loops and branches are over Python values), but a user's layer may branch on a tensor:
    when the trace without autograph fails, the function is traced again with it, once.
    """
    import tensorflow as tf

    plain = tf.function(fn, reduce_retracing=True, autograph=False)
    chosen: list[Any] = []

    def call(*args: Any) -> Any:
        if chosen:
            return chosen[0](*args)
        try:
            out = plain(*args)
        except Exception:  # noqa: BLE001 - Python control flow on tensors: autograph it
            chosen.append(tf.function(fn, reduce_retracing=True))
            return chosen[0](*args)
        chosen.append(plain)
        return out

    return call


@dataclass
class ProbeLayout:
    """Where each statistic sits in the probe vector."""

    n_grads: int
    acts: list[tuple[str, int]]  # (layer name, kind)
    probs: bool
    n_classes: int
    out_stats: list[str]

    @property
    def size(self) -> int:
        return 1 + 2 * self.n_grads + sum(2 + (k > 0) for _, k in self.acts) + len(self.out_stats)


class Engine:
    """Backend-specific compiled functions over the model's current weights.

    ``weights()`` gives the tracked weights' current values (on JAX, the trainer's state in
    the middle of an epoch, when the variables themselves hold no value); ``weight_sq`` their
    squared norms (one vector), ``snapshot`` a copy, ``delta_sq`` the squared norms of the
    difference to a snapshot, ``probe`` the probe vector.
    """

    def __init__(self, model: keras.Model, tracked: list[Any], fwd: Any, layout: ProbeLayout | None,
                 has_loss: bool):  # fmt: skip
        self.model = model
        self.tracked = tracked
        self.fwd = fwd  # x -> (acts list, y_pred)
        self.layout = layout
        self.has_loss = has_loss
        self.backend = BACKEND
        tv = {id(v): i for i, v in enumerate(model.trainable_variables)}
        ntv = {id(v): i for i, v in enumerate(model.non_trainable_variables)}
        self._where = [
            ("t", tv[id(v)]) if id(v) in tv else ("n", ntv.get(id(v), -1)) for v in tracked
        ]
        self._fns: dict[str, Any] = {}
        self._deltas = 0  # update-ratio differences computed (TensorFlow: eager, then traced)

    # -------------------------------------------------------------- state

    def _jax_state(self) -> dict[str, Any] | None:
        m = self.model
        st = getattr(m, "_jax_state", None)
        if st and not getattr(m, "_jax_state_synced", True):
            return st
        return None

    def state(self) -> tuple[list[Any], list[Any], list[Any]]:
        """(trainable, non-trainable, metrics) values for a stateless call (JAX)."""
        st = self._jax_state()
        m = self.model
        if st is not None:
            tv = st.get("trainable_variables") or [v.value for v in m.trainable_variables]
            ntv = st.get("non_trainable_variables") or [v.value for v in m.non_trainable_variables]
            mv = st.get("metrics_variables") or [v.value for v in m.metrics_variables]
            return list(tv), list(ntv), list(mv)
        return ([v.value for v in m.trainable_variables], [v.value for v in m.non_trainable_variables],
                [v.value for v in m.metrics_variables])  # fmt: skip

    def weights(self) -> list[Any]:
        if self.backend == "jax":
            tv, ntv, _ = self.state()
            return [
                tv[i] if k == "t" else ntv[i] if i >= 0 else v.value
                for (k, i), v in zip(self._where, self.tracked, strict=True)
            ]
        return [v.value for v in self.tracked]

    def wait(self) -> None:
        """Wait until the steps dispatched so far are computed (JAX runs them asynchronously:
        the first read of the weights would wait for them, inside the callback's own time)."""
        if self.backend == "jax":
            import jax

            jax.block_until_ready(self.weights())

    def read_metric_var(self, var: Any) -> float | None:
        """The current value of a metric variable (a loss tracker's count)."""
        st = self._jax_state() if self.backend == "jax" else None
        if st is not None:
            mv = st.get("metrics_variables")
            ids = [id(v) for v in self.model.metrics_variables]
            if mv is None or id(var) not in ids:
                return None
            return float(np.asarray(mv[ids.index(id(var))]))
        return host_float(var.value)

    # -------------------------------------------------------------- compiled functions

    def _compile(self, fn: Any) -> Any:
        if self.backend == "tensorflow":
            return tf_function(fn)
        if self.backend == "jax":
            import jax

            return jax.jit(fn)
        if self.backend == "torch":
            import torch

            def run(*a: Any) -> Any:
                with torch.no_grad():
                    return fn(*a)

            return run
        return fn

    def weight_sq(self, ws: list[Any]) -> np.ndarray:
        f = self._fns.get("wsq")
        if f is None:
            f = self._fns["wsq"] = self._compile(weight_sq_vec)
        return np.asarray(ops.convert_to_numpy(f(ws)), dtype=np.float64)

    def snapshot(self, ws: list[Any]) -> list[Any]:
        if self.backend == "tensorflow":
            import tensorflow as tf

            f = self._fns.get("snap")
            if f is None:
                f = self._fns["snap"] = tf_function(lambda ws: [tf.identity(w) for w in ws])
            return list(f(ws))
        if self.backend == "jax":
            import jax.numpy as jnp

            return [jnp.array(w, copy=True) for w in ws]  # the trainer donates its state
        if self.backend == "torch":
            return [w.detach().clone() for w in ws]
        return [np.array(w, copy=True) for w in ws]

    def delta_sq(self, ws: list[Any], snap: list[Any], to_host: bool = True) -> Any:
        """Squared norms of ``ws - snap`` per weight: on the host, or (``to_host=False``) the
        device array, not waited for."""
        f = self._fns.get("dsq")
        if f is None:
            f = self._fns["dsq"] = self._compile(delta_sq_vec)
        out = f(ws, snap)
        return np.asarray(ops.convert_to_numpy(out), dtype=np.float64) if to_host else out

    def probe(self, x: Any, y: Any) -> np.ndarray:
        f = self._fns.get("probe")
        if f is None:
            f = self._fns["probe"] = self._make_probe()
        if self.backend == "jax":
            tv, ntv, mv = self.state()
            out = f(tv, ntv, mv, x, y)
        else:
            out = f(x, y)
        return np.asarray(ops.convert_to_numpy(out), dtype=np.float64)

    def telemetry(
        self, xy: tuple[Any, Any] | None
    ) -> tuple[np.ndarray, list[Any], np.ndarray | None]:
        """Squared norms of the tracked weights, a snapshot of them, and the probe vector
        (None without a probe): on TensorFlow one compiled call reading the variables."""
        if self.backend != "tensorflow":
            ws = self.weights()
            sq = self.weight_sq(ws) if ws else np.zeros(0)
            snap = self.snapshot(ws) if ws else []
            return sq, snap, (self.probe(*xy) if xy is not None else None)
        import tensorflow as tf

        key = "tel_probe" if xy is not None else "tel"
        f = self._fns.get(key)
        if f is None:
            body = self._make_probe(compiled=False) if xy is not None else None
            tracked = self.tracked

            def tel(*xy: Any) -> Any:
                vs = [v.value for v in tracked]
                sq = weight_sq_vec(vs)
                snap = [tf.identity(w) for w in vs]
                vec = body(*xy) if body is not None else tf.zeros((0,))
                return sq, snap, vec

            f = self._fns[key] = tf_function(tel)
        sq, snap, vec = f(*xy) if xy is not None else f()
        return (np.asarray(sq.numpy(), dtype=np.float64), list(snap),
                np.asarray(vec.numpy(), dtype=np.float64) if xy is not None else None)  # fmt: skip

    def delta(self, snap: list[Any]) -> np.ndarray:
        """Squared norms of (current weights - snapshot), per tracked weight. On TensorFlow
        eagerly for the first ``EAGER_DELTAS`` calls, then one traced function: tracing it
        costs about what 25 eager calls do, so a short fit never pays it."""
        if self.backend != "tensorflow":
            return self.delta_sq(self.weights(), snap)
        self._deltas += 1
        if self._deltas <= EAGER_DELTAS:
            return np.asarray(
                delta_sq_vec([v.value for v in self.tracked], snap).numpy(), dtype=np.float64
            )
        f = self._fns.get("tel_delta")
        if f is None:
            tracked = self.tracked

            def delta(ss: Any) -> Any:
                return delta_sq_vec([v.value for v in tracked], ss)

            f = self._fns["tel_delta"] = tf_function(delta)
        return np.asarray(f(snap).numpy(), dtype=np.float64)

    def _pack(self, loss: Any, grads: list[Any], acts: list[Any], y_pred: Any) -> Any:
        lay = self.layout
        assert lay is not None
        parts = [vec([loss if loss is not None else float("nan")]), grad_vec(grads)]
        items: list[Any] = []
        for a, (_, kind) in zip(acts, lay.acts, strict=True):
            items += _act_stats(a, kind)
        if lay.out_stats:
            items += _output_stats(y_pred, lay.probs, lay.n_classes)
        if items:
            parts.append(vec(items))
        return ops.concatenate(parts)

    def _forward_loss(self, x: Any, y: Any) -> tuple[Any, list[Any], Any]:
        acts, y_pred = self.fwd(x)
        loss = None
        if self.has_loss and y is not None:
            loss = self.model._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=None, training=False
            )
        return loss, acts, y_pred

    def _live_mapping(self) -> list[tuple[Any, Any]]:
        """Each model variable mapped to its current value (read here: on TensorFlow inside the
        gradient tape, so gradients flow to the variables). Without a mapping a stateless scope
        gives None for variables it does not know (weight regularizers read them)."""
        m = self.model
        return [(v, v.value) for v in [*m.trainable_variables, *m.non_trainable_variables]]

    def _make_probe(self, compiled: bool = True) -> Any:
        model = self.model
        want_grads = self.has_loss and self.layout is not None and self.layout.n_grads > 0
        scope = keras.StatelessScope
        if self.backend == "tensorflow":
            import tensorflow as tf

            def probe_tf(x: Any, y: Any) -> Any:
                tvars = [v.value for v in model.trainable_variables]
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(tvars)
                    with scope(state_mapping=self._live_mapping()):
                        loss, acts, y_pred = self._forward_loss(x, y)
                grads = (
                    tape.gradient(loss, tvars)
                    if (want_grads and loss is not None)
                    else [None] * len(tvars)
                )
                return self._pack(loss, list(grads), acts, y_pred)

            return tf_function(probe_tf) if compiled else probe_tf
        if self.backend == "jax":
            import jax

            def fwd(tv: Any, ntv: Any, mv: Any, x: Any, y: Any) -> Any:
                mapping = (list(zip(model.trainable_variables, tv, strict=True))
                           + list(zip(model.non_trainable_variables, ntv, strict=True))
                           + list(zip(model.metrics_variables, mv, strict=True)))  # fmt: skip
                with scope(state_mapping=mapping):
                    loss, acts, y_pred = self._forward_loss(x, y)
                if loss is None:
                    loss = ops.convert_to_tensor(0.0, "float32")
                return loss, (acts, y_pred)

            def probe_jax(tv: Any, ntv: Any, mv: Any, x: Any, y: Any) -> Any:
                if want_grads:
                    (loss, (acts, y_pred)), grads = jax.value_and_grad(fwd, has_aux=True)(
                        tv, ntv, mv, x, y
                    )
                    grads = list(grads)
                else:
                    loss, (acts, y_pred) = fwd(tv, ntv, mv, x, y)
                    grads = [None] * len(tv)
                    if not self.has_loss or y is None:
                        loss = None
                return self._pack(loss, grads, acts, y_pred)

            return jax.jit(probe_jax)
        if self.backend == "torch":
            import torch

            def probe_torch(x: Any, y: Any) -> Any:
                tvars = [v.value for v in model.trainable_variables]
                with torch.enable_grad(), scope(state_mapping=self._live_mapping()):
                    loss, acts, y_pred = self._forward_loss(x, y)
                if want_grads and loss is not None and loss.requires_grad:
                    grads = list(torch.autograd.grad(loss, tvars, allow_unused=True))
                else:
                    grads = [None] * len(tvars)
                with torch.no_grad():
                    return self._pack(
                        loss.detach() if loss is not None else None, [g if g is None else g.detach() for g in grads],
                        [a.detach() for a in acts], y_pred.detach())  # fmt: skip

            return probe_torch
        raise RuntimeError(f"the Keras backend {self.backend!r} is not supported for the probe")
