"""PyTorch preflight: the checklist's active checks run on copies of the user's model.

>>> from traindx.adapters.torch import preflight, lr_range_test      # doctest: +SKIP
>>> d = preflight(model, nn.CrossEntropyLoss(), (x, y), optimizer=opt, val=(xv, yv))
>>> d.checks                    # name, passed/failed/skipped, numbers, one line each
>>> r = lr_range_test(model, loss_fn, (x, y), optimizer=opt); r.suggested_lr

Each check runs on its own copy (model, optimizer, loss module without hooks), under fixed
seeds with every RNG stream restored afterwards; the measures are framework-neutral
(:mod:`traindx.checks.measures`) and the rulebook's CHK symptoms judge them.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from traindx.adapters import _torch_stats as ts
from traindx.adapters._common import LOSS_KINDS, loss_name
from traindx.adapters._torch_copies import (
    copy_loss,
    copy_model,
    copy_pair,
    few_threads,
    rng_untouched,
)
from traindx.adapters._torch_lr_range import LRRangeResult, sweep
from traindx.checks import Skip, diagnose_checks, run_check, save
from traindx.checks import measures as M
from traindx.schema import CheckResult, DataInfo, RunContext

__all__ = ["LRRangeResult", "lr_range_test", "preflight"]
ALL_CHECKS = ("data", "init", "output", "grads", "batch", "gradcheck", "overfit", "modes", "dummy", "lr")


def _t(a: Any) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


class _Setup:
    """The inputs every check shares: data on the model's device, the loss and its kind."""

    def __init__(self, model: nn.Module, loss_fn: Any, data: tuple[Any, Any], optimizer: Any, val: Any, batch_size: int):
        self.model, self.opt = model, optimizer
        self.loss_fn = copy_loss(loss_fn)
        dev = next((p.device for p in model.parameters()), torch.device("cpu"))
        self.x, self.y = _t(data[0]).to(dev), _t(data[1]).to(dev)
        if len(self.x) != len(self.y):
            raise ValueError(f"preflight: {len(self.x)} inputs but {len(self.y)} targets; expected one target per input")
        self.val = (_t(val[0]).to(dev), _t(val[1]).to(dev)) if val is not None else None
        self.n = max(2, min(batch_size, len(self.x)))
        self.xb, self.yb = self.x[: self.n], self.y[: self.n]
        name = loss_name(loss_fn)
        kind = LOSS_KINDS.get(name or "")
        self.loss_name, self.expects = name, (kind.expects if kind else None)
        if name == "nllloss":
            self.expects = "log_probs"
        self.task = kind.task if kind else self._infer_task()

    def _infer_task(self) -> str | None:
        y = _np(self.yb)
        with torch.no_grad():
            out = self.forward(copy_model(self.model).eval(), self.xb[:2])
        if M.is_integer_labels(y) and out.dim() == 2 and out.shape[1] > 1:
            return "classification"
        if y.dtype.kind == "f" and len(y) and y.size == len(y) * out[0].numel():  # (N,) or (N, k) vs (N, k)
            return "binary" if np.all((y == 0) | (y == 1)) else "regression"
        return None

    @staticmethod
    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        out = ts.first_tensor(m(x))
        if out is None:
            raise Skip("the model's output holds no tensor")
        return out

    def loss(self, m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        val = self.loss_fn(self.forward(m, x), y)
        if not isinstance(val, torch.Tensor) or val.numel() != 1:
            raise Skip("the loss is not a scalar tensor")
        return val.reshape(())

    def train_steps(self, m: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                    steps: int, budget: float, stop_ratio: float = 0.0) -> list[float]:
        m.train()
        losses: list[float] = []
        t_end = time.perf_counter() + budget
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = self.loss(m, x, y)
            losses.append(float(loss.detach()))
            if not np.isfinite(losses[-1]):
                break
            loss.backward()
            opt.step()
            if time.perf_counter() > t_end or (stop_ratio and losses[-1] <= stop_ratio * losses[0] and losses[0] > 0):
                break
        return losses


def _check_data(s: _Setup) -> tuple[dict, str]:
    facts, line = M.data(_np(s.x), _np(s.y), s.task, _np(s.val[0]) if s.val is not None else None)
    first = next((m for m in s.model.modules() if not list(m.children()) and any(True for _ in m.parameters(recurse=False))), None)
    norm = isinstance(first, nn.modules.batchnorm._BatchNorm)
    return M.input_normalization(facts, line, type(first).__name__ if first is not None else None, norm)


def _check_init(s: _Setup) -> tuple[dict, str]:
    m = copy_model(s.model).train()
    k = min(len(s.x), 256)
    with torch.no_grad():
        out = s.forward(m, s.x[:k])
        loss = float(s.loss_fn(out, s.y[:k]))
    y = _np(s.y)
    width = int(out[0].numel()) if out.dim() >= 1 and len(out) else 1
    chance = M.uniform_loss(y, s.task, width) if s.task else None
    prior = M.chance_loss(y, s.task) if s.task else None
    if s.task == "regression" and s.loss_name != "mseloss":
        chance = prior = None  # E[y^2] and the variance are the levels of MSE only
    return M.initial_loss(loss, chance, _np(out), prior)


def _check_output(s: _Setup) -> tuple[dict, str]:
    with torch.no_grad():
        out = s.forward(copy_model(s.model).eval(), s.xb)
    return M.output_pairing(_np(out), _np(s.yb), s.expects, s.task)


def _check_grads(s: _Setup) -> tuple[dict, str]:
    m = copy_model(s.model).train()
    s.loss(m, s.xb, s.yb).backward()
    named = [(n, p) for n, p in m.named_parameters() if p.requires_grad]
    if not named:
        raise Skip("the model has no trainable parameters")
    norms = []
    for _, p in named:
        g = p.grad
        norms.append(None if g is None else (0.0 if not bool((g != 0).any()) else float(g.double().norm())))
    frozen, not_in = [], []
    if s.opt is not None:
        held = {id(p) for g in s.opt.param_groups for p in g["params"]}
        names = {id(p): n for n, p in s.model.named_parameters()}
        frozen = [names.get(id(p), "?") for g in s.opt.param_groups for p in g["params"] if not p.requires_grad]
        not_in = [n for n, p in s.model.named_parameters() if p.requires_grad and id(p) not in held]
    return M.gradient_flow([n for n, _ in named], norms, frozen, not_in)


def _check_batch(s: _Setup) -> tuple[dict, str]:
    if s.n < 3:
        raise Skip("needs a batch of at least 3 examples")
    m = copy_model(s.model).eval()
    j = next((k for k in range(s.n - 1, 0, -1) if not torch.equal(s.xb[k], s.xb[0])), None)
    if j is None:
        raise Skip("all examples of the batch are identical")
    x2 = s.xb.clone()
    x2[0] = s.xb[j]
    with torch.no_grad():
        a, b, again = s.forward(m, s.xb), s.forward(m, x2), s.forward(m, s.xb)
    if not torch.equal(a, again):
        raise Skip("evaluation-mode outputs differ between two passes on one input (see modes)")
    if a.dim() == 0 or a.shape[0] != s.n:
        raise Skip(f"the output's first axis ({tuple(a.shape)}) is not the batch")
    return M.batch_mixing(_np(a), _np(b), [0])


def _check_gradcheck(s: _Setup) -> tuple[dict, str]:
    m = copy_model(s.model).double().eval()
    x = s.xb[:8].double() if s.xb.is_floating_point() else s.xb[:8]
    y = s.yb[:8].double() if s.yb.is_floating_point() else s.yb[:8]
    lf = copy_loss(s.loss_fn)
    if isinstance(lf, nn.Module):
        lf.double()
    params = [p for p in m.parameters() if p.requires_grad]
    if not params:
        raise Skip("the model has no trainable parameters")

    def f() -> torch.Tensor:
        return lf(s.forward(m, x), y).reshape(())

    if float(f().detach()) != float(f().detach()):
        raise Skip("the loss differs between two evaluation-mode passes (see modes)")
    f().backward()
    picks = [params[i] for i in sorted({0, len(params) // 2, len(params) - 1}) if params[i].grad is not None]
    if not picks:
        raise Skip("no checked parameter has a gradient")
    ana, num = [], []
    with torch.no_grad():
        for p in picks:
            flat, g = p.view(-1), p.grad.view(-1)
            for i in np.linspace(0, flat.numel() - 1, min(4, flat.numel())).astype(int):
                old = float(flat[i])
                h = 1e-6 * max(1.0, abs(old))
                flat[i] = old + h
                up = float(f())
                flat[i] = old - h
                down = float(f())
                flat[i] = old
                ana.append(float(g[i]))
                num.append((up - down) / (2 * h))
    return M.gradient_check(np.array(ana), np.array(num))


def _check_overfit(s: _Setup, steps: int, budget: float) -> tuple[dict, str]:
    m, opt = copy_pair(s.model, s.opt)
    before = [p.detach().clone() for p in m.parameters()]
    losses = s.train_steps(m, opt, s.xb, s.yb, steps, budget, stop_ratio=0.05)
    stepped = len(losses) > 1 or (len(losses) == 1 and np.isfinite(losses[0]))
    changed = any(not torch.equal(a, p.detach()) for a, p in zip(before, m.parameters(), strict=True)) if stepped else None
    facts, line = M.overfit(losses, changed)
    facts["maximize"] = any(bool(g.get("maximize", False)) for g in opt.param_groups)
    if s.opt is None:
        line += " (no optimizer given: Adam 1e-3)"
    return facts, line


def _check_modes(s: _Setup) -> tuple[dict, str]:
    m = copy_model(s.model).eval()
    with torch.no_grad():
        a, b = s.forward(m, s.xb), s.forward(m, s.xb)
        t = s.forward(m.train(), s.xb)
    kinds = [ts.kind_of(mod) for mod in s.model.modules()]
    has_norm = any(isinstance(mod, nn.modules.batchnorm._NormBase) for mod in s.model.modules())
    return M.modes(_np(a), _np(b), _np(t), any("Dropout" in k for k in kinds), has_norm, s.model.training)


def _check_dummy(s: _Setup, steps: int, budget: float) -> tuple[dict, str]:
    k = min(len(s.x), 128)
    x, y = s.x[:k], s.y[:k]
    xe, ye = s.val if s.val is not None else (x, y)
    ends = []
    with torch.no_grad():
        start = float(s.loss(copy_model(s.model).eval(), x, y))
    for inp in (x, torch.zeros_like(x)):
        torch.manual_seed(1)
        m, opt = copy_pair(s.model, s.opt)
        losses = s.train_steps(m, opt, inp, y, steps, budget / 2)
        with torch.no_grad():
            m.eval()
            train_loss = float(s.loss(m, x, y))  # real inputs: has the model learned anything?
            ends.append((float(s.loss(m, xe if inp is x else torch.zeros_like(xe), ye)), train_loss, len(losses)))
    facts, line = M.dummy_input(ends[0][0], ends[1][0], start)
    facts["real_drop"] = float(1 - ends[0][1] / start) if start > 0 and np.isfinite(ends[0][1]) else 0.0
    facts["on_val"] = s.val is not None
    return facts, line + (" on validation data" if s.val is not None else " on the training batch")


def _check_lr(s: _Setup, budget: float) -> tuple[dict, str, dict]:
    if s.opt is None:
        raise Skip("no optimizer given: no configured LR to compare")
    r = sweep(s, s.opt, budget=budget)
    lr = float(s.opt.param_groups[0]["lr"])
    return r.check(lr, f"sweep: {r}")


def preflight(
    model: nn.Module, loss_fn: Any, data: tuple[Any, Any], *, optimizer: torch.optim.Optimizer | None = None,
    val: tuple[Any, Any] | None = None, logdir: str | os.PathLike[str] | None = None, batch_size: int = 16,
    steps: int = 300, checks: tuple[str, ...] = ALL_CHECKS, seed: int = 0,
) -> Any:
    """Run the preflight checks on copies of ``model`` and return the Diagnosis (``.checks``).

    ``data`` is ``(x, y)`` (tensors or arrays; the first ``batch_size`` rows are the small
    batch), ``val`` the validation data (leakage and the dummy-input check use it). The
    model, optimizer, loss and every RNG stream are left as they were. With ``logdir``, the
    results go to ``logdir/preflight.json`` for a later ``traindx diagnose`` of that run.
    The ``lr`` check keeps its sweep for plots: ``series["lrs"]`` and ``series["losses"]``
    of its item in ``d.checks`` (and in ``preflight.json``), its suggestion in ``facts``.
    """
    with rng_untouched(seed):
        s = _Setup(model, loss_fn, data, optimizer, val, batch_size)
    jobs = {
        "data": lambda: _check_data(s), "init": lambda: _check_init(s), "output": lambda: _check_output(s),
        "grads": lambda: _check_grads(s), "batch": lambda: _check_batch(s), "gradcheck": lambda: _check_gradcheck(s),
        "overfit": lambda: _check_overfit(s, steps, 2.0), "modes": lambda: _check_modes(s),
        "dummy": lambda: _check_dummy(s, 60, 2.0), "lr": lambda: _check_lr(s, 2.0),
    }  # fmt: skip
    results: list[CheckResult] = []
    with rng_untouched(seed), few_threads(model):
        for name in checks:
            torch.manual_seed(seed)
            results.append(run_check(name, jobs[name]))
    ctx = RunContext(
        framework="torch", framework_version=torch.__version__,
        model=ts.model_info(model).model_copy(update={"training_mode": None}),
        optimizer=ts.optimizer_info(optimizer), loss=ts.loss_info(loss_fn)[0],
        data=DataInfo(n_train=len(s.x), n_val=len(s.val[0]) if s.val is not None else None, task=s.task),  # type: ignore[arg-type]
    )  # fmt: skip
    d = diagnose_checks(results, ctx)
    if logdir is not None:
        save(logdir, d.checks, ctx)
    return d


def lr_range_test(
    model: nn.Module, loss_fn: Any, data: tuple[Any, Any], *, optimizer: torch.optim.Optimizer | None = None,
    lr_min: float = 1e-7, lr_max: float = 10.0, steps: int = 80, batch_size: int = 32, budget: float = 10.0, seed: int = 0,
) -> LRRangeResult:
    """Exponential LR sweep on a copy: ``r.lrs``, ``r.losses``, ``r.suggested_lr`` (about a
    tenth of where the loss blows up, or the steepest descent), ``r.next_range``."""
    with rng_untouched(seed), few_threads(model):
        s = _Setup(model, loss_fn, data, optimizer, None, batch_size)
        return sweep(s, optimizer, lr_min=lr_min, lr_max=lr_max, steps=steps, budget=budget)
