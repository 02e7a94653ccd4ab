"""The trivial predictor's loss: the adapters' target levels (one definition in
traindx/adapters/_common/levels.py, recorded by the torch Monitor, the Keras callback and the
JAX Recorder), the ``trivial`` facts and CTX024 on real small runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import traindx
from traindx.adapters._common.levels import LEVEL_ROWS, TargetLevel, batch_levels, levels_of_batches
from traindx.signals import compute_facts


def _entropy(p: np.ndarray) -> float:
    return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))


def _codes(run) -> set[str]:
    return {s.code for s in traindx.diagnose(run)[0].symptoms}


# --------------------------------------------------------------------------- the facts


def test_levels_merge_batches_in_order_exactly():
    # a random walk in batches of 50, in order: each batch's spread is a fraction of the whole
    y = np.cumsum(np.random.default_rng(0).normal(size=(600, 3)), axis=0)
    lv = TargetLevel()
    for i in range(0, 600, 50):
        lv.add(y[i : i + 50])
    f = lv.flags()
    assert f["trivial_mse"] == pytest.approx(y.var(axis=0).mean(), rel=1e-9)
    assert f["trivial_mae"] == pytest.approx(np.abs(y - np.median(y, axis=0)).mean(), rel=1e-9)
    assert f["target_width"] == 3.0 and "trivial_bce" not in f  # not in [0, 1]
    # the within-batch variance alone would be far lower: the batch means carry most of it
    assert np.mean([y[i : i + 50].var(axis=0).mean() for i in range(0, 600, 50)]) < 0.5 * f["trivial_mse"]


def test_bce_level_is_the_base_rates_entropy():
    rates = np.array([0.05, 0.2, 0.5, 0.7])
    y = (np.random.default_rng(1).random((800, 4)) < rates).astype(np.float32)
    lv = TargetLevel()
    for i in range(0, 800, 32):
        lv.add(y[i : i + 32])
    assert lv.flags()["trivial_bce"] == pytest.approx(_entropy(y.mean(axis=0)), rel=1e-6)
    # the compiled-step form: per-batch rows, the base rates of each batch (low by ~1/(2N))
    rows = np.array([[*map(float, batch_levels(b)), b.min(), b.max()] for b in np.split(y, 25)])
    got = levels_of_batches(rows)
    assert got["trivial_bce"] == pytest.approx(lv.flags()["trivial_bce"], abs=0.03)
    assert got["trivial_bce"] <= lv.flags()["trivial_bce"]
    assert lv.flags()["trivial_bce_floor"] == pytest.approx(0.0, abs=1e-5)  # 0/1 labels
    assert got["trivial_bce_floor"] == pytest.approx(0.0, abs=1e-5)
    # soft targets: their own entropy is the floor no model goes below
    soft = np.random.default_rng(4).uniform(0.2, 0.8, size=(300, 5))
    lv = TargetLevel()
    lv.add(soft)
    assert lv.flags()["trivial_bce_floor"] == pytest.approx(_entropy(soft), rel=1e-6)
    assert lv.flags()["trivial_bce_floor"] < lv.flags()["trivial_bce"]


def test_batch_rows_give_the_exact_variance_of_one_output():
    y = np.cumsum(np.random.default_rng(2).normal(size=(640, 1)), axis=0)  # unshuffled
    rows = np.array([[*map(float, batch_levels(b)), b.min(), b.max()] for b in np.split(y, 20)])
    assert levels_of_batches(rows)["trivial_mse"] == pytest.approx(y.var(), rel=1e-4)
    assert "trivial_bce" not in levels_of_batches(rows)
    rows[3, 0] = math.nan  # a batch with non-finite targets is left out
    assert math.isfinite(levels_of_batches(rows)["trivial_mse"])


def test_levels_left_out():
    lv = TargetLevel()
    lv.add(np.zeros((16, 8, 8), dtype=np.int64))  # a class-id mask: no regression target
    assert lv.flags() == {} and lv.full()
    lv = TargetLevel()
    lv.add(np.ones((16, 3)))
    lv.add(np.ones((16, 4)))  # width changes: no single reference
    assert lv.flags() == {}
    lv = TargetLevel()
    y = np.arange(40.0).reshape(20, 2)
    y[5, 1] = math.nan  # the row is dropped, not the batch
    lv.add(y)
    assert lv.n == 19
    lv = TargetLevel()
    for _ in range(3):
        lv.add(np.random.default_rng(3).normal(size=(LEVEL_ROWS // 2, 1)))
    assert lv.n == LEVEL_ROWS and lv.full()


# --------------------------------------------------------------------------- torch


torch = pytest.importorskip("torch")


def _torch_ae(tmp_path, shuffle_targets: bool):
    from sklearn.datasets import load_digits
    from torch import nn

    from traindx.adapters.torch import Monitor

    x = torch.tensor(load_digits().data[:1280] / 16.0, dtype=torch.float32)
    # targets: the inputs themselves, or rows of them that belong to other inputs (misaligned)
    y = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))] if shuffle_targets else x
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 64))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    crit = nn.MSELoss()
    mon = Monitor(model, opt, loss_fn=crit, logdir=tmp_path)
    for _ in range(6):
        for i in range(0, 1024, 64):
            opt.zero_grad()
            loss = crit(model(x[i : i + 64]), y[i : i + 64])
            loss.backward()
            mon.step(loss, inputs=x[i : i + 64], targets=y[i : i + 64])
            opt.step()
        with torch.no_grad():
            mon.log(val_loss=float(crit(model(x[1024:]), y[1024:])))
    mon.close()
    (run,) = traindx.read(tmp_path)
    return run, y[:1024].numpy()


@pytest.mark.slow
def test_torch_monitor_records_levels_and_ctx024(tmp_path):
    run, y = _torch_ae(tmp_path / "misaligned", shuffle_targets=True)
    flags = run.context.flags
    assert flags["trivial_mse"] == pytest.approx(y.var(axis=0).mean(), rel=1e-5)
    assert flags["target_width"] == 64.0 and 0.0 < flags["trivial_bce"] < math.log(2)
    t = compute_facts(run)["trivial"]
    assert t["best"] >= 0.9  # targets unrelated to the inputs: nothing beats their mean
    assert "CTX024" in _codes(run) and traindx.diagnose(run)[0].verdict != "healthy"
    run, _ = _torch_ae(tmp_path / "fitted", shuffle_targets=False)
    assert compute_facts(run)["trivial"]["best"] < 0.6
    assert "CTX024" not in _codes(run)


def test_torch_classification_records_no_level(tmp_path):
    from torch import nn

    from traindx.adapters.torch import Monitor

    torch.manual_seed(0)
    model = nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    mon = Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path)
    for _ in range(4):
        x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        mon.step(loss, inputs=x, targets=y)
        opt.step()
    mon.close()
    (run,) = traindx.read(tmp_path)
    assert not any(k.startswith("trivial_") for k in run.context.flags)


# --------------------------------------------------------------------------- JAX


@pytest.mark.slow
def test_jax_recorder_multilabel_level_from_the_compiled_step(tmp_path):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from traindx.adapters.jax import Recorder, telemetry, telemetry_jit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1024, 16)).astype(np.float32)
    y = (rng.random((1024, 6)) < np.array([0.1, 0.2, 0.3, 0.4, 0.3, 0.6])).astype(np.float32)  # no signal

    def loss_fn(p, xb, yb):
        z = xb @ p["w"] + p["b"]
        return optax.sigmoid_binary_cross_entropy(z, yb).mean(), z

    tx = optax.sgd(0.05)

    @telemetry_jit
    def step(p, s, xb, yb):
        (loss, z), g = jax.value_and_grad(loss_fn, has_aux=True)(p, xb, yb)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, logits=z, labels=yb, inputs=xb)

    p = {"w": jnp.zeros((16, 6)), "b": jnp.zeros(6)}
    s = tx.init(p)
    rec = Recorder(tmp_path, params=p, optimizer=tx, loss="sigmoid_binary_cross_entropy")
    for i in range(120):
        j = (i % 16) * 64
        p, s, st = step(p, s, jnp.asarray(x[j : j + 64]), jnp.asarray(y[j : j + 64]))
        rec.log(i, st)
    rec.close()
    (run,) = traindx.read(tmp_path)
    assert run.context.flags["trivial_bce"] == pytest.approx(_entropy(y.mean(axis=0)), abs=0.03)
    assert compute_facts(run)["trivial"]["best"] >= 0.9
    assert "CTX024" in _codes(run)


# --------------------------------------------------------------------------- Keras


@pytest.mark.keras
@pytest.mark.slow
def test_keras_callback_regression_level(tmp_path):
    import os

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    keras = pytest.importorskip("keras")
    from sklearn.datasets import load_diabetes

    from traindx.adapters.keras import DiagnosisCallback

    x, y = load_diabetes(return_X_y=True)
    x, y = ((x - x.mean(0)) / x.std(0)).astype("float32"), ((y - y.mean()) / y.std()).astype("float32")
    runs = {}
    for name, target in (("fitted", y), ("misaligned", np.random.default_rng(0).permutation(y))):
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
        model.compile(keras.optimizers.Adam(1e-2), "mse")
        cb = DiagnosisCallback(tmp_path / name, probe=(x[:128], target[:128]), diagnose=False)
        model.fit(x[:352], target[:352], validation_data=(x[352:], target[352:]), epochs=12, batch_size=32,
                  verbose=0, callbacks=[cb])  # fmt: skip
        (runs[name],) = traindx.read(tmp_path / name)
    flags = runs["misaligned"].context.flags
    assert flags["loss_kind"] == "mse" and flags["trivial_mse"] > 0.5  # standardized targets: ~1
    assert "CTX024" in _codes(runs["misaligned"])
    assert compute_facts(runs["fitted"])["trivial"]["best"] < 0.7
    assert "CTX024" not in _codes(runs["fitted"])


@pytest.mark.keras
def test_keras_level_from_fits_training_targets_not_a_tiny_probe(tmp_path):
    """qa_fresh46 linnerud: the reference level came from a 5-row validation probe (variance
    0.31) while the training targets were standardized (1.0); the level is the training
    targets' (fit's array), and a small probe alone records none."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype("float32")
    y = rng.normal(size=(60, 2)).astype("float32")
    y[:5] *= 0.1  # the probe rows: a tenth of the spread

    def fit(name, y_fit, probe):
        keras.backend.clear_session()
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(keras.optimizers.SGD(1e-3), "mse")
        cb = DiagnosisCallback(tmp_path / name, probe=probe, diagnose=False)
        model.fit(x[5:], y_fit, epochs=1, batch_size=16, verbose=0, callbacks=[cb])
        (run,) = traindx.read(tmp_path / name)
        return run.context.flags

    flags = fit("arrays", y[5:], (x[:5], y[:5]))
    assert flags["trivial_mse"] == pytest.approx(float(y[5:].var(axis=0).mean()), rel=1e-4)

    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x[5:], y[5:])).batch(16)
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(1e-3), "mse")
    model.fit(ds, epochs=1, shuffle=False, verbose=0, callbacks=[DiagnosisCallback(tmp_path / "ds", probe=(x[:5], y[:5]), diagnose=False)])
    (run,) = traindx.read(tmp_path / "ds")
    assert "trivial_mse" not in run.context.flags  # 5 probe rows: no reference level


def test_torch_loss_form_from_the_graph():
    from traindx.adapters._torch_loss_graph import loss_form

    x, y = torch.randn(8, 3, requires_grad=True), torch.rand(8, 3)
    f = torch.nn.functional
    assert loss_form(f.binary_cross_entropy_with_logits(x, y, pos_weight=torch.full((3,), 2.0))) == ("mean", True, False)
    assert loss_form(f.mse_loss(x, y)) == ("mean", False, False)
    assert loss_form(f.mse_loss(x, y, reduction="none").sum(1).mean())[0] == "sum"  # summed over outputs
    assert loss_form(0.5 * f.mse_loss(x, y)) == ("mean", False, True)
    assert loss_form(f.mse_loss(x, y) + f.l1_loss(x, y)) is None  # two terms: no single formula
    loss = f.binary_cross_entropy_with_logits(x, y, pos_weight=torch.full((3,), 2.0))
    loss.backward()  # as the Monitor sees it: after backward, the saved pos_weight is freed
    assert loss_form(loss) == ("mean", True, False)
    loss = f.binary_cross_entropy_with_logits(x, y)
    loss.backward()
    assert loss_form(loss) == ("mean", False, False)


def test_weighted_or_scaled_loss_has_no_ratio():
    from traindx.signals.compare import trivial_facts

    ctx = {"loss_kind": "bcewithlogitsloss", "loss_task": "multilabel", "trivial_bce": 0.5, "target_width": 12.0}
    loss = {"min": 0.49, "last": 0.5}
    assert trivial_facts(ctx, None, loss, {})["best"] == pytest.approx(0.98)
    assert trivial_facts({**ctx, "loss_weighted": True}, None, loss, {}) == {}  # pos_weight: another level
    assert trivial_facts({**ctx, "loss_scaled": True}, None, loss, {}) == {}
    assert trivial_facts(ctx, "sum", loss, {}) == {}
    assert trivial_facts({**ctx, "target_width": 1.0, "loss_task": "binary"}, None, loss, {}) == {}


def test_torch_monitor_records_a_pos_weight_read_from_the_graph(tmp_path):
    from torch import nn

    from traindx.adapters.torch import Monitor

    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    mon = Monitor(model, opt, logdir=tmp_path)  # no loss_fn: the kind comes from the graph
    for _ in range(3):
        x, y = torch.randn(8, 4), (torch.rand(8, 3) > 0.5).float()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y, pos_weight=torch.full((3,), 2.0))
        opt.zero_grad()
        loss.backward()
        mon.step(loss, inputs=x, targets=y)
        opt.step()
    mon.close()
    flags = mon.context.flags
    assert (flags["loss_task"], flags["loss_weighted"], flags["loss_scaled"]) == ("multilabel", True, False)
    assert "label_positive_share" in flags and mon.context.loss.reduction == "mean"
