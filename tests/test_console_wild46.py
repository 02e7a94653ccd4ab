"""Console logs of the unseen batch fixtures/qa_wild46: a loss printed as its graph-carrying
tensor with no name before it (``epoch 0 tensor(1.80, grad_fn=<NllLossBackward0>) val
tensor(1.78)``), short split words alone before numbers (``ep 3 | tr 0.51 | va 0.60 | va_acc
0.81``), a split word opening a second group of the same names on one line (pytorch-kaldi's
``loss=0.51 mae=0.33 valid=dev loss=0.60 mae=0.41``), bracketed values run into a one-word
pair with a best-so-far aside (``val_loss=[1.24] acc 0.053 (best 0.053)``), and pytorch-kaldi's
``res.res`` file name. Each test writes its own log in the layout, never the fixture's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx
from traindx.names import paired_names
from traindx.readers.textlog import _pairs, parse_text


def _read(tmp_path: Path, lines: list[str], name: str = "out.txt"):
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    return run


def _keys(run) -> dict[str, str]:
    return {str(k): s.original_name for k, s in run.series.items()}


def test_an_unnamed_tensor_with_a_grad_fn_is_the_training_loss(tmp_path: Path) -> None:
    lines = ["Net(", "  (fc1): Linear(in_features=20, out_features=64, bias=True)", ")"] + [
        f"epoch {e} tensor({1.8 - e / 50:.4f}, grad_fn=<NllLossBackward0>) val tensor({1.79 - e / 60:.4f}) acc tensor({0.2 + e / 40:.4f})"
        for e in range(12)
    ]
    run = _read(tmp_path, lines)
    assert {"train/loss", "val/loss"} <= set(_keys(run))
    assert list(run.series[next(k for k in run.series if str(k) == "train/loss")].values)[:2] == [1.8, 1.78]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("epoch: 3 | tensor(0.5, grad_fn=<MeanBackward0>)", {"loss": 0.5}),  # print(f"epoch: {e} |", loss)
        ("loss: tensor(0.5, grad_fn=<MseLossBackward0>)", {"loss": 0.5}),  # named: the name stays
        ("epoch 3 val tensor(0.5)", {"val": 0.5}),  # no graph: no loss made up
        ("epoch 3 3 tensor(0.5)", {}),
    ],
)
def test_a_grad_tensor_is_named_loss_only_where_nothing_names_it(line: str, expected: dict[str, float]) -> None:
    records, _ = parse_text(line)
    got = {k: v for _, r in records for k, v in r.items() if k != "epoch"}
    assert got == expected


def test_short_split_words_alone_before_numbers_are_the_splits_losses(tmp_path: Path) -> None:
    lines = ["rows: train 2560 / val 640"] + [
        f"ep {e} | tr {1 / e:.3f} | va {1.1 / e:.3f} | va_acc {0.6 + e / 40:.3f}" for e in range(1, 13)
    ]
    assert _keys(_read(tmp_path, lines)) == {"train/loss": "tr", "val/loss": "va", "val/accuracy": "va_acc"}


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["tr", "va", "va_acc"], {"tr": "train/loss", "va": "val/loss"}),
        (["trn", "tst"], {"trn": "train/loss", "tst": "test/loss"}),
        (["loss", "tr", "va"], {}),  # the training loss is named already: tr is something else
        (["tr", "acc"], {}),  # one short word: no habit shown
        (["tr", "va", "va_loss"], {}),  # a loss of their splits is named already: not the habit
    ],
)
def test_short_split_words_read_bare_only_as_a_set(names: list[str], expected: dict[str, str]) -> None:
    assert paired_names(names) == expected


def test_a_split_word_opening_a_second_group_of_the_same_names(tmp_path: Path) -> None:
    lines = [
        f"ep={e:02d} tr=['train_sum'] loss={1 / (e + 1):.3f} mae={0.5 / (e + 1):.3f} valid=dev_sum "
        f"loss={1.2 / (e + 1):.3f} mae={0.6 / (e + 1):.3f} lr=0.08 time(s)=1"
        for e in range(10)
    ]
    keys = _keys(_read(tmp_path, lines, "res.res"))  # pytorch-kaldi's file name
    assert keys == {"train/loss": "loss", "train/mae": "mae", "val/loss": "valid loss", "val/mae": "valid mae", "train/lr": "lr"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("train 0.41  val 0.43  acc 0.81", {"train": 0.41, "val": 0.43, "acc": 0.81}),  # bare pairs, no group
        ("loss=0.5 acc=0.8 val=dev f1=0.7", {"loss": 0.5}),  # no name again: no second group, no val name
        # the second acc is the test accuracy (it overwrote the training one before)
        ("loss 0.5 acc 0.8 test loss 0.6 acc 0.7", {"loss": 0.5, "acc": 0.8, "test loss": 0.6, "test acc": 0.7}),
    ],
)
def test_a_second_group_needs_a_split_token_and_repeated_names(line: str, expected: dict[str, float]) -> None:
    assert _pairs(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("loss=[1.2021] val_loss=[1.2363] acc 0.053 (best 0.053)", {"loss": 1.2021, "val_loss": 1.2363, "acc": 0.053}),
        ("val_acc: 0.81 (best: 0.83)", {"val_acc": 0.81}),
        ("loss: 0.41 reached at step 300", {}),  # prose after a pair: no run-on pair
    ],
)
def test_bracketed_values_run_on_pairs_and_best_asides(line: str, expected: dict[str, float]) -> None:
    assert _pairs(line) == expected


def test_per_class_accuracy_lines_read_as_the_mean_class_accuracy(tmp_path: Path) -> None:
    lines = []
    for e in range(1, 9):
        lines.append(f"[INFO] triage - epoch {e}/8 train_loss={1 / e:.4f} val_loss={1.1 / e:.4f} val_acc=0.880")
        lines += [f"[INFO] triage -     class {c} (n={n}): acc {a:.3f}" for c, n, a in (("A", 878, 1.0), ("B", 61, 0.1), ("C", 42, 0.0), ("D", 19, 0.0))]
    run = _read(tmp_path, lines)
    s = next(s for k, s in run.series.items() if str(k) == "val/mean_class_accuracy")
    assert len(s.values) == 8 and abs(s.values[-1] - 0.275) < 1e-9
    assert not [p for p in run.ingest.problems if p.kind == "skipped"]  # the class lines are read, not skipped


def test_the_tutorial_per_class_block_takes_the_test_split_in_percent(tmp_path: Path) -> None:
    classes = ("plane", "car", "bird", "cat")
    lines = [f"[{e}, 2000] loss: {2 / e:.3f}" for e in range(1, 6)] + ["Accuracy of the network on the 10000 test images: 54 %"]
    lines += [f"Accuracy for class: {c:5s} is {40 + 5 * i:.1f} %" for i, c in enumerate(classes)]
    keys = _keys(_read(tmp_path, lines))
    assert keys.get("test/mean_class_accuracy") == "test mean_class_accuracy" and "test/accuracy" in keys


@pytest.mark.parametrize(
    "block",
    [
        ["class A (n=9): acc 0.5"],  # one class: no mean of classes
        ["class A (n=9): acc 0.5", "class A (n=9): acc 0.6"],  # a class again: not one block of classes
    ],
)
def test_a_per_class_block_needs_two_different_classes(tmp_path: Path, block: list[str]) -> None:
    lines = [f"epoch {e} loss={1 / e:.3f} val_acc=0.8" for e in range(1, 6)] + block
    assert "val/mean_class_accuracy" not in _keys(_read(tmp_path, lines))
