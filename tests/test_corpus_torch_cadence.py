"""The corpus torch runner records the Monitor's DEFAULT cadence, and a re-recording repeats.

The torch Monitor's default cadence adapts to its measured wall-clock overhead: recorded under
another load, a run would take its per-layer telemetry at other steps (and coverage samples
between them), and its facts could move. fixtures/corpus/torch_run.py and kinds_torch.py
attach ``Monitor(model, opt)`` with its default cadence fed a fixed cost model (costs.py,
``TRAINDX_CADENCE_COSTS``): the adaptive rule users get (telemetry steps at 0 and 10, then
rarer; the gradient norm every ``grad_stride`` steps; per-layer coverage samples between), its
decisions a function of the step count alone, so re-recording a stored spec gives the packed
recording again.
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
def test_a_corpus_torch_recording_repeats_at_the_default_cadence(tmp_path):
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
    # the cadence is the Monitor's default one, decided by the cost model, not by wall time
    assert not spec["loop"].get("early_stop")  # the run takes its planned steps_per_epoch * epochs
    (note,) = [n for n in ctx["notes"] if "per-layer telemetry" in n]
    assert "modelled overhead" in note and "measured overhead" not in note
    steps = int(note.split("traindx monitor: ", 1)[1].split(" steps", 1)[0])
    layer = sorted(n for n in series if n.startswith("train/weight_norm@"))
    assert layer, sorted(series)
    at = sorted(set(series[layer[0]][0]))
    # telemetry at 0 and 10, then coverage samples every max(10, step // 32) steps: the
    # default's spread, not a fixed every-N grid
    assert at[:2] == [0, 10] and len(at) >= min(steps // 10, 8)
    assert at != list(range(0, steps, max(1, steps // 40)))
    # the global gradient norm on a stride (16 on these tiny steps), not every step
    gn = series.get("train/grad_norm")
    assert gn is not None and 0 < len(gn[0]) < steps / 2


def test_the_cost_model_is_set_only_while_the_monitor_is_made(tmp_path, monkeypatch):
    """The runners set TRAINDX_CADENCE_COSTS only around the adapter's construction: nothing
    else in the process (a test's own Monitor, a user's) gets the cost model."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import costs
    import torch_run  # noqa: F401 - importing a runner sets nothing

    monkeypatch.delenv(costs.ENV, raising=False)
    import os

    assert costs.ENV not in os.environ
    with costs.recording_costs(costs.TORCH):
        assert os.environ[costs.ENV] == costs.TORCH
    assert costs.ENV not in os.environ
