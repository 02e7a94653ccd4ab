"""What the same-batch check (flags ``inputs_same_share`` / ``inputs_checked``, adapt37) costs
per step, timed where it runs rather than read off two whole-step medians (on 2 shared cores
the whole-step comparison's interval is +-5-10 %, far wider than this check).

* torch: a ``--steps``-step loop (digits, batch 64, Adam) with the Monitor at its default
  cadence; the Monitor's ``_pair_inputs`` (the inputs of the step after each telemetry or
  sample step, and of steps 0-4, summarised alone) and the input-repeat comparison at
  its flushes (``InputRepeats.see``) are timed call by call (CPU seconds, this process)
  and counted; their sum per step against the plain loop's median step (timed beside it).
* JAX, in the step: the plain jitted step against the same step that also returns the
  check's three scalars (element count, mean, mean square of the inputs), packed into one
  vector with the loss as ``telemetry`` packs them; ``--rounds`` interleaved blocks of
  ``--block`` steps, the paired per-round difference of CPU time per step.
* JAX, on the host: ``InputRepeats.see_rows`` on the 100-row blocks the Recorder's
  pipeline hands it (one per 100 steps), per step.

Run: python benchmarks/inputs_check_cost.py [--steps 400 --rounds 15 --block 100 --models mlp,deep30
--only torch|jax]; with ``PYTHONPATH=DIR:benchmarks`` it times the traindx in DIR (``git archive REV
traindx rulebook | tar -x -C DIR``), for a before/after on the same load.

Measured (perf38, load 9.4-11.7 on 2 shared cores, main 11db482 and the branch alternating):
torch ``--only torch --steps 400 --models mlp,deep30,cnn``: MLP 1.46 / 1.57 % of the plain step
-> 0.90 / 0.91 %, deep30 0.48 / 0.49 -> 0.27 / 0.28 %, CNN 0.53 / 0.57 -> 0.27 / 0.32 %
(``_pair_inputs`` 180-250 -> 67-92 us a call, 43 calls; the telemetry steps' own ``input_key``
40-56 us, 40 calls); JAX ``--only jax --rounds 11``: ``see_rows`` 5.0-5.7 -> 0.54-0.79 us a step;
in the step MLP +4.1 us CI [-8.3, 19.0] and +27.4 [-99.8, 62.3], deep30 +3.0 [-23.4, 32.1]:
the noise hides it.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time

import numpy as np
from _timing import difference, load  # noqa: E402  (benchmarks/_timing.py)


def torch_part(models: list[str], steps: int) -> None:
    import overhead_torch as ot
    import torch

    from traindx.adapters import _torch_stats as ts
    from traindx.adapters._common import repeats

    torch.set_num_threads(1)
    batches = ot.digits(64)
    clocks = {"pair": [0.0, 0], "see": [0.0, 0], "key": [0.0, 0]}
    key0 = getattr(ts, "input_key", None)  # perf38: the telemetry step's own key (none before)
    inside = [False]

    def key(x):  # type: ignore[no-untyped-def]
        t = time.process_time()
        out = key0(x)
        if not inside[0]:
            clocks["key"][0] += time.process_time() - t
            clocks["key"][1] += 1
        return out

    if key0 is not None:
        ts.input_key = key
    see0 = repeats.InputRepeats.see

    def see(self, *a, **k):  # type: ignore[no-untyped-def]
        t = time.process_time()
        see0(self, *a, **k)
        clocks["see"][0] += time.process_time() - t
        clocks["see"][1] += 1

    repeats.InputRepeats.see = see  # type: ignore[method-assign]
    for name in models:
        if name not in ot.MODELS:
            continue
        for c in clocks.values():
            c[:] = [0.0, 0]
        with tempfile.TemporaryDirectory() as tmp:
            plain = ot.Job(ot.MODELS[name], "none", tmp, batches, "cpu")
            job = ot.Job(ot.MODELS[name], "default", tmp, batches, "cpu")
            mon = job.mon
            pair0 = mon._pair_inputs

            def pair(s, inputs, pair0=pair0):  # type: ignore[no-untyped-def]
                t = time.process_time()
                inside[0] = True
                pair0(s, inputs)
                inside[0] = False
                clocks["pair"][0] += time.process_time() - t
                clocks["pair"][1] += 1

            mon._pair_inputs = pair
            off = []
            for _ in range(steps // 50):
                gc.collect()
                off.append(plain.run(50)[1])
                job.run(50)
            mon.close()
        step = statistics.median(off)
        extra = (clocks["pair"][0] + clocks["see"][0] + clocks["key"][0]) / steps
        print(f"  torch {name:7} plain step {1e3 * step:.3f} ms CPU; _pair_inputs {clocks['pair'][1]} calls, "
              f"{1e6 * clocks['pair'][0] / max(clocks['pair'][1], 1):.1f} us each; InputRepeats.see {clocks['see'][1]} "
              f"calls, {1e6 * clocks['see'][0] / max(clocks['see'][1], 1):.1f} us each; telemetry steps' input_key "
              f"{clocks['key'][1]} calls, {1e6 * clocks['key'][0] / max(clocks['key'][1], 1):.1f} us each; "
              f"{1e6 * extra:.2f} us/step = {100 * extra / step:.3f} % of the step")  # fmt: skip
    repeats.InputRepeats.see = see0  # type: ignore[method-assign]
    if key0 is not None:
        ts.input_key = key0


def jax_part(models: list[str], rounds: int, block: int) -> None:
    import jax
    import jax.numpy as jnp
    import optax
    import overhead_jax as oj

    from traindx.adapters._common.repeats import InputRepeats

    for name in models:
        make, batch = oj.MODELS[name]
        params, apply = make(jax.random.PRNGKey(0))
        tx = optax.adam(1e-3)
        data = oj.digits(batch)

        def make_step(check: bool, apply=apply, tx=tx):  # type: ignore[no-untyped-def]
            def step(w, st, x, y):  # type: ignore[no-untyped-def]
                def lf(w):  # type: ignore[no-untyped-def]
                    return optax.softmax_cross_entropy_with_integer_labels(apply(w, x)[0], y).mean()

                loss, g = jax.value_and_grad(lf)(w)
                u, st = tx.update(g, st, w)
                vals = [loss]
                if check:
                    vals += [jnp.asarray(float(x.size), jnp.float32), jnp.mean(x), jnp.mean(x * x)]
                return optax.apply_updates(w, u), st, jnp.stack(vals)

            return jax.jit(step)

        fns = {"plain": make_step(False), "check": make_step(True)}
        state = {k: (params, tx.init(params)) for k in fns}
        cpu: dict[str, list[float]] = {k: [] for k in fns}
        i = 0
        for r in range(rounds + 1):
            for k in list(fns) if r % 2 == 0 else list(fns)[::-1]:
                p, s = state[k]
                t = time.process_time()
                for j in range(block):
                    p, s, out = fns[k](p, s, *data[(i + j) % len(data)])
                jax.block_until_ready(p)
                if r:  # the first round compiles
                    cpu[k].append((time.process_time() - t) / block)
                state[k] = (p, s)
            i += block
        d = difference(cpu["plain"], cpu["check"])
        plain = statistics.median(cpu["plain"])
        rows = np.random.default_rng(0).normal(size=(100, 3))
        rows[:, 0] = 4096.0
        rep = InputRepeats()
        t = time.process_time()
        n = 0
        while time.process_time() - t < 0.5:
            rep.see_rows(np.arange(n * 100, n * 100 + 100), rows)
            n += 1
        host = (time.process_time() - t) / (100 * n)
        print(f"  jax   {name:7} plain step {1e3 * plain:.3f} ms CPU; in the step +{1e6 * d.median:.1f} us "
              f"CI [{1e6 * d.lo:.1f}, {1e6 * d.hi:.1f}] ({100 * d.median / plain:.2f} %); "
              f"see_rows {1e6 * host:.2f} us/step ({100 * host / plain:.3f} %)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--models", default="mlp,deep30")
    ap.add_argument("--only", choices=("torch", "jax"), default=None)
    args = ap.parse_args()
    models = args.models.split(",")
    print(f"the same-batch check's cost per step; {load()} at the start")
    if args.only != "jax":
        torch_part(models, args.steps)
    if args.only != "torch":
        jax_part(models, args.rounds, args.block)
    print(f"{load()} at the end")


if __name__ == "__main__":
    main()
