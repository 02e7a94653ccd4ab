"""The splits' continuous targets apart (``val_target_*``, adapters/_common/splits.target_shift)
and CTX070 on them: a frame sorted by its target and split by position fires, random splits of
any size do not; the Keras callback and the JAX Recorder record it (and the Keras callback the
inputs' shift, CTX052's facts, as the other two adapters do)."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.adapters._common.splits import target_shift, target_shift_of
from traindx.engine import check
from traindx.rules.loader import load_rulebook


def _fires(flags: dict[str, float]) -> bool:
    book = load_rulebook()
    sym = next(s for s in book.symptoms if s.code == "CTX070")
    ok, _needs, err = check(sym.condition, {"ctx": {"framework": "keras", **flags}})
    assert err is None
    return bool(ok)


def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    return x.astype(np.float32), y.astype(np.float32)


def test_sorted_frame_split_by_position_fires() -> None:
    x, y = _diabetes()
    order = np.argsort(y)
    ys = y[order]
    n = int(len(ys) * 0.8)
    f = target_shift(ys[:n], ys[n:])
    assert f["val_target_rows"] == len(ys) - n and f["val_target_shift"] > 1.0
    assert _fires(f)


def test_random_splits_of_every_size_never_fire() -> None:
    _, y = _diabetes()
    rng = np.random.default_rng(0)
    lognormal = rng.lognormal(0.0, 1.0, 5000).astype(np.float32)  # a skewed target
    for target in (y, lognormal):
        for frac in (0.05, 0.1, 0.2, 0.5):
            for _ in range(100):
                p = rng.permutation(target)
                n = int(len(p) * (1 - frac))
                f = target_shift(p[:n], p[n:])
                assert f and not _fires(f), f


def test_class_ids_images_and_short_splits_are_not_read() -> None:
    ids = np.arange(200) % 3
    assert target_shift(ids.astype(np.float32), ids[:50].astype(np.float32)) == {}  # class ids: labelnn's
    assert target_shift(np.random.rand(100, 4), np.random.rand(30, 4)) == {}  # several outputs
    assert target_shift(np.random.rand(100), np.random.rand(5)) == {}  # a handful of rows
    assert target_shift_of((np.zeros((10, 2)),), (np.zeros((10, 2)), np.zeros(10))) == {}  # no targets
    col = np.random.default_rng(1).normal(size=(300, 1))
    assert target_shift(col, col[:100] + 3.0)["val_target_shift"] > 2.5  # an (N, 1) column read


def test_jax_recorder_records_target_shift(tmp_path) -> None:
    pytest.importorskip("jax")
    from traindx.adapters.jax import Recorder

    x, y = _diabetes()
    order = np.argsort(y)
    xs, ys = x[order], y[order]
    rec = Recorder(tmp_path / "r", data=(xs[:350], ys[:350]), val_data=(xs[350:], ys[350:]), loss="mse")
    rec.close()
    flags = rec.context.flags
    assert flags["val_target_shift"] > 1.0 and _fires(flags)


@pytest.mark.keras
def test_keras_callback_records_target_and_input_shift(tmp_path) -> None:
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback

    x, y = _diabetes()
    order = np.argsort(y)
    xs, ys = x[order], (y[order] - y.mean()) / y.std()

    def fit(xa: np.ndarray, ya: np.ndarray, name: str) -> dict:
        model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        cb = DiagnosisCallback(tmp_path / name, diagnose=False)
        model.fit(xa, ya, epochs=1, batch_size=64, verbose=0, validation_split=0.2, callbacks=[cb])
        return dict(cb.context.flags)

    sorted_ = fit(xs, ys, "sorted")
    assert sorted_["val_target_shift"] > 1.0 and _fires(sorted_)
    assert "val_input_shift" in sorted_ and "val_input_std_ratio" in sorted_
    p = np.random.default_rng(2).permutation(len(ys))
    shuffled = fit(xs[p], ys[p], "shuffled")
    assert shuffled["val_target_shift"] < 0.5 and not _fires(shuffled)
    assert shuffled["val_input_shift"] < 0.3


def test_input_statistics_read_a_bounded_evenly_spaced_sample() -> None:
    import tracemalloc

    from traindx.adapters._common.splits import input_shift

    rng = np.random.default_rng(3)
    # 60,000 rows sorted by a drift (the last rows far from the first): a sample of the first
    # rows would see only the start; an evenly spaced one sees the whole range
    x = (rng.normal(size=(60_000, 256)) + np.linspace(0, 4, 60_000)[:, None]).astype(np.float32)
    val = x[rng.permutation(60_000)[:3_000]]
    tracemalloc.start()
    f = input_shift((x, None), (val, None))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert f["val_input_shift"] < 0.2  # the same distribution, read whole
    assert peak < 24 * 2**20, peak  # the rows are not copied (61 MB of float32; 123 MB as float64)
