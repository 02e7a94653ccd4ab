"""``label_nn_*`` (do a row's nearest neighbours share its class?) and ``split_label_*`` (do the
training and validation targets hold the same classes?), recorded by the torch Monitor, the
Keras callback and the JAX Recorder (traindx/adapters/_common/labelnn.py). Session 43:
labels written as ``i % 3`` (qa_fresh43, Monitor), ``np.random.shuffle(X_train)`` with the
labels left in order (qa_jax43, Keras) and iris sorted by class under validation_split
(qa_fresh43) were read from the curves as vanishing gradients, regularization and
insufficient data."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.adapters._common.assoc import FeatureTarget
from traindx.adapters._common.labelnn import nn_agreement, nn_flags, split_flags, split_flags_of


def blobs(n: int = 300, seed: int = 0, k: int = 3, width: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """``k`` well separated classes in ``width`` columns, rows in random class order."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.normal(0, 4, (k, width))
    return (centres[y] + rng.normal(0, 1, (n, width))).astype(np.float32), y


def test_honest_labels_far_above_chance_shuffled_at_chance():
    x, y = blobs()
    honest = nn_agreement(x, y)
    assert honest is not None and honest["label_nn_lift"] > 0.8 and honest["label_nn_z"] > 10
    shuffled = nn_agreement(x, np.roll(y, 1))  # labels moved one row: no signal left
    assert shuffled is not None and abs(shuffled["label_nn_lift"]) < 0.2 and shuffled["label_nn_z"] < 3
    assert 0.3 < shuffled["label_nn_chance"] < 0.4 and shuffled["label_nn_rows"] == 300.0


def test_one_hot_targets_small_images_flattened_and_what_is_not_read():
    x, y = blobs(width=16)
    onehot = np.eye(3)[y]
    assert nn_agreement(x, onehot)["label_nn_lift"] > 0.8  # one-hot rows are class ids
    images = x.reshape(-1, 1, 4, 4)
    assert nn_agreement(images, y)["label_nn_lift"] > 0.8  # a small image: its pixels
    assert nn_agreement(x, y + 0.5) is None  # not class ids (a regression target)
    assert nn_agreement(x[:40], y[:40]) is None  # too few rows
    assert nn_agreement(np.zeros((300, 2000, 2), np.float32), y) is None  # too wide a row
    assert nn_flags("not an array", None) == {}  # never raises


def test_feature_target_gathers_flattened_rows_for_labels_only():
    x, y = blobs(width=16)
    ft = FeatureTarget()
    ft.add(x[:150], y[:150], flat=False)
    got = ft.add(x[150:], y[150:], flat=False)
    assert got is None and not ft.done  # still short of SAMPLE_ROWS
    flags = ft.finish()
    assert flags is not None and flags["label_nn_lift"] > 0.8 and "feature_target_corr" not in flags


def test_split_histograms_sorted_versus_random():
    y = np.repeat([0, 1, 2], 50)  # iris sorted by class; validation_split 0.2 takes the last 30
    sorted_split = split_flags(y[:120], y[120:])
    assert sorted_split["split_label_tv"] > 0.8 and sorted_split["split_label_log10p"] < -10
    perm = np.random.default_rng(0).permutation(150)
    random_split = split_flags(y[perm][:120], y[perm][120:])
    assert random_split["split_label_tv"] < 0.3 and random_split["split_label_log10p"] > -3
    assert split_flags(y[:140], y[145:]) == {}  # five validation rows say little
    unseen = split_flags(y[:100], y[100:])  # validation holds a class training never saw
    assert unseen["split_classes_val_only"] == 1.0 and unseen["split_label_tv"] == 1.0
    assert split_flags_of((None, y[:120]), (None, y[120:]))["split_label_tv"] > 0.8
    assert split_flags_of((None, y[:120]), None) == {}


def test_torch_monitor_records_labels_of_image_batches(tmp_path):
    torch = pytest.importorskip("torch")
    from traindx.adapters.torch import Monitor

    x, y = blobs(n=256, width=16)
    xt, yt = torch.tensor(x).reshape(-1, 1, 4, 4), torch.tensor(np.roll(y, 1))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    crit = torch.nn.CrossEntropyLoss()
    mon = Monitor(model, opt, crit, logdir=tmp_path / "m")
    for i in range(0, 256, 32):
        opt.zero_grad()
        loss = crit(model(xt[i : i + 32]), yt[i : i + 32])
        loss.backward()
        mon.step(loss, inputs=xt[i : i + 32], targets=yt[i : i + 32])
        opt.step()
    mon.close()
    flags = mon.context.flags
    assert flags["label_nn_rows"] == 256.0 and abs(flags["label_nn_lift"]) < 0.2
    assert "feature_target_corr" not in flags  # pixels are not tabular columns


def test_jax_recorder_records_both(tmp_path):
    pytest.importorskip("jax")
    from traindx.adapters.jax import Recorder

    x, y = blobs()
    order = np.argsort(y, kind="stable")
    xs, ys = x[order], y[order].astype(np.int32)
    rec = Recorder(tmp_path / "r", data=(xs[:240], ys[:240]), val_data=(xs[240:], ys[240:]),
                   loss="softmax_cross_entropy_with_integer_labels")  # fmt: skip
    rec.close()
    flags = rec.context.flags
    assert flags["label_nn_lift"] > 0.8 and flags["split_label_tv"] > 0.5


@pytest.mark.keras
def test_keras_callback_records_shuffled_inputs_and_sorted_split(tmp_path):
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback

    x, y = blobs()
    order = np.argsort(y, kind="stable")
    xs, ys = x[order], y[order]
    xs_shuffled = xs[np.random.default_rng(1).permutation(len(xs))]  # inputs shuffled, labels not
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cb = DiagnosisCallback(tmp_path / "k", diagnose=False)
    model.fit(xs_shuffled, ys, epochs=1, batch_size=64, verbose=0, validation_split=0.2, callbacks=[cb])
    flags = cb.context.flags
    assert abs(flags["label_nn_lift"]) < 0.2 and flags["label_nn_rows"] == 240.0
    assert flags["split_label_tv"] > 0.5 and flags["split_label_log10p"] < -6
