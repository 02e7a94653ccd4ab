"""The telemetry schema: runs, series keys, columnar series and run context.

Telemetry is columnar: a :class:`Series` holds two numpy arrays (``steps``, ``values``),
never an object per point. The models (:class:`~traindx.lazymodel.LazyModel`) describe the
run, its keys and its context; pydantic validates them, when input comes from outside, and
gives JSON Schema (``traindx schema``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np

from traindx.ingest import (  # noqa: F401 - re-exported: the schema's public names
    LOSS_KINDS,
    PROBLEM_KINDS,
    IngestProblem,
    IngestReport,
    SkippedPath,
)
from traindx.lazymodel import (
    ConfigDict,
    Field,
    LazyModel,
    field_serializer,
    model_validator,
    new_dict,
    new_list,
)

Split = Literal["train", "val", "test"]
IntArray = np.ndarray
FloatArray = np.ndarray
StepUnit = Literal["step", "epoch"]


def _validation_types() -> dict[str, Any]:
    """The array types as pydantic validates and describes them (read by traindx._twin)."""
    from pydantic import WithJsonSchema

    return {
        "IntArray": Annotated[np.ndarray, WithJsonSchema({"type": "array", "items": {"type": "integer"}})],
        "FloatArray": Annotated[np.ndarray, WithJsonSchema({"type": "array", "items": {"type": ["number", "null"]}})],
    }

#: Canonical metric names every reader and adapter maps onto.
CANONICAL_METRICS: tuple[str, ...] = (
    "loss",
    "accuracy",
    "lr",
    "grad_norm",
    "weight_norm",
    "update_ratio",
    "act_mean",
    "act_std",
    "act_frac_zero",
    "act_frac_saturated",
    "nonfinite",
    "input_mean",
    "input_std",
    "input_min",
    "input_max",
    "output_row_sum",
    "pred_class_frac",
)


class SeriesKey(LazyModel):
    """Identity of a series: what was measured, on which split, where, which statistic.

    ``str(key)`` gives a compact stable form: ``val/loss``, ``train/grad_norm@fc1.weight``,
    ``train/act_frac_zero@conv1:mean``. ``SeriesKey.parse`` reads it back.
    """

    model_config = ConfigDict(frozen=True)

    metric: str
    split: Split = "train"
    scope: str = "global"
    statistic: str = "value"

    def __str__(self) -> str:
        s = f"{self.split}/{self.metric}"
        if self.scope != "global":
            s += f"@{self.scope}"
        if self.statistic != "value":
            s += f":{self.statistic}"
        return s

    @classmethod
    def parse(cls, text: str) -> SeriesKey:
        return cls(**cls.parse_fields(text))

    @staticmethod
    def parse_fields(text: str) -> dict[str, Any]:
        """The fields :meth:`parse` validates: ``metric``, ``split``, ``scope``, ``statistic``."""
        split, _, rest = text.partition("/")
        if not rest:
            split, rest = "train", text
        rest, _, stat = rest.partition(":")
        metric, _, scope = rest.partition("@")
        return {"metric": metric, "split": split, "scope": scope or "global", "statistic": stat or "value"}


class Series(LazyModel):
    """One series: sorted integer steps and float values of equal length.

    :meth:`from_raw` takes points in write order and orders them without losing any that
    were not superseded (:func:`traindx.ordering.order_points`: constant steps and per-epoch
    counters are numbered by record order, shuffled records sorted); for a resumed run,
    TensorBoard's rule applies: points written later supersede earlier points at the same or
    later steps, and ``superseded`` counts them.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    key: SeriesKey
    steps: IntArray
    values: FloatArray
    unit: StepUnit = "step"
    original_name: str = ""
    source: str = ""
    superseded: int = 0

    @model_validator(mode="after")
    def _check_arrays(self) -> Series:
        return Series._arrays_checked(self)  # (self: the twin's instance; traindx.lazymodel)

    def _arrays_checked(self) -> Series:
        steps = np.asarray(self.steps)
        values = np.asarray(self.values, dtype=np.float64)
        if steps.ndim != 1 or values.ndim != 1:
            raise ValueError(f"series {self.key}: steps and values must be 1-D")
        if steps.shape != values.shape:
            raise ValueError(
                f"series {self.key}: {steps.size} steps but {values.size} values; lengths must match"
            )
        steps = steps.astype(np.int64, copy=False)
        if steps.size > 1 and np.any(steps[1:] <= steps[:-1]):  # (np.diff overflows)
            raise ValueError(
                f"series {self.key}: steps must be strictly increasing; use Series.from_raw "
                "for logs whose steps repeat or restart"
            )
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "values", values)
        return self

    @classmethod
    def checked(cls, **fields: Any) -> Series:
        """``Series(**fields)`` for values traindx made itself (a SeriesKey, numpy arrays,
        strings): the same array checks (:exc:`ValueError`), without pydantic (issue 15)."""
        return cls.model_construct(**fields)._arrays_checked()

    @classmethod
    def from_raw(
        cls,
        key: SeriesKey,
        steps: np.ndarray | list[int],
        values: np.ndarray | list[float],
        wall: np.ndarray | None = None,
        **kw: Any,
    ) -> Series:
        """Build a series from points in write order (:func:`traindx.ordering.order_points`;
        ``wall`` gives their wall times when known)."""
        from traindx.ordering import order_points

        steps = np.asarray(steps, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if steps.shape != values.shape:
            raise ValueError(f"series {key}: {steps.size} steps but {values.size} values")
        unit = kw.get("unit", "step")
        if unit not in ("step", "epoch"):
            raise ValueError(f"series {key}: unit must be 'step' or 'epoch', not {unit!r}")
        o = order_points(steps, values, wall, unit=unit)
        return cls.checked(key=key, steps=o.steps, values=o.values, superseded=o.superseded, **kw)

    @field_serializer("steps", "values")
    def _ser_array(self, arr: np.ndarray) -> list[float]:
        return [None if not np.isfinite(v) else v for v in arr.tolist()]  # type: ignore[misc]

    def __len__(self) -> int:
        return int(self.steps.size)


class LayerInfo(LazyModel):
    name: str
    type: str | None = None
    activation: str | None = None
    params: int | None = None
    trainable: bool | None = None
    output_shape: list[int | None] | None = None
    #: True for a layer that produces one of the model's outputs (a multi-output model has
    #: several); None where the adapter cannot tell (torch, old recordings): readers then
    #: take the last layer as the only output.
    is_output: bool | None = None


class ModelInfo(LazyModel):
    layers: list[LayerInfo] = Field(default_factory=new_list)
    output_activation: str | None = None
    output_units: int | None = None
    num_params: int | None = None
    num_trainable: int | None = None
    has_dropout: bool | None = None
    has_batchnorm: bool | None = None
    training_mode: bool | None = None


class LossInfo(LazyModel):
    name: str | None = None
    from_logits: bool | None = None
    reduction: str | None = None
    expects: Literal["logits", "probabilities", "values"] | None = None


class OptimizerInfo(LazyModel):
    name: str | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    eps: float | None = None
    betas: list[float] | None = None
    clipnorm: float | None = None
    clipvalue: float | None = None
    schedule: str | None = None


class DataInfo(LazyModel):
    n_train: int | None = None
    n_val: int | None = None
    batch_size: int | None = None
    num_classes: int | None = None
    class_counts: list[int] | None = None
    input_dtype: str | None = None
    input_min: float | None = None
    input_max: float | None = None
    input_mean: float | None = None
    input_std: float | None = None
    task: Literal["classification", "binary", "regression", "other"] | None = None


class RunContext(LazyModel):
    """What is known about the run beside its series. Every field is optional: a CSV has none."""

    framework: str | None = None
    framework_version: str | None = None
    model: ModelInfo = Field(default_factory=lambda: ModelInfo.model_construct())
    loss: LossInfo = Field(default_factory=lambda: LossInfo.model_construct())
    optimizer: OptimizerInfo = Field(default_factory=lambda: OptimizerInfo.model_construct())
    data: DataInfo = Field(default_factory=lambda: DataInfo.model_construct())
    epochs: int | None = None
    steps_per_epoch: int | None = None
    #: planned optimizer steps of the whole run (HF ``max_steps``), when known
    max_steps: int | None = None
    #: name -> value: a number, string, bool or list of those; nested configurations as
    #: dotted names (``optimizer.lr``). Read from the adapter, hparams files, MLflow params,
    #: W&B config, TensorBoard's hparams plugin and ``key=value`` directory names
    #: (:mod:`traindx.readers.hparams`).
    hyperparameters: dict[str, Any] = Field(default_factory=new_dict)
    #: hyperparameter name -> where it was read (a file path, or "directory name '...'")
    hyperparameter_sources: dict[str, str] = Field(default_factory=new_dict)
    #: Observations the adapters made statically (e.g. "softmax output with from_logits=True").
    notes: list[str] = Field(default_factory=new_list)
    #: Adapter-computed flags that rules may read (e.g. ``grad_accumulating``).
    flags: dict[str, float | bool | str] = Field(default_factory=new_dict)


CheckStatus = Literal["passed", "failed", "skipped"]


class CheckResult(LazyModel):
    """One preflight check run on the user's model before training (``traindx.checks``).

    ``facts`` are what the check measured; they reach the rulebook as ``check.<name>_<fact>``
    (the ``check`` fact group), so rules judge them like any other fact. A check that could
    not run is ``skipped`` with the reason in ``explanation``, never ``passed``.
    ``series`` holds a check's curves for plots: the ``lr`` check keeps its sweep as
    ``series["lrs"]`` and ``series["losses"]`` (one loss per LR; None where it was not finite).
    """

    name: str
    status: CheckStatus
    explanation: str = ""
    facts: dict[str, float | bool | str] = Field(default_factory=new_dict)
    series: dict[str, list[float | None]] = Field(default_factory=new_dict)
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.explanation.startswith(f"{self.status}:"):
            return f"{self.name}: {self.explanation}"
        return f"{self.name}: {self.status}: {self.explanation}"


class Run(LazyModel):
    """One training run: an id, where it came from, its context and its series."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    source: str = ""
    context: RunContext = Field(default_factory=lambda: RunContext.model_construct())
    series: dict[str, Series] = Field(default_factory=new_dict)
    ingest: IngestReport = Field(default_factory=lambda: IngestReport.model_construct())
    #: preflight checks run on the model before training (``preflight.json`` in the run dir)
    checks: list[CheckResult] = Field(default_factory=new_list)

    def add(self, series: Series, *, replace: bool = False) -> None:
        """Add a series; a second series with the same key is merged as written after the
        first (a resumed run's next file): its points supersede the first's at the same or
        later steps, as TensorBoard does; how many is counted in ``ingest.problems``."""
        from traindx.ordering import supersede

        k = str(series.key)
        if k in self.series and not replace:
            old = self.series[k]
            steps = np.concatenate([old.steps, series.steps])
            values = np.concatenate([old.values, series.values])
            steps, values, gone = supersede(steps, values)
            if gone:
                self.ingest.add(
                    "superseded",
                    f"{series.source or k}: '{series.original_name or k}': {gone} point(s) of an "
                    f"earlier file ({old.source or 'earlier'}) superseded by this later one at the "
                    "same or later steps (a resumed run)",
                    file=series.source,
                    count=gone,
                )
            merged = Series.checked(
                key=series.key,
                steps=steps,
                values=values,
                unit=old.unit,
                original_name=old.original_name,
                source=old.source,
                superseded=int(old.superseded + series.superseded + gone),
            )
            self.series[k] = merged
        else:
            self.series[k] = series

    def get(
        self, metric: str, split: str = "train", scope: str = "global", statistic: str = "value"
    ) -> Series | None:
        # a lookup: the key string alone, no validator built (an unknown split finds nothing)
        key = SeriesKey.model_construct(metric=metric, split=split, scope=scope, statistic=statistic)
        return self.series.get(str(key))

    def find(self, metric: str, split: str | None = None) -> list[Series]:
        """Every series of a metric (any scope), optionally on one split."""
        return [
            s
            for s in self.series.values()
            if s.key.metric == metric and (split is None or s.key.split == split)
        ]
