"""Issue 10 (qa_fresh39): a recognisable metric word with a qualifier - val_pseudo_r2 (a Poisson
model's McFadden R^2), val_mae_grade (an ordinal model's MAE in grades), val_rel_err (an
autoencoder's relative error) - was not mapped, so MET001 could not read the R^2."""

from __future__ import annotations

import pytest

from traindx.metric_direction import direction
from traindx.names import map_name


@pytest.mark.parametrize(
    ("name", "key", "better"),
    [
        ("val_pseudo_r2", "val/r2", "higher"),
        ("adjusted_r2", "train/r2", "higher"),
        ("val_r2_adj", "val/r2", "higher"),
        ("val_mae_grade", "val/mae_grade", "lower"),
        ("test_rmse_days", "test/rmse", "lower"),  # a unit suffix: dropped, as before
        ("val_mse_scaled", "val/mse_scaled", "lower"),
        ("val_rel_err", "val/rel_err", "lower"),
        ("val_median_abs_err", "val/median_abs_err", "lower"),
    ],
)
def test_qualified_metric_names(name, key, better):
    k = map_name(name)
    assert str(k) == key and direction(k.metric) == better


def test_a_norm_suffix_stays_unmapped():
    assert map_name("val_mse_norm") is None  # 'norm' reads as a norm statistic (wild table)
