"""Initial weight scales for the torch Monitor: which layer weights are measured (embedding
tables, recurrent input weights and small tensors left out) and ``std(w) * sqrt(fan_in)`` of
each, read once at the start (the context's init-scale flags; ``_common.init_scale_flags``),
and the floating dtype the parameters are stored in (``param_dtype``, as the JAX Recorder's)."""

from __future__ import annotations

import math

import torch
from torch import nn

from traindx.adapters._common import INIT_MIN_SIZE
from traindx.adapters._torch_stats import _is_loss, kind_of

EMBEDDING_KINDS = {"Embedding", "EmbeddingBag"}


def _is_weight_name(n: str) -> bool:
    return (n == "weight" or n.startswith("weight_") or n.endswith("_weight")) and n != "weight_g"


def weight_tensors(model: nn.Module) -> list[tuple[str, str, torch.Tensor]]:
    """(name, module name, tensor) of the layer weights (>= 2-D, named ``weight``,
    ``weight_*`` or ``*_weight``) whose initialization scale is measured; embedding tables
    (and weights tied to them) are left out, and so are the first-layer input weights of
    recurrent modules (torch scales them by the hidden size, whatever the input size: a
    1-feature GRU's are at 0.1 by default). The name is the module's (``root`` for the
    model itself), with the parameter's appended unless it is the module's one ``weight``."""
    seen: set[int] = set()
    out: list[tuple[str, str, torch.Tensor]] = []
    for mname, m in model.named_modules():
        own = [(n, p) for n, p in m.named_parameters(recurse=False) if id(p) not in seen]
        seen.update(id(p) for _, p in own)
        if kind_of(m) in EMBEDDING_KINDS or _is_loss(m):
            continue
        ws = [(n, p) for n, p in own if _is_weight_name(n) and p.dim() >= 2 and p.is_floating_point()
              and not isinstance(p, nn.parameter.UninitializedParameter) and not p.is_meta
              and p.numel() >= INIT_MIN_SIZE]  # fmt: skip
        if isinstance(m, nn.RNNBase):  # input weights scaled by the hidden size, not fan_in
            ws = [(n, p) for n, p in ws if n not in ("weight_ih_l0", "weight_ih_l0_reverse")]
        layer = mname or "root"
        for n, p in ws:
            out.append((layer if n == "weight" and len(ws) == 1 else f"{layer}.{n}", layer, p))
    return out


def dtype_flag(params: list[torch.Tensor]) -> dict[str, str]:
    """``{"param_dtype": name}``: the floating dtype holding the most parameter elements
    (``bfloat16`` / ``float16`` weights round every update to their precision); ``{}``
    without floating parameters."""
    sizes: dict[str, int] = {}
    for p in params:
        if p.is_floating_point():
            name = str(p.dtype).removeprefix("torch.")
            sizes[name] = sizes.get(name, 0) + p.numel()
    return {"param_dtype": max(sizes, key=lambda k: sizes[k])} if sizes else {}


def init_scales(weights: list[tuple[str, str, torch.Tensor]]) -> list[float]:
    """``std(w) * sqrt(fan_in)`` of each weight, fan_in = ``w.shape[1] * prod(w.shape[2:])``
    (torch's [out, in, *kernel] layout), exactly 0 for a constant weight; one host transfer."""
    if not weights:
        return []
    dev = weights[0][2].device
    vals = []
    with torch.no_grad():
        for _, _, p in weights:
            w = p.detach()
            w = w if w.dtype in (torch.float32, torch.float64) else w.float()
            lo, hi = torch.aminmax(w)
            s = torch.std(w, correction=0).float() * math.sqrt(math.prod(w.shape[1:]))
            vals.append(torch.where(lo == hi, 0.0, s).to(dev))
        return torch.stack(vals).tolist()
