"""Overhead of the Keras DiagnosisCallback: ``model.fit`` epochs/s with and without it,
interleaved in one process.

Two models on 8x8 digits (batch 64, 28 steps per epoch): a small CNN and an MLP. Each runs
in four copies (same initial weights): no callback; the callback without a probe (logs,
learning rate, weights: ``logs only``); the callback at its default (adaptive) cadence with a
probe of 256 validation-like rows (``probe=(x[-256:], y[-256:])`` as in the usage example;
the callback uses its first ``probe_size`` = 128); and the callback with ``every=10`` (probe and per-layer telemetry every 10
steps, never adapted). Rounds of ``--epochs`` epochs alternate between the copies (the order
reversed every other round) for ``--rounds`` rounds. Two timer callbacks, one before and one after ours,
time every epoch (on_epoch_begin -> on_epoch_end: every batch, our batch hooks and our
epoch-end work; the one-off costs are reported apart). The table gives the median epoch time
of each copy and the overhead (median epoch time / median epoch time without the callback -
1); ``one-off`` is the callback's setup plus compiling its probe functions (once per run);
``diagnose`` the diagnosis at the end of training (once).

The machine these numbers come from may be shared: medians over rounds absorb some of the
noise, not all; rerun and compare the spread (the overhead columns give the quartiles).

Run: python benchmarks/overhead_keras.py [--backend tensorflow|jax|torch --rounds 25 --epochs 1 --threads 1];
``--fixed 7``: instead, the fixed cost of the callback on a 6-epoch fit (CPU seconds, paired
with fits without it, with a verdict against the 0.2 s budget).

``--long 6``: instead, the per-step share on long fits (6 rounds; ``--epochs 35 --batch 32``:
1,995-step fits), each a fresh model and callback per copy (``--configs``), the first epoch
(tracing, the probe's compile) left out, and the callback's own CPU split by kind of step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default="cnn,mlp")
    ap.add_argument("--fixed", type=int, default=0, help="instead: the fixed cost on N pairs of 6-epoch fits")
    ap.add_argument("--long", type=int, default=0, help="instead: the per-step share on N rounds of long fresh fits")
    ap.add_argument("--configs", default="none,default", help="the copies --long compares (none first)")
    return ap.parse_args()


ARGS = parse()
os.environ["KERAS_BACKEND"] = ARGS.backend
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if ARGS.backend == "jax" and ARGS.threads:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                               f"intra_op_parallelism_threads={ARGS.threads}").strip()  # fmt: skip

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import clock, difference, exit_status, load, overhead, since, summary, verdict_line  # noqa: E402  (benchmarks/_timing.py)

from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

L = keras.layers
CONFIGS = ("none", "logs only", "default", "every=10")
BUDGET = {"default": 5.0}  # % of the step time: the Keras cadence's budget (keras_cadence)


def set_threads(n: int) -> None:
    if ARGS.backend == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    elif ARGS.backend == "torch":
        import torch

        torch.set_num_threads(n)


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype("float32").reshape(-1, 8, 8, 1), y.astype("int64")


def cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((8, 8, 1)), L.Conv2D(16, 3, padding="same", activation="relu"),
        L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(64, activation="relu"), L.Dense(10),
    ])  # fmt: skip


def mlp() -> keras.Model:
    return keras.Sequential([
        keras.Input((8, 8, 1)), L.Flatten(), L.Dense(256, activation="relu"),
        L.Dense(256, activation="relu"), L.Dense(10),
    ])  # fmt: skip


MODELS = {"cnn": cnn, "mlp": mlp}


class EpochTimer(keras.callbacks.Callback):
    """Epoch wall time: ``start`` goes first in the callback list (its on_epoch_begin runs
    before ours), ``stop`` last (its on_epoch_end runs after ours)."""

    async_safe = True  # no batch hooks: Keras dispatches as it would without us

    def __init__(self, start: EpochTimer | None = None) -> None:
        super().__init__()
        self.start = start
        self.times: list[tuple[float, float]] = []  # (wall, CPU) seconds per epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.start is None:
            self.t0 = clock()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.start is not None:
            self.times.append(since(self.start.t0))


class Job:
    def __init__(self, make, config: str, logdir: str, x: np.ndarray, y: np.ndarray) -> None:
        keras.utils.set_random_seed(0)
        self.model = make()
        self.model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                           metrics=["accuracy"])  # fmt: skip
        self.x, self.y = x, y
        first = EpochTimer()
        self.timer = EpochTimer(start=first)
        self.cb = None
        if config != "none":
            probe = None if config == "logs only" else (x[-256:], y[-256:])
            every = 10 if config == "every=10" else None
            self.cb = DiagnosisCallback(logdir, probe=probe, every=every, diagnose=False)
        self.callbacks = [first] + ([self.cb] if self.cb is not None else []) + [self.timer]

    def run(self, epochs: int) -> list[tuple[float, float]]:
        n = len(self.timer.times)
        self.model.fit(self.x, self.y, epochs=epochs, batch_size=ARGS.batch, verbose=0, shuffle=True,
                       callbacks=self.callbacks)  # fmt: skip
        return self.timer.times[n:]


class Timed(DiagnosisCallback):
    """The callback with its hooks' CPU time summed (``cpu``): on_train_batch_end, which may
    run in Keras' worker thread beside the training, is left out (it appends one tuple)."""

    cpu = 0.0


def _timed(name: str):
    base = getattr(DiagnosisCallback, name)

    def hook(self: Timed, *a, **k):
        t = time.process_time()
        try:
            return base(self, *a, **k)
        finally:
            self.cpu += time.process_time() - t

    return hook


for _name in ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_epoch_end", "on_train_end", "on_test_end"):
    setattr(Timed, _name, _timed(_name))

FIXED_BUDGET = 0.2  # s of CPU a short run may pay for the callback (issue 15)


def fixed_cost(repeats: int, epochs: int = 6) -> None:
    """What the callback costs a short run: a ``epochs``-epoch fit of the MLP on digits
    (batch 32, validation_split 0.2) with and without ``DiagnosisCallback.from_arrays`` at
    its defaults (probe from the training arrays, the diagnosis at the end), fresh model
    each time, alternating (A, B, then B, A), in CPU seconds: the paired difference of the
    whole fit (everything the callback adds, with the noise of two fits) and the CPU time of
    the callback's own hooks (setup, telemetry, compiling its functions, the end of training
    with the diagnosis: less noisy, blind to what it makes Keras do differently), each with
    its median, quartiles, 95 % bootstrap interval and a verdict against the 0.2 s budget.
    The first pair is left out: the first fit with the callback in a process also imports
    traindx's diagnosis path and reads the rulebook from its cache (shown apart)."""
    warnings.simplefilter("error", RuntimeWarning)  # a callback that turns itself off is a failure
    load0 = load()
    x, y = digits()
    fit: dict[bool, list[float]] = {False: [], True: []}
    own: list[float] = []
    one_off: list[tuple[float, float, float]] = []  # wall: (total, on_train_begin, on_train_end)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats + 1):
            for on in (False, True) if r % 2 == 0 else (True, False):
                keras.utils.set_random_seed(0)
                model = mlp()
                model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                              metrics=["accuracy"])  # fmt: skip
                cbs = [Timed.from_arrays(x, y, logdir=f"{tmp}/{r}")] if on else []
                t = time.process_time()
                model.fit(x, y, epochs=epochs, batch_size=32, validation_split=0.2, verbose=0, callbacks=cbs)
                fit[on].append(time.process_time() - t)
                if on:
                    cb = cbs[0]
                    assert cb.diagnosis is not None and cb.enabled
                    own.append(cb.cpu)
                    one_off.append((cb._setup_s, cb._begin_s, cb._end_s))
                keras.backend.clear_session()
    print(f"keras {keras.__version__} ({ARGS.backend}): a {epochs}-epoch fit of the MLP on digits (batch 32, "
          f"validation_split 0.2), 1 + {repeats} pairs; {load0} at the start, {load()} at the end")  # fmt: skip
    print(f"  first pair: fit without {fit[False][0]:.3f} s CPU, with {fit[True][0]:.3f}; callback's hooks "
          f"{own[0]:.3f} s CPU")  # fmt: skip
    off = statistics.median(fit[False][1:])
    extra = difference(fit[False][1:], fit[True][1:], FIXED_BUDGET)
    hooks = summary(own[1:], FIXED_BUDGET, unit="s")
    tot, begin, end = (statistics.median(v[i] for v in one_off[1:]) for i in range(3))
    print(f"  later pairs: fit without the callback {off:.3f} s CPU (median); median [quartiles] CI [95 %]:")
    print(f"    extra CPU of the fit with it   {extra!s}")
    print(f"    CPU of the callback's hooks    {hooks!s}")
    print(f"    one-off wall (median): {tot:.3f} s: on_train_begin {begin:.3f}, first telemetry compiles "
          f"{tot - begin - end:.3f}, on_train_end (diagnosis) {end:.3f}")  # fmt: skip
    verdicts = [verdict_line("fixed cost, whole fit", FIXED_BUDGET, extra),
                verdict_line("fixed cost, callback's hooks", FIXED_BUDGET, hooks)]  # fmt: skip
    print("\n".join(verdicts))
    sys.exit(exit_status(verdicts))


class Split(DiagnosisCallback):
    """The callback with the CPU time of its hooks summed by kind of step, two ways:
    ``thread_time`` (the calling thread's own CPU: what the hook's Python and the host
    statistics cost; a wait for the device costs none) and ``process_time`` (every thread:
    TensorFlow's pool threads running its functions count, and on JAX the training's own
    device threads and Keras' callback worker, busy during the hook, too). The shares use
    thread time; ker39 found ``process_time`` put the JAX plain step's hook at 91-149 us
    under load where its own thread spends ~10 us."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        s, cad = self._epoch_base + batch, self._cad
        kind = ("telemetry" if s >= cad.next else "sample" if cad.planned is not None and cad.sample_due(s)
                else "update ratio" if self._snap is not None else "plain")  # fmt: skip
        t, p = time.thread_time(), time.process_time()
        super().on_train_batch_begin(batch, logs)
        self._add(kind, time.thread_time() - t, time.process_time() - p)

    def _add(self, kind: str, secs: float, proc: float) -> None:
        n, v, q = self.split.get(kind, (0, 0.0, 0.0))
        self.split[kind] = n + 1, v + secs, q + proc

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 1:  # the first epoch's hooks (the probe's compile) are the one-off
            self.split = {}
        super().on_epoch_begin(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        t, p = time.thread_time(), time.process_time()
        super().on_train_batch_end(batch, logs)
        self._add("batch end", time.thread_time() - t, time.process_time() - p)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        t, p = time.thread_time(), time.process_time()
        super().on_epoch_end(epoch, logs)
        self._add("epoch end", time.thread_time() - t, time.process_time() - p)


def long_fits(rounds: int) -> None:
    """Per step on long fits: each round builds a fresh model (same initial weights) and, but
    for ``none``, a fresh callback at its defaults (probe: 256 validation-like rows) per copy,
    and fits ``--epochs`` epochs at ``--batch``; copies alternate, the order reversed every
    other round. A round's value is the CPU time of epochs 2..E (epoch 1 traces the train
    function and compiles the probe: the one-off, shown apart), the overhead the per-round
    paired ratio: the mean cost per step, where the median epoch of short rounds missed the
    epochs that hold a telemetry step. The callback's own CPU is split by kind of step over
    every round's epochs 2..E (a share of the plain copy's CPU of the same epochs)."""
    warnings.simplefilter("error", RuntimeWarning)
    configs = ARGS.configs.split(",")
    load0 = load()
    x, y = digits()
    steps = int(np.ceil(len(x) / ARGS.batch))
    verdicts, lines = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ARGS.models.split(","):
            cpu: dict[str, list[float]] = {c: [] for c in configs}
            wall: dict[str, list[float]] = {c: [] for c in configs}
            first: dict[str, list[float]] = {c: [] for c in configs}
            split: dict[str, dict[str, tuple[int, float, float]]] = {c: {} for c in configs}
            every: dict[str, list[int]] = {c: [] for c in configs}
            for r in range(rounds):
                for c in configs if r % 2 == 0 else configs[::-1]:
                    job = Job(MODELS[name], "none", f"{tmp}/{name}-{c}-{r}", x, y)
                    if c != "none":
                        probe = None if c == "logs only" else (x[-256:], y[-256:])
                        job.cb = Split(f"{tmp}/{name}-{c}-{r}", probe=probe, every=10 if c == "every=10" else None,
                                       diagnose=False)  # fmt: skip
                        job.cb.split = {}
                        job.callbacks.insert(1, job.cb)
                    ep = job.run(ARGS.epochs)
                    cpu[c].append(sum(u for _, u in ep[1:]))
                    wall[c].append(sum(w for w, _ in ep[1:]))
                    first[c].append(ep[0][1])
                    if job.cb is not None:
                        sp = job.cb.split
                        every[c].append(job.cb.every)
                        for k, (n, v, q) in sp.items():
                            m, w, u = split[c].get(k, (0, 0.0, 0.0))
                            split[c][k] = m + n, w + v, u + q
                        job.cb.close()
                    keras.backend.clear_session()
            base = sum(cpu["none"])
            lines.append(f"{name}: plain {1e3 * statistics.median(cpu['none']) / (steps * (ARGS.epochs - 1)):.3f} ms CPU "
                         f"a step (epochs 2..{ARGS.epochs}), first epoch {statistics.median(first['none']):.2f} s")  # fmt: skip
            for c in configs[1:]:
                ovc, ovw = overhead(cpu["none"], cpu[c], BUDGET.get(c)), overhead(wall["none"], wall[c], BUDGET.get(c))
                lines.append(f"  {c:10} overhead CPU {ovc!s}  wall {ovw!s}  every (end) {sorted(set(every[c]))}  "
                             f"first epoch {statistics.median(first[c]):.2f} s")  # fmt: skip
                own = sum(v for _, v, _ in split[c].values())
                proc = sum(q for *_, q in split[c].values())
                parts = ", ".join(f"{k} {n} x {1e6 * v / max(n, 1):.0f} us ({1e6 * q / max(n, 1):.0f}) = "
                                  f"{100 * v / base:.2f} %"
                                  for k, (n, v, q) in sorted(split[c].items(), key=lambda kv: -kv[1][1]))  # fmt: skip
                lines.append(f"    callback's hooks (epochs 2..E), own thread's CPU (process CPU in brackets): "
                             f"{100 * own / base:.2f} % ({100 * proc / base:.2f} %) of the plain CPU: {parts}")  # fmt: skip
                if c in BUDGET:
                    verdicts.append(verdict_line(f"{name} {c} (long fits)", BUDGET[c], ovc, ovw))
    print(f"keras {keras.__version__} ({ARGS.backend}), CPU, {ARGS.threads} thread(s), {rounds} rounds of fresh "
          f"{ARGS.epochs}-epoch fits ({steps} steps/epoch, batch {ARGS.batch}); {load0} at the start, {load()} at the end")  # fmt: skip
    print("overhead: median [quartiles] CI [95 %] of the per-round paired ratio of epochs 2..E")
    print("\n".join(lines + verdicts))
    sys.exit(exit_status(verdicts))


def main() -> None:
    set_threads(ARGS.threads)
    if ARGS.fixed:
        fixed_cost(ARGS.fixed)
        return
    if ARGS.long:
        long_fits(ARGS.long)
        return
    warnings.simplefilter("error", RuntimeWarning)  # a callback that turns itself off is a failure
    load0 = load()
    x, y = digits()
    steps = int(np.ceil(len(x) / ARGS.batch))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ARGS.models.split(","):
            jobs = {c: Job(MODELS[name], c, f"{tmp}/{name}-{c}", x, y) for c in CONFIGS}
            for job in jobs.values():  # warm-up: tracing/compiling, the first telemetry
                job.run(1)
            times: dict[str, list[tuple[float, float]]] = {c: [] for c in CONFIGS}
            for r in range(ARGS.rounds):
                order = CONFIGS if r % 2 == 0 else CONFIGS[::-1]
                for c in order:
                    times[c] += jobs[c].run(ARGS.epochs)
            med = {c: statistics.median(w for w, _ in v) for c, v in times.items()}
            cpu = {c: [u for _, u in v] for c, v in times.items()}
            wall = {c: [w for w, _ in v] for c, v in times.items()}
            for c in CONFIGS[1:]:
                cb = jobs[c].cb
                t0 = time.perf_counter()
                d = cb.diagnose()
                t_diag = time.perf_counter() - t0
                assert d is not None and cb.enabled
                frac = cb._cad.overhead
                b = BUDGET.get(c)
                rows.append((name, c, med["none"], med[c], overhead(cpu["none"], cpu[c], b), overhead(wall["none"], wall[c], b),
                             cb.every, 100 * frac if frac is not None else float("nan"), cb._setup_s, t_diag))  # fmt: skip
                cb.close()
            keras.backend.clear_session()
    print(f"keras {keras.__version__} ({ARGS.backend} backend), CPU, {ARGS.threads} thread(s), "
          f"{ARGS.rounds} rounds x {ARGS.epochs} epochs, {steps} steps/epoch, batch {ARGS.batch}; "
          f"python {sys.version.split()[0]}; {load0} at the start, {load()} at the end")  # fmt: skip
    print("overhead: median [quartiles] CI [95 % bootstrap interval of the median] over rounds of the paired "
          "per-round ratio, CPU time (less disturbed by other load) and wall time; self-est.: the callback's own "
          "measurement")  # fmt: skip
    hdr = (f"{'model':6} {'callback':10} {'ms/epoch off':>12} {'ms/epoch on':>11} {'overhead (CPU)':>34} "
           f"{'overhead (wall)':>34} {'every':>6} {'self-est.':>9} {'one-off s':>9} {'diagnose s':>10}")  # fmt: skip
    print(hdr)
    print("-" * len(hdr))
    for name, c, off, on, ovc, ovw, every, frac, setup, diag in rows:
        ev = "-" if c == "logs only" else str(every)
        print(f"{name:6} {c:10} {1e3 * off:12.1f} {1e3 * on:11.1f} {ovc!s:>34} {ovw!s:>34} {ev:>6} "
              f"{frac:8.2f}% {setup:9.2f} {diag:10.2f}")  # fmt: skip
    verdicts = [verdict_line(f"{name} {c}", BUDGET[c], ovc, ovw) for name, c, _, _, ovc, ovw, *_ in rows if c in BUDGET]
    print("\n".join(verdicts))
    sys.exit(exit_status(verdicts))


if __name__ == "__main__":
    main()
