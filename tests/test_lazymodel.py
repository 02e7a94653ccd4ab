"""traindx's models are plain classes validated and serialized by a pydantic twin (issue 15):
what a caller sees of pydantic's behaviour is kept."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from traindx.checks import PreflightRecord
from traindx.diagnosis import Diagnosis, Evidence
from traindx.rules.model import Condition, Symptom
from traindx.schema import CheckResult, RunContext, Series, SeriesKey


def test_construct_fills_defaults_without_validating():
    k = SeriesKey.model_construct(metric="loss")
    assert (k.split, k.scope, k.statistic, str(k)) == ("train", "global", "value", "train/loss")
    assert k.model_fields_set == {"metric"}
    a, b = RunContext.model_construct(), RunContext.model_construct()
    assert a.notes == [] and a.notes is not b.notes and a.model.layers == []  # factories run per instance
    assert not isinstance(k, BaseModel)


def test_validation_keeps_pydantic_errors_and_coercion():
    with pytest.raises(ValidationError) as e:
        SeriesKey(metric="loss", split="training")
    assert e.value.title == "SeriesKey" and e.value.errors()[0]["loc"] == ("split",)
    ctx = RunContext.model_validate({"epochs": "3", "model": {"layers": [{"name": "fc", "params": "10"}]}})
    assert ctx.epochs == 3 and isinstance(ctx.model.layers[0].params, int)
    assert type(ctx.model).__name__ == "ModelInfo" and not isinstance(ctx.model, BaseModel)
    with pytest.raises(ValueError, match="strictly increasing"):
        Series(key=SeriesKey(metric="loss"), steps=np.array([2, 1]), values=np.array([0.0, 1.0]))


def test_dump_json_and_schema_are_the_twins():
    s = Series(key=SeriesKey(metric="loss"), steps=np.array([1, 2]), values=np.array([1.0, np.nan]))
    assert s.model_dump_json() == '{"key":{"metric":"loss","split":"train","scope":"global","statistic":"value"},' \
        '"steps":[1.0,2.0],"values":[1.0,null],"unit":"step","original_name":"","source":"","superseded":0}'
    d = Diagnosis.model_construct(run_id="r", verdict="healthy", healthy=True, headline="h",
                                  facts={"loss": {"last": 1.0}}, symptoms=[])  # fmt: skip
    dumped = d.model_dump(mode="json")
    assert "facts" not in dumped and dumped["ingest"]["problems"] == []  # exclude=True kept
    assert Diagnosis.model_validate_json(d.model_dump_json()).model_dump() == d.model_dump()
    assert Diagnosis.model_json_schema()["title"] == "Diagnosis"
    assert "says" in Evidence.model_fields


def test_a_pydantic_model_holds_them():
    rec = PreflightRecord(checks=[CheckResult(name="lr", status="passed")], context=RunContext(epochs=2))
    back = PreflightRecord.model_validate_json(rec.model_dump_json())
    assert isinstance(back.checks[0], CheckResult) and back.context.epochs == 2
    assert back.checks == rec.checks


def test_pickle_copy_eq_hash_frozen():
    k = SeriesKey(metric="loss", split="val")
    assert pickle.loads(pickle.dumps(k)) == k and hash(k) == hash(SeriesKey(metric="loss", split="val"))
    assert k.model_copy(update={"split": "test"}).split == "test" and k.split == "val"
    with pytest.raises(TypeError):
        k.split = "train"  # type: ignore[misc]
    s = Series.checked(key=k, steps=np.arange(3), values=np.ones(3))
    assert len(pickle.loads(pickle.dumps(s))) == 3


def test_prepared_condition_pickles_without_its_program():
    c = Condition.model_construct(source="loss.last > 1.0 || val_loss.last > 1.0")
    c.prepare()
    assert c.groups == ["loss", "val_loss"] and c.absent is not None and c.absent[0] is None
    back = pickle.loads(pickle.dumps(c))
    assert "program" not in back.__dict__ and back.absent == c.absent and back.groups == c.groups


def test_rule_errors_name_the_field():
    with pytest.raises(ValidationError) as e:
        Symptom.model_validate({"code": "bad", "slug": "x", "summary": "s", "severity": "warning", "when": "true",
                                "docs": {"what": "0123456789", "why": "0123456789", "false_positives": "01234"},
                                "cases": []})  # fmt: skip
    assert e.value.title == "Symptom"
    assert [err["loc"] for err in e.value.errors()] == [("code",), ("cases",)]
