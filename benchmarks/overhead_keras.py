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


def main() -> None:
    set_threads(ARGS.threads)
    if ARGS.fixed:
        fixed_cost(ARGS.fixed)
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
