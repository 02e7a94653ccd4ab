"""The torch Monitor's own time per ``mon.step`` call (issue 15), in microseconds.

``time.perf_counter_ns`` around each ``mon.step`` of the MLP and deep30 of
``overhead_torch.py`` (digits, batch 64, Adam, one thread); the first ``--warmup`` steps are
left out. With the default ``--every 1000000000`` per-layer telemetry runs only at step 0:
every step is a plain one (the per-step floor: loss, LR list, fused per-parameter gradient
norms). With a smaller ``--every`` (a fixed interval: no coverage samples) the steps are
split by kind: ``plain``, ``tel`` (the telemetry steps) and ``after`` (the step after one,
which finishes its update ratios). Prints the median and quartiles of each. Unlike the
overhead ratios it does not depend on the step time; the hooks' cost inside
forward/backward is not in it.

``--against DIR`` (another source tree, e.g. ``git archive HEAD~1 traindx | tar -x -C DIR``):
the measurement runs in ``--pairs`` fresh processes per tree, the two trees alternating
(A B, B A, ...), so slow drifts of a shared machine's load reach both alike; each process's
median is paired with the other tree's of the same pair, and the ratio this tree / DIR is
summarized (median, quartiles, bootstrap interval over the pairs), for the processes'
medians and for their 10th percentiles (at a load of several processes a core, the steps
no other process interrupted).

Run: python benchmarks/own_time_torch.py [--models mlp,deep30 --steps 2000 --warmup 300
--every N --against DIR --pairs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("plain", "tel", "after")


def own_times(name: str, steps: int, warmup: int, every: int) -> dict[str, list[int]]:
    """Nanoseconds per ``mon.step`` by kind of step, sorted."""
    import torch
    from overhead_torch import MODELS, digits
    from torch import nn

    from traindx.adapters.torch import Monitor

    torch.manual_seed(0)
    model = MODELS[name]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    batches = digits(64)
    own: dict[str, list[int]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        mon = Monitor(model, opt, loss_fn=crit, logdir=tmp, every=every)
        clock = time.perf_counter_ns
        for i in range(warmup + steps):
            x, y = batches[i % len(batches)]
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            t = clock()
            mon.step(loss, inputs=x, targets=y)
            d = clock() - t
            opt.step()
            if i >= warmup:
                own["tel" if i % every == 0 else "after" if i % every == 1 else "plain"].append(d)
        mon.close()
    return {k: sorted(v) for k, v in own.items() if v}


def quartiles(v: list[int]) -> list[float]:
    """Quartiles and the 10th percentile (the least disturbed by other processes), in us."""
    return [v[len(v) * k // 4] / 1000 for k in (1, 2, 3)] + [v[len(v) // 10] / 1000]


def child(a: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    res = {m: {k: [*quartiles(v), len(v)] for k, v in own_times(m, a.steps, a.warmup, a.every).items()}
           for m in a.models.split(",")}  # fmt: skip
    print(json.dumps(res))


def _run(tree: Path, a: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT / "benchmarks")])}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--models", a.models, "--steps",
           str(a.steps), "--warmup", str(a.warmup), "--every", str(a.every)]  # fmt: skip
    p = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if p.returncode:
        raise SystemExit(f"own_time_torch.py: the child in {tree} failed: {p.stderr.strip()[-600:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mlp,deep30")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--every", type=int, default=10**9, help="fixed per-layer telemetry interval")
    ap.add_argument("--against", type=Path, help="another source tree, run in alternating processes")
    ap.add_argument("--pairs", type=int, default=4, help="fresh processes per tree (with --against)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a)
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _timing import load, summary

    if a.every < 1:
        raise SystemExit(f"own_time_torch.py: --every must be a positive int, not {a.every}")
    trees = {"this tree": ROOT} | ({"--against": a.against.resolve()} if a.against else {})
    pairs = a.pairs if a.against else 1
    print(f"{load()} at the start; {pairs} process(es) per tree, {a.steps} steps each, every={a.every}")
    res: dict[str, list[dict]] = {k: [] for k in trees}
    for p in range(pairs):
        for name in list(trees) if p % 2 == 0 else list(trees)[::-1]:
            res[name].append(_run(trees[name], a))
    for m in a.models.split(","):
        for kind in KINDS:
            if kind not in res["this tree"][0][m]:
                continue
            for name, outs in res.items():
                meds = [o[m][kind][1] for o in outs]
                p10 = [o[m][kind][3] for o in outs]
                q = outs[0][m][kind]
                print(f"{m:7} {kind:5} {name:10} own us per mon.step: median {statistics.median(meds):.1f} "
                      f"(per process {', '.join(f'{x:.1f}' for x in meds)}; first [{q[0]:.1f}, {q[2]:.1f}] "
                      f"over {q[4]} steps); 10th percentile {statistics.median(p10):.1f}")  # fmt: skip
            if a.against:
                for i, what in ((1, "median"), (3, "10th percentile")):
                    r = [100 * (x[m][kind][i] / y[m][kind][i] - 1)
                         for x, y in zip(res["this tree"], res["--against"], strict=True)]  # fmt: skip
                    print(f"{m:7} {kind:5} this tree / --against - 1 ({what}): {summary(r)!s}")
    print(f"{load()} at the end")


if __name__ == "__main__":
    main()
