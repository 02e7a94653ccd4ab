"""(N, T) class ids per position - a sequence tagger's labels for a (N, T, C) output - are
not (N, C) rows of a class distribution (qa_fresh49's Conv1D tagger: its fixed run was read as
"a sparse cross-entropy on continuous targets", CTX010). Real Keras training; the shared
predicate on small arrays; the rules judge."""

from __future__ import annotations

import os

import numpy as np
import pytest

from traindx.adapters._common import RowTargets
from traindx.adapters._common.targets import ids_per_position


def test_ids_per_position():
    ids = np.array([[0, 3, 6], [2, 2, 1]])
    assert ids_per_position(ids)  # integer dtype, a value above 1
    assert ids_per_position(ids.astype("float32"), out_ndim=3)  # whole floats under a class axis
    assert not ids_per_position(ids.astype("float32"))  # whole floats, output rank unknown: rows
    assert not ids_per_position(np.eye(3, dtype="int64"))  # one-hot rows
    assert ids_per_position(np.array([[0, 1], [1, 0]]), out_ndim=3)  # binary tags per position
    assert not ids_per_position(np.array([[0.5, 1.0]]), out_ndim=3)  # fractions: not ids
    assert not ids_per_position(np.array([0, 1, 2]), out_ndim=2)  # 1-D targets: other facts
    rows = RowTargets()
    rows.add(ids)
    assert rows.flags() == {}
    rows.add(np.eye(3), out_ndim=2)
    assert rows.flags()["target_kind"] == "onehot"


os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def tagger_run(tmp_path, axis: int, ids_dtype: str):
    keras = pytest.importorskip("keras")
    from keras import layers

    import traindx
    from traindx.adapters.keras import DiagnosisCallback

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(5, 4)) * 2.0
    y = rng.integers(0, 5, size=(320, 8))
    x = (centers[y] + rng.normal(size=(320, 8, 4))).astype("float32")
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 4)), layers.Dense(16, activation="relu"), layers.Dense(5),
                              layers.Softmax(axis=axis)])  # fmt: skip
    model.compile(keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    cb = DiagnosisCallback(tmp_path, probe=(x[:128], y[:128].astype(ids_dtype)), every=4)
    model.fit(x, y.astype(ids_dtype), epochs=4, batch_size=32, verbose=0, callbacks=[cb])
    (run,) = traindx.read(tmp_path)
    (d,) = traindx.diagnose(run)
    return run.context.flags, {s.code for s in d.symptoms}, [c.id for c in d.causes]


@pytest.mark.keras
@pytest.mark.parametrize("ids_dtype", ["int64", "float32"])
def test_keras_tagger_targets_read_as_ids(tmp_path, ids_dtype):
    flags, codes, _ = tagger_run(tmp_path, -1, ids_dtype)
    assert flags["target_kind"] == "integer" and flags["target_integer"] is True
    assert flags["target_min"] == 0.0 and flags["target_max"] == 4.0 and flags["target_distinct"] == 5.0
    assert "target_row_sum" not in flags and "CTX010" not in codes


@pytest.mark.keras
def test_keras_tagger_softmax_over_time_points_to_the_axis(tmp_path):
    flags, codes, causes = tagger_run(tmp_path, 1, "int64")
    assert flags["target_kind"] == "integer" and "CTX010" not in codes
    assert "OUT001" in codes and causes[0] == "softmax_wrong_axis"
