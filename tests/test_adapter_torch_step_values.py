"""The torch Monitor's per-step record, pinned on a fixed-seed run (issue 15: its per-step path
made cheaper must record the same values): every step's loss, learning rates and global
gradient norm, and which parameters ever had a non-zero gradient, compared against values
computed here from the same tensors (not constants: CPU-independent)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from traindx.adapters.torch import Monitor  # noqa: E402


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 3)
        self.dead = nn.Parameter(torch.ones(4))  # used as 0 * p: a zero gradient every step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x))) + 0.0 * self.dead.sum()


def _run(tmp_path, every: int, spare: bool):
    torch.manual_seed(0)
    model = Net()
    if spare:  # a parameter without a gradient on odd steps (the unaligned path)
        model.extra = nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)  # mutates the LR in place
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, loss_fn=crit, logdir=tmp_path, every=every, flush_secs=1e9)
    got: list[tuple[list[int], list[float], np.ndarray, list[list[float]]]] = []
    orig = mon._write_steps

    def spy(losses, gnorms):
        got.append(([s for s, _ in mon._b_steps], list(losses), np.array(gnorms), [list(r) for r in mon._b_lr]))
        orig(losses, gnorms)

    mon._write_steps = spy
    exp_steps, exp_loss, exp_gn, exp_lr = [], [], [], []
    params = list(model.parameters())
    for s in range(57):
        x = torch.randn(16, 8)
        y = torch.randint(0, 3, (16,))
        opt.zero_grad()
        out = model(x)
        if spare and s % 2 == 0:
            out = out + model.extra(x)
        loss = crit(out, y)
        loss.backward()
        grads = [p.grad for p in params if p.grad is not None]
        norms = torch._foreach_norm(grads, 2)
        exp_steps.append(s)
        exp_loss.append(loss.item())
        exp_gn.append(math.sqrt(sum(float(n) ** 2 for n in norms)))
        exp_lr.append([g["lr"] for g in opt.param_groups])
        mon.step(loss, inputs=x, targets=y)
        opt.step()
        sched.step()
    mon.close()
    steps = [s for g in got for s in g[0]]
    losses = [v for g in got for v in g[1]]
    gns = np.concatenate([g[2] for g in got])
    lrs = [r for g in got for r in g[3]]
    return mon, steps, losses, gns, lrs, (exp_steps, exp_loss, exp_gn, exp_lr)


@pytest.mark.parametrize(("every", "spare"), [(5, False), (10**9, False), (5, True)])
def test_recorded_steps_losses_lrs_and_norms_are_the_values_of_the_run(tmp_path, every, spare):
    mon, steps, losses, gns, lrs, (es, el, eg, elr) = _run(tmp_path, every, spare)
    assert steps == es
    assert losses == el  # bit for bit: the loss as a Python float
    assert lrs == elr  # the LR of each step, read before the scheduler moved it
    np.testing.assert_allclose(gns, eg, rtol=1e-12)  # float64 sums of the same float32 norms
    names = mon._reach.names
    nonzero = dict(zip(names, mon._reach.nonzero.tolist(), strict=True))
    assert nonzero["dead"] is False  # a zero gradient on every step
    assert all(v for n, v in nonzero.items() if n != "dead")
