"""The torch Monitor records no per-step accuracy (or largest predicted-class fraction) from
an epoch's short last batch: a fraction of 3 rows moves by a third for one row, and the rules
compare the accuracy with the loss of other steps (ACC007 read 2 of 3 right as a loss that
does not fit the accuracy). Full batches keep theirs; the loss of every step is kept."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import traindx  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = pytest.mark.torch
BS = 32


def _train(logdir, n_rows: int, epochs: int = 3):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x_all = torch.tensor(x[:n_rows] / 16.0, dtype=torch.float32)
    y_all = torch.tensor(y[:n_rows])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    sizes = []
    with Monitor(model, opt, loss_fn=crit, logdir=logdir, every=1) as mon:
        for _ in range(epochs):
            for i in range(0, n_rows, BS):  # drop_last=False: the last batch is what is left
                xb, yb = x_all[i : i + BS], y_all[i : i + BS]
                opt.zero_grad()
                loss = crit(model(xb), yb)
                loss.backward()
                mon.step(loss, inputs=xb, targets=yb)
                opt.step()
                sizes.append(len(yb))
    (run,) = traindx.read(logdir)
    return run, sizes


def test_short_last_batch_records_no_accuracy(tmp_path):
    run, sizes = _train(tmp_path, 4 * BS + 3)  # batches of 32, 32, 32, 32, 3 per epoch
    short = {s for s, n in enumerate(sizes) if n == 3}
    assert len(short) == 3
    acc = run.series["train/accuracy"]
    frac = run.series["train/pred_class_frac:max"]
    assert not short & {int(s) for s in acc.steps}
    assert not short & {int(s) for s in frac.steps}
    assert {int(s) for s in acc.steps} >= set(range(len(sizes))) - short  # every full batch kept
    assert short <= {int(s) for s in run.series["train/loss"].steps}  # the loss of every step


def test_even_batches_keep_every_accuracy(tmp_path):
    run, sizes = _train(tmp_path, 4 * BS - 8)  # 32, 32, 32, 24: not much smaller than the usual
    assert min(sizes) == 24
    assert {int(s) for s in run.series["train/accuracy"].steps} == set(range(len(sizes)))
