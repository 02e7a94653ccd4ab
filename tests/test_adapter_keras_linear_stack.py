"""The Keras callback's ``linear_stack`` flag (as the torch Monitor's): Dense layers with
activation=None in a row compose to one linear map; an activation layer, a non-linear Dense
activation or normalization ends the stack; a model that is not a Sequential is unknown."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from traindx.adapters._keras_linear import linear_stack  # noqa: E402


def seq(*ls):
    return keras.Sequential([keras.Input((4,)), *ls])


def test_dense_without_activation_in_a_row():
    assert linear_stack(seq(layers.Dense(8), layers.Dropout(0.2), layers.Dense(8), layers.Dense(2))) == 3.0


def test_activations_end_every_stack():
    assert linear_stack(seq(layers.Dense(8, activation="relu"), layers.Dense(8, activation="relu"), layers.Dense(2))) == 1.0
    assert linear_stack(seq(layers.Dense(8), layers.ReLU(), layers.Dense(8), layers.Activation("tanh"), layers.Dense(2))) == 1.0


def test_logistic_regression_is_one_dense():
    assert linear_stack(seq(layers.Dense(1, activation="sigmoid"))) == 1.0


def test_a_functional_model_is_unknown():
    x = keras.Input((4,))
    assert linear_stack(keras.Model(x, layers.Dense(2)(layers.Dense(8)(x)))) is None


def test_the_callback_records_the_stack(tmp_path):
    import numpy as np

    from traindx.adapters.keras import DiagnosisCallback

    model = seq(layers.Dense(8), layers.Dense(2))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    cb = DiagnosisCallback(tmp_path)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[cb])
    assert cb.context.flags["linear_stack"] == 2.0


def test_a_linear_bottleneck_is_counted_apart():
    from traindx.adapters._keras_linear import linear_stacks

    auto = keras.Sequential(
        [keras.Input((64,)), layers.Dense(32, activation="relu"), layers.Dense(8), layers.Dense(32, activation="relu"), layers.Dense(64)]
    )
    assert linear_stacks(auto) == (2.0, 1.0)  # 32 -> 8 -> 32: narrower than both ends
    assert linear_stacks(seq(layers.Dense(8), layers.Dense(8), layers.Dense(2))) == (3.0, 3.0)


def test_a_glu_projection_starts_a_stack():
    """A Dense whose output a GLU splits is two maps of its input, one gating the other: the
    Dense before it does not compose with it (the torch trace reads a split projection so)."""
    assert linear_stack(seq(layers.Dense(16), layers.Dense(16, activation="glu"), layers.Dense(2))) == 1.0
    assert linear_stack(seq(layers.Dense(16), layers.Dense(16), layers.Activation("glu"), layers.Dense(2))) == 1.0
    assert linear_stack(seq(layers.Dense(16), layers.Dense(16), layers.Activation("relu"), layers.Dense(2))) == 2.0
