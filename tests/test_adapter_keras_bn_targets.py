"""Keras facts the unseen programs of qa_fresh35 needed (issue 10): batch-norm moving
statistics still at their initial 0/1 after fit (a custom ``train_step`` calling
``self(x, training=False)``), and what the targets are (a categorical cross-entropy on
reconstruction rows that sum to ~20). Real Keras, real training; the rules judge."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters import _keras_stats as ks  # noqa: E402
from traindx.adapters._common.facts import row_target_facts  # noqa: E402
from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


@pytest.fixture(scope="module")
def digits():
    return scaled_digits(640)


def bn_mlp(cls=keras.Sequential):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    return cls([keras.Input((64,)), L.Dense(32), L.BatchNormalization(), L.ReLU(),
                L.Dense(32), L.BatchNormalization(), L.ReLU(), L.Dense(10)])  # fmt: skip


class InferenceModeStep(keras.Sequential):
    """The qa_fresh35 bug: the custom train_step runs the model with training=False."""

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            pred = self(x, training=False)
            loss = self.compute_loss(x=x, y=y, y_pred=pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        return {"loss": loss}


def train(model, data, tmp_path, loss="sparse_categorical_crossentropy", epochs=2):
    x, y = data
    model.compile(keras.optimizers.Adam(1e-2), loss=loss)
    cb = DiagnosisCallback(tmp_path, probe=(x[:128], y[:128]), every=4)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[cb])
    (run,) = traindx.read(tmp_path)
    return run, cb.diagnosis


def codes(diagnosis):
    return {s.code for s in diagnosis.symptoms}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the custom step uses tf.GradientTape")
def test_batchnorm_in_inference_mode_during_fit(digits, tmp_path):
    run, d = train(bn_mlp(InferenceModeStep), digits, tmp_path / "bug")
    f = run.context.flags
    assert f["bn_layers"] == 2.0 and f["bn_stats_at_init"] == 2.0 and f["bn_stats_steps"] == 40.0
    assert "CTX004" in codes(d)


def test_batchnorm_trained_normally_moves_its_statistics(digits, tmp_path):
    run, d = train(bn_mlp(), digits, tmp_path)
    f = run.context.flags
    assert f["bn_layers"] == 2.0 and f["bn_stats_at_init"] == 0.0
    assert "CTX004" not in codes(d)


def test_no_batchnorm_no_flags(digits, tmp_path):
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((64,)), L.Dense(16, activation="relu"), L.Dense(10)])
    run, _ = train(model, digits, tmp_path)
    assert "bn_layers" not in run.context.flags


def test_bn_helper_reads_a_frozen_pretrained_layer_as_moved(digits):
    model = bn_mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(*digits, epochs=1, batch_size=64, verbose=0)
    for layer in model.layers:  # "pretrained" BN, then frozen: not at the initial 0/1
        layer.trainable = not isinstance(layer, L.BatchNormalization)
    assert ks.bn_stats_at_init(model) == {"bn_layers": 2.0, "bn_stats_at_init": 0.0}


def test_categorical_crossentropy_on_reconstruction_rows(digits, tmp_path):
    """qa_fresh35's autoencoder: categorical_crossentropy on 64 pixels in [0, 1]."""
    x, _ = digits
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), L.Dense(16, activation="relu"), L.Dense(64, activation="softmax")])
    run, d = train(model, (x, x), tmp_path / "bug", loss="categorical_crossentropy", epochs=1)
    f = run.context.flags
    assert f["target_kind"] == "continuous" and f["target_onehot"] is False
    assert f["target_row_sum"] > 5.0 and f["target_min"] == 0.0 and f["target_max"] == 1.0
    assert "CTX010" in codes(d)
    # the fix (per-pixel binary cross-entropy on sigmoid outputs) reads the same targets and
    # does not fire
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((64,)), L.Dense(16, activation="relu"), L.Dense(64, activation="sigmoid")])
    run, d = train(model, (x, x), tmp_path / "fix", loss="binary_crossentropy", epochs=1)
    assert run.context.flags["target_kind"] == "continuous" and "CTX010" not in codes(d)


def test_categorical_crossentropy_on_one_hot_rows(digits, tmp_path):
    x, y = digits
    onehot = np.eye(10, dtype="float32")[y]
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((64,)), L.Dense(16, activation="relu"), L.Dense(10, activation="softmax")])
    run, d = train(model, (x, onehot), tmp_path, loss="categorical_crossentropy", epochs=1)
    f = run.context.flags
    assert f["target_kind"] == "onehot" and f["target_row_sum"] == 1.0 and "CTX010" not in codes(d)


def test_row_target_facts():
    eye = np.eye(3)
    assert row_target_facts(eye)["target_kind"] == "onehot"
    assert row_target_facts(np.array([[1, 1, 0], [0, 1, 0]]))["target_kind"] == "multihot"
    assert row_target_facts(np.array([[0, 0, 0], [0, 1, 0]]))["target_kind"] == "onehot_empty_rows"
    soft = row_target_facts(np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]))
    assert soft["target_kind"] == "distribution" and soft["target_onehot"] is False
    cont = row_target_facts(np.array([[3.0, -1.0], [2.0, 0.5]]))
    assert cont == {"target_onehot": False, "target_kind": "continuous", "target_row_sum": 2.25,
                    "target_min": -1.0, "target_max": 3.0}  # fmt: skip
    assert row_target_facts(np.array([[np.nan, 1.0], [0.0, 1.0]]))["target_kind"] == "onehot"  # NaN rows skipped
    assert row_target_facts(np.zeros((4, 1))) == {} and row_target_facts(np.array([["a", "b"]])) == {}
    assert ks.target_facts(np.array([0.5, 1.5]))["target_kind"] == "continuous"
    assert ks.target_facts(np.array([0, 1, 2]))["target_kind"] == "integer"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the loop uses tf.GradientTape")
@pytest.mark.parametrize("training", [None, True])
def test_gradient_tape_loop_without_training_true(digits, tmp_path, training):
    """qa_real35's loop: ``model(x)`` in the tape leaves BatchNormalization in inference mode;
    the LoopRecorder reads the same fact at close."""
    import tensorflow as tf

    from traindx.adapters.keras import LoopRecorder

    model = bn_mlp()
    opt = keras.optimizers.Adam(1e-2)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rec = LoopRecorder(model, opt, loss_fn, logdir=tmp_path, every=5)
    x_all, y_all = digits
    for i in range(30):
        x, y = x_all[(i % 10) * 64 :][:64], y_all[(i % 10) * 64 :][:64]
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x) if training is None else model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        rec.step(loss, grads=grads, inputs=x, targets=y)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    rec.close()
    (run,) = traindx.read(tmp_path)
    f = run.context.flags
    assert f["bn_layers"] == 2.0 and f["bn_stats_at_init"] == (2.0 if training is None else 0.0)
    assert ("CTX004" in codes(rec.diagnosis)) == (training is None)
