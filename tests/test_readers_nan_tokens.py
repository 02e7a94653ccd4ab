"""Reader gaps qa_real43 exposed (issue 10), each fixed in general form:

* a NaN/inf token is a value everywhere a text log's numbers are parsed (``loss=nan val_loss=nan
  val_acc=0.37``: the run-on split of pairs only looked for a digit after the next ``=``);
* pairs named by a split word and a metric word, spaces only between (``train loss 5.84 val loss
  4.97 val accuracy 14.67%``);
* a loss logged only under an axis scope (TensorBoard ``Loss/Train-Epoch`` -> ``train/loss@epoch``)
  is the run's loss, while an epoch mean beside a step loss still never replaces it.
"""

from __future__ import annotations

import math

from traindx.readers.textlog import parse_text
from traindx.rules.model import Case
from traindx.rules.testing import case_run
from traindx.signals import compute_facts
from traindx.signals.pick import pick, pick_quality


def test_nan_and_inf_tokens_are_values_in_key_value_prints():
    records, lines = parse_text("Epoch 1: loss=nan val_loss=inf val_acc=0.3706\nEpoch 2: loss=NaN val_loss=-inf val_acc=0.4\n")
    assert lines == 2
    first, second = records[0][1], records[1][1]
    assert math.isnan(first["loss"]) and first["val_loss"] == math.inf and first["val_acc"] == 0.3706
    assert math.isnan(second["loss"]) and second["val_loss"] == -math.inf


def test_split_word_and_metric_word_pairs_are_read():
    text = "".join(f"epoch {e} train loss {5 / e:.4f} val loss {4 / e:.4f} val accuracy {10 * e:.2f}%\n" for e in range(1, 4))
    records, lines = parse_text(text)
    assert lines == 3
    rec = records[2][1]
    assert rec["epoch"] == 3 and rec["train loss"] == round(5 / 3, 4) and rec["val loss"] == round(4 / 3, 4)
    assert abs(rec["val accuracy"] - 0.30) < 1e-9


def test_prose_with_split_words_is_not_read_as_pairs():
    for line in ("train size 1437 val size 360", "train on 1437 val on 360", "test images 360 train images 1437"):
        records, _ = parse_text(line + "\n")
        names = {k for _, r in records for k in r}
        assert not names & {"train size", "val size", "train on", "val on", "test images", "train images"}, records


def _run(series: dict[str, str]):
    return case_run(Case(name="c", series=series, fires=True))


def test_an_epoch_scoped_loss_is_the_loss_when_no_global_one_was_logged():
    run = _run({"train/loss@epoch": "0.66*1.2x40", "val/loss@epoch": "1.2*1.2x40", "val/accuracy@epoch": "0.87-0.015x40"})
    assert pick(run, "loss", "train").key.scope == "epoch"
    assert pick(run, "loss", "val") is not None and pick_quality(run, "val") is not None
    assert compute_facts(run)["run"]["curve_points"] == len(pick(run, "loss", "train")) > 30


def test_a_global_loss_still_wins_over_an_epoch_scoped_one():
    run = _run({"loss": "2.3*0.95x200", "train/loss@epoch": "2.3*0.6x10"})
    assert pick(run, "loss", "train").key.scope == "global" and len(pick(run, "loss", "train")) > 100


def test_a_part_scope_is_never_the_loss():
    run = _run({"train/loss@decoder": "2.3*0.95x40"})
    assert pick(run, "loss", "train") is None
