"""fixtures/corpus/stale.py's key comparison, on the committed recordings of torch-s1.

torch_1_00109_healthy kept the recording of the torch Monitor before a31772d (its re-recording
would have changed its pack decision), so it lacks the facts the re-recorded runs carry.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))

from stale import always_written, family, flat_keys, stale_runs  # noqa: E402

OLD = "torch_1_00109_healthy"


@pytest.fixture(scope="module")
def torch_s1() -> dict[str, frozenset[str]]:
    """run -> context.json keys of torch-s1's adapter runs (read from the archive)."""
    keys = {}
    with tarfile.open(ROOT / "fixtures" / "corpus" / "shards" / "torch-s1.tar.xz", "r:xz") as tar:
        for m in tar:
            if m.name.endswith("/context.json"):
                f = tar.extractfile(m)
                assert f is not None
                keys[m.name.split("/")[1]] = flat_keys(json.load(f))
    return keys


def test_flat_keys_name_nested_keys_and_list_items():
    ctx = {"model": {"layers": [{"name": "a", "is_output": True}, {"name": "b"}], "n": 1},
           "flags": {}, "notes": ["x"]}
    assert flat_keys(ctx) == {"model", "model.layers", "model.layers.[].name",
                              "model.layers.[].is_output", "model.n", "flags", "notes"}


def test_family_drops_the_seed():
    assert family("keras-jax-s28") == "keras-jax"
    assert family("torch-kinds-s1") == "torch-kinds"
    assert family("jax-s4") == "jax"


def test_the_old_recording_is_the_one_stale_run(torch_s1):
    assert len(torch_s1) > 50 and OLD in torch_s1
    fresh = always_written(k for run, k in torch_s1.items() if run != OLD)
    # facts the current Monitor writes on every run and the old one never did
    assert {"flags.loss_kind", "flags.target_min", "model.layers.[].is_output",
            "hyperparameter_sources"} <= fresh
    stale = stale_runs((("torch-s1", run, k) for run, k in torch_s1.items()), {"torch": fresh})
    assert list(stale) == ["torch-s1"]
    assert list(stale["torch-s1"]) == [OLD]
    assert "model.layers.[].is_output" in stale["torch-s1"][OLD]
    assert "flags.loss_kind" in stale["torch-s1"][OLD]


def test_keys_no_fresh_recording_wrote_are_not_checked(torch_s1):
    fresh = always_written(torch_s1.values())  # the old recording among them: nothing new
    stale = stale_runs((("torch-s1", run, k) for run, k in torch_s1.items()), {"torch": fresh})
    assert stale == {"torch-s1": {}}
    # a family with no fresh recording is left out, not reported clean
    assert stale_runs([("jax-s4", "r", frozenset())], {"torch": fresh}) == {}
    assert always_written([]) == frozenset()
