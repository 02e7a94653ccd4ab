"""One data-parallel job's per-rank logs read as one run, and the symptoms across ranks.

The slow tests train with REAL torch.distributed (gloo, 2 CPU processes spawned with
torch.multiprocessing) writing per-rank logs (tests/ddp_logs.py): a healthy DDP job
(``rank0/``, ``rank1/`` tensorboardX folders), a desynchronized one (no DDP wrapper,
rank 1 on another data seed; ``metrics_rank{r}.csv``) and one whose rank 1 gets a NaN
input part way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.api import diagnose, read
from traindx.signals import compute_facts

RANK_CODES = {"RANK001", "RANK002", "RANK003", "RANK004", "RANK005"}


def _csv(path: Path, loss: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["step,train_loss"] + [f"{i},{v}" for i, v in enumerate(loss)]
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize(
    "layout",
    [["rank_0/metrics.csv", "rank_1/metrics.csv"], ["process_0/log.csv", "process_1/log.csv"],
     ["metrics_rank0.csv", "metrics_rank1.csv"], ["rank0/train/log.csv", "rank1/train/log.csv"]],
)  # fmt: skip
def test_rank_layouts_are_one_run_with_per_rank_series(tmp_path, layout):
    job = tmp_path / "job"
    for i, rel in enumerate(layout):
        _csv(job / rel, 2.0 * 0.99 ** np.arange(50) + 0.01 * i)
    (run,) = read(job)
    assert run.id == "job"
    assert {"train/loss", "train/loss@rank1"} <= set(run.series)
    np.testing.assert_allclose(run.series["train/loss@rank1"].values - run.series["train/loss"].values, 0.01)
    assert compute_facts(run)["ranks"]["n_ranks"] == 2


def test_a_single_rank_file_is_a_plain_log(tmp_path):
    _csv(tmp_path / "job" / "metrics_rank0.csv", 2.0 * 0.99 ** np.arange(50))
    (run,) = read(tmp_path / "job")
    assert set(run.series) == {"train/loss"} and "ranks" not in compute_facts(run)


def test_sibling_runs_in_a_sweep_stay_apart(tmp_path):
    for name in ("lr=0.1", "lr=0.01"):
        _csv(tmp_path / name / "rank0" / "m.csv", 2.0 * 0.99 ** np.arange(50))
        _csv(tmp_path / name / "rank1" / "m.csv", 2.0 * 0.99 ** np.arange(50))
    runs = read(tmp_path)
    assert sorted(r.id for r in runs) == ["lr=0.01", "lr=0.1"]
    assert all("train/loss@rank1" in r.series for r in runs)


@pytest.fixture(scope="module")
def ddp_jobs(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("tensorboardX")
    from ddp_logs import write_jobs

    return write_jobs(tmp_path_factory.mktemp("ddp"))


@pytest.mark.slow
@pytest.mark.torch
def test_healthy_ddp_is_one_run_without_rank_symptoms(ddp_jobs):
    (run,) = read(ddp_jobs / "healthy")
    assert {"train/loss", "train/loss@rank1", "train/grad_norm", "train/grad_norm@rank1"} <= set(run.series)
    # the all-reduced gradient is the same on both ranks; the losses are not (own batches)
    assert np.array_equal(run.series["train/grad_norm"].values, run.series["train/grad_norm@rank1"].values)
    assert not np.array_equal(run.series["train/loss"].values, run.series["train/loss@rank1"].values)
    assert "train/data_time@rank1" in run.series  # a timing, read as a series in a multi-rank job
    d = diagnose(run)[0]
    assert not RANK_CODES & {s.code for s in d.symptoms}
    assert d.facts["ranks"]["time_metric"] == "data_time"  # timed, and no straggler
    assert "layers" not in d.facts  # rank1 is no layer


@pytest.mark.slow
@pytest.mark.torch
def test_desynchronized_replicas_fire_the_cross_rank_symptoms(ddp_jobs):
    (run,) = read(ddp_jobs / "desync")
    d = diagnose(run)[0]
    codes = {s.code for s in d.symptoms}
    assert {"RANK001", "RANK003"} <= codes
    assert d.top is not None and d.top.id == "ranks_desynchronized"


@pytest.mark.slow
@pytest.mark.torch
def test_a_nan_on_one_rank_is_seen_first_there(ddp_jobs):
    (run,) = read(ddp_jobs / "nan_rank")
    d = diagnose(run)[0]
    ranks = d.facts["ranks"]
    assert ranks["nonfinite_rank"] == "rank1" and ranks["nonfinite_first_ranks"] == 1
    assert "RANK002" in {s.code for s in d.symptoms}
    assert "nonfinite_in_data" in [c.id for c in d.causes[:3]]


@pytest.mark.slow
@pytest.mark.torch
def test_a_slow_rank_is_a_straggler_and_the_run_stays_healthy(ddp_jobs):
    (run,) = read(ddp_jobs / "straggler")
    d = diagnose(run)[0]
    ranks = d.facts["ranks"]
    assert ranks["slow_rank"] == "rank1" and ranks["time_metric"] == "data_time"
    assert ranks["time_gap"] > 0.02
    codes = {s.code for s in d.symptoms}
    assert "RANK005" in codes and not {"RANK001", "RANK002", "RANK003", "RANK004"} & codes
    assert d.verdict == "healthy"  # an info: the job learns, only slower
