"""gapsl47: what qa_real47 / qa_mixed47 exposed in log-only evidence (the loss level against
ln K, accuracy against chance, per-head losses)."""

from __future__ import annotations

from traindx.readers.textlog import parse_text


def test_epoch_no_prefix_is_the_epoch_not_part_of_the_name():
    # qa_real47's torch circles loop printed "Epoch no. 1 Train Loss: 0.6937 ...": read as 15
    # one-point series "no_1_train_loss", ... the loss pinned at ln 2 went unseen (called healthy)
    text = (
        "Epoch no. 1 Train Loss: 0.6937 Train Accuracy: 38.6667 Validation Loss: 0.7013\n"
        "Epoch no. 2 Train Loss: 0.6940 Train Accuracy: 46.3333 Validation Loss: 0.6981\n"
    )
    records, lines = parse_text(text)
    assert lines == 2
    assert [r["epoch"] for _, r in records] == [1, 2]
    assert all(sum("loss" in k.lower() for k in r) == 2 for _, r in records)
    for words in ("Epoch number 3: loss 0.5\nEpoch number 4: loss 0.4\n", "Epoch nr 3 - loss 0.5\nEpoch nr 4 - loss 0.4\n"):
        assert [r for _, r in parse_text(words)[0]] == [{"epoch": 3, "loss": 0.5}, {"epoch": 4, "loss": 0.4}]
    # a word after "epoch" that is not a number's label stays out of the epoch
    assert parse_text("epoch noise 0.3 loss 0.5\n")[0] == []
