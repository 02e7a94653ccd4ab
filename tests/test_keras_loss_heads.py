"""The Keras callback pairs each compiled loss with its own output on a multi-output model
(issue 10, fixtures/qa_fresh38's two-head pair). Keras 3 matches a dict of losses to outputs by
output name and a list by position, while ``model.outputs`` orders dict outputs by sorted name:
the context used to describe the first loss (``segment``'s cross-entropy) with the first output
(the linear ``price`` head), so the fixed run read "unbounded outputs fed to a loss that expects
probabilities" (CTX011, logits_loss_mismatch 79 %) and the buggy one (mse on the softmax head)
was described as a regression. The context now describes one head with its own loss, output
and targets: the classification head when there is one."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _two_head_run(tmp_path, seg_loss: str, as_list: bool):
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback
    from traindx.api import read

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype("float32")
    segment = ((x[:, 1] > 0).astype("int64") + (x[:, 2] > 0)).reshape(-1, 1)
    price = (2.0 * x[:, 0] + 0.5 * segment[:, 0]).astype("float32")
    inp = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu", name="trunk")(inp)
    s = keras.layers.Dense(3, activation="softmax", name="segment")(h)
    p = keras.layers.Dense(1, name="price")(h)
    if as_list:  # a list: losses and targets by position
        model = keras.Model(inp, [s, p])
        model.compile("adam", loss=[seg_loss, "mse"])
        y = [segment, price]
    else:  # a dict: by output name, in an order other than model.outputs' (sorted names)
        model = keras.Model(inp, {"segment": s, "price": p})
        model.compile("adam", loss={"segment": seg_loss, "price": "mse"})
        y = {"segment": segment, "price": price}
    cb = DiagnosisCallback(logdir=tmp_path, every=1, diagnose=False)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[cb])
    cb.close()
    return read(tmp_path)[0]


@pytest.mark.keras
@pytest.mark.parametrize("as_list", [False, True])
def test_each_loss_is_described_with_its_own_output(tmp_path, as_list):
    from traindx.api import diagnose

    fixed = _two_head_run(tmp_path / "fixed", "sparse_categorical_crossentropy", as_list)
    buggy = _two_head_run(tmp_path / "buggy", "mse", as_list)
    for run, loss in ((fixed, "sparse_categorical_crossentropy"), (buggy, "mse")):
        ctx = run.context
        assert ctx.loss.name == loss
        # the classification head with its own loss, output and targets
        assert (ctx.model.output_activation, ctx.model.output_units) == ("softmax", 3)
        assert (ctx.data.task, ctx.data.num_classes) == ("classification", 3)
        assert any("describes output 'segment'" in n for n in ctx.notes)
        # the logged loss sums both heads' losses: no single head's scale (ln C) describes it
        assert ctx.flags["loss_task"] == "composite"
    fired = {r: {s.code for s in diagnose(run)[0].symptoms} for r, run in (("fixed", fixed), ("buggy", buggy))}
    assert "CTX011" not in fired["fixed"]  # the linear price head is no longer read against a cross-entropy
    assert "CTX010" not in fired["fixed"]
    assert "CTX010" in fired["buggy"]  # a regression loss on the 3-class head
    assert "LOSS010" not in fired["fixed"]  # CE + mse summed is not read against ln(C)


@pytest.mark.keras
def test_a_single_loss_on_a_two_output_model_keeps_the_first_output(tmp_path):
    """One loss for every output (Keras applies it to each): nothing to pair, the context
    describes the first output as before."""
    keras = pytest.importorskip("keras")
    from traindx.adapters._keras_stats import loss_head

    keras.backend.clear_session()
    inp = keras.Input((4,))
    a = keras.layers.Dense(2, name="b")(inp)
    b = keras.layers.Dense(1, name="a")(inp)
    model = keras.Model(inp, [a, b])
    model.compile("adam", loss="mse")
    assert loss_head(model) is None
    model.compile("adam", loss={"a": "mse", "b": "mse"})  # no classification head: the first output
    assert loss_head(model)[:2] == (0, "b")
