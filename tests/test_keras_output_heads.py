"""The Keras callback marks every output head of a multi-output functional model
(``LayerInfo.is_output``, issue 10), and the hidden widths leave all heads out: a two-head
model's first head, a Dense(1), is not a one-unit bottleneck. Recordings without the marker
(older runs, torch, JAX) keep the last-layer-is-the-output rule."""

from __future__ import annotations

import os

import numpy as np
import pytest

from traindx.schema import LayerInfo
from traindx.signals.widths import hidden_widths


def dense(name: str, units: int, fan_in: int, is_output: bool | None = None) -> LayerInfo:
    return LayerInfo(name=name, type="Dense", params=(fan_in + 1) * units, output_shape=[None, units], is_output=is_output)


def test_marked_heads_are_left_out_and_unmarked_runs_keep_the_last_layer_rule():
    # 10 inputs -> trunk 32 -> mid 8 -> two heads reading mid (fan-in from the parameter counts)
    marked = [dense("trunk", 32, 10, False), dense("mid", 8, 32, False), dense("price", 1, 8, True), dense("segment", 3, 8, True)]
    assert hidden_widths(marked, 1) == [32, 8]
    # unmarked (older recordings, torch, JAX): the last layer is the output; a Dense(1) reading the
    # same width as that head and read by no layer sits beside it (signals/widths.py, gapsf50),
    # so the old miss (a one-unit bottleneck [32, 8, 1]) no longer reads
    unmarked = [dense("trunk", 32, 10), dense("mid", 8, 32), dense("price", 1, 8), dense("segment", 3, 8)]
    assert hidden_widths(unmarked, 1) == [32, 8]
    # a Dense(1) in a chain (read by the next layer) is a hidden width still
    chain = [dense("trunk", 32, 10), dense("neck", 1, 32), dense("out", 3, 1)]
    assert hidden_widths(chain, 3) == [32, 1]
    # a single-output model's layers read the same with or without the marker
    single = [dense("trunk", 32, 10, False), dense("mid", 2, 32, False), dense("out", 3, 2, True)]
    assert hidden_widths(single, 3) == hidden_widths([dense("trunk", 32, 10), dense("mid", 2, 32), dense("out", 3, 2)], 3) == [32, 2]


os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.mark.keras
@pytest.mark.parametrize("mid", [8, 1])
def test_a_two_head_keras_model_records_both_heads_as_outputs(mid, tmp_path):
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback
    from traindx.api import read
    from traindx.signals import compute_facts

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    price, segment = x[:, :1] * 2.0, (x[:, 1] > 0).astype("int64") + (x[:, 2] > 0)
    inp = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu", name="trunk")(inp)
    h = keras.layers.Dense(mid, activation="relu", name="mid")(h)
    p = keras.layers.Dense(1, name="price")(h)
    s = keras.layers.Dense(3, name="segment_logits")(h)
    s = keras.layers.Activation("softmax", name="segment")(s)  # a head ending in a layer without weights
    model = keras.Model(inp, {"price": p, "segment": s})
    model.compile("adam", loss={"price": "mse", "segment": "sparse_categorical_crossentropy"})
    cb = DiagnosisCallback(logdir=tmp_path, every=1, diagnose=False)
    model.fit(x, {"price": price, "segment": segment}, epochs=2, batch_size=32, verbose=0, callbacks=[cb])
    cb.close()
    run = read(tmp_path)[0]
    layers = {layer.name: layer.is_output for layer in run.context.model.layers}
    assert layers == {"trunk": False, "mid": False, "price": True, "segment_logits": True, "segment": True}
    assert compute_facts(run)["ctx"]["min_hidden_width"] == mid  # a real one-unit trunk still shows


@pytest.mark.keras
def test_branches_merged_into_the_output_without_weights_are_output_layers(tmp_path):
    """fixtures/qa_real27's wide-and-deep regressor: ``Add()([Dense(1)(x), Dense(1)(deep)])``.
    Both one-unit Dense layers make the output through the weight-free Add; before, both were
    recorded ``is_output: false`` and the wide branch read as a hidden layer one unit wide
    (CTX018 one-unit-bottleneck flagged the fixed version model_too_small 79 %)."""
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback
    from traindx.api import read
    from traindx.signals import compute_facts

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 10)).astype("float32")
    y = (x[:, :1] - 0.5 * x[:, 1:2]).astype("float32")
    inp = keras.Input((10,))
    wide = keras.layers.Dense(1, name="wide")(inp)
    deep = keras.layers.Dense(16, activation="relu", name="deep1")(inp)
    deep = keras.layers.Dense(8, activation="relu", name="deep2")(deep)
    out = keras.layers.Add(name="sum")([wide, keras.layers.Dense(1, name="deep_out")(deep)])
    model = keras.Model(inp, out)
    model.compile("adam", loss="mse")
    cb = DiagnosisCallback(logdir=tmp_path, every=1, diagnose=False)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[cb])
    cb.close()
    run = read(tmp_path)[0]
    layers = {layer.name: layer.is_output for layer in run.context.model.layers}
    assert layers == {"wide": True, "deep1": False, "deep2": False, "deep_out": True}
    assert compute_facts(run)["ctx"]["min_hidden_width"] == 8
