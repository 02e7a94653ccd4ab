"""The torch Monitor's gradient and optimizer facts hold for any model shape and training loop
(issue 10: a siamese net's fixed run was read as gradients_not_flowing, its last bias gets an
exactly zero gradient from the difference of two passes). Healthy loops of several shapes
record no parameter without gradient and none missing from the optimizers; cut graphs and
parameters no optimizer holds still are recorded."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from traindx.adapters.torch import Monitor  # noqa: E402


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 16, generator=g)
    return x, (x[:, :4].sum(1) > 0).long()


def mlp(out=2):
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, out))


class MoE(nn.Module):
    """Four experts, one routed per step."""

    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(16, 32), nn.Linear(32, 2)
        self.experts = nn.ModuleList(nn.Linear(32, 32) for _ in range(4))

    def forward(self, x, k):
        return self.out(F.relu(self.experts[k](F.relu(self.inp(x)))))


class TwoHeads(nn.Module):
    """A shared encoder; one head per task, the tasks alternating by step."""

    def __init__(self):
        super().__init__()
        self.enc, self.cls, self.reg = nn.Linear(16, 32), nn.Linear(32, 2), nn.Linear(32, 1)

    def forward(self, x, task):
        h = F.relu(self.enc(x))
        return self.cls(h) if task == 0 else self.reg(h)


class Cut(nn.Module):
    """The encoder's output detached: the encoder never learns."""

    def __init__(self):
        super().__init__()
        self.enc, self.head = nn.Linear(16, 32), nn.Linear(32, 2)

    def forward(self, x, _=0):
        return self.head(F.relu(self.enc(x)).detach())


def loop(kind, tmp_path, steps=48):
    """Run one shape's loop for ``steps`` steps; the flags the Monitor recorded."""
    torch.manual_seed(0)
    x, y = data()
    if kind in ("moe", "cut"):
        model = MoE() if kind == "moe" else Cut()
    elif kind == "alt_heads":
        model = TwoHeads()
    else:
        model = mlp(8 if kind == "siamese" else 2)
    if kind == "two_optimizers":
        opts = [torch.optim.SGD(model[0].parameters(), 0.01), torch.optim.Adam(model[2].parameters(), 1e-3)]
    elif kind == "head_in_no_optimizer":
        other = mlp()  # a second optimizer over another model steps too: it does not hold the head
        opts = [torch.optim.Adam(model[0].parameters(), 1e-3), torch.optim.Adam(other.parameters(), 1e-3)]
    else:
        opts = [torch.optim.Adam(model.parameters(), 1e-3)]
    mon = Monitor(model, opts[-1] if kind == "two_optimizers" else opts[0], logdir=tmp_path, every=4)
    for k in range(steps):
        i = torch.randint(0, 256, (32,))
        xb, yb = x[i], y[i]
        for o in opts:
            o.zero_grad()
        if kind == "siamese":
            d = (model(xb) - model(xb + 0.1 * torch.randn_like(xb))).norm(dim=1)
            loss = d.pow(2).mean()
        elif kind == "moe":
            loss = F.cross_entropy(model(xb, k % 4), yb)
        elif kind == "alt_heads":
            loss = (F.cross_entropy(model(xb, 0), yb) if k % 2 == 0
                    else F.mse_loss(model(xb, 1).squeeze(1), xb[:, 0]))  # fmt: skip
        else:
            if kind == "freeze_late" and k == steps // 2:
                model[0].requires_grad_(False)
            loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        mon.step(loss, inputs=xb)
        for o in opts:
            o.step()
    mon.close()
    ctx = json.loads((tmp_path / "context.json").read_text())
    return ctx["flags"], ctx["notes"]


@pytest.mark.parametrize("kind", ["siamese", "moe", "alt_heads", "two_optimizers", "freeze_late"])
def test_healthy_shapes_have_every_parameter_reached_and_optimized(kind, tmp_path):
    flags, notes = loop(kind, tmp_path)
    assert flags["params_without_grad"] == 0.0
    assert flags["params_not_in_optimizer"] == 0.0
    # the siamese net's last bias cancels in the difference of the two passes: said, not flagged
    assert any("exactly zero gradient" in n and "2.bias" in n for n in notes) == (kind == "siamese")


def test_a_cut_graph_is_still_recorded(tmp_path):
    flags, notes = loop("cut", tmp_path)
    assert flags["params_without_grad"] == 2.0  # enc.weight and enc.bias: never reached
    assert not any("exactly zero gradient" in n for n in notes)


def test_a_head_no_optimizer_holds_is_still_recorded(tmp_path):
    flags, _ = loop("head_in_no_optimizer", tmp_path)
    assert flags["params_not_in_optimizer"] == 2.0
