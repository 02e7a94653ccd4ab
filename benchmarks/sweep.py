"""Runs per second of ``traindx sweep`` on each executor, side by side on the same runs.

    python benchmarks/sweep.py                        # 1,000 runs, 2 workers, 3 repeats
    python benchmarks/sweep.py --runs 200 --workers 2 --repeats 3 --executors serial,process,dask

Writes ``--runs`` runs of ``--steps``-step TensorBoard event files (traindx's own event
writer; ``train/loss`` and ``train/lr`` every step, ``val/loss`` every 10 steps) under
``key=value`` folders in a temporary directory (or ``--dir``), then times ``sweep()`` -
discovery, reading, diagnosing, and the hyperparameter importance - on each executor,
``--repeats`` times, interleaved (serial, process, dask, serial, ...) so that load on the
machine hits all of them alike. Prints mean and standard deviation of runs/s per executor
(and, for the serial executor, its CPU seconds, which the load of a shared machine
inflates less than the wall time) and checks every executor gave the serial run's summaries (exit 1 if not, or if
``--budget`` seconds are exceeded by the process executor's mean).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's traindx


def write_runs(root: Path, n: int, steps: int, seed: int = 0) -> None:
    from traindx.writers.tfevents import EventFileWriter

    rng = np.random.default_rng(seed)
    for i in range(n):
        lr = float(10 ** rng.uniform(-4, 0))
        bs = int(rng.choice([16, 32, 64, 128]))
        rate = min(lr, 0.3) * 0.05
        loss = 2.3 * (1 - rate) ** np.arange(steps) * (1 + 0.03 * rng.standard_normal(steps))
        if lr > 0.3:  # too high: the loss climbs
            loss = 2.3 * 1.03 ** np.arange(steps)
        with EventFileWriter(root / f"lr={lr:.3g},bs={bs},i={i}") as w:
            for s in range(steps):
                w.add_scalar("train/loss", float(loss[s]), s)
                w.add_scalar("train/lr", lr, s)
                if s % 10 == 9:
                    w.add_scalar("val/loss", float(loss[s] * 1.05), s)


def _cpu() -> float:
    """CPU seconds of this process (all a serial sweep uses)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _ms(xs: list[float], w: int, d: int) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):{w}.{d}f} +- {sd:5.{d}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--executors", default="serial,process,dask")
    ap.add_argument("--dir", type=Path, help="write (or reuse) the runs here instead of a temporary directory")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds the process executor may take (mean)")
    args = ap.parse_args(argv)
    from traindx.sweep import sweep

    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp) / "sweep"
        if not root.exists() or not any(root.iterdir()):
            root.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            write_runs(root, args.runs, args.steps)
            print(f"wrote {args.runs} runs of {args.steps} steps in {time.perf_counter() - t:.1f} s")
        n = sum(1 for _ in root.iterdir())
        executors = args.executors.split(",")
        times: dict[str, list[float]] = {e: [] for e in executors}
        cpu: dict[str, list[float]] = {e: [] for e in executors}
        ref, same = None, True
        for rep in range(args.repeats):
            for ex in executors:
                c0, t = _cpu(), time.perf_counter()
                report = sweep(root, executor=ex, workers=args.workers)
                dt = time.perf_counter() - t
                times[ex].append(dt)
                cpu[ex].append(_cpu() - c0)
                got = [r.model_dump() for r in report.runs]
                if ref is None:
                    ref = got
                elif got != ref:
                    same = False
                    print(f"  {ex} (repeat {rep + 1}) gave other summaries than the first run", file=sys.stderr)
                load = os.getloadavg()[0]
                print(f"  repeat {rep + 1} {ex:8s} {dt:6.2f} s wall, load {load:.1f}", flush=True)
        print(f"\n{n} runs of {args.steps} steps, {args.workers} workers, {args.repeats} repeats (mean +- sd),")
        print(f"on {os.cpu_count()} CPUs with a 1-min load average of {os.getloadavg()[0]:.1f} at the end:")
        print(f"{'executor':10s} {'wall s':>16s} {'runs/s':>16s} {'CPU s':>20s}")
        for ex, ts in times.items():
            rates = [n / t for t in ts]
            # the workers of a pool or a cluster are not this process's waited-for children
            used = _ms(cpu[ex], 12, 1) if ex == "serial" else f"{'-':>20s}"
            print(f"{ex:10s} {_ms(ts, 8, 2)} {_ms(rates, 8, 1)} {used}")
        print("same summaries on every executor:", same)
        slow = "process" in times and statistics.mean(times["process"]) > args.budget
        if slow:
            print(f"process executor over the {args.budget:g} s budget", file=sys.stderr)
        return 0 if same and not slow else 1


if __name__ == "__main__":
    raise SystemExit(main())
