"""Printed training output (``train.log``, ``output.txt``) read as a log (issue 10): the layouts
gathered from public code, real runs' output (fixtures/textlogs, made by make_textlogs.py),
and text that is not a training log."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import traindx
from traindx.errors import ReadError
from traindx.readers.discovery import _sniff
from traindx.readers.textlog import looks_like_text_log, parse_text, read_text_log

FIXTURES = Path(__file__).parent.parent / "fixtures" / "textlogs"

#: (layout, text, the records expected): one per layout seen in public code.
LAYOUTS = [
    ("keras verbose=2",
     "Epoch 1/3\n3083s - loss: 1.7197 - acc: 0.5893 - val_loss: 0.3504 - val_acc: 0.8959\n"
     "Epoch 2/3\n3086s - loss: 0.6644 - acc: 0.8074 - val_loss: 0.2832 - val_acc: 0.9182\n",
     [{"epoch": 1, "loss": 1.7197, "acc": 0.5893, "val_loss": 0.3504, "val_acc": 0.8959},
      {"epoch": 2, "loss": 0.6644, "acc": 0.8074, "val_loss": 0.2832, "val_acc": 0.9182}]),
    ("keras progress bar rewritten with \\r",
     "Epoch 1/2\n 1/32 [>....] - ETA: 0s - loss: 0.9\r32/32 [==========] - 1s 3ms/step - loss: 0.6 - accuracy: 0.7"
     " - val_loss: 0.5 - val_accuracy: 0.75\nEpoch 2/2\n32/32 [==========] - 0s 2ms/step - loss: 0.5 - accuracy: 0.8\n",
     # each state a point at its batch, the mean of the batches since the state before it
     # (32 x 0.6 - 1 x 0.9) / 31; epoch 2 continues from batch 32
     [{"step": 1, "epoch": 1, "loss": 0.9},
      {"step": 32, "epoch": 1, "loss": (32 * 0.6 - 0.9) / 31, "accuracy": 0.7, "val_loss": 0.5, "val_accuracy": 0.75},
      {"step": 64, "epoch": 2, "loss": 0.5, "accuracy": 0.8}]),
    ("pipes and percent", "epoch 1 | train loss 0.51 | val acc 81.2%\nepoch 2 | train loss 0.41 | val acc 83.5%\n",
     [{"epoch": 1, "train loss": 0.51, "val acc": 0.812}, {"epoch": 2, "train loss": 0.41, "val acc": 0.835}]),
    ("logging prefix, bracketed epoch and LR",
     "2025-07-07 13:55:26.649 INFO: Epoch [001/300] - Train Loss: 145.1, Valid Loss: 70.6, LR: [0.001]\n"
     "2025-07-07 13:55:26.653 INFO:   [SAVE] Best model at epoch 1.\n",
     [{"epoch": 1, "Train Loss": 145.1, "Valid Loss": 70.6, "LR": 0.001}]),
    ("a block per epoch", "Epoch 1/100\n  Train Loss: 0.9677\n  Val Loss:   0.9568\n  Val Dice:   0.1005\n"
     "  -> Saved best model (Dice: 0.1005)\n\nEpoch 2/100\n  Train Loss: 0.9568\n",
     [{"epoch": 1, "train Loss": 0.9677, "val Loss": 0.9568, "val Dice": 0.1005}, {"epoch": 2, "train Loss": 0.9568}]),
    ("word language model", "| epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch 12.12 | loss  7.64 | ppl  2079.22\n"
     "| end of epoch   1 | time: 36.93s | valid loss  5.53 | valid ppl   252.86\n",
     [{"epoch": 1, "lr": 20.0, "ms/batch": 12.12, "loss": 7.64, "ppl": 2079.22, "time": 36.93, "valid loss": 5.53,
       "valid ppl": 252.86}]),
    ("MNIST example", "Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.305\nTrain Epoch: 1 [640/60000 (1%)]\tLoss: 1.3\n\n"
     "Test set: Average loss: 0.1000, Accuracy: 9800/10000 (98%)\n",
     [{"step": 0, "epoch": 1, "train Loss": 2.305},
      {"step": 1, "epoch": 1, "train Loss": 1.3, "test Average loss": 0.1, "test Accuracy": 0.98}]),
    ("DCGAN tutorial", "[0/5][0/1583]\tLoss_D: 1.9 \tLoss_G: 5.1\tD(x): 0.57\tD(G(z)): 0.6 / 0.006\n"
     "[0/5][50/1583]\tLoss_D: 0.9 \tLoss_G: 3.1\tD(x): 0.67\tD(G(z)): 0.3 / 0.06\n",
     [{"step": 0, "Loss_D": 1.9, "Loss_G": 5.1, "D(x)": 0.57}, {"step": 1, "Loss_D": 0.9, "Loss_G": 3.1, "D(x)": 0.67}]),
    ("key=value", "Epoch: 1, loss=0.51, acc=0.81\nEpoch: 2, loss=0.41, acc=0.85\n",
     [{"epoch": 1, "loss": 0.51, "acc": 0.81}, {"epoch": 2, "loss": 0.41, "acc": 0.85}]),
    ("beginner tutorial: steps, then a sentence per evaluation",
     "Epoch [1/2], Step [100/600], Loss: 0.2134\nAccuracy of the network on the 10000 test images: 54 %\n"
     "Epoch [2/2], Step [100/600], Loss: 0.1534\nTest Accuracy of the model on the 320 test sequences: 50.63 %\n",
     # one 'Step [100/600]' line an epoch: nothing finer than the epoch was printed
     [{"epoch": 1, "Loss": 0.2134, "test Accuracy": 0.54}, {"epoch": 2, "Loss": 0.1534, "test Accuracy": 0.5063}]),
    ("steps restarting each epoch", "Epoch [1/2], Step [100/600], Loss: 0.2134\nEpoch [1/2], Step [200/600], Loss: 0.2\n"
     "Epoch [2/2], Step [100/600], Loss: 0.1534\n",
     # 'Step [100/600]' restarts each epoch: epoch 2's step 100 is step 700
     [{"step": 100, "epoch": 1, "Loss": 0.2134}, {"step": 200, "epoch": 1, "Loss": 0.2},
      {"step": 700, "epoch": 2, "Loss": 0.1534}]),
    ("transfer-learning tutorial: a split's pairs run on with spaces",
     "Epoch 0/24\n----------\ntrain Loss: 0.5803 Acc: 0.7090\nval Loss: 0.2226 Acc: 0.9150\n\n"
     "Epoch 1/24\n----------\ntrain Loss: 0.4513 Acc: 0.8033\nval Loss: 0.3039 Acc: 0.8824\n",
     [{"epoch": 0, "train Loss": 0.5803, "train Acc": 0.709, "val Loss": 0.2226, "val Acc": 0.915},
      {"epoch": 1, "train Loss": 0.4513, "train Acc": 0.8033, "val Loss": 0.3039, "val Acc": 0.8824}]),
    ("tqdm postfix then final summaries: a count beside a percentage, slash-joined pairs",
     "Epoch 1: 100%|####| 19/19 [00:01, 17.8it/s, loss=0.23, acc=0.91]\nTest Acc: 55.3% (553/1000)\n"
     "Test loss: 0.0330 / Test accuracy: 0.9890\nFinal validation accuracy: 98.90%\n",
     [{"epoch": 1, "loss": 0.23, "acc": 0.91, "test Acc": 0.553, "test loss": 0.033, "Test accuracy": 0.989,
       "validation accuracy": 0.989}]),
    ("pairs ended by '..'", "Epoch 1/3.. Train loss: 1.234.. Test loss: 0.567.. Test accuracy: 0.789\n"
     "Epoch 2/3.. Train loss: 1.034.. Test loss: 0.467.. Test accuracy: 0.809\nLoading data...\n",
     [{"epoch": 1, "Train loss": 1.234, "Test loss": 0.567, "Test accuracy": 0.789},
      {"epoch": 2, "Train loss": 1.034, "Test loss": 0.467, "Test accuracy": 0.809}]),
    ("quickstart: a line naming the split, then its pairs",
     "Epoch 1\n-------------------------------\nloss: 2.303037  [   64/60000]\nloss: 2.290000  [ 6464/60000]\n"
     "Test Error: \n Accuracy: 47.1%, Avg loss: 2.152461 \n\nEpoch 2\n------\nloss: 2.1  [   64/60000]\n",
     [{"step": 0, "epoch": 1, "loss": 2.303037},
      {"step": 1, "epoch": 1, "loss": 2.29, "test Accuracy": 0.471, "test Avg loss": 2.152461},
      {"step": 2, "epoch": 2, "loss": 2.1}]),
    ("abbreviated split", "Epoch: 01 | Epoch Time: 0m 7s\n\tTrain Loss: 0.694 | Train Acc: 50.12%\n"
     "\t Val. Loss: 0.696 |  Val. Acc: 49.26%\n",
     [{"epoch": 1, "train Loss": 0.694, "Train Acc": 0.5012, "val Loss": 0.696, "Val Acc": 0.4926}]),
    ("print(name, value, ...): one-word names and numbers between single spaces",
     "epoch 0 loss 64388810484.8 val_loss 66244407296.0 acc 81.5%\nepoch 1 loss 6.1e10 val_loss 6.2e10 acc 82%\n",
     [{"epoch": 0, "loss": 64388810484.8, "val_loss": 66244407296.0, "acc": 0.815},
      {"epoch": 1, "loss": 6.1e10, "val_loss": 6.2e10, "acc": 0.82}]),
    (".item() forgotten: tensors and numpy scalars printed as their numbers",
     "epoch 0 loss tensor(2.3026, grad_fn=<NllLossBackward0>) acc tensor(0.1000) val_loss np.float64(2.31)\n"
     "Epoch: 1, loss=tensor(1.9000, device='cuda:0', grad_fn=<NllLossBackward0>), acc=np.float32(0.35)\n",
     [{"epoch": 0, "loss": 2.3026, "acc": 0.1, "val_loss": 2.31}, {"epoch": 1, "loss": 1.9, "acc": 0.35}]),
    ("a Keras history printed key by key", "loss [0.9, 0.7, 0.5]\nval_loss [1.0, 0.8, 0.75]\n",
     [{"epoch": 0, "loss": 0.9, "val_loss": 1.0}, {"epoch": 1, "loss": 0.7, "val_loss": 0.8},
      {"epoch": 2, "loss": 0.5, "val_loss": 0.75}]),
    ("a Keras history printed whole (numpy 2 reprs)",
     "{'loss': [np.float64(0.9), np.float64(0.7)], 'accuracy': [0.5, 0.625]}\n",
     [{"epoch": 0, "loss": 0.9, "accuracy": 0.5}, {"epoch": 1, "loss": 0.7, "accuracy": 0.625}]),
    # a header printed before training names numbers but no metric: it does not turn the epoch
    # axis into the record order (fixtures/qa_fresh27: 4 of 20 logs)
    ("logging lines after a header line",
     "2026-12-05 13:26:50,001 INFO start training: 1500 train / 300 val digits, z=8\n"
     "2026-12-05 13:26:51,001 INFO epoch 1/2 recon=0.15 kl=0.02 val_loss=0.12\n"
     "2026-12-05 13:26:52,001 INFO epoch 2/2 recon=0.10 kl=0.01 val_loss=0.09\n2026-12-05 13:26:53,001 INFO done\n",
     [{"epoch": 1, "recon": 0.15, "kl": 0.02, "val_loss": 0.12}, {"epoch": 2, "recon": 0.10, "kl": 0.01, "val_loss": 0.09}]),
    ("epoch=N lines after 'train=2000 val=400'",
     "train=2000 val=400 dim=16\nepoch=1 loss=0.80 val_loss=0.90 knn_acc=71.25%\nepoch=2 loss=0.60 val_loss=0.70 knn_acc=80.00%\n",
     [{"epoch": 1, "loss": 0.8, "val_loss": 0.9, "knn_acc": 0.7125}, {"epoch": 2, "loss": 0.6, "val_loss": 0.7, "knn_acc": 0.8}]),
    # ... but a metric before the first epoch is a point: kept, on the record order
    ("a metric printed before the first epoch",
     "initial val_loss: 2.30\nepoch 1 | loss 0.5 | val_loss 0.6\nepoch 2 | loss 0.4 | val_loss 0.5\n",
     [{"step": 0, "initial val_loss": 2.3}, {"step": 1, "epoch": 1, "loss": 0.5, "val_loss": 0.6},
      {"step": 2, "epoch": 2, "loss": 0.4, "val_loss": 0.5}]),
    # 'ep' is the epoch of hand-written loops; a part between bars may name its split once
    ("'ep' counter, a part naming its split",
     "[ep 01] loss=0.65 | val: loss=0.71 acc=0.40\nep 002 loss=0.41 | valid - loss=0.52 acc=0.55\n",
     [{"epoch": 1, "loss": 0.65, "val loss": 0.71, "val acc": 0.40},
      {"epoch": 2, "loss": 0.41, "valid loss": 0.52, "valid acc": 0.55}]),
    ("'ep NNN' before underscore names",
     "ep 001 train_mse=0.4996 val_mse=0.1669 val_r2=0.851\nep 002 train_mse=0.1494 val_mse=0.0945 val_r2=0.916\n",
     [{"epoch": 1, "train_mse": 0.4996, "val_mse": 0.1669, "val_r2": 0.851},
      {"epoch": 2, "train_mse": 0.1494, "val_mse": 0.0945, "val_r2": 0.916}]),
    # the PyTorch char-RNN tutorials: iteration, percent, (elapsed), the loss as a bare number
    ("char-RNN classification tutorial print",
     "1450 96% (1m 14s) 0.5821 neg / neg \u2713\n1500 100% (1m 16s) 0.6932 pos / neg \u2717 (neg)\n",
     [{"step": 1450, "loss": 0.5821}, {"step": 1500, "loss": 0.6932}]),
    ("char-RNN generation tutorial print",
     "0m 5s (5000 5%) 2.4521\n0m 10s (10000 10%) 2.1034\n",
     [{"step": 5000, "loss": 2.4521}, {"step": 10000, "loss": 2.1034}]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in LAYOUTS], ids=[c[0] for c in LAYOUTS])
def test_layout(text: str, expected: list[dict]) -> None:
    from traindx.readers.textaxis import with_axis as _with_axis

    records, _ = parse_text(text)
    assert [r for _, r in _with_axis(records)] == [pytest.approx(e) for e in expected]


def _series(folder: Path) -> dict:
    (run,) = traindx.read(folder)
    return {k: s for k, s in run.series.items()}


def test_keras_progress_bars_of_a_real_run() -> None:
    series = _series(FIXTURES / "keras_verbose1")
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy"} <= set(series)
    # every bar state is a point at its batch (23 a epoch); validation once per epoch, at its end
    assert series["train/loss"].unit == "step" and len(series["train/loss"]) > 2 * 15
    assert len(series["val/accuracy"]) == 15 and list(series["val/accuracy"].steps) == [23 * e for e in range(1, 16)]
    two = _series(FIXTURES / "keras_verbose2")
    assert len(two["val/loss"]) == 15


def test_a_header_line_leaves_the_epoch_unit(tmp_path: Path) -> None:
    """The unit the run reports (what rules read as epochs) stays ``epoch`` with a header."""
    lines = [f"[2026-12-05 13:29:0{e % 10},867] INFO - Epoch {e}/12 | train_mse: {1 / e:.4f} | val_mse: {1.1 / e:.4f}"
             for e in range(1, 13)]
    (tmp_path / "training.log").write_text("[2026-12-05 13:29:00,001] INFO - start: train=1400 val=340 window=20\n"
                                           + "\n".join(lines) + "\n")
    series = _series(tmp_path)
    assert series["train/mse"].unit == "epoch" and list(series["train/mse"].steps) == list(range(1, 13))
    assert series["val/mse"].unit == "epoch"


def test_torch_mnist_style_of_a_real_run() -> None:
    series = _series(FIXTURES / "torch_mnist_style")
    test_acc = series["test/accuracy"]
    assert len(test_acc) == 15 and 0.5 < test_acc.values[-1] <= 1.0  # 'Accuracy: 330/360 (92%)' as a fraction
    assert len(series["train/loss"]) > 15 and series["test/loss"].key.metric == "loss"  # 'Average loss'


def test_percent_accuracy_is_a_fraction() -> None:
    acc = _series(FIXTURES / "torch_pipes")["val/accuracy"]
    assert 0.0 <= acc.values.min() and acc.values.max() <= 1.0 and acc.values[-1] > 0.8


def test_summary_sentences_are_a_splits_metric_and_per_class_lines_are_not(tmp_path: Path) -> None:
    text = "".join(
        f"Epoch [{e}/6], Step [50/50], Loss: {1 / e:.4f}\n"
        f"Accuracy of the network on the 2000 test images: {40 + 5 * e} %\n"
        f"Accuracy of plane : {30 + e} %\n"
        for e in range(1, 7)
    )
    (tmp_path / "output.log").write_text(text)
    (run,) = traindx.read(tmp_path)
    acc = run.series["test/accuracy"]
    assert list(acc.values) == pytest.approx([0.45, 0.5, 0.55, 0.6, 0.65, 0.7])  # percent read as a fraction
    assert not any(k.split == "test" and k.metric != "accuracy" for k in (s.key for s in run.series.values()))
    records, _ = parse_text("Training loss barely moves over the whole run from step 0\n")  # no colon: not a value
    assert not any("train" in k.lower().split() for _, r in records for k in r)


def test_a_metric_line_the_reader_cannot_read_is_counted(tmp_path: Path) -> None:
    lines = [f"Epoch {e}/8 - loss: {1 / e:.3f}" for e in range(1, 9)]
    lines[3:3] = ["loss 0.41 reached at step 300", "Saved checkpoint loss_best_3.pt", "The loss should go down."]
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    assert len(run.series["train/loss"]) == 8
    (problem,) = [p for p in run.ingest.problems if p.kind == "skipped"]
    assert problem.count == 1 and "line 4" in problem.message  # the file names and prose are not metric lines


def test_a_printed_history_is_found_and_read_as_epochs(tmp_path: Path) -> None:
    lists = {"loss": [round(2.0 / (e + 1), 4) for e in range(8)], "val_loss": [round(2.2 / (e + 1), 4) for e in range(8)]}
    (tmp_path / "history.txt").write_text("".join(f"{k} {v}\n" for k, v in lists.items()))
    assert _sniff(tmp_path / "history.txt", None) == "text"
    (run,) = traindx.read(tmp_path)
    assert list(run.series["train/loss"].values) == pytest.approx(lists["loss"])
    assert len(run.series["val/loss"]) == 8


def test_a_run_that_does_not_learn_is_not_healthy() -> None:
    (d,) = traindx.diagnose(FIXTURES / "torch_lr_too_high")
    assert d.verdict == "findings", d.headline


def test_text_that_is_not_a_training_log_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("Train the model with python train.py.\nThe loss should go down.\n")
    (tmp_path / "requirements.txt").write_text("torch>=2.0\nnumpy==1.26\n")
    (tmp_path / "diagnosis.txt").write_text("\n".join(f"epoch {e} | loss {1 / e:.3f}" for e in range(1, 9)))
    for name in ("README.txt", "requirements.txt", "diagnosis.txt"):
        assert _sniff(tmp_path / name, None) != "text", name
    with pytest.raises(ReadError, match="name: number"):
        read_text_log(tmp_path / "README.txt")


def test_a_text_log_beside_a_csv_is_one_more_writer_of_the_run(tmp_path: Path) -> None:
    rows = [(e, round(2.0 / e, 4)) for e in range(1, 13)]
    (tmp_path / "metrics.csv").write_text("epoch,loss\n" + "\n".join(f"{e},{v}" for e, v in rows) + "\n")
    (tmp_path / "train.log").write_text("\n".join(f"Epoch {e}/12 - loss: {v}" for e, v in rows) + "\n")
    (run,) = traindx.read(tmp_path)
    assert len(run.series["train/loss"]) == 12 and len(run.ingest.files) == 2


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Epoch 0123456789./:-|=%,\t\r\n\x08[]()valosctrainECHLR")), max_size=400))
def test_any_text_parses_or_says_why(text: str) -> None:
    records, n = parse_text(text)
    assert n >= len(records) >= 0
    looks_like_text_log(text)


def test_a_log_printing_only_the_parts_of_an_autoencoder_loss_is_found(tmp_path: Path) -> None:
    # 'epoch 3/25 | recon 0.21 | val_recon 0.22': no 'loss' word, only a part the name habits
    # know (traindx.name_habits: recon -> recon_loss); discovery skipped such a file before
    lines = [f"epoch {e}/12 | recon {0.7 - 0.02 * e:.4f} | val_recon {0.71 - 0.02 * e:.4f}" for e in range(1, 13)]
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    assert looks_like_text_log("\n".join(lines))
    (run,) = traindx.read(tmp_path)
    assert len(run.series["train/recon_loss"]) == 12 and len(run.series["val/recon_loss"]) == 12
    # a file of bookkeeping numbers alone is still no training log
    assert not looks_like_text_log("\n".join(f"epoch {e} | time 3.{e} | lr 0.01" for e in range(1, 13)))


def test_abbreviated_split_words_heading_spaced_pairs_with_percentages(tmp_path: Path) -> None:
    # a hand loop's own format: 'Ep 3/12 | trn loss 0.999 acc 66.0% | val loss 1.035 acc 53.0%'
    # (two-word keys, a bare value, the accuracy in percent): no file was found before
    with open(tmp_path / "out.txt", "w") as f:
        for ep in range(1, 13):
            tl, ta, vl, va = 1.1 - 0.07 * ep, 40.0 + 4.5 * ep, 1.1 - 0.03 * ep, 44.0 + 1.5 * ep
            print(f"Ep {ep}/12 | trn loss {tl:.3f} acc {ta:.1f}% | val loss {vl:.3f} acc {va:.1f}%", file=f)
    assert _sniff(tmp_path / "out.txt", None) == "text"
    (run,) = traindx.read(tmp_path)
    assert list(run.series["train/accuracy"].values)[2] == pytest.approx(0.535)  # 53.5% as a share
    assert list(run.series["val/accuracy"].values)[-1] == pytest.approx(0.62)
    assert len(run.series["train/loss"]) == 12 and len(run.series["val/loss"]) == 12


def test_evaluation_lines_after_an_arrow_beside_iteration_lines(tmp_path: Path) -> None:
    # 'epoch 3 iter 200 loss 1.06' lines, then '==> epoch 3: val_loss 0.0781 val_acc 0.9756':
    # the evaluation lines' pairs were left unread behind the arrow and colon
    with open(tmp_path / "train.log", "w") as f:
        for e in range(1, 7):
            for it in range(0, 800, 200):
                print(f"epoch {e} iter {it} loss {2.0 / (e + it / 800):.4f}", file=f)
            print(f"==> epoch {e}: val_loss {1.5 / e:.4f} val_acc {0.5 + 0.05 * e:.4f}", file=f)
    (run,) = traindx.read(tmp_path)
    assert len(run.series["train/loss"]) == 24
    assert list(run.series["val/accuracy"].values) == pytest.approx([0.5 + 0.05 * e for e in range(1, 7)])
    assert len(run.series["val/loss"]) == 6
    assert not [p for p in run.ingest.problems if p.kind == "skipped"]


def test_a_tqdm_bar_per_epoch_restarting_its_counter_is_not_a_resumed_run(tmp_path: Path) -> None:
    tqdm = pytest.importorskip("tqdm").tqdm
    with open(tmp_path / "train.log", "w") as f:  # a loop's bar per epoch, written by tqdm itself
        for epoch in range(1, 6):
            bar = tqdm(range(8), desc=f"Epoch {epoch}", file=f, mininterval=0, ascii=True)
            for b in bar:
                bar.set_postfix(loss=f"{1.0 / (epoch * 8 + b):.4f}")
            tqdm.write(f"Epoch {epoch}: val_loss={1.2 / epoch:.4f}", file=f)
    (run,) = traindx.read(tmp_path)
    assert not [p for p in run.ingest.problems if p.kind == "superseded"]
    steps = list(run.series["train/loss"].steps)
    assert steps[0] == 0 and steps[-1] == 40 and len(steps) == 41  # 8 batches a bar, one point a count
    assert list(run.series["val/loss"].values) == pytest.approx([1.2 / e for e in range(1, 6)], rel=1e-3)


def test_an_error_metric_with_a_unit_suffix_logged_through_logging(tmp_path: Path) -> None:
    import logging

    log = logging.getLogger("test_unit_suffix")
    handler = logging.FileHandler(tmp_path / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)s | %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        for e in range(1, 9):
            log.info("epoch %d/8 loss=%.4f val_loss=%.4f val_mae_usd=%.1f", e, 1.0 / e, 1.1 / e, 90000.0 / e)
    finally:
        log.removeHandler(handler)
        handler.close()
    (run,) = traindx.read(tmp_path)
    assert list(run.series["val/mae"].values)[-1] == pytest.approx(11250.0)
    assert not [p for p in run.ingest.problems if "val_mae_usd" in p.message]


def _bars(path: Path, batches: int, epochs: int = 5, val_batches: int = 0) -> None:
    tqdm = pytest.importorskip("tqdm").tqdm
    with open(path, "w") as f:  # a loop's bar per epoch, written by tqdm itself
        for epoch in range(1, epochs + 1):
            bar = tqdm(range(batches), desc=f"Epoch {epoch}", file=f, mininterval=0, ascii=True)
            for b in bar:
                bar.set_postfix(loss=f"{2.3 / (epoch + b):.4f}")
            if val_batches:
                vbar = tqdm(range(val_batches), desc=f"Epoch {epoch}", file=f, mininterval=0, ascii=True)
                for _ in vbar:
                    vbar.set_postfix(val_loss=f"{2.4 / epoch:.4f}")


@pytest.mark.parametrize(("batches", "val_batches"), [(1, 0), (8, 0), (1, 3)])
def test_a_tqdm_bar_per_epoch_counts_the_steps_of_an_epoch(tmp_path: Path, batches: int, val_batches: int) -> None:
    # qa_real39's DataLoader(batch_size=len(train)): 'Epoch 3: 100%|####| 1/1 [.., loss=2.29]'
    _bars(tmp_path / "train.log", batches, val_batches=val_batches)
    (run,) = traindx.read(tmp_path)
    assert run.context.steps_per_epoch == batches
    assert run.context.flags.get("steps_counted") is True


def test_a_tqdm_bar_over_the_epochs_is_no_step_count(tmp_path: Path) -> None:
    tqdm = pytest.importorskip("tqdm").tqdm
    with open(tmp_path / "train.log", "w") as f:  # tqdm(range(epochs)): one bar, completed once
        bar = tqdm(range(20), file=f, mininterval=0, ascii=True)
        for e in bar:
            bar.set_postfix(loss=f"{2.3 / (e + 1):.4f}")
    (run,) = traindx.read(tmp_path)
    assert not run.context.flags.get("steps_counted")
