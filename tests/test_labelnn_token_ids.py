"""Rows of token ids are no metric space: the nearest-neighbour label facts are not recorded for
a model that reads its inputs through an embedding (adapters/_common/labelnn.drop_on_token_ids),
and ``inputs_token_ids`` says why. Real small Keras and torch runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from traindx.adapters._common.labelnn import NN_FACTS, drop_on_token_ids, nn_flags, token_id_inputs
from traindx.schema import LayerInfo, RunContext


def reviews(n: int = 256, length: int = 12, vocab: int = 500, seed: int = 0):
    """Padded 'reviews' of token ids (float32, as a CSV or pandas column hands them over) and a
    label that follows the inputs' row - the facts would be computed on them."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, length)).astype(np.float32)
    y = (x[:, 0] > vocab / 2).astype(np.int64)
    return x, y


def test_lookup_first_layer_drops_neighbour_facts():
    x, y = reviews()
    assert nn_flags(x, y)  # computed when nothing says the floats are ids
    layers = [LayerInfo(name="emb", type="Embedding", params=8000), LayerInfo(name="d", type="Dense", params=34)]
    ctx = RunContext(model={"layers": layers}, flags={**nn_flags(x, y), "split_label_tv": 0.1})
    drop_on_token_ids(ctx)
    assert ctx.flags["inputs_token_ids"] is True and ctx.flags["split_label_tv"] == 0.1
    assert not set(NN_FACTS) & set(ctx.flags) and any("token ids" in n for n in ctx.notes)
    assert token_id_inputs([LayerInfo(name="e", type="Embed", params=10)])  # flax
    assert token_id_inputs([LayerInfo(name="tok_embedding", type="embedding", params=10)])  # a JAX params key
    assert token_id_inputs([LayerInfo(name="Dense_0", type="Dense", params=9), LayerInfo(name="Embed_0", type="Embed", params=9)])
    assert token_id_inputs([LayerInfo(name="i", type="InputLayer", params=0), LayerInfo(name="e", type="EmbeddingBag", params=9)])
    dense_first = RunContext(model={"layers": [LayerInfo(name="d", type="Dense", params=9)]}, flags=nn_flags(x, y))
    drop_on_token_ids(dense_first)  # measurements: kept, and nothing added
    assert "label_nn_lift" in dense_first.flags and "inputs_token_ids" not in dense_first.flags


@pytest.mark.keras
def test_keras_embedding_on_float_ids_records_no_neighbour_facts(tmp_path):
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback

    x, y = reviews()
    model = keras.Sequential([keras.Input((12,)), keras.layers.Embedding(500, 8),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])  # fmt: skip
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    cb = DiagnosisCallback(tmp_path / "k", diagnose=False)
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, validation_split=0.25, callbacks=[cb])
    written = json.loads((tmp_path / "k" / "context.json").read_text())["flags"]
    for flags in (cb.context.flags, written):
        assert flags["inputs_token_ids"] is True and not set(NN_FACTS) & set(flags)
        assert "split_label_tv" in flags  # the class histograms do not need a distance


def test_torch_embedding_model_marks_token_ids(tmp_path):
    torch = pytest.importorskip("torch")
    from traindx.adapters.torch import Monitor

    x, y = reviews()
    xt, yt = torch.tensor(x).long(), torch.tensor(y)
    model = torch.nn.Sequential(torch.nn.Embedding(500, 8), torch.nn.Flatten(), torch.nn.Linear(96, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = torch.nn.CrossEntropyLoss()
    mon = Monitor(model, opt, crit, logdir=tmp_path / "t")
    for i in range(0, 256, 32):
        opt.zero_grad()
        loss = crit(model(xt[i : i + 32]), yt[i : i + 32])
        loss.backward()
        mon.step(loss, inputs=xt[i : i + 32], targets=yt[i : i + 32])
        opt.step()
    mon.close()
    flags = json.loads((tmp_path / "t" / "context.json").read_text())["flags"]
    assert flags["inputs_token_ids"] is True and not set(NN_FACTS) & set(flags)


def test_jax_recorder_with_embedding_params_marks_token_ids(tmp_path):
    pytest.importorskip("jax")
    nn = pytest.importorskip("flax.linen")
    import jax

    from traindx.adapters.jax import Recorder

    class Bag(nn.Module):
        @nn.compact
        def __call__(self, ids):
            return nn.Dense(2)(nn.Embed(500, 8)(ids.astype("int32")).mean(1))

    x, y = reviews()
    params = Bag().init(jax.random.PRNGKey(0), x[:2])
    rec = Recorder(tmp_path / "j", params=params, data=(x[:192], y[:192]), val_data=(x[192:], y[192:]),
                   loss="softmax_cross_entropy_with_integer_labels")  # fmt: skip
    rec.close()
    flags = json.loads((tmp_path / "j" / "context.json").read_text())["flags"]
    assert flags["inputs_token_ids"] is True and not set(NN_FACTS) & set(flags)
