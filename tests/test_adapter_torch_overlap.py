"""The torch Monitor records ``ctx.val_shared_frac`` (issue 10: data_leakage runs of torch were
called healthy; the Monitor recorded no train/validation overlap): the share of evaluation
rows (forwards under ``model.eval()`` / ``torch.no_grad()``) that are training rows
(training-mode forwards with grad), a train-accuracy pass over a training subset left out.
Training is bit-identical with and without it, and the model still pickles and deep-copies."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters import _torch_overlap  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402
from traindx.rowid import row_ids  # noqa: E402


def data(n=600, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g)
    return x, (x[:, :3].sum(1) > 0).long()


def train(
    tmp_path,
    leak: float,
    monitor: bool = True,
    train_eval: bool = True,
    epochs: int = 4,
    hooks=None,
):
    """A plain loop: a val set of 150 rows, ``leak`` of them training rows; per epoch the val
    loss under eval()/no_grad() and a train accuracy on the first 100 training rows."""
    x, y = data()
    xtr, ytr, xva, yva = x[:450], y[:450], x[450:].clone(), y[450:].clone()
    k = int(leak * len(xva))
    xva[:k], yva[:k] = xtr[100 : 100 + k], ytr[100 : 100 + k]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, crit, logdir=tmp_path) if monitor else None
    gen = torch.Generator().manual_seed(1)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xtr), generator=gen).split(32):
            opt.zero_grad()
            loss = crit(model(xtr[idx]), ytr[idx])
            loss.backward()
            if mon is not None:
                mon.step(loss)
            opt.step()
        model.eval()
        with torch.no_grad():
            vl = float(crit(model(xva), yva))
            if train_eval:
                model(xtr[:100])
        if mon is not None:
            mon.log(val_loss=vl)
    if hooks is not None:
        hooks.append(len(nn.modules.module._global_forward_pre_hooks))
    if mon is not None:
        mon.close()
    return model


def flags(tmp_path):
    (run,) = traindx.read(tmp_path)
    return run, run.context.flags


def test_validation_rows_drawn_from_training_are_counted(tmp_path):
    train(tmp_path, leak=0.4)
    run, f = flags(tmp_path)
    assert f["val_shared_frac"] == pytest.approx(60 / 150)
    diag = traindx.diagnose(run)[0]
    assert "CHK025" in {s.code for s in diag.symptoms}
    assert diag.causes[0].id == "data_leakage"


def test_clean_split_records_no_overlap_despite_a_train_accuracy_pass(tmp_path):
    train(tmp_path, leak=0.0)
    run, f = flags(tmp_path)
    assert f["val_shared_frac"] == 0.0
    diag = traindx.diagnose(run)[0]
    assert "CHK025" not in {s.code for s in diag.symptoms}
    assert all(c.id != "data_leakage" for c in diag.causes[:3])


def test_the_hook_goes_once_the_training_set_and_an_evaluation_were_seen(tmp_path):
    """Any global module hook slows every module call: the overlap hook lives about an
    epoch (15 steps here) plus STALE_FORWARDS training forwards, then the fact stays."""
    before = len(nn.modules.module._global_forward_pre_hooks)
    left: list[int] = []
    train(tmp_path, leak=0.4, epochs=3, hooks=left)
    train(tmp_path / "long", leak=0.4, epochs=7, hooks=left)
    assert left == [before + 1, before]
    assert flags(tmp_path / "long")[1]["val_shared_frac"] == pytest.approx(60 / 150)


def test_validation_set_that_is_training_data(tmp_path):
    train(tmp_path / "all", leak=1.0, train_eval=False, epochs=2)
    assert flags(tmp_path / "all")[1]["val_shared_frac"] == 1.0
    train(tmp_path / "none", leak=0.0, train_eval=False, epochs=1)  # training seen before eval only
    assert flags(tmp_path / "none")[1]["val_shared_frac"] == 0.0


def test_training_identical_and_model_still_pickles(tmp_path):
    a = train(tmp_path / "a", leak=0.4, epochs=2)
    b = train(tmp_path / "b", leak=0.4, monitor=False, epochs=2)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    model = nn.Linear(4, 2)
    mon = Monitor(model, logdir=tmp_path / "c")
    model(torch.randn(8, 4)).sum().backward()
    pickle.loads(pickle.dumps(model))
    copy.deepcopy(model)(torch.randn(3, 4))
    xe = torch.randn(8, 4)
    state = torch.random.get_rng_state()
    with torch.no_grad():
        model(xe)
    assert mon._overlap is not None and mon._overlap.eval_rows == 8
    assert torch.equal(state, torch.random.get_rng_state())  # no RNG drawn by the monitor
    mon.close()
    assert not model._forward_pre_hooks and not nn.modules.module._global_forward_pre_hooks


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(3, 4), nn.Linear(5, 2)

    def forward(self, codes, num):
        return self.lin(torch.cat([self.emb(codes).mean(1), num], 1))


def test_a_forward_of_several_inputs_is_not_read(tmp_path):
    """Categorical codes of few values repeat across distinct samples: with a second input
    (numeric columns) the first is only part of a row, so no fact (no false leak)."""
    model = TwoInputs()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = Monitor(model, opt, logdir=tmp_path)
    g = torch.Generator().manual_seed(0)
    codes, num = torch.randint(0, 3, (200, 2), generator=g), torch.randn(200, 1, generator=g)
    for _ in range(3):
        for i in range(0, 160, 20):
            opt.zero_grad()
            loss = model(codes[i : i + 20], num[i : i + 20]).square().mean()
            loss.backward()
            mon.step(loss)
            opt.step()
        with torch.no_grad():
            model(codes[160:], num[160:])
    mon.close()
    assert "val_shared_frac" not in flags(tmp_path)[1]


def test_the_monitor_s_row_ids_are_traindx_rowid_s():
    """The forward hook's ids (a tensor viewed as integers in torch) are the ids the preflight
    and the Keras callback give the same rows (traindx.rowid.row_ids), in any batch."""
    x = np.random.default_rng(0).standard_normal((64, 50)).astype(np.float32)
    ov = _torch_overlap.Overlap()
    assert ov._keys(torch.from_numpy(x)) == row_ids(x)
    assert ov._keys(torch.from_numpy(x[5:9])) == row_ids(x)[5:9]
    b = torch.from_numpy(x).to(torch.bfloat16)  # no numpy dtype: viewed as int16 in torch
    assert ov._keys(b)[5:9] == ov._keys(b[5:9]) and len(set(ov._keys(b))) == 64
    flags = torch.from_numpy(x > 0)
    assert ov._keys(flags) == row_ids(x > 0)


def test_bounded():
    ov = _torch_overlap.Overlap()
    ov.see(torch.arange(10), True)  # 1-D: no rows
    ov.see(torch.zeros(5, 3, dtype=torch.bfloat16), True)
    assert ov.train_rows == 5
    ov.see(torch.zeros(_torch_overlap.MAX_EVAL_ROWS + 50, 3), False)
    assert ov.eval_rows == _torch_overlap.MAX_EVAL_ROWS and ov.frac() is None  # zero rows: no evidence
    for _ in range(_torch_overlap.STALE_FORWARDS):  # the same rows again: the training set is seen
        ov.see(torch.zeros(5, 3, dtype=torch.bfloat16), True)
    assert ov.done and not ov.capped
    ov = _torch_overlap.Overlap()
    ov.see(torch.zeros(8, 3), False)
    ov.see(torch.arange(3 * _torch_overlap.MAX_TRAIN_ROWS + 3).reshape(-1, 3), True)
    assert ov.capped and ov.frac() is None and not ov.train


@pytest.mark.parametrize("n_train", [3_200, 6_400])
@pytest.mark.parametrize("train_first", [True, False])
def test_a_large_train_accuracy_pass_does_not_hide_the_validation_pass(
    tmp_path, n_train, train_first
):
    """qa_fresh37's fixed fraud run: after each epoch the whole training set (6,400 rows, more
    than MAX_EVAL_ROWS in one forward) is evaluated for a train accuracy, then the disjoint
    validation set. The training-set pass took the whole evaluation budget, the validation
    rows were never read, and val_shared_frac was 1.0 (CHK025 -> data_leakage 79 %)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + 800, 20, generator=g)
    y = (x[:, :4].sum(1) > 0).float()
    xt, yt, xv = x[:n_train], y[:n_train], x[n_train:]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = nn.BCEWithLogitsLoss()
    mon = Monitor(model, opt, loss_fn=crit, logdir=tmp_path)
    for _ in range(2):
        model.train()
        for i in range(0, n_train, 256):
            opt.zero_grad()
            loss = crit(model(xt[i : i + 256]).squeeze(1), yt[i : i + 256])
            mon.step(loss, inputs=xt[i : i + 256], targets=yt[i : i + 256])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for part in (xt, xv) if train_first else (xv, xt):
                model(part)
        mon.log(val_loss=0.5)
    mon.close()
    assert flags(tmp_path)[1]["val_shared_frac"] == 0.0


def test_bounded_keeps_room_for_validation_after_training_passes():
    ov = _torch_overlap.Overlap()
    xt, xv = torch.randn(300, 3), torch.randn(40, 3)
    ov.see(xt, True)
    for _ in range(_torch_overlap.MAX_EVAL_KEPT // 300 + 5):  # training-set passes fill the budget
        ov.see(xt, False)
    ov.see(xv, False)
    assert ov.kept <= _torch_overlap.MAX_EVAL_KEPT and ov.frac() == 0.0


def test_rows_common_within_the_training_set_are_no_leak(tmp_path):
    """Per-window standardisation makes every constant window the same all-zero row (qa_real37's
    fixed accelerometer run: data_leakage 79 %): a row held by many training rows is a
    degenerate duplicate, left out; a leaked sample still counts."""
    ov = _torch_overlap.Overlap()
    g = torch.Generator().manual_seed(0)
    tr = torch.randn(400, 6, generator=g)
    tr[::10] = 0.0  # 40 all-zero training rows
    va = torch.randn(100, 6, generator=g)
    va[::10] = 0.0  # 10 all-zero validation rows
    va[1:6] = tr[1:6]  # 5 leaked samples
    for _ in range(3):  # later epochs repeat every row: not copies
        for i in range(0, 400, 40):
            ov.see(tr[i : i + 40], True)
    ov.see(va, False)
    assert ov.copies[row_ids(np.zeros((1, 6), np.float32))[0]] == 40
    assert ov.frac() == pytest.approx(5 / 90)
    ov.evals = []
    residue = torch.zeros(20, 6)
    residue[:, ::2] = 0.03  # a constant window standardised with a rounding residue: two values
    ov.see(torch.cat([residue, va[1:6], va[11:20]]), False)
    assert ov.frac() == pytest.approx(5 / 14)  # the residue rows left out
