"""Randomized synthetic training curves for robustness tests (healthy and faulty families).

These are not fixtures (those are real runs); they sweep noise levels, lengths, schedules and
bumps far wider than any fixture set, to check that detectors do not fire on healthy shapes.
"""

from __future__ import annotations

import numpy as np

from traindx.schema import Run, Series, SeriesKey


def _add(run: Run, metric: str, split: str, steps: np.ndarray, values: np.ndarray, unit: str = "step") -> None:
    run.add(Series(key=SeriesKey(metric=metric, split=split), steps=steps, values=values, unit=unit))  # type: ignore[arg-type]


def healthy_run(seed: int) -> Run:
    """A healthy run: exponential-ish decay to a floor, minibatch noise, optional warm-up bump,
    LR schedule, per-epoch validation with a small gap and at most a mild late rise."""
    rng = np.random.default_rng(seed)
    epochs = int(rng.integers(8, 60))
    spe = int(rng.choice([5, 10, 20, 50, 100]))
    n = epochs * spe
    t = np.arange(n) / n
    start = float(rng.uniform(0.5, 3.0))
    floor = start * float(rng.uniform(0.005, 0.25))
    tau = float(rng.uniform(0.04, 0.25))  # converges within the run
    clean = floor + (start - floor) * np.exp(-t / tau)
    if rng.random() < 0.4:  # early bump: warm-up to a high LR or Adam's early instability
        at = float(rng.uniform(0.01, 0.08))
        clean = clean * (1.0 + float(rng.uniform(0.05, 0.3)) * np.exp(-(((t - at) / 0.02) ** 2)))
    noise = float(rng.choice([0.02, 0.05, 0.1, 0.2, 0.35]))
    # Heavy-ish tails (student-t, df 5) like per-batch losses, clipped so values stay positive.
    eps = np.clip(rng.standard_t(5, n) * noise, -0.9, 3.0)
    loss = clean * (1.0 + eps)
    steps = np.arange(n, dtype=np.int64)
    run = Run(id=f"healthy_{seed}")
    _add(run, "loss", "train", steps, loss)

    ep_steps = (np.arange(1, epochs + 1) * spe - 1).astype(np.int64)
    gap = float(rng.uniform(1.0, 1.3))
    val = clean[ep_steps] * gap * (1.0 + rng.normal(0, 0.02, epochs))
    if rng.random() < 0.4:  # mild late overfitting that early stopping would catch
        late = np.clip((np.arange(epochs) / epochs - 0.7) / 0.3, 0, None)
        val = val * (1.0 + float(rng.uniform(0.0, 0.12)) * late)
    _add(run, "loss", "val", ep_steps, val)
    n_cls = int(rng.choice([2, 3, 10]))
    acc_final = float(rng.uniform(0.85, 0.99))
    # a cross-entropy L leaves at most L / ln 2 of the rows wrong (each costs ln 2 or more):
    # a curve whose final accuracy breaks that is no model's (ACC007 reads it as a mismatch)
    acc_final = max(acc_final, min(0.999, 1.0 - float(val[-1]) / np.log(2.0)))
    chance = 1.0 / n_cls
    acc = chance + (acc_final - chance) * (1 - np.exp(-t[ep_steps] / tau))
    _add(run, "accuracy", "val", ep_steps, np.clip(acc + rng.normal(0, 0.01, epochs), 0, 1))

    sched = rng.choice(["constant", "cosine", "step", "warmup_linear"])
    lr0 = float(10 ** rng.uniform(-4, -1))
    if sched == "constant":
        lr = np.full(n, lr0)
    elif sched == "cosine":
        lr = lr0 * 0.5 * (1 + np.cos(np.pi * t))
    elif sched == "step":
        lr = lr0 * np.where(t < 0.5, 1.0, np.where(t < 0.75, 0.1, 0.01))
    else:
        w = 0.05
        lr = lr0 * np.where(t < w, t / w, 1 - (t - w) / (1 - w) * 0.99)
    _add(run, "lr", "train", steps, lr)
    if rng.random() < 0.5:
        g = (1.0 + 2.0 * np.exp(-t / 0.05)) * (1 + 0.3 * np.abs(rng.standard_normal(n)))
        _add(run, "grad_norm", "train", steps, g * float(10 ** rng.uniform(-1, 1)))
    return run
