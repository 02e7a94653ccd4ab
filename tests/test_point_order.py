"""No silent loss of points at equal or lower steps (issue 9, section 4).

Logs written by real writers (torch's SummaryWriter, tensorboardX's, Lightning-style CSV):
a resumed run supersedes (TensorBoard's rule) and says how many points went; points all at
step 0, a per-epoch step counter and shuffled records keep every point.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import traindx
from traindx.ordering import order_points
from traindx.readers import tfrecord as tfr
from traindx.writers.tfevents import frame_records

pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

N = 200


def _problems(run, kind):
    return [p for p in run.ingest.problems if p.kind == kind]


def test_add_scalar_without_global_step_keeps_every_point_and_an_explosion_is_found(tmp_path):
    w = SummaryWriter(tmp_path / "run")
    for i in range(N):
        w.add_scalar("loss", 2.3 * 1.05**i)  # no global_step: every event at step 0
    w.close()
    (run,) = traindx.read(tmp_path / "run")
    loss = run.get("loss")
    assert len(loss) == N and loss.values[-1] == pytest.approx(2.3 * 1.05 ** (N - 1), rel=1e-5)
    (p,) = _problems(run, "renumbered")
    assert p.count == N and "step 0" in p.message
    (d,) = traindx.diagnose(tmp_path / "run")
    assert d.verdict == "findings" and not d.healthy
    assert any(x.kind == "renumbered" for x in d.ingest.problems)


def test_step_counter_reset_every_epoch_keeps_every_point(tmp_path):
    w = SummaryWriter(tmp_path / "run")
    for epoch in range(5):
        for batch_idx in range(40):
            w.add_scalar("train/loss", 2.3 * 0.99 ** (epoch * 40 + batch_idx), batch_idx)
    w.close()
    (run,) = traindx.read(tmp_path / "run")
    loss = run.get("loss")
    assert len(loss) == N and loss.steps.tolist() == list(range(N))
    assert np.all(np.diff(loss.values) < 0)  # the curve in its true order
    (p,) = _problems(run, "renumbered")
    assert p.count == N


def test_resumed_run_supersedes_and_counts(tmp_path):
    w = SummaryWriter(tmp_path / "run", filename_suffix=".a")
    for s in range(100):
        w.add_scalar("loss", 1.0, s)
    w.close()
    w = SummaryWriter(tmp_path / "run", filename_suffix=".b")  # resumed from step 60
    for s in range(60, 150):
        w.add_scalar("loss", 0.5, s)
    w.close()
    (run,) = traindx.read(tmp_path / "run")
    loss = run.get("loss")
    assert loss.steps.tolist() == list(range(150))
    assert (loss.values[:60] == 1.0).all() and (loss.values[60:] == 0.5).all()
    (p,) = _problems(run, "superseded")
    assert p.count == 40 and run.ingest.lost() == 40


def test_resume_inside_one_file_supersedes_by_wall_time(tmp_path):
    w = SummaryWriter(tmp_path / "run")
    for s in range(100):
        w.add_scalar("loss", 1.0, s)
    for s in range(60, 150):  # the same writer jumps back: later wall time, earlier step
        w.add_scalar("loss", 0.5, s)
    w.close()
    (run,) = traindx.read(tmp_path / "run")
    assert len(run.get("loss")) == 150
    (p,) = _problems(run, "superseded")
    assert p.count == 40


def _shuffle_records(path, how):
    buf, base, n = tfr.load(path)
    fr = tfr.frame(buf, base, n)
    data = buf[base : base + n].tobytes()
    recs = [
        data[s + 12 : s + 12 + ln]
        for s, ln in zip((fr.starts - base).tolist(), fr.lengths.tolist(), strict=True)
    ]
    head, body = recs[:1], recs[1:]  # the file_version record first
    if how == "reversed":
        body = body[::-1]
    else:
        random.Random(0).shuffle(body)
    path.write_bytes(frame_records(head + body))


@pytest.mark.parametrize("how", ["shuffled", "reversed"])
def test_shuffled_or_reversed_records_keep_every_point(tmp_path, how):
    w = SummaryWriter(tmp_path / "run")
    for s in range(N):
        w.add_scalar("loss", 2.3 - s / N, s)
    w.close()
    (path,) = (tmp_path / "run").glob("events*")
    _shuffle_records(path, how)
    (run,) = traindx.read(tmp_path / "run")
    loss = run.get("loss")
    assert loss.steps.tolist() == list(range(N))
    assert np.allclose(loss.values, 2.3 - np.arange(N) / N, atol=1e-6)
    assert _problems(run, "reordered") and run.ingest.lost() == 0


def test_shuffled_csv_rows_keep_every_point(tmp_path):
    rows = [f"{s},{2.3 - s / N}" for s in range(N)]
    random.Random(1).shuffle(rows)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("step,loss\n" + "\n".join(rows) + "\n")
    (run,) = traindx.read(tmp_path / "run")
    assert run.get("loss").steps.tolist() == list(range(N)) and _problems(run, "reordered")


def test_point_at_the_largest_step_is_kept(tmp_path):
    top = 2**63 - 1
    w = SummaryWriter(tmp_path / "run")
    for s in (0, 1, top):
        w.add_scalar("loss", 1.0 + s % 7, s)
    w.close()
    (run,) = traindx.read(tmp_path / "run")
    assert run.get("loss").steps.tolist() == [0, 1, top]
    o = order_points(np.array([5, top, top]), np.array([1.0, 2.0, 3.0]))
    assert o.steps.tolist() == [5, top] and o.values.tolist() == [1.0, 3.0] and o.superseded == 1


def test_epoch_axis_going_back_is_a_rerun_not_a_counter(tmp_path):
    # Keras CSVLogger(append=True) across two runs of the same script: epochs 0..9 twice.
    rows = [f"{e},{1.0 - e / 20}" for e in range(10)] + [f"{e},{0.5 - e / 40}" for e in range(10)]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "training.csv").write_text("epoch,loss\n" + "\n".join(rows) + "\n")
    (run,) = traindx.read(tmp_path / "run")
    loss = run.get("loss")
    assert len(loss) == 10 and loss.values[0] == 0.5
    (p,) = _problems(run, "superseded")
    assert p.count == 10
