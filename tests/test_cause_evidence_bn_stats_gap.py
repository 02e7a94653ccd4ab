"""train_mode_not_set over distribution_shift when batch-norm statistics never left their
initial 0 / 1 and the validation loss sat far above training's from the first evaluation
(gapsj43; qa_jax43 linen TrainState whose apply(..., mutable=["batch_stats"]) result is
dropped: training normalizes with each batch's statistics, evaluation with statistics no
step set; read as distribution_shift 73 %, train_mode_not_set 10 %)."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

FOR, AGAINST = "batch-norm statistics still at their initial", "batch-norm statistics never left"


def _ctx(at_init: float) -> dict:
    return {"framework": "jax", "model": {"has_batchnorm": True},
            "flags": {"bn_layers": 2.0, "bn_stats_at_init": at_init, "bn_stats_steps": 384.0}}  # fmt: skip


def _series() -> dict[str, np.ndarray]:
    return {"train/loss": np.linspace(1.5, 0.2, 40), "val/loss": np.linspace(40.0, 48.0, 40)}


def test_stats_at_init_with_a_gap_from_the_first_evaluation():
    run = _run(_series(), _ctx(2.0))
    assert _fired("train_mode_not_set", FOR, run) is True
    assert _fired("distribution_shift", AGAINST, run) is True


def test_stats_that_moved_or_no_gap_are_not_it():
    assert _fired("train_mode_not_set", FOR, _run(_series(), _ctx(0.0))) is not True
    close = {"train/loss": np.linspace(1.5, 0.2, 40), "val/loss": np.linspace(1.6, 0.3, 40)}
    assert _fired("train_mode_not_set", FOR, _run(close, _ctx(2.0))) is not True
