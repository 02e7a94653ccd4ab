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


def dense(name: str, n_in: int, n_out: int, head: bool | None = None) -> LayerInfo:
    return LayerInfo(name=name, type="Dense", params=(n_in + 1) * n_out, output_shape=[None, n_out], is_output=head)


def test_a_one_unit_dense_beside_the_head_is_no_hidden_width():
    # flax attention pooling, in the parameter tree's sorted order: the scorer Dense(1) reads the
    # 64 conv features the head Dense(28) reads too, and no dense layer reads one input
    conv = LayerInfo(name="Conv_0", type="Conv", params=3 * 32 * 64 + 64, output_shape=[None, 64])
    scorer, head = dense("Dense_0", 64, 1), dense("Dense_1", 64, 28, head=True)
    assert hidden_widths([conv, scorer, head], 28) == [64]
    # an actor-critic's value head beside its policy head, nothing marked: the last layer is the head
    assert hidden_widths([dense("h", 8, 64), dense("value", 64, 1), dense("policy", 64, 4)], 4) == [64]


def test_a_one_unit_dense_that_a_layer_reads_stays_a_bottleneck():
    # Dense(64 -> 1) -> Dense(1 -> 64) -> head(64 -> 28): the same head input, but a dense layer reads 1 input
    layers = [dense("Dense_0", 64, 1), dense("Dense_1", 1, 64), dense("Dense_2", 64, 28, head=True)]
    assert hidden_widths(layers, 28) == [1, 64]
    # ... and without a bias (1 x 64 parameters) too
    nobias = LayerInfo(name="Dense_1", type="Dense", params=64, output_shape=[None, 64])
    assert 1 in hidden_widths([dense("Dense_0", 64, 1), nobias, dense("Dense_2", 64, 28, head=True)], 28)
    # a one-unit layer reading another input than the head's stays (nothing says it is beside the head)
    assert hidden_widths([dense("a", 32, 1), dense("b", 64, 10, head=True)], 10) == [1]


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
