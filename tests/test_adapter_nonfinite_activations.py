"""Activation statistics are recorded only from finite samples, in every adapter (issue 10).

Once a layer's bias is -inf, its ReLU outputs 0 for every input: a fraction of zero outputs of 1
computed from non-finite weights would read as dead units (dying_relu) where the weights blew
up. Each adapter leaves out that layer sample (and says so in a note); the samples before stay.
Real frameworks, the same fault in each: the first layer's bias set to -inf between steps.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest
from digits import scaled_digits

from traindx.adapters._common.activations import (
    finite_activation_block,
    finite_activation_values,
    nonfinite_act_mask,
    note_left_out,
)

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
BS = 64
NOTE_HEAD = "activation statistics left out at "


@pytest.fixture(scope="module")
def digits():
    return scaled_digits(640)


def _read(logdir):
    import traindx

    (run,) = traindx.read(logdir)
    return run


# --------------------------------------------------------------------------- the shared helper


def test_mask_leaves_out_a_layer_whose_own_sample_is_not_finite():
    tags = ("train/loss", "train/act_mean@a", "train/act_frac_zero@a", "train/act_mean@b", "train/act_frac_zero@b")
    mat = np.array([[0.5, 0.1, 0.2, 0.3, 0.4], [0.5, math.nan, 0.0, 0.3, 0.4]])
    m = nonfinite_act_mask(tags, mat)
    assert m.tolist() == [[False] * 5, [False, True, True, False, False]]


def test_mask_leaves_out_every_layer_when_the_weights_are_not_finite():
    vals = {"train/weight_norm": math.inf, "train/act_mean@a": 0.0, "train/act_frac_zero@a": 1.0, "train/loss": 2.3}
    kept, n = finite_activation_values(vals)
    assert kept == {"train/weight_norm": math.inf, "train/loss": 2.3} and n == 1
    same, n0 = finite_activation_values({"train/weight_norm": 3.0, "train/act_frac_zero@a": 1.0})
    assert n0 == 0 and same == {"train/weight_norm": 3.0, "train/act_frac_zero@a": 1.0}


def test_block_keeps_the_finite_rows_of_each_activation_column():
    steps, walls = np.array([0, 5, 10]), np.array([1.0, 2.0, 3.0])
    tags = ("train/weight_norm", "train/act_frac_zero@a")
    mat = np.array([[1.0, 0.1], [2.0, 0.2], [math.inf, 1.0]])
    blocks, n = finite_activation_block(steps, walls, tags, mat)
    assert n == 1
    by_tag = {b[2]: (b[0].tolist(), b[3][:, 0].tolist()) for b in blocks}
    assert by_tag[("train/weight_norm",)] == ([0, 5, 10], [1.0, 2.0, math.inf])
    assert by_tag[("train/act_frac_zero@a",)] == ([0, 5], [0.1, 0.2])
    same, n0 = finite_activation_block(steps[:2], walls[:2], tags, mat[:2])
    assert n0 == 0 and len(same) == 1


def test_one_note_counts_every_sample_left_out():
    notes = ["other"]
    note_left_out(notes, 0)
    assert notes == ["other"]
    note_left_out(notes, 2)
    note_left_out(notes, 3)
    assert len(notes) == 2 and notes[1].startswith(NOTE_HEAD + "5 ")


# --------------------------------------------------------------------------- torch


@pytest.mark.torch
def test_torch_records_no_dead_units_from_infinite_weights(digits, tmp_path):
    torch = pytest.importorskip("torch")
    from torch import nn

    from traindx.adapters.torch import Monitor

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x_all, y_all = torch.tensor(digits[0]), torch.tensor(digits[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the non-finite weights' own warning
        with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=4) as mon:
            for i in range(12):
                if i == 6:
                    with torch.no_grad():
                        model[0].bias.fill_(-math.inf)  # every pre-activation -inf: the ReLU outputs 0
                x, y = x_all[i * BS : (i + 1) * BS], y_all[i * BS : (i + 1) * BS]
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                mon.step(loss, inputs=x, targets=y)
                opt.step()
    run = _read(tmp_path)
    w = run.series["train/weight_norm"]
    assert list(w.steps) == [0, 4, 8] and not np.isfinite(w.values[-1])
    zero = run.series["train/act_frac_zero@1"]
    assert list(zero.steps) == [0, 4] and np.all(np.asarray(zero.values) < 1.0)
    assert list(run.series["train/act_mean@2"].steps) == [0, 4]
    assert any(n.startswith(NOTE_HEAD) for n in run.context.notes)


# --------------------------------------------------------------------------- Keras


@pytest.mark.keras
def test_keras_records_no_dead_units_from_infinite_weights(digits, tmp_path):
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])

    class Blowup(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 5:
                b = model.layers[0].bias
                b.assign(np.full(b.shape, -np.inf, dtype="float32"))

    cb = DiagnosisCallback.from_arrays(*digits, logdir=tmp_path, every=2)
    model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(*digits, epochs=1, batch_size=BS, verbose=0, callbacks=[Blowup(), cb])
    run = _read(tmp_path)
    w = run.series["train/weight_norm"]
    bad = [int(s) for s, v in zip(w.steps, w.values, strict=True) if not np.isfinite(v)]
    assert bad and min(bad) >= 5
    zero = run.series["train/act_frac_zero@dense"]
    assert len(zero) and max(zero.steps) < min(bad) and np.all(np.asarray(zero.values) < 1.0)
    assert any(n.startswith(NOTE_HEAD) for n in run.context.notes)


# --------------------------------------------------------------------------- JAX


@pytest.mark.jax
def test_jax_records_no_dead_units_from_infinite_weights(digits, tmp_path):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jnp = jax.numpy
    from traindx.adapters.jax import Recorder, telemetry

    k0, k1 = jax.random.split(jax.random.PRNGKey(0))
    p = {"params": {"Dense_0": {"kernel": jax.random.normal(k0, (64, 32)) * 0.18, "bias": jnp.zeros(32)},
                    "Dense_1": {"kernel": jax.random.normal(k1, (32, 10)) * 0.25, "bias": jnp.zeros(10)}}}  # fmt: skip
    tx = optax.sgd(0.05)

    def loss_fn(p, x, y):
        h = jax.nn.relu(x @ p["params"]["Dense_0"]["kernel"] + p["params"]["Dense_0"]["bias"])
        z = h @ p["params"]["Dense_1"]["kernel"] + p["params"]["Dense_1"]["bias"]
        return optax.softmax_cross_entropy_with_integer_labels(z, y).mean(), (z, h)

    @jax.jit
    def step(p, s, x, y):
        (loss, (z, h)), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
        u, s = tx.update(g, s, p)
        st = telemetry(grads=g, params=p, updates=u, loss=loss, activations={"relu0": h}, logits=z, labels=y, inputs=x)
        return optax.apply_updates(p, u), s, st

    s = tx.init(p)
    x_all, y_all = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rec = Recorder(tmp_path, params=p, optimizer=tx, fetch_every=4)
        for i in range(10):
            if i == 6:
                p["params"]["Dense_0"]["bias"] = jnp.full(32, -jnp.inf)
            x, y = jnp.asarray(x_all[i * BS : (i + 1) * BS]), jnp.asarray(y_all[i * BS : (i + 1) * BS].astype(np.int32))
            p, s, st = step(p, s, x, y)
            rec.log(i, st)
        rec.close()
    run = _read(tmp_path)
    w = run.series["train/weight_norm"]
    assert list(w.steps) == list(range(10)) and not np.isfinite(w.values[6]) and np.all(np.isfinite(w.values[:6]))
    zero = run.series["train/act_frac_zero@relu0"]
    assert list(zero.steps) == list(range(6)) and np.all(np.asarray(zero.values) < 1.0)
    assert any(n.startswith(NOTE_HEAD) for n in run.context.notes)


# --------------------------------------------------------------------------- older recordings


def _layer_run(weight_norm, frac_zero, act_mean=None):
    from traindx.schema import Run, RunContext, Series, SeriesKey

    run = Run(id="case", context=RunContext.model_validate({}))
    n = len(weight_norm)
    series = {"train/weight_norm": weight_norm, "train/act_frac_zero@relu": frac_zero,
              "train/act_mean@relu": act_mean if act_mean is not None else [0.5] * n}  # fmt: skip
    for key_text, values in series.items():
        run.add(Series(key=SeriesKey.parse(key_text), steps=np.arange(n, dtype=np.int64) * 10,
                       values=np.asarray(values, dtype=float), unit="step"))  # fmt: skip
    return run


def test_dead_units_are_read_only_from_finite_samples_of_older_recordings():
    """A run recorded before the adapters left them out: the samples at blown-up weights (or
    with a non-finite activation mean) are not read as dead units."""
    from traindx.signals.layers import layer_facts

    blown = _layer_run([3.0, 3.1, 3.2, 3.3, math.nan, math.inf, math.nan, math.nan], [0.1] * 4 + [1.0] * 4)
    assert layer_facts(blown)["dead_frac_max"] == pytest.approx(0.1)
    nan_acts = _layer_run([3.0] * 8, [0.1] * 4 + [1.0] * 4, [0.5] * 4 + [math.nan] * 4)
    assert layer_facts(nan_acts)["dead_frac_max"] == pytest.approx(0.1)
    dead = _layer_run([3.0] * 8, [0.1] * 4 + [1.0] * 4)  # finite weights: dead units are a fact
    assert layer_facts(dead)["dead_frac_max"] == pytest.approx(1.0)
