"""The LR range test for torch: an exponential LR sweep on a copy of the model and optimizer."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from traindx.adapters._torch_copies import copy_pair
from traindx.checks.measures import suggest_lr


@dataclass
class LRRangeResult:
    """An LR sweep: the LRs tried, the loss at each, and what they suggest.

    ``suggested_lr`` is about a tenth of ``blowup_lr`` (where the smoothed loss passed 4x its
    minimum or turned non-finite), or the steepest-descent LR when that is lower; None when
    the loss fell at no LR. ``next_range`` is the coarse-to-fine step: the range a finer
    sweep (or a short training grid) should search next.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    suggested_lr: float | None = None
    blowup_lr: float | None = None
    steepest_lr: float | None = None
    seconds: float = 0.0

    @property
    def next_range(self) -> tuple[float, float] | None:
        if self.suggested_lr is None:
            return None
        hi = self.blowup_lr if self.blowup_lr is not None else self.suggested_lr * 10
        return (self.suggested_lr / 3, hi / 3)

    def __str__(self) -> str:
        def f(v: float | None) -> str:
            return "none" if v is None else f"{v:.3g}"

        return f"{len(self.lrs)} LRs from {f(self.lrs[0] if self.lrs else None)}: suggested {f(self.suggested_lr)}, blow-up {f(self.blowup_lr)}, steepest {f(self.steepest_lr)}"


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
