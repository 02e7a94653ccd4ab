"""``loss_one_unit_categorical``: outputs scored by a (sparse) categorical cross-entropy while
one unit wide, counted over every output's own loss (traindx/adapters/_keras_stats/model.py).
Session 47, qa_mixed47: a two-head Keras model with categorical_crossentropy on its one-unit
position head (loss 0, no gradient) was called gradients_not_flowing at 79 % - the context
described the other head only."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")

from traindx.adapters._keras_stats import one_unit_categorical_heads  # noqa: E402


def two_heads(position_loss: str, as_list: bool = False) -> keras.Model:
    x = keras.Input((3,))
    h = keras.layers.Dense(8, activation="relu")(x)
    pos = keras.layers.Dense(1, name="position")(h)
    seg = keras.layers.Dense(4, activation="softmax", name="segment")(h)
    m = keras.Model(x, {"position": pos, "segment": seg})
    losses = {"position": position_loss, "segment": "sparse_categorical_crossentropy"}
    m.compile(optimizer="sgd", loss=[losses[n] for n in m.output_names] if as_list else losses)
    return m


def test_a_categorical_loss_on_the_one_unit_head_is_counted_whichever_head_the_context_describes():
    assert one_unit_categorical_heads(two_heads("categorical_crossentropy")) == 1
    assert one_unit_categorical_heads(two_heads("categorical_crossentropy", as_list=True)) == 1
    assert one_unit_categorical_heads(two_heads("mse")) == 0


def test_one_loss_for_a_one_unit_model():
    x = keras.Input((3,))
    m = keras.Model(x, keras.layers.Dense(1, activation="sigmoid")(x))
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert one_unit_categorical_heads(m) == 1
    m.compile(optimizer="sgd", loss="binary_crossentropy")
    assert one_unit_categorical_heads(m) == 0
