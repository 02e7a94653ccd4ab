"""Hook functions of the torch Monitor. Each holds a weak reference to the monitor (a model
outliving its monitor keeps no monitor alive), returns None (never changes an output or a
gradient), and turns the monitor off on an internal error."""

from __future__ import annotations

import time
import weakref
from typing import Any

import torch
from torch import nn


def guarded(ref: weakref.ref, where: str, fn: Any, forward: bool = True) -> None:
    mon = ref()
    # Forward hooks skip evaluation forwards (no grad); backward hooks run with grad mode off.
    if mon is None or mon._off or (forward and not torch.is_grad_enabled()):
        return
    t0 = time.perf_counter()
    try:
        fn(mon)
    except Exception as e:  # noqa: BLE001
        mon._fail(e, where)
    finally:
        mon._own += time.perf_counter() - t0


def _eager(hook: Any) -> Any:
    """Under torch.compile, run the hook eagerly (a graph break at each armed hook) instead
    of tracing it: the monitor's host-side bookkeeping (timers, dicts) is not traceable, and
    tracing it would bake one step's statistics into the compiled graph. In eager mode the
    check costs ~0.1 us a call; ``torch.compiler.disable`` on every call would cost ~1.3 us."""
    compiled = torch.compiler.disable(hook)

    def run(*args: Any) -> None:
        if torch.compiler.is_compiling():
            return compiled(*args)
        return hook(*args)

    return run


def act_hook(ref: weakref.ref, name: str, kind: int) -> Any:
    def hook(module: nn.Module, args: Any, out: Any) -> None:
        guarded(
            ref, f"activation hook of '{name}'", lambda mon: mon._on_act(name, kind, module, out)
        )

    return _eager(hook)


def root_hook(ref: weakref.ref) -> Any:
    def hook(module: nn.Module, args: Any, out: Any) -> None:
        guarded(ref, "model output hook", lambda mon: mon._on_root(out))

    return _eager(hook)


def loss_hook(ref: weakref.ref) -> Any:
    def hook(module: nn.Module, args: Any, out: Any) -> None:
        guarded(ref, "loss hook", lambda mon: mon._on_loss(args))

    return _eager(hook)


def grad_hook(ref: weakref.ref) -> Any:
    def hook(grad: torch.Tensor) -> None:
        guarded(ref, "gradient hook", lambda mon: mon._on_grad(), forward=False)

    return _eager(hook)


def atexit_close(ref: weakref.ref) -> None:
    mon = ref()
    if mon is not None:
        mon.close()
