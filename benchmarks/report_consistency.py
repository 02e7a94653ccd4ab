"""Does every evidence line and fix agree with the run's own numbers? (issue 10, section 3)

    python benchmarks/report_consistency.py [DIR...] [--corpus] [--rows]

Diagnoses runs (default: every labelled run directory of the Q&A sets, fixtures/qa*/logs/**/
label.json, one diagnosis per directory as fixtures/qa/summarize.py passes them; ``--corpus``
adds benchmarks/labelled.py's runs, diagnosed from the facts cache) and checks invariants that
a machine can check over each report's top three causes, their evidence lines and fixes (text
and snippets). Prints the count per invariant and, with ``--rows``, each offending line. It
measures; it changes nothing.

The invariants (:data:`INVARIANTS`):

- ``lr_direction``: a fix that says lower (raise) the learning rate suggests, in its text
  ("try X") and in its snippets (``lr=X``, ``learning_rate=X``), an LR below (above) the run's
  LR: the one it quotes ("the run used X"), else the run's configured or logged LR.
- ``lr_quoted``: an LR a line quotes ("the run used X", "LR X", "logged LR reaches X") is one
  the run's facts hold (``ctx.lr``, the ``lr`` series' facts, a hyperparameter named like an LR).
- ``lr_unrecorded``: no line says the logs do not record the LR on a run whose facts hold one,
  or whose report quotes one elsewhere.
- ``adapter_claim``: a log-only run (no adapter context: ``ctx.framework`` absent) gets no line
  stating what only an adapter (or a hyperparameter file the readers read) can know - clipping
  configured or not, the optimizer class, a weight decay / L2 / dropout / batch size value, the
  layer count - unless the facts hold it (a hyperparameter file's values are ``ctx`` facts too).
- ``units``: a weight decay / L2 value quoted is one the run holds as such (not doubled or
  halved: Keras ``L2(0.5)`` is an L2 factor 0.5, a decay of 1), a percentage lies in 0-100 % of
  what it is a share of (a share quoted as "0.97 %" where the run's fact is 0.97 is 97 %), and a
  fall or shrink is quoted as a positive amount ("fell by 0.6", never "fell by -0.6").
- ``contradiction``: two lines of one report do not state opposite things about one quantity:
  the training loss "fell by X" (X >= 0.5) beside a line or fired symptom saying it barely moved
  or did not decrease; the LR "never exceeds X" beside "reaches Y" with Y > X; two different
  values quoted for the loss's drop.
- ``first_point``: a symptom's shown ``X.first`` (the median of the curve's first points, not
  its first point) whose value differs, as printed, from the first point ``X.first_raw`` says
  so and gives that first point (traindx/evidence_words.py; qa_jax47: "loss.first=0.318" under a
  log whose first point is 0.187).
- ``last_point``: likewise a shown ``X.last`` (the median of the curve's last points) that
  differs, as printed, from the last point ``X.last_raw`` says so and gives that last point.

Reading the report: a row is ``invariant | run | cause | line | why``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

INVARIANTS = ("lr_direction", "lr_kept", "lr_quoted", "lr_unrecorded", "adapter_claim", "units", "contradiction",
              "first_point", "last_point")
TOP = 3
NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"


class Violation(NamedTuple):
    invariant: str
    cause: str
    line: str
    why: str


class Line(NamedTuple):
    cause: str
    where: str  # "evidence", "fix" or "snippet:<framework>"
    text: str
    snippets: dict[str, str] | None = None  # a fix's


def _num(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _same(a: float, b: float) -> bool:
    """Equal as a report shows them (three significant digits)."""
    return a == b or (a != 0 and b != 0 and math.isclose(a, b, rel_tol=6e-3)) or f"{a:.3g}" == f"{b:.3g}"


def lines_of(report: dict[str, Any]) -> list[Line]:
    """The lines of the report's top causes: evidence that moved a cause, fixes, snippets."""
    out: list[Line] = []
    for c in report.get("causes", [])[:TOP]:
        for e in c.get("evidence", []):
            if e.get("kind") == "evidence":
                out.append(Line(c["id"], "evidence", e["says"]))
        for f in c.get("fixes", []):
            out.append(Line(c["id"], "fix", f["text"], f.get("snippets") or {}))
            for fw, s in (f.get("snippets") or {}).items():
                out.append(Line(c["id"], f"snippet:{fw}", s))
    return out


#: the ``lr`` facts that are LR values (the others are shares, steps, ratios)
LR_VALUES = ("first", "max", "last", "min", "median", "peak")


def run_lrs(facts: dict[str, Any], report: dict[str, Any]) -> list[float]:
    """Every LR the run's facts or hyperparameters hold."""
    vals: list[float] = []
    ctx = facts.get("ctx") or {}
    if isinstance(ctx.get("lr"), (int, float)):
        vals.append(float(ctx["lr"]))
    for k in LR_VALUES:
        v = (facts.get("lr") or {}).get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            vals.append(float(v))
    for k, v in (report.get("hyperparameters") or {}).items():
        if re.search(r"(^|[^a-z])(lr|learning_rate)", str(k).lower()):
            n = _num(str(v))
            if n is not None:
                vals.append(n)
    return vals


def the_run_lr(facts: dict[str, Any]) -> float | None:
    """The LR a fix speaks of when it quotes none: the configured one, else the logged peak, else the first logged."""
    ctx = facts.get("ctx") or {}
    for v in (ctx.get("lr"), (facts.get("lr") or {}).get("max"), (facts.get("lr") or {}).get("first")):
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return float(v)
    return None


_DIRECTION = re.compile(r"^\s*(lower|raise|reduce|increase)\s+the\s+(learning rate|lr)\b", re.I)
_USED = re.compile(rf"the run used ({NUM})(?![\w]|\.\d)", re.I)
_TRY = re.compile(rf"\btry ({NUM})(?![\w.x])", re.I)
_SNIPPET_LR = re.compile(
    rf"(?:\blr|learning_rate|warmup_target)\s*=\s*({NUM})(?![\w.])"
    rf"|optax\.(?:adam\w*|sgd|rmsprop|adagrad|lamb|lion|nadam\w*|(?:linear|warmup_cosine_decay)_schedule\(\s*{NUM}\s*,)\(?\s*({NUM})(?![\w.])"
)
_QUOTED_LR = re.compile(
    rf"(?:the run used |\bLR |learning rate |logged LR reaches |LR never exceeds |usual range \()({NUM})(?![\w%x-]|\.\d)",
)
_UNRECORDED = re.compile(r"an LR the logs do not record|LR (is )?not recorded", re.I)


def _fix_groups(report: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for c in report.get("causes", [])[:TOP]:
        for f in c.get("fixes", []):
            yield c["id"], f


def check_lr(report: dict[str, Any], facts: dict[str, Any]) -> list[Violation]:
    out: list[Violation] = []
    lrs = run_lrs(facts, report)
    for cid, f in _fix_groups(report):
        m = _DIRECTION.match(f["text"])
        used = _USED.search(f["text"])
        base = float(used.group(1)) if used else the_run_lr(facts)
        if base is None:
            continue
        snips = [(fw, float(a or b)) for fw, s in (f.get("snippets") or {}).items() for a, b in _SNIPPET_LR.findall(s)]
        if m is None:  # a fix that does not speak of the LR keeps the run's in its snippets
            if not re.search(r"\b(lr|learning rate)\b", f["text"], re.I):
                out += [Violation("lr_kept", cid, f"[{fw}] {f['snippets'][fw]}",
                                  f"the fix's text does not speak of the LR, its snippet sets {v:g}; the run's is {base:g}")
                        for fw, v in snips if not _same(v, base)]
            continue
        down = m.group(1).lower() in ("lower", "reduce")
        tries = [float(x) for x in _TRY.findall(f["text"])]
        for where, v in [("text", t) for t in tries] + snips:
            if (down and v >= base) or (not down and v <= base):
                word = "below" if down else "above"
                out.append(Violation("lr_direction", cid, f["text"] if where == "text" else f"[{where}] {f['snippets'][where]}",
                                     f"suggests LR {v:g}, not {word} the run's {base:g}"))
    for ln in _lines(report):
        if ln.where.startswith("snippet"):
            continue
        for q in _QUOTED_LR.findall(ln.text):
            v = float(q)
            if lrs and not any(_same(v, x) for x in lrs):
                out.append(Violation("lr_quoted", ln.cause, ln.text, f"quotes LR {v:g}; the run's LRs: {sorted({round(x, 12) for x in lrs})[:4]}"))
            elif not lrs:
                out.append(Violation("lr_quoted", ln.cause, ln.text, f"quotes LR {v:g}; the run holds no LR"))
    quoted = any(_QUOTED_LR.search(ln.text) for ln in _lines(report) if not ln.where.startswith("snippet"))
    for ln in _lines(report):
        if ln.where.startswith("snippet") or not _UNRECORDED.search(ln.text):
            continue
        if lrs or quoted:
            out.append(Violation("lr_unrecorded", ln.cause, ln.text,
                                 f"the run's LRs: {sorted(set(lrs))[:4]}" if lrs else "another line quotes an LR"))
    return out


def _lines(report: dict[str, Any]) -> list[Line]:
    return lines_of(report)


#: a claim only an adapter (or a hyperparameter file) can back -> the ctx facts any of which backs it
ADAPTER_CLAIMS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("clipping", re.compile(r"\bno (gradient )?clipping|\bclipping (is )?not (configured|set)|\bwithout (gradient )?clipping|\bclip(norm|value)? (is )?(configured|set)", re.I), ("clipnorm",)),
    ("optimizer", re.compile(r"\b(plain SGD|(adam|adamw|sgd|rmsprop|adagrad|nadam|adamax) (with|without|on|at)\b|in the \w+ optimizer|adaptive optimizer with)", re.I), ("optimizer",)),
    ("weight decay", re.compile(rf"\bweight decay (only )?{NUM}|\bdecay {NUM}", re.I), ("weight_decay", "l2_max")),
    ("L2 factor", re.compile(rf"\bL2 (regularizer )?factor {NUM}", re.I), ("l2_max",)),
    ("dropout", re.compile(rf"\bdropout (rate )?{NUM}", re.I), ("dropout_max",)),
    ("batch size", re.compile(rf"\bbatch size {NUM}", re.I), ("batch_size",)),
    ("layer count", re.compile(r"\b\d+ layers\b|\b\d+-layer\b", re.I), ("n_layers",)),
    ("configured LR", re.compile(r"\bconfigured (LR|learning rate)\b", re.I), ("lr",)),
)


def check_adapter_claims(report: dict[str, Any], facts: dict[str, Any]) -> list[Violation]:
    ctx = facts.get("ctx") or {}
    if ctx.get("framework"):
        return []
    out = []
    for ln in _lines(report):
        if ln.where.startswith("snippet"):
            continue
        for what, pat, needs in ADAPTER_CLAIMS:
            if pat.search(ln.text) and not any(ctx.get(n) is not None for n in needs):
                if what in ("layer count", "optimizer") and ln.where == "fix":
                    continue  # advice ("SGD with momentum 0.9", "a 2-layer MLP") claims nothing about the run
                out.append(Violation("adapter_claim", ln.cause, ln.text, f"states the {what}; a log-only run without ctx.{'/'.join(needs)}"))
    return out


_WD = re.compile(rf"\b(weight decay(?: only)?|L2 (?:regularizer )?factor)\s+({NUM})(?![\w]|\.\d)", re.I)
_PCT = re.compile(r"(?<![\w.-])(-?\d+\.?\d*)\s?%")
_FELL = re.compile(rf"\b(fell|dropped|shrank|decreased|fell steadily)(?: by)?\s+\(?({NUM})", re.I)
_SHRANK_PAREN = re.compile(rf"\b(shrank|fell)\b[^()]*\(({NUM}) of\b", re.I)


def check_units(report: dict[str, Any], facts: dict[str, Any]) -> list[Violation]:
    ctx = facts.get("ctx") or {}
    out = []
    for ln in _lines(report):
        if ln.where.startswith("snippet"):
            continue
        for word, v in _WD.findall(ln.text):
            key = "l2_max" if word.lower().startswith("l2") else "weight_decay"
            held = ctx.get(key)
            if isinstance(held, (int, float)) and not _same(float(v), float(held)):
                out.append(Violation("units", ln.cause, ln.text, f"quotes {word} {v}; the run's ctx.{key} is {held:g}"))
            elif held is None and key == "weight_decay" and isinstance(ctx.get("l2_max"), (int, float)):
                out.append(Violation("units", ln.cause, ln.text, f"an L2 factor (ctx.l2_max {ctx['l2_max']:g}) shown as a weight decay {v}"))
        if ln.where == "fix" and re.match(r"\s*(reduce|lower) (the )?weight decay", ln.text, re.I):
            wd = ctx.get("weight_decay")
            for fw, snip in (ln.snippets or {}).items():
                for v in re.findall(rf"weight_decay\s*=\s*({NUM})(?![\w.])", snip):
                    if isinstance(wd, (int, float)) and wd > 0 and float(v) >= wd:
                        out.append(Violation("units", ln.cause, f"[{fw}] {snip}", f"'{ln.text[:40]}...' while the snippet's weight_decay {v} is not below the run's {wd:g}"))
        for p in _PCT.findall(ln.text):
            x = float(p)
            if x < 0 or (x > 100 and not re.search(r"\b(grew|rise|rose|up|above|more)\b", ln.text)):
                out.append(Violation("units", ln.cause, ln.text, f"a percentage {x:g} % outside 0-100 %"))
        for verb, v in _FELL.findall(ln.text) + _SHRANK_PAREN.findall(ln.text):
            if float(v) < 0:
                out.append(Violation("units", ln.cause, ln.text, f"'{verb}' with a negative amount {v}"))
    return out


_LOSS_FELL = re.compile(rf"\b(?:training )?loss (?:already )?fell by ({NUM})|\btraining loss drop from its start = ({NUM})", re.I)
_BARELY = re.compile(r"\b(loss barely (moves|moved|fell)|barely-fell|loss-not-decreasing|loss never fell|loss did not fall|loss stays flat)", re.I)
_STILL_FALLING = re.compile(r"(?<!validation )\bloss\b[^;:()]*\bstill falling", re.I)
_NEVER_EXCEEDS = re.compile(rf"LR never exceeds ({NUM})")
_REACHES = re.compile(rf"LR reaches ({NUM})")


def check_contradictions(report: dict[str, Any], facts: dict[str, Any]) -> list[Violation]:
    lines = [ln for ln in _lines(report) if not ln.where.startswith("snippet")]
    sym = [Line("-", "symptom", f"{s.get('code')} {s.get('slug')}") for s in report.get("symptoms", [])
           if s.get("severity") != "info"]
    out = []
    drops = [(ln, float(a or b)) for ln in lines for a, b in _LOSS_FELL.findall(ln.text)]
    big = [(ln, d) for ln, d in drops if d >= 0.5]
    for ln, d in big:
        for other in lines + sym:
            if other is not ln and _BARELY.search(other.text) and not _LOSS_FELL.search(other.text):
                out.append(Violation("contradiction", ln.cause, ln.text, f"loss fell by {d:g} beside '{other.text}'"))
                break
    vals = {round(d, 2) for _, d in drops}
    if len(vals) > 1 and max(vals) - min(vals) > 0.05:
        out.append(Violation("contradiction", drops[0][0].cause, drops[0][0].text, f"loss drop quoted as {sorted(vals)}"))
    tail = (facts.get("loss") or {}).get("tail_tau")
    for ln in lines:
        if _STILL_FALLING.search(ln.text) and isinstance(tail, (int, float)) and tail > 0:
            out.append(Violation("contradiction", ln.cause, ln.text, f"says the loss was still falling; its trend over the last part is {tail:.3g} (rising)"))
    hi = [float(x) for ln in lines for x in _REACHES.findall(ln.text)]
    for ln in lines:
        for x in _NEVER_EXCEEDS.findall(ln.text):
            if any(h > float(x) * 1.001 for h in hi):
                out.append(Violation("contradiction", ln.cause, ln.text, f"LR never exceeds {x} beside 'LR reaches {max(hi):g}'"))
    return out


def check_edge_points(report: dict[str, Any], facts: dict[str, Any]) -> list[Violation]:
    """A shown ``X.first`` (``X.last``) that is not the first (last) point as printed names that point."""
    out = []
    for s in report.get("symptoms", []):
        for e in s.get("evidence", []):
            group, _, key = str(e.get("fact") or "").partition(".")
            raw = (facts.get(group) or {}).get(f"{key}_raw") if key in ("first", "last") else None
            v = e.get("value")
            if not isinstance(raw, float) or not isinstance(v, float) or _same(v, raw):
                continue
            if f"the {key} point is {raw:.3g}" not in str(e.get("says", "")):
                out.append(Violation(f"{key}_point", s.get("code", "?"), f"{e['fact']}={v:.3g}",
                                     f"the series' {key} point is {raw:.3g}; the line does not say it shows a median"))
    return out


def check(report: dict[str, Any], facts: dict[str, Any]) -> list[Violation]:
    """Every invariant's violations on one report (its JSON form) and the run's facts."""
    return (check_lr(report, facts) + check_adapter_claims(report, facts) + check_units(report, facts)
            + check_contradictions(report, facts) + check_edge_points(report, facts))


def qa_dirs(root: Path = ROOT / "fixtures") -> dict[str, list[Path]]:
    return {d.parent.name: sorted({f.parent for f in d.rglob("label.json")}) for d in sorted(root.glob("qa*/logs"))}


def diagnosed(paths: Iterable[Path]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    import traindx
    from traindx.errors import ReadError

    for p in paths:
        try:
            ds = traindx.diagnose(str(p))
        except ReadError:  # a run the readers reject has no report to check
            continue
        for d in ds:
            yield d.source or str(p), json.loads(d.to_json()), dict(d.facts)


def corpus_reports() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """benchmarks/labelled.py's runs, diagnosed from the facts cache."""
    from benchmarks.labelled import load
    from traindx.api import _book
    from traindx.engine import Bound, diagnose_facts
    from traindx.schema import Run

    book = _book(None)
    for r in load():
        if "_error" in r.facts:
            continue
        run = Run.model_construct(id=r.path, source=r.path, series={"loss": [0.0]}, checks=[])
        d = diagnose_facts(run, Bound(r.facts), book)
        yield r.path, json.loads(d.to_json()), r.facts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="*", type=Path, help="run directories (default: every labelled Q&A run)")
    ap.add_argument("--corpus", action="store_true", help="add benchmarks/labelled.py's runs (from the facts cache)")
    ap.add_argument("--rows", action="store_true", help="print each offending line")
    a = ap.parse_args(argv)
    paths = a.dirs or [p for ps in qa_dirs().values() for p in ps]
    reports: Iterable[tuple[str, dict[str, Any], dict[str, Any]]] = diagnosed(paths)
    counts: Counter[str] = Counter()
    runs_with: Counter[str] = Counter()
    rows, n, seen = [], 0, set()
    streams = [reports] + ([corpus_reports()] if a.corpus else [])
    for stream in streams:
        for src, rep, facts in stream:
            key = str((ROOT / src).resolve())  # a Q&A run is in the corpus too
            if key in seen:
                continue
            seen.add(key)
            n += 1
            vs = check(rep, facts)
            for inv in {v.invariant for v in vs}:
                runs_with[inv] += 1
            for v in vs:
                counts[v.invariant] += 1
                rows.append((v.invariant, src, v.cause, v.line, v.why))
    print(f"{n} reports checked (top {TOP} causes: evidence lines, fixes, snippets)")
    for inv in INVARIANTS:
        print(f"{inv}: {counts[inv]} violations in {runs_with[inv]} runs")
    if a.rows:
        for r in sorted(rows):
            print(" | ".join(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
