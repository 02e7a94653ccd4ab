"""Keras preflight: the checklist's active checks on a compiled Keras 3 model.

>>> from traindx.adapters.keras import preflight, lr_range_test      # doctest: +SKIP
>>> d = preflight(model, (x, y), val=(xv, yv))      # loss and optimizer from compile()

Every check trains or evaluates a clone (``keras.models.clone_model`` with the weights
copied, a fresh optimizer of the same class and config: the optimizer's moments are not
copied). The global seed generator, NumPy's and Python's RNG streams (and torch's on the
torch backend) are restored, so the model, its optimizer and every RNG stream are left as
they were. Any Keras backend works: gradients come from the backend's own autodiff
(TensorFlow's tape, ``jax.value_and_grad`` over ``stateless_call``, torch autograd).
Not run here: the float64 gradient check (Keras layers keep their dtype policy) - it is
reported as skipped.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from traindx.adapters import _keras_stats as ks
from traindx.adapters._keras_backends import (
    BACKEND_GRADS,
    clone_layer,
    few_threads,
    rng_untouched,
    tf_step,
    torch_step,
)
from traindx.checks import Skip, diagnose_checks, run_check, save
from traindx.checks import measures as M
from traindx.checks.lr_range import LRRangeResult
from traindx.schema import CheckResult, DataInfo, RunContext

__all__ = ["LRRangeResult", "lr_range_test", "preflight"]
ALL_CHECKS = ("data", "init", "output", "grads", "batch", "gradcheck", "overfit", "modes", "dummy", "lr")


class _Setup:
    def __init__(self, model: Any, data: tuple[Any, Any], val: Any, batch_size: int):
        if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
            raise ValueError("preflight: compile the model first (model.compile(optimizer=..., loss=...))")
        self.model, self.opt = model, model.optimizer
        self.loss_obj = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
        if not isinstance(self.loss_obj, keras.losses.Loss) and callable(self.loss_obj):
            from keras.src.losses.losses import LossFunctionWrapper

            # as compile() does: targets and outputs brought to one rank, the mean over the batch
            self.loss_obj = LossFunctionWrapper(self.loss_obj)
        self.info, self.task, _ = ks.loss_info(model.loss)
        self.x, self.y = np.asarray(data[0]), np.asarray(data[1])
        if len(self.x) != len(self.y):
            raise ValueError(f"preflight: {len(self.x)} inputs but {len(self.y)} targets; expected one target per input")
        self.val = (np.asarray(val[0]), np.asarray(val[1])) if val is not None else None
        self.n = max(2, min(batch_size, len(self.x)))
        self.xb, self.yb = self.x[: self.n], self.y[: self.n]
        self.has_norm = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model._flatten_layers())
        out = self.out(self.clone(), self.xb[:2])
        self.width = int(out[0].size)
        if self.task is None:
            if M.is_integer_labels(self.yb) and self.width > 1:
                self.task = "classification"
            elif self.yb.dtype.kind == "f" and self.yb.size == len(self.yb) * self.width:
                self.task = "binary" if np.all((self.yb == 0) | (self.yb == 1)) else "regression"

    def clone(self, with_optimizer: bool = False) -> Any:
        # not recompiled from the compile config (a custom loss function that is not
        # registered cannot be deserialized); the checks use the loss object itself
        compiled = self.model.compiled
        try:
            self.model.compiled = False
            m = keras.models.clone_model(self.model, clone_function=clone_layer)
        finally:
            self.model.compiled = compiled
        m.set_weights(self.model.get_weights())
        for layer in m._flatten_layers():  # adapted preprocessing state (Normalization's mean)
            if hasattr(layer, "finalize_state") and layer.built:
                layer.finalize_state()
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
        return self.reduce(self.loss_obj(y, o[0] if isinstance(o, list | tuple) else o))

    @staticmethod
    def reduce(v: Any) -> Any:
        """A loss function's per-sample values reduced as compile() does (the mean: Keras'
        "sum_over_batch_size"); a Loss object's scalar as it is."""
        return keras.ops.mean(v) if len(keras.ops.shape(v)) else v

    def grads(self, m: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, list[Any]]:
        """The loss (training mode) and its gradient for each trainable variable, by the
        backend's own autodiff (None where the loss does not reach a variable)."""
        return BACKEND_GRADS[keras.backend.backend()](self, m, x, y)

    def step_fn(self, m: Any) -> Callable[[np.ndarray, np.ndarray, float], float]:
        """One training step on clone ``m`` (with its fresh optimizer), returning the loss
        before the update; ``lr`` < 0 keeps the optimizer's LR. TensorFlow: a compiled
        step that skips a non-finite update; torch: an eager backward and
        ``optimizer.apply``; other backends: ``train_on_batch`` on the clone compiled with
        the user's loss."""
        if keras.backend.backend() == "tensorflow":
            return tf_step(self, m)
        if keras.backend.backend() == "torch":
            return torch_step(self, m)
        m.compile(optimizer=m.optimizer, loss=self.model.loss)

        def step(x: np.ndarray, y: np.ndarray, lr: float) -> float:
            if lr >= 0:
                m.optimizer.learning_rate.assign(lr)
            out = m.train_on_batch(x, y)
            return float(out[0] if isinstance(out, list | tuple) else out)

        return step

    def train(self, m: Any, x: np.ndarray, y: np.ndarray, steps: int, budget: float, stop_ratio: float = 0.0) -> list[float]:
        losses: list[float] = []
        t_end = math.inf
        step = self.step_fn(m)
        for _ in range(steps):
            v = float(step(x, y, -1.0))
            losses.append(v)
            if not math.isfinite(v):
                break
            if t_end == math.inf:
                t_end = time.perf_counter() + budget
            if time.perf_counter() > t_end or (stop_ratio and losses[0] > 0 and v <= stop_ratio * losses[0]):
                break
        return losses


_DECLARED = {"softmax", "sigmoid", "relu", "tanh", "linear", "log_softmax"}


def _declared_activation(model: Any) -> str | None:
    """The output layer's activation as written (Dense(activation=...), an Activation or a
    last-axis Softmax layer): values of a saturated output cannot tell it (a sigmoid at
    exactly 1.0 looks linear)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    last = layers[-1] if layers else None
    if isinstance(last, keras.layers.Softmax):
        return "softmax" if last.axis in (-1, len(model.outputs[0].shape) - 1) else None
    fn = getattr(last, "activation", None)
    name = getattr(fn, "__name__", None)
    return name if name in _DECLARED else None


def _check_output(s: _Setup) -> tuple[dict, str]:
    """Output/loss pairing. The output is read in inference mode, or in training mode when
    the model has a BatchNormalization (a fresh one's moving statistics are not the
    data's). The output layer's declared activation, when it has one, names the
    activation. Keras' TensorFlow backend takes the logits of a softmax (sigmoid) output
    layer inside its categorical (binary) cross-entropies, even with from_logits=True: that
    pairing is harmless there, and a double softmax on the other backends."""
    m = s.clone()
    out = s.out(m, s.xb, training=s.has_norm)
    facts, line = M.output_pairing(out, s.yb, s.info.expects, s.task)
    declared = _declared_activation(s.model)
    if declared and facts["activation"] not in ("softmax_batch", declared):
        line += f" (the output layer declares {declared})"
        facts["activation"] = declared
    binary = (s.info.name or "").startswith("binary")
    recovered = (declared == "softmax" and not binary) or (declared == "sigmoid" and binary)
    if recovered and s.info.expects == "logits" and keras.backend.backend() == "tensorflow":
        facts["loss_expects"] = "probabilities"
        line += f" (Keras on TensorFlow takes the {declared}'s logits: the loss reads probabilities)"
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
    norms = [None if gg is None else (0.0 if not np.any(gg) else float(np.linalg.norm(gg))) for gg in g]
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


_NORMALIZERS = ("BatchNormalization", "Normalization")


def _check_data(s: _Setup) -> tuple[dict, str]:
    facts, line = M.data(s.x, s.y, s.task, s.val[0] if s.val is not None else None)
    first = next((layer for layer in s.model.layers if layer.weights), None)
    name = type(first).__name__ if first is not None else None
    return M.input_normalization(facts, line, name, name in _NORMALIZERS)


def _best_mode_loss(s: _Setup, m: Any, x: np.ndarray, y: np.ndarray) -> float:
    """The loss in whichever mode (inference, training) gives the lower one: a few steps
    leave a BatchNormalization's moving statistics far from the data's (momentum 0.99),
    so inference mode alone would understate what the model learned."""
    vals = [float(s.loss(m, x, y, training=t)) for t in (False, True)]
    fin = [v for v in vals if math.isfinite(v)]
    return min(fin) if fin else vals[0]


def _check_dummy(s: _Setup, steps: int, budget: float) -> tuple[dict, str]:
    k = min(len(s.x), 128)
    x, y = s.x[:k], s.y[:k]
    xe, ye = s.val if s.val is not None else (x, y)
    start = float(s.loss(s.clone(), x, y))
    real, zero = s.clone(with_optimizer=True), s.clone(with_optimizer=True)
    s.train(real, x, y, steps, budget / 2)
    s.train(zero, np.zeros_like(x), y, steps, budget / 2)
    facts, line = M.dummy_input(_best_mode_loss(s, real, xe, ye), _best_mode_loss(s, zero, np.zeros_like(xe), ye), start)
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
        v = float(step(s.x[lo: lo + k], s.y[lo: lo + k], float(lr)))
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


def _check_lr(s: _Setup) -> tuple[dict, str, dict]:
    lr = _configured_lr(s.opt)
    if lr is None:
        raise Skip("the optimizer's LR is a schedule; no single configured LR to compare")
    r = _sweep(s)
    return r.check(lr)


def _skip_gradcheck() -> tuple[dict, str]:
    raise Skip("no float64 gradient check for Keras models (layers keep their dtype policy)")


def preflight(
    model: Any, data: tuple[Any, Any], *, val: tuple[Any, Any] | None = None, logdir: str | os.PathLike[str] | None = None,
    batch_size: int = 16, steps: int = 300, checks: tuple[str, ...] = ALL_CHECKS,
) -> Any:
    """Run the preflight checks on clones of a compiled ``model``; the Diagnosis (``.checks``).

    ``data`` is ``(x, y)`` as NumPy arrays (the first ``batch_size`` rows are the small
    batch), ``val`` the validation data. The ``lr`` check keeps its sweep in
    ``series["lrs"]`` / ``series["losses"]``; with ``logdir`` everything goes to
    ``logdir/preflight.json``.
    """
    with rng_untouched(), few_threads(model):
        s = _Setup(model, data, val, batch_size)
        jobs: dict[str, Callable[[], tuple[dict, str]]] = {
            "data": lambda: _check_data(s),
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
    with rng_untouched(), few_threads(model):
        s = _Setup(model, data, None, batch_size)
        return _sweep(s, lr_min, lr_max, steps, budget)
