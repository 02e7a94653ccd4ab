"""Issue 10: NaN in the second input of a multi-input model is counted by the torch Monitor and
the JAX recorder's statistics as by the Keras callback (each counted the first input only)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import traindx


def test_torch_monitor_counts_every_input(tmp_path):
    torch = pytest.importorskip("torch")
    from torch import nn

    from traindx.adapters.torch import Monitor

    class TwoIn(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.lin = nn.Embedding(10, 3), nn.Linear(7, 2)

        def forward(self, cat, num):
            return self.lin(torch.cat([self.emb(cat), num], dim=1))

    def run(name, nan_rows):
        torch.manual_seed(0)
        cat, num = torch.randint(0, 10, (64,)), torch.randn(64, 4)
        num[nan_rows, 1] = float("nan")
        y = torch.randint(0, 2, (64,))
        model = TwoIn()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the monitor's non-finite warnings
            with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path / name, every=1) as mon:
                for i in range(4):
                    sl = slice(16 * i, 16 * (i + 1))
                    opt.zero_grad()
                    loss = nn.functional.cross_entropy(model(cat[sl], num[sl]), y[sl])
                    loss.backward()
                    mon.step(loss, inputs=(cat[sl], num[sl]), targets=y[sl])
                    opt.step()
        (r,) = traindx.read(tmp_path / name)
        return r.context.flags["input_nonfinite"]

    assert run("nan", [3, 40]) == 2.0
    assert run("clean", []) == 0.0


def test_jax_nonfinite_reads_every_leaf():
    jnp = pytest.importorskip("jax.numpy")
    from traindx.adapters._jax_stats.batch import _nonfinite

    ids = jnp.arange(6)
    num = jnp.asarray(np.array([[1.0, np.nan], [np.inf, 2.0]], "float32"))
    assert float(_nonfinite((ids, num))) == 2.0
    assert float(_nonfinite({"ids": ids, "num": num})) == 2.0
    assert float(_nonfinite(num)) == 2.0 and float(_nonfinite(ids)) == 0.0
    assert float(_nonfinite((ids, jnp.ones(3)), np)) == 0.0
