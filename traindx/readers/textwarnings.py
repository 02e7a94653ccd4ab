"""A framework's own warnings in a console log, as the context flags an adapter records (issue 10).

A log saved with ``python train.py > train.log 2>&1`` holds what the framework printed to
stderr beside the metrics. Some of those warnings state a fact the adapters measure, in the
framework's words; the text reader records them as the same flags (facts, never a judgment:
the rules weigh them as they weigh the adapter's):

- PyTorch's element-wise losses (``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``)
  warn ``Using a target size (torch.Size([32])) that is different to the input size
  (torch.Size([32, 1]))`` and then broadcast the two: ``broadcast_in_loss`` (the adapter's
  flag, :func:`traindx.adapters._common.facts.note_broadcast`), set only where the two sizes
  broadcast (where they do not, the call raised and no training followed).
"""

from __future__ import annotations

import re

_SIZE = r"torch\.Size\(\[([\d,\s]*)\]\)"
_TORCH_BROADCAST = re.compile(rf"Using a target size \({_SIZE}\) that is different to the input size \({_SIZE}\)")


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.replace(" ", "").split(",") if x)


def broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether numpy / torch broadcasting accepts shapes ``a`` and ``b`` (trailing axes equal or 1)."""
    return all(x == y or 1 in (x, y) for x, y in zip(reversed(a), reversed(b), strict=False))


def flags(text: str) -> dict[str, bool | float]:
    """The context flags the framework warnings in ``text`` state (empty when none)."""
    for m in _TORCH_BROADCAST.finditer(text):
        target, pred = _shape(m[1]), _shape(m[2])
        if target != pred and broadcasts(target, pred):
            return {"broadcast_in_loss": True}
    return {}
