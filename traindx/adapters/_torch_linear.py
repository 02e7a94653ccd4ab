"""How many Linear layers a torch model composes with nothing non-linear between them (flag
``linear_stack``): a static ``torch.fx`` trace of the forward, so an activation applied in
``forward`` (``F.relu``, ``x.relu()``, ``torch.tanh``) counts as well as an ``nn.ReLU`` module.

Only Linear layers joined by shape or identity operations (Dropout, Identity, Flatten, view,
reshape, squeeze, transpose...) extend a stack: anything else - an activation, a
normalization, an addition, a product, a call the trace does not know - ends it, so the count
is never larger than the longest purely linear composition. A model the trace cannot follow
(data-dependent control flow, untraceable calls) gives None: unknown, never "none". A fact,
not a judgment: rules read it (several Linear layers that compose to one linear map).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

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


def linear_stack(model: nn.Module) -> float | None:
    """The most Linear layers (modules or ``F.linear``) the forward composes with only shape
    or identity operations between them: 0 without a Linear, 1 where every Linear is followed
    by something non-linear before the next, None where ``torch.fx`` cannot trace the model."""
    try:
        import torch.fx

        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # noqa: BLE001 - untraceable: unknown
        return None
    modules = dict(model.named_modules())
    depth: dict[Any, int] = {}
    best = 0
    for node in graph.nodes:
        if not _is_linear(node, modules):
            continue
        src = node.args[0] if node.args else None
        while src is not None and hasattr(src, "op") and src not in depth and _same(src, modules):
            src = src.args[0] if src.args else None
        depth[node] = 1 + depth.get(src, 0)
        best = max(best, depth[node])
    return float(best)
