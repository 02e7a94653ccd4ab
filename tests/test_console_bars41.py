"""Consoles captured with ``> train.log 2>&1`` (qa_wild41): lines a progress bar shares with the
program's own output. Each reading is checked on a capture written by tqdm itself and on the
shipped fixture file it was found on."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx
from traindx.schema import Run

WILD = Path(__file__).resolve().parents[1] / "fixtures" / "qa_wild41" / "logs"


def _read(path: Path) -> Run:
    (run,) = traindx.read(path)
    return run


def test_dicts_written_by_tqdm_write_between_bar_frames_are_each_a_record(tmp_path: Path) -> None:
    # the HF Trainer with its tqdm bar on: '\r 4%|..| 9/228 [..]\r     \r{'loss': '1.387', ...}'
    tqdm = pytest.importorskip("tqdm").tqdm
    with open(tmp_path / "train.log", "w") as f:
        bar = tqdm(range(40), file=f, mininterval=0, ascii=True)
        for step in bar:
            if (step + 1) % 5 == 0:
                tqdm.write(str({"loss": f"{2.0 / (step + 1):.4g}", "learning_rate": "0.001", "epoch": f"{(step + 1) / 20:.3g}"}), file=f)
            if (step + 1) % 20 == 0:
                tqdm.write(str({"eval_loss": f"{1.0 / (step + 1):.4g}", "epoch": f"{(step + 1) / 20:.3g}"}), file=f)
    run = _read(tmp_path)
    assert len(run.series["train/loss"]) == 8
    assert list(run.series["train/loss"].values) == pytest.approx([2.0 / s for s in range(5, 41, 5)], rel=1e-3)
    assert len(run.series["val/loss"]) == 2


def test_the_hf_trainer_console_with_its_bar_is_read_whole() -> None:
    run = _read(WILD / "hf_trainer_tiny_bert_topics_learning_rate_5e2_tqdm_bar_and_log_dicts_console" / "fixed")
    assert len(run.series["train/loss"]) == 22  # every logging_steps dict (was 1)
    assert len(run.series["val/loss"]) == len(run.series["val/accuracy"]) == 7  # every epoch's eval (was 2)


def test_a_validation_value_new_in_every_postfix_update_is_read_at_each(tmp_path: Path) -> None:
    # trange(epochs) with set_postfix(loss=, val_mse=): each update shows a new val_mse
    trange = pytest.importorskip("tqdm").trange
    with open(tmp_path / "log.txt", "w") as f:
        bar = trange(20, desc="training", file=f, mininterval=0, ascii=True)
        for e in bar:
            bar.set_postfix(loss=f"{1.0 / (e + 1):.4f}", val_mse=f"{1.5 / (e + 1):.4f}")
    run = _read(tmp_path)
    val = run.series["val/mse"]
    assert len(val) == len(run.series["train/loss"])  # was 1
    assert sorted(set(val.values)) == pytest.approx(sorted({round(1.5 / (e + 1), 4) for e in range(20)}))


def test_the_trange_postfix_console_reads_val_mse_at_every_epoch() -> None:
    for name, points in (("buggy", 59), ("fixed", 61)):  # was 1 against 61 train points
        run = _read(WILD / "torch_diabetes_hand_l2_penalty_lambda_1_sum_squares_trange_postfix" / name)
        # a value equal to the one before reads as the same point (buggy: two epochs repeat one)
        assert len(run.series["train/loss"]) == 61 and len(run.series["val/mse"]) == points


def _lightning_bar(path: Path, epochs: int, batches: int, every: int) -> None:
    """Lightning's TQDMProgressBar as it drives tqdm: one bar reset at each epoch (printed at 0
    under the old description, then renamed), updated every ``every`` steps with the step's
    loss, then the validation values and the epoch's mean added to the postfix."""
    tqdm = pytest.importorskip("tqdm").tqdm
    post: dict[str, str] = {}
    with open(path, "w") as f:
        bar = tqdm(total=batches, file=f, mininterval=0, ascii=True, desc="Epoch 0")
        for e in range(epochs):
            if e:
                bar.reset(total=batches)
                bar.set_description(f"Epoch {e}")
            for b in range(1, batches + 1):
                if b % every == 0:
                    bar.update(every)
                    post["train_loss_step"] = f"{2.0 / (e * batches + b):.3f}"
                    bar.set_postfix(post)
            post |= {"val_loss": f"{1.5 / (e + 1):.3f}"}
            bar.set_postfix(post)
            post |= {"train_loss_epoch": f"{1.8 / (e + 1):.3f}"}
            bar.set_postfix(post)
        bar.close()


def test_lightning_bar_counts_optimizer_steps_and_reads_epoch_values_once(tmp_path: Path) -> None:
    _lightning_bar(tmp_path / "train.log", epochs=6, batches=20, every=5)
    run = _read(tmp_path)
    steps = run.series["train/loss:step"].steps
    assert int(steps.max()) == 120  # 6 epochs of 20 steps (was inflated by every reset frame)
    assert len(run.series["val/loss"]) == 6
    assert len(run.series["train/loss"]) == 6  # train_loss_epoch once an epoch, not once a frame
    assert list(run.series["train/loss"].values) == pytest.approx([round(1.8 / (e + 1), 3) for e in range(6)])


def test_the_lightning_console_reads_900_steps_and_20_epoch_values() -> None:
    run = _read(WILD / "lightning_digits_encoder_requires_grad_false_pretrained_load_skipped_progress_bar_callback" / "fixed")
    assert int(run.series["train/loss:step"].steps.max()) == 900  # 20 epochs x 45 batches (was 3553)
    assert len(run.series["train/loss"]) == len(run.series["val/loss"]) == 20  # were 229 and 58
    assert not [k for k in run.series if "DataLoader" in k]


RICH = """epoch 00 | train_mse 0.9023 | val_mse 0.8035
epoch 01 | train_mse 0.6656 | val_mse 0.6776
epoch 02 | train_mse 0.6196 | val_mse 0.6518
epoch 03 | train_mse 0.5988 | val_mse 0.6380
Epoch 3/3 ━━━━━━━━━━━━━━━━ 50/50 0:00:00 •        179.80it/s val_mse: 0.638
                                   0:00:00                     train_mse: 0.599
"""


def test_a_rich_bar_final_frame_repeats_the_last_epoch(tmp_path: Path) -> None:
    (tmp_path / "output.log").write_text(RICH, encoding="utf-8")
    run = _read(tmp_path)
    for key in ("train/mse", "val/mse"):
        s = run.series[key]
        assert s.unit == "epoch" and list(s.steps) == [0, 1, 2, 3]  # was 5 points on a record-order axis
    assert list(run.series["train/mse"].values)[-1] == pytest.approx(0.5988)


def test_the_rich_bar_console_keeps_the_epoch_axis() -> None:
    run = _read(WILD / "lightning_friedman_standardized_target_relu_output_rich_bar_epoch_print" / "buggy")
    assert run.series["train/mse"].unit == "epoch" and len(run.series["train/mse"]) == 30


def test_printed_batches_per_epoch_is_the_run_s_step_count(tmp_path: Path) -> None:
    lines = ["train rows: 2400  batches per epoch: 1"]
    lines += [f"[epoch {e}] train loss: {1.93 - 0.004 * e:.4f} | val loss: {1.92 - 0.004 * e:.4f}" for e in range(1, 31)]
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = _read(tmp_path)
    assert run.context.steps_per_epoch == 1 and run.context.flags.get("steps_counted") is True
    run = _read(WILD / "torch_wine_quality_like_7class_full_batch_dataloader_sgd_bracket_epoch_print" / "buggy")
    assert run.context.steps_per_epoch == 1
    run = _read(WILD / "torch_wine_quality_like_7class_full_batch_dataloader_sgd_bracket_epoch_print" / "fixed")
    assert run.context.steps_per_epoch == 38
