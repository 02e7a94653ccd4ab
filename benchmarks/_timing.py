"""Timing helpers of the overhead benchmarks: wall and CPU time of a block, and overheads as
paired ratios (each round's monitored block against the unmonitored block of the same
round) with their spread.

On a shared machine other processes' load stretches wall time by any amount (a block can
take twice as long because another job ran); the process's CPU time (``time.process_time``:
every thread of this process, XLA's and TensorFlow's included) is disturbed far less, so
the overheads are given in both, CPU first. Each round's ratio pairs blocks run seconds
apart, which cancels slow drifts of the load; the median over rounds discards the rounds
it hit hardest and the quartiles say how much noise is left.
"""

from __future__ import annotations

import statistics
import time


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(t: tuple[float, float]) -> tuple[float, float]:
    w, c = clock()
    return w - t[0], c - t[1]


def paired(off: list[float], on: list[float]) -> tuple[float, float, float]:
    """Median and quartiles (in %) of the per-round overheads ``on / off - 1``."""
    r = [100 * (b / a - 1) for a, b in zip(off, on, strict=True) if a > 0]
    if len(r) < 4:
        m = statistics.median(r) if r else float("nan")
        return m, m, m
    q1, q2, q3 = statistics.quantiles(r, n=4)
    return q2, q1, q3


def fmt(m: float, lo: float, hi: float) -> str:
    return f"{m:6.2f}% [{lo:.1f}, {hi:.1f}]"
