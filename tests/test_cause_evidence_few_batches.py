"""A training set a log shows to be tiny without stating its size (gapsw46).

A log carries no training-set size; an adapter records it (ctx.n_train, CTX025). What a log
does show: the optimizer steps of one epoch (a Lightning or HF step counter per epoch), and
sometimes the batch size (a config, a trainer state's train_batch_size). A run whose epochs
are three steps or fewer and whose training loss went to zero far below its validation loss
memorized a few batches (GEN014: insufficient_data first); steps per epoch times a stated
batch size under 300 is insufficient_data evidence. qa_real46's Lightning MLP on 40 digit
images (2 steps per epoch, no batch size logged) was called healthy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cause_evidence import evidence_holds as _holds
from cause_evidence import series_run as _run

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parent.parent
LIGHTNING_40 = ROOT / "fixtures/qa_real46/logs/lightning_digits_40_training_images_mlp_512x2_adam_80_epochs_csvlogger"
TORCH_20 = ROOT / "fixtures/qa_real43/logs/torch_digits_20_training_images_mlp_512_200_epochs_tqdm_monitor"
LOSS = 2.3 * 0.9 ** np.arange(12.0) + 0.05
IMPLIED = "at most about"


def test_steps_per_epoch_times_stated_batch_under_300_is_a_small_set():
    run = _run({"loss": LOSS}, {"steps_per_epoch": 3, "data": {"batch_size": 16}})
    assert _holds("insufficient_data", IMPLIED, run) is True


def test_many_steps_per_epoch_is_no_small_set():
    run = _run({"loss": LOSS}, {"steps_per_epoch": 50, "data": {"batch_size": 32}})
    assert _holds("insufficient_data", IMPLIED, run) is False


def test_a_recorded_size_is_read_as_itself_not_implied():
    run = _run({"loss": LOSS}, {"data": {"n_train": 5000, "batch_size": 32}})
    assert _holds("insufficient_data", IMPLIED, run) is not True


def test_lightning_log_of_two_steps_per_epoch_memorized_reads_as_too_few_examples():
    buggy = diagnose(LIGHTNING_40 / "buggy", learned=False)[0]
    assert "GEN014" in {s.code for s in buggy.symptoms}
    assert buggy.causes[0].id == "insufficient_data"
    fixed = diagnose(LIGHTNING_40 / "fixed", learned=False)[0]
    assert "GEN014" not in {s.code for s in fixed.symptoms}


def test_few_batches_memorized_outweighs_the_generalization_gap_for_overfitting():
    # a printed torch loop on 20 images: GEN004 (gap) alone ranked overfitting first by the rules
    buggy = diagnose(TORCH_20 / "buggy", learned=False)[0]
    assert "GEN014" in {s.code for s in buggy.symptoms}
    assert buggy.causes[0].id == "insufficient_data"
