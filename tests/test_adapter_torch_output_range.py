"""The torch Monitor reads a ReLU applied in ``forward`` on a one-unit output (qa_begin45: a
regression on standardized, signed targets whose forward ends ``return F.relu(self.out(x))``
was called healthy: a one-column output was only ever read as sigmoid or linear, while the
JAX recorder reads a ReLU on any width). CTX002 then judges ReLU against the targets' sign."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from traindx.adapters import _torch_stats  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402


def test_one_output_relu_is_read_from_its_values():
    one = torch.relu(torch.linspace(-1, 1, 32).reshape(32, 1))
    assert _torch_stats.infer_activation(one, -1, "regression") == "relu"
    assert _torch_stats.infer_activation(one.reshape(32), -1, "regression") == "relu"
    assert _torch_stats.infer_activation(torch.linspace(-1, 1, 32).reshape(32, 1), -1, "regression") == "linear"
    assert _torch_stats.infer_activation(torch.zeros(32, 1), -1, "regression") == "linear"  # all zero: not a ReLU's


class _Regressor(nn.Module):
    def __init__(self, relu_out: bool):
        super().__init__()
        self.h, self.out, self.relu_out = nn.Linear(4, 16), nn.Linear(16, 1), relu_out

    def forward(self, x):
        y = self.out(F.relu(self.h(x)))
        return F.relu(y) if self.relu_out else y


@pytest.mark.parametrize("relu_out, want", [(True, "relu"), (False, "linear")])
def test_the_monitor_records_a_functional_relu_on_a_regression_output(tmp_path, relu_out, want):
    torch.manual_seed(0)
    model = _Regressor(relu_out)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    mon = Monitor(model, opt, loss_fn=nn.MSELoss(), logdir=tmp_path)
    x = torch.randn(64, 4)
    y = x[:, :1] - x[:, 1:2]  # standardized, signed targets
    for _ in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        mon.step(loss, inputs=x, targets=y)
        opt.step()
    mon.close()
    assert mon.context.model.output_activation == want
    assert mon.context.flags["target_min"] < 0.0
