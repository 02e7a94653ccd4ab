"""The torch Monitor records ``val_input_shift`` / ``val_input_std_ratio`` from the forwards it
already reads for the train/validation overlap (traindx/adapters/_torch_overlap.py; session 44):
validation inputs from another distribution (rescaled, offset: normalized with other statistics)
move them, a random split does not, and a train-accuracy pass over training rows is left out.
CTX052 reads them (-> distribution_shift). Training is bit-identical with the Monitor."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402


def train(tmp_path, scale=1.0, offset=0.0, monitor=True, epochs=3, train_eval=True):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(700, 10, generator=g)
    y = (x[:, :2].sum(1) > 0).long()
    xtr, ytr = x[:500], y[:500]
    xva, yva = x[500:] * scale + offset, y[500:]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, crit, logdir=tmp_path) if monitor else None
    for _ in range(epochs):
        model.train()
        for i in range(0, 500, 50):
            opt.zero_grad()
            loss = crit(model(xtr[i : i + 50]), ytr[i : i + 50])
            loss.backward()
            if mon is not None:
                mon.step(loss)
            opt.step()
        model.eval()
        with torch.no_grad():
            if train_eval:
                model(xtr[:200])  # a train-accuracy pass first: not the validation inputs
            vl = float(crit(model(xva), yva))
        if mon is not None:
            mon.log(val_loss=vl)
    if mon is not None:
        mon.close()
    return model


def flags(path):
    (run,) = traindx.read(path)
    return run, run.context.flags


def test_shifted_validation_inputs_are_measured_and_named(tmp_path):
    train(tmp_path, scale=2.5, offset=1.5)
    run, f = flags(tmp_path)
    assert f["val_input_shift"] > 1.0 and f["val_input_std_ratio"] > 2.0
    diag = traindx.diagnose(run)[0]
    assert "CTX052" in {s.code for s in diag.symptoms}
    assert "distribution_shift" in [c.id for c in diag.causes[:3]]


def test_random_split_reads_as_one_distribution(tmp_path):
    train(tmp_path)
    run, f = flags(tmp_path)
    assert f["val_input_shift"] < 0.2 and 0.8 < f["val_input_std_ratio"] < 1.25
    assert "CTX052" not in {s.code for s in traindx.diagnose(run)[0].symptoms}


def test_only_training_set_evaluations_compare_as_one_distribution(tmp_path):
    """With no validation pass but a train-accuracy one, the training rows are compared with
    themselves: no shift (the 'every evaluation is a training pass' branch)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 6, generator=g)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(6, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, crit, logdir=tmp_path)
    for _ in range(2):
        for i in range(0, 300, 30):
            opt.zero_grad()
            loss = crit(model(x[i : i + 30]), y[i : i + 30])
            loss.backward()
            mon.step(loss)
            opt.step()
        with torch.no_grad():
            model(x[:100])
    mon.close()
    f = flags(tmp_path)[1]
    assert f["val_input_shift"] < 0.3 and 0.7 < f["val_input_std_ratio"] < 1.4


def test_training_identical_with_the_monitor(tmp_path):
    a = train(tmp_path / "a", scale=2.5, offset=1.5, epochs=2)
    b = train(tmp_path / "b", scale=2.5, offset=1.5, epochs=2, monitor=False)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_the_evaluation_sample_is_bounded():
    """Many small evaluation forwards keep at most 2 x SAMPLE_ROWS rows of values (the lists stay
    parallel to the fingerprints: empty samples past the room), and the shift is still read."""
    from traindx.adapters import _torch_overlap as ov

    o = ov.Overlap()
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        o.see(torch.randn(64, 8, generator=g), True)
    for _ in range(200):
        o.see(torch.randn(32, 8, generator=g) * 3.0, False)
    assert len(o.esample) == len(o.evals)
    assert sum(len(a) for a in o.esample) <= 2 * ov.SAMPLE_ROWS
    got = o.shift()
    assert got["val_input_std_ratio"] > 2.0
