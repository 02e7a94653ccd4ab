"""Issue 10 (qa_fresh39, Lightning dying ReLU): the learned layer's "moved by" line said
"validation accuracy oscillation" on a run that logged val_loss, val_r2 and train_loss only.
The features were not made from an absent series (a missing fact sits at the training mean,
with its own has: indicator); the quality group was read from val_r2 and named an accuracy."""

from __future__ import annotations

from traindx.learned import raw_feature
from traindx.rerank import describe


def test_a_quality_group_is_named_by_its_metric():
    facts = {"val_quality": {"tau": 0.3, "name": "val_r2"}, "quality": {"last": 0.9, "name": "acc"}}
    said = describe("val_quality.tau", facts, None)  # type: ignore[arg-type]
    assert "val_r2" in said and "accuracy" not in said
    assert describe("quality.last", facts, None).startswith("training accuracy")  # type: ignore[arg-type]
    assert "val_r2 recorded" in describe("has:val_quality", facts, None)  # type: ignore[arg-type]


def test_an_absent_series_reads_as_missing():
    assert raw_feature("val_quality.tau", {}, {}, set()) is None
    assert raw_feature("has:val_quality", {}, {}, set()) == 0.0
    assert "not recorded" in describe("val_quality.tau", {}, None)  # type: ignore[arg-type]
