"""Widths of a model's hidden layers, from the layers an adapter recorded.

Keras records each layer's output shape: a layer with weights (or a recurrent one) whose
output is ``(batch, units)`` has width ``units``. The torch Monitor records parameter counts
only; there a chain of ``Linear`` layers still gives its widths away, read back from the
model's output units: a Linear layer with bias holds ``(inputs + 1) * outputs`` parameters,
so its input width is ``params / outputs - 1``, which is the output width of the layer
before it. The chain stops at any other layer type or a count that does not divide; the
input width of the first layer is the model's input, not a hidden width.

Output layers are not hidden layers. Where the adapter marked them (``is_output``: Keras
functional models, whose heads it reads from ``model.outputs``), every marked layer is left
out (a multi-output model's first head is not a one-unit bottleneck); where nothing is marked
(torch, JAX, subclassed Keras models, recordings made before the marker) the last layer is
taken as the only output.

A dense layer that reads the same input as a dense output head, while no dense layer reads its
width, sits beside the head, not before it (flax's attention-pooling scorer ``nn.Dense(1)``
softmaxed over the positions, an actor-critic's value head next to its policy): its width is
no hidden width. Input widths are read from parameter counts (``params / units``, the same for
two dense layers on one input, both with or both without bias).
"""

from __future__ import annotations

import re
from typing import Any

#: Layer types (or, for JAX pytrees, names) of recurrent layers: torch RNN/LSTM/GRU, Keras
#: SimpleRNN/LSTM/GRU/Bidirectional, flax/haiku cells.
RECURRENT = re.compile(r"rnn|lstm|gru|recurrent|bidirectional", re.IGNORECASE)
#: Layer types or names of attention: torch ``MultiheadAttention``, Keras ``MultiHeadAttention``,
#: HF modules named ``...attn.c_attn`` / ``...attention.self.query``, flax ``SelfAttention``.
#: Layer types of dense (fully connected) layers: Keras/flax ``Dense``, torch ``Linear``.
DENSE = re.compile(r"^(dense|linear)$", re.IGNORECASE)
ATTENTION = re.compile(r"attention|attn|(^|[._/\s])mha([._/\s]|$)", re.IGNORECASE)


def output_layers(layers: list[Any]) -> list[Any]:
    """The model's output layers: those the adapter marked ``is_output``, else the last one
    (none for an empty list)."""
    marked = [layer for layer in layers if layer.is_output]
    return marked or layers[-1:]


def hidden_widths(layers: list[Any], output_units: int | None) -> list[int]:
    """Widths of the layers before the output (model order where recorded; read back from
    the output where inferred). Empty when nothing can be told."""
    if len(layers) < 2:
        return _linear_chain(layers, output_units)
    outs = {id(layer) for layer in output_layers(layers)}
    hidden = [layer for layer in layers if id(layer) not in outs]
    shaped = [
        (layer, int(shape[-1]))
        for layer in hidden
        if (shape := layer.output_shape) and len(shape) == 2 and shape[-1]
        and ((layer.params or 0) > 0 or RECURRENT.search(layer.type or ""))
    ]  # fmt: skip
    if any(layer.output_shape for layer in layers):
        beside = _beside_a_head(layers, hidden)
        return [w for layer, w in shaped if id(layer) not in beside]
    return _linear_chain(layers, output_units)


def _fan_in(layer: Any) -> int | None:
    """A dense layer's parameters per output unit (its input width, plus 1 with a bias)."""
    shape, params = layer.output_shape, layer.params or 0
    if not DENSE.search(layer.type or "") or not shape or len(shape) != 2 or not shape[-1] or params <= 0:
        return None
    units = int(shape[-1])
    return params // units if params % units == 0 else None


def _beside_a_head(layers: list[Any], hidden: list[Any]) -> set[int]:
    """Hidden dense layers that read what a dense output head reads while no dense layer reads
    their output (no fan-in of ``width`` or ``width + 1``)."""
    heads = {f for layer in output_layers(layers) if (f := _fan_in(layer))}
    fans = {f for layer in layers if (f := _fan_in(layer))}
    return {
        id(layer) for layer in hidden
        if (f := _fan_in(layer)) in heads and not {int(layer.output_shape[-1]), int(layer.output_shape[-1]) + 1} & fans
    }  # fmt: skip


def _linear_chain(layers: list[Any], output_units: int | None) -> list[int]:
    out = output_units
    widths: list[int] = []
    reached_input = False
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        params = layer.params or 0
        if not out or layer.type != "Linear" or params <= 0 or params % out:
            break
        inputs = params // out - 1
        if inputs < 1:
            break
        widths.append(inputs)
        out = inputs
        reached_input = i == 0
    return widths[:-1] if reached_input else widths
