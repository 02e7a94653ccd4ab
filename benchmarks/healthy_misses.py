"""What a "healthy" verdict may hide: per input kind (bare logs, each adapter) and fault, the
share of labelled runs with that fault that the held-out diagnosis called healthy.

A "healthy" from logs alone was right about three times in four on unseen batches
(benchmarks/unseen_reliability.py); the faults it misses are not spread evenly: a log rarely
shows data leakage or an output activation, an adapter's record does. This measures which, on
the cross-validated answers calibrate.py keeps (leave-one-family-out over the five fields,
every run held out once per field: the share is the mean over the fields), and writes the
``healthy_misses:`` block of rulebook/calibration.yaml, which the report lists under a
"healthy" verdict ("not ruled out: ...").

    python benchmarks/calibrate.py --dump /tmp/cal.pkl        # the held-out answers
    python benchmarks/healthy_misses.py --load /tmp/cal.pkl   # the table
    python benchmarks/healthy_misses.py --load /tmp/cal.pkl --write

Runs whose fault left no trace by construction (``benign``) are not counted; runs whose
label says the log cannot show the fault (``visible`` false) are: a user cannot tell them
apart either, and a healthy call hides them all the same.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

#: a fault is listed where at least this many labelled runs of it exist for the input kind
MIN_RUNS = 15
#: and where a healthy call missed at least this share of them
MIN_SHARE = 0.2


def misses(by_field: dict[str, list], min_runs: int = MIN_RUNS, min_share: float = MIN_SHARE) -> list[tuple[str, str, float, int]]:
    """(kind, cause, share called healthy, runs) per input kind and fault, largest share
    first within a kind. ``by_field``: per held-out field, its answers (accuracy.Outcome:
    ``input_kind``, ``cause``, ``benign``, ``healthy_said``, ``run``)."""
    said: dict[tuple[str, str], list[float]] = defaultdict(list)
    runs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for outs in by_field.values():
        tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for o in outs:
            if o.cause == "healthy" or o.benign:
                continue
            k = (o.input_kind, o.cause)
            tally[k][0] += bool(o.healthy_said)
            tally[k][1] += 1
            runs[k].add(o.run)
        for k, (h, n) in tally.items():
            said[k].append(h / n)
    rows = [(k, c, sum(v) / len(v), len(runs[(k, c)])) for (k, c), v in said.items()]
    keep = [r for r in rows if r[3] >= min_runs and r[2] >= min_share]
    return sorted(keep, key=lambda r: (r[0], -r[2], r[1]))


def block(rows: list[tuple[str, str, float, int]]) -> str:
    lines = ["  healthy_misses:"] + [
        f"    - {{kind: {k}, cause: {c}, share: {s:.3f}, runs: {n}}}" for k, c, s, n in rows
    ]
    return "\n".join(lines) + "\n"


def write(rows: list[tuple[str, str, float, int]], path: Path) -> None:
    """Rewrite (or add, before ``calibration:``) the ``healthy_misses:`` block of the settings."""
    from yaml_block import rewrite

    rewrite(path, "healthy_misses", block(rows))


def main(argv: list[str] | None = None) -> int:
    import argparse
    import pickle

    from traindx.rules.loader import builtin_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--load", type=Path, required=True, help="calibrate.py --dump's file")
    ap.add_argument("--write", action="store_true", help="rewrite rulebook/calibration.yaml's healthy_misses:")
    args = ap.parse_args(argv)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the dump's classes (accuracy.Outcome)
    dumped = pickle.loads(args.load.read_bytes())
    by_field = {dim: v[0] for dim, v in dumped.items() if not dim.startswith("_")}
    rows = misses(by_field)
    for k, c, s, n in rows:
        print(f"{k:14} {c:26} called healthy {s:6.1%} of {n} runs")
    if args.write:
        write(rows, builtin_dir() / "calibration.yaml")
        print(f"rewrote rulebook/calibration.yaml (healthy_misses: {len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
