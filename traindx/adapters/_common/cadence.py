"""The telemetry cadence of every adapter: which steps take per-layer statistics, so that the
adapter's own time stays within budget and a run still gets enough evenly spread samples."""

from __future__ import annotations

import os

#: A fixed cost model for reproducible recordings (the corpus runners set it; users never need
#: it): ``"step=S,own=O,grad=G,extra=X,sample=Y"`` in seconds. See :class:`Cadence`.
COSTS_ENV = "TRAINDX_CADENCE_COSTS"
COST_KEYS = ("step", "own", "grad", "extra", "sample")


class Cadence:
    """Which steps are telemetry steps, and how often the per-step gradient norm is taken.

    With ``every=None`` it adapts so the adapter's own time stays under ``budget`` of the
    step time. At each telemetry step (once ``lo`` steps have passed since the last
    decision) it measures the step time (below), the *floor* as the median own time of the
    other steps (loss, learning rate, buffering) plus the periodic work (flushes) spread
    over the window's steps and the median time of the global gradient norm, and the
    *extra* (the telemetry step and its hooks, the coverage samples' excess) as the rest of
    its own time since the last decision, the median over the last three decisions.

    Own time is wall time (``time.perf_counter``), measured robustly rather than in CPU
    time: on a machine shared with other processes a step that is preempted in the
    adapter's code (a 4 ms time slice against tens of microseconds of own time) inflated
    the *mean* own time against the *median* step interval, so the cadence backed off
    (gradient norm every 16 steps on a 6 ms MLP step at load 5, its measured floor 5 x
    its median). Medians of each kind of own time against the median interval are not
    moved by the few steps a preemption hits, while steady contention stretches both
    alike. CPU clocks were not used: ``time.thread_time`` misses the work of torch's
    intra-op threads and counts no device or data-loader wait in the step, so the two
    sides of the ratio would not measure the same thing; ``process_time`` counts every
    thread of the process, the user's data threads included; and either is a system call
    (5 us here against 0.4 us for ``perf_counter``) paid twice a step.

    Then:

    * the gradient norm is taken every ``grad_stride`` steps, 1 unless it alone would push
      the floor over 3/4 of the budget (tiny models with steps of a few ms): then the
      smallest power of 2 (at most 16) that fits;
    * ``every`` becomes the smallest ``lo * 2**k`` that keeps floor + extra / every within
      the budget (at least a quarter of the budget is left for the extra), grown at most
      ``grow``-fold per decision (a noisy first window is revisited soon) and at most
      ``cap`` (Keras: two epochs);
    * coverage (unless ``min_samples`` is None): between telemetry steps the adapter takes
      a cheaper per-layer *sample* (:meth:`sample_due`; the torch Monitor: per-layer
      gradient norms from the per-parameter norms it computes anyway, weight norms, and a
      copy of the weights for the update ratios, finished the next step (:meth:`charge`))
      whenever ``max(lo, step // min_samples)`` steps have passed since the last sample or
      telemetry step, so a run of N steps gets at least ``min_samples`` per-layer samples
      with no gap longer than ``max(lo, N / min_samples)`` steps, however rare the budget
      makes the full telemetry steps. At most about ``min_samples * (1 + ln(N / (lo *
      min_samples)))`` samples per run. When the run's planned length N is known
      (``planned``: Keras' epochs x steps per epoch) the gap is fixed instead, ``max(min_gap,
      N // min_samples)`` steps, so a run as long as planned gets ``min_samples`` evenly
      spread samples even when N / min_samples is under ``lo``.

    The step time is the median interval between steps (evaluation pauses do not count).
    An adapter whose steps may be dispatched ahead of the device (``async_steps``: Keras on
    JAX returns from a step before it is computed, so the intervals measure dispatch and the
    first device read waits for the backlog) uses the larger of that and the window's mean
    interval minus its own time per step, the intervals across :meth:`pause` left out; it
    keeps any wait for the device out of ``own``.

    A fixed ``every`` is kept as given (the gradient norm taken every step, no coverage
    samples).

    Reproducible recordings (not for users): with the environment variable ``COSTS_ENV``
    (``TRAINDX_CADENCE_COSTS="step=0.004,own=2e-5,grad=1e-4,extra=0.002,sample=3e-4"``, read
    once when an adaptive cadence is made) the same adaptive rule is fed a fixed cost model
    instead of wall-clock timings: each step lasts ``step`` seconds and costs the adapter
    ``own`` (+ ``grad`` when it takes the gradient norm, + ``sample`` on a coverage sample's
    steps, no periodic work), each telemetry step ``extra`` more. The decisions (``every``,
    ``grad_stride``, the coverage samples) then depend on the step count alone, so the same
    run recorded twice, on any machine under any load, gives the same recording, with the
    default cadence's telemetry steps and coverage samples. A malformed value raises.
    """

    def __init__(self, every: int | None, budget: float = 0.02, lo: int = 10, hi: int = 10_000,
                 max_stride: int = 16, min_samples: int | None = 32, grow: int | None = None,
                 async_steps: bool = False):  # fmt: skip
        self.every = every or lo
        self.adaptive = every is None
        self.budget, self.lo, self.hi, self.max_stride = budget, lo, hi, max_stride
        self.min_samples, self.grow, self.async_steps = min_samples, grow, async_steps
        self.cap: int | None = None
        self.planned: int | None = None  # the run's planned length in steps, when known
        self.min_gap = 1  # the fewest steps between coverage samples of a planned run
        self.next = 0
        self.taken = 0  # telemetry steps so far
        self.samples = 0  # per-layer samples so far (telemetry steps included)
        self.sample_next = 0
        self.grad_stride = 1
        self.overhead: float | None = None  # last measured own time / step time
        self._own0 = 0.0
        self._last_t: float | None = None
        self._intervals: list[float] = []
        self._other: list[float] = []  # own time per step, without the gradient norm and periodic work
        self._grad: list[float] = []  # time of the gradient norm, on steps that took it
        self._full: list[float] = []  # own time per step, everything
        self._samples_own: list[float] = []  # own time of coverage-sample steps (without the norm)
        self._periodic = 0.0  # periodic work (flushes) in the window
        self._extras: list[float] = []  # the telemetry extra of the last decisions
        self._is_sample = False
        self.costs = cost_model() if self.adaptive else None
        self._clock = 0.0  # the cost model's step clock and the adapter's own time
        self._own_model = 0.0

    def pause(self) -> None:
        """The next interval is not a step (an epoch boundary: validation, other callbacks)."""
        self._last_t = None

    def record(self, t0: float, own: float, grad_time: float = 0.0, periodic: float = 0.0) -> None:
        """Called at the end of every step: its start time, the adapter's time in it, the
        part of that spent on the gradient norm (0 when it was not taken) and on periodic
        work (a flush)."""
        if self.costs is not None:
            c = self.costs
            t0, self._clock = self._clock, self._clock + c["step"]
            grad_time = c["grad"] if grad_time else 0.0
            own = c["own"] + grad_time + (c["sample"] if self._is_sample else 0.0)
            periodic = 0.0
            self._own_model += own
        if self._last_t is not None:
            self._intervals.append(t0 - self._last_t)
        self._last_t = t0
        self._full.append(own)
        base = own - grad_time - periodic
        if self._is_sample and self._full[1:]:  # not the window's first step (a telemetry step)
            self._samples_own.append(base)
        else:
            self._other.append(base)
        self._is_sample = False
        self._periodic += periodic
        if grad_time:
            self._grad.append(grad_time)

    def step_time(self, total_own: float) -> float:
        """The step time over the current window (see the class docstring)."""
        iv = self._intervals
        t = _median(iv)
        if self.async_steps:
            t = max(t, sum(iv) / len(iv) - total_own / len(self._full))
        return t

    def advance(self, step: int, own: float) -> None:
        """Called on a telemetry step with the adapter's total own time so far."""
        if self.costs is not None:
            self._own_model += self.costs["extra"]
            own = self._own_model
        iv, other, grad, full = self._intervals, self._other, self._grad, self._full
        prev = self.every
        self.taken += 1
        self.sampled(step)
        self._is_sample = False
        if self.adaptive and len(full) >= self.lo and iv and len(other) >= 2:
            # The first step recorded since the last decision was that telemetry step: its
            # telemetry work was counted then (in ``own``), its baseline belongs here.
            n = len(full)
            rest = _median(other[1:])
            gtime = _median(grad) if grad else 0.0
            total = own - self._own0
            # hooks, this telemetry step, epoch-end work: own time outside the other records
            extra = max(total - sum(full[1:]) - rest - (full[0] - other[0]), 0.0)
            extra += sum(max(x - rest, 0.0) for x in self._samples_own)
            self._extras = (self._extras + [extra])[-3:]
            extra = _median(list(self._extras))
            interval = self.step_time(total)
            if interval > 0:
                gsum = gtime * len(grad)
                self.overhead = (n * rest + self._periodic + gsum + extra) / (n * interval)
                allowed = self.budget * interval  # own seconds allowed per step
                rest += self._periodic / n
                stride, fit = 1, max(0.75 * allowed - rest, 0.0)
                while stride < self.max_stride and gtime / stride > fit:
                    stride *= 2
                self.grad_stride = stride
                floor = rest + gtime / stride
                room = max(allowed - floor, allowed / 4)
                every = self.lo
                while every < self.hi and extra / every > room:
                    every *= 2
                self.every = min(every, self.hi)
            self._reset(own)
        elif step == 0 or len(full) > 4 * self.hi:
            self._reset(own)
        if self.adaptive:
            e = self.every
            if self.grow:
                e = min(e, self.grow * prev)
            if self.cap:
                e = min(e, max(self.lo, self.cap))
            self.every = e
        self.next = step + self.every

    def sample_due(self, step: int) -> bool:
        """Whether ``step`` (not a telemetry step) takes a per-layer sample for coverage."""
        return self.adaptive and self.min_samples is not None and step >= self.sample_next

    def sampled(self, step: int) -> None:
        """A per-layer sample (or a telemetry step) was taken at ``step``."""
        self.samples += 1
        self._is_sample = True
        if self.min_samples:
            if self.planned:
                gap = max(self.min_gap, self.planned // self.min_samples)
            else:
                gap = max(self.lo, step // self.min_samples)
            self.sample_next = step + gap

    def charge(self) -> None:
        """This step finishes the last sample's or telemetry step's work (the torch Monitor's
        update ratios, one step after the snapshot): its own time beyond an ordinary step's is
        counted with the coverage samples' excess, not taken for an ordinary step."""
        self._is_sample = True

    def note(self, steps: int) -> str:
        """The run's cadence in words, for ``context.notes``."""
        return (f"{steps} steps, per-layer telemetry every {self.every} steps"
                + (f", {'modelled' if self.costs else 'measured'} overhead {100 * self.overhead:.2f} %"
                   if self.overhead is not None else ""))  # fmt: skip

    def _reset(self, own: float) -> None:
        self._intervals.clear()
        self._other.clear()
        self._grad.clear()
        self._full.clear()
        self._samples_own.clear()
        self._periodic = 0.0
        self._own0 = own


def cost_model() -> dict[str, float] | None:
    """The fixed cost model of ``COSTS_ENV``, None when it is not set (see :class:`Cadence`)."""
    raw = os.environ.get(COSTS_ENV, "").strip()
    if not raw:
        return None
    try:
        pairs = dict(kv.split("=", 1) for kv in raw.split(","))
        costs = {k.strip(): float(v) for k, v in pairs.items()}
    except ValueError:
        costs = {}
    if sorted(costs) != sorted(COST_KEYS) or costs["step"] <= 0 or min(costs.values()) < 0:
        raise ValueError(f"{COSTS_ENV}={raw!r}: expected step=S,own=O,grad=G,extra=X,sample=Y "
                         "(seconds, step > 0, none negative)")
    return costs


def _median(v: list[float]) -> float:
    v = sorted(v)
    return v[len(v) // 2]
