"""Issue 10's hard rules on real small runs, through every path a user takes: a run whose
validation accuracy stays at chance while training learns, whose validation loss is NaN, or
whose test metrics disagree with validation is never "healthy" - read by the PyTorch Monitor,
from a SummaryWriter (tensorboardX), by the Keras callback (``model.evaluate(...,
callbacks=[cb])`` after fit is the test), and from Keras' CSVLogger + TensorBoard logs. A
clean run of the same program stays healthy in each path (the rules fire on the fault, not on
the program). Digits (scikit-learn's bundled set), an MLP, seconds per run."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import traindx

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FAULTS = ("shuffled", "nan_val", "test_shift")
#: the symptom each fault must show (besides the verdict): GEN007 val at chance while
#: training learns (or one of the other "does not transfer" signs), GEN006 NaN validation
#: loss, GEN008 test far from validation
WANT = {"shuffled": {"GEN007", "GEN002", "GEN009"}, "nan_val": {"GEN006"}, "test_shift": {"GEN008"}}


def _data(kind: str):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    xt, yt = x[:400], y[:400].astype("int64")
    xv, yv = x[1000:1300].copy(), y[1000:1300].astype("int64")
    xs, ys = x[1400:1700].copy(), y[1400:1700].astype("int64")
    if kind == "shuffled":  # labels shuffled apart from their inputs (training split only)
        yt = np.random.default_rng(1).permutation(yt)
    if kind == "nan_val":  # one non-finite value in the validation inputs (a division by zero)
        # inf, not NaN: TensorFlow's oneDNN ReLU maps NaN to 0 (max(NaN, 0) = 0), so a NaN input
        # gives a finite validation loss under Keras-TF on some CPUs; an inf input becomes +-inf in
        # the hidden layer and inf - inf = NaN in the logits under every backend and CPU
        xv[5, 3] = np.inf
    if kind == "test_shift":  # the test split's features in another order (preprocessed apart)
        xs = xs[:, np.random.default_rng(2).permutation(64)]
    return (xt, yt), (xv, yv), (xs, ys)


def _judge(d, kind: str) -> None:
    codes = {s.code for s in d.symptoms}
    if kind == "ok":
        assert d.verdict == "healthy", (d.headline, codes)
        return
    assert d.verdict == "findings", (kind, d.headline, codes)
    assert codes & WANT[kind], (kind, d.headline, codes)


# --------------------------------------------------------------------------- PyTorch


@pytest.fixture(scope="module")
def torch_runs(tmp_path_factory):
    torch = pytest.importorskip("torch")
    tbx = pytest.importorskip("tensorboardX")
    from traindx.adapters.torch import Monitor

    root = tmp_path_factory.mktemp("torch_hard_rules")
    for kind in ("ok", *FAULTS):
        (xt, yt), (xv, yv), (xs, ys) = (tuple(torch.tensor(a) for a in p) for p in _data(kind))
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        ce = torch.nn.CrossEntropyLoss()
        w = tbx.SummaryWriter(str(root / kind / "summary"))
        step = 0
        with Monitor(model, opt, loss_fn=ce, logdir=root / kind / "monitor") as mon:
            for _ in range(15):
                for i in range(0, 400, 32):
                    opt.zero_grad()
                    loss = ce(model(xt[i : i + 32]), yt[i : i + 32])
                    loss.backward()
                    mon.step(loss, inputs=xt[i : i + 32], targets=yt[i : i + 32])
                    opt.step()
                    w.add_scalar("Loss/train", loss.item(), step)
                    step += 1
                with torch.no_grad():
                    o = model(xv)
                    vl, va = ce(o, yv).item(), (o.argmax(1) == yv).float().mean().item()
                    ta = (model(xt).argmax(1) == yt).float().mean().item()
                mon.log(val_loss=vl, val_accuracy=va, train_accuracy=ta)
                for tag, v in (("Loss/val", vl), ("Accuracy/val", va), ("Accuracy/train", ta)):
                    w.add_scalar(tag, v, step)
            with torch.no_grad():
                o = model(xs)
                tl, tacc = ce(o, ys).item(), (o.argmax(1) == ys).float().mean().item()
            mon.log(test_loss=tl, test_accuracy=tacc)
            w.add_scalar("Loss/test", tl, step)
            w.add_scalar("Accuracy/test", tacc, step)
        w.close()
    return root


@pytest.mark.torch
@pytest.mark.tensorboardx
@pytest.mark.parametrize("kind", ["ok", *FAULTS])
@pytest.mark.parametrize("where", ["monitor", "summary"])
def test_torch_paths(torch_runs, kind, where):
    (d,) = traindx.diagnose(torch_runs / kind / where)
    _judge(d, kind)


# --------------------------------------------------------------------------- Keras


@pytest.fixture(scope="module")
def keras_runs(tmp_path_factory):
    keras = pytest.importorskip("keras")
    from traindx.adapters.keras import DiagnosisCallback

    root = tmp_path_factory.mktemp("keras_hard_rules")
    for kind in ("ok", *FAULTS):
        (xt, yt), (xv, yv), (xs, ys) = _data(kind)
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
        m.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
        cb = DiagnosisCallback(logdir=root / kind / "callback")
        logs = root / kind / "logs"
        tb = keras.callbacks.TensorBoard(str(logs))
        csv = keras.callbacks.CSVLogger(str(logs / "training.csv"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TensorFlow's own deprecation chatter
            m.fit(xt, yt, validation_data=(xv, yv), epochs=15, batch_size=32, verbose=0, callbacks=[cb, tb, csv])
            m.evaluate(xs, ys, verbose=0, callbacks=[cb, tb])
        # the callback diagnosed again after evaluate: cb.diagnosis and diagnosis.json know the test
        assert cb.diagnosis is not None and "test" in cb.diagnosis.facts
    return root


@pytest.mark.keras
@pytest.mark.parametrize("kind", ["ok", *FAULTS])
@pytest.mark.parametrize("where", ["callback", "logs"])
def test_keras_paths(keras_runs, kind, where):
    (d,) = traindx.diagnose(keras_runs / kind / where)
    _judge(d, kind)


@pytest.mark.keras
def test_keras_tensorboard_evaluate_after_fit_is_the_test(keras_runs):
    """Keras' TensorBoard writes evaluate()'s metrics at the last validation's iteration: read
    as the test (test/loss, test/accuracy), not as the last point of validation."""
    (run,) = traindx.read(keras_runs / "test_shift" / "logs")
    assert {"test/loss", "test/accuracy"} <= set(run.series)
    assert float(run.series["test/accuracy"].values[-1]) < 0.5
    assert float(np.max(run.series["val/accuracy:step"].values)) > 0.8
    assert float(run.series["val/accuracy:step"].values[-1]) > 0.8  # the validation ends where it was
    assert any("read as test metrics" in p.message for p in run.ingest.problems), run.ingest.problems
