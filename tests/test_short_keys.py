"""A hand loop's dict keyed by the epoch number with one-letter keys (fixtures/qa_begin47:
``json.dump({1: {"l": loss, "a": acc}, 2: {...}})``): the key is the epoch, ``l``/``a`` the
training loss/accuracy - only where the file's names are all such keys."""

from __future__ import annotations

import json

import numpy as np

from traindx.names import paired_names
from traindx.readers import read


def test_dict_keyed_by_epoch_from_one_with_l_and_a(tmp_path):
    p = tmp_path / "hist.json"
    p.write_text(json.dumps({str(e): {"l": 1.0 / e, "a": 0.5 + e / 100} for e in range(1, 6)}))
    (run,) = read(p)
    assert set(run.series) == {"train/loss", "train/accuracy"}
    s = run.series["train/loss"]
    assert s.unit == "epoch"
    np.testing.assert_array_equal(s.steps, [1, 2, 3, 4, 5])


def test_short_keys_only_as_a_whole_file():
    assert paired_names(["l", "a", "vl", "va"]) == {"l": "train/loss", "a": "train/accuracy", "vl": "val/loss", "va": "val/accuracy"}
    assert paired_names(["epoch", "l", "a"]) == {"l": "train/loss", "a": "train/accuracy"}
    assert "l" not in paired_names(["l"])  # alone: a length?
    assert "a" not in paired_names(["a", "b", "l"])  # beside other names: anything
    assert "a" not in paired_names(["a", "vl"])  # no training loss key
    assert "l" not in paired_names(["l", "tl", "a"])  # which loss is which
    assert paired_names(["tr", "va"]).get("va") == "val/loss"  # bare split words stay as they were
