"""The torch Monitor records what (N, C) targets are (issue 10): a cross-entropy given
reconstruction rows that are no class distribution is read by CTX010; class probabilities
(one-hot or soft) are not. Real torch training; the Monitor records, the rules judge."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters._common import RowTargets  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402


def run(tmp_path, targets: str):
    torch.manual_seed(0)
    x = torch.rand(256, 16)
    y = {"pixels": x, "onehot": nn.functional.one_hot((x[:, :4].sum(1) > 2).long() + 0, 16).float(),
         "soft": torch.softmax(3 * x, dim=1)}[targets]  # fmt: skip
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 16))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()  # takes class probabilities as (N, C) targets
    mon = Monitor(model, opt, loss_fn, logdir=tmp_path, every=10)
    for s in range(40):
        xb, yb = x[(s * 32) % 256 :][:32], y[(s * 32) % 256 :][:32]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        mon.step(loss, inputs=xb, targets=yb)
        opt.step()
    mon.close()
    flags = json.loads((tmp_path / "context.json").read_text())["flags"]
    (r,) = traindx.read(tmp_path)
    return flags, {s.code for s in traindx.diagnose(r)[0].symptoms}


def test_cross_entropy_on_reconstruction_rows(tmp_path):
    flags, codes = run(tmp_path, "pixels")
    assert flags["target_kind"] == "continuous" and flags["target_row_sum"] > 4.0
    assert 0.0 <= flags["target_min"] < flags["target_max"] <= 1.0 and "target_integer" not in flags
    assert "CTX010" in codes


@pytest.mark.parametrize(("targets", "kind"), [("onehot", "onehot"), ("soft", "distribution")])
def test_cross_entropy_on_class_probabilities(tmp_path, targets, kind):
    flags, codes = run(tmp_path, targets)
    assert flags["target_kind"] == kind and abs(flags["target_row_sum"] - 1.0) < 1e-4
    assert "CTX010" not in codes


def test_row_targets_keep_the_kind_furthest_from_a_distribution():
    import numpy as np

    rows = RowTargets()
    rows.add(np.eye(4))
    assert rows.flags()["target_kind"] == "onehot"
    rows.add(np.array([[1.0, 1.0, 0.0, 0.0]]))
    f = rows.flags()
    assert f["target_kind"] == "multihot" and f["target_row_sum"] == 6.0 / 5.0 and f["target_onehot"] is False
    rows.add(np.ones((3, 1)))  # one value a row: not these facts
    assert rows.flags() == f
