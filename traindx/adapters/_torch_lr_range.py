"""The LR range test for torch: an exponential LR sweep on a copy of the model and optimizer."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from traindx.adapters._torch_copies import copy_pair
from traindx.checks.lr_range import LRRangeResult
from traindx.checks.measures import suggest_lr


def sweep(s: Any, optimizer: torch.optim.Optimizer | None, *, lr_min: float = 1e-7, lr_max: float = 10.0,
          steps: int = 60, budget: float = 2.0) -> LRRangeResult:
    """Sweep on copies (``s`` is the preflight setup: data, loss, forward)."""
    t0 = time.perf_counter()
    m, opt = copy_pair(s.model, optimizer)
    base = [float(g["lr"]) for g in opt.param_groups]
    ref = base[0] if base and base[0] > 0 else 1.0
    lrs = np.exp(np.linspace(math.log(lr_min), math.log(lr_max), steps))
    n, k = len(s.x), s.n
    tried: list[float] = []
    losses: list[float] = []
    best = math.inf
    m.train()
    for i, lr in enumerate(lrs):
        for g, b in zip(opt.param_groups, base, strict=True):
            g["lr"] = float(lr) * (b / ref if ref else 1.0)
        lo = (i * k) % max(n - k + 1, 1)
        x, y = s.x[lo: lo + k], s.y[lo: lo + k]
        opt.zero_grad(set_to_none=True)
        loss = s.loss(m, x, y)
        v = float(loss.detach())
        tried.append(float(lr))
        losses.append(v)
        if not math.isfinite(v):
            break
        best = min(best, v)
        if v > 4 * best and i > 5 or time.perf_counter() - t0 > budget:
            break
        loss.backward()
        opt.step()
    sug, blow, steep = suggest_lr(np.array(tried), np.array(losses))
    return LRRangeResult(tried, losses, sug, blow, steep, time.perf_counter() - t0)
