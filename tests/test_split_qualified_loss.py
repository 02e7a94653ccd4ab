"""A loss tag whose second segment holds the split and a qualifier (gapsf48).

``loss/train_recon`` and ``loss/val_recon`` (an autoencoder's SummaryWriter tags; qa_fresh48's
swiss-roll pair gave no verdict: they were read as the loss of a scope 'recon', so the run had
no loss) are the split's reconstruction loss, a part of its loss; the qualifier may come after
the split or before it (``loss/recon_val``). A whole or a statistic (``loss/train_avg``) keeps its
scope: read as the loss it would collide with ``loss/train`` (hundreds of corpus runs log both).
An axis or a numbered qualifier stays a scope, as before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.names import map_name
from traindx.readers import read


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("loss/train_recon", "train/recon_loss"),
        ("loss/val_recon", "val/recon_loss"),
        ("Loss/recon_train", "train/recon_loss"),
        ("loss/recon_val", "val/recon_loss"),
        ("loss/valid_kl", "val/kl_loss"),
        # a whole or a statistic beside the split's own loss stays apart (no second train/loss)
        ("Loss/val_total", "val/loss@total"),
        ("loss/train_avg", "train/loss@avg"),
        # unchanged: an axis, a numbered scope, a split word against the one already read
        ("Loss/train_epoch", "train/loss@epoch"),
        ("loss/train_class_3", "train/loss@class_3"),
        ("val/loss/train_recon", "val/loss@train_recon"),
        ("accuracy/val_pairs", "val/accuracy@pairs"),
        ("Loss/val_pairs", "val/loss@pairs"),
        ("loss/train_clean", "train/loss@clean"),
        ("loss/recon", "train/recon_loss"),
        ("Loss/Total", "train/loss"),
    ],
)
def test_split_and_qualifier_after_a_loss(raw: str, key: str) -> None:
    assert str(map_name(raw, {})) == key


def test_a_run_logging_only_split_qualified_losses_has_a_loss_per_split(tmp_path: Path) -> None:
    n = 20
    train = 2.0 * 0.9 ** np.arange(n) + 0.1
    rows = ["epoch,loss/train_recon,loss/val_recon"] + [f"{i},{train[i]:.5f},{train[i] * 1.1:.5f}" for i in range(n)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    run = read(tmp_path)[0]
    loss, val = run.get("loss", "train"), run.get("loss", "val")
    assert loss is not None and val is not None
    assert np.allclose(loss.values, np.round(train, 5))
    assert np.allclose(val.values, np.round(train * 1.1, 5), atol=1e-5)


def test_components_of_one_split_add_up_to_its_loss(tmp_path: Path) -> None:
    rows = ["step,loss/train_recon,loss/train_kl"] + [f"{i},{1.0 / (i + 1):.4f},0.5" for i in range(20)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    loss = read(tmp_path)[0].get("loss", "train")
    assert loss is not None
    assert np.isclose(loss.values[0], 1.5) and np.isclose(loss.values[-1], 0.55)
