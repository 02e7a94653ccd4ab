"""Framework-independent code of the live adapters, written once for all of them.

:mod:`.guards` (never break training: the one-shot warning, the fatal-symptom stop,
self-disabling hooks), :mod:`.losses` (what each known loss takes and the task it implies),
:mod:`.facts` (context facts recorded the same way by every adapter), :mod:`.levels` (the
trivial predictor's loss from the targets), :mod:`.cadence` (how
often per-layer telemetry is taken) and :mod:`.writer` (event files + ``context.json``,
flushed every few seconds, and reading a run back). Nothing here imports a deep-learning
framework.
"""

from traindx.adapters._common.cadence import Cadence
from traindx.adapters._common.facts import (
    INIT_MIN_SIZE,
    MAX_CLASSES,
    TARGET_SAMPLE,
    ZERO_SCALE,
    GradReach,
    Moments,
    RowTargets,
    TargetFacts,
    add_counts,
    class_limit,
    count_ids,
    dropout_max,
    fold_reach,
    init_scale_flags,
    metric_values,
    note_broadcast,
    to_float,
)
from traindx.adapters._common.guards import (
    WARN_PREFIX,
    Closing,
    SelfDisabling,
    TrainingDiverged,
    fatal_message,
    note_fatal,
    note_stop,
    warn,
)
from traindx.adapters._common.levels import TargetLevel, batch_levels, levels_of_batches
from traindx.adapters._common.losses import FUNCTIONAL_LOSSES, LOSS_KINDS, LossKind, loss_name
from traindx.adapters._common.writer import (
    F32_MAX,
    RunWriter,
    default_logdir,
    encode_rows,
    encode_scalars,
    read_run,
)

__all__ = [
    "Cadence",
    "Closing",
    "F32_MAX",
    "FUNCTIONAL_LOSSES",
    "GradReach",
    "INIT_MIN_SIZE",
    "LOSS_KINDS",
    "LossKind",
    "MAX_CLASSES",
    "Moments",
    "RunWriter",
    "SelfDisabling",
    "TARGET_SAMPLE",
    "RowTargets",
    "TargetFacts",
    "TargetLevel",
    "TrainingDiverged",
    "WARN_PREFIX",
    "ZERO_SCALE",
    "add_counts",
    "batch_levels",
    "class_limit",
    "count_ids",
    "dropout_max",
    "fold_reach",
    "default_logdir",
    "encode_rows",
    "encode_scalars",
    "fatal_message",
    "init_scale_flags",
    "levels_of_batches",
    "loss_name",
    "metric_values",
    "note_fatal",
    "note_stop",
    "note_broadcast",
    "read_run",
    "to_float",
    "warn",
]
