"""The Keras adapter: it never changes training, it records what the rules read (the same tags
and context fields as the PyTorch monitor), and the faults it exists for show up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters import _keras_stats as ks  # noqa: E402
from traindx.adapters._common import init_scale_flags  # noqa: E402
from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


@pytest.fixture(scope="module")
def digits():
    return scaled_digits(640)


def mlp(out_act=None, bn=False, dropout=0.0, seed=0, hidden=32):
    keras.backend.clear_session()  # layer names from dense, dense_1...
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((64,)), L.Dense(hidden, activation=None if bn else "relu")]
    if bn:
        layers += [L.BatchNormalization(), L.ReLU()]
    if dropout:
        layers.append(L.Dropout(dropout))
    layers.append(L.Dense(10, activation=out_act))
    return keras.Sequential(layers)


def fit(model, data, cb=None, epochs=2, loss=None, opt=None, metrics=("accuracy",), **kw):
    x, y = data
    model.compile(opt or keras.optimizers.Adam(1e-2),
                  loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=list(metrics))  # fmt: skip
    kw.setdefault("batch_size", 64)
    return model.fit(x, y, epochs=epochs, verbose=0, callbacks=[cb] if cb is not None else [], **kw)


def run_of(logdir):
    (run,) = traindx.read(logdir)
    return run


def codes(diagnosis):
    return {s.code for s in diagnosis.symptoms}


# --------------------------------------------------------------------------- no effect + read back


@pytest.fixture(scope="module")
def reference(digits):
    """BN + dropout model trained without the callback: weights and the next random draw."""
    model = mlp(bn=True, dropout=0.3, seed=1)
    fit(model, digits, validation_split=0.25)
    return [w.copy() for w in model.get_weights()], np.asarray(keras.random.uniform((4,)))


@pytest.fixture(scope="module")
def monitored(digits, reference, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("keras") / "run"
    model = mlp(bn=True, dropout=0.3, seed=1)
    cb = DiagnosisCallback.from_arrays(*digits, logdir=logdir, every=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a callback that turns itself off fails
        fit(model, digits, cb, validation_split=0.25)
    return model, cb, logdir


def test_training_is_bit_identical(monitored, reference):
    model, cb, _ = monitored
    w0, rng0 = reference
    assert cb.enabled
    assert all(np.array_equal(a, b) for a, b in zip(w0, model.get_weights(), strict=True))
    assert np.array_equal(rng0, np.asarray(keras.random.uniform((4,))))  # the global seed generator


def test_run_directory_reads_back(monitored):
    _, cb, logdir = monitored
    run = run_of(logdir)
    keys = set(run.series)
    for k in ("train/loss", "train/accuracy", "train/lr", "val/loss", "val/accuracy", "train/grad_norm",
              "train/weight_norm", "train/update_ratio", "train/input_mean", "train/input_max",
              "train/pred_class_frac:max", "train/nonfinite@inputs"):  # fmt: skip
        assert k in keys, k
    for layer in ("dense", "dense_1"):
        assert {
            f"train/grad_norm@{layer}",
            f"train/weight_norm@{layer}",
            f"train/update_ratio@{layer}",
        } <= keys
    assert "train/act_frac_zero@re_lu" in keys and "train/act_mean@batch_normalization" in keys
    assert not any(k.startswith("train/act_mean@dropout") for k in keys)  # dropout output: skipped
    loss = run.series["train/loss"]
    n_steps = 2 * int(np.ceil(480 / 64))
    assert list(loss.steps) == list(range(n_steps)) and loss.unit == "step"
    assert list(run.series["val/loss"].steps) == [n_steps // 2 - 1, n_steps - 1]
    assert run.series["train/grad_norm"].steps[0] == 0  # probe at the initial weights too
    c = run.context
    assert c.framework == "keras" and c.flags["keras_backend"] == keras.backend.backend()
    assert c.model.output_activation == "linear" and c.model.output_units == 10
    assert c.model.has_batchnorm and c.model.has_dropout and c.model.training_mode is True
    assert [la.name for la in c.model.layers][:2] == ["dense", "batch_normalization"]
    assert (
        c.loss.name == "sparse_categorical_crossentropy"
        and c.loss.from_logits
        and c.loss.expects == "logits"
    )
    assert (
        c.optimizer.name == "adam"
        and c.optimizer.lr == pytest.approx(1e-2)
        and c.optimizer.eps == pytest.approx(1e-7)
    )
    d = c.data
    assert (
        d.num_classes == 10
        and d.task == "classification"
        and d.n_train == 480  # validation_split: fit's own x holds 480 of the 640 rows
        and d.batch_size == 64
    )
    assert any("validation_split" in n for n in c.notes)
    assert sum(d.class_counts) == 640 and d.input_max == 1.0 and c.flags["input_nonfinite"] == 0
    assert c.flags["params_without_grad"] == 0 and c.flags["grad_accumulating"] is False
    assert any("training=False" in n for n in c.notes)
    assert (logdir / "diagnosis.txt").exists() and json.loads(
        (logdir / "diagnosis.json").read_text()
    )["run_id"]
    assert cb.diagnosis is not None and cb.diagnosis.framework == "keras"
    # the terminal report (traindx/report/text.py), not the model's repr
    assert " ".join(cb.diagnosis.headline.split()) in " ".join((logdir / "diagnosis.txt").read_text().split())


def test_batch_losses_are_de_averaged_exactly(digits, tmp_path):
    """With a zero learning rate every batch's loss is the frozen model's loss on that batch:
    the per-batch values recovered from Keras' running means must match, the smaller last
    batch (200 = 3 x 64 + 8) included."""
    x, y = digits[0][:200], digits[1][:200]
    model = mlp(seed=3)
    cb = DiagnosisCallback.from_arrays(x, y, logdir=tmp_path, every=1000, diagnose=False)
    fit(model, (x, y), cb, epochs=1, opt=keras.optimizers.SGD(0.0), shuffle=False)
    got = run_of(tmp_path).series["train/loss"].values
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    want = [float(ce(y[i : i + 64], model(x[i : i + 64]))) for i in range(0, 200, 64)]
    np.testing.assert_allclose(got, want, rtol=2e-5)


def test_shuffled_dataset_is_not_peeked(digits, tmp_path):
    """Iterating a shuffled tf.data pipeline advances its reshuffle state: the callback must
    leave it alone (and say so), or fit would see other batches than without it."""
    tf = pytest.importorskip("tensorflow")
    x, y = digits[0][:256], digits[1][:256]

    def train(cb):
        model = mlp(seed=4)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(256, seed=0).batch(64)
        if cb is not None:
            cb._train_data = ds
        model.compile(
            keras.optimizers.Adam(1e-2),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[cb] if cb is not None else [])
        return model.get_weights()

    cb = DiagnosisCallback(tmp_path, probe=(x[:64], y[:64]), diagnose=False)
    w0, w1 = train(None), train(cb)
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1, strict=True))
    assert any("was not peeked at" in n for n in cb.context.notes)


# --------------------------------------------------------------------------- faults visible


def fault_run(digits, tmp_path, model, **kw):
    x, y = kw.pop("data", digits)
    cb = DiagnosisCallback(tmp_path, probe=(x[:128], y[:128]), every=4)
    fit(model, (x, y), cb, epochs=1, **kw)
    return run_of(tmp_path), cb.diagnosis


def test_relu_on_logits_output(digits, tmp_path):
    run, d = fault_run(digits, tmp_path, mlp(out_act="relu"))
    assert run.context.model.output_activation == "relu" and run.context.loss.expects == "logits"
    assert "CTX002" in codes(d)
    assert "train/act_frac_zero@dense_1" in run.series  # the output layer's dead logits


@pytest.mark.filterwarnings("ignore:.*from_logits=True.*:UserWarning")
def test_softmax_with_from_logits_is_recovered_by_keras(digits, tmp_path):
    run, d = fault_run(digits, tmp_path, mlp(out_act="softmax"))
    c = run.context
    assert c.model.output_activation == "softmax" and c.loss.expects == "logits"
    assert c.flags["softmax_logits_recovered"] is True  # TensorFlow backend
    assert not any("softmax" in n for n in c.notes)  # a fact, not a judgment in prose
    assert "CTX001" not in codes(d)
    assert "train/output_row_sum" in run.series


def test_mse_on_one_hot_behind_softmax(digits, tmp_path):
    x, y = digits
    onehot = np.eye(10, dtype="float32")[y]
    run, d = fault_run(digits, tmp_path, mlp(out_act="softmax"), data=(x, onehot), loss="mse",
                       metrics=("categorical_accuracy",))  # fmt: skip
    c = run.context
    assert c.loss.name == "mse" and c.loss.expects == "values"
    assert c.data.num_classes == 10 and c.data.task == "classification"
    assert c.flags["broadcast_in_loss"] is False
    f = d.facts["ctx"]  # what the wrong_loss_function evidence reads
    assert (
        f["loss_name"] == "mse" and f["num_classes"] == 10 and f["output_activation"] == "softmax"
    )


# --------------------------------------------------------------------------- weight and target facts


def flags_of(digits, tmp_path, layers, y=None, loss=None, opt=None, **kw):
    """Train ``keras.Sequential([Input((64,)), *layers()])`` for one epoch through the
    callback; the context it wrote (``layers`` is called after the session is cleared, so the
    layer names start at ``dense``)."""
    x, y0 = digits
    y = y0 if y is None else y
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((64,)), *layers()])
    cb = DiagnosisCallback.from_arrays(x, y, logdir=tmp_path, diagnose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit(model, (x, y), cb, epochs=1, loss=loss, opt=opt, **kw)
    assert cb.enabled
    return run_of(tmp_path).context  # what was written to context.json


@pytest.mark.parametrize(
    ("init", "lo", "hi"),
    [
        ("glorot_uniform", 0.5, 1.4),
        ("he_normal", 1.25, 1.6),
        ("zeros", 0.0, 0.0),
        (keras.initializers.Constant(0.3), 0.0, 0.0),
        (keras.initializers.RandomNormal(stddev=2.0), 14.0, 18.5),
    ],
    ids=["glorot", "he", "zeros", "constant", "normal_std2"],
)
def test_init_scale(digits, tmp_path, init, lo, hi):
    """std(w) * sqrt(fan_in) of the hidden kernel (fan_in 64) at the initial weights; the
    output layer's kernel (Glorot) is not counted."""
    c = flags_of(digits, tmp_path,
                 lambda: [L.Dense(32, activation="relu", kernel_initializer=init), L.Dense(10)])  # fmt: skip
    f = c.flags
    assert lo <= f["init_scale_min"] <= f["init_scale_max"] <= hi + 1e-9
    assert f["init_scale_layer"] == "dense"  # the only hidden kernel; dense_1 is the output


def test_init_scale_conv_layout_and_extreme_layer(digits, tmp_path):
    """Conv kernel [3, 3, 1, 8]: fan_in 9; the layer furthest from 1 (log terms) is named;
    embedding tables and the output layer's kernel are left out."""
    normal = keras.initializers.RandomNormal

    def layers():
        return [
            L.Reshape((8, 8, 1)),
            L.Conv2D(8, 3, kernel_initializer=normal(stddev=1.0 / 3.0)),  # s = 1
            L.Flatten(),
            L.Dense(16, kernel_initializer=normal(stddev=4.0 / 288**0.5)),  # s = 4
            L.Dense(10, kernel_initializer="zeros"),  # the output: not counted
        ]

    f = flags_of(digits, tmp_path, layers).flags
    # conv: fan_in 3*3*1 = 9, std 1/3 -> 1; dense: fan_in 6*6*8 = 288, std 4/sqrt(288) -> 4
    assert f["init_scale_min"] == pytest.approx(1.0, rel=0.1)
    assert f["init_scale_max"] == pytest.approx(4.0, rel=0.1)
    assert f["init_scale_layer"] == "dense"
    keras.backend.clear_session()
    scales = dict(ks.init_scales(keras.Sequential([
        keras.Input((5,), dtype="int32"), L.Embedding(100, 16, embeddings_initializer="zeros"),
        L.Flatten(), L.Dense(8, kernel_initializer="zeros"), L.Dense(3),
    ]), None))  # fmt: skip
    assert scales == {"dense": 0.0}  # no embedding table, no output kernel


def test_regularization_flags(digits, tmp_path):
    """l2_max: the largest L2 factor of any weight regularizer; reg_loss_share: the penalty
    (sum of model.losses) at the initial weights over the first logged training loss (which
    includes it)."""

    def layers():
        return [
            L.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.L2(0.1),
                    bias_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.2)),
            L.Dense(10),
        ]  # fmt: skip

    c = flags_of(digits, tmp_path, layers)
    f = c.flags
    assert f["l2_max"] == pytest.approx(0.2)
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)  # the same initial weights: the penalty the callback saw
    m = keras.Sequential([keras.Input((64,)), *layers()])
    pen = float(sum(float(v) for v in m.losses))
    first = run_of(tmp_path).series["train/loss"].values[0]
    assert 0.1 < f["reg_loss_share"] < 1.0
    assert f["reg_loss_share"] == pytest.approx(pen / first, rel=1e-3)
    # an L2 regularizer is not the optimizer's weight decay (issue 10: L2(0.5) shown as "weight decay 1")
    assert c.optimizer.weight_decay is None and c.hyperparameters["l2"] == pytest.approx(0.1)


def test_init_scale_skipped_for_trained_weights(digits, tmp_path):
    """A second fit (same optimizer, which has taken steps) with a new callback does not
    start from the initial weights."""
    model = mlp(seed=8)
    fit(model, digits, epochs=1)
    cb = DiagnosisCallback.from_arrays(*digits, logdir=tmp_path, diagnose=False)
    model.fit(*digits, epochs=1, batch_size=64, verbose=0, callbacks=[cb])
    c = run_of(tmp_path).context
    assert "init_scale_min" not in c.flags and "reg_loss_share" not in c.flags
    assert c.flags["l2_max"] == 0.0
    assert any(n.startswith("init_scale not recorded") for n in c.notes)


def test_no_regularization_and_adamw_weight_decay(digits, tmp_path):
    c = flags_of(digits, tmp_path, lambda: [L.Dense(32, activation="relu"), L.Dense(10)],
                 opt=keras.optimizers.AdamW(1e-3, weight_decay=0.05))  # fmt: skip
    assert c.flags["l2_max"] == 0.0 and c.flags["reg_loss_share"] == 0.0
    assert c.optimizer.name == "adamw" and c.optimizer.weight_decay == pytest.approx(0.05)


def test_dropout_rate_is_recorded(digits, tmp_path):
    """dropout_max: the largest rate of a Dropout layer (issue 10: Dropout(0.9) read as dying
    ReLU because only has_dropout was recorded); 0.0 without any."""
    c = flags_of(digits, tmp_path / "d", lambda: [L.Dense(32, activation="relu"), L.Dropout(0.9),
                                                  L.Dense(32, activation="relu"), L.Dropout(0.2), L.Dense(10)])  # fmt: skip
    assert c.flags["dropout_max"] == pytest.approx(0.9) and c.model.has_dropout
    c = flags_of(digits, tmp_path / "none", lambda: [L.Dense(32, activation="relu"), L.Dense(10)])
    assert c.flags["dropout_max"] == 0.0


def test_validation_rows_in_training_seen_without_train_data(digits, tmp_path):
    """The README's usage passes no train_data: the callback reads x and the validation
    arrays from the fit call (read only) and counts the validation rows that are training
    rows - an oversampled set split after the oversampling leaks, a validation_split does not."""
    x, y = digits
    dup = np.concatenate([x, x[:320]]), np.concatenate([y, y[:320]])  # oversampled before the split
    rng = np.random.default_rng(0)
    order = rng.permutation(len(dup[0]))
    xs, ys = dup[0][order], dup[1][order]
    cut = int(0.8 * len(xs))
    model = mlp(seed=4)
    cb = DiagnosisCallback(tmp_path / "leak", probe=(xs[cut:][:64], ys[cut:][:64]), diagnose=False)
    fit(model, (xs[:cut], ys[:cut]), cb, epochs=1, validation_data=(xs[cut:], ys[cut:].copy()))
    leak = run_of(tmp_path / "leak").context.flags["val_shared_frac"]
    expected = np.mean([any(np.array_equal(v, t) for t in xs[:cut]) for v in xs[cut:]])
    assert leak == pytest.approx(expected) and leak > 0.2
    model = mlp(seed=4)
    cb = DiagnosisCallback(tmp_path / "split", probe=(x[:64], y[:64]), diagnose=False)
    fit(model, digits, cb, epochs=1, validation_split=0.25)
    assert run_of(tmp_path / "split").context.flags["val_shared_frac"] == 0.0
    assert run_of(tmp_path / "split").context.flags["loss_class_weighted"] is False
    model = mlp(seed=4)  # no validation data: no fact; fit's class_weight is read too
    cb = DiagnosisCallback(tmp_path / "none", probe=(x[:64], y[:64]), diagnose=False)
    fit(model, digits, cb, epochs=1, class_weight={i: 1.0 + i for i in range(10)})
    flags = run_of(tmp_path / "none").context.flags
    assert "val_shared_frac" not in flags and flags["loss_class_weighted"] is True
    rare = (y == 0).astype(y.dtype)  # about 10 % in class 1, weighted 9 times class 0
    model = mlp(seed=4)
    cb = DiagnosisCallback(tmp_path / "rare", probe=(x[:64], rare[:64]), diagnose=False)
    fit(model, (x, rare), cb, epochs=1, class_weight={0: 1.0, 1: 9.0})
    assert run_of(tmp_path / "rare").context.flags["loss_minority_weight_ratio"] == pytest.approx(9.0)


@pytest.mark.filterwarnings("ignore:traindx. weights are non-finite:RuntimeWarning")
def test_nonfinite_training_rows_outside_the_probe_are_counted(digits, tmp_path):
    """With only a probe batch given, the NaN/inf values of the training arrays fit was given
    are counted (read from fit's frame, never changed): one NaN row far from the probe rows
    made input_nonfinite 0 before (the corpus's probe-argument runs with NaN data). The NaN
    row makes the weights NaN: a per-layer sample after it says so (the warning)."""
    x, y = digits
    bad = x.copy()
    bad[500, 3] = np.nan
    cb = DiagnosisCallback(tmp_path / "nan", probe=(x[:64], y[:64]), diagnose=False)
    fit(mlp(seed=5), (bad, y), cb, epochs=1)
    assert np.isnan(bad[500, 3]) and np.isfinite(np.delete(bad, 500, axis=0)).all()  # untouched
    assert run_of(tmp_path / "nan").context.flags["input_nonfinite"] == 1.0
    cb = DiagnosisCallback(tmp_path / "clean", probe=(x[:64], y[:64]), diagnose=False)
    fit(mlp(seed=5), digits, cb, epochs=1)
    assert run_of(tmp_path / "clean").context.flags["input_nonfinite"] == 0.0


@pytest.mark.filterwarnings("ignore:traindx. weights are non-finite:RuntimeWarning")
def test_nonfinite_rows_at_the_end_of_unseen_data_are_never_counted_as_zero(digits, tmp_path):
    """Issue 10: a shuffled tf.data pipeline (never peeked at) whose last rows hold NaN, and a
    clean probe: the callback saw no training row, so input_nonfinite is absent (it was 0, the
    probe's count, read as "no NaN in the inputs"); with the NaN rows in fit's NumPy arrays,
    or given as train_data, every row is counted."""
    tf = pytest.importorskip("tensorflow")
    x, y = digits
    bad = x.copy()
    bad[-3:, 5] = np.nan  # the last three rows only
    ds = tf.data.Dataset.from_tensor_slices((bad, y)).shuffle(len(bad), seed=0).batch(64)
    cb = DiagnosisCallback(tmp_path / "ds", probe=(x[:64], y[:64]), diagnose=False)
    model = mlp(seed=6)
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[cb])
    c = run_of(tmp_path / "ds").context
    assert "input_nonfinite" not in c.flags
    assert any(n.startswith("input_nonfinite not recorded") for n in c.notes)
    cb = DiagnosisCallback(tmp_path / "np", probe=(x[:64], y[:64]), diagnose=False)
    fit(mlp(seed=6), (bad, y), cb, epochs=1)
    assert run_of(tmp_path / "np").context.flags["input_nonfinite"] == 3.0
    cb = DiagnosisCallback.from_arrays(bad, y, logdir=tmp_path / "all", diagnose=False)
    fit(mlp(seed=6), (bad, y), cb, epochs=1)
    assert run_of(tmp_path / "all").context.flags["input_nonfinite"] == 3.0
    assert np.isnan(bad[-3:, 5]).all() and np.isfinite(bad[:-3]).all()  # the user's data untouched


def test_nonfinite_count_reads_every_row_in_slices(monkeypatch):
    """All rows are counted (the first 200,000 only before), in slices that keep the mask small."""
    from traindx.adapters import _keras_leak

    a = np.zeros((300_001, 3), dtype="float32")
    a[-1, 2], a[0, 0] = np.inf, np.nan
    assert _keras_leak.nonfinite_count(a, np.arange(3)) == 2.0
    monkeypatch.setattr(_keras_leak, "_CHUNK", 30)  # 10 rows a slice
    b = np.zeros((25, 3), dtype="float64")
    b[9, 2], b[10, 0], b[24, 1] = (
        np.nan,
        -np.inf,
        np.nan,
    )  # both sides of a slice's edge, the last row
    assert _keras_leak.nonfinite_count(b, a[:5]) == 4.0
    assert _keras_leak.nonfinite_count(np.array(np.nan, dtype="float32")) == 1.0
    assert _keras_leak.nonfinite_count(np.arange(3)) is None


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights:UserWarning")
def test_whole_model_frozen_reads_as_gradients_not_flowing(digits, tmp_path):
    """model.trainable = False before compile: no trainable weights, so no gradient is
    computed - the vocabulary's frozen parameters (gradients_not_flowing), not gradients
    computed and never applied (updates_not_applied, told by the torch Monitor's
    params_not_in_optimizer)."""
    model = mlp(seed=3)
    model.trainable = False
    x, y = digits
    cb = DiagnosisCallback(tmp_path, probe=(x[:128], y[:128]), every=4)
    fit(model, digits, cb, epochs=3)
    run = run_of(tmp_path)
    assert run.context.model.num_trainable == 0
    d = cb.diagnosis
    assert "CTX013" in codes(d)
    assert d.causes[0].id == "gradients_not_flowing"


def test_target_flags_integer_labels(digits, tmp_path):
    f = flags_of(digits, tmp_path, lambda: [L.Dense(10)]).flags
    assert (
        f["target_integer"] is True and f["target_distinct"] == 10 and f["target_onehot"] is False
    )


def test_target_flags_float_regression(digits, tmp_path):
    x, _ = digits
    y = (x[:, 20:21] * 3.3 + 0.1).astype("float32")  # (N, 1) real-valued
    f = flags_of(
        digits, tmp_path, lambda: [L.Dense(8), L.Dense(1)], y=y, loss="mse", metrics=()
    ).flags
    assert (
        f["target_integer"] is False and f["target_distinct"] > 10 and f["target_onehot"] is False
    )
    # the targets' range: a sigmoid/tanh output that cannot reach it is judged by CTX002
    assert f["target_min"] == pytest.approx(float(y.min())) and f["target_max"] == pytest.approx(float(y.max()))


def test_target_flags_integer_valued_floats(digits, tmp_path):
    """Class ids stored as float32 are still integer-valued."""
    _, y = digits
    f = flags_of(
        digits, tmp_path, lambda: [L.Dense(1)], y=y.astype("float32"), loss="mse", metrics=()
    ).flags
    assert f["target_integer"] is True and f["target_distinct"] == 10


def test_bce_on_ten_one_hot_classes_behind_softmax(digits, tmp_path):
    """The wrong_loss_function (binary_crossentropy for 10 classes) context the rules read."""
    _, y = digits
    onehot = np.eye(10, dtype="float32")[y]
    c = flags_of(digits, tmp_path, lambda: [L.Dense(32, activation="relu"), L.Dense(10, activation="softmax")],
                 y=onehot, loss="binary_crossentropy", metrics=())  # fmt: skip
    assert c.flags["target_onehot"] is True and "target_integer" not in c.flags
    assert c.loss.name == "binary_crossentropy" and c.loss.expects == "probabilities"
    assert c.model.output_activation == "softmax" and c.data.num_classes == 10
    assert c.data.task == "classification"


def test_fact_helpers():
    assert ks.target_facts(np.array([[0, 1, 0], [1, 0, 0]], dtype="int32")) == {
        "target_onehot": True, "target_kind": "onehot", "target_row_sum": 1.0, "target_min": 0.0, "target_max": 1.0}  # fmt: skip
    assert ks.target_facts(np.array([[0.5, 0.5, 0.0]]))["target_onehot"] is False
    assert ks.target_facts(np.array([1.0, np.nan, 2.0, 2.0])) == {
        "target_onehot": False, "target_integer": True, "target_kind": "integer", "target_distinct": 2.0,
        "target_min": 1.0, "target_max": 2.0}  # fmt: skip
    assert ks.target_facts(np.zeros((0,))) == {}
    f = init_scale_flags([("a", 1.1), ("b", 0.05), ("c", 9.0)])
    assert f == {"init_scale_min": 0.05, "init_scale_max": 9.0, "init_scale_layer": "b", "init_zero_frac": 0.0}
    assert init_scale_flags([("a", 30.0), ("b", 0.0)])["init_scale_layer"] == "b"
    assert init_scale_flags([("a", 0.0), ("b", 0.0), ("c", 0.6), ("d", 0.0)])["init_zero_frac"] == 0.75
    assert init_scale_flags([]) == {}


def test_loss_and_optimizer_context():
    info, task, _ = ks.loss_info(keras.losses.BinaryCrossentropy())
    assert (info.name, info.from_logits, info.expects, task) == (
        "binary_crossentropy",
        False,
        "probabilities",
        "binary",
    )
    info, task, _ = ks.loss_info("mean_squared_error")
    assert (info.name, info.expects, task) == ("mse", "values", "regression")
    info, _, _ = ks.loss_info(keras.losses.Huber())
    assert info.name == "huber"
    sched = keras.optimizers.schedules.CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10)
    opt, s = ks.optimizer_info(keras.optimizers.SGD(sched, momentum=0.9, clipnorm=1.0))
    assert (opt.name, opt.lr, opt.momentum, opt.clipnorm, opt.schedule) == (
        "sgd",
        0.1,
        0.9,
        1.0,
        "CosineDecay",
    )
    assert s is sched


# --------------------------------------------------------------------------- robustness


def test_internal_error_is_contained(digits, tmp_path, monkeypatch):
    def boom(*a, **kw):
        raise RuntimeError("injected")

    monkeypatch.setattr(ks.Engine, "telemetry", boom)
    model = mlp(seed=5)
    cb = DiagnosisCallback(tmp_path, probe=digits, every=2, diagnose=False)
    with pytest.warns(
        RuntimeWarning, match=r"^traindx: the keras callback turned itself off .*injected"
    ):
        hist = fit(model, digits, cb, epochs=2)
    assert len(hist.history["loss"]) == 2 and not cb.enabled


def test_one_internal_failure_gives_one_warning(digits, tmp_path, monkeypatch):
    """The event file cannot be written (disk full): one warning, though diagnosing at the
    end of training meets the same fault again."""
    from traindx.adapters import _common

    def full(self):
        raise OSError("No space left on device")

    monkeypatch.setattr(_common.RunWriter, "flush", full)
    model = mlp(seed=5)
    cb = DiagnosisCallback(tmp_path, probe=digits, every=2)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        hist = fit(model, digits, cb, epochs=2)
        cb.close()
    msgs = [str(w.message) for w in rec if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("traindx: the keras callback turned itself off"), msgs
    assert "No space left" in msgs[0] and len(hist.history["loss"]) == 2 and not cb.enabled


def test_stop_on_fatal_is_off_by_default(digits, tmp_path):
    x, y = digits
    x = x.copy()
    x[300:310] = np.inf  # the loss of batch 4 is not finite on any CPU (inf - inf)
    model = mlp(seed=6)
    cb = DiagnosisCallback(tmp_path, probe=(x[:64], y[:64]), every=4)
    assert cb.stop_on_fatal is False
    with pytest.warns(RuntimeWarning, match="^traindx: ") as rec:
        hist = fit(model, (x, y), cb, epochs=2, shuffle=False)
    assert len(hist.history["loss"]) == 2  # training went on
    assert len([w for w in rec if str(w.message).startswith("traindx:")]) == 1
    assert cb.fatal_step is not None and cb.fatal_step <= 8


def test_stop_on_fatal_stops_on_nan(digits, tmp_path, capsys):
    """Holds on every CPU: where ReLU propagates NaN the loss of the NaN batch is NaN (fatal at
    step 4); where oneDNN's ReLU maps NaN to 0 (AVX-512) the loss stays finite but the first
    layer's weights turn NaN, seen at the next telemetry step (8). Either way it stops."""
    x, y = digits
    x = x.copy()
    x[300:310] = np.nan  # a NaN batch in the middle of the first epoch (batch 4 of 64 rows)
    model = mlp(seed=6)
    cb = DiagnosisCallback(tmp_path, probe=(x[:64], y[:64]), every=4, stop_on_fatal=True)
    hist = fit(model, (x, y), cb, epochs=5, shuffle=False)
    assert len(hist.history["loss"]) == 1  # stopped in the first epoch
    out = capsys.readouterr().out
    run = run_of(tmp_path)
    loss = run.series["train/loss"]
    assert np.all(np.isfinite(loss.values[:4]))
    if cb.fatal_step == 4:  # the loss went non-finite
        assert "training loss is nan at step 4" in out
        assert np.isnan(loss.values[4])
        assert "LOSS001" in codes(cb.diagnosis)
    else:  # the weights did, the loss stayed finite
        assert cb.fatal_step == 8, cb.fatal_step
        assert "weights are non-finite (global weight norm nan) while the training loss is finite at step 8" in out
        assert np.all(np.isfinite(loss.values)) and np.isnan(run.series["train/weight_norm"].values[-1])
        assert "WGT001" in codes(cb.diagnosis)


def nan_to_zero_relu(h):
    """ReLU as oneDNN computes it on AVX-512 CPUs: NaN becomes 0 (deterministic on any CPU)."""
    return keras.ops.where(keras.ops.isnan(h), 0.0, keras.ops.relu(h))


def masked_mlp(seed=6):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((64,)), L.Dense(32, activation=nan_to_zero_relu), L.Dense(10)])


@pytest.mark.parametrize("stop", [True, False])
def test_nonfinite_weights_with_finite_loss_are_fatal(digits, tmp_path, capsys, stop):
    """A NaN batch through a ReLU that maps NaN to 0: the loss stays finite (a plateau near
    ln 10) while the first layer's weights are NaN from step 5 on."""
    x, y = digits
    x = x.copy()
    x[300:310] = np.nan  # batch 4
    model = masked_mlp()
    kw = {"stop_on_fatal": True} if stop else {}  # off by default
    cb = DiagnosisCallback.from_arrays(x, y, logdir=tmp_path, every=4, **kw)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        hist = fit(model, (x, y), cb, epochs=2, shuffle=False)
    msgs = [str(w.message) for w in rec if str(w.message).startswith("traindx:")]
    assert cb.fatal_step == 8 and cb.enabled
    assert np.isnan(model.layers[0].kernel.numpy()).all()
    run = run_of(tmp_path)
    assert np.all(np.isfinite(run.series["train/loss"].values))
    w = run.series["train/weight_norm"]
    assert np.isnan(w.values[w.steps == 8]).all() and np.isfinite(w.values[w.steps < 8]).all()
    what = "weights are non-finite (global weight norm nan) while the training loss is finite at step 8"
    if stop:
        assert len(hist.history["loss"]) == 1 and not msgs
        assert what in capsys.readouterr().out
    else:
        assert len(hist.history["loss"]) == 2
        assert len(msgs) == 1 and what in msgs[0]
    diag = cb.diagnosis
    assert "WGT001" in codes(diag) and "LOSS001" not in codes(diag)
    assert diag.causes[0].id == "nonfinite_in_data"  # CTX007: the NaN rows of train_data
    # the fault that ended the run is a fact, and no rule reads its short length as too few epochs (issue 10)
    assert run.context.flags["fatal_step"] == 8.0
    assert run.context.flags.get("stopped_by") == ("traindx" if stop else None)
    assert not {"CTX020", "CTX021"} & codes(diag)
    assert all(c.id != "too_few_epochs" for c in diag.causes[:1])


def test_early_stopping_is_recorded(digits, tmp_path):
    """EarlyStopping (another callback) setting ``model.stop_training``: the context says a
    callback ended the run; a run that fit to its planned end says nothing."""
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=0)  # stops after epoch 2
    model = mlp()
    cb = DiagnosisCallback(tmp_path / "es", every=4)
    x, y = digits
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, epochs=6, batch_size=64, verbose=0, callbacks=[stop, cb])
    assert len(hist.history["loss"]) == 2
    assert run_of(tmp_path / "es").context.flags["stopped_by"] == "callback"
    fit(mlp(), digits, DiagnosisCallback(tmp_path / "full", every=4), epochs=2)
    assert "stopped_by" not in run_of(tmp_path / "full").context.flags


def test_legacy_keras_fails_at_construction():
    """TF_USE_LEGACY_KERAS=1 makes tf.keras Keras 2 (tf_keras), whose fit cannot run this
    callback: a clear error when it is made, never inside fit."""
    code = textwrap.dedent("""
        from traindx.adapters.keras import DiagnosisCallback
        try:
            DiagnosisCallback("unused")
        except RuntimeError as e:
            assert "supports Keras 3 only and TF_USE_LEGACY_KERAS is set" in str(e), e
        else:
            raise SystemExit("no error")
    """)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)


TF_KERAS_SCRIPT = """
import os, tempfile, warnings
import numpy as np
from traindx.adapters.keras import DiagnosisCallback
d = tempfile.mkdtemp()
early = DiagnosisCallback(d)  # made before tf_keras is imported: turns itself off in fit
import tf_keras
try:
    DiagnosisCallback(d)
except RuntimeError as e:
    assert "tf_keras (Keras 2) is loaded" in str(e), e
else:
    raise SystemExit("no error at construction")
x = np.random.default_rng(0).normal(size=(128, 8)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
m = tf_keras.Sequential([tf_keras.layers.Dense(8, activation="relu", input_shape=(8,)), tf_keras.layers.Dense(2)])
m.compile("adam", tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    h = m.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[early])
msgs = [str(x.message) for x in w if str(x.message).startswith("traindx:")]
assert len(h.history["loss"]) == 2 and len(msgs) == 1 and "Keras 2 / tf_keras" in msgs[0], msgs
assert not early.enabled
print("ok")
"""


def test_tf_keras_fails_at_construction_and_never_breaks_fit():
    """With tf_keras (Keras 2) installed: made after tf_keras is imported, the callback fails
    at construction; one made before and handed to a tf_keras fit turns itself off with one
    warning and fit runs. (tf_keras 2.21 requires the ``tensorflow`` distribution, which
    conflicts with the pinned tensorflow-cpu, so it is not in the dev extra: skipped unless
    importable.)"""
    import importlib.util

    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf_keras is not installed")
    r = subprocess.run([sys.executable, "-c", TF_KERAS_SCRIPT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]


def test_import_traindx_does_not_import_keras():
    code = "import sys, traindx, traindx.adapters; assert not {'keras', 'tensorflow', 'jax'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_keras_names_the_extra():
    code = textwrap.dedent("""
        import sys
        sys.modules['keras'] = None
        try:
            import traindx.adapters.keras
        except ImportError as e:
            assert "pip install 'traindx[keras]'" in str(e), e
        else:
            raise SystemExit('no ImportError')
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


JAX_SCRIPT = """
import os, warnings
os.environ["KERAS_BACKEND"] = "jax"
import keras, numpy as np
from traindx.adapters.keras import DiagnosisCallback
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 16)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
def run(cb):
    keras.backend.clear_session()
    keras.utils.set_random_seed(2)
    m = keras.Sequential([keras.Input((16,)), keras.layers.Dense(16), keras.layers.BatchNormalization(),
                          keras.layers.ReLU(), keras.layers.Dropout(0.3), keras.layers.Dense(2)])
    m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    m.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[cb] if cb else [])
    return m.get_weights(), np.asarray(keras.random.uniform((3,)))
w0, r0 = run(None)
warnings.simplefilter("error", RuntimeWarning)
cb = DiagnosisCallback({logdir!r}, probe=(x[:64], y[:64]), every=3, diagnose=False)
w1, r1 = run(cb)
assert all(np.array_equal(a, b) for a, b in zip(w0, w1)), "weights differ"
assert np.array_equal(r0, r1), "rng consumed"
assert cb.enabled
import traindx
(run_,) = traindx.read({logdir!r})
assert {{"train/grad_norm@dense", "train/update_ratio@dense_1", "train/act_frac_zero@re_lu"}} <= set(run_.series)
print("ok", keras.backend.backend())
"""


def test_jax_backend_identical_weights(tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    r = subprocess.run([sys.executable, "-c", JAX_SCRIPT.format(logdir=str(tmp_path / "jax"))],
                       env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ok jax" in r.stdout


def test_running_means_told_from_per_batch_values():
    from traindx.adapters._keras_write import running_means

    rng = np.random.default_rng(0)
    batch = 2.3 * 0.99 ** np.arange(40) * np.exp(rng.normal(0, 0.3, 40))  # noisy per-batch losses
    running = np.cumsum(batch) / np.arange(1, 41)
    assert running_means(running) is True
    assert running_means(batch) is False
    assert running_means(np.full(40, 0.7)) is True  # nothing to tell: keep Keras' default
    assert running_means(batch[:8]) is None  # too few batches


class RawLossModel(keras.Sequential):
    """A custom train_step that returns the raw batch loss (not a running-mean metric), as
    hand-written TensorFlow train_steps often do."""

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            loss = self.compute_loss(x=x, y=y, y_pred=self(x, training=True))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return {"loss": loss}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow train_step")
def test_raw_batch_loss_from_a_custom_train_step_is_recorded_as_logged(digits, tmp_path):
    """logs['loss'] of a custom train_step is each batch's loss: de-averaging it would turn batch
    noise into values k times larger (negative ones too). The callback tells, records the
    fact in the context's flags, and writes the values as logged."""
    x, y = digits
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = RawLossModel([keras.Input((64,)), L.Dense(32, activation="relu"), L.Dense(10)])
    model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seen: list[float] = []
    spy = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(float(logs["loss"])))
    cb = DiagnosisCallback.from_arrays(x, y, logdir=tmp_path, every=1000, diagnose=False)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb, spy])
    ctx = json.loads((tmp_path / "context.json").read_text())
    assert ctx["flags"]["loss_logs_running_mean"] is False
    got = run_of(tmp_path).series["train/loss"].values
    np.testing.assert_allclose(got, seen, rtol=1e-5)
    assert got.min() > 0


def test_compiled_train_step_logs_are_running_means(digits, tmp_path):
    x, y = digits
    cb = DiagnosisCallback.from_arrays(x, y, logdir=tmp_path, every=1000, diagnose=False)
    fit(mlp(seed=1), (x, y), cb, epochs=1, batch_size=16, opt=keras.optimizers.SGD(0.05))
    ctx = json.loads((tmp_path / "context.json").read_text())
    assert ctx["flags"]["loss_logs_running_mean"] is True
    assert ctx["flags"]["accuracy_logs_running_mean"] is True

def test_stock_train_step_logs_are_running_means_even_when_they_read_per_batch(tmp_path):
    """A loss that diverges within the first epoch (a negated MSE) spreads its batch values
    more late in the epoch than early, which the values alone read as a custom train_step's
    per-batch logs. Keras' own train_step always logs running means: the callback records
    that fact and de-averages."""
    from traindx.adapters._keras_write import running_means

    rng = np.random.default_rng(0)
    x = rng.normal(size=(640, 8)).astype("float32")
    y = (x @ rng.normal(size=8)).astype("float32")
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), L.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), loss=lambda t, p: -keras.ops.mean((t - p[:, 0]) ** 2))
    seen: list[float] = []
    spy = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(float(logs["loss"])))
    cb = DiagnosisCallback.from_arrays(x, y, logdir=tmp_path, every=1000, diagnose=False)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[cb, spy])
    m = np.array(seen)
    assert m.size == 40 and np.all(np.isfinite(m)) and -m[-1] > 10 * -m[0]  # diverging, finite
    assert running_means(-m) is False  # what the values alone would say
    ctx = json.loads((tmp_path / "context.json").read_text())
    assert ctx["flags"]["loss_logs_running_mean"] is True
    assert not any("custom train_step" in n for n in ctx["notes"])
    k = np.arange(m.size)
    batch = (k + 1) * m - k * np.concatenate(([0.0], m[:-1]))
    np.testing.assert_allclose(run_of(tmp_path).series["train/loss"].values, batch, rtol=1e-4, atol=1e-3)


HOST_SCRIPT = """
import os, tempfile
os.environ["KERAS_BACKEND"] = "jax"
import keras, numpy as np, traindx
from traindx.adapters._keras_stats import engine
from traindx.adapters.keras import DiagnosisCallback
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 16)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
def run(cb):
    keras.backend.clear_session(); keras.utils.set_random_seed(2)
    m = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)])
    m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[cb] if cb else [])
    return m.get_weights(), np.asarray(keras.random.uniform((3,)))
w0, r0 = run(None)
d = tempfile.mkdtemp()
cb = DiagnosisCallback(d, probe=(x[:64], y[:64]), diagnose=False)
w1, r1 = run(cb)
assert all(np.array_equal(a, b) for a, b in zip(w0, w1)), "weights differ"
assert np.array_equal(r0, r1), "rng consumed"
(r,) = traindx.read(d)
assert cb._cad.planned is None  # no per-layer sample floor on JAX (each sample waits for the device)
for tag in ("train/weight_norm@dense", "train/update_ratio@dense_2", "train/grad_norm@dense"):
    assert r.series[tag].steps[0] == 0 and np.all(np.isfinite(r.series[tag].values)), tag
# the host statistics against the same definitions compiled by XLA (keras.ops under jax.jit)
eng = cb._engine
assert eng.on_host()
ws = eng.weights()
host = (eng.probe(*cb._probe_t), eng.weight_sq(ws), eng.delta_sq(ws, [np.asarray(w) * 0.5 for w in ws]))
eng._probes = engine.FAST_PROBES  # a long run: the forward/backward compiled as jax.jit does, a one-off
assert "probe_jit" not in eng._fns and eng.one_off == 0
np.testing.assert_allclose(eng.probe(*cb._probe_t), host[0], rtol=2e-5, atol=1e-6)
assert "probe_jit" in eng._fns and eng._fns["probe_raw"] is eng._fns["probe_jit"] and eng.one_off > 0
one_off = eng.one_off
np.testing.assert_allclose(eng.probe(*cb._probe_t), host[0], rtol=2e-5, atol=1e-6)
assert eng.one_off == one_off and "probe" not in eng._fns  # compiled once; the statistics stay on the host
eng._host = False  # the compiled functions (weights over HOST_LIMIT)
dev = (eng.probe(*cb._probe_t), eng.weight_sq(ws), eng.delta_sq(ws, [w * 0.5 for w in ws]))
for h, d in zip(host, dev):
    assert h.shape == d.shape and np.all(np.isfinite(h)), (h, d)
    np.testing.assert_allclose(h, d, rtol=2e-5, atol=1e-6)
engine.HOST_LIMIT = 0  # a fit on the compiled path: training unchanged too
cb2 = DiagnosisCallback(tempfile.mkdtemp(), probe=(x[:64], y[:64]), diagnose=False)
w2, r2 = run(cb2)
assert not cb2._engine.on_host() and all(np.array_equal(a, b) for a, b in zip(w0, w2)), "weights differ"
assert np.array_equal(r0, r2), "rng consumed"
print("ok host", len(r.series["train/weight_norm@dense"].steps))
"""


def test_jax_backend_host_statistics():
    """On JAX the callback computes its statistics with numpy on the host (no XLA compile of
    them; only the probe's forward/backward is compiled): the values equal the same
    definitions compiled by XLA, and training is unchanged (weights, RNG), on the host path
    and on the compiled one (weights over ``HOST_LIMIT``)."""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    r = subprocess.run([sys.executable, "-c", HOST_SCRIPT], env=env, capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ok host" in r.stdout


DEFERRED_SCRIPT = """
import os, tempfile
os.environ["KERAS_BACKEND"] = "jax"
import keras, numpy as np, traindx
from traindx.adapters._keras_stats import engine
from traindx.adapters.keras import DiagnosisCallback
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 16)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
behind = engine.Engine.copy_behind
copies = []
def counted(self):
    out = behind(self)
    copies.append(out is not None)
    return out
def run(later):
    keras.backend.clear_session(); keras.utils.set_random_seed(2)
    m = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(2)])
    m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    d = tempfile.mkdtemp()
    cb = DiagnosisCallback(d, probe=(x[:64], y[:64]), every=3, diagnose=False)
    engine.Engine.copy_behind = counted if later else (lambda self: None)  # None: read at once
    waits = []
    wait = engine.Engine.wait
    engine.Engine.wait = lambda self: (waits.append(1), wait(self))[1]
    m.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    engine.Engine.wait = wait
    (r,) = traindx.read(d)
    s = r.series["train/update_ratio"]
    return list(s.steps), np.asarray(s.values), len(waits)
(sa, va, wa), (sb, vb, wb) = run(True), run(False)
assert copies and all(copies), copies
assert sa == sb == list(range(0, 32, 3)), (sa, sb)
assert np.array_equal(va, vb) and np.all(va > 0), (va, vb)
assert wa == len(sa), (wa, len(sa))  # one wait per telemetry step, none the step after
print("ok deferred")
"""


def test_jax_backend_update_ratio_read_later_is_the_same():
    """On JAX with host statistics the weights for the update ratio are copied behind the
    running steps (the copy dispatched, its transfer started) and compared at the next
    telemetry step or flush: no wait for the device the step after a telemetry step, and the
    same values at the same steps as reading them at once."""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    r = subprocess.run([sys.executable, "-c", DEFERRED_SCRIPT], env=env, capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ok deferred" in r.stdout
