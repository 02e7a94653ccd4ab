"""Where the validation rows lie against the training rows (labelnn.val_nn_flags) separates a
shift of the inputs from validation labels coded apart (qa_fresh46 blobs: validation from a
second make_blobs call read as labels_corrupted at 79 %)."""

from __future__ import annotations

import numpy as np
import pytest
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

from traindx.adapters._common.labelnn import val_nn_flags, val_nn_flags_of


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    x, y = make_blobs(3000, n_features=6, centers=12, random_state=0)
    vx, vy = make_blobs(750, n_features=6, centers=12, random_state=1)
    return x.astype("float32"), y, vx.astype("float32"), vy


def test_val_nn_facts_of_a_random_split_a_second_draw_and_labels_coded_apart(blobs):
    x, y, vx, vy = blobs
    same = val_nn_flags(x[:2250], y[:2250], x[2250:], y[2250:])
    assert 0.8 <= same["val_nn_dist_ratio"] <= 1.3 and same["val_nn_agree"] >= 0.9
    other = val_nn_flags(x[:2250], y[:2250], vx, vy)  # other centres: rows far from training's
    assert other["val_nn_dist_ratio"] >= 3.0
    perm = (np.arange(12) + 5) % 12
    apart = val_nn_flags_of((x[:2250], y[:2250]), (x[2250:], perm[y[2250:]]))
    assert apart["val_nn_dist_ratio"] <= 1.3 and apart["val_nn_agree"] <= 0.1
    assert val_nn_flags(x[:2250], y[:2250].astype(float) + 0.5, x[2250:], y[2250:]) == {}  # not class ids


def _ctx(**flags: float) -> dict:
    base = {"label_nn_agree": 0.95, "label_nn_lift": 0.94, "val_nn_rows": 512.0}
    return {"flags": {**base, **flags}}


SERIES = {"train/loss": np.linspace(2.3, 0.1, 30), "val/loss": np.linspace(2.7, 11.0, 30)}


def test_validation_rows_far_from_training_are_a_shift_not_labels():
    run = _run(SERIES, _ctx(val_nn_dist_ratio=6.8, val_nn_agree=0.06))
    assert _fired("distribution_shift", "a validation row's nearest training row is", run) is True
    assert _fired("labels_corrupted", "a validation row's nearest training row is", run) is True  # (against)
    assert _fired("labels_corrupted", "validation rows sit among", run) is not True


def test_close_validation_rows_with_disagreeing_labels_are_labels_coded_apart():
    run = _run(SERIES, _ctx(val_nn_dist_ratio=1.0, val_nn_agree=0.05))
    assert _fired("labels_corrupted", "validation rows sit among", run) is True
    assert _fired("distribution_shift", "validation rows sit among", run) is True  # (against)
    assert _fired("distribution_shift", "a validation row's nearest training row is", run) is not True
    honest = _run(SERIES, _ctx(val_nn_dist_ratio=1.0, val_nn_agree=0.93))
    assert _fired("labels_corrupted", "validation rows sit among", honest) is not True
