"""The torch Monitor's ``linear_stack`` flag: how many Linear layers the forward composes with
nothing non-linear between them, from a torch.fx trace (qa_real41's two-moons run:
nn.Sequential(Linear, Identity, Linear, Identity, Linear) - the ReLUs forgotten - was called
healthy from the Monitor). Activations applied in forward (F.relu) count; an untraceable model
records nothing (unknown)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from traindx.adapters._torch_linear import linear_stack  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.out = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 2)

    def forward(self, x):
        h = F.relu(self.a(x))
        return self.out(h + F.relu(self.b(h)))


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.b(self.a(x)) if x.sum() > 0 else self.b(x)


@pytest.mark.parametrize(
    "model, want",
    [
        (nn.Sequential(nn.Linear(2, 64), nn.Identity(), nn.Linear(64, 64), nn.Identity(), nn.Linear(64, 2)), 3.0),
        (nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)), 1.0),
        (nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 2)), 2.0),
        (nn.Linear(4, 2), 1.0),  # logistic regression on purpose
        (Residual(), 1.0),  # functional activations and a residual addition end every stack
        (DataDependent(), None),  # the trace cannot follow it: unknown
    ],
)
def test_linear_stack(model, want):
    assert linear_stack(model) == want


def test_the_monitor_records_the_stack(tmp_path):
    model = nn.Sequential(nn.Linear(2, 16), nn.Identity(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path)
    x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        mon.step(loss)
    mon.close()
    assert mon.context.flags["linear_stack"] == 2.0


@pytest.mark.parametrize(
    "model, want",
    [
        # qa_mixed42's digits autoencoder: 64 -> 32 relu -> 8, 8 -> 32 relu -> 64; the bottleneck
        # pair (32 -> 8 -> 32) narrows below both its ends: a low-rank map on purpose
        (nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64)), (2.0, 1.0)),
        (nn.Sequential(nn.Linear(10, 32), nn.Linear(32, 32), nn.Linear(32, 2)), (3.0, 3.0)),  # forgotten ReLUs
        (nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 8), nn.Linear(8, 32)), (3.0, 2.0)),  # 64 -> 32 -> 8 is still wasted depth
        (nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)), (1.0, 1.0)),
    ],
)
def test_stacks_that_narrow_below_both_ends_are_counted_apart(model, want):
    from traindx.adapters._torch_linear import linear_stacks

    assert linear_stacks(model) == want


class _Block(nn.Module):
    """A residual block as qa_mixed45's deep residual MLP writes it: x + f(x), f = Linear-ReLU-Linear."""

    def __init__(self, d):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))

    def forward(self, x):
        return x + self.f(x)


class _TwoUses(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 2)

    def forward(self, x):
        h = self.a(x)
        return self.c(torch.tanh(self.b(h)) * h)


@pytest.mark.parametrize(
    "model, want",
    [
        # qa_mixed45: an input projection feeding residual blocks, a head after the last add -
        # the projection's output feeds both the branch's first Linear and the skip (read as 2)
        (nn.Sequential(nn.Linear(10, 32), *[_Block(32) for _ in range(3)], nn.Linear(32, 1)), 1.0),
        (_TwoUses(), 1.0),  # h feeds a gate as well as b: a, b do not collapse into one map
        (nn.Sequential(nn.Linear(10, 32), nn.Dropout(0.1), nn.Linear(32, 32), _Block(32)), 2.0),  # still a stack
    ],
)
def test_a_value_used_twice_ends_the_stack(model, want):
    assert linear_stack(model) == want


class _GRN(nn.Module):
    """qa_mixed46's gated residual network block (as published): fc2 straight into the GLU's
    projection, whose two halves are multiplied - a * sigmoid(b)."""

    def __init__(self, d):
        super().__init__()
        self.fc1, self.fc2, self.gate = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, 2 * d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x):
        h = self.fc2(nn.functional.elu(self.fc1(x)))
        return self.norm(x + nn.functional.glu(self.gate(h), dim=-1))


class _Split(nn.Module):
    """A fused projection split by hand (chunk / split / unbind / nn.GLU): each part is its own
    linear map of the same input."""

    def __init__(self, how):
        super().__init__()
        self.how, self.a, self.b = how, nn.Linear(4, 8), nn.Linear(8, 16)
        self.glu = nn.GLU()

    def forward(self, x):
        z = self.b(self.a(x))
        if self.how == "chunk":
            p, q = z.chunk(2, dim=-1)
        elif self.how == "split":
            p, q = torch.split(z, 8, dim=-1)
        else:
            return self.glu(z)
        return p * torch.sigmoid(q)


@pytest.mark.parametrize(
    "model, want",
    [
        (nn.Sequential(nn.Linear(10, 64), _GRN(64), _GRN(64), nn.Linear(64, 2)), 1.0),  # read as 2
        (_Split("chunk"), 1.0),
        (_Split("split"), 1.0),
        (_Split("glu"), 1.0),
        # nothing split: the pair stays one linear map
        (nn.Sequential(nn.Linear(10, 32), nn.Linear(32, 32), nn.GELU()), 2.0),
    ],
)
def test_a_projection_split_into_gated_parts_ends_the_stack(model, want):
    """A Linear whose output is split (GLU, chunk, split, unbind) is several linear maps of its
    input, multiplied or routed apart: its input feeds several branches, as a value used twice."""
    assert linear_stack(model) == want
