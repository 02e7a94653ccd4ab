"""How many Linear layers a torch model composes with nothing non-linear between them (flag
``linear_stack``): a static ``torch.fx`` trace of the forward, so an activation applied in
``forward`` (``F.relu``, ``x.relu()``, ``torch.tanh``) counts as well as an ``nn.ReLU`` module.

Only Linear layers joined by shape or identity operations (Dropout, Identity, Flatten, view,
reshape, squeeze, transpose...) extend a stack: anything else - an activation, a
normalization, an addition, a product, a call the trace does not know - ends it, so the count
is never larger than the longest purely linear composition. A value the forward uses twice (a
residual block's input feeds its branch and the skip) ends a stack too: the pair does not
collapse into one map (qa_mixed45's 24-block residual MLP read as a stack of 2). So does a
Linear whose output is split into parts (GLU, chunk, split, unbind): a fused projection is
several maps of one input, gated or routed apart (qa_mixed46's gated residual network, fc2 into
the GLU's projection, read as 2). A second count leaves out stacks
that narrow below both their ends (an autoencoder's linear bottleneck, a low-rank
factorization): those compose to a deliberately low-rank map. A model the trace cannot follow
(data-dependent control flow, untraceable calls) gives None: unknown, never "none". A fact,
not a judgment: rules read it (several Linear layers that compose to one linear map).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from traindx.adapters._common.facts import full_rank_depth

#: Modules that pass their input through unchanged but for shape or a random mask.
_SAME_MODULES = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Flatten, nn.Unflatten)
#: Tensor methods and torch functions that only move or reshape values.
_SAME_NAMES = frozenset(
    "view reshape flatten squeeze unsqueeze contiguous permute transpose t clone float to dropout".split()
)


def _same(node: Any, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return isinstance(modules.get(node.target), _SAME_MODULES)
    if node.op == "call_method":
        return node.target in _SAME_NAMES
    if node.op == "call_function":
        return getattr(node.target, "__name__", "") in _SAME_NAMES
    return False


def _is_linear(node: Any, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return isinstance(modules.get(node.target), nn.Linear)
    return node.op == "call_function" and node.target is torch.nn.functional.linear


#: Splits of a tensor into parts (a GLU's value and gate halves, a fused q/k/v projection).
_SPLIT_NAMES = frozenset("glu chunk split tensor_split unbind".split())


def _split_after(node: Any, modules: dict[str, nn.Module]) -> bool:
    """Whether ``node``'s output is split into parts: each part is its own linear map of the
    Linear's input, so that input feeds several branches."""
    for user in node.users:
        if user.op == "call_module" and isinstance(modules.get(user.target), nn.GLU):
            return True
        name = user.target if user.op == "call_method" else getattr(user.target, "__name__", "")
        if user.op in ("call_method", "call_function") and name in _SPLIT_NAMES:
            return True
    return False


def _only_here(node: Any) -> bool:
    """Whether ``node`` is a traced value with one user: a value that also feeds a residual
    addition or another branch does not compose with the next layer into one map."""
    return node is not None and hasattr(node, "op") and len(node.users) == 1


def linear_stacks(model: nn.Module) -> tuple[float, float] | None:
    """(the most Linear layers - modules or ``F.linear`` - the forward composes with only shape
    or identity operations between them, the most such layers that do not narrow below both
    ends of their stack (traindx.adapters._common.facts.narrowed)); (0, 0) without a Linear, None where ``torch.fx``
    cannot trace the model."""
    try:
        import torch.fx

        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # noqa: BLE001 - untraceable: unknown
        return None
    modules = dict(model.named_modules())
    widths: dict[Any, list[int | None]] = {}  # per Linear node: its stack's input and outputs
    best = full = 0
    for node in graph.nodes:
        if not _is_linear(node, modules):
            continue
        src = node.args[0] if node.args else None
        while _only_here(src) and src not in widths and _same(src, modules):
            src = src.args[0] if src.args else None
        if not _only_here(src) or _split_after(node, modules):  # a skip, another branch, or a split
            src = None  # projection (several maps of src): no collapsible stack
        lin = modules.get(node.target) if node.op == "call_module" else None
        head = widths[src] if src in widths else [getattr(lin, "in_features", None)]
        widths[node] = [*head, getattr(lin, "out_features", None)]
        w = widths[node]
        best = max(best, len(w) - 1)
        full = max(full, full_rank_depth(w))
    return float(best), float(full)


def linear_stack(model: nn.Module) -> float | None:
    """The first of :func:`linear_stacks`: 0 without a Linear, 1 where every Linear is followed
    by something non-linear before the next, None where ``torch.fx`` cannot trace the model."""
    stacks = linear_stacks(model)
    return None if stacks is None else stacks[0]
