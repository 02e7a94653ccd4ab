"""Keras 3 helpers of :mod:`traindx.adapters.keras`: layer kinds, the static context, and the
compiled probe/weight functions for each backend.

Modules: :mod:`.model` (layers, activations, weight groups), :mod:`.config` (loss,
optimizer, regularization), :mod:`.data` (init scales, targets, class counts, summaries),
:mod:`.engine` (the probe telemetry), :mod:`.reduce` (its statistics), :mod:`.compiling`
(compiling its functions).

The statistics are written with ``keras.ops`` and compiled per backend (``tf.function`` on
TensorFlow, eager under ``torch.no_grad`` on torch); on JAX only the probe's forward/backward
is compiled (``jax.jit``, fast XLA options) and the same statistics run with numpy on the host
(``reduce.HOST``: compiling them cost a short fit 0.1-0.5 s). Only the gradient
itself is backend-specific (``tf.GradientTape``, ``jax.value_and_grad`` over a stateless
forward pass, ``torch.autograd.grad``). On TensorFlow and torch each function returns one
flat float32 vector, moved to the host in one transfer.

Nothing here changes the model: the probe forward pass runs with ``training=False`` inside a
``keras.StatelessScope`` (variable assignments such as a custom ``compute_loss`` updating a
metric are recorded in the scope and dropped), gradients never touch ``.grad`` or optimizer
state, and no random numbers are drawn.
"""

from traindx.adapters._keras_stats.config import (
    ELEMENTWISE_LOSSES,
    KERAS_LOSSES,
    LOSS_ALIASES,
    canonical_loss_name,
    host_float,
    inner_optimizer,
    l2_coefficient,
    l2_max,
    loss_info,
    optimizer_info,
    regularization_penalty,
)
from traindx.adapters._keras_stats.data import (
    EMBEDDING_LAYERS,
    TARGET_CAP,
    class_counts,
    host_summary,
    infer_activation,
    init_scales,
    looks_one_hot,
    target_facts,
)
from traindx.adapters._keras_stats.engine import Engine, ProbeLayout
from traindx.adapters._keras_stats.model import (
    ACT_LAYERS,
    ACT_NAMES,
    BACKEND,
    BN_LAYERS,
    DROPOUT_LAYERS,
    PASS_LAYERS,
    SKIP_LAYERS,
    Groups,
    act_layers,
    group_weights,
    layer_activation,
    leaf_layers,
    loss_head,
    model_info,
    one_unit_categorical_heads,
    ops,
    output_layer,
    stat_kind,
)
from traindx.adapters._keras_stats.reduce import grad_vec, vec
from traindx.adapters._keras_stats.weights import bn_stats_at_init

__all__ = [
    "ACT_LAYERS",
    "ACT_NAMES",
    "BACKEND",
    "BN_LAYERS",
    "DROPOUT_LAYERS",
    "ELEMENTWISE_LOSSES",
    "EMBEDDING_LAYERS",
    "Engine",
    "Groups",
    "KERAS_LOSSES",
    "LOSS_ALIASES",
    "PASS_LAYERS",
    "ProbeLayout",
    "SKIP_LAYERS",
    "TARGET_CAP",
    "act_layers",
    "bn_stats_at_init",
    "canonical_loss_name",
    "class_counts",
    "grad_vec",
    "group_weights",
    "host_float",
    "host_summary",
    "infer_activation",
    "init_scales",
    "inner_optimizer",
    "l2_coefficient",
    "l2_max",
    "layer_activation",
    "leaf_layers",
    "looks_one_hot",
    "loss_head",
    "one_unit_categorical_heads",
    "loss_info",
    "model_info",
    "ops",
    "optimizer_info",
    "output_layer",
    "regularization_penalty",
    "stat_kind",
    "target_facts",
    "vec",
]
