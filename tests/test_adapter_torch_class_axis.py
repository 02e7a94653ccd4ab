"""The torch Monitor's class axis for sequence outputs. A tagger's model returns (N, T, C) and
the loop permutes it to (N, C, T) for CrossEntropyLoss with (N, T) targets; the Monitor sees
the model's own output. It took axis 1 (T) as the class axis whenever the targets had one
axis fewer than the output, so a 12-step sequence read as 12 classes and CTX010 fired on a
healthy run (wrong_loss_function 79 %); its (N, T) integer targets read as (N, C) rows of
"continuous" targets too. The axis is the one the targets' shape leaves out, and integer
targets beyond 0/1 are class ids (torch's losses take probability rows as floats only)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters._torch_stats import class_dim  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402


@pytest.mark.parametrize(
    ("out", "tgt", "axis"),
    [
        ((8, 5, 12), (8, 12), 1),  # (N, C, T), torch's own layout
        ((8, 12, 5), (8, 12), -1),  # (N, T, C), permuted in the loss
        ((8, 5, 4, 4), (8, 4, 4), 1),  # segmentation (N, C, H, W)
        ((8, 4, 4, 5), (8, 4, 4), -1),  # channels-last logits
        ((8, 6, 6), (8, 6), 1),  # T == C: torch's convention
        ((8, 5), (8,), -1),
    ],
)
def test_class_dim_is_the_axis_the_targets_leave_out(out, tgt, axis):
    assert class_dim(torch.zeros(out), torch.zeros(tgt, dtype=torch.long)) == axis


class Tagger(nn.Module):
    def __init__(self, vocab=10, classes=5):
        super().__init__()
        self.emb = nn.Embedding(vocab, 16)
        self.rnn = nn.GRU(16, 24, batch_first=True)
        self.head = nn.Linear(24, classes)

    def forward(self, x):
        return self.head(self.rnn(self.emb(x))[0])  # (N, T, C)


def test_monitor_reads_the_class_count_of_a_permuted_sequence_output(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 10, (256, 12), generator=g)
    y = x % 5  # a learnable per-token label
    torch.manual_seed(0)
    model = Tagger()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, loss_fn=crit, logdir=tmp_path)
    for _ in range(3):
        for i in range(0, 256, 32):
            opt.zero_grad()
            loss = crit(model(x[i : i + 32]).permute(0, 2, 1), y[i : i + 32])
            loss.backward()
            mon.step(loss, inputs=x[i : i + 32], targets=y[i : i + 32])
            opt.step()
    mon.close()
    (run,) = traindx.read(tmp_path)
    assert run.context.data.num_classes == 5
    assert run.context.model.output_units == 5
    assert "target_kind" not in run.context.flags  # (N, T) class ids, not (N, C) rows
    assert "CTX010" not in {s.code for s in traindx.diagnose(run)[0].symptoms}
