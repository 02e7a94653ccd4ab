"""The torch Monitor counts the model's training forward passes per recorded optimizer
step (flag ``forwards_per_step``): 1 in a plain loop, k for k accumulated micro-batches, an
epoch's batches when a loop sums them into one loss and steps once per epoch; counting
never changes training."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = pytest.mark.torch
BS = 32


@pytest.fixture(scope="module")
def digits():
    x, y = scaled_digits(384)
    return torch.from_numpy(x), torch.from_numpy(y)


def _train(data, accumulate: int, epochs: int, logdir=None, every=None):
    """``accumulate`` micro-batches per optimizer step (0: the whole epoch summed into one
    loss, backward and step once per epoch); a validation pass after each epoch."""
    torch.manual_seed(0)
    x_all, y_all = data
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, loss_fn=crit, logdir=logdir, every=every) if logdir is not None else None
    n = len(x_all) // BS
    per = n if accumulate == 0 else accumulate
    for _ in range(epochs):
        model.train()
        total, k = 0, 0
        for b in range(n):
            x, y = x_all[b * BS:(b + 1) * BS], y_all[b * BS:(b + 1) * BS]
            loss = crit(model(x), y)
            total, k = total + loss, k + 1
            if k == per:
                opt.zero_grad()
                (total / k).backward()
                if mon is not None:
                    mon.step(total / k, inputs=x, targets=y)
                opt.step()
                total, k = 0, 0
        model.eval()  # evaluation, once without no_grad: not a training forward
        crit(model(x_all[:64]), y_all[:64])
        with torch.no_grad():
            crit(model(x_all[64:128]), y_all[64:128])
    if mon is not None:
        mon.close()
    return [p.detach().clone() for p in model.state_dict().values()], torch.get_rng_state()


@pytest.mark.parametrize(("accumulate", "every", "expect"), [(1, 1, 1.0), (4, 1, 4.0), (0, None, 12.0)])
def test_forwards_per_step(digits, tmp_path, accumulate, every, expect):
    _train(digits, accumulate, 3 if accumulate else 25, tmp_path, every)
    (run,) = traindx.read(tmp_path)
    assert run.context.flags["forwards_per_step"] == expect


@pytest.mark.parametrize("accumulate", [4, 0])
def test_counting_forwards_leaves_training_bit_identical(digits, tmp_path, accumulate):
    w0, rng0 = _train(digits, accumulate, 3)
    w1, rng1 = _train(digits, accumulate, 3, tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(w0, w1, strict=True))
    assert torch.equal(rng0, rng1)
