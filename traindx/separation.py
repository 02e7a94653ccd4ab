"""Which leading causes the recorded evidence cannot separate, and what would.

When the top cause is not probable enough (below the rulebook's ``confusable_mass`` of the
listed causes' probability), the group is the smallest set of leading causes reaching that
share together (at most ``confusable_max``): with calibrated probabilities it holds the true
cause, when it is one of the listed causes, about that often.
What would tell them apart is derived from the
rulebook, not listed per case: the facts that the members' strong evidence reads (a symptom
a member explains with a ratio >= ``strong_lr``, an evidence item moving its odds by
``strong_lr`` or more either way) and that this run did not record, each turned into an
instruction by the rulebook's ``fact_sources`` (first matching pattern). Instructions are
(a regression run is never asked for a classifier's facts: ``classification_facts``)
ordered by how far the missing facts could move the group: the members' probability, each
weighted by the strength (|ln ratio|) of its strongest evidence the instruction would supply,
summed - a check that decides the likeliest member outright (NaN in the data, ratio 40) comes
before one that nudges every member a little (reports show the first three).
"""

from __future__ import annotations

import math
import re
from fnmatch import fnmatchcase

from traindx.diagnosis import CauseResult, ConfusableGroup
from traindx.rules.model import Rulebook
from traindx.signals import Facts

_PATH = re.compile(r"\b([a-z_]+)\.([a-z_][a-z_0-9]*)\b")


def _absent(source: str, facts: Facts) -> list[str]:
    """Fact paths a condition reads that the run did not record."""
    return [f"{g}.{k}" for g, k in _PATH.findall(source) if facts.get(g, {}).get(k) is None]


def _how(path: str, book: Rulebook) -> str | None:
    return next((how for pat, how in book.fact_sources.items() if fnmatchcase(path, pat)), None)


def group_size(probs: list[float], unknown: float, mass: float, max_n: int) -> int:
    """How many leading causes form the "cannot separate" group (0: the top stands apart).
    Shares are taken among the listed causes (the "unknown" mass set aside): the smallest
    set of leading causes holding ``mass`` of it, at most ``max_n``."""
    listed = max(1.0 - unknown, 1e-12)
    if len(probs) < 2 or probs[0] / listed >= mass:
        return 0
    total = 0.0
    for k, q in enumerate(probs[:max_n]):
        total += q / listed
        if total >= mass:
            return k + 1
    return min(len(probs), max_n)


def confusable_group(
    causes: list[CauseResult], book: Rulebook, facts: Facts, unknown: float = 0.0
) -> ConfusableGroup | None:
    n = group_size(
        [c.probability for c in causes], unknown, book.confusable_mass, book.confusable_max
    )
    if n < 2:
        return None
    members = causes[:n]
    strong = math.log(book.strong_lr)
    # each way to get a missing fact, with the probability of the members it would weigh:
    # the one that bears on most of the group's probability is named first
    # per instruction, per member: the strength (|ln ratio|) of the member's strongest
    # evidence that the instruction's facts would supply
    bears: dict[str, dict[int, float]] = {}
    regression = "regression" in (facts.get("infer", {}).get("task"), facts.get("ctx", {}).get("task"))
    moot = book.classification_facts if regression else []
    for i, c in enumerate(members):
        cause = book.cause(c.id)
        if cause is None:
            continue
        sources = [
            (sym.condition.source, math.log(r))
            for code, r in cause.explains.items()
            if r >= book.strong_lr and (sym := book.symptom(code)) is not None
        ]
        sources += [(e.condition.source, abs(math.log(e.lr))) for e in cause.evidence if abs(math.log(e.lr)) >= strong]
        for src, size in sources:
            for path in _absent(src, facts):
                if any(fnmatchcase(path, pat) for pat in moot):
                    continue  # a regression has no accuracy or class count to record
                how = _how(path, book)
                if how:
                    got = bears.setdefault(how, {})
                    got[i] = max(got.get(i, 0.0), size)
    weight = {how: sum(members[i].probability * size for i, size in ids.items()) for how, ids in bears.items()}
    wanted = sorted(bears, key=lambda how: -weight[how])  # stable: ties keep the members' order
    return ConfusableGroup.model_construct(
        causes=[c.id for c in members],
        probability=sum(c.probability for c in members),
        tell_apart=wanted,
    )
