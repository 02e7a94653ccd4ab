"""``feature_target_corr``: the largest |correlation| of one flat input column with the target
(eta for class ids), recorded by the torch Monitor, the Keras callback and the JAX Recorder
(traindx/adapters/_common/assoc.py). Session 43: qa_mixed42's torch wine run with a
"lab grade" column (the cultivar plus 0.15 of noise) was called healthy - nothing in the
curves tells a label-derived column from an easy task, but the adapters see the batches."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.adapters._common.assoc import FeatureTarget, corr_flags, corr_of


def wine_like(leak: bool, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Five honest noisy features of a 3-class label, plus the label with 0.15 noise when ``leak``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 1, (n, 5)) + 0.6 * y[:, None] * rng.normal(1, 0.2, 5)
    if leak:
        x = np.column_stack([x, y + rng.normal(0, 0.15, n)])
    return x.astype(np.float32), y


def test_label_derived_column_reads_near_one_and_honest_features_do_not():
    x, y = wine_like(True)
    r, col = corr_of(x, y)
    assert r > 0.98 and col == 5
    r, _ = corr_of(*wine_like(False))
    assert r < 0.9


def test_class_ids_use_eta_whatever_their_order():
    """A column that separates class 1 from 0 and 2 (not monotone in the id) is as strong as
    its class means say: the order of the class ids means nothing."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 400)
    x = np.column_stack([np.where(y == 1, 5.0, 0.0) + rng.normal(0, 0.1, 400), rng.normal(0, 1, 400)])
    r, col = corr_of(x, y)
    assert r > 0.99 and col == 0
    assert corr_of(x, np.array([2, 0, 1])[y])[0] == pytest.approx(r)
    onehot = np.eye(3, dtype=np.float32)[y]  # one-hot rows: their class ids
    assert corr_of(x, onehot)[0] == pytest.approx(r)


def test_regression_target_uses_pearson():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (500, 4))
    t = x[:, 2] * 3.0 + rng.normal(0, 0.05, 500)
    r, col = corr_of(x, t[:, None])
    assert r > 0.99 and col == 2


def test_not_recorded_off_flat_features():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    assert corr_of(rng.normal(0, 1, (200, 3, 4)), y) is None  # images / sequences
    assert corr_of(rng.integers(0, 9, (200, 6)), y) is None  # token ids
    assert corr_of(rng.normal(0, 1, (40, 3)), y[:40]) is None  # too few rows for a stable r
    assert corr_of(rng.normal(0, 1, (200, 3)), np.zeros(200)) is None  # a constant target
    assert corr_flags("not an array", None) == {}  # never raises
    x = rng.normal(0, 1, (200, 3))
    x[:5] = np.nan  # non-finite rows are left out
    assert corr_of(x, y) is not None


def test_streaming_gathers_the_first_batches():
    x, y = wine_like(True, n=640)
    ft = FeatureTarget()
    got = None
    for i in range(0, 640, 32):
        got = ft.add(x[i : i + 32], y[i : i + 32]) or got
        if ft.done:
            break
    assert ft.done and got is not None and got["feature_target_corr"] > 0.98
    assert got["feature_target_cols"] == 6.0
    short = FeatureTarget()
    short.add(x[:100], y[:100])
    assert not short.done and short.finish()["feature_target_corr"] > 0.98  # a short run, at close


def test_torch_monitor_records_it_without_changing_training(tmp_path):
    torch = pytest.importorskip("torch")
    from torch import nn

    from traindx.adapters.torch import Monitor

    def run(leak: bool, monitor: bool) -> tuple[dict, list]:
        x, y = wine_like(leak)
        xt, yt = torch.tensor(x), torch.tensor(y)
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(x.shape[1], 16), nn.ReLU(), nn.Linear(16, 3))
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        crit = nn.CrossEntropyLoss()
        path = tmp_path / f"{leak}{monitor}"
        mon = Monitor(model, opt, crit, logdir=path) if monitor else None
        for _ in range(3):
            for i in range(0, len(xt), 16):
                opt.zero_grad()
                loss = crit(model(xt[i : i + 16]), yt[i : i + 16])
                loss.backward()
                if mon is not None:
                    mon.step(loss, inputs=xt[i : i + 16], targets=yt[i : i + 16])
                opt.step()
        flags = {}
        if mon is not None:
            mon.close()
            flags = mon.context.flags
        return flags, [p.detach().clone() for p in model.parameters()]

    leak, w = run(True, True)
    assert leak["feature_target_corr"] > 0.98 and leak["feature_target_col"] == 5.0
    _, w0 = run(True, False)
    assert all(torch.equal(a, b) for a, b in zip(w, w0, strict=True))  # no RNG drawn, nothing changed
    honest, _ = run(False, True)
    assert honest["feature_target_corr"] < 0.9


def test_jax_recorder_records_it_from_data(tmp_path):
    pytest.importorskip("jax")
    from traindx.adapters.jax import Recorder

    x, y = wine_like(True)
    rec = Recorder(tmp_path / "r", data=(x, y.astype(np.int32)), loss="softmax_cross_entropy_with_integer_labels")
    rec.close()
    assert rec.context.flags["feature_target_corr"] > 0.98


@pytest.mark.keras
def test_keras_callback_records_it_from_fit_arrays(tmp_path):
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback

    x, y = wine_like(True)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cb = DiagnosisCallback(tmp_path / "k", diagnose=False)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, validation_split=0.2, callbacks=[cb])
    assert cb.context.flags["feature_target_corr"] > 0.98


def churn_like(leak: bool, n: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Eight honest features of a 27 % churn label, plus (``leak``) a days-since-cancel column:
    0 for every active customer, 1-44 for the churners (qa_mixed47's JAX churn pair)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.27).astype(np.int64)
    x = rng.normal(0, 1, (n, 8)) + 0.5 * y[:, None]
    if leak:
        x = np.column_stack([x, np.where(y == 1, rng.integers(1, 45, n), 0)])
    return x.astype(np.float32), y


def test_a_column_constant_for_one_class_is_a_perfect_stump_with_a_single_value_side():
    """Its correlation with the label stays below any leak bar (~0.8); the stump sees it."""
    x, y = churn_like(True)
    f = corr_flags(x, y)
    assert f["feature_target_corr"] < 0.95
    assert f["feature_stump_acc"] == 1.0 and f["feature_stump_col"] == 8.0 and f["feature_stump_levels"] == 1.0
    assert f["feature_stump_base"] == pytest.approx(0.73, abs=0.05) and f["feature_stump_next"] < 0.9
    honest = corr_flags(*churn_like(False))
    assert honest["feature_stump_acc"] < 0.9 and honest["feature_stump_levels"] > 10


def test_an_honest_separable_column_reaches_the_stump_bar_with_many_values_on_each_side():
    """Two classes split by one continuous column (an easy task, no leak): a perfect stump but
    hundreds of distinct values on either side of its threshold."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 600)
    x = rng.normal(0, 1, (600, 5))
    x[:, 2] += 8.0 * y
    f = corr_flags(x.astype(np.float32), y)
    assert f["feature_stump_acc"] >= 0.99 and f["feature_stump_col"] == 2.0 and f["feature_stump_levels"] > 100


def test_the_stump_is_not_measured_on_regression_targets():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (300, 4)).astype(np.float32)
    f = corr_flags(x, x[:, 0] * 0.3 + rng.normal(0, 1, 300))
    assert "feature_stump_acc" not in f and "feature_target_corr" in f
