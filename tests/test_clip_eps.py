"""Clipped SGD steps and an Adam epsilon above the gradients' scale (gapsf48).

An adapter records the optimizer's clipnorm and eps (torch param_groups, Keras optimizer,
optax transforms) and the raw global gradient norm. SGD whose gradient norm rose above its
clip took steps capped at LR x clipnorm: a loss that fell under them is no step too large
(shared.clipped_steps_fell). An Adam-style epsilon far above the per-parameter gradient scale
turns the adaptive step into SGD with LR / eps (CTX076, optimizer_choice).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cause_evidence import evidence_holds as _holds
from cause_evidence import series_run as _run

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parent.parent
RNN = ROOT / "fixtures/qa_fresh48/logs/jax_equinox_waveform_frequency_elman_rnn_100_steps_no_gradient_clipping_sgd_momentum_npz_recorder"
SIREN = ROOT / "fixtures/qa_fresh48/logs/torch_friedman1_siren_sine_mlp_nadam_eps_1_copied_from_inception_advice_tensorboardx_monitor"
FALLING = 2.0 * 0.93 ** np.arange(40.0) + 0.05
CLIPPED = "the gradient norm (up to"


def _sgd(clipnorm: float | None, name: str = "sgd") -> dict:
    return {"optimizer": {"name": name, "lr": 0.1, "momentum": 0.9, "clipnorm": clipnorm}}


def test_clipped_sgd_whose_loss_fell_counts_against_a_step_too_large():
    run = _run({"loss": FALLING, "grad_norm": np.full(40, 4.0)}, _sgd(1.0))
    assert _holds("lr_too_high", CLIPPED, run) is True
    assert _holds("exploding_gradients", CLIPPED, run) is True


def test_a_clip_the_gradient_never_reached_caps_nothing():
    run = _run({"loss": FALLING, "grad_norm": np.full(40, 0.5)}, _sgd(1.0))
    assert _holds("lr_too_high", CLIPPED, run) is False


def test_a_clip_before_adam_caps_no_step():
    run = _run({"loss": FALLING, "grad_norm": np.full(40, 4.0)}, _sgd(1.0, "adam"))
    assert _holds("lr_too_high", CLIPPED, run) is False


def test_clipped_sgd_whose_loss_grew_keeps_the_step_size_open():
    rising = 1.0 * 1.05 ** np.arange(40.0)
    run = _run({"loss": rising, "grad_norm": np.full(40, 4.0)}, _sgd(1.0))
    assert _holds("lr_too_high", CLIPPED, run) is False


def test_equinox_rnn_fixed_by_the_clip_is_healthy_and_its_unclipped_twin_is_not():
    fixed = diagnose(RNN / "fixed_adapter", learned=False)[0]
    assert fixed.verdict == "healthy"
    buggy = diagnose(RNN / "buggy_adapter", learned=False)[0]
    assert buggy.verdict == "findings"
    assert {"exploding_gradients", "lr_too_high"} & {c.id for c in buggy.causes[:2]}


def test_nadam_eps_1_reads_as_optimizer_choice_and_its_default_eps_twin_as_healthy():
    buggy = diagnose(SIREN / "buggy_adapter", learned=False)[0]
    assert "CTX076" in {s.code for s in buggy.symptoms}
    assert buggy.causes[0].id == "optimizer_choice"
    fixed = diagnose(SIREN / "fixed_adapter", learned=False)[0]
    assert "CTX076" not in {s.code for s in fixed.symptoms}
    assert fixed.verdict == "healthy"


def test_eps_from_a_logged_config_without_gradients_reads_as_optimizer_choice():
    # qa_fresh23: HF TrainingArguments(adam_epsilon=1.0), read from the run's config; no gradient norm logged
    pair = ROOT / "fixtures/qa_fresh23/logs/hf_bert_tokcls_adam_epsilon_1"
    buggy = diagnose(pair / "buggy", learned=False)[0]
    assert "CTX076" in {s.code for s in buggy.symptoms}
    assert buggy.causes[0].id == "optimizer_choice"
    assert diagnose(pair / "fixed", learned=False)[0].verdict == "healthy"
