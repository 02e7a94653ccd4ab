"""What the torch Monitor's per-step submodule-mode check (gapsb38, flags ``mode_layers*``)
costs, timed where it runs and as whole steps against the tree before it.

The check (``_torch_record.py``): on every step, when the model has dropout or batch-norm
submodules, ``not any(m.training for m in modal)``: it stops at the first submodule in
training mode (one attribute read on a healthy step) and reads them all when every one is in
eval mode (the bug it reports). Timed here on an MLP with two BatchNorm1d and two Dropout
layers (digits, batch 64, Adam; the overhead benchmarks' models have neither, so they never
run it):

* alone: the check's two statements on the Monitor's own submodule list, ``--calls`` times
  in a row (``process_time_ns``: CPU), training mode and all-eval mode, against the plain step's
  median CPU time (this process, interleaved blocks);
* whole steps: ``--rounds`` interleaved blocks of ``--block`` steps without and with the
  Monitor at its default cadence; per round the CPU overhead; with ``--against DIR`` (a
  source tree from before the check: ``git archive 315ac714^ traindx rulebook | tar -x -C
  DIR``) the same child runs from that tree in alternating fresh processes, and the paired
  difference of the two trees' overheads is shown (what a whole-step comparison can see).

Run: python benchmarks/mode_check_cost.py [--rounds 9 --block 50 --calls 100000 --pairs 3
--against DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(rounds: int, block: int, calls: int) -> None:
    import torch
    from overhead_torch import digits
    from torch import nn

    from traindx.adapters.torch import Monitor

    torch.set_num_threads(1)
    batches = digits(64)

    def job(on: bool, tmp: str):  # type: ignore[no-untyped-def]
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(256, 10))  # fmt: skip
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        crit = nn.CrossEntropyLoss()
        mon = Monitor(model, opt, loss_fn=crit, logdir=tmp) if on else None
        state = {"i": 0}

        def run(steps: int) -> float:
            t0 = time.process_time()
            for _ in range(steps):
                x, y = batches[state["i"] % len(batches)]
                state["i"] += 1
                opt.zero_grad()
                loss = crit(model(x), y)
                loss.backward()
                if mon is not None:
                    mon.step(loss, inputs=x, targets=y)
                opt.step()
            return (time.process_time() - t0) / steps

        return model, mon, run

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        _, _, plain = job(False, a)
        model, mon, monitored = job(True, b)
        plain(block)
        monitored(block)  # warm-up: first steps' facts, hooks
        off, on = [], []
        for r in range(rounds):
            for which in ((plain, off), (monitored, on)) if r % 2 == 0 else ((monitored, on), (plain, off)):
                gc.collect()
                which[1].append(which[0](block))
        out["off"], out["on"] = off, on
        modal = getattr(mon, "_modal", None)
        if modal is not None:  # the check itself, as _torch_record.py runs it
            out["modal"] = len(modal)
            for mode in ("train", "eval"):
                model.train(mode == "train")
                checked = evals = 0
                t0 = time.process_time_ns()
                for _ in range(calls):
                    if modal:
                        checked += 1
                        evals += not any(m.training for m in modal)
                out[f"check_{mode}_ns"] = (time.process_time_ns() - t0) / calls
            model.train()
        mon.close()
    print(json.dumps(out))


def _child(tree: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--rounds", str(args.rounds), "--block",
           str(args.block), "--calls", str(args.calls)]  # fmt: skip
    p = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if p.returncode:
        raise SystemExit(f"child in {tree} failed: {p.stderr.strip()[-600:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--pairs", type=int, default=3, help="fresh processes per tree")
    ap.add_argument("--against", type=Path, help="a source tree from before the check")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.rounds, args.block, args.calls)
        return 0
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _timing import load, overhead, summary

    trees = {"this tree": ROOT} | ({"--against": args.against.resolve()} if args.against else {})
    print(f"MLP with 2 BatchNorm1d + 2 Dropout, digits, batch 64; {args.pairs} fresh process(es) per tree, "
          f"{args.rounds} x {args.block}-step blocks each; {load()} at the start")  # fmt: skip
    res: dict[str, list[dict]] = {k: [] for k in trees}
    for p in range(args.pairs):
        for name in list(trees) if p % 2 == 0 else list(trees)[::-1]:
            res[name].append(_child(trees[name], args))
    per: dict[str, list[float]] = {}
    for name, outs in res.items():
        off = [x for o in outs for x in o["off"]]
        on = [x for o in outs for x in o["on"]]
        per[name] = [statistics.median(100 * (b / a - 1) for a, b in zip(o["off"], o["on"], strict=True)) for o in outs]
        step = statistics.median(off)
        print(f"  {name:10} plain step {step * 1e3:.3f} ms CPU; Monitor at its default cadence: {overhead(off, on)!s}")
        if "modal" in outs[0]:
            for mode in ("train", "eval"):
                ns = statistics.median(o[f"check_{mode}_ns"] for o in outs)
                print(f"  {'':10} the check alone, {mode} mode ({outs[0]['modal']} submodules): {ns:.0f} ns a step "
                      f"= {100 * ns * 1e-9 / step:.3f} % of the plain step")  # fmt: skip
        else:
            print(f"  {'':10} no mode check in this tree")
    if args.against:
        d = summary([a - b for a, b in zip(per["this tree"], per["--against"], strict=True)])
        print(f"  whole-step overhead, this tree minus --against (per process pair, points): {d!s}")
    print(f"  {load()} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
