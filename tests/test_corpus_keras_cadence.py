"""The corpus Keras runner records the callback's DEFAULT cadence fed a fixed cost model
(fixtures/corpus/costs.py), so a re-recording repeats (before, at the wall-clock cadence, the
same spec recorded twice differed in 8-71 facts)."""

from __future__ import annotations

import json
import os
import sys
import tarfile
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("keras")
pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))

SHARD = "keras-tensorflow-s2"  # its first adapter run without early stopping


def _spec() -> dict:
    with tarfile.open(ROOT / "fixtures" / "corpus" / "shards" / f"{SHARD}.tar.xz", "r:xz") as tar:
        for m in tar.getmembers():
            if m.name.endswith("/label.json"):
                f = tar.extractfile(m)
                assert f is not None
                lab = json.load(f)
                if lab["input_kind"] == "keras_adapter" and not lab["spec"]["loop"].get("early_stop"):
                    spec = lab["spec"]
                    spec["loop"]["epochs"] = min(spec["loop"]["epochs"], 4)  # short: the same rule
                    return spec
    raise AssertionError("no adapter run")


def _record(spec: dict, out: Path) -> tuple[dict, dict]:
    import keras_run

    from traindx.readers.tfevents.reader import read_event_file

    out.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_run.train(spec, out)
    series: dict[str, list] = {}
    for f in sorted(out.glob("events.out.tfevents*")):
        for s in read_event_file(f).series:
            series.setdefault(s.name, []).extend((int(a), float(b)) for a, b in zip(s.steps, s.values, strict=True))
    return json.loads((out / "context.json").read_text()), series


@pytest.mark.slow
def test_a_corpus_keras_recording_repeats_at_the_default_cadence(tmp_path):
    spec = _spec()
    if spec["framework"] != "keras":
        pytest.skip("not a keras spec")
    ctx, series = _record(spec, tmp_path / "a")
    ctx2, series2 = _record(spec, tmp_path / "b")
    (note,) = [n for n in ctx["notes"] if "per-layer telemetry" in n]
    assert "modelled overhead" in note
    assert ctx == ctx2
    assert series.keys() == series2.keys()
    for name in series:
        assert [s for s, _ in series[name]] == [s for s, _ in series2[name]], name
        assert [v for _, v in series[name]] == pytest.approx([v for _, v in series2[name]], nan_ok=True), name
