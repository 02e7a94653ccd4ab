"""Keras custom training loops: LoopRecorder in a real tf.GradientTape loop (and the JAX
backend's stateless API in a subprocess) - recorded, read back, diagnosed; training left
bit-identical, no random numbers drawn, internal failures contained."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters import _keras_stats as ks  # noqa: E402
from traindx.adapters.keras import LoopRecorder  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers
BS = 64


@pytest.fixture(scope="module")
def digits():
    return scaled_digits(640)


def model_and_opt(seed=0, lr=0.05):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((64,)), L.Dense(32, activation="relu"), L.Dropout(0.2),
                              L.Dense(10)])  # fmt: skip
    return model, keras.optimizers.SGD(lr, momentum=0.9)


def loop(data, steps, rec=None, seed=0, lr=0.05, poison=None):
    model, opt = model_and_opt(seed, lr)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x_all, y_all = data
    n = len(x_all) // BS
    for i in range(steps):
        x, y = x_all[(i % n) * BS : (i % n + 1) * BS], y_all[(i % n) * BS : (i % n + 1) * BS]
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
            if poison is not None and i == poison:
                loss = loss * float("nan")
        grads = tape.gradient(loss, model.trainable_variables)
        if rec is not None:
            if callable(rec):
                rec = rec(model, opt, loss_fn)
            rec.step(loss, grads=grads, inputs=x, targets=y)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    if rec is not None:
        rec.log(val_loss=0.7, val_accuracy=0.8)
        rec.close()
    return model, rec


def test_gradient_tape_loop_is_recorded_and_diagnosed(digits, tmp_path, capsys):
    model, rec = loop(digits, 30, lambda m, o, lf: LoopRecorder(m, o, lf, logdir=tmp_path, every=5))
    (run,) = traindx.read(tmp_path)
    keys = set(run.series)
    for k in ["train/loss", "train/grad_norm", "train/lr", "train/grad_norm@dense", "train/grad_norm@dense_1",
              "train/weight_norm@dense", "train/update_ratio@dense_1", "train/act_frac_zero@dense",
              "train/pred_class_frac:max", "train/input_mean", "val/loss", "val/accuracy"]:  # fmt: skip
        assert k in keys, k
    assert list(run.series["train/loss"].steps) == list(range(30))
    assert len(run.series["train/grad_norm"]) == 30  # the loop's own gradients, every step
    assert len(run.series["train/grad_norm@dense"]) == 6
    assert run.series["val/loss"].steps[-1] == 29
    # the loss as given, step by step (not de-averaged), and the gradient norm of those grads
    assert run.series["train/loss"].values[0] == pytest.approx(np.log(10), rel=0.3)
    c = run.context
    assert (c.framework, c.loss.name, c.optimizer.name, c.optimizer.lr, c.optimizer.momentum) == (
        "keras", "sparse_categorical_crossentropy", "sgd", pytest.approx(0.05), pytest.approx(0.9))  # fmt: skip
    assert (c.data.task, c.data.num_classes, c.model.output_units) == ("classification", 10, 10)
    assert any(
        n.startswith("traindx keras loop recorder (tensorflow backend): 30 steps") for n in c.notes
    )
    assert c.flags["params_without_grad"] == 0.0
    diag = traindx.diagnose(tmp_path)[0]
    assert diag.framework == "keras" and not diag.missing
    from traindx.cli import main

    assert main(["diagnose", str(tmp_path)]) in (0, 1)
    assert tmp_path.name in capsys.readouterr().out


def rng_state():
    from keras.src.backend.common import global_state

    gen = global_state.get_global_attribute("global_seed_generator")
    return (np.random.get_state()[1].copy(), random.getstate(),
            None if gen is None else np.asarray(gen.state.value).copy())  # fmt: skip


def test_training_is_bit_identical_and_draws_no_random_numbers(digits, tmp_path):
    ref, _ = loop(digits, 20)
    r0 = rng_state()
    model, _ = loop(digits, 20, lambda m, o, lf: LoopRecorder(m, o, lf, logdir=tmp_path, every=1))
    r1 = rng_state()
    assert all(
        np.array_equal(a, b) for a, b in zip(ref.get_weights(), model.get_weights(), strict=True)
    )
    assert np.array_equal(r0[0], r1[0]) and r0[1] == r1[1]
    assert (r0[2] is None and r1[2] is None) or np.array_equal(r0[2], r1[2])


def test_internal_failure_is_contained(digits, tmp_path, monkeypatch):
    ref, _ = loop(digits, 12)

    def boom(*a, **kw):
        raise ValueError("boom")

    monkeypatch.setattr(ks, "grad_vec", boom)
    with pytest.warns(
        RuntimeWarning, match="^traindx: the keras loop recorder turned itself off"
    ) as rec:
        model, r = loop(
            digits, 12, lambda m, o, lf: LoopRecorder(m, o, lf, logdir=tmp_path, every=1)
        )
    assert len([w for w in rec if str(w.message).startswith("traindx:")]) == 1
    assert not r.enabled
    assert all(
        np.array_equal(a, b) for a, b in zip(ref.get_weights(), model.get_weights(), strict=True)
    )


def test_nonfinite_loss_warns_once_or_stops(digits, tmp_path):
    from traindx.adapters._common import TrainingDiverged

    with pytest.warns(RuntimeWarning, match="training loss is nan at step 3") as rec:
        loop(
            digits,
            8,
            lambda m, o, lf: LoopRecorder(m, o, lf, logdir=tmp_path / "w", diagnose=False),
            poison=3,
        )
    assert len([w for w in rec if "is nan" in str(w.message)]) == 1
    with pytest.raises(TrainingDiverged, match="step 3"):
        loop(digits, 8, lambda m, o, lf: LoopRecorder(m, o, lf, logdir=tmp_path / "s", on_fatal="stop",
                                                      diagnose=False), poison=3)  # fmt: skip


JAX_LOOP = textwrap.dedent("""
    import os, sys
    os.environ["KERAS_BACKEND"] = "jax"
    import jax, keras, numpy as np
    from traindx.adapters.keras import LoopRecorder
    import traindx
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
    opt = keras.optimizers.Adam(1e-2); opt.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    def compute(tv, ntv, xb, yb):
        out, ntv = model.stateless_call(tv, ntv, xb, training=True)
        return loss_fn(yb, out), ntv
    grad_fn = jax.value_and_grad(compute, has_aux=True)
    tv = [v.value for v in model.trainable_variables]; ntv = [v.value for v in model.non_trainable_variables]
    ov = [v.value for v in opt.variables]
    rec = LoopRecorder(model, opt, loss_fn, logdir=sys.argv[1], every=4)
    for i in range(16):
        xb, yb = x[i % 8 * 32:(i % 8 + 1) * 32], y[i % 8 * 32:(i % 8 + 1) * 32]
        (loss, ntv), grads = grad_fn(tv, ntv, xb, yb)
        for v, val in zip(model.trainable_variables, tv):  # the recorder reads the variables
            v.assign(val)
        rec.step(loss, grads=grads, inputs=xb, targets=yb)
        tv, ov = opt.stateless_apply(ov, grads, tv)
    rec.close()
    (run,) = traindx.read(sys.argv[1])
    print(len(run.series["train/loss"]), len(run.series["train/grad_norm"]), "train/grad_norm@dense" in run.series)
""")


@pytest.mark.slow
def test_jax_backend_stateless_loop(tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": os.getcwd()}
    r = subprocess.run([sys.executable, "-c", JAX_LOOP, str(tmp_path)], capture_output=True, text=True,
                       env=env, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-3:] == ["16", "16", "True"]
