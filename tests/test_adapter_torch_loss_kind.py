"""The loss kind as a fact the torch Monitor records without ``loss_fn=`` (issue losskind18):
read from the loss tensor's autograd graph (node names only), so rules that compare a loss
with ln(C) or expect it to fall by two thirds know when the loss is no cross-entropy. Also the
input-scale statistics leave out integer category codes packed into a float input beside
numeric features, and a functional ``loss_fn`` fed a reshaped output is no broadcast."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from traindx.adapters._torch_loss_graph import (  # noqa: E402
    broadcast_into_loss,
    loss_kind_of,
    loss_task,
    reshaped_into_loss,
)
from traindx.adapters.torch import Monitor  # noqa: E402

G = torch.Generator().manual_seed(0)
X = torch.randn(16, 6, generator=G)
Y = torch.randint(0, 3, (16,), generator=G)
MULTI = (torch.rand(16, 3, generator=G) > 0.5).float()


def out(width=3):
    return nn.Linear(6, width)(X)


def vae_loss():
    enc, dec = nn.Linear(6, 4), nn.Linear(2, 6)
    h = enc(X)
    mu, lv = h[:, :2], h[:, 2:]
    rec = F.mse_loss(dec(mu + torch.randn_like(mu) * (0.5 * lv).exp()), X)
    kl = (-0.5 * (1 + lv - mu**2 - lv.exp()).sum(1)).mean()
    return rec + 0.5 * kl


def contrastive_loss():
    e = nn.Linear(6, 4)(X).view(8, 2, 4)
    same = (torch.arange(8) % 2).float()
    dist = (e[:, 0] - e[:, 1]).pow(2).sum(1).add(1e-9).sqrt()
    return (same * dist**2 + (1 - same) * F.relu(1.0 - dist) ** 2).mean() / 2


def ce_with_l2():
    lin = nn.Linear(6, 3)
    return F.cross_entropy(lin(X), Y) + 1e-4 * sum((p**2).sum() for p in lin.parameters())


CASES = {
    "cross_entropy": (lambda: F.cross_entropy(out(), Y), "crossentropyloss"),
    "label_smoothing": (lambda: F.cross_entropy(out(), Y, label_smoothing=0.1), "crossentropyloss"),
    "log_softmax_nll": (lambda: F.nll_loss(F.log_softmax(out(), 1), Y), "crossentropyloss"),
    "nll_on_raw_outputs": (lambda: F.nll_loss(out(), Y), "nllloss"),
    "negated_cross_entropy": (lambda: -nn.CrossEntropyLoss()(out(), Y), "crossentropyloss"),
    "cross_entropy_plus_l2_penalty": (ce_with_l2, "crossentropyloss"),
    "mse": (lambda: F.mse_loss(out(), torch.zeros(16, 3)), "mseloss"),
    "mse_sum_over_batch": (lambda: nn.MSELoss(reduction="sum")(out(), torch.zeros(16, 3)) / 16, "mseloss"),
    "huber": (lambda: F.huber_loss(out(1).squeeze(1), Y.float()), "huberloss"),
    "bce_with_logits": (lambda: nn.BCEWithLogitsLoss()(out(), MULTI), "bcewithlogitsloss"),
    "bce_on_sigmoid": (lambda: F.binary_cross_entropy(torch.sigmoid(out()), MULTI), "bceloss"),
    "vae_recon_plus_kl": (vae_loss, "composite"),
    "triplet": (lambda: nn.TripletMarginLoss()(out()[:5], out()[5:10], out()[10:15]), "contrastive"),
    "siamese_contrastive": (contrastive_loss, "contrastive"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_kind_from_the_graph_after_backward(case):
    make, want = CASES[case]
    loss = make()
    loss.backward()  # the Monitor sees the loss after backward: saved tensors are freed
    assert loss_kind_of(loss) == want


def test_no_graph_says_nothing():
    assert loss_kind_of(torch.tensor(1.0)) is None
    assert loss_kind_of(2.5) is None


def test_task_from_targets():
    assert loss_task("mseloss", X, X) == "reconstruction"
    assert loss_task("mseloss", X, X.clone()) == "reconstruction"
    assert loss_task("mseloss", X, X + 1) == "regression"
    assert loss_task("bcewithlogitsloss", X, MULTI) == "multilabel"
    assert loss_task("bcewithlogitsloss", X, MULTI[:, 0]) == "binary"
    assert loss_task("crossentropyloss", X, Y) == "classification"
    assert loss_task("custom", X, Y) is None


def test_reshape_before_the_loss():
    o = nn.Linear(6, 1)(X)
    t = torch.randn(16)
    assert reshaped_into_loss(F.mse_loss(o.squeeze(1), t))
    assert broadcast_into_loss(F.mse_loss(o.squeeze(1), t)) is False
    with pytest.warns(UserWarning):
        wide = F.mse_loss(o, t)  # (16, 1) against (16,): broadcast
    assert not reshaped_into_loss(wide) and broadcast_into_loss(wide) is True
    assert broadcast_into_loss(F.cross_entropy(nn.Linear(6, 3)(X), Y)) is None  # not element-wise


def test_monitor_sees_the_broadcast_without_loss_fn(tmp_path):
    t = X[:, 0] * 2.0
    with pytest.warns(UserWarning):
        c = _train(nn.Linear(6, 1), F.mse_loss, X, t, tmp_path / "wide")
    assert c["flags"]["broadcast_in_loss"] is True
    c = _train(nn.Linear(6, 1), lambda o, y: F.mse_loss(o.squeeze(1), y), X, t, tmp_path / "squeezed")
    assert c["flags"]["broadcast_in_loss"] is False


def _train(model, lossf, x, y, logdir, steps=6, **kw):
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with Monitor(model, opt, logdir=logdir, every=1, **kw) as mon:
        for _ in range(steps):
            opt.zero_grad()
            loss = lossf(model(x), y)
            loss.backward()
            mon.step(loss, inputs=x, targets=y)
            opt.step()
    return json.loads(next(logdir.rglob("context.json")).read_text())


def test_monitor_records_the_loss_kind_without_loss_fn(tmp_path):
    ae = nn.Sequential(nn.Linear(6, 2), nn.ReLU(), nn.Linear(2, 6))
    c = _train(ae, F.mse_loss, X, X, tmp_path / "ae")
    assert c["flags"]["loss_kind"] == "mseloss"
    assert c["flags"]["loss_task"] == "reconstruction"
    assert c["flags"]["loss_source"] == "graph"
    assert c["loss"]["name"] == "mseloss" and c["loss"]["expects"] == "values"
    assert c["data"]["task"] == "other"  # the output width is no class count
    c = _train(nn.Linear(6, 3), F.binary_cross_entropy_with_logits, X, MULTI, tmp_path / "ml")
    assert (c["flags"]["loss_kind"], c["flags"]["loss_task"]) == ("bcewithlogitsloss", "multilabel")
    c = _train(nn.Linear(6, 3), F.cross_entropy, X, Y, tmp_path / "ce")
    assert (c["flags"]["loss_task"], c["data"]["task"]) == ("classification", "classification")


def test_monitor_loss_fn_given_wins(tmp_path):
    c = _train(nn.Linear(6, 3), F.cross_entropy, X, Y, tmp_path / "ce", loss_fn=nn.CrossEntropyLoss())
    assert (c["flags"]["loss_kind"], c["flags"]["loss_source"]) == ("crossentropyloss", "loss_fn")


def test_monitor_leaves_training_unchanged(tmp_path):
    torch.manual_seed(1)
    m1 = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 6))
    m2 = copy.deepcopy(m1)
    _train(m1, lambda o, y: F.mse_loss(o, y) + 0.1 * o.pow(2).mean(), X, X, tmp_path / "a")
    opt = torch.optim.SGD(m2.parameters(), lr=0.05)
    for _ in range(6):
        opt.zero_grad()
        o = m2(X)
        (F.mse_loss(o, X) + 0.1 * o.pow(2).mean()).backward()
        opt.step()
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)
    pickle.dumps(m1)
    copy.deepcopy(m1)


class CatEmbed(nn.Module):
    """Category codes in column 0 of a float input, cast to long into an embedding."""

    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(500, 4), nn.Linear(4 + 3, 2)

    def forward(self, x):
        return self.lin(torch.cat([self.emb(x[:, 0].long()), x[:, 1:]], 1))


def test_integer_code_columns_left_out_of_the_input_scale(tmp_path):
    g = torch.Generator().manual_seed(2)
    codes = torch.randint(100, 500, (32, 1), generator=g).float()
    num = torch.randn(32, 3, generator=g)
    y = torch.randint(0, 2, (32,), generator=g)
    c = _train(CatEmbed(), F.cross_entropy, torch.cat([codes, num], 1), y, tmp_path / "codes")
    assert c["flags"]["input_code_columns"] == 1.0
    assert c["data"]["input_max"] < 10.0  # the numeric columns only
    raw = torch.cat([codes, num * 300.0 + 2000.0], 1)  # raw numeric features still show
    c = _train(CatEmbed(), F.cross_entropy, raw, y, tmp_path / "raw")
    assert c["data"]["input_max"] > 100.0
    c = _train(nn.Linear(4, 2), F.cross_entropy, torch.cat([codes, num], 1), y, tmp_path / "no_embedding")
    assert "input_code_columns" not in c["flags"] and c["data"]["input_max"] >= 100.0


def test_functional_loss_fn_on_a_squeezed_output_is_no_broadcast(tmp_path):
    t = X[:, 0] * 2.0

    def fit(model, reshape, name):
        return _train(model, lambda o, y: F.mse_loss(o.squeeze(1) if reshape else o, y), X, t, tmp_path / name,
                      loss_fn=F.mse_loss)  # fmt: skip

    assert fit(nn.Linear(6, 1), True, "squeezed")["flags"].get("broadcast_in_loss") is not True
    with pytest.warns(UserWarning):
        assert fit(nn.Linear(6, 1), False, "broadcast")["flags"]["broadcast_in_loss"] is True


@pytest.mark.parametrize("given", [False, True])
def test_monitor_multilabel_counts_labels_not_two_classes(tmp_path, given):
    """A binary loss on (N, 3) 0/1 targets is three independent labels (issue mlabel18): the
    Monitor recorded num_classes 2 from the distinct target values (class counts [n0, n1]),
    which signals turned into a chance level ln 2 of a single-label task. Now num_classes is
    the label count, the task no single-label one, and the 0/1 counts the label rate - with
    loss_fn= and read from the graph alike."""
    import traindx
    from traindx.signals import compute_facts

    kw = {"loss_fn": nn.BCEWithLogitsLoss()} if given else {}
    c = _train(nn.Linear(6, 3), F.binary_cross_entropy_with_logits, X, MULTI, tmp_path, **kw)
    assert c["flags"]["loss_task"] == "multilabel"
    assert (c["data"]["num_classes"], c["data"]["task"]) == (3, "other")
    assert c["data"].get("class_counts") is None
    assert c["flags"]["label_positive_share"] == pytest.approx(float(MULTI.mean()))
    (run,) = traindx.read(tmp_path)
    ctx = compute_facts(run)["ctx"]
    assert (ctx["num_classes"], ctx["loss_task"]) == (3, "multilabel") and "majority_share" not in ctx


def test_monitor_multilabel_leaves_single_label_binary_alone(tmp_path):
    """One 0/1 target per example is a binary task: two classes and their counts, as before."""
    t = MULTI[:, :1]
    c = _train(nn.Linear(6, 1), F.binary_cross_entropy_with_logits, X, t, tmp_path, loss_fn=nn.BCEWithLogitsLoss())
    assert c["flags"]["loss_task"] == "binary" and "label_positive_share" not in c["flags"]
    assert (c["data"]["num_classes"], c["data"]["task"]) == (2, "binary")
    assert c["data"]["class_counts"] == [6 * int((t == 0).sum()), 6 * int((t == 1).sum())]  # 6 steps


def test_monitor_bce_reconstruction_has_no_classes(tmp_path):
    """A BCE autoencoder on [0, 1] inputs: its targets are pixels, not two classes (the 0/1
    counts of the thresholded inputs gave num_classes 2, a chance level ln 2)."""
    x = torch.rand(16, 6, generator=torch.Generator().manual_seed(1))
    ae = nn.Sequential(nn.Linear(6, 2), nn.ReLU(), nn.Linear(2, 6), nn.Sigmoid())
    c = _train(ae, F.binary_cross_entropy, x, x, tmp_path, loss_fn=nn.BCELoss())
    assert c["flags"]["loss_task"] == "reconstruction"
    assert (c["data"]["task"], c["data"].get("num_classes"), c["data"].get("class_counts")) == ("other", None, None)


@pytest.mark.parametrize("shape", ["N", "N1"])
@pytest.mark.parametrize("bce", ["logits", "probs"])
def test_monitor_binary_bce_from_graph_counts_classes(tmp_path, shape, bce):
    """Float 0/1 targets under BCE(WithLogits)Loss read from the graph (no ``loss_fn=``):
    the Monitor kept no class counts (float targets were taken for no class labels unless
    loss_fn= said binary), so ``majority_share`` was missing and the class-prior gates could
    not act. Now the counts and num_classes 2 are recorded, as with loss_fn=; smoothed
    targets (not exactly 0/1) still give none."""
    import traindx
    from traindx.signals import compute_facts

    t = MULTI[:, 0] if shape == "N" else MULTI[:, :1]
    if bce == "logits":
        model, lossf = nn.Linear(6, 1), F.binary_cross_entropy_with_logits
    else:
        model, lossf = nn.Sequential(nn.Linear(6, 1), nn.Sigmoid()), F.binary_cross_entropy

    def loss_of(o, y):
        return lossf(o.reshape(y.shape), y)

    c = _train(model, loss_of, X, t, tmp_path / "hard")
    assert (c["flags"]["loss_task"], c["flags"]["loss_source"]) == ("binary", "graph")
    assert c["data"]["class_counts"] == [6 * int((t == 0).sum()), 6 * int((t == 1).sum())]  # 6 steps
    assert c["data"]["num_classes"] == 2
    (run,) = traindx.read(tmp_path / "hard")
    assert compute_facts(run)["ctx"]["majority_share"] == pytest.approx(float(max(t.mean(), 1 - t.mean())))
    c = _train(copy.deepcopy(model), loss_of, X, t * 0.8 + 0.1, tmp_path / "soft")
    assert c["flags"]["loss_task"] == "binary" and c["data"].get("class_counts") is None
