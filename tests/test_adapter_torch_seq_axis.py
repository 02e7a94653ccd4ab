"""The torch Monitor records, as facts, a sequence layer's ``batch_first`` setting and which
axis of its input holds the batch (qa_fresh26: ``nn.TransformerEncoderLayer(batch_first=False)``
fed (batch, seq, dim) - attention over the batch axis - left no trace in the context)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from traindx.adapters.torch import Monitor  # noqa: E402


class Encoder(nn.Module):
    def __init__(self, batch_first: bool):
        super().__init__()
        self.emb = nn.Embedding(12, 16)
        self.enc = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=batch_first)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.enc(self.emb(x)).mean(1))


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


@pytest.mark.parametrize(
    ("make", "shape", "want"),
    [
        (lambda: Encoder(False), (32, 10), ("enc.self_attn", False, 0)),  # the fault: batch on axis 0
        (lambda: Encoder(True), (32, 10), ("enc.self_attn", True, 0)),
        (lambda: Recurrent(), (32, 10, 4), ("rnn", True, 0)),
    ],
)
def test_sequence_layer_setting_and_input_batch_axis(tmp_path, make, shape, want):
    torch.manual_seed(0)
    model = make()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 12, shape, generator=g) if len(shape) == 2 else torch.randn(shape, generator=g)
    y = torch.randint(0, 3, (shape[0],), generator=g)
    with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path) as mon:
        for _ in range(3):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            mon.step(loss, inputs=x, targets=y)
            opt.step()
    flags = json.loads((tmp_path / "context.json").read_text())["flags"]
    assert (flags["seq_layer"], flags["seq_batch_first"], flags["seq_input_batch_axis"]) == want


def test_no_sequence_layer_no_flags(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    with Monitor(model, None, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path) as mon:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        mon.step(loss, inputs=x, targets=y)
    assert "seq_batch_first" not in json.loads((tmp_path / "context.json").read_text())["flags"]
