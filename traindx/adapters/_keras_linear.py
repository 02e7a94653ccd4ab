"""How many Dense layers a Keras Sequential model composes with nothing non-linear between them
(flag ``linear_stack``, as the torch Monitor records it from an fx trace): Dense layers whose
activation is linear (``activation=None``), joined only by layers that move or mask values
(Dropout, Flatten, Reshape, noise). Anything else - an activation layer, a normalization, a
convolution - ends a stack; a Dense with a non-linear activation ends it after itself. Only a
Sequential model's layer order is its data flow: any other model gives None (unknown).
"""

from __future__ import annotations

from typing import Any

#: Layer classes that pass values through but for shape or a random mask / additive noise.
_SAME = frozenset(
    "InputLayer Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D AlphaDropout GaussianDropout "
    "GaussianNoise Flatten Reshape Identity".split()
)


def linear_stack(model: Any) -> float | None:
    """The most Dense layers composed linearly in a row (0 without a Dense); None for a model
    that is not a ``keras.Sequential`` of plain layers."""
    import keras

    if not isinstance(model, keras.Sequential):
        return None
    run = best = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.Model):
            return None  # a nested model: its inside is not read here
        if kind == "Dense":
            act = getattr(getattr(layer, "activation", None), "__name__", "linear")
            run += 1
            best = max(best, run)
            if act != "linear":
                run = 0
        elif kind not in _SAME:
            run = 0
    return float(best)
