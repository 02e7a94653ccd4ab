"""UPD004 (some trainable layers never change while the others train) on real torch runs:
an optimizer over the head only fires it; a backbone frozen on purpose (requires_grad=False)
while the head fine-tunes does not."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import traindx  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = pytest.mark.torch


def _codes(tmp_path, head_only: bool, freeze: bool) -> set[str]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:512] / 16.0, dtype=torch.float32), torch.tensor(y[:512])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
    if freeze:
        for p in model[:4].parameters():
            p.requires_grad_(False)
    params = model[4].parameters() if head_only else [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)
    crit = nn.CrossEntropyLoss()
    with Monitor(model, opt, loss_fn=crit, logdir=tmp_path, every=4) as mon:
        for _ in range(5):
            for i in range(0, 512, 32):
                opt.zero_grad()
                loss = crit(model(x[i:i + 32]), y[i:i + 32])
                loss.backward()
                mon.step(loss, inputs=x[i:i + 32], targets=y[i:i + 32])
                opt.step()
    (run,) = traindx.read(tmp_path)
    (d,) = traindx.diagnose(run)
    return {s.code for s in d.symptoms}


def test_optimizer_over_the_head_only(tmp_path):
    assert "UPD004" in _codes(tmp_path, head_only=True, freeze=False)


@pytest.mark.parametrize(("head_only", "freeze"), [(True, True), (False, False)])
def test_frozen_backbone_and_a_plain_run_are_not_flagged(tmp_path, head_only, freeze):
    assert "UPD004" not in _codes(tmp_path, head_only, freeze)
