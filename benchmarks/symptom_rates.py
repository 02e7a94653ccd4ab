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
"""

from __future__ import annotations

import argparse
import os
import sys
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


def main(argv: list[str] | None = None) -> int:
    from labelled import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="logs", help="input kind: logs, torch_adapter, keras_adapter, jax_adapter, all")
    ap.add_argument("--codes", help="comma-separated symptom codes (default: every symptom that fires at least once)")
    ap.add_argument("--style", help="only runs of this style (e.g. qa); default all")
    ap.add_argument("--top", type=int, default=3, help="causes shown per symptom")
    ap.add_argument("--sort", choices=("code", "healthy", "lr"), default="code")
    args = ap.parse_args(argv)
    book = load_rulebook()
    runs = [r for r in load() if args.kind == "all" or r.input_kind == args.kind]
    if args.style:
        runs = [r for r in runs if r.style == args.style]
    if not runs:
        print(f"no labelled runs of kind {args.kind!r}", file=sys.stderr)
        return 2
    rs = rates(book, runs, args.codes.split(",") if args.codes else None)
    rs = [r for r in rs if r.healthy[0] + r.faulty[0] > 0 or args.codes]
    key = {"code": lambda r: r.code, "healthy": lambda r: -r.healthy_rate, "lr": lambda r: r.lr_vs_healthy}[args.sort]
    print(f"{len(runs)} labelled runs ({args.kind}{', style ' + args.style if args.style else ''})")
    print(render(sorted(rs, key=key), top=args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
