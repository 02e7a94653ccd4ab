"""Rerank the rules' differential with the learned layer (traindx/learned.py).

The rules fire symptoms and score candidate causes as before; the learned layer, fitted by
cross-validation on labelled runs, reads the same facts plus the rules' log-odds and gives
the final probabilities over the causes and ``healthy``. The rules' evidence lines stay on
each cause; a cause the layer moves up gets one more line naming the facts that moved it,
with this run's values. A run the layer calls healthy (p(healthy) at or above its fitted
threshold) is reported healthy even when a weak rule fired; the likeliest fault is then
named with its (low) probability in the headline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from traindx.diagnosis import CauseResult, Evidence
from traindx.learned import LearnedModel, load_model, raw_feature, rule_logp
from traindx.rules.model import Cause, Rulebook

#: a cause is listed when the layer gives it at least this much, or the rules had it
MIN_LISTED = 0.01
#: a cause the rules firmly argue against (its fired counter-evidence, the evidence items
#: with a ratio below 1, multiplies it by COUNTERED_LR or less: "the loss first improved:
#: gradient ascent never improves the loss it climbs", x0.1) gets from the layer at most
#: COUNTERED_MAX_RATIO times the rules' own probability of it: the layer weighs curve shapes
#: seen on labelled runs and cannot know that this run's shape rules the cause out
#: (qa_fresh28: an unclipped RNN that improved, then went NaN, was loss_sign_flipped first at
#: x1.8e3 from "loss max abs"). Milder counter-evidence (an x0.4 "no overshoot marks", an
#: x0.2 "validation improved: the labels carry signal") the layer may still outweigh: capped
#: at every ratio below 1, the Q&A sets lost 4 right answers of 639 that way. The shipped
#: layer on the 1,530 faulty log-only runs it ranks (in-sample): at most 1x the rules' share,
#: top-1 -3 (1 gained, 4 lost where the layer had rightly outweighed an x0.1); at most 10x,
#: top-1 +-0 (1 gained, 1 lost), top-3 -1
COUNTERED_LR = 0.1
COUNTERED_MAX_RATIO = 10.0
SERIES_WORDS = {
    "loss": "training loss", "val_loss": "validation loss", "quality": "training accuracy",
    "val_quality": "validation accuracy", "grad": "gradient norm", "weight": "weight norm",
    "update": "update/weight ratio", "gap": "train/validation gap", "lr": "learning rate",
    "chance": "against chance level", "infer": "against the chance level the logs imply",
    "layers": "per-layer statistics", "ctx": "context",
    "test": "test metrics", "run": "run",
}  # fmt: skip
KEY_WORDS = {
    "tau": "trend (Kendall tau)", "tail_tau": "trend over the last part", "rise_tau": "trend after its best value",
    "drop": "drop from its start",
    "change": "relative change", "first": "value at the start (median of its first points)",
    "last": "value at the end (median of its last points)", "min": "minimum",
    "max": "maximum", "noise": "noise", "osc": "oscillation", "tv_ratio": "wiggliness",
    "peak_ratio": "peak over start", "rise_rel": "rise", "half_change": "change over the second half",
    "has_nonfinite": "has NaN/inf", "ends_nonfinite": "ends NaN/inf", "tail_cv": "spread over the last part",
    "neg_frac": "share of negative values", "spike_frac": "share of spikes",
}  # fmt: skip


def series_words(g: str, facts: dict[str, Any]) -> str:
    """A fact group in words; a quality group by the metric it was read from (any
    higher-is-better metric: accuracy, F1, AUC, R^2), so an R^2 is never called an accuracy
    (issue 10: "validation accuracy oscillation" on a run that logged val_r2 and no accuracy)."""
    name = facts.get(g, {}).get("name") if g in ("quality", "val_quality") else None
    if isinstance(name, str) and name and "acc" not in name.lower():
        return f"{'validation' if g == 'val_quality' else 'training'} {name}"
    return SERIES_WORDS.get(g, g)


def describe(name: str, facts: dict[str, Any], book: Rulebook) -> str:
    """A feature in words with this run's value."""
    if name.startswith("rule:"):
        return f"the rules' weighing of {name[5:]}"
    if name == "alarm":
        return "whether a warning or error rule fired"
    if name.startswith("sym:"):
        sym = book.symptom(name[4:])
        return f"{name[4:]} {sym.slug if sym else ''}".strip()
    if name.startswith("has:"):
        g = name[4:]
        return f"{series_words(g, facts)} {'recorded' if facts.get(g) else 'not recorded'}"
    path = name.removesuffix(">=0").removeprefix("log10:").partition("==")[0]
    g, _, k = path.partition(".")
    v = facts.get(g, {}).get(k)
    shown = "not recorded" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v).lower())
    return f"{series_words(g, facts)} {KEY_WORDS.get(k, k.replace('_', ' '))} = {shown}"


class Reranked(NamedTuple):
    causes: list[CauseResult]
    unknown: float
    healthy: bool
    p_healthy: float


def model_for(book: Rulebook, facts: dict[str, Any]) -> LearnedModel | None:
    """The learned layer for this run's input kind, when the rulebook enables it and is the
    shipped one: the layer was fitted on the shipped rules' verdicts, so a rulebook with user
    rule files (or none of the shipped ones) ranks with its rules alone."""
    from traindx.learned import input_kind
    from traindx.rules.loader import builtin_dir

    shipped = builtin_dir()
    if not book.learned or not book.sources or not all(Path(s).is_relative_to(shipped) for s in book.sources):
        return None
    return load_model(shipped / "learned", input_kind(facts))


def knows(model: LearnedModel, alarm_codes: set[str], scored: list[tuple[float, Cause, list[Evidence]]],
          ctx: Mapping[str, Any]) -> bool:  # fmt: skip
    """Whether the layer was fitted on what fired here: every alarm symptom is one of its
    features, the rules' leading cause one of its classes, and no context fact it never saw
    (of ``ctx``, the run's ``ctx`` facts) moved a cause. A symptom or cause added to the
    rulebook after the fit (no labelled run taught the layer about it) leaves the ranking to
    the rules."""
    syms = {f[4:] for f in model.features if f.startswith("sym:")}
    top = max(scored, key=lambda t: t[0])[1].id if scored else None
    return alarm_codes <= syms and (top is None or top in model.classes) and not _unseen_context(model, scored, ctx)


def ranks_nothing(book: Rulebook, code: str) -> bool:
    """Whether symptom ``code`` is a verdict gate only: no cause explains it and none pays
    for leaving it unexplained (``unexplained_lr: 1``), so the rules rank the causes as if it
    had not fired and the layer, fitted before it existed, still knows the run (LOSS027)."""
    sym = book.symptom(code)
    return sym is not None and sym.unexplained_lr == 1.0 and not any(code in c.explains for c in book.causes)


def _unseen_context(model: LearnedModel, scored: list[tuple[float, Cause, list[Evidence]]], ctx: Mapping[str, Any]) -> bool:
    """Whether the rules weighed the run's context (a configured LR, the optimizer, the
    model's output layer, steps per epoch: ``ctx.*`` facts from hyperparameter files,
    directory names, the writers or an adapter) while the layer has no context feature: it
    cannot know that a run configured with LR 3 diverged for that reason; the rules, which
    can, rank such a run. Weighed: a fired evidence item with a ratio other than 1 reads a
    ctx fact the run has (:func:`reads_context`); a condition that names ctx only in a guard
    of a fact the run lacks (``!has(ctx.loss_task) || ...``) weighed the logs alone.
    benchmarks/fit_ranker.knows_rows mirrors this (differential.Compiled.context_weighed)."""
    if not ctx or any(f.startswith("ctx.") for f in model.features):
        return False
    return any(e.kind == "evidence" and e.weight != 0.0 and reads_context(e.fact or "", ctx) for _, _, ev in scored for e in ev)


@lru_cache(maxsize=4096)
def context_read(when: str) -> frozenset[str] | None:
    """The ``ctx`` facts a condition reads (None: it uses the ``ctx`` group as a whole). The
    ``chance`` group counts as ``ctx.num_classes``: its levels are the logs read against the
    configured class count, and it exists only where that count does."""
    from traindx.rules.expr import references, tokenize

    refs = references(tokenize(when))
    if any(r.group == "ctx" and r.fact is None for r in refs):
        return None
    return frozenset(r.fact if r.group == "ctx" and r.fact else "num_classes" for r in refs if r.group in ("ctx", "chance"))


def reads_context(when: str, ctx: Mapping[str, Any]) -> bool:
    """Whether the condition ``when`` reads a fact the run's ``ctx`` facts hold (any of
    them, where it reads the group as a whole): ``ctx.lr > 1`` on a run configured with an
    LR does; ``!has(ctx.loss_task) || ...`` on a run without a loss task does not."""
    names = context_read(when)
    return bool(ctx) if names is None else any(n in ctx for n in names)


def clearable(book: Rulebook, alarm_codes: set[str], severity: dict[str, str]) -> bool:
    """Whether the layer may call healthy a run with these alarms: never after an
    error-severity symptom (``severity``: code -> severity, as fired) or one the rulebook
    says is never healthy (:meth:`Rulebook.never_healthy`)."""
    return not any(severity.get(c) == "error" or book.never_healthy(c) for c in alarm_codes)


def rerank(model: LearnedModel, book: Rulebook, facts: dict[str, Any], fired: set[str],
           scored: list[tuple[float, Cause, list[Evidence]]], fixes_for,
           rules_p: dict[str, float] | None = None) -> Reranked:  # fmt: skip
    """The learned probabilities as the diagnosis' causes (rules' evidence kept), mixed with
    the rules' own probabilities ``rules_p`` (calibrated, before the confidence map) by the
    model's ``blend``; the healthy verdict is the layer's."""
    rules = rule_logp({c.id: lo for lo, c, _ in scored}, book.unknown_prior)
    z = model.vector(facts, rules, fired)
    o = model.offsets(rules)
    p = model.predict_proba(z, o)[0]
    s = model.scores(z, o)[0] / model.temperature
    h = model.classes.index("healthy")
    by_id = {c.id: (lo, c, ev) for lo, c, ev in scored}
    rule_rank = {c.id: i for i, (_, c, _) in enumerate(sorted(scored, key=lambda t: -t[0]))}
    against = {c.id for _, c, ev in scored if countered(ev)}
    shown = mixed(model.classes, bounded(model.classes, p, rules_p or {}, against), rules_p or {}, model.blend)
    causes: list[CauseResult] = []
    for rank, cid in enumerate(sorted(shown, key=lambda c: -shown[c])):
        cause = book.cause(cid)
        if cause is None or (shown[cid] < MIN_LISTED and cid not in by_id):
            continue
        ev = list(by_id[cid][2]) if cid in by_id else []
        if rank < 3 and rank < rule_rank.get(cid, len(scored)) and cid in model.classes and cid not in against:  # the layer moved it up
            top = [(f, w) for f, w in model.contributions(z, cid, against="healthy") if w > 0][:3]
            if top:
                words = "; ".join(describe(f, facts, book) for f, _ in top)
                moved = float(sum(w for _, w in top))  # at most 2 bounds: each class's correction is held to one
                moved = moved if model.bound is None else min(moved, 2.0 * model.bound)
                ev.append(Evidence.model_construct(says=f"learned ranking (cross-validated) moved it up: {words}",
                                   fact="learned", value=True, weight=moved, kind="evidence"))  # fmt: skip
        fixes = fixes_for(cause, facts)
        lo = float(s[model.classes.index(cid)]) if cid in model.classes else float(by_id[cid][0])
        causes.append(CauseResult.model_construct(id=cid, family=cause.family, summary=cause.summary, probability=float(shown[cid]),
                                  log_odds=lo, evidence=ev, fixes=fixes))  # fmt: skip
    unknown = max(0.0, 1.0 - sum(c.probability for c in causes))
    p_fault = max((float(p[i]) for i in range(len(p)) if i != h), default=0.0)
    return Reranked(causes, unknown, says_healthy(model, book, float(p[h]), p_fault), float(p[h]))


def firmly_against(log_ratios: Iterable[float]) -> bool:
    """Whether fired evidence items (their log likelihood ratios) multiply a cause by
    COUNTERED_LR or less through the ones below 1: the rules say "not this"."""
    return sum(w for w in log_ratios if w < 0.0) <= math.log(COUNTERED_LR) + 1e-9


def countered(ev: list[Evidence]) -> bool:
    """:func:`firmly_against` of a cause's fired evidence items."""
    return firmly_against(e.weight for e in ev if e.kind == "evidence")


def bounded(classes: list[str], p, rules_p: Mapping[str, float], against: set[str]) -> list[float]:
    """The layer's probabilities ``p`` (over ``classes``) with each cause of ``against`` (its
    rules' counter-evidence fired) held to COUNTERED_MAX_RATIO times the rules' probability
    of it (``rules_p``; 0 where the rules do not list it). The mass taken is left to "none
    of these" (never handed to another cause nor to healthy); the healthy verdict reads the
    unbounded ``p``. benchmarks/fit_ranker.outcomes calls this too."""
    return [min(float(q), COUNTERED_MAX_RATIO * rules_p.get(c, 0.0)) if c in against else float(q)
            for c, q in zip(classes, p, strict=True)]  # fmt: skip


def mixed(classes: list[str], p, rules_p: dict[str, float], blend: float) -> dict[str, float]:
    """Each cause's shown probability: ``blend`` times the layer's (``p``, over ``classes``)
    plus ``1 - blend`` times the rules' (``rules_p``); causes only the rules name are kept.
    ``p`` entries of 0 (a class the layer cannot give) are left out unless the rules name it.
    benchmarks/fit_ranker.outcomes calls this too."""
    w = blend if rules_p else 1.0
    out = {c: w * float(q) for c, q in zip(classes, p, strict=True) if c != "healthy" and q > 0}
    for c, q in rules_p.items():
        if w < 1.0:
            out[c] = out.get(c, 0.0) + (1.0 - w) * q
    return out


def says_healthy(model: LearnedModel, book: Rulebook, p_healthy: float, p_fault: float) -> bool:
    """The layer's verdict: p(healthy) at or above its fitted threshold, and at least the
    rulebook's ``healthy_over_fault`` times its likeliest fault's probability (a run with a
    fault likelier than healthy is not called healthy, however low the threshold)."""
    return p_healthy >= model.healthy_threshold and p_healthy >= book.healthy_over_fault * p_fault


__all__ = ["Reranked", "bounded", "clearable", "countered", "describe", "firmly_against", "knows", "mixed", "model_for", "raw_feature", "reads_context", "rerank",
           "says_healthy"]  # fmt: skip
