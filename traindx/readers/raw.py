"""What a file reader returns before names are mapped onto canonical keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from traindx.schema import IngestProblem


@dataclass
class RawSeries:
    """Points of one logged name in write order (steps may repeat or restart)."""

    name: str
    steps: np.ndarray  # int64
    values: np.ndarray  # float64
    source: str = ""
    unit: str = "step"  # "step" or "epoch"
    wall_time: np.ndarray | None = None
    #: the split the file's format implies for names that carry none (fastai's metrics
    #: columns, MMDetection's ``"mode": "val"`` lines); None: the directory's, else train.
    split: str | None = None


@dataclass
class RawHistogram:
    """A logged histogram (TensorBoard HistogramProto or a histogram tensor) per step."""

    name: str
    steps: np.ndarray
    # One row per step: count, sum, sum of squares, min, max (NaN where unknown).
    stats: np.ndarray
    source: str = ""


@dataclass
class RawLog:
    """Everything one file gave: series, histograms and what reading it cost."""

    path: str
    series: list[RawSeries] = field(default_factory=list)
    histograms: list[RawHistogram] = field(default_factory=list)
    records: int = 0
    dropped_records: int = 0
    problems: list[IngestProblem] = field(default_factory=list)
    #: (steps, epoch) of an epoch column logged beside the step axis (Lightning's CSV)
    epochs: tuple[np.ndarray, np.ndarray] | None = None
    #: the run's plan as its file states it (``max_steps``, ``epochs``), for RunContext
    plan: dict[str, int] = field(default_factory=dict)
    #: the file counted the optimizer steps of an epoch (a tqdm bar's ``n/total``), so the
    #: ``steps_per_epoch`` it plans are the run's own (``ctx.steps_counted``)
    steps_counted: bool = False
    #: context flags the file states in its framework's words (a printed warning: readers/textwarnings.py)
    flags: dict[str, bool | float] = field(default_factory=dict)
    #: hyperparameters the file states (flattened names -> values; see readers/hparams.py)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    #: the run's name in its tracker (MLflow's ``<experiment>/<run name>``), when it has one
    name: str | None = None
    #: how many trailing parts of the run folder's id ``name`` replaces (MLflow 2, W&B 1)
    name_parts: int = 2
    #: keys its reader gave names by their cells (``val_correct`` of '79/114' -> val/accuracy)
    names: dict[str, str] = field(default_factory=dict)

    def problem(self, kind: str, message: str, count: int = 0) -> None:
        """Note a problem with this file (see :data:`traindx.schema.PROBLEM_KINDS`)."""
        self.problems.append(IngestProblem.model_construct(kind=kind, file=self.path, count=int(count), message=message))
