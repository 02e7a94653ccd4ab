"""Gradient accumulation an optax transformation does (a fact for the context, never a judgment)."""

from __future__ import annotations

import functools
import types
from typing import Any

from traindx.adapters._jax_stats.config import _cells


def accumulation_steps(tx: Any, *, outer_only: bool = False) -> int | None:
    """Micro-batches per optimizer update an optax transformation accumulates: the
    ``every_k_schedule`` of an ``optax.MultiSteps`` (the object or its
    ``gradient_transformation()``; a schedule read at step 0) or the ``k`` of an
    ``optax.apply_every`` inside a chain. None when none is found or it cannot be read.

    With ``outer_only`` only a wrapper that keeps its own count (``optax.MultiSteps``):
    its inner optimizer, and so the inner schedule, counts one step per ``k`` micro-steps,
    where ``apply_every`` (a chain link after the optimizer) leaves the optimizer counting
    every micro-step."""

    def find(obj: Any, seen: set[int], depth: int) -> int | None:
        if depth > 16 or id(obj) in seen:
            return None
        seen.add(id(obj))
        if not isinstance(obj, tuple) and callable(getattr(obj, "_every_k_schedule", None)):
            return int(obj._every_k_schedule(0))  # optax.MultiSteps
        if isinstance(obj, types.MethodType):
            return find(obj.__self__, seen, depth + 1)
        if isinstance(obj, functools.partial):
            return find(obj.func, seen, depth + 1)
        if isinstance(obj, tuple) and hasattr(obj, "update") and hasattr(obj, "init"):
            return find(obj.update, seen, depth + 1)
        subs: Any = ()
        if isinstance(obj, (list, tuple)):
            subs = obj
        elif isinstance(obj, types.FunctionType):
            cells = _cells(obj)
            if not outer_only and obj.__qualname__.startswith("apply_every.") and "k" in cells:
                return int(cells["k"])
            subs = [v for v in cells.values() if callable(v) or isinstance(v, (list, tuple))]
        for v in subs:
            k = find(v, seen, depth + 1)
            if k is not None:
                return k
        return None

    try:
        return find(tx, set(), 0)
    except Exception:  # noqa: BLE001 - a fact not known
        return None
