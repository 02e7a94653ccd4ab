"""The probe-batch telemetry engine: activations, outputs and gradients in one fused pass with
keras.ops (on JAX the statistics of that pass, and the weights', run on the host)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from traindx.adapters._keras_stats.compiling import fast_compile, tf_function
from traindx.adapters._keras_stats.config import host_float
from traindx.adapters._keras_stats.model import BACKEND, ops
from traindx.adapters._keras_stats.reduce import (
    act_stats,
    grad_vec,
    on_host,
    output_stats,
    vec,
    weight_sq_vec,
)
from traindx.adapters._keras_stats.weights import EAGER_DELTAS, WeightStats  # noqa: F401 (EAGER_DELTAS re-exported)

#: JAX and TensorFlow: weights of at most this many bytes get their statistics on the host
#: (numpy, nothing compiled). A per-layer sample (norms, snapshot, difference) there against
#: jitted functions on JAX (0.07 s of compiles; CPU ms, 8 arrays): 0.1M float32 parameters
#: 0.23 vs 0.23, 0.3M 0.36 vs 0.46, 1M 4.3 vs 1.2, 3M 10 vs 3.9: past the CPU caches the
#: copies cost more than a run's samples save in compiles.
HOST_LIMIT = 2 << 20
#: JAX: probe calls on the fast-compiled path before its forward/backward is compiled as jax.jit does.
#: Per call (CPU ms, fast / default compile): digits MLP 1.5 / 1.0, small CNN 14.8 / 4.6; the
#: default compile costs 0.25-0.6 s more: only a long run pays it, and gets it back.
FAST_PROBES = 32


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


class Engine(WeightStats):
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
        self._host: bool | None = None  # statistics on the host (decided at the first use)
        self._probes = 0  # probe calls on the host path (JAX)
        self.one_off = 0.0  # seconds of compiling the caller has not yet counted as one-off
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

    def on_host(self) -> bool:
        """Weights of at most :data:`HOST_LIMIT` bytes on JAX or TensorFlow: their statistics
        with numpy on the host (on JAX the probe's too; on TensorFlow a telemetry step keeps
        its one traced function, the samples and update ratios trace none)."""
        if self._host is None:
            size = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in self.tracked)
            self._host = self.backend in ("jax", "tensorflow") and size <= HOST_LIMIT
        return self._host

    def probe(self, x: Any, y: Any) -> np.ndarray:
        """The probe vector. On JAX with small weights: the forward/backward compiled fast for
        :data:`FAST_PROBES` calls, then as ``jax.jit`` does (a one-off, in ``one_off``), host
        statistics (compiled too they doubled that compile, CNN 0.59 -> 1.05 s, no faster)."""
        if self.backend == "jax" and self.on_host():
            self._probes += 1
            if self._probes > FAST_PROBES and "probe_jit" not in self._fns:
                import jax

                t = time.perf_counter()
                self._fns["probe_jit"] = self._fns["probe_raw"] = jax.jit(self._make_probe(compiled=False))
                out = self._probe_host(x, y)
                self.one_off += time.perf_counter() - t
                return out
            return self._probe_host(x, y)
        f = self._fns.get("probe")
        if f is None:
            f = self._fns["probe"] = self._make_probe()
        if self.backend == "jax":
            tv, ntv, mv = self.state()
            return np.asarray(f(tv, ntv, mv, x, y), dtype=np.float64)
        return np.asarray(ops.convert_to_numpy(f(x, y)), dtype=np.float64)

    def _probe_host(self, x: Any, y: Any) -> np.ndarray:
        """JAX: the compiled forward/backward gives the loss, gradients, activations and output;
        the statistics run on the host (compiling them took 0.3 s more on the digits MLP)."""
        import jax

        args = (*self.state(), x, y)
        f = self._fns.get("probe_raw")
        if f is None:
            f = self._fns["probe_raw"] = fast_compile(self._make_probe(compiled=False), args)
        try:
            out = f(*args)
        except (TypeError, ValueError):  # arguments the compiled call was not made for: retrace
            f = self._fns["probe_raw"] = jax.jit(self._make_probe(compiled=False))
            out = f(*args)
        loss, grads, acts, y_pred = jax.device_get(out)
        return on_host(self._pack, loss, grads, acts, y_pred)

    def telemetry(
        self, xy: tuple[Any, Any] | None
    ) -> tuple[np.ndarray, list[Any], np.ndarray | None]:
        """Squared norms of the tracked weights, a snapshot of them, and the probe vector
        (None without a probe): on TensorFlow one compiled call reading the variables."""
        if self.on_host() and (xy is None or self.backend == "jax"):  # one host copy: norms, snapshot
            snap = self.snapshot(self.weights())
            sq = on_host(weight_sq_vec, snap) if snap else np.zeros(0)
            return sq, snap, (self.probe(*xy) if xy is not None else None)
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

    def _pack(self, loss: Any, grads: list[Any], acts: list[Any], y_pred: Any, xp: Any = ops) -> Any:
        lay = self.layout
        assert lay is not None
        parts = [vec([loss if loss is not None else float("nan")], xp), grad_vec(grads, xp)]
        items: list[Any] = []
        for a, (_, kind) in zip(acts, lay.acts, strict=True):
            items += act_stats(a, kind, xp)
        if lay.out_stats:
            items += output_stats(y_pred, lay.probs, lay.n_classes, xp)
        if items:
            parts.append(vec(items, xp))
        return xp.concatenate(parts)

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
                """The loss, gradients, activations and output (the statistics: on the host)."""
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
                return loss, grads, list(acts), y_pred

            if not compiled:
                return probe_jax
            return jax.jit(lambda *a: self._pack(*probe_jax(*a)))
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
