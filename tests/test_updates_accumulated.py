"""Issue 10, qa_mixed50's misses: evidence that tells the causes apart in general.

- UPD003 (parameters not updated) stands aside when the recorded weight norm still moved to
  the end: updates then landed between the telemetry steps (a custom Keras train_step that
  applies accumulated gradients every 4th batch), whatever the update ratio at those steps.
- The Keras callback records a custom ``train_step`` (flag ``custom_train_step``) instead of
  asserting that gradients never accumulate, and grad_not_zeroed's "not in this framework"
  penalty stands aside for it.
- CTX093: the JAX Recorder's gradient accumulation over a whole epoch of micro-batches (one
  or two updates per epoch) while the loss still falls reads batch_size_bad.
- CTX018: a hidden layer at most half as wide as the class count, with the loss high,
  reads model_too_small.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "fixtures" / "qa_mixed50" / "logs"
KB = LOGS / "kb_wine_subclassed_model_train_step_grad_accumulators_never_reset_sgd_csvlogger_callback_tf"
MULTI = LOGS / "jax_plain_make_classification_3_classes_optax_multisteps_every_k_64_micro_batch_16_adam_handwritten_csv_recorder"
ALBERT = LOGS / "torch_digits_albert_style_shared_block_applied_3_times_width_3_adamw_print_log_monitor"
PENALTY = "gradients are not accumulated implicitly in this framework"


def _one(path: Path):
    (d,) = list(diagnose(path))
    return d


def _codes(d) -> set[str]:
    return {s.code for s in d.symptoms}


def _evidence(d, cause: str) -> list[str]:
    for c in d.causes:
        if c.id == cause:
            return [json.dumps(e.model_dump()) for e in c.evidence]
    return []


def test_weights_that_move_refute_parameters_not_updated():
    # update ratio 0 at every telemetry step of both runs; the weight norm moved in both
    fixed, buggy = _one(KB / "fixed_adapter"), _one(KB / "buggy_adapter")
    assert "UPD003" not in _codes(fixed) and "UPD003" not in _codes(buggy)
    assert fixed.verdict == "healthy"


def test_frozen_weights_still_read_parameters_not_updated():
    # qa_mixed50's functional_call on detached clones: the weights never move
    d = _one(LOGS / "torch_make_classification_4_classes_functional_call_on_detached_param_copies_adam_on_module_params_jsonl_monitor"
             / "buggy_adapter")
    assert d.causes[0].id == "updates_not_applied"


def test_custom_train_step_lifts_the_keras_no_accumulation_penalty(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(KB / "buggy_adapter", run)
    before = _evidence(_one(run), "grad_not_zeroed")
    ctx = json.loads((run / "context.json").read_text())
    ctx["flags"].pop("grad_accumulating", None)
    ctx["flags"]["custom_train_step"] = True
    (run / "context.json").write_text(json.dumps(ctx))
    after = _evidence(_one(run), "grad_not_zeroed")
    assert any(PENALTY in e for e in before)
    assert after and not any(PENALTY in e for e in after)


def test_accumulation_over_a_whole_epoch_reads_batch_size_bad():
    buggy, fixed = _one(MULTI / "buggy_adapter"), _one(MULTI / "fixed_adapter")
    assert "CTX093" in _codes(buggy) and buggy.causes[0].id == "batch_size_bad"
    assert "CTX093" not in _codes(fixed) and fixed.verdict == "healthy"


def test_a_layer_narrower_than_half_the_classes_with_a_high_loss_reads_model_too_small():
    buggy, fixed = _one(ALBERT / "buggy_adapter"), _one(ALBERT / "fixed_adapter")
    assert "CTX018" in _codes(buggy) and buggy.causes[0].id == "model_too_small"
    assert "CTX018" not in _codes(fixed)


keras = pytest.importorskip("keras")


def _keras_flags(tmp_path, custom: bool) -> dict:
    import numpy as np

    from traindx.adapters.keras import DiagnosisCallback

    class OwnStep(keras.Sequential):
        def train_step(self, data):  # the guide's loop; on the TF backend only
            import tensorflow as tf

            x, y = data
            with tf.GradientTape() as tape:
                loss = self.compute_loss(y=y, y_pred=self(x, training=True))
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            for m in self.metrics:
                m.update_state(loss) if m.name == "loss" else None
            return {m.name: m.result() for m in self.metrics}

    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 6)).astype("float32")
    y = (x[:, :3].argmax(1)).astype("int64")
    keras.utils.set_random_seed(0)
    cls = OwnStep if custom else keras.Sequential
    model = cls([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cb = DiagnosisCallback(logdir=tmp_path, probe=(x[:32], y[:32]), every=1000, diagnose=False)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[cb])
    return json.loads((tmp_path / "context.json").read_text())["flags"]


@pytest.mark.keras
def test_keras_callback_records_a_custom_train_step(tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("a TensorFlow train_step")
    stock = _keras_flags(tmp_path / "stock", custom=False)
    own = _keras_flags(tmp_path / "own", custom=True)
    assert stock.get("grad_accumulating") is False and "custom_train_step" not in stock
    assert own.get("custom_train_step") is True and "grad_accumulating" not in own
