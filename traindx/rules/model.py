"""The rulebook's data model: symptoms (what the run shows) and causes (what to change)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from traindx.causes import CAUSES
from traindx.lazymodel import (
    ConfigDict,
    Field,
    LazyModel,
    PrivateAttr,
    field_validator,
    new_dict,
    new_list,
)
from traindx.rules import _cel as cel
from traindx.rules.calibration_settings import Confidence, HealthyMiss

if TYPE_CHECKING:  # (in annotations, read with pydantic's names by traindx._twin)
    from typing import Annotated

#: A likelihood ratio or probability: finite and positive (validated as _validation_types says).
Positive = float
#: A cause id of the vocabulary (traindx/causes.py).
CauseId = str


def _validation_types() -> dict[str, Any]:
    """The constrained types as pydantic validates them (read by traindx._twin)."""
    from typing import Annotated

    from pydantic import AfterValidator
    from pydantic import Field as PydanticField

    return {
        "Positive": Annotated[float, PydanticField(gt=0, allow_inf_nan=False)],
        "CauseId": Annotated[str, AfterValidator(_known_cause)],
    }


#: Rule models are validated when the rule files are read; a command that finds the
#: rulebook in the cache (:mod:`traindx.rules.cache`) never validates one.
_Model = LazyModel


#: Compiled CEL programs by source text, for the whole process: a rulebook read from the
#: cache is a fresh copy each time (:func:`traindx.rules.cache.get`), so without this every
#: diagnosis (an adapter's at the end of each run, a sweep of runs in one process) compiled
#: its conditions again, ~0.14 ms each. A program is immutable (``execute`` takes the facts).
_PROGRAMS: dict[str, Any] = {}
_MAX_PROGRAMS = 8192  # distinct sources kept (a process that makes ever new rules starts over)


def compiled(source: str) -> Any:
    """The CEL program of ``source``, compiled once per process (raises as ``cel.compile``)."""
    prog = _PROGRAMS.get(source)
    if prog is None:
        prog = cel.compile(source)
        if len(_PROGRAMS) >= _MAX_PROGRAMS:
            _PROGRAMS.clear()
        _PROGRAMS[source] = prog
    return prog


class Condition(_Model):
    """A CEL expression over fact groups; compiled once, when first evaluated.

    :meth:`prepare` (the loader calls it before the rulebook is cached) notes the groups it
    reads and its outcome on a run that logged none of them, which does not depend on the
    run: a rulebook read from the cache compiles only the conditions a run's facts can
    decide (issue 15: compiling all of them was a tenth of a ``traindx diagnose``). The
    compiled program is not pickled (it cannot be); the rest is.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    source: str

    @cached_property
    def program(self) -> Any:
        return compiled(self.source)

    @cached_property
    def groups(self) -> list[str]:
        return sorted(self.program.variables())

    @property
    def absent(self) -> tuple[bool | None, list[str], str | None] | None:
        """``(value, needs, error)`` on a run without any of :attr:`groups` (None: not prepared)."""
        return self.__dict__.get("_absent")

    def prepare(self) -> None:
        from traindx.engine import check

        self.__dict__["_absent"] = tuple(check(self, {}))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "program"}


def _compile(text: str) -> str:
    from traindx.rules.expr import check_bounds  # (validation only: a cached rulebook needs none)

    check_bounds(text)  # before CEL: a huge or deep expression crashes or hangs it
    try:
        compiled(text)
    except ValueError as e:
        msg = str(e).splitlines()
        raise ValueError(f"condition {text!r} does not parse: {msg[1] if len(msg) > 1 else msg[0]}") from None
    return text


class Docs(_Model):
    model_config = ConfigDict(extra="forbid")
    what: str = Field(min_length=10)
    why: str = Field(min_length=10)
    false_positives: str = Field(min_length=5)


class Case(_Model):
    """A synthetic run and whether the rule must fire on it (a test generated per case)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    series: dict[str, str] = Field(default_factory=new_dict)  # key string -> series notation
    units: dict[str, Literal["step", "epoch"]] = Field(default_factory=new_dict)
    every: dict[str, Annotated[int, Field(ge=1, le=1_000_000)]] = Field(default_factory=new_dict)  # key -> step spacing
    context: dict[str, Any] = Field(default_factory=new_dict)
    #: preflight check name -> its facts (the run's ``check`` group: check.<name>_<fact>)
    checks: dict[str, dict[str, float | bool | str]] = Field(default_factory=new_dict)
    fires: bool
    onset: int | None = None  # expected onset step, when fires

    @field_validator("context")
    @classmethod
    def _context(cls, v: dict[str, Any]) -> dict[str, Any]:
        from traindx.schema import RunContext

        RunContext.model_validate(v)
        return v

    @field_validator("series")
    @classmethod
    def _series(cls, v: dict[str, str]) -> dict[str, str]:
        from traindx.names import map_name
        from traindx.rules.series_dsl import parse_series
        from traindx.schema import CANONICAL_METRICS, SeriesKey

        for key, notation in v.items():
            k = SeriesKey.parse(key)
            read = map_name(key) if k.metric not in CANONICAL_METRICS else None
            if read is not None and read.metric != k.metric and read.metric in CANONICAL_METRICS:
                # an alias a reader would map ('acc', 'val_acc'): no fact reads it in a case
                raise ValueError(f"series {key!r}: no fact reads metric {k.metric!r}; write {str(read)!r}")
            parse_series(notation)
        return v


class _Conditional(_Model):
    """A rulebook entry with a CEL ``when`` condition (declared by the subclass, where its
    position sets the order of validation errors), checked at load and compiled once."""

    @field_validator("when", check_fields=False)
    @classmethod
    def _check_when(cls, v: str) -> str:
        return _compile(v)

    @cached_property
    def condition(self) -> Condition:
        # ``when`` was checked at load: no validator built for it (issue 15)
        return Condition.model_construct(source=self.when)  # type: ignore[attr-defined]


class Symptom(_Conditional):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[A-Z]{2,6}\d{3}$")
    slug: str = Field(pattern=r"^[a-z0-9-]+$")
    summary: str
    severity: Literal["info", "warning", "error"]
    status: Literal["experimental", "test", "stable"] = "experimental"
    when: str
    onset: str | None = None  # a fact path, e.g. loss.min_step
    shows: list[str] = Field(default_factory=new_list)  # fact paths shown as evidence
    # Symptoms in one group read the same underlying fact (a stalled loss shows as LOSS005,
    # LOSS011, ACC001...); a cause is scored on the strongest of them, not their product.
    group: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")
    # Likelihood ratio for a cause that does not explain this symptom; defaults to the
    # rulebook's ``unexplained_lr``. Specific observations (NaN in the inputs) set it lower.
    unexplained_lr: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    # A run this warning fires on is never called healthy: the learned layer may not clear it
    # (a validation metric collapsing to zero is broken whatever else the run shows); errors
    # never are. Its must-fire cases are runs the verdict must call findings.
    never_healthy: bool = False
    docs: Docs
    cases: list[Case] = Field(min_length=2)
    file: str = ""
    line: int | None = None


class Requirement(_Conditional):
    """What a run must show before it may be called healthy (the rulebook's ``evidence:``).

    A run with no alarm is "healthy" only when every requirement holds; otherwise its
    verdict is "insufficient data" and ``missing`` (placeholders filled from the facts)
    says what is lacking. Cases: ``fires: true`` means the requirement holds on that run.
    """

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^EVD\d{3}$")
    slug: str = Field(pattern=r"^[a-z0-9-]+$")
    summary: str
    when: str
    missing: str
    docs: Docs
    cases: list[Case] = Field(min_length=2)
    onset: None = None
    shows: list[str] = Field(default_factory=new_list)
    file: str = ""
    line: int | None = None


class EvidenceRule(_Conditional):
    """If ``when`` holds, multiply the cause's odds by ``lr`` (> 1 supports, < 1 refutes)."""

    model_config = ConfigDict(extra="forbid")
    when: str
    lr: Positive
    says: str


class FixRule(_Model):
    """A fix to try (text, framework snippets). With ``when`` (a condition on the facts, as
    evidence has) it is offered only on a run where the condition holds: advice that depends
    on how the run was set up; a cause keeps at least one fix without ``when``."""

    model_config = ConfigDict(extra="forbid")
    text: str
    torch: str | None = None
    keras: str | None = None
    jax: str | None = None
    when: str | None = None

    @field_validator("when")
    @classmethod
    def _check_when(cls, v: str | None) -> str | None:
        return None if v is None else _compile(v)

    @cached_property
    def condition(self) -> Condition | None:
        return None if self.when is None else Condition.model_construct(source=self.when)


def _known_cause(v: str) -> str:
    if v not in CAUSES:
        raise ValueError(f"unknown cause id {v!r}; ids come from the cause vocabulary (traindx/causes.py)")
    return v


class Cause(_Model):
    model_config = ConfigDict(extra="forbid")
    id: CauseId
    prior: float = Field(gt=0, lt=1)
    summary: str = ""
    #: symptom code -> likelihood ratio of seeing that symptom under this cause.
    explains: dict[str, Positive]
    evidence: list[EvidenceRule] = Field(default_factory=new_list)
    fixes: list[FixRule] = Field(min_length=1)
    file: str = ""
    line: int | None = None

    @property
    def family(self) -> str:
        return CAUSES[self.id][0]


class CauseExtension(_Model):
    """A ``causes:`` entry without a ``prior``: more symptoms (and evidence, fixes) for a
    cause defined elsewhere, e.g. a user's own symptom pointing at a shipped cause."""

    model_config = ConfigDict(extra="forbid")
    id: CauseId
    explains: dict[str, Positive] = Field(default_factory=new_dict)
    evidence: list[EvidenceRule] = Field(default_factory=new_list)
    fixes: list[FixRule] = Field(default_factory=new_list)
    file: str = ""
    line: int | None = None


class Calibration(_Conditional):
    """Temperature and unknown mass for the runs whose facts satisfy ``when`` (the first
    matching entry applies; else the rulebook's own ``temperature`` / ``unknown_prior``).
    Runs with an adapter's telemetry and bare logs differ in how much evidence they carry,
    so they are calibrated apart (fitted by benchmarks/fit_rulebook.py)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    when: str
    temperature: float = Field(gt=0)
    unknown_prior: float = Field(gt=0, lt=1)


class Settings(_Model):
    """The engine's settings (a rule file's ``settings:`` mapping)."""

    model_config = ConfigDict(extra="forbid")
    #: likelihood ratio applied to a cause for each present symptom it does not explain.
    unexplained_lr: float = Field(default=0.5, gt=0, le=1, allow_inf_nan=False)
    #: prior mass of "none of the listed causes".
    unknown_prior: float = Field(default=0.03, gt=0, lt=1)
    #: the log-odds are divided by this before normalizing (> 1 softens overconfident
    #: probabilities); fitted with ``unknown_prior`` on held-out runs.
    temperature: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    #: per-kind calibration (first matching ``when``), before the defaults above
    calibration: list[Calibration] = Field(default_factory=new_list)
    #: the last map of the top answer's probability, per input kind and ranker
    confidence: list[Confidence] = Field(default_factory=new_list)
    #: per input kind, the faults a "healthy" verdict most often missed (largest share first)
    healthy_misses: list[HealthyMiss] = Field(default_factory=new_list)
    #: below this top probability the leading causes that together reach it are reported
    #: as one "cannot separate" group (at most ``confusable_max``; rulebook/separation.yaml)
    confusable_mass: float = Field(default=0.8, gt=0, le=1)
    confusable_max: int = Field(default=6, ge=2)
    #: evidence this strong (either way) separates causes; its absence is reported
    strong_lr: float = Field(default=3.0, gt=1)
    #: fact path pattern -> how to record that fact (first match wins)
    fact_sources: dict[str, str] = Field(default_factory=new_dict)
    #: fact path patterns only a classifier records (accuracy, class count): never asked for
    #: from a run the logs or the adapter show to be a regression
    classification_facts: list[str] = Field(default_factory=new_list)
    #: rerank with the learned layer (rulebook/learned/<input kind>.json, fitted and
    #: cross-validated by benchmarks/fit_ranker.py) where one ships for the run's input kind
    learned: bool = True
    #: symptoms the learned layer may not turn into "healthy" besides every error and every
    #: symptom marked ``never_healthy`` (the shipped rulebook marks its symptoms instead)
    learned_keeps: list[str] = Field(default_factory=new_list)
    #: the learned layer calls a run with a finding healthy only when its p(healthy) reaches
    #: its threshold AND at least this multiple of its likeliest fault's probability (0: the
    #: threshold alone); rulebook/verdict.yaml
    healthy_over_fault: float = Field(default=0.0, ge=0, le=10)


class Rulebook(Settings):
    symptoms: list[Symptom] = Field(default_factory=new_list)
    causes: list[Cause] = Field(default_factory=new_list)
    #: what a run must show to be called healthy (else: insufficient data).
    requirements: list[Requirement] = Field(default_factory=new_list)
    sources: list[str] = Field(default_factory=new_list)
    #: shipped symptom codes, cause ids and requirement codes replaced by user rule files
    #: (only with ``override_shipped``)
    overridden: list[str] = Field(default_factory=new_list)
    _by_code: dict[str, Symptom] = PrivateAttr(default_factory=new_dict)

    def symptom(self, code: str) -> Symptom | None:
        if len(self._by_code) != len(self.symptoms):
            self._by_code = {s.code: s for s in self.symptoms}
        return self._by_code.get(code)

    def never_healthy(self, code: str) -> bool:
        """Whether a finding of symptom ``code`` keeps the run's verdict "findings" whatever
        the learned layer says: an error, a symptom marked ``never_healthy``, or one listed
        in the settings' ``learned_keeps``."""
        sym = self.symptom(code)
        return code in self.learned_keeps or (sym is not None and (sym.never_healthy or sym.severity == "error"))

    def cause(self, cid: str) -> Cause | None:
        return next((c for c in self.causes if c.id == cid), None)
