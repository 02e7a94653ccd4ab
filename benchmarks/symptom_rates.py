"""How often each symptom fires on healthy and on faulty labelled runs, and for which causes.

A symptom earns its place when it fires on faulty runs of some causes much more often than
on healthy runs and on the other causes; a symptom that fires on healthy runs as often as on
faulty ones is a false alarm the differential must then explain away. Per symptom (and per
input kind), this prints:

- fires on healthy runs (% and count) and on faulty runs whose fault the input can show;
- the likelihood ratio against healthy runs, P(fires | faulty) / P(fires | healthy);
- per cause, P(fires | cause) / P(fires | the other faulty causes) - the number the rulebook's
  ``explains`` ratios stand for - for the causes where it is largest (with their counts).

Counts are smoothed by half a run (a symptom that never fires on healthy runs gets a finite
ratio). Facts come from the accuracy benchmark's cache (benchmarks/labelled.py).

    python benchmarks/symptom_rates.py                       # log-only runs, every symptom
    python benchmarks/symptom_rates.py --kind torch_adapter --codes LOSS007,GEN004
    python benchmarks/symptom_rates.py --sort healthy --top 5
    python benchmarks/symptom_rates.py --diff main            # what the rule changes since main do
    python benchmarks/symptom_rates.py --diff ../other/rulebook --kind all
    python benchmarks/symptom_rates.py --length "epoch <=5,epoch 6-20"   # short per-epoch runs only

``--diff REF`` compares the conditions of the rulebook here with those of REF (a rulebook
directory, or a git ref whose rulebook/ is read with ``git archive``): for each symptom,
requirement, cause evidence item (``cause#n``) and calibration entry whose condition changed
(or that one side lacks), the runs it starts and stops firing on, by label (healthy, benign,
each cause), with a few of the runs' paths.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from traindx.engine import evaluate  # noqa: E402
from traindx.rules.loader import load_rulebook  # noqa: E402

SMOOTH = 0.5  # runs added to every count: finite ratios for symptoms that never fire on a side


@dataclass
class Rate:
    code: str
    severity: str
    healthy: tuple[int, int]  # (fired, runs)
    faulty: tuple[int, int]
    by_cause: dict[str, tuple[int, int]]  # cause -> (fired, runs)

    @staticmethod
    def _p(k: int, n: int) -> float:
        return (k + SMOOTH) / (n + 2 * SMOOTH)

    @property
    def healthy_rate(self) -> float:
        return self.healthy[0] / self.healthy[1] if self.healthy[1] else float("nan")

    @property
    def faulty_rate(self) -> float:
        return self.faulty[0] / self.faulty[1] if self.faulty[1] else float("nan")

    @property
    def lr_vs_healthy(self) -> float:
        """P(fires | faulty) / P(fires | healthy), smoothed."""
        return self._p(*self.faulty) / self._p(*self.healthy)

    def lr_by_cause(self) -> dict[str, float]:
        """P(fires | cause) / P(fires | the other faulty causes), smoothed."""
        out = {}
        for cause, (k, n) in self.by_cause.items():
            ko, no = self.faulty[0] - k, self.faulty[1] - n
            out[cause] = self._p(k, n) / self._p(ko, no)
        return out


def rates(book, runs: list, codes: list[str] | None = None) -> list[Rate]:
    """Per symptom of ``book`` (or the ``codes`` named), how often it fires on ``runs``
    (objects with ``facts``, ``cause``, ``visible`` and ``input_kind``): healthy runs, and
    faulty runs whose input can show their fault (log-only runs labelled log-invisible are
    left out, as benchmarks/accuracy.py leaves them out of top-1; so are benign runs - a fault
    present that did not hurt, benchmarks/labelled.py - where either answer is right)."""
    syms = [s for s in book.symptoms if codes is None or s.code in codes]
    kept = [r for r in runs if "_error" not in r.facts and not getattr(r, "benign", False)
            and (r.cause == "healthy" or r.visible or r.input_kind != "logs")]
    n_cause = Counter(r.cause for r in kept)
    out = []
    for s in syms:
        fired = Counter(r.cause for r in kept if evaluate(s.condition, r.facts)[0])
        h = (fired.get("healthy", 0), n_cause.get("healthy", 0))
        f = (sum(v for c, v in fired.items() if c != "healthy"), sum(v for c, v in n_cause.items() if c != "healthy"))
        by = {c: (fired.get(c, 0), n) for c, n in n_cause.items() if c != "healthy"}
        out.append(Rate(s.code, s.severity, h, f, by))
    return out


def of_length(runs: list, spec: str) -> list:
    """The runs in the comma-separated length strata of ``spec`` (benchmarks/labelled.py
    ``length_stratum``: 'epoch 6-20', 'step >100'...; a bin alone, '<=5', names both)."""
    from labelled import length_stratum

    want = {w.strip() for w in spec.split(",")}
    return [r for r in runs if {(st := length_stratum(r.facts)), st.split(" ", 1)[1]} & want]


def render(rs: list[Rate], top: int = 3, min_runs: int = 3) -> str:
    lines = [f"{'symptom':9} {'sev':4} {'healthy':>14} {'faulty':>14} {'LR f/h':>7}  causes it points to (LR vs other faults, fired/runs)"]
    for r in rs:
        best = sorted(
            ((c, v) for c, v in r.lr_by_cause().items() if r.by_cause[c][1] >= min_runs and r.by_cause[c][0]),
            key=lambda cv: -cv[1],
        )[:top]
        causes = ", ".join(f"{c} {v:.1f} ({r.by_cause[c][0]}/{r.by_cause[c][1]})" for c, v in best)
        lines.append(
            f"{r.code:9} {r.severity[:4]:4} {r.healthy_rate:6.1%} {r.healthy[0]:>3}/{r.healthy[1]:<4} {r.faulty_rate:6.1%} {r.faulty[0]:>3}/{r.faulty[1]:<4}"
            f" {r.lr_vs_healthy:7.2f}  {causes or '-'}"
        )
    return "\n".join(lines)


def conditions(book, ref=None) -> dict[str, object]:
    """Every condition of a rulebook that decides what fires, by a name stable across versions:
    symptom and requirement codes, ``cause#n`` for a cause's n-th evidence item, ``calibration
    NAME`` for a calibration entry. With ``ref`` (the rulebook it is compared with, numbered by
    position), a cause's items are named by :func:`_evidence_names` against ref's, so that
    inserting one item does not show every later one as changed."""
    out: dict[str, object] = {s.code: s.condition for s in (*book.symptoms, *book.requirements)}
    theirs = {c.id: c for c in ref.causes} if ref is not None else {}
    for c in book.causes:
        names = _evidence_names(c.evidence, theirs[c.id].evidence) if c.id in theirs else None
        out |= {f"{c.id}#{names[i] if names else i + 1}": e.condition for i, e in enumerate(c.evidence)}
    out |= {f"calibration {c.name}": c.condition for c in book.calibration}
    return out


def _evidence_names(mine: list, theirs: list) -> list[str]:
    """Names for one cause's evidence items against the reference version's (named by their
    positions there): an item whose condition source is in the reference unchanged takes its
    position there; the rest pair in order with the reference's unmatched items (the same name:
    changed) and what is left over is new here (``+k``: added). A reference item left unpaired
    is removed."""
    src = lambda e: getattr(e.condition, "source", None)  # noqa: E731
    left = {i: src(e) for i, e in enumerate(theirs)}
    names: list[str | None] = [None] * len(mine)
    for i, e in enumerate(mine):  # unchanged items: their position in the reference
        j = next((j for j, t in left.items() if t == src(e)), None)
        if j is not None:
            names[i] = str(j + 1)
            del left[j]
    rest = iter(sorted(left))
    extra = 0
    for i, n in enumerate(names):  # changed items pair in order with what the reference has left
        if n is None:
            j = next(rest, None)
            if j is None:
                extra += 1
            names[i] = str(j + 1) if j is not None else f"+{extra}"
    return [n for n in names if n is not None]


@dataclass
class Change:
    name: str
    old: str | None  # the condition's source on the REF side (None: not there)
    new: str | None
    starts: list  # runs it fires on now and did not
    stops: list

    def counts(self, runs: list) -> dict[str, tuple[int, int]]:
        """label -> (starts, stops): ``healthy``, ``benign`` or the run's cause."""
        label = lambda r: "benign" if getattr(r, "benign", False) else r.cause  # noqa: E731
        a, b = Counter(map(label, self.starts)), Counter(map(label, self.stops))
        return {k: (a.get(k, 0), b.get(k, 0)) for k in sorted(set(a) | set(b), key=lambda k: (k != "healthy", k))}


def firing_diff(old_book, new_book, runs: list) -> list[Change]:
    """The conditions whose source differs between two rulebooks, with the runs each starts and
    stops firing on (a condition one side lacks fires on no run there)."""
    old, new = conditions(old_book), conditions(new_book, ref=old_book)
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        src_a, src_b = getattr(a, "source", None), getattr(b, "source", None)
        if src_a == src_b:
            continue
        starts, stops = [], []
        for r in runs:
            if "_error" in r.facts:
                continue
            was = a is not None and evaluate(a, r.facts)[0] is True
            now = b is not None and evaluate(b, r.facts)[0] is True
            if now and not was:
                starts.append(r)
            elif was and not now:
                stops.append(r)
        out.append(Change(name, src_a, src_b, starts, stops))
    return out


def render_diff(changes: list[Change], runs: list, show: int = 3) -> str:
    if not changes:
        return "no condition differs"
    lines = []
    for c in changes:
        what = "added" if c.old is None else "removed" if c.new is None else "changed"
        lines.append(f"{c.name} ({what}): starts firing on {len(c.starts)} run(s), stops on {len(c.stops)}")
        for label, (a, b) in c.counts(runs).items():
            lines.append(f"    {label:28} +{a:<4} -{b}")
        for sign, rs in (("+", c.starts), ("-", c.stops)):
            lines += [f"    {sign} {getattr(r, 'path', '?')}" for r in rs[:show]]
    return "\n".join(lines)


def rulebook_at(ref: str, root: Path, into: Path) -> Path:
    """The rulebook directory REF names: a directory as it is, else ``rulebook/`` of the git
    ref REF (extracted under ``into``)."""
    if Path(ref).is_dir():
        return Path(ref)
    try:
        data = subprocess.run(["git", "-C", str(root), "archive", ref, "rulebook"], capture_output=True, check=True).stdout
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"--diff {ref}: neither a directory nor a git ref with a rulebook/ ({e.stderr.decode().strip()})") from None
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / "rulebook"


def main(argv: list[str] | None = None) -> int:
    from labelled import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="logs", help="input kind: logs, torch_adapter, keras_adapter, jax_adapter, all")
    ap.add_argument("--codes", help="comma-separated symptom codes (default: every symptom that fires at least once)")
    ap.add_argument("--style", help="only runs of this style (e.g. qa); default all")
    ap.add_argument("--top", type=int, default=3, help="causes shown per symptom")
    ap.add_argument("--sort", choices=("code", "healthy", "lr"), default="code")
    ap.add_argument("--length", help="only runs of these comma-separated length strata (benchmarks/labelled.py "
                    "length_stratum: 'epoch <=5', 'step 21-100'...; a bin alone, '<=5', takes both granularities)")
    ap.add_argument("--diff", metavar="REF", help="the runs each changed condition starts/stops firing on, "
                    "against REF: a rulebook directory or a git ref (its rulebook/)")  # fmt: skip
    args = ap.parse_args(argv)
    book = load_rulebook()
    kinds = None if args.kind == "all" else [args.kind]
    runs = [r for r in load(kinds=kinds) if args.kind == "all" or r.input_kind == args.kind]
    if args.style:
        runs = [r for r in runs if r.style == args.style]
    if args.length:
        runs = of_length(runs, args.length)
    if not runs:
        print(f"no labelled runs of kind {args.kind!r}", file=sys.stderr)
        return 2
    if args.diff:
        from labelled import ROOT

        from traindx.errors import TraindxError

        with tempfile.TemporaryDirectory() as tmp:
            try:
                ref_book = load_rulebook([rulebook_at(args.diff, ROOT, Path(tmp))], builtin=False)
            except TraindxError as e:  # e.g. a fact group this tree's signals do not compute
                print(f"--diff {args.diff}: its rulebook does not load here: {e}", file=sys.stderr)
                return 2
        changes = firing_diff(ref_book, book, runs)
        if args.codes:
            changes = [c for c in changes if c.name.split("#")[0] in args.codes.split(",")]
        print(f"{len(runs)} labelled runs ({args.kind}); conditions here against {args.diff}:")
        print(render_diff(changes, runs))
        return 0
    rs = rates(book, runs, args.codes.split(",") if args.codes else None)
    rs = [r for r in rs if r.healthy[0] + r.faulty[0] > 0 or args.codes]
    key = {"code": lambda r: r.code, "healthy": lambda r: -r.healthy_rate, "lr": lambda r: r.lr_vs_healthy}[args.sort]
    print(f"{len(runs)} labelled runs ({args.kind}{', style ' + args.style if args.style else ''}"
          f"{', length ' + args.length if args.length else ''})")
    print(render(sorted(rs, key=key), top=args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
