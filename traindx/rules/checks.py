"""Check rule entries against the fact catalogue at load.

A condition may read only facts the signals produce (``loss.firts`` is an error naming the
closest real fact), must combine them with types CEL accepts (``loss.first + 1`` adds a
double to an int) and must give true or false (``loss.n + 1`` does not). Fact paths in
``onset``/``shows`` and ``{group.fact}`` placeholders in texts are checked the same way.
The type and boolean checks evaluate the condition once on the catalogue's sample facts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from traindx.engine import ALT, PLACEHOLDER
from traindx.rules.catalogue import catalogue, cel_type, sample_facts, unknown
from traindx.rules.expr import REFERENCE_ROOTS, references, tokenize
from traindx.rules.model import Cause, CauseExtension, Condition, Requirement, Symptom


def condition_problem(text: str) -> str | None:
    """Why a condition (already within the size bounds) cannot be used; None when it can.
    A reference to another condition (``fired.CODE``, ``shared.NAME``) stands for a bool
    here; that the name exists, and that its condition gives a bool, is checked when the
    references are resolved (traindx.rules.refs)."""
    named: dict[str, dict[str, bool]] = {}  # references: each true here (a referenced condition gives a bool)
    for ref in references(tokenize(text)):
        if ref.group in REFERENCE_ROOTS:
            named.setdefault(ref.group, {})[ref.fact or ""] = True
            continue
        msg = unknown(ref.group, ref.fact)
        if msg:
            return msg
    cond = Condition(source=text)
    facts = sample_facts()
    try:
        result = cond.program.execute({g: facts[g] for g in cond.groups if g in catalogue()} | named)
    except TypeError as e:  # no overload for these operand types: wrong whatever the run
        return f"type error: {str(e).splitlines()[0]}"
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: BLE001 - a value-dependent error (1/x at x=0): contained at evaluation
        return None
    if not isinstance(result, bool):
        return f"a condition must be true or false; {text!r} gives a {cel_type(result)}"
    return None


def path_problem(path: str) -> str | None:
    group, dot, fact = path.partition(".")
    if not dot or not fact:
        return f"{path!r} is not a fact path (group.fact, e.g. loss.min_step)"
    return unknown(group, fact)


def text_problem(text: str) -> str | None:
    """Problems of the ``{a.x|b.y/5|fallback}`` placeholders in a text."""
    for m in PLACEHOLDER.finditer(text):
        for alt in m.group(1).split("|"):
            a = ALT.fullmatch(alt)
            msg = path_problem(a.group(1) if a else alt)
            if msg:
                return f"placeholder {m.group(0)}: {msg}"
    return None


def _problems(entry: Symptom | Requirement | Cause | CauseExtension) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(location in the entry, message) of every problem found."""
    if isinstance(entry, (Symptom, Requirement)):
        if msg := condition_problem(entry.when):
            yield ("when",), msg
        if isinstance(entry, Symptom) and entry.onset and (msg := path_problem(entry.onset)):
            yield ("onset",), msg
        for i, p in enumerate(entry.shows):
            if msg := path_problem(p):
                yield ("shows", i), msg
        if isinstance(entry, Requirement) and (msg := text_problem(entry.missing)):
            yield ("missing",), msg
        return
    for i, ev in enumerate(entry.evidence):
        if msg := condition_problem(ev.when):
            yield ("evidence", i, "when"), msg
        if msg := text_problem(ev.says):
            yield ("evidence", i, "says"), msg
    if isinstance(entry, Cause) and all(f.when for f in entry.fixes):
        yield ("fixes",), "every fix has a `when`: a cause needs one fix offered on any run"
    for i, fix in enumerate(entry.fixes):
        if fix.when and (msg := condition_problem(fix.when)):
            yield ("fixes", i, "when"), msg
        for k in ("text", "torch", "keras", "jax"):
            if (v := getattr(fix, k)) and (msg := text_problem(v)):
                yield ("fixes", i, k), msg


def first_problem(entry: Symptom | Requirement | Cause | CauseExtension) -> tuple[tuple[Any, ...], str] | None:
    return next(_problems(entry), None)
