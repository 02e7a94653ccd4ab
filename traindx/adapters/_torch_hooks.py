"""Hook functions of the torch Monitor. Each holds a weak reference to the monitor (a model
outliving its monitor keeps no monitor alive), returns None (never changes an output or a
gradient), and turns the monitor off on an internal error.

Nothing is installed on the user's objects that travels with them: forward hooks are
*global* module hooks (``register_module_forward_hook``) that pick the monitored model's
modules by identity, so the model pickles (``torch.save(model)``) and copies
(``copy.deepcopy``) as it is, and a copy's forward is not recorded; optimizer steps are
seen through a global optimizer hook. The one per-object hook, on a parameter's gradient,
is neither pickled nor copied by torch."""

from __future__ import annotations

import re
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


_COMPILE_NOTICE = re.escape("Using `torch.compile(module)` when there are global hooks on modules")


def quiet_compile_notice() -> None:
    """torch.compile's OptimizedModule warns on every call while any global module hook
    exists (the hook also fires for the wrapper). The monitor's hook ignores the wrapper (it
    is not one of the model's modules), so that warning says nothing about the user's
    training: it is filtered by its message while the monitor arms its hook (added once;
    checked again because ``catch_warnings`` blocks restore the filters)."""
    import warnings

    for f in warnings.filters:
        if f[0] == "ignore" and f[1] is not None and f[1].pattern == _COMPILE_NOTICE:
            return
    warnings.filterwarnings("ignore", message=_COMPILE_NOTICE, category=UserWarning)


def forward_hook(ref: weakref.ref) -> Any:
    """One global forward hook for every module call in the process: the monitored model's
    modules (``mon._fwd``: id -> activation (name, kind)), the model itself (its output) and
    the loss module (its argument shapes); any other module returns at once."""

    def hook(module: nn.Module, args: Any, out: Any) -> None:
        mon = ref()
        if mon is None:
            return
        i = id(module)
        act = mon._fwd.get(i)
        if act is not None:
            name, kind = act
            guarded(ref, f"activation hook of '{name}'", lambda m: m._on_act(name, kind, module, out))
        if i == mon._root_id and module is mon.model:
            guarded(ref, "model output hook", lambda m: m._on_root(out))
        if i == mon._loss_id and module is mon.loss_fn:
            guarded(ref, "loss hook", lambda m: m._on_loss(args, out))
        if i in mon._seq_ids:
            guarded(ref, "sequence layer hook", lambda m: m._on_seq(module, args))

    return _eager(hook)


def optimizer_step_hook(ref: weakref.ref) -> Any:
    """A global optimizer step post-hook counting the monitored optimizer's steps (a monitor
    given none: the steps of any optimizer holding some of the model's parameters)."""

    def hook(opt: Any, args: Any, kwargs: Any) -> None:
        mon = ref()
        if mon is None:
            return
        if opt is mon.optimizer or (mon.optimizer is None and _holds(mon, opt)):
            mon._opt_steps += 1
            mon._opt_seen = True
        elif mon.optimizer is None:
            return
        elif not mon._off and id(opt) not in mon._other_opts and len(mon._other_opts) < 64:
            # another optimizer (a body and a head trained with two): which parameters it holds
            guarded(ref, "optimizer hook", lambda m: m._other_optimizer(opt), forward=False)

    return hook


def _holds(mon: Any, opt: Any) -> bool:
    """Does ``opt`` hold some of the monitored model's parameters (ids only; once per optimizer)?"""
    i = id(opt)
    got = mon._holds.get(i)
    if got is None:
        try:
            got = any(id(p) in mon._param_ids for g in opt.param_groups for p in g.get("params", ()))
        except Exception:  # noqa: BLE001 - an optimizer-like object without parameter groups
            got = False
        if len(mon._holds) < 64:
            mon._holds[i] = got
    return got


def grad_hook(ref: weakref.ref) -> Any:
    def hook(grad: torch.Tensor) -> None:
        guarded(ref, "gradient hook", lambda mon: mon._on_grad(), forward=False)

    return _eager(hook)
