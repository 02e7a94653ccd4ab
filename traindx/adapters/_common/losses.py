"""What each known loss takes (logits, probabilities, values), the task it implies, and its canonical name."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LossKind:
    """What a loss takes: ``expects`` (LossInfo.expects), the task it implies, and whether
    it compares prediction and target element by element (so shapes must match)."""

    expects: str | None
    task: str | None
    from_logits: bool | None
    elementwise: bool


#: Canonical (lower-case class) loss names.
LOSS_KINDS: dict[str, LossKind] = {
    "crossentropyloss": LossKind("logits", "classification", True, False),
    "nllloss": LossKind(None, "classification", None, False),
    "bcewithlogitsloss": LossKind("logits", "binary", True, True),
    "bceloss": LossKind("probabilities", "binary", False, True),
    "mseloss": LossKind("values", "regression", None, True),
    "l1loss": LossKind("values", "regression", None, True),
    "huberloss": LossKind("values", "regression", None, True),
    "smoothl1loss": LossKind("values", "regression", None, True),
    "multilabelsoftmarginloss": LossKind("logits", "binary", True, True),
    "kldivloss": LossKind(None, None, None, True),
}

#: Functional spellings (``torch.nn.functional``) of the losses above.
FUNCTIONAL_LOSSES: dict[str, str] = {
    "cross_entropy": "crossentropyloss",
    "nll_loss": "nllloss",
    "binary_cross_entropy_with_logits": "bcewithlogitsloss",
    "binary_cross_entropy": "bceloss",
    "mse_loss": "mseloss",
    "l1_loss": "l1loss",
    "huber_loss": "huberloss",
    "smooth_l1_loss": "smoothl1loss",
    "multilabel_soft_margin_loss": "multilabelsoftmarginloss",
    "kl_div": "kldivloss",
}


def loss_name(obj: Any) -> str | None:
    """Canonical name of a loss object or function (``CrossEntropyLoss`` -> ``crossentropyloss``)."""
    if obj is None:
        return None
    name = getattr(obj, "__name__", None) or type(obj).__name__
    name = name.lower()
    return FUNCTIONAL_LOSSES.get(name, name)


def penalty_share(total: float, data_loss: float) -> float | None:
    """``reg_loss_share`` from a reported loss and the data loss the adapter computed for the
    same step: the part of the reported loss above it (a penalty added to the objective), or
    None when either is not a positive finite number."""
    if not (math.isfinite(total) and math.isfinite(data_loss) and total > 0.0 and data_loss > 0.0):
        return None
    return round(max(total - data_loss, 0.0) / total, 4)
