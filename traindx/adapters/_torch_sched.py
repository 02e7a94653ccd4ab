"""Which torch LR scheduler drives an optimizer, found without being given it.

A ``torch.optim.lr_scheduler.LRScheduler`` marks the optimizer it drives: it wraps
``optimizer.step`` (``_wrapped_by_lr_sched``) and keeps each group's configured rate as
``initial_lr``; most also move ``lr`` at construction (``LinearLR(start_factor=0.01)`` sets
1e-3 to 1e-5 before the first step). Only a marked optimizer costs a look at its referrers
(one ``gc.get_referrers`` pass, ~40 ms, done at most a few times a run). Facts only: nothing
here touches the optimizer, the scheduler or the RNG.
"""

from __future__ import annotations

import gc
from typing import Any

import torch

#: schedule recorded when the LR changed between steps with no torch scheduler attached
#: (a hand-written ``g["lr"] = ...``)
MANUAL = "manual"


def is_scheduled(opt: Any) -> bool:
    """Whether some torch LR scheduler was built on ``opt`` (its marks; see the module doc)."""
    groups = getattr(opt, "param_groups", None) or []
    return hasattr(getattr(opt, "step", None), "_wrapped_by_lr_sched") or any("initial_lr" in g for g in groups)


def scheduler_name(opt: Any) -> str | None:
    """The lower-case class name of the LR scheduler driving ``opt`` (the outer one of a
    ``SequentialLR`` / ``ChainedScheduler``), ``"lrscheduler"`` when it is marked but the
    scheduler is not found, None when no scheduler was built on it."""
    if opt is None or not is_scheduled(opt):
        return None
    base = getattr(torch.optim.lr_scheduler, "LRScheduler", None) or torch.optim.lr_scheduler._LRScheduler
    found = [r for r in gc.get_referrers(opt) if isinstance(r, base | torch.optim.lr_scheduler.ReduceLROnPlateau)]
    found = [r for r in found if getattr(r, "optimizer", None) is opt]
    if not found:
        return "lrscheduler"
    outer = [r for r in found if getattr(r, "_schedulers", None)]
    return type((outer or found)[0]).__name__.lower()


def first_lr(opt: Any) -> float | None:
    """The rate the first parameter group uses now (what the next ``step()`` applies)."""
    groups = getattr(opt, "param_groups", None) or []
    v = groups[0].get("lr") if groups else None
    if isinstance(v, torch.Tensor) and not v.is_cpu:
        return None  # a device tensor (capturable): reading it would wait for the device
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError, KeyError):
        return None
