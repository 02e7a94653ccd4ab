"""The corpus torch runner records at a cadence fixed by step count, so a re-recording repeats.

The torch Monitor's default cadence adapts to its measured wall-clock overhead: recorded under
another load, a run would take its per-layer telemetry at other steps (and coverage samples
between them), and its facts could move. fixtures/corpus/torch_run.py and kinds_torch.py pass
``every=max(1, steps_per_epoch * epochs // 40)``: a fixed cadence (no coverage samples, the
gradient norm every step), so re-recording a stored spec gives the packed recording again
(rerec28: the series of every re-recorded run whose summary did not drift were identical).
"""

from __future__ import annotations

import json
import sys
import tarfile
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))

RUN = "torch_5_00007_model_too_small"  # a small blobs MLP of torch-s5 (adapter run)


def _spec() -> dict:
    with tarfile.open(ROOT / "fixtures" / "corpus" / "shards" / "torch-s5.tar.xz", "r:xz") as tar:
        f = tar.extractfile(f"torch-s5/{RUN}/label.json")
        assert f is not None
        spec = json.load(f)["spec"]
    spec["loop"]["epochs"] = 3  # keep it short: the cadence rule is the same
    return spec


def _record(spec: dict, out: Path) -> tuple[dict, dict[str, tuple[list[int], list[float]]]]:
    import torch_run

    from traindx.readers.tfevents.reader import read_event_file

    out.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_run.train(spec, out)
    series: dict[str, tuple[list[int], list[float]]] = {}
    for f in sorted(out.glob("events.out.tfevents*")):
        for s in read_event_file(f).series:
            steps, values = series.setdefault(s.name, ([], []))
            steps.extend(int(x) for x in s.steps)
            values.extend(float(x) for x in s.values)
    return json.loads((out / "context.json").read_text()), series


@pytest.mark.slow
def test_a_corpus_torch_recording_repeats_at_a_step_count_cadence(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    spec = _spec()
    ctx, series = _record(spec, tmp_path / "a")
    ctx2, series2 = _record(spec, tmp_path / "b")
    # the same spec and seed give the same recording: context and every series, point by point
    assert ctx == ctx2
    assert series.keys() == series2.keys()
    for name in series:
        assert series[name][0] == series2[name][0], name
        assert series[name][1] == pytest.approx(series2[name][1], nan_ok=True), name
    # the cadence is the runner's fixed one, not one measured from wall time
    assert not spec["loop"].get("early_stop")  # the run takes its planned steps_per_epoch * epochs
    (note,) = [n for n in ctx["notes"] if "per-layer telemetry" in n]
    steps = int(note.split("traindx monitor: ", 1)[1].split(" steps", 1)[0])
    every = max(1, steps // 40)
    assert f"per-layer telemetry every {every} steps" in note and "measured overhead" not in note
    layer = sorted(n for n in series if n.startswith("train/weight_norm@"))
    assert layer, sorted(series)
    assert sorted(set(series[layer[0]][0])) == list(range(0, steps, every))
