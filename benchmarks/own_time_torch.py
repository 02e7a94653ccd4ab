"""The torch Monitor's own time per ``mon.step`` call (issue 15), in microseconds.

``time.perf_counter_ns`` around each ``mon.step`` of the MLP and deep30 of
``overhead_torch.py`` (digits, batch 64, Adam, one thread), with per-layer telemetry only at
step 0 (``every=10**9``: the per-step floor: loss, LR list, fused per-parameter gradient
norms); the first ``--warmup`` steps are left out. Prints the median and quartiles. Unlike
the overhead ratios it does not depend on the step time, so two trees (``PYTHONPATH``) can be
compared on a busy machine; the hooks' cost inside forward/backward is not in it.

Run: python benchmarks/own_time_torch.py [--models mlp,deep30 --steps 2000 --warmup 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from _timing import load  # noqa: E402  (benchmarks/_timing.py)
from overhead_torch import MODELS, digits
from torch import nn

from traindx.adapters.torch import Monitor


def own_times(name: str, steps: int, warmup: int) -> list[int]:
    torch.manual_seed(0)
    model = MODELS[name]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    batches = digits(64)
    own: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        mon = Monitor(model, opt, loss_fn=crit, logdir=tmp, every=10**9)
        clock = time.perf_counter_ns
        for i in range(warmup + steps):
            x, y = batches[i % len(batches)]
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            t = clock()
            mon.step(loss, inputs=x, targets=y)
            own.append(clock() - t)
            opt.step()
        mon.close()
    return sorted(own[warmup:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="mlp,deep30")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=300)
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}; {load()} at the start")
    for name in a.models.split(","):
        v = own_times(name, a.steps, a.warmup)
        q = [v[len(v) * k // 4] / 1000 for k in (1, 2, 3)]
        print(f"{name:7} own us per mon.step: median {q[1]:.1f} [{q[0]:.1f}, {q[2]:.1f}] over {len(v)} steps")
    print(f"{load()} at the end")


if __name__ == "__main__":
    main()
