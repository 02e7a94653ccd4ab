"""Copies for the torch preflight: the model, optimizer and loss copied without hooks, and
every RNG stream saved and restored, so the user's objects and random state are untouched."""

from __future__ import annotations

import copy
import random
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn


@contextmanager
def few_threads(model: nn.Module, limit: int = 2_000_000) -> Iterator[None]:
    """One intra-op thread for small models (thread hand-offs cost more than the maths of a
    tiny layer, and far more on a loaded machine); the setting is restored afterwards."""
    n = torch.get_num_threads()
    small = sum(p.numel() for p in model.parameters()) < limit
    try:
        if small and n > 1:
            torch.set_num_threads(1)
        yield
    finally:
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


@contextmanager
def rng_untouched(seed: int = 0) -> Iterator[None]:
    """Run the block with fixed seeds; restore torch (CPU and CUDA), numpy and Python RNGs."""
    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    grad = torch.is_grad_enabled()
    try:
        torch.manual_seed(seed)
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        torch.set_grad_enabled(grad)


def _hookless_memo(*objs: Any) -> dict[int, Any]:
    """A deepcopy memo that maps every hook dict (modules, parameters, the optimizer) and
    every instance-level method override (a monitor's wrapped zero_grad) to a fresh empty
    value, so copies never call back into a Monitor or the user's hooks."""
    memo: dict[int, Any] = {}
    for obj in objs:
        mods = obj.modules() if isinstance(obj, nn.Module) else [obj]
        for m in mods:
            for k, v in vars(m).items():
                if "hook" in k and isinstance(v, dict):
                    memo[id(v)] = OrderedDict() if isinstance(v, OrderedDict) else {}
    return memo


def copy_model(model: nn.Module) -> nn.Module:
    c = copy.deepcopy(model, _hookless_memo(model))
    for p in c.parameters():
        p.grad = None
    return c


def copy_loss(loss_fn: Any) -> Any:
    return copy.deepcopy(loss_fn, _hookless_memo(loss_fn)) if isinstance(loss_fn, nn.Module) else loss_fn


def copy_pair(model: nn.Module, opt: torch.optim.Optimizer | None, default_lr: float = 1e-3) -> tuple[nn.Module, torch.optim.Optimizer]:
    """A copy of the model and of the optimizer over the copy's parameters, with the
    optimizer's state and hyperparameters (a fresh Adam when no optimizer is given)."""
    c = copy_model(model)
    if opt is None:
        return c, torch.optim.Adam([p for p in c.parameters() if p.requires_grad], lr=default_lr)
    mapping = {id(p): q for p, q in zip(model.parameters(), c.parameters(), strict=True)}
    groups = []
    for g in opt.param_groups:
        params = [mapping[id(p)] if id(p) in mapping else p.detach().clone().requires_grad_(p.requires_grad) for p in g["params"]]
        groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": params})
    try:
        new = type(opt)(groups, **opt.defaults)
    except TypeError:
        new = type(opt)(groups)
    new.load_state_dict(copy.deepcopy(opt.state_dict()))
    return c, new


def state_snapshot(model: nn.Module, opt: torch.optim.Optimizer | None) -> dict[str, Any]:
    """Everything preflight must leave bit-identical: parameters, buffers, grads, modes and
    the optimizer's state dict (tests compare two snapshots)."""
    snap: dict[str, Any] = {
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "grads": {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()},
        "modes": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
    }
    if opt is not None:
        snap["opt"] = copy.deepcopy(opt.state_dict())
    return snap
