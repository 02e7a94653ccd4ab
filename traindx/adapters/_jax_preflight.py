"""JAX preflight: the checklist's active checks on a pure ``apply_fn`` and ``loss_fn``.

>>> from traindx.adapters.jax import preflight, lr_range_test      # doctest: +SKIP
>>> d = preflight(apply_fn, params, loss_fn, (x, y), optimizer=tx, val=(xv, yv))
>>> d = preflight(nnx_or_eqx_module, loss_fn, (x, y), optimizer=tx)   # loss_fn(module, x, y)
>>> r = lr_range_test(apply_fn, params, loss_fn, (x, y), optimizer=lambda lr: optax.adam(lr))

``apply_fn(params, x)`` gives the outputs, ``loss_fn(params, x, y)`` the scalar loss (it
calls the model itself); flax linen is this form (``model.apply``, the variables from
``model.init``). A flax nnx or equinox module is taken as it is (traindx.adapters._jax_models
splits it). Parameters are immutable pytrees, so every check works on new
arrays; numpy's and Python's RNG streams are restored, and no JAX key is consumed (the
checks take their own). The LR check needs the configured LR: an optimizer made with
``optax.inject_hyperparams`` (its state holds ``learning_rate``), or ``lr=``.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from traindx.adapters._jax_models import ModelForm, model_form, path_name
from traindx.checks import Skip, diagnose_checks, run_check, save
from traindx.checks import measures as M
from traindx.checks.lr_range import LRRangeResult
from traindx.schema import CheckResult, DataInfo, RunContext

__all__ = ["LRRangeResult", "lr_range_test", "preflight"]
ALL_CHECKS = ("data", "init", "output", "grads", "batch", "gradcheck", "overfit", "modes", "dummy", "lr")


@contextmanager
def _rng_untouched():
    py, npy = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)


def _optax() -> Any:
    import optax

    return optax


def _leaves(tree: Any) -> list[tuple[str, jax.Array]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(path_name(p), v) for p, v in flat if hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.inexact)]


class _Setup:
    def __init__(self, form: ModelForm, data: tuple, tx: Any, val: Any, batch_size: int):
        self.form, self.params, self.tx = form, form.params, tx
        self.apply, loss_fn = jax.jit(form.apply), form.loss
        self.x, self.y = jnp.asarray(data[0]), jnp.asarray(data[1])
        if len(self.x) != len(self.y):
            raise ValueError(f"preflight: {len(self.x)} inputs but {len(self.y)} targets; expected one target per input")
        self.val = (jnp.asarray(val[0]), jnp.asarray(val[1])) if val is not None else None
        self.n = max(2, min(batch_size, len(self.x)))
        self.xb, self.yb = self.x[: self.n], self.y[: self.n]
        # everything is compiled (a module form run op by op - equinox's vmap, nnx's merge -
        # costs far more than compiling); the training step once per optimizer
        self.loss_fn = loss_fn
        raw = lambda p, x, y: jnp.reshape(loss_fn(p, x, y), ())  # noqa: E731
        self.loss = jax.jit(raw)
        self.grad = jax.jit(jax.value_and_grad(raw))
        self._steps: dict[int, Any] = {}
        out = np.asarray(self.apply(self.params, self.xb))
        y = np.asarray(self.yb)
        self.width = int(out[0].size) if out.ndim else 1
        # the loss is opaque: which standard loss its value matches tells what it expects
        self.expects, task = M.infer_loss(out, y, float(self.loss(self.params, self.xb, self.yb)))
        if task is not None:
            self.task: str | None = task
        elif M.is_integer_labels(y) and self.width > 1:
            self.task = "classification"
        elif y.dtype.kind == "f" and y.size == len(y) * self.width:
            self.task = "binary" if np.all((y == 0) | (y == 1)) else "regression"
        else:
            self.task = None

    def step_fn(self, tx: Any) -> Any:
        if id(tx) not in self._steps:
            optax = _optax()

            @jax.jit
            def step(p: Any, state: Any, x: jax.Array, y: jax.Array) -> tuple[jax.Array, Any, Any]:
                v, g = self.grad(p, x, y)
                upd, state = tx.update(g, state, p)
                return v, optax.apply_updates(p, upd), state

            self._steps[id(tx)] = (tx, step)
        return self._steps[id(tx)][1]

    def train(self, tx: Any, x: jax.Array, y: jax.Array, steps: int, budget: float, stop_ratio: float = 0.0) -> tuple[list[float], Any]:
        step = self.step_fn(tx)
        p, state = self.params, tx.init(self.params)
        losses: list[float] = []
        t_end = math.inf  # the budget starts after the first (compiling) step
        for _ in range(steps):
            v, p2, state = step(p, state, x, y)
            if t_end == math.inf:
                t_end = time.perf_counter() + budget
            losses.append(float(v))
            if not math.isfinite(losses[-1]):
                break
            p = p2
            if time.perf_counter() > t_end or (stop_ratio and losses[0] > 0 and losses[-1] <= stop_ratio * losses[0]):
                break
        return losses, p


_DEFAULT_TX: list[Any] = []


def _tx(s: _Setup) -> Any:
    if s.tx is not None:
        return s.tx
    if not _DEFAULT_TX:
        _DEFAULT_TX.append(_optax().adam(1e-3))
    return _DEFAULT_TX[0]


def _check_init(s: _Setup) -> tuple[dict, str]:
    k = min(len(s.x), 256)
    loss = float(s.loss(s.params, s.x[:k], s.y[:k]))
    out = np.asarray(s.apply(s.params, s.x[:k]))
    y = np.asarray(s.y)
    chance = M.uniform_loss(y, s.task, s.width) if s.task else None
    return M.initial_loss(loss, chance, out, M.chance_loss(y, s.task) if s.task else None)


def _check_grads(s: _Setup) -> tuple[dict, str]:
    _, g = s.grad(s.params, s.xb, s.yb)
    leaves = _leaves(g)
    if not leaves:
        raise Skip("the parameters hold no floating-point arrays")
    norms = [0.0 if not bool(jnp.any(v != 0)) else float(jnp.linalg.norm(v.ravel().astype(jnp.float32))) for _, v in leaves]
    return M.gradient_flow([n for n, _ in leaves], norms, [], [])


def _check_batch(s: _Setup) -> tuple[dict, str]:
    if s.n < 3:
        raise Skip("needs a batch of at least 3 examples")
    j = next((k for k in range(s.n - 1, 0, -1) if not bool(jnp.array_equal(s.xb[k], s.xb[0]))), None)
    if j is None:
        raise Skip("all examples of the batch are identical")
    a, b = np.asarray(s.apply(s.params, s.xb)), np.asarray(s.apply(s.params, s.xb.at[0].set(s.xb[j])))
    if a.ndim == 0 or a.shape[0] != s.n:
        raise Skip(f"the output's first axis ({a.shape}) is not the batch")
    return M.batch_mixing(a, b, [0])


def _check_gradcheck(s: _Setup) -> tuple[dict, str]:
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda v: v.astype(jnp.float64) if jnp.issubdtype(v.dtype, jnp.floating) else v, s.params)
        x = s.xb[:8].astype(jnp.float64) if jnp.issubdtype(s.xb.dtype, jnp.floating) else s.xb[:8]
        y = s.yb[:8].astype(jnp.float64) if jnp.issubdtype(s.yb.dtype, jnp.floating) else s.yb[:8]
        f = jax.jit(lambda p: jnp.reshape(s.loss_fn(p, x, y), ()))
        g = jax.jit(jax.grad(lambda p: jnp.reshape(s.loss_fn(p, x, y), ())))(p64)
        flat, tree = jax.tree_util.tree_flatten(p64)
        gflat = jax.tree_util.tree_leaves(g)
        idx = [i for i, v in enumerate(flat) if jnp.issubdtype(v.dtype, jnp.floating)]
        if not idx:
            raise Skip("no floating-point parameters")
        ana, num = [], []
        for li in sorted({idx[0], idx[len(idx) // 2], idx[-1]}):
            v = flat[li]
            for e in np.linspace(0, v.size - 1, min(4, v.size)).astype(int):
                old = float(v.ravel()[e])
                h = 1e-6 * max(1.0, abs(old))

                def at(val: float, li: int = li, e: int = e, v: jax.Array = v) -> float:
                    leaves = list(flat)
                    leaves[li] = v.ravel().at[e].set(val).reshape(v.shape)
                    return float(f(jax.tree_util.tree_unflatten(tree, leaves)))

                num.append((at(old + h) - at(old - h)) / (2 * h))
                ana.append(float(gflat[li].ravel()[e]))
    return M.gradient_check(np.array(ana), np.array(num))


def _check_overfit(s: _Setup, steps: int, budget: float) -> tuple[dict, str]:
    losses, p = s.train(_tx(s), s.xb, s.yb, steps, budget, stop_ratio=0.05)
    stepped = len(losses) > 1 or (len(losses) == 1 and math.isfinite(losses[0]))
    changed = any(not bool(jnp.array_equal(a, b)) for a, b in zip(jax.tree_util.tree_leaves(s.params), jax.tree_util.tree_leaves(p), strict=True)) if stepped else None
    facts, line = M.overfit(losses, changed)
    return facts, line + ("" if s.tx is not None else " (no optimizer given: optax.adam(1e-3))")


def _check_modes(s: _Setup) -> tuple[dict, str]:
    f = s.form
    a, b = np.asarray(s.apply(s.params, s.xb)), np.asarray(s.apply(s.params, s.xb))
    t = np.asarray(f.apply_train(s.params, s.xb)) if f.apply_train is not None else None
    return M.modes(a, b, t, f.has_dropout, f.has_norm, f.training)


def _check_dummy(s: _Setup, steps: int, budget: float) -> tuple[dict, str]:
    k = min(len(s.x), 128)
    x, y = s.x[:k], s.y[:k]
    xe, ye = s.val if s.val is not None else (x, y)
    start = float(s.loss(s.params, x, y))
    _, p_real = s.train(_tx(s), x, y, steps, budget / 2)
    _, p_zero = s.train(_tx(s), jnp.zeros_like(x), y, steps, budget / 2)
    facts, line = M.dummy_input(float(s.loss(p_real, xe, ye)), float(s.loss(p_zero, jnp.zeros_like(xe), ye)), start)
    real_train = float(s.loss(p_real, x, y))
    facts["real_drop"] = float(1 - real_train / start) if start > 0 and math.isfinite(real_train) else 0.0
    facts["on_val"] = s.val is not None
    return facts, line + (" on validation data" if s.val is not None else " on the training rows")


def _configured_lr(tx: Any, params: Any) -> float | None:
    try:
        hp = getattr(tx.init(params), "hyperparams", None)
    except Exception:  # noqa: BLE001
        return None
    return float(hp["learning_rate"]) if isinstance(hp, dict) and "learning_rate" in hp else None


def _sweep(s: _Setup, make: Callable[[float], Any], lr_min: float = 1e-7, lr_max: float = 10.0, steps: int = 60, budget: float = 2.0) -> LRRangeResult:
    optax = _optax()
    tx = optax.inject_hyperparams(lambda learning_rate: make(learning_rate))(learning_rate=lr_min)  # any factory's argument name
    p, state = s.params, tx.init(s.params)

    @jax.jit
    def step(p: Any, state: Any, lr: jax.Array, x: jax.Array, y: jax.Array) -> tuple[jax.Array, Any, Any]:
        state.hyperparams["learning_rate"] = lr
        v, g = s.grad(p, x, y)
        upd, state = tx.update(g, state, p)
        return v, optax.apply_updates(p, upd), state

    lrs = np.exp(np.linspace(math.log(lr_min), math.log(lr_max), steps))
    tried: list[float] = []
    losses: list[float] = []
    best, t0, n, k = math.inf, math.inf, len(s.x), s.n
    for i, lr in enumerate(lrs):
        lo = (i * k) % max(n - k + 1, 1)
        v, p, state = step(p, state, jnp.asarray(lr, jnp.float32), s.x[lo: lo + k], s.y[lo: lo + k])
        if t0 == math.inf:  # the budget starts after the first (compiling) step
            t0 = time.perf_counter()
        tried.append(float(lr))
        losses.append(float(v))
        if not math.isfinite(losses[-1]):
            break
        best = min(best, losses[-1])
        if (losses[-1] > 4 * best and i > 5) or time.perf_counter() - t0 > budget:
            break
    sug, blow, steep = M.suggest_lr(np.array(tried), np.array(losses))
    return LRRangeResult(tried, losses, sug, blow, steep)


def _check_lr(s: _Setup, lr: float | None, make: Callable[[float], Any] | None) -> tuple[dict, str, dict]:
    lr = lr if lr is not None else (_configured_lr(s.tx, s.params) if s.tx is not None else None)
    if lr is None:
        raise Skip("the optimizer's LR cannot be read: build it with optax.inject_hyperparams, or pass lr=")
    if make is None:
        raise Skip("no optimizer factory to sweep with: pass make_optimizer=lambda lr: optax.adam(lr)")
    r = _sweep(s, make)
    return r.check(lr)


def preflight(
    model: Any, *args: Any, optimizer: Any = None, val: tuple[Any, Any] | None = None,
    logdir: str | os.PathLike[str] | None = None, batch_size: int = 16, steps: int = 300, lr: float | None = None,
    make_optimizer: Callable[[float], Any] | None = None, apply_fn: Callable | None = None,
    checks: tuple[str, ...] = ALL_CHECKS,
) -> Any:
    """Run the preflight checks and return the Diagnosis (``.checks``). Two call shapes::

        preflight(apply_fn, params, loss_fn, (x, y), optimizer=tx)   # plain pytree params, flax linen
        preflight(module, loss_fn, (x, y), optimizer=tx)             # flax nnx.Module, equinox Module

    Plain or linen: ``apply_fn(params, x)`` gives the outputs (``model.apply`` with
    ``params = model.init(key, x)``), ``loss_fn(params, x, y)`` the scalar loss. An nnx or
    equinox module is passed as it is (no flattening): ``loss_fn(module, x, y)``; the outputs
    are ``module(x)`` (nnx) or ``jax.vmap(module)(x)`` (equinox), or ``apply_fn(module, x)``
    when given. ``optimizer`` is an optax ``GradientTransformation`` (or an
    ``nnx.Optimizer``: its ``.tx``). ``make_optimizer(lr)`` (e.g. ``optax.adam``) lets the
    LR check sweep; ``lr`` is the configured LR when the optimizer does not expose it
    (``optax.inject_hyperparams`` does). Check output names parameters by their pytree path
    (``params.Dense_0.kernel``, ``l1.kernel``, ``layers.0.weight``). The LR check keeps its
    sweep in ``series["lrs"]`` / ``series["losses"]`` (also in ``preflight.json``).
    """
    with _rng_untouched():
        form, data = model_form(model, args, apply_fn)
        if optimizer is not None and hasattr(getattr(optimizer, "tx", None), "init"):
            optimizer = optimizer.tx  # an nnx.Optimizer: its optax transformation
        s = _Setup(form, data, optimizer, val, batch_size)
        jobs = {
            "data": lambda: M.data(np.asarray(s.x), np.asarray(s.y), s.task, np.asarray(s.val[0]) if s.val is not None else None),
            "init": lambda: _check_init(s),
            "output": lambda: M.output_pairing(np.asarray(s.apply(s.params, s.xb)), np.asarray(s.yb), s.expects, s.task),
            "grads": lambda: _check_grads(s), "batch": lambda: _check_batch(s), "gradcheck": lambda: _check_gradcheck(s),
            "overfit": lambda: _check_overfit(s, steps, 2.0), "modes": lambda: _check_modes(s),
            "dummy": lambda: _check_dummy(s, 60, 2.0), "lr": lambda: _check_lr(s, lr, make_optimizer),
        }  # fmt: skip
        results: list[CheckResult] = [run_check(name, jobs[name]) for name in checks]
    ctx = RunContext(
        framework="jax", framework_version=jax.__version__,
        data=DataInfo(n_train=len(s.x), n_val=len(s.val[0]) if s.val is not None else None, task=s.task),  # type: ignore[arg-type]
    )
    d = diagnose_checks(results, ctx)
    if logdir is not None:
        save(logdir, d.checks, ctx)
    return d


def lr_range_test(
    model: Any, *args: Any, optimizer: Callable[[float], Any], lr_min: float = 1e-7, lr_max: float = 10.0,
    steps: int = 80, batch_size: int = 32, budget: float = 10.0, apply_fn: Callable | None = None,
) -> LRRangeResult:
    """Exponential LR sweep, in either call shape of :func:`preflight`; ``optimizer`` is a
    factory ``lr -> GradientTransformation`` (``optax.adam``, ``lambda lr: optax.sgd(lr, momentum=0.9)``)."""
    with _rng_untouched():
        form, data = model_form(model, args, apply_fn)
        s = _Setup(form, data, None, None, batch_size)
        return _sweep(s, optimizer, lr_min, lr_max, steps, budget)
