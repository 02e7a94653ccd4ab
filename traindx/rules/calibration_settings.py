"""The calibration settings' models (rulebook/calibration.yaml's ``settings:``): the map of the
top answer's probability per input kind and ranker, and what a "healthy" verdict missed per
input kind. Data only: traindx/confidence.py applies the maps, traindx/engine.py lists the
misses under a healthy verdict; benchmarks/calibrate.py and benchmarks/healthy_misses.py fit
and write them."""

from __future__ import annotations

from typing import Literal

from traindx.lazymodel import ConfigDict, Field, LazyModel, field_validator, new_list


class Confidence(LazyModel):
    """The calibration of the top answer's probability for one input kind and ranker
    (traindx/confidence.py): ``sigmoid(slope * logit(p) + shift)`` (with ``share``: of the
    top's share of the listed mass, plus ``unknown_slope * logit(unknown)``), or with ``knots`` the
    monotone line through them, at most ``cap``. ``kind: adapter`` serves an adapter kind
    without its own entry. Fitted on held-out runs by benchmarks/calibrate.py."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=r"^[a-z_]+$")
    ranker: Literal["rules", "learned"] = "rules"
    slope: float = Field(default=1.0, gt=0, le=20, allow_inf_nan=False)
    shift: float = Field(default=0.0, ge=-20, le=20, allow_inf_nan=False)
    cap: float = Field(default=1.0, gt=0, le=1)
    #: the Platt map reads the top cause's share of the listed causes' mass, and adds
    #: ``unknown_slope * logit(unknown mass)``, instead of the top probability alone
    share: bool = False
    unknown_slope: float = Field(default=0.0, ge=-20, le=20, allow_inf_nan=False)
    #: the "cannot separate" group's probability (its members' sum, after the map above) to
    #: how often such a group holds the true cause: ``sigmoid(group_slope * logit(sum) +
    #: group_shift)`` (identity by default)
    group_slope: float = Field(default=1.0, gt=0, le=20, allow_inf_nan=False)
    group_shift: float = Field(default=0.0, ge=-20, le=20, allow_inf_nan=False)
    #: [top probability, calibrated] pairs, both non-decreasing (the first strictly)
    knots: list[tuple[float, float]] = Field(default_factory=new_list)

    @field_validator("knots")
    @classmethod
    def _knots(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        ok = all(0 < p < 1 and 0 <= q <= 1 for p, q in v) and all(
            p1 > p0 and q1 >= q0 for (p0, q0), (p1, q1) in zip(v, v[1:], strict=False)
        )
        if not ok or len(v) == 1:
            raise ValueError("knots: two or more [p, q] pairs in (0, 1) x [0, 1], p increasing, q non-decreasing")
        return v


class HealthyMiss(LazyModel):
    """How often a "healthy" verdict missed one fault on one input kind: of the labelled runs
    with that fault (cross-validated answers, the five held-out fields pooled), the share
    called healthy. Written by benchmarks/healthy_misses.py (with calibrate.py --write); the
    report lists them under a "healthy" so it says what it could not rule out."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=r"^[a-z_]+$")
    cause: str = Field(pattern=r"^[a-z_]+$")
    share: float = Field(ge=0, le=1)
    runs: int = Field(ge=1)
