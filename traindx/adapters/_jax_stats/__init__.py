"""JAX helpers of :mod:`traindx.adapters.jax`: layer grouping, the fused telemetry, and the
static context read from a parameter tree and an optax transformation.

:func:`telemetry` is a pure function of the arrays it is given. It returns a :class:`Stats`:
one 1-D float32 vector of every statistic (a single device buffer per step) plus the tags
naming its entries and a few static facts (shapes, dtypes), both kept in the pytree's
auxiliary data, so ``jax.jit`` returns them without tracing them. Tags starting with ``_``
are raw inputs of host-side decisions (output activation, activation kind, class counts);
the :class:`~traindx.adapters.jax.Recorder` turns them into canonical series.

Modules: :mod:`.tree` (key paths, layer grouping), :mod:`.telemetry` (the fused pass),
:mod:`.reduce` and :mod:`.batch` (its statistics), :mod:`.host` (the same on the host),
:mod:`.config` (optimizer, loss, model), :mod:`.data` (init scales, data facts).
"""

from traindx.adapters._jax_stats.batch import MAX_COUNTED_CLASSES
from traindx.adapters._jax_stats.config import (
    JAX_LOSSES,
    freezes_params,
    loss_info,
    model_info,
    num,
    optimizer_info,
    schedule_name,
    schedule_nominal,
    schedule_peak,
)
from traindx.adapters._jax_stats.data import data_info, init_scales
from traindx.adapters._jax_stats.telemetry import (
    HOST_FLAG,
    MODE,
    Stats,
    activation_names,
    leaf_sums,
    telemetry,
)
from traindx.adapters._jax_stats.tree import (
    array_leaves,
    first_array,
    group_leaves,
    is_array,
    key_str,
    layer_of,
    path_parts,
)

__all__ = [
    "HOST_FLAG",
    "JAX_LOSSES",
    "MAX_COUNTED_CLASSES",
    "MODE",
    "Stats",
    "activation_names",
    "array_leaves",
    "data_info",
    "first_array",
    "freezes_params",
    "group_leaves",
    "init_scales",
    "is_array",
    "key_str",
    "layer_of",
    "leaf_sums",
    "loss_info",
    "model_info",
    "num",
    "optimizer_info",
    "path_parts",
    "schedule_name",
    "schedule_nominal",
    "schedule_peak",
    "telemetry",
]
