"""Static checks of a CEL condition before CEL sees it: size bounds and the facts it reads.

CEL compiles and evaluates natively: an expression of 100,000 terms overflows its parser's
stack (the process dies), and nested comprehensions over literal lists run for minutes. A
rule file is user input, so every condition is tokenized here first and refused, with a
one-line reason, when it is longer than :data:`MAX_CHARS`, nests brackets deeper than
:data:`MAX_NESTING`, nests comprehensions (``all``, ``exists``, ``map``...) deeper than
:data:`MAX_COMPREHENSION_DEPTH` or writes a list or map literal of more than
:data:`MAX_LITERAL_ITEMS` items. Within these bounds evaluation is at most about a million
basic operations (a comprehension can only range over a literal or a fact group).

:func:`references` lists the ``group.fact`` paths a condition reads, so the loader can check
them against the fact catalogue (a typo is an error at load, not a rule that is silently
never evaluated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 2000
MAX_NESTING = 12
MAX_COMPREHENSION_DEPTH = 2
MAX_LITERAL_ITEMS = 64

#: CEL macros that bind a variable and loop (``list.all(x, x > 0)``).
COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})
#: root names of references to other rules' conditions, resolved at load (traindx.rules.refs):
#: ``fired.CODE`` (a symptom's condition) and ``shared.NAME`` (a named shared condition)
REFERENCE_ROOTS = ("fired", "shared")
_KEYWORDS = frozenset({"true", "false", "null", "in"})

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<str>(?:[rR][bB]?|[bB][rR]?)?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<num>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[uU]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!?:.,()\[\]{}])
  | (?P<other>.)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """CEL tokens without whitespace and comments (an unknown character is an ``other``
    token: CEL's own parser reports it)."""
    return [Token(m.lastgroup or "other", m.group(), m.start()) for m in _TOKEN.finditer(text) if m.lastgroup != "ws"]


def check_bounds(text: str) -> list[Token]:
    """Raise ``ValueError`` when the expression is too large or too deep; else its tokens."""
    if len(text) > MAX_CHARS:
        raise ValueError(f"condition is {len(text):,} characters long; at most {MAX_CHARS:,} are allowed")
    toks = tokenize(text)
    # the open brackets, each with whether it opens a comprehension and its item count
    stack: list[list] = []
    for i, t in enumerate(toks):
        if t.text in "([{" and t.kind == "op":
            loop = t.text == "(" and i >= 2 and toks[i - 1].text in COMPREHENSIONS and toks[i - 2].text == "."
            stack.append([t.text, loop, 0, i + 1 < len(toks) and toks[i + 1].text not in ")]}"])
            if len(stack) > MAX_NESTING:
                raise ValueError(f"condition nests brackets {len(stack)} deep; at most {MAX_NESTING} levels are allowed")
            depth = sum(1 for s in stack if s[1])
            if depth > MAX_COMPREHENSION_DEPTH:
                raise ValueError(
                    f"condition nests comprehensions ({', '.join(sorted(COMPREHENSIONS))}) {depth} deep; "
                    f"at most {MAX_COMPREHENSION_DEPTH} are allowed"
                )
        elif t.text in ")]}" and t.kind == "op":
            if stack:
                opened = stack.pop()
                items = opened[2] + (1 if opened[3] else 0)
                if opened[0] in "[{" and items > MAX_LITERAL_ITEMS:
                    raise ValueError(f"a list or map literal of {items} items; at most {MAX_LITERAL_ITEMS} are allowed")
        elif t.text == "," and stack:
            stack[-1][2] += 1
    return toks


@dataclass(frozen=True)
class Reference:
    """A name a condition reads: ``group`` alone (the group is used as a map) or
    ``group.fact``; ``pos`` is its offset in the condition."""

    group: str
    fact: str | None
    pos: int

    def __str__(self) -> str:
        return f"{self.group}.{self.fact}" if self.fact else self.group


def references(toks: list[Token]) -> list[Reference]:
    """The fact groups and facts a tokenized condition reads (variables bound by a
    comprehension and function names left out)."""
    bound = {
        toks[i + 3].text
        for i in range(len(toks) - 3)
        if toks[i].text == "." and toks[i + 1].text in COMPREHENSIONS and toks[i + 2].text == "(" and toks[i + 3].kind == "ident"
    }
    out: list[Reference] = []
    for i, t in enumerate(toks):
        if t.kind != "ident" or t.text in _KEYWORDS or t.text in bound:
            continue
        if i and toks[i - 1].text == ".":  # a member or method, not a root name
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if nxt is not None and nxt.text == "(":  # a function call: has(...), size(...)
            continue
        fact = None
        if nxt is not None and nxt.text == "." and i + 2 < len(toks) and toks[i + 2].kind == "ident":
            after = toks[i + 3] if i + 3 < len(toks) else None
            if after is None or after.text != "(":  # loss.first, not loss.all(k, ...)
                fact = toks[i + 2].text
        elif nxt is not None and nxt.text == "[" and i + 3 < len(toks) and toks[i + 2].kind == "str" and toks[i + 3].text == "]":
            fact = _unquote(toks[i + 2].text)
        out.append(Reference(t.text, fact, t.pos))
    return out


def _unquote(s: str) -> str | None:
    body = s.lstrip("rRbB")
    q = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    inner = body[len(q) : len(body) - len(q)]
    return inner if "\\" not in inner else None
