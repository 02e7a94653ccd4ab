"""The engine: evaluate the rulebook over a run's facts and rank causes as a differential.

For each candidate cause (one that explains at least one present warning/error symptom):

    log-odds = log prior
             + sum over present symptoms of log LR(symptom | cause)
               (the cause's ``explains`` ratio, or the rulebook's ``unexplained_lr``)
             + sum over the cause's evidence items whose condition holds of log LR

normalized with softmax over the candidates plus an "unknown" mass. Every term is kept as
an :class:`Evidence` item, so the report shows which numbers moved which cause.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any, NamedTuple

import numpy as np

from traindx.diagnosis import (
    SEVERITY_RANK,
    CauseResult,
    ConfusableGroup,
    Diagnosis,
    Evidence,
    FixResult,
    NotEvaluated,
    NotRuledOut,
    SymptomResult,
    Verdict,
)
from traindx.evidence_words import fact_says
from traindx.headline import headline, no_reference
from traindx.rerank import clearable, knows, model_for, ranks_nothing, rerank
from traindx.rules import _cel as cel
from traindx.rules.model import Cause, Condition, Rulebook, Symptom
from traindx.schema import Run
from traindx.separation import confusable_group
from traindx.signals import Facts, compute_facts
from traindx.textsafe import value_text

_NO_KEY = re.compile(r"No such key: (\w+)|Undefined variable or function: '(\w+)'")


class Outcome(NamedTuple):
    """A condition's value on a run: True/False, or None with the facts it ``needs`` (not
    logged) or the ``error`` its evaluation raised (1/0, an integer overflow, a bad regex)."""

    value: bool | None
    needs: list[str]
    error: str | None = None


class Bound(dict[str, dict[str, Any]]):
    """A run's facts with their CEL form built once, on first use, for every condition.

    Handing CEL a dict converts every group the condition names again, for each of the
    ~100 conditions of a diagnosis (15 ms, a twentieth of a start-up); a ``cel.Context``
    converts the facts once. The facts must not change once bound (they do not: they are
    computed once per run by :func:`~traindx.signals.compute_facts`).
    """

    def __init__(self, facts: Facts, absent: set[str] | frozenset[str] = frozenset()) -> None:
        super().__init__(facts)
        #: groups conditions name that were not logged: bound to an empty map (as in :func:`check`)
        self.names = set(self) | set(absent)
        self._env: Any = None

    def env(self) -> Any:
        if self._env is None:
            self._env = cel.Context({g: self.get(g, {}) for g in self.names})
        return self._env


def check(cond: Condition, facts: Facts) -> Outcome:
    """Evaluate a condition; never raises.

    A missing group is passed as an empty map: CEL's commutative ``||``/``&&`` still decide
    ``a.x < 1 || b.x < 1`` when only ``a`` was logged, and error only when the answer
    really depends on the missing fact. Any other error, or a value that is not true or
    false, leaves the rule not evaluated with that error.
    """
    absent = cond.absent
    if absent is not None and not any(g in facts for g in cond.groups):  # decided at load
        return Outcome(absent[0], list(absent[1]), absent[2])
    try:
        if isinstance(facts, Bound) and facts.names.issuperset(cond.groups):
            result = cond.program.execute(facts.env())
        else:  # a group not logged: passed as an empty map
            result = cond.program.execute({g: facts.get(g, {}) for g in cond.groups})
    except KeyError as e:  # a fact missing from a group that is present
        missing = [g for g in cond.groups if g not in facts]
        return Outcome(None, missing or [str(e.args[0]) if e.args else "?"])
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 - CEL raises many types (a Rust panic too); none may escape
        m = _NO_KEY.search(str(e))
        if m:
            missing = [g for g in cond.groups if g not in facts]
            return Outcome(None, missing or [m.group(1) or m.group(2)])
        return Outcome(None, [], f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".strip())
    if not isinstance(result, bool):
        return Outcome(None, [], f"the condition gave {result!r}, not true or false")
    return Outcome(result, [])


def evaluate(cond: Condition, facts: Facts) -> tuple[bool | None, list[str]]:
    """``(value, needs)``: :func:`check` without the error text (None on an error)."""
    out = check(cond, facts)
    return out.value, out.needs


def fact(facts: Facts, path: str) -> Any:
    group, _, key = path.partition(".")
    return facts.get(group, {}).get(key)


_FACT_ALT = r"[a-z_]+\.[a-z_0-9]+(?:[*/][0-9.]+(?:e-?[0-9]+)?)?"
PLACEHOLDER = re.compile(rf"\{{({_FACT_ALT}(?:\|{_FACT_ALT})*)(?:\|([^}}]*))?\}}")
ALT = re.compile(r"([a-z_]+\.[a-z_0-9]+)(?:([*/])(.+))?")


def _value(alt: str, facts: Facts) -> Any:
    """A fact, optionally scaled (``ctx.lr/5``); None when missing or not finite."""
    m = ALT.fullmatch(alt)
    v = fact(facts, m.group(1)) if m else None
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if m and m.group(2) and isinstance(v, int | float) and not isinstance(v, bool):
        k = float(m.group(3))
        v = v * k if m.group(2) == "*" else v / k
    return v


def fill(text: str, facts: Facts) -> str:
    """Fill ``{group.fact}`` placeholders with the run's values: ``{a.x|b.y|fallback}`` takes
    the first recorded fact (``a.x/5``, ``a.x*5`` scale it), else the fallback text."""

    def sub(m: re.Match[str]) -> str:
        for alt in m.group(1).split("|"):
            v = _value(alt, facts)
            if v is not None:
                return value_text(v)
        return m.group(2) if m.group(2) is not None else "?"

    return PLACEHOLDER.sub(sub, text)


def fixes_for(cause: Cause, facts: Facts) -> list[FixResult]:
    """The cause's fixes for this run, placeholders filled: a fix with a ``when`` only where
    its condition holds (a condition the facts cannot decide drops it)."""
    return [
        FixResult.model_construct(
            text=fill(f.text, facts),
            snippets={k: fill(v, facts) for k in ("torch", "keras", "jax") if (v := getattr(f, k))},
        )
        for f in cause.fixes
        if f.condition is None or check(f.condition, facts).value is True
    ]


def _symptom_result(sym: Symptom, facts: Facts) -> SymptomResult:
    onset = fact(facts, sym.onset) if sym.onset else None
    if isinstance(onset, (int, float)) and not isinstance(onset, bool) and onset >= 0:
        onset_step: int | None = int(onset)
    else:
        onset_step = None
    ev = [
        Evidence.model_construct(says=fact_says(p, facts), fact=p, value=fact(facts, p), kind="fact")
        for p in sym.shows
        if fact(facts, p) is not None
    ]
    group = sym.onset.partition(".")[0] if sym.onset else ""
    unit = facts.get("val_loss" if group == "gap" else group, {}).get("unit", "step")
    return SymptomResult.model_construct(
        code=sym.code, slug=sym.slug, summary=sym.summary, severity=sym.severity,
        onset_step=onset_step, onset_unit=unit, evidence=ev,
    )  # fmt: skip


def _score(cause: Cause, fired: list[SymptomResult], book: Rulebook, facts: Facts, notes: list[NotEvaluated]) -> tuple[float, list[Evidence]]:
    lo = math.log(cause.prior)
    ev = [Evidence.model_construct(says=f"prior {cause.prior:g}", weight=lo, kind="prior")]
    # Symptoms of one group are one observation seen through several thresholds: the cause
    # is scored on the strongest ratio in the group (noisy-max), so correlated symptoms do
    # not multiply a generic cause past a specific one.
    best: dict[str, tuple[float, Evidence]] = {}
    for s in fired:
        sym = book.symptom(s.code)
        if s.code in cause.explains:
            ratio = cause.explains[s.code]
            item = Evidence.model_construct(says=f"{s.code} {s.slug}", fact=s.code, value=True, weight=math.log(ratio), kind="symptom")
        elif s.severity != "info":
            ratio = sym.unexplained_lr if sym and sym.unexplained_lr is not None else book.unexplained_lr
            item = Evidence.model_construct(says=f"{s.code} {s.slug} (not explained)", fact=s.code, value=True, weight=math.log(ratio), kind="symptom")
        else:
            continue
        key = sym.group if sym and sym.group else s.code
        if key not in best or item.weight > best[key][1].weight:
            best[key] = (math.log(ratio), item)
    for w, item in best.values():
        lo += w
        ev.append(item)
    for i, rule in enumerate(cause.evidence):
        ok, needs, err = check(rule.condition, facts)
        if ok is None:
            notes.append(NotEvaluated.model_construct(rule=f"{cause.id}#{i + 1}", needs=needs, error=err))
            continue
        if ok:
            lo += math.log(rule.lr)
            shown = fill(rule.says, facts)
            ev.append(Evidence.model_construct(says=shown, fact=rule.condition.source, value=True, weight=math.log(rule.lr), kind="evidence"))
    return lo, ev


def calibration(book: Rulebook, facts: Facts) -> tuple[float, float]:
    """(temperature, unknown prior) for this run: the first calibration entry whose
    condition holds, else the rulebook's defaults."""
    for cal in book.calibration:
        if evaluate(cal.condition, facts)[0]:
            return cal.temperature, cal.unknown_prior
    return book.temperature, book.unknown_prior


def diagnose_facts(run: Run, facts: Facts, book: Rulebook) -> Diagnosis:
    fired: list[SymptomResult] = []
    notes: list[NotEvaluated] = []
    for sym in book.symptoms:
        ok, needs, err = check(sym.condition, facts)
        if ok is None:
            notes.append(NotEvaluated.model_construct(rule=sym.code, needs=needs, error=err))
        elif ok:
            fired.append(_symptom_result(sym, facts))
    fired.sort(key=lambda s: (-SEVERITY_RANK[s.severity], s.onset_step if s.onset_step is not None else 1 << 62))
    alarms = [s for s in fired if s.severity != "info"]
    framework = facts.get("ctx", {}).get("framework")

    causes: list[CauseResult] = []
    unknown = 0.0
    scored: list[tuple[float, Cause, list[Evidence]]] = []
    if alarms:
        alarm_codes = {s.code for s in alarms}
        for cause in book.causes:
            if not alarm_codes & set(cause.explains):
                continue
            lo, ev = _score(cause, fired, book, facts, notes)
            scored.append((lo, cause, ev))
        # calibrated: the log-odds are divided by the rulebook's temperature (fitted on
        # held-out runs by benchmarks/accuracy.py --calibrate) before normalizing
        t, u = calibration(book, facts)
        lu = math.log(u)
        top = max([lu] + [s[0] for s in scored])
        z = math.exp((lu - top) / t) + sum(math.exp((s[0] - top) / t) for s in scored)
        unknown = math.exp((lu - top) / t) / z
        for lo, cause, ev in sorted(scored, key=lambda s: -s[0]):
            fixes = fixes_for(cause, facts)
            causes.append(
                CauseResult.model_construct(
                    id=cause.id, family=cause.family, summary=cause.summary,
                    probability=math.exp((lo - top) / t) / z, log_odds=lo, evidence=ev, fixes=fixes,
                )
            )  # fmt: skip
    said_healthy, learned_note, ranker = not alarms, "", "rules"
    # (the layer is read only where it can act: a run with alarms)
    model = model_for(book, facts) if alarms and "_error" not in facts else None
    # it weighs the rules' findings (never alarms on its own), where it was fitted on them
    ranked = {s.code for s in alarms if not ranks_nothing(book, s.code)}  # a gate alone moves no cause
    if model is not None and alarms and knows(model, ranked, scored, facts.get("ctx") or {}):
        ranker = "learned"
        rr = rerank(model, book, facts, {s.code for s in fired}, scored, fixes_for, {c.id: c.probability for c in causes})
        rr = rr._replace(causes=_calibrated(book, facts, ranker, rr.causes, rr.unknown)[0])
        healthy_ok = clearable(book, {s.code for s in alarms}, {s.code: s.severity for s in alarms})
        said_healthy = rr.healthy and healthy_ok
        unknown = 0.0 if said_healthy else rr.unknown
        rr = rr._replace(healthy=said_healthy)
        causes = [] if rr.healthy else rr.causes
        if rr.healthy and alarms and rr.causes:
            top_c = rr.causes[0]
            learned_note = (f"; the rules' signs ({', '.join(s.code for s in alarms)}) are also seen on healthy runs "
                            f"(learned ranking: p healthy {rr.p_healthy:.0%}, above its threshold {model.healthy_threshold:.0%}); "
                            f"possibly {top_c.id} ({top_c.probability:.0%}, low confidence)")  # fmt: skip
    if ranker == "rules":
        causes, unknown = _calibrated(book, facts, ranker, causes, unknown)
    else:
        unknown = 0.0 if said_healthy else max(0.0, 1.0 - sum(c.probability for c in causes))
    group = confusable_group(causes, book, facts, unknown)
    if group is not None:  # stated with how often such a group held the true cause
        group = _group_calibrated(book, facts, ranker, group)
    missing = [] if not said_healthy else _missing(book, facts, notes)
    verdict: Verdict = "findings" if not said_healthy else ("insufficient_data" if missing else "healthy")
    if not alarms and not run.series and not run.checks:  # nothing was read: say so, never "healthy"
        verdict, missing = "no_data", []
    d = Diagnosis.model_construct(  # the engine's own values: nothing to validate
        run_id=run.id,
        source=run.source,
        verdict=verdict,
        healthy=verdict == "healthy",
        missing=missing,
        headline=headline(run, alarms if not said_healthy else [], causes, missing, group, learned_note)
        + (no_reference(facts) if verdict == "healthy" and not alarms else ""),
        symptoms=fired,
        causes=causes,
        unknown_probability=unknown,
        confusable=group,
        not_evaluated=notes,
        not_ruled_out=_not_ruled_out(book, facts) if verdict == "healthy" else [],
        ingest=run.ingest,
        framework=framework,
        hyperparameters=dict(run.context.hyperparameters),
        facts=facts,
    )
    if run.checks:
        from traindx.checks import judge_checks

        d.checks = judge_checks(run.checks, d, book)
    return d


def _not_ruled_out(book: Rulebook, facts: Facts, most: int = 5) -> list[NotRuledOut]:
    """The faults a "healthy" call on this input kind missed most often (measured on held-out
    labelled runs; rulebook/calibration.yaml ``healthy_misses``), largest share first."""
    from traindx.learned import input_kind

    kind = input_kind(facts)
    rows = sorted((m for m in book.healthy_misses if m.kind == kind), key=lambda m: (-m.share, m.cause))
    return [NotRuledOut.model_construct(cause=m.cause, missed=m.share) for m in rows[:most]]


def _calibrated(book: Rulebook, facts: Facts, ranker: str, causes: list[CauseResult], unknown: float) -> tuple[list[CauseResult], float]:
    """The causes with the rulebook's confidence map for this input kind and ranker applied
    (traindx/confidence.py); unchanged when it has none."""
    from traindx.confidence import find, recalibrate
    from traindx.learned import input_kind

    m = find(book, input_kind(facts), ranker) if causes else None
    if m is None:
        return causes, unknown
    probs, unknown = recalibrate([c.probability for c in causes], unknown, m)
    return [c.model_copy(update={"probability": q}) for c, q in zip(causes, probs, strict=True)], unknown


def _group_calibrated(book: Rulebook, facts: Facts, ranker: str, group: ConfusableGroup) -> ConfusableGroup:
    """The group with the rulebook's group map for this input kind and ranker applied to its
    probability (traindx.confidence.group_probability); unchanged without a map."""
    from traindx.confidence import find, group_probability
    from traindx.learned import input_kind

    m = find(book, input_kind(facts), ranker)
    return group if m is None else group.model_copy(update={"probability": group_probability(group.probability, m)})


def _missing(book: Rulebook, facts: Facts, notes: list[NotEvaluated]) -> list[str]:
    """The texts of the requirements for a "healthy" verdict that this run does not meet
    (a requirement that cannot be evaluated is not met)."""
    out = []
    for req in book.requirements:
        ok, needs, err = check(req.condition, facts)
        if ok is None:
            notes.append(NotEvaluated.model_construct(rule=req.code, needs=needs, error=err))
        if not ok:
            out.append(" ".join(fill(req.missing, facts).split()))
    return out


def diagnose_run(run: Run, book: Rulebook) -> Diagnosis:
    # Logged values may be anything (1e308, inf, NaN): arithmetic on them overflows by
    # design, and the facts say what is non-finite; numpy's warnings about it are noise.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        named = {g for sym in book.symptoms for g in sym.condition.groups}
        return diagnose_facts(run, Bound(compute_facts(run), named), book)
