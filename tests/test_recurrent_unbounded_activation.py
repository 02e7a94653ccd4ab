"""An unbounded activation inside a recurrent cell is exploding_gradients evidence (gapsk48).

qa_keras48's LSTM(64, activation='relu') on a sine series, Adam at 0.01 without clipnorm: the
loss reaches 3.9e13 from step 2 while the fixed run (tanh) trains at the same LR. The Keras
callback records each layer's activation, the torch Monitor nn.RNN's ``nonlinearity``;
``ctx.recurrent_unbounded`` reads them (a recurrent layer whose activation is not a bounded
one), and exploding_gradients weighs it (the run was lr_too_high 79 %).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from traindx.api import diagnose
from traindx.schema import LayerInfo, ModelInfo, Run, RunContext
from traindx.signals.context import context_facts

ROOT = Path(__file__).resolve().parent.parent
PAIR = ROOT / "fixtures/qa_keras48/logs/kb_sine_csv_lstm_relu_activation_no_clipnorm_adam_tensorboard_callback_tf"


def _facts(*layers: tuple[str, str | None]) -> dict:
    model = ModelInfo(layers=[LayerInfo(name=t.lower(), type=t, activation=a) for t, a in layers])
    return context_facts(Run(id="r", context=RunContext(model=model)))


@pytest.mark.parametrize(
    ("layers", "unbounded"),
    [
        ((("LSTM", "relu"), ("Dense", "linear")), True),
        ((("SimpleRNN", "linear"), ("Dense", "sigmoid")), True),
        ((("GRU", "tanh"), ("Dense", "relu")), False),  # a ReLU after the cell is outside the recurrence
        ((("LSTM", None), ("Dense", None)), False),  # not recorded: not known to be unbounded
        ((("Dense", "relu"), ("Dense", "softmax")), False),
    ],
)
def test_a_recurrent_layer_with_an_unbounded_activation(layers, unbounded) -> None:
    assert _facts(*layers)["recurrent_unbounded"] is unbounded


def test_the_torch_monitor_records_nn_rnn_s_nonlinearity() -> None:
    torch = pytest.importorskip("torch")
    from traindx.adapters._torch_stats import model_info

    relu = model_info(torch.nn.RNN(4, 8, nonlinearity="relu"))
    assert [la.activation for la in relu.layers] == ["relu"]
    assert context_facts(Run(id="r", context=RunContext(model=relu)))["recurrent_unbounded"] is True
    lstm = model_info(torch.nn.LSTM(4, 8))
    assert context_facts(Run(id="r", context=RunContext(model=lstm)))["recurrent_unbounded"] is False


def test_the_lstm_relu_callback_run_reads_as_exploding_gradients() -> None:
    buggy = diagnose(PAIR / "buggy_adapter")[0]
    assert buggy.causes[0].id == "exploding_gradients"
    assert any("unbounded activation" in e.says for e in buggy.causes[0].evidence)
    assert diagnose(PAIR / "fixed_adapter")[0].healthy
