"""The corpus's adapter runs carry the facts the rules read (issue 10, session 37's re-recording).

Session 36's adapters record BatchNormalization layers whose moving statistics never left 0/1
(Keras callback: bn_layers, bn_stats_at_init, bn_stats_steps; CTX004 reads them) and the kind
of (N, C) targets (target_kind, target_row_sum; CTX010 reads a categorical cross-entropy on
continuous or multi-hot rows). The runs recorded before had neither, so the benchmark scored
those rules on runs that could not show them. Reads the committed archives only (no framework).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))

from load import corpus_runs  # noqa: E402


@pytest.fixture(scope="module")
def adapter_runs(tmp_path_factory):
    out = []
    for d, lab in corpus_runs(tmp_path_factory.mktemp("corpus")):
        if lab["input_kind"] != "logs":
            out.append((d, lab, json.loads((d / "context.json").read_text())))
    return out


def _bn_runs(adapter_runs):
    """Keras runs whose model holds a BatchNormalization layer (a spec's `bn` on a linear
    model with no hidden layer builds none)."""
    return [(d, lab, ctx) for d, lab, ctx in adapter_runs if lab["input_kind"] == "keras_adapter"
            and ctx["model"].get("has_batchnorm")]


def test_every_keras_run_with_batchnorm_records_its_moving_statistics(adapter_runs):
    runs = _bn_runs(adapter_runs)
    assert len(runs) >= 80
    lacking = [d.name for d, _lab, ctx in runs if "bn_layers" not in ctx["flags"]]
    assert not lacking, f"recorded before the BatchNorm facts: {lacking[:5]}"


def test_frozen_batchnorm_reads_at_init_and_trained_batchnorm_does_not(adapter_runs):
    frozen = healthy = 0
    for d, lab, ctx in _bn_runs(adapter_runs):
        f, m = ctx["flags"], lab["spec"]["model"]
        if lab["cause"] == "train_mode_not_set" and m.get("bn") and not m.get("in_bn"):
            # every BatchNormalization set trainable=False: inference mode under fit
            assert f["bn_stats_at_init"] == f["bn_layers"] >= 1.0, d.name
            frozen += 1
        elif lab["cause"] == "healthy" and "injected" not in lab:
            assert f["bn_stats_at_init"] == 0.0, d.name
            healthy += 1
    assert frozen >= 5 and healthy >= 15


def test_multilabel_and_reconstruction_targets_record_their_kind(adapter_runs):
    runs = [(d, lab, ctx) for d, lab, ctx in adapter_runs if lab["input_kind"] == "torch_adapter"
            and lab["spec"]["data"]["name"].startswith(("multilabel", "recon"))]
    assert len(runs) >= 40
    lacking = [d.name for d, _lab, ctx in runs if "target_kind" not in ctx["flags"]]
    assert not lacking, f"recorded before the target-kind facts: {lacking[:5]}"
    kinds = {ctx["flags"]["target_kind"] for _d, _lab, ctx in runs}
    assert {"multihot", "continuous"} <= kinds


# Session 37's torch Monitor and JAX Recorder compare the inputs of adjacent steps
# (inputs_same_share over inputs_checked pairs; CTX019 reads it). Session 38 re-recorded every
# torch / JAX batch_size_bad run, every run with at most three steps per epoch, and a sample of
# the healthy and other-fault runs (most with fewer than 300 steps, where CTX019 can fire).

def _torch_jax(adapter_runs):
    return [(d, lab, ctx) for d, lab, ctx in adapter_runs
            if lab["input_kind"] in ("torch_adapter", "jax_adapter")]


def test_every_torch_and_jax_batch_size_bad_run_records_whether_inputs_repeat(adapter_runs):
    runs = [(d, ctx) for d, lab, ctx in _torch_jax(adapter_runs) if lab["cause"] == "batch_size_bad"]
    assert len(runs) >= 10
    lacking = [d.name for d, ctx in runs if "inputs_same_share" not in ctx["flags"]]
    assert not lacking, f"recorded before the repeated-inputs facts: {lacking[:5]}"


def test_whole_batch_runs_repeat_their_inputs_and_mini_batch_runs_do_not(adapter_runs):
    whole = mini = 0
    for d, _lab, ctx in _torch_jax(adapter_runs):
        f, data = ctx["flags"], ctx["data"]
        n, bs = data.get("n_train"), data.get("batch_size")
        if "inputs_same_share" not in f or not n or not bs or f["inputs_checked"] < 4:
            continue
        if bs >= n:  # one batch per epoch: the same rows every step, in whatever order
            assert f["inputs_same_share"] == 1.0, d.name
            whole += 1
        elif 2 * bs <= n:  # shuffled or sliced mini-batches: adjacent steps differ
            assert f["inputs_same_share"] <= 0.1, d.name
            mini += 1
    assert whole >= 8 and mini >= 200


def test_healthy_torch_and_jax_runs_carry_the_repeated_inputs_facts(adapter_runs):
    counts = {"torch_adapter": 0, "jax_adapter": 0}
    for _d, lab, ctx in _torch_jax(adapter_runs):
        if lab["cause"] == "healthy" and "inputs_same_share" in ctx["flags"]:
            counts[lab["input_kind"]] += 1
    assert counts["torch_adapter"] >= 60 and counts["jax_adapter"] >= 20, counts


# Session 38's torch Monitor reads the dropout / batch-norm submodules' modes on every step
# (mode_layers, mode_layers_checked, mode_layers_eval_share; CTX004's third clause). Session 39
# added train_mode_not_set forms that leave them in eval while `model.training` is True
# (torch-s39: `model.training = True` after model.eval()) and re-recorded a sample of healthy
# torch runs with dropout or batch-norm so the facts are seen not firing.

def _torch_modal(adapter_runs):
    return [(d, lab, ctx) for d, lab, ctx in adapter_runs
            if lab["input_kind"] == "torch_adapter" and "mode_layers" in ctx["flags"]]


def test_train_mode_runs_that_set_only_the_top_flag_show_in_the_submodule_modes(adapter_runs):
    runs = [(d, lab, ctx) for d, lab, ctx in _torch_modal(adapter_runs)
            if lab["spec"]["loop"].get("mode") in ("flag_after_val", "flag_always")]
    assert len(runs) >= 20
    for d, _lab, ctx in runs:
        f = ctx["flags"]
        assert ctx["model"]["training_mode"] is True, d.name
        assert f["mode_layers_checked"] >= 10.0 and f["mode_layers_eval_share"] >= 0.5, d.name


def test_healthy_torch_runs_with_dropout_or_batchnorm_train_their_submodules(adapter_runs):
    runs = [(d, ctx) for d, lab, ctx in _torch_modal(adapter_runs)
            if lab["cause"] == "healthy" and "injected" not in lab]
    assert len(runs) >= 30
    busy = [d.name for d, ctx in runs if ctx["flags"]["mode_layers_eval_share"] != 0.0]
    assert not busy, busy[:5]


# The Keras callback reads the target's kind from the data it is given (from_arrays or a probe):
# multi-hot rows for the multi-label kind, continuous for the autoencoders, the same on every
# backend (shards keras-tensorflow-kinds-s39, keras-jax-kinds-s40, keras-torch-kinds-s41).

def test_keras_kinds_adapter_runs_record_their_target_kind_on_every_backend(adapter_runs):
    got: dict[str, int] = {}
    for d, lab, ctx in adapter_runs:
        if lab["input_kind"] != "keras_adapter" or lab["data"] not in ("multilabel", "recon_digits", "recon_tab"):
            continue
        if (lab["spec"].get("call") or {}).get("cb") == "plain":  # DiagnosisCallback(logdir): no data
            continue
        want = "multihot" if lab["data"] == "multilabel" else "continuous"
        assert ctx["flags"].get("target_kind") == want, d.name
        got[lab["framework"]] = got.get(lab["framework"], 0) + 1
    assert min(got.get(fw, 0) for fw in ("keras-tf", "keras-jax", "keras-torch")) >= 10, got
