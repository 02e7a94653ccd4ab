"""The torch Monitor's cheaper paths (issue 15, perf48) record what the longer ones did: the
per-step finiteness check of the gradient norms read through the buffer's numpy view."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = pytest.mark.torch


class _NanToZero(nn.Module):
    def forward(self, h):
        return torch.where(torch.isnan(h), 0.0, torch.relu(h))


def test_nonfinite_gradients_warn_at_their_own_step_on_cpu(tmp_path):
    """A NaN batch at step 3 through a ReLU that maps NaN to 0: the loss stays finite, the
    first layer's gradients are NaN. On the CPU the per-step check (the numpy view of the
    norm buffer) warns during step 3's mon.step, not at a later flush."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), _NanToZero(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, loss_fn=crit, logdir=tmp_path, every=50, flush_secs=1e9)
    warned_at = []
    for s in range(6):
        x = torch.randn(16, 8)
        if s == 3:
            x[:] = float("nan")
        y = torch.randint(0, 3, (16,))
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            mon.step(loss, inputs=x, targets=y)
        warned_at += [s for w in rec if str(w.message).startswith("traindx: gradients are non-finite")]
        opt.zero_grad()  # the NaN gradients are not applied: the next steps stay finite
    mon.close()
    assert warned_at == [3]
    assert mon.context.flags.get("fatal_step") == 3
