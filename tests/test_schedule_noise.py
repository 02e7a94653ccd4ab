"""Schedules known from the run and its own noise decide LR002 and LOSS003 (issue 16)."""

from __future__ import annotations

import json

import numpy as np

import traindx


def _state(path, history, **plan):
    path.mkdir(parents=True, exist_ok=True)
    (path / "trainer_state.json").write_text(
        json.dumps({"log_history": history, "global_step": history[-1]["step"], **plan})
    )
    return path


def _warmup_history(last_step: int, warmup: int, total: int, peak: float = 5e-5, seed: int = 0):
    rng = np.random.default_rng(seed)
    hist = []
    for step in range(10, last_step + 1, 10):
        lr = peak * step / warmup if step < warmup else peak * (total - step) / (total - warmup)
        hist.append(
            {
                "epoch": step / 2887,
                "grad_norm": 3.0,
                "learning_rate": lr,
                "loss": 0.9 * 0.9995**step + 0.05 * rng.standard_normal() + 0.3,
                "step": step,
            }
        )
    return hist


def test_warmup_cut_by_the_log_end_is_not_a_growing_lr(tmp_path):
    """Step 1000 of 8660, just at the end of the warm-up: the plan is in the same file."""
    run = _state(
        tmp_path / "ft", _warmup_history(1000, 1000, 8660), max_steps=8660, num_train_epochs=3
    )
    (d,) = traindx.diagnose(run)
    assert "LR002" not in [s.code for s in d.symptoms]
    assert d.facts["lr"]["max_plan_progress"] < 0.2 and d.facts["lr"]["max_progress"] == 1.0
    (r,) = traindx.read(run)
    assert r.context.max_steps == 8660 and r.context.epochs == 3


def test_an_lr_growing_to_the_planned_end_still_fires(tmp_path):
    hist = [
        {"learning_rate": 1e-5 * 1.03**i, "loss": 1.0 - 0.001 * i, "step": 10 * (i + 1)}
        for i in range(100)
    ]
    (d,) = traindx.diagnose(_state(tmp_path / "grow", hist, max_steps=1000))
    assert "LR002" in [s.code for s in d.symptoms]


def test_bouncing_per_step_finetuning_loss_is_noise(tmp_path):
    """Per-step loss bouncing between 0.40 and 0.89 with no trend: noise, neither "ends above
    its best" (LOSS003) nor "swings up and down" (LOSS004)."""
    fired = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        hist = [
            {"learning_rate": 2e-5, "loss": float(rng.uniform(0.40, 0.89)), "step": 5 * (i + 1)}
            for i in range(int(rng.integers(30, 200)))
        ]
        (d,) = traindx.diagnose(_state(tmp_path / f"s{seed}", hist, max_steps=1000))
        fired += [(seed, s.code) for s in d.symptoms if s.code in ("LOSS003", "LOSS004")]
    assert not fired


def test_a_real_rise_in_a_noisy_loss_still_fires(tmp_path):
    rng = np.random.default_rng(0)
    base = np.concatenate([np.linspace(0.9, 0.5, 60), np.linspace(0.5, 1.6, 60)])
    hist = [
        {"learning_rate": 2e-5, "loss": float(v + 0.1 * rng.standard_normal()), "step": 5 * (i + 1)}
        for i, v in enumerate(base)
    ]
    (d,) = traindx.diagnose(_state(tmp_path / "rise", hist))
    assert "LOSS003" in [s.code for s in d.symptoms]
