"""How many Dense layers a Keras Sequential model composes with nothing non-linear between them
(flag ``linear_stack``, as the torch Monitor records it from an fx trace): Dense layers whose
activation is linear (``activation=None``), joined only by layers that move or mask values
(Dropout, Flatten, Reshape, noise). Anything else - an activation layer, a normalization, a
convolution - ends a stack; a Dense with a non-linear activation ends it after itself. A Dense
whose output a GLU splits (its own ``activation="glu"`` or an ``Activation("glu")`` after it)
starts a stack: its halves are two maps of its input, one gating the other (as the torch trace
reads a split projection). Only a
Sequential model's layer order is its data flow: any other model gives None (unknown).
"""

from __future__ import annotations

from typing import Any

from traindx.adapters._common.facts import full_rank_depth

#: Layer classes that pass values through but for shape or a random mask / additive noise.
_SAME = frozenset(
    "InputLayer Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D AlphaDropout GaussianDropout "
    "GaussianNoise Flatten Reshape Identity".split()
)


def _width_in(layer: Any) -> int | None:
    kernel = getattr(layer, "kernel", None)
    shape = getattr(kernel, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) == 2 else None


def _act_name(layer: Any) -> str:
    return str(getattr(getattr(layer, "activation", None), "__name__", "linear"))


def _gated(layers: list[Any], i: int) -> bool:
    """Whether the Dense at ``i`` is a GLU's projection (its activation, or the next layer's)."""
    nxt = layers[i + 1] if i + 1 < len(layers) else None
    return _act_name(layers[i]) == "glu" or (type(nxt).__name__ == "Activation" and _act_name(nxt) == "glu")


def linear_stacks(model: Any) -> tuple[float, float] | None:
    """(the most Dense layers composed linearly in a row, the most that do not narrow below both
    ends of their stack - an autoencoder's linear bottleneck is a deliberate low-rank map:
    traindx.adapters._common.facts.narrowed); (0, 0) without a Dense; None for a model that is
    not a ``keras.Sequential`` of plain layers."""
    import keras

    if not isinstance(model, keras.Sequential):
        return None
    widths: list[int | None] = []  # the current stack's input and outputs
    best = full = 0
    layers = list(model.layers)
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        if isinstance(layer, keras.Model):
            return None  # a nested model: its inside is not read here
        if kind == "Dense":
            act = _act_name(layer)
            units = getattr(layer, "units", None)
            if _gated(layers, i):
                widths = []
            widths = [*(widths or [_width_in(layer)]), int(units) if units is not None else None]
            best = max(best, len(widths) - 1)
            full = max(full, full_rank_depth(widths))
            if act != "linear":
                widths = []
        elif kind not in _SAME:
            widths = []
    return float(best), float(full)


def linear_stack(model: Any) -> float | None:
    """The most Dense layers composed linearly in a row (0 without a Dense); None for a model
    that is not a ``keras.Sequential`` of plain layers."""
    stacks = linear_stacks(model)
    return None if stacks is None else stacks[0]
