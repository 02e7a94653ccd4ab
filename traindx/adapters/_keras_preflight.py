"""Keras preflight: the checklist's active checks on a compiled Keras 3 model.

>>> from traindx.adapters.keras import preflight, lr_range_test      # doctest: +SKIP
>>> d = preflight(model, (x, y), val=(xv, yv))      # loss and optimizer from compile()

Every check trains or evaluates a clone (``keras.models.clone_model`` with the weights
copied, a fresh optimizer of the same class and config: the optimizer's moments are not
copied). The global seed generator, NumPy's and Python's RNG streams are restored, so the
model, its optimizer and every RNG stream are left as they were. Not run here: the float64
gradient check (Keras layers keep their dtype policy) - it is reported as skipped.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np

from traindx.adapters import _keras_stats as ks
from traindx.checks import Skip, diagnose_checks, run_check, save
from traindx.checks import measures as M
from traindx.checks.lr_range import LRRangeResult
from traindx.schema import CheckResult, DataInfo, RunContext

__all__ = ["LRRangeResult", "lr_range_test", "preflight"]
ALL_CHECKS = ("data", "init", "output", "grads", "batch", "gradcheck", "overfit", "modes", "dummy", "lr")


@contextmanager
def rng_untouched() -> Iterator[None]:
    """Restore Python's and NumPy's RNGs and Keras' global seed generator (its state, or
    its absence) after the block."""
    from keras.src.backend.common import global_state

    py, npy = random.getstate(), np.random.get_state()
    gen = global_state.get_global_attribute("global_seed_generator")
    state = np.array(gen.state.numpy()) if gen is not None else None
    try:
        keras.utils.set_random_seed  # noqa: B018 - present in every Keras 3
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        now = global_state.get_global_attribute("global_seed_generator")
        if gen is None:
            global_state.set_global_attribute("global_seed_generator", None)
        elif now is gen:
            gen.state.assign(state)
        else:
            global_state.set_global_attribute("global_seed_generator", gen)


class _Setup:
    def __init__(self, model: Any, data: tuple[Any, Any], val: Any, batch_size: int):
        if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
            raise ValueError("preflight: compile the model first (model.compile(optimizer=..., loss=...))")
        self.model, self.opt = model, model.optimizer
        self.loss_obj = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
        self.info, self.task, _ = ks.loss_info(model.loss)
        self.x, self.y = np.asarray(data[0]), np.asarray(data[1])
        if len(self.x) != len(self.y):
            raise ValueError(f"preflight: {len(self.x)} inputs but {len(self.y)} targets; expected one target per input")
        self.val = (np.asarray(val[0]), np.asarray(val[1])) if val is not None else None
        self.n = max(2, min(batch_size, len(self.x)))
        self.xb, self.yb = self.x[: self.n], self.y[: self.n]
        out = self.out(self.clone(), self.xb[:2])
        self.width = int(out[0].size)
        if self.task is None:
            if M.is_integer_labels(self.yb) and self.width > 1:
                self.task = "classification"
            elif self.yb.dtype.kind == "f" and self.yb.size == len(self.yb) * self.width:
                self.task = "binary" if np.all((self.yb == 0) | (self.yb == 1)) else "regression"

    def clone(self, with_optimizer: bool = False) -> Any:
        m = keras.models.clone_model(self.model)
        m.set_weights(self.model.get_weights())
        if with_optimizer:
            m.optimizer = type(self.opt).from_config(self.opt.get_config())
        return m

    @staticmethod
    def out(m: Any, x: np.ndarray, training: bool = False) -> np.ndarray:
        o = m(x, training=training)
        o = o[0] if isinstance(o, list | tuple) else o
        return np.asarray(keras.ops.convert_to_numpy(o))

    def loss(self, m: Any, x: np.ndarray, y: np.ndarray, training: bool = False) -> Any:
        o = m(x, training=training)
        return self.loss_obj(y, o[0] if isinstance(o, list | tuple) else o)

    def grads(self, m: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, list[Any]]:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            v = self.loss(m, x, y, training=True)
        return float(v), tape.gradient(v, m.trainable_variables)

    def step_fn(self, m: Any) -> Callable[..., Any]:
        """One compiled training step on clone ``m`` (loss before the update); ``lr`` < 0
        keeps the optimizer's LR."""
        import tensorflow as tf

        @tf.function
        def step(x: Any, y: Any, lr: Any) -> Any:
            with tf.GradientTape() as tape:
                v = self.loss(m, x, y, training=True)
            g = tape.gradient(v, m.trainable_variables)
            if tf.math.is_finite(v):
                if lr >= 0:
                    m.optimizer.learning_rate.assign(lr)
                m.optimizer.apply([gg if gg is not None else tf.zeros_like(w) for gg, w in zip(g, m.trainable_variables, strict=True)], m.trainable_variables)
            return v

        return step

    def train(self, m: Any, x: np.ndarray, y: np.ndarray, steps: int, budget: float, stop_ratio: float = 0.0) -> list[float]:
        losses: list[float] = []
        t_end = math.inf
        step = self.step_fn(m)
        for _ in range(steps):
            v = float(step(x, y, keras.ops.convert_to_tensor(-1.0, "float32")))
            losses.append(v)
            if not math.isfinite(v):
                break
            if t_end == math.inf:
                t_end = time.perf_counter() + budget
            if time.perf_counter() > t_end or (stop_ratio and losses[0] > 0 and v <= stop_ratio * losses[0]):
                break
        return losses


def _check_output(s: _Setup) -> tuple[dict, str]:
    """Output/loss pairing. Keras (TensorFlow backend) recovers the logits of a Softmax
    layer inside its cross-entropies, so a softmax into a from_logits loss can be harmless:
    the loss's value tells (probabilities read as probabilities, not softmaxed again)."""
    m = s.clone()
    out = s.out(m, s.xb)
    facts, line = M.output_pairing(out, s.yb, s.info.expects, s.task)
    if facts["activation"] == "softmax" and s.info.expects == "logits" and s.task == "classification" and M.is_integer_labels(s.yb):
        lab = s.yb.reshape(-1).astype(int)
        as_probs = float(-np.mean(np.log(np.clip(out[np.arange(len(lab)), lab], 1e-12, None))))
        sm = np.exp(out - out.max(1, keepdims=True))
        as_logits = float(-np.mean(np.log((sm / sm.sum(1, keepdims=True))[np.arange(len(lab)), lab])))
        got = float(s.loss(m, s.xb, s.yb))
        if abs(got - as_probs) < abs(got - as_logits):
            facts["loss_expects"] = "probabilities"
            line += " (Keras recovers the softmax's logits: the loss reads probabilities)"
    return facts, line


def _check_init(s: _Setup) -> tuple[dict, str]:
    k = min(len(s.x), 256)
    m = s.clone()
    loss = float(s.loss(m, s.x[:k], s.y[:k], training=True))
    chance = M.uniform_loss(s.y, s.task, s.width) if s.task else None
    prior = M.chance_loss(s.y, s.task) if s.task else None
    if s.task == "regression" and s.info.name != "mse":
        chance = prior = None
    return M.initial_loss(loss, chance, s.out(m, s.x[:k], training=True), prior)


def _check_grads(s: _Setup) -> tuple[dict, str]:
    m = s.clone()
    _, g = s.grads(m, s.xb, s.yb)
    if not m.trainable_variables:
        raise Skip("the model has no trainable weights")
    norms = [None if gg is None else (0.0 if not np.any(np.asarray(gg)) else float(np.linalg.norm(np.asarray(gg)))) for gg in g]
    return M.gradient_flow([w.path for w in m.trainable_variables], norms, [], [])


def _check_batch(s: _Setup) -> tuple[dict, str]:
    if s.n < 3:
        raise Skip("needs a batch of at least 3 examples")
    j = next((k for k in range(s.n - 1, 0, -1) if not np.array_equal(s.xb[k], s.xb[0])), None)
    if j is None:
        raise Skip("all examples of the batch are identical")
    m = s.clone()
    x2 = s.xb.copy()
    x2[0] = s.xb[j]
    a, b, again = s.out(m, s.xb), s.out(m, x2), s.out(m, s.xb)
    if not np.array_equal(a, again):
        raise Skip("inference outputs differ between two passes on one input (see modes)")
    return M.batch_mixing(a, b, [0])


def _check_overfit(s: _Setup, steps: int, budget: float) -> tuple[dict, str]:
    m = s.clone(with_optimizer=True)
    before = [np.array(w) for w in m.get_weights()]
    losses = s.train(m, s.xb, s.yb, steps, budget, stop_ratio=0.05)
    stepped = len(losses) > 1 or (len(losses) == 1 and math.isfinite(losses[0]))
    changed = any(not np.array_equal(a, b) for a, b in zip(before, m.get_weights(), strict=True)) if stepped else None
    return M.overfit(losses, changed)


def _check_modes(s: _Setup) -> tuple[dict, str]:
    m = s.clone()
    a, b = s.out(m, s.xb), s.out(m, s.xb)
    t = s.out(m, s.xb, training=True)
    kinds = {type(layer).__name__ for layer in s.model._flatten_layers()}
    has_norm = any("BatchNormalization" in k for k in kinds)
    return M.modes(a, b, t, any("Dropout" in k for k in kinds), has_norm, True)


def _check_dummy(s: _Setup, steps: int, budget: float) -> tuple[dict, str]:
    k = min(len(s.x), 128)
    x, y = s.x[:k], s.y[:k]
    xe, ye = s.val if s.val is not None else (x, y)
    start = float(s.loss(s.clone(), x, y))
    real, zero = s.clone(with_optimizer=True), s.clone(with_optimizer=True)
    s.train(real, x, y, steps, budget / 2)
    s.train(zero, np.zeros_like(x), y, steps, budget / 2)
    facts, line = M.dummy_input(float(s.loss(real, xe, ye)), float(s.loss(zero, np.zeros_like(xe), ye)), start)
    rt = float(s.loss(real, x, y))
    facts["real_drop"] = float(1 - rt / start) if start > 0 and math.isfinite(rt) else 0.0
    facts["on_val"] = s.val is not None
    return facts, line + (" on validation data" if s.val is not None else " on the training rows")


def _configured_lr(opt: Any) -> float | None:
    lr = opt.learning_rate
    try:
        return float(keras.ops.convert_to_numpy(lr))
    except Exception:  # noqa: BLE001 - a schedule
        return None


def _sweep(s: _Setup, lr_min: float = 1e-7, lr_max: float = 10.0, steps: int = 60, budget: float = 2.0) -> LRRangeResult:
    m = s.clone(with_optimizer=True)
    if not isinstance(m.optimizer._learning_rate, keras.Variable):  # a schedule: cannot be set
        raise Skip("the optimizer's LR is a schedule; the sweep needs a constant LR")
    lrs = np.exp(np.linspace(math.log(lr_min), math.log(lr_max), steps))
    tried: list[float] = []
    losses: list[float] = []
    best, t0, n, k = math.inf, math.inf, len(s.x), s.n
    step = s.step_fn(m)
    for i, lr in enumerate(lrs):
        lo = (i * k) % max(n - k + 1, 1)
        v = float(step(s.x[lo: lo + k], s.y[lo: lo + k], keras.ops.convert_to_tensor(float(lr), "float32")))
        tried.append(float(lr))
        losses.append(v)
        if not math.isfinite(v):
            break
        if t0 == math.inf:
            t0 = time.perf_counter()
        best = min(best, v)
        if (v > 4 * best and i > 5) or time.perf_counter() - t0 > budget:
            break
    sug, blow, steep = M.suggest_lr(np.array(tried), np.array(losses))
    return LRRangeResult(tried, losses, sug, blow, steep)


def _check_lr(s: _Setup) -> tuple[dict, str]:
    lr = _configured_lr(s.opt)
    if lr is None:
        raise Skip("the optimizer's LR is a schedule; no single configured LR to compare")
    r = _sweep(s)
    facts: dict[str, Any] = {"configured": lr, "never_fell": r.suggested_lr is None and r.blowup_lr is None}
    if r.suggested_lr is not None:
        facts["suggested"] = r.suggested_lr
    if r.blowup_lr is not None:
        facts["blowup"] = r.blowup_lr
    return facts, f"configured LR {lr:.3g}; sweep suggests {r.suggested_lr}, blows up at {r.blowup_lr}"


def _skip_gradcheck() -> tuple[dict, str]:
    raise Skip("no float64 gradient check for Keras models (layers keep their dtype policy)")


def preflight(
    model: Any, data: tuple[Any, Any], *, val: tuple[Any, Any] | None = None, logdir: str | os.PathLike[str] | None = None,
    batch_size: int = 16, steps: int = 300, checks: tuple[str, ...] = ALL_CHECKS,
) -> Any:
    """Run the preflight checks on clones of a compiled ``model``; the Diagnosis (``.checks``)."""
    with rng_untouched():
        s = _Setup(model, data, val, batch_size)
        jobs: dict[str, Callable[[], tuple[dict, str]]] = {
            "data": lambda: M.data(s.x, s.y, s.task, s.val[0] if s.val is not None else None),
            "init": lambda: _check_init(s),
            "output": lambda: _check_output(s),
            "grads": lambda: _check_grads(s), "batch": lambda: _check_batch(s), "gradcheck": _skip_gradcheck,
            "overfit": lambda: _check_overfit(s, steps, 2.0), "modes": lambda: _check_modes(s),
            "dummy": lambda: _check_dummy(s, 60, 2.0), "lr": lambda: _check_lr(s),
        }  # fmt: skip
        results: list[CheckResult] = [run_check(name, jobs[name]) for name in checks]
    ctx = RunContext(
        framework="keras", framework_version=keras.__version__, loss=s.info,
        optimizer=ks.optimizer_info(model.optimizer)[0],
        data=DataInfo(n_train=len(s.x), n_val=len(s.val[0]) if s.val is not None else None, task=s.task),  # type: ignore[arg-type]
    )
    d = diagnose_checks(results, ctx)
    if logdir is not None:
        save(logdir, d.checks, ctx)
    return d


def lr_range_test(model: Any, data: tuple[Any, Any], *, lr_min: float = 1e-7, lr_max: float = 10.0, steps: int = 80,
                  batch_size: int = 32, budget: float = 10.0) -> LRRangeResult:
    """Exponential LR sweep on a clone with the compiled optimizer's class and config."""
    with rng_untouched():
        s = _Setup(model, data, None, batch_size)
        return _sweep(s, lr_min, lr_max, steps, budget)
