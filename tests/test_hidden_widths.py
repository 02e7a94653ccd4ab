"""Hidden-layer widths read from what the adapters record (traindx/signals/widths.py): Keras
output shapes, or torch parameter counts read back through a chain of Linear layers; and
the fact ctx.min_hidden_width on real torch Monitor recordings of a one-unit bottleneck."""

from __future__ import annotations

import pytest

from traindx.schema import LayerInfo
from traindx.signals.widths import hidden_widths


def linear(name: str, n_in: int, n_out: int) -> LayerInfo:
    return LayerInfo(name=name, type="Linear", params=(n_in + 1) * n_out)


def test_a_linear_chain_gives_its_hidden_widths_not_the_input():
    layers = [linear("0", 64, 32), linear("2", 32, 1), linear("4", 1, 32), linear("6", 32, 64)]
    assert hidden_widths(layers, 64) == [32, 1, 32]  # read back from the output
    assert hidden_widths([linear("fc", 2, 1)], 1) == []  # logistic regression: no hidden layer


def test_the_chain_stops_at_another_layer_type_and_keeps_what_it_read():
    # embedding -> LSTM(hidden 1) -> Linear(1, 4): the head's input is the LSTM's output
    layers = [LayerInfo(name="emb", type="Embedding", params=19200), LayerInfo(name="lstm", type="LSTM", params=140),
              linear("fc", 1, 4)]  # fmt: skip
    assert hidden_widths(layers, 4) == [1]
    # a count that does not divide by the output units stops the chain (no bias, or no chain)
    assert hidden_widths([linear("a", 8, 16), LayerInfo(name="b", type="Linear", params=16 * 4)], 3) == []


def test_recorded_output_shapes_of_layers_with_weights_are_the_widths():
    layers = [
        LayerInfo(name="reshape", type="Reshape", params=0, output_shape=[None, 64, 1]),  # no weights, rank 3
        LayerInfo(name="gru", type="GRU", params=0, output_shape=[None, 1]),  # weights held by its cell
        LayerInfo(name="dense", type="Dense", params=32, output_shape=[None, 16]),
        LayerInfo(name="out", type="Dense", params=170, output_shape=[None, 10]),
    ]
    assert hidden_widths(layers, 10) == [1, 16]


torch = pytest.importorskip("torch")


def _record(model, x, y, tmp_path):
    from traindx.adapters.torch import Monitor

    opt = torch.optim.Adam(model.parameters(), 1e-3)
    mon = Monitor(model, opt, logdir=tmp_path, every=2)
    for _ in range(4):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        mon.step(loss, inputs=x)
        opt.step()
    mon.close()
    from traindx.api import read
    from traindx.signals import compute_facts

    return compute_facts(read(tmp_path)[0])["ctx"]


class SeqClassifier(torch.nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.emb, self.rnn = torch.nn.Embedding(50, 8), torch.nn.LSTM(8, hidden, batch_first=True)
        self.fc = torch.nn.Linear(hidden, 4)

    def forward(self, x):
        return self.fc(self.rnn(self.emb(x))[0][:, -1])


@pytest.mark.parametrize(("hidden", "narrowest"), [(1, 1), (16, 16)])
def test_torch_monitor_recordings_give_the_lstm_width(hidden, narrowest, tmp_path):
    torch.manual_seed(0)
    x, y = torch.randint(0, 50, (32, 10)), torch.randint(0, 4, (32,))
    assert _record(SeqClassifier(hidden), x, y, tmp_path)["min_hidden_width"] == narrowest


def test_torch_monitor_recordings_give_a_dense_bottleneck(tmp_path):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1), nn.ReLU(), nn.Linear(1, 32), nn.ReLU(),
                          nn.Linear(32, 5))  # fmt: skip
    ctx = _record(model, torch.randn(32, 20), torch.randint(0, 5, (32,)), tmp_path)
    assert ctx["min_hidden_width"] == 1
