"""References between conditions: each piece of logic is written once in the rulebook.

A condition may name another rule's condition instead of spelling it out again:

- ``fired.CODE``: the condition of symptom ``CODE`` (true where that symptom fires), e.g.
  ``fired.CTX026 && loss.rise > 0.5`` in a cause's evidence;
- ``shared.NAME``: a named condition from a rule file's ``conditions:`` section
  (``{name, when, about}``), for logic that several rules share but no symptom states.

Any condition may use them (symptoms, requirements, evidence, fixes, calibration), and a
referenced condition may itself refer on. The loader resolves them once, after the rule
files are merged (a user file may name a shipped symptom): referenced conditions first,
each reference replaced by the referenced condition in parentheses, so a rule is evaluated
with CEL's own three-valued logic exactly as if it were written out. A reference to a
symptom whose facts the run lacks is therefore undecided, not false: ``!fired.X`` does not
hold where ``X`` cannot be evaluated. A reference to an unknown code or name, a cycle
(``fired.A`` inside ``B`` inside ``A``) and an expansion beyond the size bounds of
:mod:`traindx.rules.expr` are one-line load errors naming the rule.

The written text stays in ``when`` (what ``traindx explain`` shows); ``condition.source``
is the resolved one, which everything that evaluates or reads a condition's facts uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from traindx.errors import RulebookError
from traindx.lazymodel import ConfigDict, Field
from traindx.rules.expr import REFERENCE_ROOTS as ROOTS
from traindx.rules.expr import Token, check_bounds, tokenize
from traindx.rules.model import Condition, Rulebook, _Conditional


class SharedCondition(_Conditional):
    """A named condition (a rule file's ``conditions:`` entry), referenced as ``shared.NAME``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    when: str
    about: str = Field(min_length=10)
    file: str = ""
    line: int | None = None


def _refs(toks: list[Token]) -> Iterator[tuple[int, str, str]]:
    """(token index, root, name) of each ``fired.X`` / ``shared.X`` in a tokenized condition."""
    for i, t in enumerate(toks[:-2]):
        if t.kind == "ident" and t.text in ROOTS and toks[i + 1].text == "." and toks[i + 2].kind == "ident":
            if (i and toks[i - 1].text == ".") or (i + 3 < len(toks) and toks[i + 3].text == "("):
                continue  # a member (x.fired.y) or a method call, not a reference
            yield i, t.text, toks[i + 2].text


_MAYBE = re.compile(r"\b(?:fired|shared)\s*\.")


def has_refs(text: str) -> bool:
    return _MAYBE.search(text) is not None and next(_refs(tokenize(text)), None) is not None


def _error(site: Any, message: str) -> RulebookError:
    """The load error at ``site``'s file and line (the rulebook's first file when it has none)."""
    file = getattr(site, "file", "") or next(iter(getattr(site, "sources", None) or []), "rulebook")
    return RulebookError(file, message, line=getattr(site, "line", None))


def _label(target: Any) -> str:
    """How an error names a referenced symptom or shared condition."""
    return f"shared condition {target.name}" if isinstance(target, SharedCondition) else f"symptom {target.code}"


class _Resolver:
    def __init__(self, book: Rulebook, shared: list[SharedCondition]) -> None:
        self.symptoms = {s.code: s for s in book.symptoms}
        self.shared = {c.name: c for c in shared}
        self.done: dict[tuple[str, str], str] = {}
        self.stack: list[tuple[str, str]] = []

    def target(self, root: str, name: str) -> SharedCondition | Any | None:
        return self.symptoms.get(name) if root == "fired" else self.shared.get(name)

    def expand(self, text: str, owner: Any, where: str) -> str:
        """``text`` with every reference replaced by its resolved condition in parentheses."""
        toks = tokenize(text)
        if next(_refs(toks), None) is None:
            return text
        if len(toks) == 3:  # the whole condition is one reference: no parentheses needed
            _, root, name = next(_refs(toks))
            tgt = self.target(root, name)
            if tgt is not None:
                return self.resolve(root, name, tgt, owner, where)
        out, last = [], 0
        for i, root, name in _refs(toks):
            tgt = self.target(root, name)
            if tgt is None:
                what = "symptom code" if root == "fired" else "shared condition"
                raise _error(owner, f"{where}: {root}.{name} names no {what} {name!r}")
            out += [text[last : toks[i].pos], "(", self.resolve(root, name, tgt, owner, where), ")"]
            last = toks[i + 2].pos + len(toks[i + 2].text)
        expanded = "".join([*out, text[last:]])
        try:
            check_bounds(expanded)
        except ValueError as e:
            raise _error(owner, f"{where}: with its references written out, {e}") from None
        return expanded

    def resolve(self, root: str, name: str, tgt: Any, owner: Any, where: str) -> str:
        key = (root, name)
        if key in self.done:
            return self.done[key]
        if key in self.stack:
            cycle = " -> ".join(f"{r}.{n}" for r, n in [*self.stack[self.stack.index(key) :], key])
            raise _error(owner, f"{where}: its condition refers to itself ({cycle})")
        self.stack.append(key)
        try:
            self.done[key] = self.expand(tgt.when, tgt, _label(tgt))
        finally:
            self.stack.pop()
        return self.done[key]


def _conditionals(book: Rulebook) -> Iterator[tuple[Any, str, Any]]:
    """(entry with a condition, what to call it in an error, the entry holding its file and line)."""
    yield from ((s, f"symptom {s.code}", s) for s in book.symptoms)
    yield from ((r, f"requirement {r.code}", r) for r in book.requirements)
    yield from ((c, f"calibration {c.name}", book) for c in book.calibration)
    for cause in book.causes:
        yield from ((e, f"cause {cause.id}: evidence {i + 1}", cause) for i, e in enumerate(cause.evidence))
        yield from ((f, f"cause {cause.id}: fix {i + 1}", cause) for i, f in enumerate(cause.fixes) if f.when is not None)


def resolve(book: Rulebook, shared: list[SharedCondition]) -> None:
    """Give every condition of ``book`` that refers to others its resolved ``condition``
    (raises :class:`RulebookError` naming the rule on an unknown name, a cycle or an
    expansion too large). Types need no second check: each condition was checked with its
    references standing for bools (:func:`traindx.rules.checks.condition_problem`), and each
    referenced condition gives one."""
    r = _Resolver(book, shared)
    owners = {id(s): s for s in book.symptoms}
    for rule, where, site in _conditionals(book):
        if _MAYBE.search(rule.when) is None:
            continue
        if id(rule) in owners:  # a symptom: through the resolver, so that cycles are seen
            text = r.resolve("fired", rule.code, rule, site, where)
        else:
            text = r.expand(rule.when, site, where)
        rule.__dict__["condition"] = Condition.model_construct(source=text)
    for c in shared:  # an unused one is still checked: a cycle or a typo is an error
        r.resolve("shared", c.name, c, c, f"shared condition {c.name}")
