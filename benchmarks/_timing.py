"""Timing helpers of the overhead benchmarks: wall and CPU time of a block, overheads as
paired ratios with their spread and a bootstrap confidence interval, and a verdict against
a budget that can say "not met".

Rounds interleave the copies (A, B, A, B ... in one process), so each round's ratio pairs a
monitored block with the unmonitored block run seconds apart: slow drifts of the machine's
load cancel, and the median over rounds discards the rounds it hit hardest. The quartiles
say how much noise is left; the 95 % bootstrap interval (rounds resampled, percentile
method, ``scipy.stats.bootstrap``) says how well the median is known.

CPU time (``time.process_time``: every thread of this process, XLA's and TensorFlow's
included) is the primary measure: on a machine shared with other processes their load
stretches wall time by any amount, while the CPU work of a CPU-bound step (torch, XLA and
TensorFlow on CPU all are) is what the adapter adds to, whoever else runs. Wall time is
given beside it because waits (a forced device sync that stops JAX from running ahead)
cost wall time and no CPU; the verdict is the CPU time's unless the wall time's verdict
contradicts it ("met" against "not met"), then "cannot tell".

Verdicts: "met" when the interval's upper end is within the budget, "not met" when its
lower end is above it, else "cannot tell at this noise". :func:`exit_status` is 1 when any
verdict is "not met", so a benchmark run fails when a budget is missed.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass

import numpy as np

MET, NOT_MET, UNSURE = "met", "not met", "cannot tell at this noise"


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(t: tuple[float, float]) -> tuple[float, float]:
    w, c = clock()
    return w - t[0], c - t[1]


def load() -> str:
    """The machine's 1-minute load average and its CPU count, for the header lines."""
    la = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"load average {la:.1f} on {os.cpu_count()} CPU(s)"


def ratios(off: list[float], on: list[float]) -> list[float]:
    """Per-round overheads ``on / off - 1`` in %."""
    return [100 * (b / a - 1) for a, b in zip(off, on, strict=True) if a > 0]


@dataclass
class Overhead:
    median: float
    q1: float
    q3: float
    lo: float  # 95 % bootstrap interval of the median
    hi: float
    verdict: str  # MET, NOT_MET, UNSURE, or "" without a budget
    unit: str = "%"

    def __str__(self) -> str:
        if self.unit != "%":
            return (f"{self.median:.3f} {self.unit} [{self.q1:.3f}, {self.q3:.3f}] CI [{self.lo:.3f}, "
                    f"{self.hi:.3f}]")  # fmt: skip
        return f"{self.median:6.2f}% [{self.q1:.1f}, {self.q3:.1f}] CI [{self.lo:.1f}, {self.hi:.1f}]"


def overhead(off: list[float], on: list[float], budget: float | None = None, seed: int = 0) -> Overhead:
    """Median, quartiles and the 95 % bootstrap interval of the median of the per-round
    overheads (in %), with the verdict against ``budget`` (in %)."""
    return summary(ratios(off, on), budget, seed)


def difference(off: list[float], on: list[float], budget: float | None = None, seed: int = 0) -> Overhead:
    """The same over the paired differences ``on - off`` in seconds (a run's fixed cost:
    ``budget`` in seconds)."""
    return summary([b - a for a, b in zip(off, on, strict=True)], budget, seed, unit="s")


def summary(r: list[float], budget: float | None = None, seed: int = 0, unit: str = "%") -> Overhead:
    """Median, quartiles and the 95 % bootstrap interval of the median of ``r``, with the
    verdict against ``budget``."""
    if not r:
        nan = float("nan")
        return Overhead(nan, nan, nan, nan, nan, UNSURE if budget is not None else "", unit)
    m = statistics.median(r)
    q1, _, q3 = statistics.quantiles(r, n=4) if len(r) >= 2 else (m, m, m)
    if len(r) >= 3 and max(r) > min(r):
        from scipy.stats import bootstrap

        ci = bootstrap((np.asarray(r),), np.median, confidence_level=0.95, n_resamples=4000,
                       method="percentile", rng=np.random.default_rng(seed)).confidence_interval  # fmt: skip
        lo, hi = float(ci.low), float(ci.high)
    elif len(r) >= 3:  # every round the same (a copy against itself)
        lo = hi = m
    else:  # too few rounds to say how well the median is known
        lo, hi = -math.inf, math.inf
    return Overhead(m, q1, q3, lo, hi, verdict(lo, hi, budget), unit)


def verdict(lo: float, hi: float, budget: float | None) -> str:
    if budget is None:
        return ""
    if hi <= budget:
        return MET
    if lo > budget:
        return NOT_MET
    return UNSURE


def combined(cpu: Overhead, wall: Overhead) -> str:
    """The CPU time's verdict unless the wall time's contradicts it."""
    if {cpu.verdict, wall.verdict} == {MET, NOT_MET}:
        return UNSURE
    return cpu.verdict


def verdict_line(what: str, budget: float, cpu: Overhead, wall: Overhead | None = None) -> str:
    """One verdict; without ``wall`` the CPU time's alone (a fixed cost in seconds)."""
    u = cpu.unit
    if wall is None:
        return (f"verdict {what}: {cpu.verdict} (budget {budget:g} {u}; CPU {cpu.median:.3f} {u} CI "
                f"[{cpu.lo:.3f}, {cpu.hi:.3f}])")  # fmt: skip
    return (f"verdict {what}: {combined(cpu, wall)} (budget {budget:g} %; CPU {cpu.median:.2f} % CI "
            f"[{cpu.lo:.1f}, {cpu.hi:.1f}]: {cpu.verdict}; wall {wall.median:.2f} % CI [{wall.lo:.1f}, "
            f"{wall.hi:.1f}]: {wall.verdict})")  # fmt: skip


def exit_status(lines: list[str]) -> int:
    """1 when a verdict line says "not met" (the benchmark fails), else 0."""
    return int(any(line.split(": ", 1)[1].startswith(NOT_MET) for line in lines))
