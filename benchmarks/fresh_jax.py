"""The JAX Recorder's fixed cost as a user's script pays it: one fresh process per run.

    python benchmarks/fresh_jax.py [--pairs 6] [--steps 400] [--against DIR] [--design auto|host|compiled]

``overhead_jax.py --fixed`` runs every pair in one process and leaves the first out, so what
a process pays once (imports, the first XLA compiles of traindx's own helpers, pydantic for
``context.json``, the rulebook) is not in it; but users run many short experiments, one
script each. Here each run is a fresh interpreter: the 400-step MLP loop on digits (batch
64, optax Adam, ``jax.jit`` and its compile included) plain (``none``), and with
``telemetry_jit`` + ``Recorder`` + ``close()`` + ``diagnose()`` (``rec``), alternating (A, B
then B, A), after one warm-up round of each (bytecode caches written, as an installed copy
has them). Each child reports its phases (process CPU seconds, every thread: less
disturbed by other load than wall time); the measure is the run's own CPU, from after the
set-up both arms share (importing jax and optax, making the data and the model: identical
code, whose 4-5 s swamp the difference in noise on a busy machine) to the end, traindx's
import included; the paired difference gets its median, quartiles, 95 % bootstrap interval
and a verdict against the 0.2 s budget (issue 15). The phases' medians show where the extra
goes; the child's whole CPU (``wait4``) is shown beside. ``--against DIR`` adds the ``rec`` arm run from another source tree (``git archive
REV traindx rulebook | tar -x -C DIR``), interleaved: a before/after on the same load.
XLA runs on one CPU thread, as in ``overhead_jax.py``. ``--design`` picks ``telemetry_jit``'s
design (``host=None``, True, False); with JAX's persistent compilation cache in the
environment (``JAX_COMPILATION_CACHE_DIR``) the warm-up round fills it, so the measured runs
are what a user who caches compiles pays (JAX never caches an executable with a host
callback: the host design compiles every run).
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
BUDGET = 0.2  # s of CPU a short run may pay for telemetry and the Recorder (issue 15)
SHARED = ("import jax, optax", "data and model")  # the same code in both arms: left out of the measure


def child(mode: str, steps: int, design: str = "auto") -> None:
    """One run in this (fresh) process; prints its phases' CPU seconds as JSON."""
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    marks = [("start", time.process_time())]

    def mark(name: str) -> None:
        marks.append((name, time.process_time()))

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from sklearn.datasets import load_digits

    mark("import jax, optax")
    if mode == "rec":
        from traindx.adapters.jax import Recorder, telemetry, telemetry_jit

        mark("import traindx")
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    batches = [(jnp.asarray(x[i : i + 64]), jnp.asarray(y[i : i + 64], jnp.int32)) for i in range(0, len(x) - 63, 64)]
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    widths = (64, 256, 256, 10)
    params = {f"Dense_{i}": {"kernel": jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), "bias": jnp.zeros(b)}
              for i, (k, a, b) in enumerate(zip(keys, widths[:-1], widths[1:], strict=True))}  # fmt: skip
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)
    mark("data and model")

    def loss_fn(p, xb, yb):  # type: ignore[no-untyped-def]
        acts, h = {}, xb
        for i in range(3):
            h = h @ p[f"Dense_{i}"]["kernel"] + p[f"Dense_{i}"]["bias"]
            if i < 2:
                h = acts[f"relu_{i}"] = jax.nn.relu(h)
        return optax.softmax_cross_entropy_with_integer_labels(h, yb).mean(), (h, acts)

    def step(p, s, xb, yb):  # type: ignore[no-untyped-def]
        (loss, (z, acts)), g = jax.value_and_grad(loss_fn, has_aux=True)(p, xb, yb)
        u, s = tx.update(g, s, p)
        new = optax.apply_updates(p, u)
        if mode != "rec":
            return new, s, loss
        return new, s, telemetry(grads=g, params=p, updates=u, loss=loss, activations=acts, logits=z, labels=yb,
                                 inputs=xb)  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        rec = None
        if mode == "rec":
            fn = telemetry_jit(step, host={"auto": None, "host": True, "compiled": False}[design])
            rec = Recorder(tmp, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels",
                           num_classes=10)  # fmt: skip
            mark("Recorder(...)")
        else:
            fn = jax.jit(step)
        p, s, out = fn(params, opt_state, *batches[0])
        jax.block_until_ready(p)
        mark("first call")
        for i in range(1, steps):
            p, s, out = fn(p, s, *batches[i % len(batches)])
            if rec is not None:
                rec.log(i, out)
        jax.block_until_ready(p)
        mark(f"other {steps - 1} steps")
        if rec is not None:
            rec.close()
            mark("close()")
            if rec.diagnose() is None:
                raise SystemExit("diagnose() failed")
            mark("diagnose()")
    print(json.dumps({b[0]: b[1] - a[1] for a, b in zip(marks, marks[1:], strict=False)}))


def _once(arm: str, tree: Path, steps: int, design: str = "auto") -> tuple[float, dict[str, float]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    env["TRAINDX_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / f"traindx-fresh-{tree.name}")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "rec" if arm != "none" else "none",
           "--steps", str(steps), "--design", design]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{arm} failed: {err.strip()[-600:]}")
    return usage.ru_utime + usage.ru_stime, json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--against", type=Path, help="also run the rec arm from this source tree")
    ap.add_argument("--design", choices=("auto", "host", "compiled"), default="auto",
                    help="telemetry_jit's design (host=None, True, False)")  # fmt: skip
    ap.add_argument("--child", choices=("none", "rec"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.steps, args.design)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _timing import difference, exit_status, load, verdict_line

    arms = {"none": ROOT, "rec": ROOT}
    if args.against:
        arms["rec (--against)"] = args.against.resolve()
    load0 = load()
    for arm, tree in arms.items():  # warm-up: bytecode caches, the rulebook cache
        _once(arm, tree, args.steps, args.design)
    cpu: dict[str, list[float]] = {a: [] for a in arms}  # the child's whole CPU
    own: dict[str, list[float]] = {a: [] for a in arms}  # the run's own (SHARED left out)
    phases: dict[str, dict[str, list[float]]] = {a: {} for a in arms}
    for r in range(args.pairs):
        for arm in list(arms) if r % 2 == 0 else list(arms)[::-1]:
            total, ph = _once(arm, arms[arm], args.steps, args.design)
            cpu[arm].append(total)
            own[arm].append(sum(v for k, v in ph.items() if k not in SHARED))
            for k, v in ph.items():
                phases[arm].setdefault(k, []).append(v)
    print(f"a {args.steps}-step MLP run on digits in a fresh process each ({args.pairs} pairs after a warm-up "
          f"round; CPU seconds of the child); {load0} at the start, {load()} at the end")  # fmt: skip
    verdicts = []
    for arm in arms:
        ph = ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in phases[arm].items())
        print(f"  {arm:16} the run {statistics.median(own[arm]):.3f} s, the process {statistics.median(cpu[arm]):.3f} s "
              f"(medians); phases: {ph}")  # fmt: skip
        if arm != "none":
            extra = difference(own["none"], own[arm], BUDGET)
            print(f"  {'':16} extra over none: {extra!s} (the process's: {difference(cpu['none'], cpu[arm])!s})")
            verdicts.append(verdict_line(f"fixed cost in a fresh process, {arm}", BUDGET, extra))
    if args.against:
        print(f"  this tree against --against (the run's own CPU, paired): "
              f"{difference(own['rec (--against)'], own['rec'])!s}")  # fmt: skip
    print("\n".join(verdicts))
    return exit_status(verdicts)


if __name__ == "__main__":
    raise SystemExit(main())
