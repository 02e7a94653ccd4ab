"""The backend-dependent parts of Keras preflight: RNG and thread guards, cloning, and one
training step / one gradient per Keras backend (TensorFlow's tape, ``jax.value_and_grad``
over ``stateless_call``, torch autograd). ``s`` is the preflight setup (loss, model)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np


@contextmanager
def rng_untouched() -> Iterator[None]:
    """Restore Python's and NumPy's RNGs, Keras' global seed generator (its state, or
    its absence) and, on the torch backend, torch's RNG after the block."""
    from keras.src.backend.common import global_state

    py, npy = random.getstate(), np.random.get_state()
    torch_rng = None
    if keras.backend.backend() == "torch":
        import torch

        torch_rng = torch.get_rng_state()
    gen = global_state.get_global_attribute("global_seed_generator")
    state = np.array(gen.state.numpy()) if gen is not None else None
    try:
        keras.utils.set_random_seed  # noqa: B018 - present in every Keras 3
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        if torch_rng is not None:
            import torch

            torch.set_rng_state(torch_rng)
        now = global_state.get_global_attribute("global_seed_generator")
        if gen is None:
            global_state.set_global_attribute("global_seed_generator", None)
        elif now is gen:
            gen.state.assign(state)
        else:
            global_state.set_global_attribute("global_seed_generator", gen)


@contextmanager
def few_threads(model: Any, limit: int = 2_000_000) -> Iterator[None]:
    """On the torch backend, one intra-op thread for a small model (thread hand-offs cost
    more than a tiny layer's maths, far more on a loaded machine); restored afterwards."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    n = torch.get_num_threads()
    try:
        if n > 1 and model.count_params() < limit:
            torch.set_num_threads(1)
        yield
    finally:
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def clone_layer(layer: Any) -> Any:
    """A layer rebuilt from its config; a Lambda whose function cannot be deserialized (a
    library function, a closure) is rebuilt around the same function object."""
    try:
        return layer.__class__.from_config(layer.get_config())
    except (TypeError, ValueError):
        if not isinstance(layer, keras.layers.Lambda):
            raise
        return keras.layers.Lambda(layer.function, output_shape=getattr(layer, "_output_shape", None),
                                   mask=getattr(layer, "mask", None), arguments=layer.arguments, name=layer.name)  # fmt: skip


def tf_step(s: Any, m: Any) -> Callable[[np.ndarray, np.ndarray, float], float]:
    import tensorflow as tf

    @tf.function
    def step(x: Any, y: Any, lr: Any) -> Any:
        with tf.GradientTape() as tape:
            v = s.loss(m, x, y, training=True)
        g = tape.gradient(v, m.trainable_variables)
        if tf.math.is_finite(v):
            if lr >= 0:
                m.optimizer.learning_rate.assign(lr)
            # only the variables the loss reaches (a stop_gradient leaves others at None;
            # zeros made inside the graph for them break TF's gradient all-reduce)
            pairs = [(gg, w) for gg, w in zip(g, m.trainable_variables, strict=True) if gg is not None]
            if pairs:
                m.optimizer.apply([gg for gg, _ in pairs], [w for _, w in pairs])
        return v

    return lambda x, y, lr: float(step(x, y, tf.constant(lr, tf.float32)))


def torch_step(s: Any, m: Any) -> Callable[[np.ndarray, np.ndarray, float], float]:
    import torch

    tv = m.trainable_variables

    def step(x: np.ndarray, y: np.ndarray, lr: float) -> float:
        v, grads = torch_grads(s, m, x, y, keep=True)
        if math.isfinite(v):
            if lr >= 0:
                m.optimizer.learning_rate.assign(lr)
            with torch.no_grad():
                m.optimizer.apply([g if g is not None else torch.zeros_like(w.value) for g, w in zip(grads, tv, strict=True)], tv)
        return v

    return step


def tf_grads(s: Any, m: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, list[Any]]:
    import tensorflow as tf

    with tf.GradientTape() as tape:
        v = s.loss(m, x, y, training=True)
    return float(v), [None if g is None else np.asarray(g) for g in tape.gradient(v, m.trainable_variables)]


def jax_grads(s: Any, m: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, list[Any]]:
    import jax

    ntv = [v.value for v in m.non_trainable_variables]

    def f(tv: list[Any]) -> Any:
        out, _ = m.stateless_call(tv, ntv, x, training=True)
        return s.reduce(s.loss_obj(y, out[0] if isinstance(out, list | tuple) else out))

    v, g = jax.value_and_grad(f)([w.value for w in m.trainable_variables])
    return float(v), [np.asarray(gg) for gg in g]


def torch_grads(s: Any, m: Any, x: np.ndarray, y: np.ndarray, keep: bool = False) -> tuple[float, list[Any]]:
    import torch

    tv = [w.value for w in m.trainable_variables]
    v = s.loss(m, x, y, training=True)
    grads = torch.autograd.grad(v, tv, allow_unused=True) if v.requires_grad else [None] * len(tv)
    if keep:
        return float(v.detach()), list(grads)
    return float(v.detach()), [None if g is None else g.detach().cpu().numpy() for g in grads]


BACKEND_GRADS = {"tensorflow": tf_grads, "jax": jax_grads, "torch": torch_grads}
