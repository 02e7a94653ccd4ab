"""What the engine returns: symptoms seen, causes ranked with their evidence, and fixes.

Data only: rendering it is the report's job (:mod:`traindx.report`, e.g.
``traindx.render_text(d)``), which depends on this module, never the other way round."""

from __future__ import annotations

from typing import Any, Literal

from traindx.lazymodel import Field, LazyModel, new_dict, new_list
from traindx.schema import CheckResult, IngestReport

Severity = Literal["info", "warning", "error"]
#: healthy: no finding and enough evidence; findings: a warning or error; insufficient_data:
#: no finding, but the run lacks what the rulebook's requirements ask to call it healthy;
#: no_data: no point was read at all (a run that just started, or only unreadable files).
Verdict = Literal["healthy", "findings", "insufficient_data", "no_data"]
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


class Evidence(LazyModel):
    """One number that moved a cause (or describes a symptom)."""

    says: str
    fact: str | None = None
    value: float | int | bool | str | None = None
    #: natural-log likelihood ratio this item added to the cause's log-odds (0 for display).
    weight: float = 0.0
    kind: Literal["prior", "symptom", "evidence", "fact"] = "fact"


class SymptomResult(LazyModel):
    code: str
    slug: str
    summary: str
    severity: Severity
    onset_step: int | None = None
    #: unit of ``onset_step``: "step" or "epoch" (the unit of the series it was read from).
    onset_unit: str = "step"
    evidence: list[Evidence] = Field(default_factory=new_list)


class FixResult(LazyModel):
    text: str
    snippets: dict[str, str] = Field(default_factory=new_dict)


class CauseResult(LazyModel):
    id: str
    family: str = ""
    summary: str = ""
    probability: float
    log_odds: float
    evidence: list[Evidence] = Field(default_factory=new_list)
    fixes: list[FixResult] = Field(default_factory=new_list)


class ConfusableGroup(LazyModel):
    """Leading causes the recorded evidence cannot separate: their joint probability and
    what would tell them apart (facts this run did not record, and how to record them)."""

    causes: list[str]
    probability: float
    tell_apart: list[str] = Field(default_factory=new_list)


class NotRuledOut(LazyModel):
    """A fault a "healthy" verdict may hide: the share of labelled runs with it that were
    called healthy from the same kind of input (cross-validated, rulebook/calibration.yaml's
    ``healthy_misses``). Measured, not judged on this run."""

    cause: str
    #: of the held-out labelled runs with this fault and this input kind, the share called healthy
    missed: float


class NotEvaluated(LazyModel):
    """A rule that could not be evaluated on this run: the facts it ``needs`` were not
    logged, or its evaluation failed with ``error`` (a rule-file bug, e.g. 1/0)."""

    rule: str
    needs: list[str]
    error: str | None = None


class Diagnosis(LazyModel):
    """The differential for one run."""

    run_id: str
    source: str = ""
    verdict: Verdict
    #: True only when ``verdict == "healthy"``.
    healthy: bool
    headline: str
    #: what the run lacks to be judged (the unmet requirements' texts; empty otherwise)
    missing: list[str] = Field(default_factory=new_list)
    symptoms: list[SymptomResult] = Field(default_factory=new_list)
    causes: list[CauseResult] = Field(default_factory=new_list)
    unknown_probability: float = 0.0
    #: the top cause with the causes the evidence cannot separate from it (None when it stands apart)
    confusable: ConfusableGroup | None = None
    not_evaluated: list[NotEvaluated] = Field(default_factory=new_list)
    #: on a "healthy" verdict: the faults such a call most often misses on this input kind
    not_ruled_out: list[NotRuledOut] = Field(default_factory=new_list)
    ingest: IngestReport = Field(default_factory=lambda: IngestReport.model_construct())
    framework: str | None = None
    #: preflight checks (``traindx.adapters.<fw>.preflight`` or a run dir's ``preflight.json``):
    #: passed / failed (a CHK symptom fired on its facts) / skipped (with why)
    checks: list[CheckResult] = Field(default_factory=new_list)
    #: the run's hyperparameters (name -> value, as :attr:`RunContext.hyperparameters` holds
    #: them: from the adapter, hparams files, MLflow/W&B, TensorBoard, ``key=value`` folders)
    hyperparameters: dict[str, Any] = Field(default_factory=new_dict)
    facts: dict[str, dict[str, Any]] = Field(default_factory=new_dict, exclude=True)

    @property
    def top(self) -> CauseResult | None:
        return self.causes[0] if self.causes else None

    @property
    def worst_severity(self) -> Severity | None:
        if not self.symptoms:
            return None
        return max((s.severity for s in self.symptoms), key=SEVERITY_RANK.__getitem__)

    def to_json(self, **kw: Any) -> str:
        return self.model_dump_json(**kw)
