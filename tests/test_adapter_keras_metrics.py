"""The Keras callback records compiled metrics by what they are, whatever the user named them
(issue 10: a multi-label CNN compiled with ``BinaryAccuracy(name="bin_acc")`` lost its train
and validation accuracy, and its fixed run was read as overfitting from the loss ratio alone)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

import traindx  # noqa: E402
from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras


def multilabel():
    from sklearn.datasets import load_digits

    x, d = load_digits(return_X_y=True)
    y = np.stack([d % 2 == 0, d > 4, d % 3 == 0], 1).astype("float32")
    return (x[:600] / 16.0).astype("float32"), y[:600]


def recorded(tmp_path, metrics, evaluate=False):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    x, y = multilabel()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(3, activation="sigmoid")])  # fmt: skip
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy", metrics=metrics)
    cb = DiagnosisCallback(logdir=tmp_path, probe=(x[:64], y[:64]))
    model.fit(x[:480], y[:480], validation_data=(x[480:], y[480:]), epochs=3, batch_size=32,
              verbose=0, callbacks=[cb])  # fmt: skip
    if evaluate:
        model.evaluate(x[480:], y[480:], verbose=0, callbacks=[cb])
    cb.close()
    (run,) = traindx.read(tmp_path)
    return {str(k) for k in run.series}, json.loads((tmp_path / "context.json").read_text())


def test_an_accuracy_under_its_own_name_is_recorded_as_accuracy(tmp_path):
    keys, ctx = recorded(tmp_path, [keras.metrics.BinaryAccuracy(name="bin_acc"), "AUC"], evaluate=True)
    assert {"train/accuracy", "val/accuracy", "test/accuracy"} <= keys
    assert {"train/auc", "val/auc"} <= keys  # names the convention reads stay as they were
    assert ctx["hyperparameters"]["metrics"] == ["bin_acc", "AUC"]  # not ['compile_metrics']


def test_two_accuracies_under_own_names_are_not_guessed(tmp_path):
    keys, _ = recorded(tmp_path, [keras.metrics.BinaryAccuracy(name="a_half"),
                                  keras.metrics.BinaryAccuracy(name="a_strict", threshold=0.9)])  # fmt: skip
    assert not any(k.endswith("/accuracy") for k in keys)


def test_loss_kind_and_task_recorded(tmp_path):
    """The compiled loss as a fact the rules read (issue losskind18): a binary cross-entropy
    over several sigmoid outputs is multi-label, an MSE whose probe targets are its inputs a
    reconstruction (neither has a chance level ln(C))."""
    _, ctx = recorded(tmp_path / "ml", ["binary_accuracy"])
    assert (ctx["flags"]["loss_kind"], ctx["flags"]["loss_task"]) == ("binary_crossentropy", "multilabel")
    # three independent labels (issue mlabel18): num_classes is the label count, with no
    # single-label task (it was 'binary') nor class counts (argmax of multi-hot rows)
    assert (ctx["data"]["num_classes"], ctx["data"]["task"]) == (3, "other")
    assert ctx["data"].get("class_counts") is None
    assert ctx["flags"]["label_positive_share"] == pytest.approx(float(multilabel()[1][:64].mean()))  # the probe
    keras.backend.clear_session()
    x, _ = multilabel()
    ae = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(64)])
    ae.compile(keras.optimizers.Adam(1e-2), "mse")
    cb = DiagnosisCallback(logdir=tmp_path / "ae", probe=(x[:64], x[:64]))
    ae.fit(x[:256], x[:256], epochs=1, batch_size=64, verbose=0, callbacks=[cb])
    cb.close()
    c = json.loads((tmp_path / "ae" / "context.json").read_text())
    flags = c["flags"]
    assert (flags["loss_kind"], flags["loss_task"], flags["loss_source"]) == ("mse", "reconstruction", "compile")
    assert (c["data"]["task"], c["data"].get("num_classes")) == ("regression", None)
    # a binary cross-entropy reconstruction over 64 sigmoid units: no 64 'classes' (it had them)
    keras.backend.clear_session()
    ae = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation="relu"),
                           keras.layers.Dense(64, activation="sigmoid")])  # fmt: skip
    ae.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy")
    cb = DiagnosisCallback(logdir=tmp_path / "bce_ae", probe=(x[:64], x[:64]))
    ae.fit(x[:256], x[:256], epochs=1, batch_size=64, verbose=0, callbacks=[cb])
    cb.close()
    c = json.loads((tmp_path / "bce_ae" / "context.json").read_text())
    assert c["flags"]["loss_task"] == "reconstruction"
    assert (c["data"]["task"], c["data"].get("num_classes"), c["data"].get("class_counts")) == ("other", None, None)


def test_multi_hot_targets_under_a_categorical_loss_have_no_class_counts(tmp_path):
    """A multi-label model compiled with categorical_crossentropy (qa_fresh22's
    kb_multilabel_sigmoid_cce_tf): the task reads as single-label classification, but a
    multi-hot row has no single class - its argmax counted only its first label, and the
    rules read a 'majority share' no class had. One-hot rows still give their counts."""
    keras.backend.clear_session()
    x, y = multilabel()
    assert (y.sum(1) > 1).any()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(1e-2), "categorical_crossentropy")
    cb = DiagnosisCallback(logdir=tmp_path, probe=(x[:64], y[:64]))
    model.fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0, callbacks=[cb])
    cb.close()
    ctx = json.loads((tmp_path / "context.json").read_text())
    assert ctx["data"]["task"] == "classification" and ctx["data"].get("class_counts") is None
    from traindx.adapters import _keras_stats as ks

    one_hot = np.eye(3, dtype="float32")[[0, 1, 1, 2, 2, 2]]
    assert ks.class_counts(one_hot, "classification") == [1, 2, 3]
    assert ks.class_counts(y[:6], "classification") is None
