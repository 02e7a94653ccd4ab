"""Conditions written more than once in the rulebook (issue 15: no logic written twice).

    python benchmarks/rule_duplicates.py [-v]

Every rule condition (symptoms, requirements, evidence, fixes, calibration, shared
conditions) is tokenized and normalised (tokens joined by one space, outer parentheses
dropped); the operands of each ``&&`` / ``||`` chain, at every nesting level, and each run of
two or more of them, are its sub-expressions. Counted:

- A: a symptom's whole condition written again inside another rule (``fired.CODE`` says it once);
- B: a compound condition (two or more terms) written whole in two or more rules;
- B1: a single comparison (one fact, one threshold) written whole in two or more rules;
- C: a compound sub-expression of two or more terms found in two or more rules (the longest
  ones only), references (``fired.X``, ``shared.X``) not counted as terms.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from traindx.rules.expr import Token, tokenize  # noqa: E402

REF = re.compile(r"^(fired|shared) \. \w+$")


def _outer(ts: list[Token]) -> list[Token]:
    """``ts`` without parentheses that enclose all of it."""
    while len(ts) >= 2 and ts[0].text == "(" and ts[-1].text == ")":
        depth = 0
        for i, t in enumerate(ts):
            depth += t.text in "([{"
            depth -= t.text in ")]}"
            if depth == 0 and i < len(ts) - 1:
                return ts
        ts = ts[1:-1]
    return ts


def norm(ts: list[Token]) -> str:
    return " ".join(t.text for t in _outer(ts))


def subexpressions(toks: list[Token]) -> list[list[Token]]:
    out: list[list[Token]] = []

    def split(ts: list[Token]) -> None:
        ts = _outer(ts)
        parts: list[list[Token]] = [[]]
        ops: set[str] = set()
        depth = 0
        for t in ts:
            depth += t.text in "([{"
            depth -= t.text in ")]}"
            if depth == 0 and t.text in ("&&", "||"):
                parts.append([])
                ops.add(t.text)
            else:
                parts[-1].append(t)
        if len(parts) > 1:
            for p in parts:
                out.append(_outer(p))
                split(p)
            if len(ops) == 1 and len(parts) > 2:  # runs of operands: a && b of a && b && c
                op = Token("op", next(iter(ops)), 0)
                for i in range(len(parts)):
                    for j in range(i + 2, len(parts) + 1):
                        if (i, j) != (0, len(parts)):
                            out.append([x for k in range(i, j) for x in ([op] if k > i else []) + parts[k]])
            return
        if ts and ts[0].text == "!":
            split(ts[1:])
        depth, start = 0, 0
        for i, t in enumerate(ts):  # parenthesised groups inside a term
            if t.text == "(":
                start = i if depth == 0 else start
                depth += 1
            elif t.text == ")":
                depth -= 1
                inner = ts[start + 1 : i]
                if depth == 0 and not (start == 0 and i == len(ts) - 1) and any(x.text in ("&&", "||") for x in inner):
                    out.append(inner)
                    split(inner)

    split(toks)
    return out


def rules() -> list[tuple[str, str, str]]:
    """(name, kind, condition) of every condition in the shipped rule files."""
    out = []
    for f in sorted((ROOT / "rulebook").rglob("*.yaml")):
        doc = yaml.safe_load(f.read_text()) or {}
        out += [(s["code"], "symptom", s["when"]) for s in doc.get("symptoms") or []]
        out += [(r["code"], "requirement", r["when"]) for r in doc.get("evidence") or []]
        out += [(f"shared.{c['name']}", "shared", c["when"]) for c in doc.get("conditions") or []]
        for c in doc.get("causes") or []:
            out += [(f"{c['id']}#{i + 1}", "evidence", e["when"]) for i, e in enumerate(c.get("evidence") or [])]
            out += [(f"{c['id']}.fix{i + 1}", "fix", x["when"]) for i, x in enumerate(c.get("fixes") or []) if x.get("when")]
        out += [(f"calibration {c['name']}", "calibration", c["when"]) for c in (doc.get("settings") or {}).get("calibration") or []]
    return out


def terms(n: str) -> int:
    return len([p for p in re.split(r" && | \|\| ", n) if not REF.match(p.strip("( )!"))])


def duplicates(rs: list[tuple[str, str, str]]) -> dict[str, list]:
    """The duplicates by kind (A, B, B1, C: the module's docstring) among conditions ``rs``."""
    whole: dict[str, list[str]] = defaultdict(list)
    sub: dict[str, set[str]] = defaultdict(set)
    for name, _, text in rs:
        toks = tokenize(text)
        whole[norm(toks)].append(name)
        for p in subexpressions(toks):
            sub[norm(p)].add(name)
    a = [(name, sorted((sub[n] | set(whole[n])) - {name}), n) for name, kind, text in rs if kind == "symptom" for n in [norm(tokenize(text))]]
    a = [x for x in a if x[1]]
    same = [(n, v) for n, v in whole.items() if len(v) > 1 and not REF.match(n)]
    b1 = [(n, v) for n, v in same if " && " not in n and " || " not in n]
    b = [x for x in same if x not in b1]
    symptom_texts = {norm(tokenize(t)) for _, k, t in rs if k == "symptom"}
    comp = sorted(((n, v) for n, v in sub.items() if len(v) > 1 and terms(n) >= 2 and n not in symptom_texts), key=lambda x: -len(x[0]))
    c: list[tuple[str, set[str]]] = []
    for n, v in comp:
        if not any(n in m and v <= w for m, w in c):
            c.append((n, v))
    return {"A": a, "B": b, "B1": b1, "C": c}


LABELS = {"A": "symptom conditions written again inside other rules", "B": "compound conditions written whole in 2+ rules",
          "B1": "single comparisons written whole in 2+ rules", "C": "compound sub-expressions in 2+ rules (longest)"}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="list each duplicate")
    args = ap.parse_args()
    rs = rules()
    print(f"{len(rs)} conditions")
    for label, items in duplicates(rs).items():
        print(f"{label:2s} {LABELS[label]}: {len(items)}")
        if args.verbose:
            for item in items:
                print(f"    {sorted(item[1])[:8]}: {item[-1] if label == 'A' else item[0]}"[:240])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
