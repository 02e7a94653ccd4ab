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


def _run(series: dict[str, tuple[str, list[float]]]):
    import numpy as np

    from traindx.schema import Run, Series, SeriesKey

    run = Run(id="t")
    for metric, (split, values) in series.items():
        run.add(Series(key=SeriesKey(metric=metric, split=split), steps=np.arange(len(values)), values=np.asarray(values)))
    return run


def test_a_head_whose_loss_is_zero_beside_its_own_large_error():
    from traindx.signals.auxmetrics import aux_facts

    n = 20
    mae = [2.28 * 0.99**i for i in range(n)]  # the shared trunk moves it a little
    falling = [0.7 * 0.8**i for i in range(n)]
    run = _run({"loss": ("train", falling), "segment_loss": ("train", falling),
                "position_loss": ("train", [-3.8e-9] * n), "position_mae": ("train", mae)})
    facts = aux_facts(run)
    assert facts.get("head_zero_loss") == "position" and facts["err_flat"] is True
    # a head that fits: its loss and its error both ~0
    fits = _run({"loss": ("train", falling), "position_loss": ("train", [1e-7] * n), "position_mae": ("train", [3e-4] * n)})
    assert "head_zero_loss" not in aux_facts(fits)
    # a head loss that is small but a loss (it moves), beside its error
    small = _run({"loss": ("train", falling), "position_loss": ("train", [0.02 * 0.9**i for i in range(n)]),
                  "position_mae": ("train", [0.1 * 0.95**i for i in range(n)])})
    assert "head_zero_loss" not in aux_facts(small)
    # a zero loss of one head beside another head's error says nothing
    other = _run({"loss": ("train", falling), "a_loss": ("train", [0.0] * n), "b_mae": ("train", mae)})
    assert "head_zero_loss" not in aux_facts(other)


def test_a_loss_exactly_at_ln_k_all_run_weighs_a_clamped_output_over_frozen_weights():
    # qa_mixed47's ReLU on the one logit of a BCE-with-logits loss: 0.693147 at every point,
    # read as updates_not_applied 49 %; frozen random weights keep 0.6937 ... 0.6940 instead
    import math
    import sys
    from pathlib import Path

    import numpy as np

    sys.path.insert(0, str(Path(__file__).parent))
    from cause_evidence import evidence_holds, series_run

    n = 40
    exact = series_run({"train/loss": np.full(n, math.log(2)), "val/loss": np.full(n, math.log(2)),
                        "val/accuracy": np.full(n, 0.437)})
    assert evidence_holds("activation_on_output", "the loss is ln(", exact) is True
    assert evidence_holds("updates_not_applied", "the loss is exactly ln(", exact) is True
    rng = np.random.default_rng(0)
    frozen = series_run({"train/loss": 0.6937 + 0.0003 * rng.standard_normal(n), "val/loss": np.full(n, 0.7013),
                         "val/accuracy": np.full(n, 0.437)})
    assert evidence_holds("activation_on_output", "the loss is ln(", frozen) is not True
    assert evidence_holds("updates_not_applied", "the loss is exactly ln(", frozen) is not True


def test_a_negative_loss_beside_an_accuracy_near_zero_is_ascent():
    # a flipped sign drives the accuracy below chance; a loss fed raw scores (NLL on logits)
    # leaves it at chance or above (qa_real47's NLL on raw scores: 0.102 on ten digits)
    import sys
    from pathlib import Path

    import numpy as np

    sys.path.insert(0, str(Path(__file__).parent))
    from cause_evidence import evidence_holds, series_run

    says = "the accuracy ends at"
    loss = -2.3 - np.geomspace(0.1, 1e4, 25)
    below = series_run({"train/loss": loss, "val/accuracy": np.linspace(0.1, 0.01, 25)})
    assert evidence_holds("loss_sign_flipped", says, below) is True
    at_chance = series_run({"train/loss": loss, "val/accuracy": np.full(25, 0.102)})
    assert evidence_holds("loss_sign_flipped", says, at_chance) is not True
    positive = series_run({"train/loss": np.geomspace(2.3, 0.3, 25), "val/accuracy": np.full(25, 0.02)})
    assert evidence_holds("loss_sign_flipped", says, positive) is not True
