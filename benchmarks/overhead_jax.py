"""Overhead of the JAX adapter: step time with and without ``telemetry`` and the Recorder.

Models on 8x8 digits (batch 64 unless noted), each trained by a jitted optax Adam step in
several copies from the same initial parameters, interleaved in one process:

* ``none``        - the plain step (returns params, opt state, loss);
* ``default``     - the default cadence: the step calls ``telemetry(...)`` and is jitted with
  ``telemetry_jit`` at its defaults: every statistic (per-layer gradient/weight/update
  norms, global gradient norm, activation, output and input statistics) on telemetry steps,
  only the loss and non-finite input count on the others; telemetry steps every 10 calls
  until their cost is measured (90 calls), then as often as a 2 % budget allows, but at
  least every ``max(10, call / 32)`` calls (the 32-sample coverage floor: on these short
  runs, 1,600 calls per copy, the floor rather than the budget sets the cadence);
* ``default+rec`` - the same with ``Recorder.log`` every step (stack + one transfer per 100
  steps, events and context written);
* ``compiled``, ``compiled+rec`` - the same with ``telemetry_jit(host=False)``: the
  statistics compiled into a second copy of the step (the default above ``HOST_LIMIT``;
  these models are below it, where the default computes them with numpy on the host);
* ``jit/10``      - ``telemetry_jit(every=10)``: every statistic on every 10th call (the
  cost of one telemetry step, spread over 10);
* ``cond/10``     - ``telemetry(..., step=step)``: the same cadence inside one jitted
  function with ``jax.lax.cond`` (what ``lax.scan`` loops use);
* ``every=1``     - every statistic on every step (plain ``jax.jit``);
* ``every=1+rec`` - every statistic on every step, with the Recorder.

Models: an MLP 64-256-256-10, a small CNN (two 3x3 ``lax.conv`` layers, pooling, dense
head), and the worst case: a deep net of 30 tiny (16-wide) dense layers at batch 16, whose
steps take a fraction of a millisecond, so fixed per-step costs weigh most.

Blocks of ``--block`` steps alternate between the copies (order reversed every other
round) for ``--rounds`` rounds; each block ends with ``block_until_ready``. The table gives
the median step time of each copy and its overhead (median / median of ``none`` - 1).
Medians over rounds because the machine may be shared: other processes' load lands on all
copies alike and the median discards the blocks it hit hardest.

Blocks are 100 steps by default: each holds exactly one Recorder transfer (and 10
telemetry steps of ``jit/10``), so the medians include their costs. XLA runs on one CPU thread (``XLA_FLAGS``
unless already set).

Run: python benchmarks/overhead_jax.py [--rounds 15 --block 100 --models mlp,cnn,deep30
--configs none,default,compiled --warmup 1100] (``--warmup``: steps before the rounds, e.g.
past the host design's switch to the compiled light function after 1,000 calls)

``--fixed N``: instead, the fixed cost of telemetry and the Recorder on a 400-step run (N
pairs, CPU seconds, a verdict against the 0.2 s budget), split into the first call's extra
(trace and compile) and the rest's; ``--fixed-model deep30`` (or cnn) runs it on another model.

``--parts N``: instead, where ``--fixed``'s extra goes (N rounds, paired against the plain
step): the compile of the plain step, the light function and the one host-design function,
and the other 399 steps with the one function never at a telemetry step, at the default
cadence and with the Recorder; the host statistics' own time and the telemetry steps counted.

``--operands N``: instead, why the one function compiles longer than the plain step: the
step with a ``lax.cond`` handing each group of the statistics' arrays to a trivial callback
(median of N compiles); the fast XLA options on the training step (compile time, whether
training stays the same) and on a separate probe.

``--compile N``: instead, the XLA compile time of each model's plain step and of the two
functions ``telemetry_jit`` compiles (light and full), the median of N compiles.

``--designs N``: instead, one compile of the MLP step in other designs (the statistics under
``lax.cond``; a prototype that hands the arrays to numpy through ``jax.debug.callback``; the
adapter's host design), its compile time and step time (median of N blocks).

``--background N``: instead, the one host-design function compiled off the critical path
(cost24): plain, ``telemetry_jit`` as it is, and the light function training from the first
call while a daemon thread compiles the one function (N alternating rounds, wall and CPU,
``--background-steps`` steps, ``--fixed-model``): when it is ready against the steps' end,
the switch's first call, the GIL, and the light compile's stall at call 1,000 on long runs.

``--sizes W,W``: instead, the host and compiled designs on MLPs of those widths (where
``HOST_LIMIT`` comes from).

Measured (cost20, load 5-7 on 2 shared cores; README's benchmark section has the rest):
``--fixed 4`` host 0.41 s CI [0.37, 0.47], compiled 1.92 s CI [1.64, 2.12] in the same
process, not met (load 4.3: 0.36 s CI [0.20, 0.44] against 1.70) (main before: 1.46 s CI [1.42, 1.50] at load 0.4-1.5); ``--designs 7``
plain 0.61 s, cond 1.88, callback 0.75, host 0.69; ``--rounds 15 --models mlp,deep30
--warmup 1100`` MLP default 15.6 % against compiled 3.4 %. cost22 (load 2.5-8, main and the
branch alternating): ``--fixed 4`` MLP 0.32-0.43 s on both (the first call's extra, the one
function's compile, 0.20-0.26 s of it); ``--fixed 4 --fixed-model deep30`` 0.47-0.70 s ->
0.40-0.50 s (the rest's extra 0.32-0.39 -> 0.13-0.15 s: packed callback arguments).

``--split N``: instead, where the per-step share of a long run goes (cost27): one N-call run
each of ``none`` and ``default+rec`` (``--fixed-model``), every call timed alone (CPU, waited
for), split into the first call (compile), the one function's calls between telemetry
steps (until the switch to the light function at ``HOST_ONLY_CALLS``), the light calls after
it, the telemetry steps (the budget's and the 32-sample floor's) and ``Recorder.log``; each
part's extra over the plain call's median as a share of the plain run's steps.

``--outside N``: instead, the time of one ``telemetry(...)`` call made outside ``jit`` (the
MLP's gradients, parameters, updates, loss, activations, logits, labels and inputs; with and
without ``step=``), the median of N calls after one warm-up call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

# One XLA CPU thread (like the torch benchmark's --threads 1): less noise on a shared
# machine. Set XLA_FLAGS yourself to measure something else.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from _timing import clock, difference, exit_status, load, overhead, since, verdict_line  # noqa: E402  (benchmarks/_timing.py)

from traindx.adapters.jax import Recorder, telemetry, telemetry_jit  # noqa: E402

CONFIGS = ("none", "default", "default+rec", "compiled", "compiled+rec", "jit/10", "cond/10", "every=1")
BUDGET = {"default": 2.0, "default+rec": 2.0}  # % of the step time at the default cadence


def digits(batch: int) -> list[tuple[jax.Array, jax.Array]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    n = len(x) // batch
    return [(jnp.asarray(x[i * batch : (i + 1) * batch]), jnp.asarray(y[i * batch : (i + 1) * batch], jnp.int32))
            for i in range(n)]  # fmt: skip


def dense(key: jax.Array, n_in: int, n_out: int) -> dict[str, jax.Array]:
    return {"kernel": jax.random.normal(key, (n_in, n_out)) * jnp.sqrt(2.0 / n_in), "bias": jnp.zeros(n_out)}


def make_mlp(key: jax.Array, widths=(64, 256, 256, 10)):
    keys = jax.random.split(key, len(widths) - 1)
    params = {f"Dense_{i}": dense(k, a, b) for i, (k, a, b) in enumerate(zip(keys, widths[:-1], widths[1:], strict=True))}
    n = len(widths) - 1

    def apply(p, x):
        acts = {}
        h = x
        for i in range(n):
            h = h @ p[f"Dense_{i}"]["kernel"] + p[f"Dense_{i}"]["bias"]
            if i < n - 1:
                h = jax.nn.relu(h)
                acts[f"relu_{i}"] = h
        return h, acts

    return params, apply


def make_cnn(key: jax.Array):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    params = {
        "Conv_0": {"kernel": jax.random.normal(k1, (3, 3, 1, 16)) * jnp.sqrt(2 / 9), "bias": jnp.zeros(16)},
        "Conv_1": {"kernel": jax.random.normal(k2, (3, 3, 16, 32)) * jnp.sqrt(2 / 144), "bias": jnp.zeros(32)},
        "Dense_0": dense(k3, 4 * 4 * 32, 64),
        "Dense_1": dense(k4, 64, 10),
    }
    dn = ("NHWC", "HWIO", "NHWC")

    def apply(p, x):
        h = x.reshape(-1, 8, 8, 1)
        h = jax.nn.relu(jax.lax.conv_general_dilated(h, p["Conv_0"]["kernel"], (1, 1), "SAME", dimension_numbers=dn) + p["Conv_0"]["bias"])
        a0 = h
        h = jax.nn.relu(jax.lax.conv_general_dilated(h, p["Conv_1"]["kernel"], (1, 1), "SAME", dimension_numbers=dn) + p["Conv_1"]["bias"])
        a1 = h
        h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID").reshape(h.shape[0], -1)
        h = jax.nn.relu(h @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
        return h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"], {"relu_conv0": a0, "relu_conv1": a1, "relu_dense0": h}

    return params, apply


MODELS = {
    "mlp": (lambda k: make_mlp(k), 64),
    "cnn": (make_cnn, 64),
    "deep30": (lambda k: make_mlp(k, (64,) + (16,) * 30 + (10,)), 16),
}


class Job:
    def __init__(self, model: str, config: str, logdir: str) -> None:
        make, self.batch = MODELS[model]
        params, apply = make(jax.random.PRNGKey(0))
        tx = optax.adam(1e-3)
        self.params, self.opt_state = params, tx.init(params)

        def loss_fn(p, x, y):
            z, acts = apply(p, x)
            return optax.softmax_cross_entropy_with_integer_labels(z, y).mean(), (z, acts)

        def step(p, s, x, y, i):
            (loss, (z, acts)), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
            u, s = tx.update(g, s, p)
            new = optax.apply_updates(p, u)
            if config == "none":
                return new, s, loss
            kw = {"step": i} if config == "cond/10" else {}
            st = telemetry(grads=g, params=p, updates=u, loss=loss, activations=acts, logits=z, labels=y, inputs=x, **kw)
            return new, s, st

        if config.startswith("default"):
            self.step = telemetry_jit(step)
        elif config.startswith("compiled"):
            self.step = telemetry_jit(step, host=False)
        elif config == "jit/10":
            self.step = telemetry_jit(step, every=10)
        else:
            self.step = jax.jit(step)
        self.rec = None
        if config.endswith("rec"):
            self.rec = Recorder(logdir, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels")
        self.i = 0

    def run(self, steps: int, batches: list[tuple[jax.Array, jax.Array]]) -> tuple[float, float]:
        """Wall and CPU (every thread of the process) seconds per step."""
        p, s, rec, step = self.params, self.opt_state, self.rec, self.step
        t0 = clock()
        for _ in range(steps):
            x, y = batches[self.i % len(batches)]
            p, s, out = step(p, s, x, y, self.i)
            if rec is not None:
                rec.log(self.i, out)
            self.i += 1
        jax.block_until_ready(p)
        wall, cpu = since(t0)
        self.params, self.opt_state = p, s
        return wall / steps, cpu / steps


def outside_jit(n: int) -> None:
    """Median time of a ``telemetry(...)`` call outside ``jit`` (with and without ``step=``)."""
    params, apply = make_mlp(jax.random.PRNGKey(0))
    x, y = digits(64)[0]

    def loss_fn(p):
        logits, acts = apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), (logits, acts)

    (loss, (logits, acts)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates = jax.tree.map(lambda g: -1e-3 * g, grads)
    for kw in ({}, {"step": 0}, {"step": 3}):
        def call(kw: dict = kw) -> None:
            telemetry(grads=grads, params=params, updates=updates, loss=loss, activations=acts,
                      logits=logits, labels=y, inputs=x, **kw).values.block_until_ready()  # fmt: skip

        call()  # warm-up (compiles where telemetry jits itself)
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            call()
            ts.append(time.perf_counter() - t)
        print(f"telemetry outside jit {str(kw) or '{}':12} {1e3 * statistics.median(ts):9.2f} ms/call "
              f"(median of {n})")  # fmt: skip


FIXED_BUDGET = 0.2  # s of CPU a short run may pay for telemetry and the Recorder (issue 15)


def fixed_cost(repeats: int, steps: int = 400, model: str = "mlp") -> None:
    """What the adapter costs a short run: a ``steps``-step MLP loop on digits (batch 64)
    from scratch (jitting and compiling the step included), plain (``none``) against the
    default cadence with the Recorder (``default+rec``: ``telemetry_jit`` compiles the light
    and the full step, ``Recorder(...)``, ``log`` every step, ``close()`` and ``diagnose()``),
    fresh functions each time, alternating (A, B then B, A), CPU seconds of every thread.
    The paired difference gets its median, quartiles, 95 % bootstrap interval and a verdict
    against the 0.2 s budget; the Recorder's own set-up, close and diagnosis are timed apart.
    The first pair is left out (it imports traindx's diagnosis path)."""
    warnings.simplefilter("error", RuntimeWarning)
    load0 = load()
    batches = digits(MODELS[model][1])
    arms = ("none", "default+rec", "compiled+rec")
    runs: dict[str, list[float]] = {c: [] for c in arms}
    parts: dict[str, list[float]] = {"Recorder(...)": [], "close()": [], "diagnose()": []}
    first: dict[str, list[float]] = {c: [] for c in arms}  # the first call: trace and compile
    for r in range(repeats + 1):
        for c in arms if r % 2 == 0 else arms[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.process_time()
                job = Job(model, c, tmp)
                t1 = time.process_time()
                job.run(1, batches)
                if r:
                    first[c].append(time.process_time() - t1)
                job.run(steps - 1, batches)
                t2 = time.process_time()
                if job.rec is not None and c == "default+rec":
                    job.rec.close()
                    t3 = time.process_time()
                    assert job.rec.diagnose() is not None  # a recorder that turned itself off warned: an error here
                    t4 = time.process_time()
                    if r:
                        parts["close()"].append(t3 - t2)
                        parts["diagnose()"].append(t4 - t3)
                        parts["Recorder(...)"].append(t1 - t0)  # with the model's init, as in none
                elif job.rec is not None:
                    job.rec.close()
                    assert job.rec.diagnose() is not None
                if r:
                    runs[c].append(time.process_time() - t0)
    print(f"jax {jax.__version__}: a {steps}-step {model} loop on digits (batch {MODELS[model][1]}, optax Adam, jit and compile included), "
          f"1 + {repeats} pairs, CPU seconds; {load0} at the start, {load()} at the end")  # fmt: skip
    print(f"  run without the adapter {statistics.median(runs['none']):.3f} s (median), with it "
          f"{statistics.median(runs['default+rec']):.3f} (host statistics, the default here), with the compiled "
          f"design {statistics.median(runs['compiled+rec']):.3f}")  # fmt: skip
    for k, v in parts.items():
        print(f"  {k:22} {statistics.median(v):.3f} s (median; Recorder(...) includes making the parameters)")
    rest = {c: [a - f for a, f in zip(runs[c], first[c], strict=True)] for c in arms}
    print(f"  first call (trace, compile, run): none {statistics.median(first['none']):.3f} s, with the adapter "
          f"{statistics.median(first['default+rec']):.3f} (paired extra {difference(first['none'], first['default+rec'])!s}); "
          f"the rest's extra (the other {steps - 1} steps, Recorder(...), close(), diagnose()) "
          f"{difference(rest['none'], rest['default+rec'])!s}")  # fmt: skip
    extra = difference(runs["none"], runs["default+rec"], FIXED_BUDGET)
    comp = difference(runs["none"], runs["compiled+rec"], FIXED_BUDGET)
    print(f"  extra with the adapter: {extra!s} (median [quartiles] CI [95 % bootstrap interval])")
    print(f"  extra with the compiled design (telemetry_jit(host=False)): {comp!s}")
    verdicts = [verdict_line("fixed cost, whole 400-step run", FIXED_BUDGET, extra)]
    print("\n".join(verdicts))
    sys.exit(exit_status(verdicts))


def parts(repeats: int, steps: int = 400, model: str = "mlp") -> None:
    """Where ``--fixed``'s extra goes, each part paired against the plain step in one process
    (CPU seconds, median of ``repeats`` alternating rounds, the paired difference with its
    quartiles and 95 % bootstrap interval):

    * compile (caches cleared before each): the plain step, ``telemetry_jit``'s light
      function (loss and non-finite inputs: what a long run switches to) and its one
      host-design function (the step, the ``lax.cond`` and the callback the statistics'
      arrays cross in);
    * the ``steps - 1`` steps after the first call: the one function never at a telemetry
      step (``one(no)``: what its operands cost every step), the default cadence
      (telemetry steps, their numpy and the cadence's timing), and with the Recorder
      (``log`` every step, ``close()``, ``diagnose()``); the host statistics' own time
      (numpy in the callback) and the number of telemetry steps are counted apart."""
    from traindx.adapters._jax_stats import host as host_mod

    warnings.simplefilter("error", RuntimeWarning)
    load0 = load()
    batches = digits(MODELS[model][1])
    x, y = batches[0]
    spent = [0.0, 0]  # the host statistics' CPU seconds and calls (the callback timed)
    callback = host_mod.jax.pure_callback

    def timed_callback(fn, shape, *args, **kw):  # type: ignore[no-untyped-def]
        def run(*a):  # type: ignore[no-untyped-def]
            t = time.process_time()
            try:
                return fn(*a)
            finally:
                spent[0] += time.process_time() - t
                spent[1] += 1

        return callback(run, shape, *args, **kw)

    host_mod.jax.pure_callback = timed_callback
    comp: dict[str, list[float]] = {"none": [], "light": [], "one": []}
    arms = ("none", "one(no)", "default", "default+rec")
    rest: dict[str, list[float]] = {a: [] for a in arms}
    host_s: list[float] = []
    taken: list[int] = []
    for r in range(repeats + 1):
        none, tel = Job(model, "none", ""), Job(model, "default", "")
        tj = tel.step
        tj._choose((tel.params, tel.opt_state, x, y, 0), {})
        for k in comp if r % 2 == 0 else list(comp)[::-1]:
            jax.clear_caches()
            if k == "none":
                lo = none.step.lower(none.params, none.opt_state, x, y, 0)
            elif k == "light":
                lo = tj.light.lower(tel.params, tel.opt_state, x, y, 0)
            else:
                lo = tj.one.lower(jnp.asarray(False), tel.params, tel.opt_state, x, y, 0)
            t0 = time.process_time()
            lo.compile()
            if r:
                comp[k].append(time.process_time() - t0)
        for a in arms if r % 2 == 0 else arms[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                job = Job(model, "default+rec" if a == "default+rec" else ("none" if a == "none" else "default"), tmp)
                job.run(1, batches)
                if a == "one(no)":
                    no = job.step._pick[0]
                    job.step = lambda p, s, x, y, i, no=no: no(p, s, x, y, i)
                spent[:] = [0.0, 0]
                t0 = time.process_time()
                job.run(steps - 1, batches)
                if job.rec is not None:
                    job.rec.close()
                    assert job.rec.diagnose() is not None
                if r:
                    rest[a].append(time.process_time() - t0)
                    if a == "default":
                        host_s.append(spent[0])
                        taken.append(job.step.taken)
    host_mod.jax.pure_callback = callback
    print(f"jax {jax.__version__}: where the fixed cost of a {steps}-step {model} run goes (batch {MODELS[model][1]}), "
          f"1 + {repeats} rounds, CPU seconds, paired against the plain step; {load0} at the start, {load()} at the end")  # fmt: skip
    print(f"  compile: plain {statistics.median(comp['none']):.3f} s; light function "
          f"{difference(comp['none'], comp['light'])!s} more; one function (host design) "
          f"{difference(comp['none'], comp['one'])!s} more")  # fmt: skip
    print(f"  the other {steps - 1} steps: plain {statistics.median(rest['none']):.3f} s; extra:")
    for a in arms[1:]:
        print(f"    {a:12} {difference(rest['none'], rest[a])!s}")
    print(f"  default: {statistics.median(taken):.0f} telemetry steps in the run (the first call's one included), "
          f"the host statistics of those after it"
          f" (numpy in the callback) {statistics.median(host_s):.3f} s in all")  # fmt: skip


def operands(repeats: int, model: str = "mlp") -> None:
    """Why the host design's one function compiles longer than the plain step (CPU seconds,
    median of ``repeats`` compiles, caches cleared, variants alternating): the step with a
    ``lax.cond`` whose true branch hands some of the statistics' arrays to a trivial
    ``jax.pure_callback`` (``cb1``: one element of the gradients; ``grads``, ``params``,
    ``updates``, ``batch``: activations, logits, labels, inputs; ``all``: every array, as
    leaves or concatenated inside or outside the cond). Then the fast XLA options (LLVM
    level 0, loop emitters) on the training step: compile time and whether 20 Adam steps
    give the default-compiled step's parameters; and a fast-compiled probe (forward,
    backward, the optimizer's updates, the arrays returned as one buffer): trace and lower,
    compile, one call with its fetch."""
    make, batch = MODELS[model]
    params, apply = make(jax.random.PRNGKey(0))
    tx = optax.adam(1e-3)
    s0 = tx.init(params)
    batches = digits(batch)
    x0, y0 = batches[0]
    shape = jax.ShapeDtypeStruct((8,), jnp.float32)
    fast = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}

    def host(*a: object) -> np.ndarray:
        return np.zeros((8,), np.float32)

    def core(p, s, x, y):  # type: ignore[no-untyped-def]
        def lf(p):  # type: ignore[no-untyped-def]
            z, acts = apply(p, x)
            return optax.softmax_cross_entropy_with_integer_labels(z, y).mean(), (z, acts)

        (loss, (z, acts)), g = jax.value_and_grad(lf, has_aux=True)(p)
        u, s2 = tx.update(g, s, p)
        return optax.apply_updates(p, u), s2, loss, {"grads": g, "params": p, "updates": u, "batch": (acts, z, y, x)}

    def variant(v: str):  # type: ignore[no-untyped-def]
        def step(flag, p, s, x, y):  # type: ignore[no-untyped-def]
            new, s2, loss, ops = core(p, s, x, y)
            if v == "plain":
                return new, s2, loss
            leaves = jax.tree.leaves(ops if v.startswith("all") or v == "cb1" else ops[v])
            f32 = [jnp.reshape(a, (-1,)) for a in leaves if a.dtype == jnp.float32]
            nan = lambda _: jnp.full((8,), jnp.nan)  # noqa: E731
            if v == "cb1":
                out = jax.lax.cond(flag, lambda xs: jax.pure_callback(host, shape, xs[0][:1]), nan, f32)
            elif v == "all/outside":
                out = jax.lax.cond(flag, lambda b: jax.pure_callback(host, shape, b), nan, jnp.concatenate(f32))
            elif v == "all/concat":
                out = jax.lax.cond(flag, lambda xs: jax.pure_callback(host, shape, jnp.concatenate(xs)), nan, f32)
            else:
                out = jax.lax.cond(flag, lambda xs: jax.pure_callback(host, shape, *xs), nan, leaves)
            return new, s2, loss, out

        return jax.jit(step).lower(jnp.asarray(False), params, s0, x0, y0)

    names = ("plain", "cb1", "grads", "params", "updates", "batch", "all", "all/concat", "all/outside")
    got: dict[str, list[float]] = {v: [] for v in names}
    for r in range(repeats):
        for v in names if r % 2 == 0 else names[::-1]:
            jax.clear_caches()
            lowered = variant(v)
            t0 = time.process_time()
            lowered.compile()
            got[v].append(time.process_time() - t0)
    print(f"jax {jax.__version__}: compile of the {model} step with a lax.cond handing arrays to a callback, "
          f"CPU seconds, median of {repeats}; {load()}")  # fmt: skip
    for v in names:
        extra = "" if v == "plain" else f" (+{statistics.median(got[v]) - statistics.median(got['plain']):.3f})"
        print(f"  {v:12} {statistics.median(got[v]):.3f} s{extra}")

    def train(compiled) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
        p, s = params, s0
        for i in range(20):
            p, s, _ = compiled(jnp.asarray(False), p, s, *batches[i])
        return [np.asarray(a) for a in jax.tree.leaves(p)]

    jax.clear_caches()
    ref = train(variant("plain").compile())
    for label, opts in (("level 0", {"xla_backend_optimization_level": 0}), ("level 0 + loop emitters", fast)):
        jax.clear_caches()
        lowered = variant("plain")
        t0 = time.process_time()
        compiled = lowered.compile(compiler_options=opts)
        t1 = time.process_time()
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, train(compiled), strict=True))
        print(f"  training step compiled with {label}: {t1 - t0:.3f} s; parameters after 20 Adam steps differ "
              f"from the default compile's by at most {diff:.2e}")  # fmt: skip

    def probe(p, s, x, y):  # type: ignore[no-untyped-def]
        _, _, loss, ops = core(p, s, x, y)
        leaves = [a for a in jax.tree.leaves(ops) if a.dtype == jnp.float32]
        return jnp.concatenate([jnp.reshape(a, (-1,)) for a in leaves]), loss

    for label, opts in (("fast", fast), ("default", None)):
        jax.clear_caches()
        t0 = time.process_time()
        lowered = jax.jit(probe).lower(params, s0, x0, y0)
        t1 = time.process_time()
        compiled = lowered.compile(compiler_options=opts) if opts else lowered.compile()
        t2 = time.process_time()
        ts = []
        for _ in range(5):
            t = time.process_time()
            for _ in range(20):
                np.asarray(compiled(params, s0, x0, y0)[0])
            ts.append((time.process_time() - t) / 20)
        print(f"  probe compiled {label:7}: trace and lower {t1 - t0:.3f} s, compile {t2 - t1:.3f} s, "
              f"a call and its fetch {1e3 * statistics.median(ts):.3f} ms")  # fmt: skip


def compile_cost(repeats: int) -> None:
    """Where the fixed cost goes: XLA compile (CPU seconds, median of ``repeats`` compiles,
    caches cleared before each) of each model's step plain (``none``), and of the two
    functions ``telemetry_jit`` compiles at the default cadence: ``light`` (loss and
    non-finite inputs) and ``full`` (every statistic)."""
    print(f"jax {jax.__version__}: XLA compile of the step, CPU seconds (median of {repeats}); {load()} at the start")
    for name in MODELS:
        x, y = digits(MODELS[name][1])[0]
        none, tel = Job(name, "none", ""), Job(name, "default", "")
        got = {}
        for label, fn, job in (("none", none.step, none), ("light", tel.step.light, tel), ("full", tel.step.full, tel)):
            ts = []
            for _ in range(repeats):
                jax.clear_caches()
                lowered = fn.lower(job.params, job.opt_state, x, y, 0)
                t0 = time.process_time()
                lowered.compile()
                ts.append(time.process_time() - t0)
            got[label] = statistics.median(ts)
        extra = got["light"] + got["full"] - got["none"]
        print(f"  {name:7} none {got['none']:.3f}  light {got['light']:.3f}  full {got['full']:.3f}  "
              f"extra (light + full - none) {extra:.3f}")  # fmt: skip
    print(f"  {load()} at the end")


def designs(repeats: int) -> None:
    """What one compile of the step would cost in other designs (the MLP, telemetry every 10
    steps, CPU seconds): ``plain``; ``cond`` (``telemetry(..., step=i)``: the statistics
    under ``lax.cond`` in the one function); ``callback`` (a prototype, not the adapter:
    under ``lax.cond`` a ``jax.debug.callback`` hands the gradients, parameters, updates,
    activations, logits, labels and inputs to a numpy function on the host, a rough
    stand-in for the statistics); ``host`` (``telemetry_jit``'s host design, the adapter's
    default for small models: the same, with every statistic computed by numpy).
    Compile time of one function, then the median of ``repeats`` blocks of 100 steps."""
    params, apply = make_mlp(jax.random.PRNGKey(0))
    tx = optax.adam(1e-3)
    s0 = tx.init(params)
    batches = digits(64)

    def host(*ops: object) -> None:
        g, p, u, acts, z, y = (jax.tree.map(np.asarray, o) for o in ops[:6])
        [float(np.sqrt(np.sum(np.square(a)))) for a in jax.tree.leaves((g, p, u))]
        for a in jax.tree.leaves(acts):
            [a.mean(), a.std(), (a == 0).mean(), a.min(), a.max()]
        [z.min(), z.max(), (z.argmax(-1) == y).mean()]

    def make(design: str):
        def loss_fn(p, x, y):
            z, acts = apply(p, x)
            return optax.softmax_cross_entropy_with_integer_labels(z, y).mean(), (z, acts)

        def step(p, s, x, y, i):
            (loss, (z, acts)), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
            u, s = tx.update(g, s, p)
            new = optax.apply_updates(p, u)
            if design == "host":
                return new, s, telemetry(grads=g, params=p, updates=u, loss=loss, activations=acts, logits=z,
                                         labels=y, inputs=x)  # fmt: skip
            if design == "cond":
                return new, s, telemetry(grads=g, params=p, updates=u, loss=loss, activations=acts, logits=z,
                                         labels=y, inputs=x, step=i)  # fmt: skip
            if design == "callback":
                jax.lax.cond(i % 10 == 0, lambda ops: jax.debug.callback(host, *ops), lambda ops: None,
                             (g, p, u, acts, z, y, x))  # fmt: skip
            return new, s, loss

        if design == "host":  # the adapter's one function, lowered with its flag
            tj = telemetry_jit(step, every=10, host=True)
            tj._choose((params, s0, *batches[0], 0), {})
            return tj.one.lower(jnp.asarray(False), params, s0, *batches[0], 0)
        return jax.jit(step)

    print(f"jax {jax.__version__}: one compile of the MLP step per design, telemetry every 10 steps; {load()}")
    for design in ("plain", "cond", "callback", "host"):
        x, y = batches[0]
        if design == "host":
            lowered = make(design)
            t0 = time.process_time()
            compiled = lowered.compile()
            t1 = time.process_time()
            flags = [jnp.asarray(False), jnp.asarray(True)]

            def f(p, s, x, y, i, compiled=compiled, flags=flags):
                return compiled(flags[int(i % 10 == 0)], p, s, x, y, i)
        else:
            t0 = time.process_time()
            f = make(design).lower(params, s0, x, y, 0).compile()
            t1 = time.process_time()
        p, s = params, s0
        ts = []
        for r in range(repeats + 1):
            t = time.process_time()
            for i in range(100):
                x, y = batches[i % len(batches)]
                p, s, _ = f(p, s, x, y, i)
            jax.block_until_ready(p)
            if r:
                ts.append((time.process_time() - t) / 100)
        print(f"  {design:9} compile {t1 - t0:.3f} s, step {1e3 * statistics.median(ts):.3f} ms (median of {repeats})")
    print(f"  {load()} at the end")


def sizes(widths: list[int]) -> None:
    """Where ``HOST_LIMIT`` comes from: MLPs 64-h-h-10 of growing width h, each step jitted
    with ``telemetry_jit`` in both designs (host, compiled): the first two calls' CPU time
    (trace and compile), the light call and the telemetry step's extra (CPU ms, median of
    5 blocks), and the break-even: how many telemetry steps the host design's dearer ones
    take to spend the compile it saves."""
    b = digits(64)
    print(f"jax {jax.__version__}: host vs compiled statistics by MLP width; {load()}")
    for h in widths:
        params, apply = make_mlp(jax.random.PRNGKey(0), (64, h, h, 10))
        tx = optax.adam(1e-3)
        s0 = tx.init(params)
        nbytes = sum(x.nbytes for x in jax.tree.leaves((params, s0, b[0])))

        def step(p, s, x, y, apply=apply, tx=tx):
            def lf(p):
                z, acts = apply(p, x)
                return optax.softmax_cross_entropy_with_integer_labels(z, y).mean(), (z, acts)

            (loss, (z, acts)), g = jax.value_and_grad(lf, has_aux=True)(p)
            u, s = tx.update(g, s, p)
            return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, activations=acts,
                                                           logits=z, labels=y, inputs=x)  # fmt: skip

        res = {}
        for host in (True, False):
            jax.clear_caches()
            tj = telemetry_jit(step, every=1_000_000, host=host)
            x, y = b[0]
            t0 = time.process_time()
            jax.block_until_ready(tj(params, s0, x, y))
            jax.block_until_ready(tj(params, s0, x, y))
            first = time.process_time() - t0
            light, full = tj._pick  # (light, telemetry) calls

            def per(fn, n, a=(params, s0, x, y)):
                ts = []
                for _ in range(5):
                    jax.block_until_ready(fn(*a))
                    t = time.process_time()
                    for _ in range(n):
                        o = fn(*a)
                    jax.block_until_ready(o)
                    ts.append((time.process_time() - t) / n)
                return statistics.median(ts)

            res[host] = (first, per(light, 20), per(full, 10))
        (ch, lh, fh), (cc, lc, fc) = res[True], res[False]
        extra = (fh - lh) - (fc - lc)
        print(f"  h={h:5} {sum(x.size for x in jax.tree.leaves(params)):9d} parameters, {nbytes / 2**20:6.2f} MiB of "
              f"arguments: first calls host {ch:.2f} s, compiled {cc:.2f} s; light {1e3 * lh:.2f} / {1e3 * lc:.2f} ms; "
              f"telemetry extra {1e3 * (fh - lh):.2f} / {1e3 * (fc - lc):.2f} ms; break-even "
              f"{(cc - ch) / max(extra, 1e-9):.0f} telemetry steps")  # fmt: skip
    print(f"  {load()} at the end")


def background(repeats: int, steps: int = 400, model: str = "mlp") -> None:
    """Whether the host design's one-function compile can leave the critical path (cost24):
    ``plain`` (``jax.jit`` of the step), ``host`` (``telemetry_jit`` as it is: the one function
    compiled at the first call) and ``bg`` (the light function compiled and run from the first
    call while a daemon thread lowers and compiles the one function, ``jit(...).lower(...)
    .compile()``), fresh functions and cleared caches each run, alternating, in one process:
    wall and CPU seconds of the ``steps``-step run (no Recorder: its costs are the same in
    every arm), when the one function is ready against when the steps end (telemetry steps
    are possible only after), the first ``jax.jit`` call of the one function after the
    thread's compile (whether switching compiles again), and the GIL: a Python loop's rate
    on the main thread while another thread compiles, against alone."""
    import threading

    from traindx.adapters._jax_optax import HOST_ONLY_CALLS

    load0 = load()
    batches = digits(MODELS[model][1])
    from traindx.adapters import _jax_optax

    class Sync:  # before cost24: the light function compiled by its first call, on the main thread
        def __init__(self, *a: object) -> None:
            self.done, self.ok = threading.Event(), False
            self.done.set()

    threaded = _jax_optax.Compile
    arms = ("plain", "host", "bg") + (("host-sync",) if steps > HOST_ONLY_CALLS else ())
    wall: dict[str, list[float]] = {c: [] for c in arms}
    cpu: dict[str, list[float]] = {c: [] for c in arms}
    late, switch, gil, calls_after = [], [], [], []
    stalls: dict[str, list[float]] = {}

    def spin(secs: float) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < secs:
            n += 1
        return n / secs

    for r in range(repeats + 1):
        for c in arms if r % 2 == 0 else arms[::-1]:
            jax.clear_caches()
            _jax_optax.Compile = Sync if c == "host-sync" else threaded  # type: ignore[misc]
            job = Job(model, "none" if c == "plain" else "default", "")
            p, s, i = job.params, job.opt_state, 0
            w0, c0 = time.perf_counter(), time.process_time()
            step, ready, done_at, stall = job.step, {}, -1, 0.0
            if c == "bg":
                tj = job.step
                x, y = batches[0]
                tj._choose((p, s, x, y, 0), {})
                args0 = (tj._yes, p, s, x, y, 0)

                def compile_one(tj=tj, args0=args0, ready=ready) -> None:
                    ready["exe"] = tj.one.lower(*args0).compile()
                    ready["t"] = time.perf_counter()

                threading.Thread(target=compile_one, daemon=True).start()
                step = tj.light
            for i in range(steps):
                x, y = batches[i % len(batches)]
                t = time.perf_counter()
                p, s, _ = step(p, s, x, y, i)
                if c.startswith("host") and i >= HOST_ONLY_CALLS and r:  # the light function's compile, mid-run
                    stall = max(stall, time.perf_counter() - t)
                if done_at < 0 and "t" in ready:
                    done_at = i
            jax.block_until_ready(p)
            end = time.perf_counter()
            w, u = end - w0, time.process_time() - c0
            if c == "bg":
                while "t" not in ready:
                    time.sleep(0.001)
                t = time.perf_counter()
                jax.block_until_ready(tj.one(*args0))
                if r:
                    switch.append(time.perf_counter() - t)
                    late.append(ready["t"] - end)
                    calls_after.append(steps - done_at if done_at >= 0 else 0)
            _jax_optax.Compile = threaded  # type: ignore[misc]
            if r:
                wall[c].append(w)
                cpu[c].append(u)
                if c.startswith("host") and steps > HOST_ONLY_CALLS:
                    stalls.setdefault(c, []).append(stall)
        alone = spin(0.2)
        jax.clear_caches()
        job = Job(model, "default", "")
        tj = job.step
        x, y = batches[0]
        tj._choose((job.params, job.opt_state, x, y, 0), {})
        lowered = tj.one.lower(tj._yes, job.params, job.opt_state, x, y, 0)
        th = threading.Thread(target=lowered.compile, daemon=True)
        th.start()
        during = spin(0.2)
        th.join()
        if r:
            gil.append(during / alone)
    print(f"jax {jax.__version__}: a {steps}-step {model} loop, plain / telemetry_jit as it is / the one function "
          f"compiled in a background thread; 1 + {repeats} rounds; {load0} at the start, {load()} at the end; "
          f"{len(os.sched_getaffinity(0))} cores allowed")  # fmt: skip
    for c in arms:
        print(f"  {c:6} wall {statistics.median(wall[c]):.3f} s, CPU {statistics.median(cpu[c]):.3f} s (medians)")
    for c in arms[1:]:
        print(f"  {c} - plain: wall {difference(wall['plain'], wall[c])!s}, CPU {difference(cpu['plain'], cpu[c])!s}")
    print(f"  bg - host: wall {difference(wall['host'], wall['bg'])!s}, CPU {difference(cpu['host'], cpu['bg'])!s}")
    print(f"  bg: the one function ready {statistics.median(late):+.3f} s after the steps end "
          f"(min {min(late):+.3f}, max {max(late):+.3f}); calls left after it was ready: "
          f"median {statistics.median(calls_after)} of {steps}; its first jax.jit call after the thread's compile "
          f"{1e3 * statistics.median(switch):.1f} ms (median)")  # fmt: skip
    if stalls:
        print(f"  host - host-sync (the light function compiled in a thread, cost24): wall "
              f"{difference(wall['host-sync'], wall['host'])!s}, CPU {difference(cpu['host-sync'], cpu['host'])!s}; "
              f"the longest call after call {HOST_ONLY_CALLS}: "
              + ", ".join(f"{c} {statistics.median(v):.3f} s" for c, v in stalls.items()))  # fmt: skip
    print(f"  GIL: a Python loop on the main thread while another thread compiles runs at "
          f"{statistics.median(gil):.2f} of its rate alone (median; min {min(gil):.2f}, max {max(gil):.2f})")  # fmt: skip


def split(steps: int, model: str = "mlp") -> None:
    """``--split``: see the module docstring. The two runs alternate call by call (the order
    reversed every call), each call waited for, which keeps JAX from running ahead: the parts
    are each call's own CPU (process time, so the light function's compile in its thread
    lands in the calls it overlaps: the tail column). A part's extra is its median call over
    the plain median, times its calls; the tail is what its calls add above their median."""
    warnings.simplefilter("error", RuntimeWarning)
    batches = digits(MODELS[model][1])
    load0 = load()
    configs = ("none", "default+rec")
    times: dict[str, list[float]] = {c: [] for c in configs}
    tel: list[bool] = []
    logs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {c: Job(model, c, f"{tmp}/{c}") for c in configs}
        state = {c: (jobs[c].params, jobs[c].opt_state) for c in configs}
        for i in range(steps):
            x, y = batches[i % len(batches)]
            for c in configs if i % 2 == 0 else configs[::-1]:
                step, rec = jobs[c].step, jobs[c].rec
                p, s = state[c]
                taken = getattr(step, "taken", 0)
                t = time.process_time()
                p, s, out = step(p, s, x, y, i)
                jax.block_until_ready((p, out))
                times[c].append(time.process_time() - t)
                state[c] = p, s
                if rec is not None:
                    tel.append(step.taken > taken)
                    t = time.process_time()
                    rec.log(i, out)
                    logs.append(time.process_time() - t)
        rec, tj = jobs["default+rec"].rec, jobs["default+rec"].step
        t = time.process_time()
        rec.close()
        close = time.process_time() - t
    plain = np.asarray(times["none"][1:])
    base = float(np.median(plain))
    run = float(plain.sum())
    on = np.asarray(times["default+rec"])
    is_tel = np.asarray(tel)
    idx = np.arange(steps)
    from traindx.adapters._jax_optax import HOST_ONLY_CALLS

    def part(mask: np.ndarray) -> str:
        v = on[mask]
        if not len(v):
            return "none"
        med = float(np.median(v))
        extra, tail = (med - base) * len(v), float((v - med).sum())
        return (f"{len(v)} x {1e3 * med:.3f} ms (median): extra {1e3 * extra:.0f} ms = {100 * extra / run:.1f} %, "
                f"tail {1e3 * tail:.0f} ms")  # fmt: skip

    lg = np.asarray(logs)
    big = lg > 10 * np.median(lg)
    print(f"jax {jax.__version__}, {model}, {steps} calls each of none and default+rec alternating, every call waited "
          f"for; {load0} at the start, {load()} at the end; the default cadence ended at every {tj.every}, "
          f"{tj.taken} telemetry steps")  # fmt: skip
    print(f"  plain: median call {1e3 * base:.3f} ms CPU, {steps - 1} calls {run:.2f} s (shares below are of this), "
          f"tail {1e3 * float((plain - base).sum()):.0f} ms")  # fmt: skip
    print(f"  first call (compile): {on[0]:.2f} s against the plain step's {times['none'][0]:.2f} s")
    print(f"  one function, not telemetry (calls 1..{HOST_ONLY_CALLS - 1}): "
          f"{part((idx > 0) & (idx < HOST_ONLY_CALLS) & ~is_tel)}")  # fmt: skip
    print(f"  light function, not telemetry: {part((idx >= HOST_ONLY_CALLS) & ~is_tel)}")
    print(f"  telemetry steps: {part((idx > 0) & is_tel)}")
    print(f"  Recorder.log: median {1e6 * float(np.median(lg)):.1f} us a step, {int((~big).sum())} steps "
          f"{1e3 * lg[~big].sum():.0f} ms = {100 * lg[~big].sum() / run:.1f} %; {int(big.sum())} fetching/writing "
          f"{1e3 * lg[big].sum():.0f} ms = {100 * lg[big].sum() / run:.1f} %; close {1e3 * close:.0f} ms")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--configs", default=",".join(CONFIGS), help="the copies compared (none first)")
    ap.add_argument("--warmup", type=int, default=0, help="steps each copy runs before the rounds (default: one block)")
    ap.add_argument("--outside", type=int, default=0, help="time N telemetry() calls outside jit instead")
    ap.add_argument("--fixed", type=int, default=0, help="instead: the fixed cost on N pairs of 400-step runs")
    ap.add_argument("--fixed-model", default="mlp", choices=list(MODELS), help="the model --fixed runs")
    ap.add_argument("--parts", type=int, default=0, help="instead: where the fixed cost goes, N rounds")
    ap.add_argument("--operands", type=int, default=0, help="instead: why the one function compiles longer, N")
    ap.add_argument("--compile", type=int, default=0, help="instead: XLA compile times, median of N")
    ap.add_argument("--designs", type=int, default=0, help="instead: one compile in other designs, N blocks")
    ap.add_argument("--sizes", default="", help="instead: host vs compiled design by MLP width (e.g. 256,1024,2048)")
    ap.add_argument("--background", type=int, default=0, help="instead: the one function compiled off the "
                    "critical path, N rounds")  # fmt: skip
    ap.add_argument("--background-steps", type=int, default=400, help="the steps of --background's runs")
    ap.add_argument("--split", type=int, default=0, help="instead: where a long run's per-step share goes, N calls")
    args = ap.parse_args()
    if args.split:
        split(args.split, args.fixed_model)
        return
    if args.background:
        background(args.background, args.background_steps, args.fixed_model)
        return
    if args.sizes:
        sizes([int(w) for w in args.sizes.split(",")])
        return
    if args.designs:
        designs(args.designs)
        return
    if args.compile:
        compile_cost(args.compile)
        return
    if args.operands:
        operands(args.operands, model=args.fixed_model)
        return
    if args.parts:
        parts(args.parts, model=args.fixed_model)
        return
    if args.fixed:
        fixed_cost(args.fixed, model=args.fixed_model)
        return
    if args.outside:
        outside_jit(args.outside)
        return
    warnings.simplefilter("error", RuntimeWarning)  # a recorder that turns itself off is a failure
    configs = tuple(c for c in args.configs.split(",") if c in CONFIGS and c != "none")
    configs = ("none", *configs)
    load0 = load()
    rows = []
    cadence = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            batches = digits(MODELS[name][1])
            jobs = {c: Job(name, c, f"{tmp}/{name}-{c}") for c in configs}
            for job in jobs.values():  # compile and warm up
                job.run(args.warmup or args.block, batches)
            times: dict[str, list[tuple[float, float]]] = {c: [] for c in configs}
            for r in range(args.rounds):
                order = configs if r % 2 == 0 else configs[::-1]
                for c in order:
                    times[c].append(jobs[c].run(args.block, batches))
            med = {c: statistics.median(w for w, _ in v) for c, v in times.items()}
            cpu = {c: [u for _, u in v] for c, v in times.items()}
            wall = {c: [w for w, _ in v] for c, v in times.items()}
            if "default" in jobs:
                tj = jobs["default"].step
                cadence.append((name, tj.every, tj.taken, tj.calls))
            for c in configs:
                if jobs[c].rec is not None:
                    jobs[c].rec.close()
                b = BUDGET.get(c)
                rows.append((name, MODELS[name][1], c, med["none"], med[c], overhead(cpu["none"], cpu[c], b),
                             overhead(wall["none"], wall[c], b)))  # fmt: skip
    tel = ", ".join(f"{m}: every {e}, {n} telemetry steps of {c} calls" for m, e, n, c in cadence)
    print(f"default cadence at the end ({tel})")
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {load0} at the start, {load()} at the end, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, {args.rounds} rounds x {args.block} steps")  # fmt: skip
    print("overhead: median [quartiles] CI [95 % bootstrap interval of the median] over rounds of the paired "
          "per-round ratio, CPU time (less disturbed by other load) and wall time")  # fmt: skip
    hdr = (f"{'model':8} {'batch':>5} {'config':12} {'ms/step none':>12} {'ms/step':>8} {'overhead (CPU)':>34} "
           f"{'overhead (wall)':>34}")  # fmt: skip
    print(hdr)
    print("-" * len(hdr))
    for name, batch, c, off, on, ovc, ovw in rows:
        print(f"{name:8} {batch:>5} {c:12} {1e3 * off:12.3f} {1e3 * on:8.3f} {ovc!s:>34} {ovw!s:>34}")
    verdicts = [verdict_line(f"{name} {c}", BUDGET[c], ovc, ovw) for name, _, c, _, _, ovc, ovw in rows if c in BUDGET]
    print("\n".join(verdicts))
    sys.exit(exit_status(verdicts))


if __name__ == "__main__":
    main()
