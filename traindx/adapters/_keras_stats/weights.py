"""The weights' side of the probe-batch telemetry engine: per-weight squared norms, snapshots
and the update ratio's squared differences (on the host with numpy while the weights are
small, else compiled with keras.ops), a mixin of :class:`.engine.Engine`."""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.adapters._keras_stats.compiling import tf_function
from traindx.adapters._keras_stats.model import BN_LAYERS, leaf_layers, ops
from traindx.adapters._keras_stats.reduce import delta_sq_vec, on_host, weight_sq_vec

#: Update-ratio differences computed eagerly on TensorFlow before the function is traced.
EAGER_DELTAS = 24


def host_values(ws: list[Any], backend: str) -> list[np.ndarray]:
    """The weights' values as numpy arrays. On TensorFlow each variable is read by one
    ``ReadVariableOp`` (what ``np.asarray`` of a variable runs, without its tape and identity
    bookkeeping: 6 variables of the digits MLP 58 against 191 us CPU); the same bytes."""
    if backend != "tensorflow":
        return [np.asarray(w) for w in ws]
    import tensorflow as tf

    out = []
    for w in ws:
        try:
            out.append(tf.raw_ops.ReadVariableOp(resource=w.handle, dtype=w.dtype).numpy())
        except Exception:  # noqa: BLE001 - not a plain resource variable (a tensor, a distributed one)
            out.append(np.asarray(w))
    return out


class WeightStats:
    """Norms, snapshots and differences of the tracked weights (the engine's ``backend``,
    ``tracked``, ``_fns``, ``_deltas``, ``on_host``, ``_compile`` and ``weights``)."""

    backend: str
    tracked: list[Any]
    _fns: dict[str, Any]
    _deltas: int

    def weight_sq(self, ws: list[Any]) -> np.ndarray:
        if self.on_host():
            return on_host(weight_sq_vec, host_values(ws, self.backend))
        f = self._fns.get("wsq")
        if f is None:
            f = self._fns["wsq"] = self._compile(weight_sq_vec)
        return np.asarray(ops.convert_to_numpy(f(ws)), dtype=np.float64)

    def snapshot(self, ws: list[Any]) -> list[Any]:
        if self.on_host():  # host copies (the trainer donates its state: no view is kept)
            return [np.array(w, copy=True) for w in host_values(ws, self.backend)]
        if self.backend == "tensorflow":
            import tensorflow as tf

            f = self._fns.get("snap")
            if f is None:
                f = self._fns["snap"] = tf_function(lambda ws: [tf.identity(w) for w in ws])
            return list(f(ws))
        if self.backend == "jax":
            import jax.numpy as jnp

            return [jnp.array(w, copy=True) for w in ws]
        if self.backend == "torch":
            return [w.detach().clone() for w in ws]
        return [np.array(w, copy=True) for w in ws]

    def copy_behind(self) -> list[Any] | None:
        """JAX, host statistics: copies of the weights dispatched behind the running steps (the
        trainer donates its state), sent to the host, read later. None elsewhere: read at once."""
        if self.backend != "jax" or not self.on_host():
            return None
        import jax

        out = [jax.device_put(w, may_alias=False) for w in self.weights()]  # no compile (jnp.array: 30 ms)
        for c in out:
            c.copy_to_host_async()
        return out

    def delta_sq(self, ws: list[Any], snap: list[Any]) -> np.ndarray:
        """Squared norms of ``ws - snap`` per weight."""
        if self.on_host():
            ss = [np.asarray(s) for s in snap]
            return on_host(delta_sq_vec, host_values(ws, self.backend), ss)
        f = self._fns.get("dsq")
        if f is None:
            f = self._fns["dsq"] = self._compile(delta_sq_vec)
        return np.asarray(ops.convert_to_numpy(f(ws, snap)), dtype=np.float64)

    def delta(self, snap: list[Any]) -> np.ndarray:
        """Squared norms of (current weights - snapshot), per tracked weight. On TensorFlow
        eagerly for the first ``EAGER_DELTAS`` calls, then one traced function: tracing it
        costs about what 25 eager calls do, so a short fit never pays it."""
        if self.backend != "tensorflow" or self.on_host():
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


def bn_stats_at_init(model: Any) -> dict[str, float]:
    """The batch-norm layers' moving statistics, read at the end of a fit (issue 10: a custom
    ``train_step`` calling ``self(x, training=False)`` runs BatchNormalization in inference
    mode, and the moving statistics never move): ``bn_layers`` (layers of a BN type with
    moving statistics and the default zeros/ones initializers) and ``bn_stats_at_init`` (of
    those, layers whose moving mean is still exactly 0 and moving variance exactly 1; one
    training-mode call moves both). Empty where the model has no such layer. A fact: the
    rulebook reads it with the steps taken (``bn_stats_steps``)."""
    n = at_init = 0
    for layer in leaf_layers(model):
        if type(layer).__name__ not in BN_LAYERS:
            continue
        mean, var = getattr(layer, "moving_mean", None), getattr(layer, "moving_variance", None)
        if mean is None or var is None:
            continue
        inits = (getattr(layer, "moving_mean_initializer", None), getattr(layer, "moving_variance_initializer", None))
        if [type(i).__name__ for i in inits] != ["Zeros", "Ones"]:
            continue  # initial values other than 0/1: "still at them" is not readable here
        n += 1
        m, v = np.asarray(ops.convert_to_numpy(mean)), np.asarray(ops.convert_to_numpy(var))
        at_init += int(bool(np.all(m == 0.0) and np.all(v == 1.0)))
    return {"bn_layers": float(n), "bn_stats_at_init": float(at_init)} if n else {}
