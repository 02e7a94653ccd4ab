"""Optimizer-made misses of qa_mixed49 (gapsm49): Ftrl on a net with hidden layers, weights kept
in bfloat16 whose steps round away, and too_much_regularization where no regularizer exists.

- FTRL-Proximal (Keras/TF ``Ftrl``) recomputes each weight from accumulators that start at 0:
  on a net with hidden layers its first step wipes the initialization (the Keras two-head MLP's
  weight norm 13.8 -> 0.08 read as too_much_regularization 79 %): optimizer_choice.
- An adapter that reads the model's regularizers and found none weighs against
  too_much_regularization.
- The torch Monitor records the parameters' dtype (``param_dtype``, as the JAX Recorder does);
  CTX077 fires when 16-bit weights take steps below half their rounding step
  (updates_not_applied), and lr_too_low is weighed down there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cause_evidence import BOOK
from cause_evidence import evidence_holds as _holds
from cause_evidence import series_run as _run

from traindx.api import diagnose
from traindx.engine import diagnose_facts
from traindx.schema import Run
from traindx.signals import compute_facts

ROOT = Path(__file__).resolve().parent.parent
FTRL = ROOT / "fixtures/qa_mixed49/logs/kj_digits_functional_two_heads_digit_and_ink_ftrl_default_optimizer_csvlogger_callback_jax"
FLAT = 3.3 - 0.002 * np.arange(30.0)
NOREG = "the adapter found no regularizer"


def _ctx(name: str, n_layers: int, **flags: object) -> dict:
    return {"framework": "keras", "optimizer": {"name": name, "lr": 0.001},
            "model": {"layers": [{"name": f"d{i}", "type": "Dense", "params": 100} for i in range(n_layers)]},
            "flags": flags}  # fmt: skip


def test_ftrl_on_a_hidden_layer_net_points_to_the_optimizer():
    assert _holds("optimizer_choice", "Ftrl on a", _run({"loss": FLAT}, _ctx("ftrl", 4))) is True


def test_ftrl_on_a_linear_model_is_its_use_not_evidence():
    assert _holds("optimizer_choice", "Ftrl on a", _run({"loss": FLAT}, _ctx("ftrl", 1))) is False
    assert _holds("optimizer_choice", "Ftrl on a", _run({"loss": FLAT}, _ctx("adam", 4))) is False


def test_no_regularizer_recorded_weighs_against_too_much_regularization():
    none = _ctx("adam", 3, l2_max=0.0, dropout_max=0.0, reg_loss_share=0.0)
    assert _holds("too_much_regularization", NOREG, _run({"loss": FLAT}, none)) is True
    l2 = _ctx("adam", 3, l2_max=0.5, dropout_max=0.0, reg_loss_share=0.0)
    assert _holds("too_much_regularization", NOREG, _run({"loss": FLAT}, l2)) is False
    drop = _ctx("adam", 3, l2_max=0.0, dropout_max=0.7)
    assert _holds("too_much_regularization", NOREG, _run({"loss": FLAT}, drop)) is False
    # a logger that does not read the regularizers (no l2_max) is no evidence
    assert _holds("too_much_regularization", NOREG, _run({"loss": FLAT}, _ctx("adam", 3))) is False


def test_keras_ftrl_run_ranks_the_optimizer_first_and_its_fix():
    buggy = diagnose(FTRL / "buggy_adapter", learned=False)[0]
    assert buggy.causes[0].id == "optimizer_choice"
    assert "sparse linear models" in " ".join(f.text for f in buggy.causes[0].fixes)
    assert diagnose(FTRL / "fixed_adapter", learned=False)[0].healthy


def _fired(run: Run) -> set[str]:
    return {s.code for s in diagnose_facts(run, compute_facts(run), BOOK).symptoms}


def _bf16_run(dtype: str, lr: float) -> Run:
    ctx = {"framework": "torch", "optimizer": {"name": "adam", "lr": lr}, "model": {"num_trainable": 17226},
           "flags": {"param_dtype": dtype}}  # fmt: skip
    return _run({"loss": 2.3 * 0.995 ** np.arange(60.0), "train/weight_norm": np.full(30, 8.26)}, ctx)


def test_bf16_steps_below_rounding_fire_ctx077_and_weigh_down_lr_too_low():
    assert "CTX077" in _fired(_bf16_run("bfloat16", 1e-4))
    assert _holds("lr_too_low", "the weights are", _bf16_run("bfloat16", 1e-4)) is True
    assert "CTX077" not in _fired(_bf16_run("float32", 1e-4))
    assert _holds("lr_too_low", "the weights are", _bf16_run("float32", 1e-4)) is False


def test_torch_monitor_records_the_parameter_dtype():
    torch = pytest.importorskip("torch")
    from traindx.adapters._torch_init import dtype_flag

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    assert dtype_flag(list(model.parameters())) == {"param_dtype": "float32"}
    assert dtype_flag(list(model.to(torch.bfloat16).parameters())) == {"param_dtype": "bfloat16"}
    assert dtype_flag([]) == {}


# --- dead units where no dead share was recorded (qa_mixed49's linen MLP, bias -3 on every ReLU layer)
LINEN = ROOT / "fixtures/qa_mixed49/logs/jax_linen_make_classification_relu_mlp_bias_init_constant_minus_3_all_units_dead_optax_adam_pandas_csv_recorder"
AT_LN3 = np.full(40, float(np.log(3.0)))


def test_exactly_uniform_start_is_zero_weights_only_where_the_init_was_not_measured_usual():
    says = "the first loss sits at ln"
    usual = {"framework": "jax", "flags": {"init_scale_min": 0.99, "init_scale_max": 1.0}}
    zeros = {"framework": "jax", "flags": {"init_scale_min": 0.0, "init_scale_max": 0.0}}
    series = {"loss": AT_LN3, "accuracy": np.full(40, 0.33)}
    assert _holds("bad_weight_init", says, _run(series, usual)) is False
    assert _holds("bad_weight_init", says, _run(series, zeros)) is True


def test_linen_dead_relu_run_ranks_dying_relu_over_a_cut_graph():
    buggy = diagnose(LINEN / "buggy_adapter", learned=False)[0]
    assert buggy.causes[0].id == "dying_relu"
    gnf = next(c for c in buggy.causes if c.id == "gradients_not_flowing")
    assert any(e.says.startswith("the layers without gradient sit beside") for e in gnf.evidence)
    assert diagnose(LINEN / "fixed_adapter", learned=False)[0].healthy


def test_bf16_monitor_run_records_the_dtype_and_names_updates_not_applied():
    pair = ROOT / "fixtures/qa_mixed49/logs/torch_digits_mlp_bf16_linear_weights_stored_bfloat16_no_fp32_master_adam_1e4_tensorboardx_monitor"
    buggy = diagnose(pair / "buggy_adapter", learned=False)[0]
    assert "CTX077" in {s.code for s in buggy.symptoms}
    assert "updates_not_applied" in [c.id for c in buggy.causes[:2]]
    fixed = diagnose(pair / "fixed_adapter", learned=False)[0]
    assert fixed.healthy
