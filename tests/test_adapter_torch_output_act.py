"""The torch Monitor's output activation: a model whose output IS its last Linear's own output
tensor is 'linear', even when the first batch of logits all lie in (0, 1) (fixtures/qa_heldout
torch_gru_expdecay_per_batch: a GRU + Linear(48, 2) head was recorded as 'sigmoid', and CTX002
made its fixed run activation_on_output 50 %). A functional sigmoid after the last Linear (a new
tensor) is still inferred from the values."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from traindx.adapters.torch import Monitor  # noqa: E402


class Head(nn.Module):
    """A GRU encoder and a Linear head whose logits start in (0, 1) (tiny weights, bias 0.5)."""

    def __init__(self, functional_sigmoid: bool = False, squeeze: bool = False):
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.fc = nn.Linear(8, 1 if squeeze else 2)
        self.sig, self.squeeze = functional_sigmoid, squeeze
        with torch.no_grad():
            self.fc.weight.mul_(0.01)
            self.fc.bias.fill_(0.5)

    def forward(self, x):
        z = self.fc(self.gru(x)[0][:, -1])
        if self.squeeze:
            return z.squeeze(1)  # a view of the Linear's output: still no activation
        return torch.sigmoid(z) if self.sig else z


def _run(model, loss_fn, y, logdir):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, 3, generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = Monitor(model, opt, loss_fn=loss_fn, logdir=logdir)
    with torch.no_grad():
        out = model(x)
    # the values alone look like a sigmoid's
    assert 0.0 < float(out.min()) and float(out.max()) < 1.0
    for _ in range(3):
        opt.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        mon.step(loss, inputs=x, targets=y, outputs=out)
        opt.step()
    mon.close()
    return mon.context.model.output_activation


def test_logits_of_a_last_linear_are_linear_whatever_their_first_values(tmp_path):
    y = torch.randint(0, 2, (64,))
    assert _run(Head(), nn.CrossEntropyLoss(), y, tmp_path / "a") == "linear"
    assert _run(Head(squeeze=True), nn.BCEWithLogitsLoss(), y.float(), tmp_path / "b") == "linear"


def test_a_functional_sigmoid_after_the_last_linear_is_still_inferred(tmp_path):
    y = torch.randint(0, 2, (64,))
    assert _run(Head(functional_sigmoid=True), nn.CrossEntropyLoss(), y, tmp_path) == "sigmoid"


class InplaceReluHead(nn.Module):
    """A Linear head whose output a functional in-place ReLU then clips: the same storage as
    the Linear's output tensor, but not its values."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return torch.relu_(self.fc(x[:, -1]))


def test_an_inplace_relu_after_the_last_linear_is_still_inferred(tmp_path):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, 3, generator=g), torch.randn(64, 4, generator=g)
    model = InplaceReluHead()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = Monitor(model, opt, logdir=tmp_path)
    for _ in range(3):
        opt.zero_grad()
        out = model(x)
        o = out.detach()
        assert float((o == 0).float().mean()) > 0.05 and float(o.max()) > 0  # clipped
        loss = nn.functional.mse_loss(out, y)
        loss.backward()
        mon.step(loss, inputs=x, targets=y, outputs=out)
        opt.step()
    mon.close()
    assert mon.context.model.output_activation == "relu"
