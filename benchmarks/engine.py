"""Engine speed: diagnose a synthetic 1,000,000-step run with 100 series.

Target (issue 2): < 1 s on the 2-core reference machine. Also times reading the same run
back from an event file, to show where the time goes. Run: python benchmarks/engine.py
"""

from __future__ import annotations

import time

import numpy as np

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, Series, SeriesKey
from traindx.signals import compute_facts


def big_run(steps: int = 1_000_000, n_series: int = 100, seed: int = 0) -> Run:
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=np.int64)
    run = Run(id="big")
    loss = (0.1 + 2.2 * np.exp(-t / (steps / 8))) * (1 + 0.1 * rng.standard_normal(steps))
    run.add(Series(key=SeriesKey(metric="loss"), steps=t, values=loss))
    run.add(Series(key=SeriesKey(metric="lr"), steps=t, values=3e-4 * 0.5 * (1 + np.cos(np.pi * t / steps))))
    run.add(Series(key=SeriesKey(metric="grad_norm"), steps=t, values=1 + 0.2 * np.abs(rng.standard_normal(steps))))
    ev = t[:: steps // 100]
    run.add(Series(key=SeriesKey(metric="loss", split="val"), steps=ev, values=0.15 + 2.2 * np.exp(-ev / (steps / 8))))
    run.add(Series(key=SeriesKey(metric="accuracy", split="val"), steps=ev, values=0.95 - 0.85 * np.exp(-ev / (steps / 8))))
    for i in range(n_series - len(run.series)):
        layer = f"layer{i}.weight"
        run.add(Series(key=SeriesKey(metric="grad_norm", scope=layer), steps=t, values=np.abs(rng.standard_normal(steps))))
    return run


def main() -> None:
    book = load_rulebook()
    t0 = time.perf_counter()
    run = big_run()
    t_build = time.perf_counter() - t0
    points = sum(len(s) for s in run.series.values())
    times, facts_times = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        compute_facts(run)
        facts_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        d = diagnose_run(run, book)
        times.append(time.perf_counter() - t0)
    print(f"synthetic run: {len(run.series)} series, {points:,} points (built in {t_build:.2f} s)")
    print(f"facts only:    best {min(facts_times):.3f} s")
    print(f"diagnose:      best {min(times):.3f} s  (target < 1 s)  -> healthy={d.healthy}")
    small = big_run(steps=2_000, n_series=10)
    t0 = time.perf_counter()
    for _ in range(20):
        diagnose_run(small, book)
    print(f"small run (2k steps, 10 series): {(time.perf_counter() - t0) / 20 * 1e3:.1f} ms per diagnosis")


if __name__ == "__main__":
    main()
