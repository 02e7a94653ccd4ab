"""Overhead of the PyTorch Monitor: steps/s with and without it, interleaved in one process.

Three models on 8x8 digits (batch 64): a small CNN, an MLP and a deep net of 30 small
Linear+ReLU layers. Each runs in four copies (same initial weights): no monitor; the
Monitor with per-layer telemetry only at step 0 (``floor``: what every step costs, loss +
lr + global gradient norm); the Monitor at its default (adaptive) cadence; and the Monitor
with ``every=1`` (every statistic on every step). Blocks of ``--block`` steps alternate between the copies for
``--rounds`` rounds (the order rotating each round, ``gc.collect()`` before each block so
no block pays for another's garbage); ``every=1`` runs in a second interleave of its own
against a fresh unmonitored copy, so its garbage does not land in the others' blocks. The
table gives the median step time of each and the overhead (median time / median time
without the monitor - 1); "self-est." is the monitor's own measurement (own time / median
step interval) that drives the adaptive cadence, and "stride" the adaptive interval of the
per-step global gradient norm.

Memory: the added peak of Python allocations (tracemalloc) over a monitored block versus an
unmonitored one, and the tensors the monitor holds at its peak (its parameter snapshot for
the update ratio, computed from the parameter sizes). torch's CPU tensor memory is not seen
by tracemalloc.

Run: python benchmarks/overhead_torch.py [--rounds 15 --block 50 --threads 1 --device cpu
--every1-rounds 7]; ``--fixed 9``: instead, the fixed cost of the Monitor on a 400-step run
(construction, close, diagnose) and the loop's extra, CPU seconds.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings

import torch
from _timing import clock, difference, exit_status, load, overhead, since, summary, verdict_line  # noqa: E402  (benchmarks/_timing.py)
from torch import nn

from traindx.adapters.torch import Monitor


def digits(batch: int, device: str = "cpu") -> list[tuple[torch.Tensor, torch.Tensor]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32, device=device)
    y = torch.tensor(y, device=device)
    n = len(x) // batch
    return [(x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]) for i in range(n)]


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 16, 64)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x.view(-1, 1, 8, 8))))))
        return self.fc2(self.relu3(self.fc1(h.flatten(1))))


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )


def deep() -> nn.Module:
    layers: list[nn.Module] = []
    for _ in range(30):
        layers += [nn.Linear(64, 64), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(64, 10))


MODELS = {"cnn": CNN, "mlp": mlp, "deep30": deep}
CONFIGS = ("none", "floor", "default", "every=1")
FIXED_BUDGET = 0.2  # s of CPU a short run may pay for the Monitor (issue 15)
BUDGET = {"default": 2.0}  # % of the step time: the adaptive cadence's budget (Cadence(budget=0.02))


class Job:
    def __init__(self, make, config: str, logdir: str, batches, device: str) -> None:
        torch.manual_seed(0)
        self.model = make().to(device)
        self.sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.crit = nn.CrossEntropyLoss()
        self.batches = batches
        self.i = 0
        self.mon = None
        if config != "none":
            every = {"every=1": 1, "floor": 10**9}.get(config)
            self.mon = Monitor(self.model, self.opt, loss_fn=self.crit, logdir=logdir, every=every)

    def run(self, steps: int) -> tuple[float, float]:
        """Wall and CPU seconds per step over ``steps`` steps."""
        model, opt, crit, mon, batches = self.model, self.opt, self.crit, self.mon, self.batches
        self.sync()
        t0 = clock()
        for _ in range(steps):
            x, y = batches[self.i % len(batches)]
            self.i += 1
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            if mon is not None:
                mon.step(loss, inputs=x, targets=y)
            opt.step()
        self.sync()
        wall, cpu = since(t0)
        return wall / steps, cpu / steps


def python_peak(job: Job, steps: int) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    job.run(steps)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def item_vs_batch(steps: int = 20000) -> tuple[float, float]:
    """Per-step cost on CPU of float(loss) versus keeping the tensor and one tolist per 50."""
    loss = torch.tensor(0.5, requires_grad=True) * 2
    t0 = time.perf_counter()
    out = []
    for _ in range(steps):
        out.append(float(loss.detach()))
    t_item = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    buf: list[torch.Tensor] = []
    for i in range(steps):
        buf.append(loss.detach())
        if i % 50 == 49:
            out = torch.stack(buf).tolist()
            buf.clear()
    t_batch = (time.perf_counter() - t0) / steps
    return t_item, t_batch


def fixed_cost(repeats: int, steps: int = 400) -> None:
    """What the Monitor costs a short run: a ``steps``-step MLP loop on digits with and
    without it (fresh model, optimizer and Monitor each time, alternating), CPU seconds:
    construction (static context, init scales, hooks), the loop's extra (per-step records and
    the per-layer samples: the coverage floor takes >= 32), ``close()`` (last flush and
    ``context.json``) and ``diagnose()`` (reading the run back, the rulebook from its cache,
    the diagnosis). Medians over ``repeats`` pairs (alternating A, B then B, A), quartiles in
    brackets; verdicts against the 0.2 s budget for the fixed cost and for the whole run's
    extra (the paired difference of the two runs' CPU time, which also holds the per-step
    telemetry of 400 steps)."""
    load0 = load()
    batches = digits(64)
    keys = ("loop", "setup", "extra", "close", "diagnose", "fixed", "samples", "run off", "run on")
    rows: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(repeats):
        for on in (False, True) if r % 2 == 0 else (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                job = Job(mlp, "none", tmp, batches, "cpu")
                gc.collect()
                t0 = time.process_time()
                mon = job.mon = Monitor(job.model, job.opt, loss_fn=job.crit, logdir=tmp) if on else None
                t1 = time.process_time()
                cpu = job.run(steps)[1] * steps
                if mon is None:
                    rows["run off"].append(cpu)
                    continue
                t2 = time.process_time()
                mon.close()
                t3 = time.process_time()
                d = mon.diagnose()
                t4 = time.process_time()
                assert d is not None
                rows["loop"].append(cpu)
                rows["run on"].append(t4 - t0)
                rows["setup"].append(t1 - t0)
                rows["close"].append(t3 - t2)
                rows["diagnose"].append(t4 - t3)
                rows["fixed"].append(t1 - t0 + t4 - t2)
                rows["samples"].append(getattr(mon._cad, "samples", float("nan")))
    rows["extra"] = [a - b for a, b in zip(rows["loop"], rows["run off"], strict=True)]
    q = {k: statistics.quantiles(v, n=4) if len(v) >= 4 else [statistics.median(v)] * 3 for k, v in rows.items()}
    print(f"torch {torch.__version__}: a {steps}-step MLP loop (digits, batch 64, Adam), {repeats} pairs, CPU seconds, "
          f"median [quartiles]; {load0} at the start, {load()} at the end")  # fmt: skip
    for k, label in (("run off", "loop without the Monitor"), ("setup", "Monitor(...)"), ("extra", "loop: extra with it"),
                     ("close", "close()"), ("diagnose", "diagnose()"), ("fixed", "fixed: setup + close + diagnose")):  # fmt: skip
        a, m, b = q[k]
        print(f"  {label:34} {m:7.3f} [{a:.3f}, {b:.3f}]")
    print(f"  per-layer samples: {statistics.median(rows['samples']):.0f} (coverage floor: >= 32)")
    whole = difference(rows["run off"], rows["run on"], FIXED_BUDGET)
    fixed = summary(rows["fixed"], FIXED_BUDGET, unit="s")
    print(f"  whole run, extra with the Monitor: {whole!s} (CI: 95 % bootstrap interval of the median)")
    verdicts = [verdict_line("fixed cost (setup + close + diagnose)", FIXED_BUDGET, fixed),
                verdict_line("whole run's extra (fixed + 400 steps' telemetry)", FIXED_BUDGET, whole)]  # fmt: skip
    print("\n".join(verdicts))
    sys.exit(exit_status(verdicts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--every1-rounds", type=int, default=None, help="rounds of the every=1 interleave"
    )
    ap.add_argument("--fixed", type=int, default=0, help="instead: the fixed cost on N short runs (400 steps)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.fixed:
        fixed_cost(args.fixed)
        return
    warnings.simplefilter("error", RuntimeWarning)  # a monitor that turns itself off is a failure
    load0 = load()
    batches = digits(64, args.device)
    rows = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            for group in (("none", "floor", "default"), ("none", "every=1")):
                rounds = (
                    args.rounds
                    if "every=1" not in group or args.every1_rounds is None
                    else args.every1_rounds
                )
                if rounds < 1:  # no timings to take a median of: no row
                    skipped.append(f"{name} {'/'.join(group[1:])}")
                    continue
                jobs = {
                    c: Job(MODELS[name], c, f"{tmp}/{name}-{c}-{len(group)}", batches, args.device)
                    for c in group
                }
                for job in jobs.values():  # warm-up (allocator, first telemetry)
                    job.run(args.block)
                times: dict[str, list[tuple[float, float]]] = {c: [] for c in group}
                for r in range(rounds):
                    k = r % len(group)
                    for c in group[k:] + group[:k]:
                        gc.collect()
                        times[c].append(jobs[c].run(args.block))
                med = {c: statistics.median(w for w, _ in v) for c, v in times.items()}
                cpu = {c: [u for _, u in v] for c, v in times.items()}
                wall = {c: [w for w, _ in v] for c, v in times.items()}
                gc.collect()
                py0 = python_peak(jobs["none"], args.block)
                snap = sum(p.numel() * p.element_size() for p in jobs["none"].model.parameters())
                for c in group[1:]:
                    mon = jobs[c].mon
                    mem = python_peak(jobs[c], args.block) - py0
                    frac = mon._cad.overhead
                    b = BUDGET.get(c)
                    rows.append((name, c, med["none"], med[c], overhead(cpu["none"], cpu[c], b), overhead(wall["none"], wall[c], b),
                                 mon.every, mon._cad.grad_stride, 100 * frac if frac is not None else float("nan"),
                                 mem, snap, getattr(mon._cad, "samples", -1)))  # fmt: skip
                    mon.close()
    print(f"torch {torch.__version__} on {args.device}, {args.threads} thread(s), {args.rounds} rounds x {args.block} "
          f"steps, batch 64; {load0} at the start, {load()} at the end")  # fmt: skip
    print("overhead: median [quartiles] CI [95 % bootstrap interval of the median] over rounds of the paired "
          "per-round ratio, in CPU time (less disturbed by other load) and wall time; samples: per-layer samples "
          "taken (telemetry steps and coverage samples)")  # fmt: skip
    hdr = (
        f"{'model':8} {'monitor':9} {'ms/step off':>11} {'ms/step on':>10} {'overhead (CPU)':>34} "
        f"{'overhead (wall)':>34} {'every':>6} {'stride':>6} {'self-est.':>9} {'samples':>7} {'py peak +':>10} {'snapshot':>9}"
    )
    print(hdr)
    print("-" * len(hdr))
    for name, c, off, on, ovc, ovw, every, stride, frac, pk, snap, ntel in rows:
        ev = "-" if every >= 10**9 else str(every)
        print(
            f"{name:8} {c:9} {1e3 * off:11.3f} {1e3 * on:10.3f} {ovc!s:>34} {ovw!s:>34} {ev:>6} {stride:6d} "
            f"{frac:8.2f}% {ntel:7d} {pk / 1024:8.1f}KB {snap / 1024:7.1f}KB"
        )
    if skipped:
        print(f"skipped (0 rounds asked, no timings): {', '.join(skipped)}")
    verdicts = [verdict_line(f"{name} {c}", BUDGET[c], ovc, ovw) for name, c, _, _, ovc, ovw, *_ in rows if c in BUDGET]
    print("\n".join(verdicts))
    t_item, t_batch = item_vs_batch()
    print(
        f"\nloss to host on CPU: float(loss) {1e6 * t_item:.2f} us/step; keep tensor + stack/tolist per 50: {1e6 * t_batch:.2f} us/step"
    )
    sys.exit(exit_status(verdicts))


if __name__ == "__main__":
    main()
