"""The torch Monitor's fast paths (issue 15: per-step overhead) record what the slow paths
record: the same facts, the same values, in the common case and in the cases the fast path
hands back to the slow one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from traindx.adapters import _torch_stats as ts
from traindx.adapters._common.activations import finite_activation_values

# --------------------------------------------------------------------------- finite activation values


def test_all_finite_values_are_returned_as_they_are():
    vals = {"train/act_mean@a": 0.1, "train/act_frac_zero@a": 0.5, "train/weight_norm": 3.0, "_in_n": 64}
    kept, n = finite_activation_values(vals)
    assert kept == vals and n == 0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_nonfinite_activation_row_is_still_dropped(bad):
    vals = {"train/act_mean@a": bad, "train/act_frac_zero@a": 1.0, "train/act_mean@b": 0.2, "train/loss": 1.0}
    kept, n = finite_activation_values(vals)
    assert kept == {"train/act_mean@b": 0.2, "train/loss": 1.0} and n == 1


def test_a_sum_that_overflows_takes_the_exact_path():
    """Finite values whose sum overflows to inf: every value is kept (the sum only screens)."""
    vals = {"train/act_mean@a": 1.5e308, "train/act_std@a": 1.5e308, "train/weight_norm": 1.0}
    kept, n = finite_activation_values(vals)
    assert kept == vals and n == 0


def test_values_other_than_floats_are_judged_as_before():
    """A value that is not a float or an int (a numpy float32) is read as NaN by the exact path."""
    vals = {"train/act_mean@a": np.float32(0.5), "train/act_std@a": 0.1, "train/loss": 1.0}
    kept, n = finite_activation_values(vals)
    assert kept == {"train/loss": 1.0} and n == 1


# --------------------------------------------------------------------------- tensor_summary


@pytest.mark.parametrize("shape", [(4,), (8, 8), (64, 200)])
def test_nonfinite_inputs_are_counted_at_any_size(shape):
    x = torch.rand(*shape)
    flat = x.view(-1)
    flat[1], flat[-1] = math.nan, math.inf
    assert ts.tensor_summary(x)[4].item() == 2.0
    flat[1] = flat[-1] = 0.5
    assert ts.tensor_summary(x)[4].item() == 0.0


def test_finite_inputs_whose_min_max_sum_overflows_count_no_nonfinite_value():
    x = torch.tensor([1.5e308, 1.7e308, 0.0], dtype=torch.float64)
    s = ts.tensor_summary(x)
    assert s[4].item() == 0.0 and s[3].item() == 1.7e308


def test_summary_of_a_small_batch_matches_the_counting_pass():
    x = torch.randn(64, 10)
    s = ts.tensor_summary(x).tolist()
    std, mean = torch.std_mean(x, correction=0)
    assert s == [mean.item(), std.item(), x.min().item(), x.max().item(), 0.0, 640.0]


# --------------------------------------------------------------------------- hooks made once


def test_hook_functions_are_made_once_and_removed_at_close(tmp_path):
    from traindx.adapters.torch import Monitor

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    crit = nn.CrossEntropyLoss()
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    hooks: set[int] = set()
    before = len(nn.modules.module._global_forward_hooks)
    with Monitor(model, opt, loss_fn=crit, logdir=tmp_path) as mon:
        for _ in range(60):
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            mon.step(loss, inputs=x, targets=y)
            opt.step()
            if mon._fwd_hook is not None:
                hooks.add(id(mon._fwd_hook))
    assert len(hooks) == 1  # armed many times (telemetry steps, samples), one function
    assert len(nn.modules.module._global_forward_hooks) == before
    from traindx.adapters._common.writer import read_run

    tags = set(read_run(tmp_path).series)  # the activations were still recorded at the samples
    assert any(t.startswith("train/act_mean@") for t in tags), sorted(tags)


# --------------------------------------------------------------------------- one pass for summary and key


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.float16])
@pytest.mark.parametrize("n", [5, 64 * 64, 64 * 200])  # under and over ts.LARGE (the two mean/std paths)
def test_summary_and_key_is_the_summary_then_the_key(dtype, n):
    torch.manual_seed(1)
    x = (torch.randn(n) * 3).to(dtype)
    assert torch.equal(ts.summary_and_key(x), torch.cat([ts.tensor_summary(x), ts.input_key(x)]))
    if dtype.is_floating_point:
        x[2] = math.nan
        got, want = ts.summary_and_key(x), torch.cat([ts.tensor_summary(x), ts.input_key(x)])
        assert got[4].item() == 1.0 and torch.equal(got.isnan(), want.isnan())


def test_nonfinite_float_targets_and_other_inputs_are_still_counted(tmp_path):
    """train/nonfinite@inputs: NaN in a second input and in float targets (a regression), none in
    integer targets (the count the fast path leaves out is 0)."""
    from traindx.adapters._common.writer import read_run
    from traindx.adapters.torch import Monitor

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 1), nn.Linear(3, 1)

        def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(torch.nan_to_num(z))

    torch.manual_seed(0)
    model = Two()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    crit = nn.MSELoss()
    x, z, y = torch.randn(16, 4), torch.randn(16, 3), torch.randn(16, 1)
    z[0, 0] = math.nan
    y[1, 0] = math.inf
    with Monitor(model, opt, loss_fn=crit, logdir=tmp_path, every=1) as mon:
        for _ in range(3):
            opt.zero_grad()
            loss = crit(model(x, z), torch.nan_to_num(y, posinf=0.0))
            loss.backward()
            mon.step(loss, inputs=(x, z), targets=y)
            opt.step()
    s = read_run(tmp_path).series["train/nonfinite@inputs"]
    assert [float(v) for v in s.values] == [2.0, 2.0, 2.0]
