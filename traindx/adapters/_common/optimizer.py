"""An optimizer's hyper-parameters beyond those :class:`~traindx.schema.OptimizerInfo` holds,
as context flags (``opt_<name>``): what a parameter group states (torch ``param_groups[0]``,
a plain mapping), never judged here. SGD's ``dampening`` beside its momentum, ``nesterov``,
``maximize`` (gradient ascent), RMSprop's ``alpha`` and ``centered``, Adam's ``amsgrad``,
Adadelta's ``rho``, Adagrad's ``lr_decay`` and ``initial_accumulator_value``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: The hyper-parameters recorded, and their flag types (:data:`traindx.rules.catalogue` lists them).
HYPER_FLAGS: dict[str, type] = {
    "dampening": float, "nesterov": bool, "maximize": bool, "amsgrad": bool, "centered": bool,
    "alpha": float, "rho": float, "lr_decay": float, "initial_accumulator_value": float,
}  # fmt: skip


def hyper_flags(optimizer: Any) -> dict[str, float | bool]:
    """``opt_<name>`` flags of the first parameter group's hyper-parameters in :data:`HYPER_FLAGS`
    (an object with ``param_groups``, or a mapping of one group); a value of another type, or
    a non-finite number, is left out."""
    groups = getattr(optimizer, "param_groups", None)
    group = groups[0] if groups else optimizer
    if not isinstance(group, Mapping):
        return {}
    out: dict[str, float | bool] = {}
    for name, kind in HYPER_FLAGS.items():
        v = group.get(name)
        if kind is bool and isinstance(v, bool):
            out[f"opt_{name}"] = v
        elif kind is float and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out[f"opt_{name}"] = float(v)
    return out
