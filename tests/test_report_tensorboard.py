"""`--write-tensorboard`: the diagnosis as a text summary in a NEW event file of the run's
logdir, at the top symptom's onset step, read back by TensorBoard's own EventAccumulator."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import traindx
from traindx.cli import main
from traindx.report.tensorboard import TAG, top_symptom

ROOT = Path(__file__).resolve().parents[1]
FAULTY = ROOT / "fixtures/logs/torch_tb/lr_too_high_mlp_regression_nan"
HEALTHY_CSV = ROOT / "fixtures/logs/jax_csv/healthy_mlp_clean"


def _accumulate(logdir: Path):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = ea.EventAccumulator(str(logdir), size_guidance={ea.TENSORS: 0})
    acc.Reload()
    return acc


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


def test_write_tensorboard_faulty_run(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(FAULTY, run)
    before = _snapshot(run)
    want = traindx.diagnose(run)[0]
    assert main(["diagnose", str(run), "--write-tensorboard"]) == 0
    after = _snapshot(run)
    new = set(after) - set(before)
    assert len(new) == 1 and next(iter(new)).startswith("events.out.tfevents.")
    assert {k: after[k] for k in before} == before  # the user's files untouched, byte for byte
    assert "wrote" in capsys.readouterr().err

    acc = _accumulate(run)
    assert TAG in acc.Tags()["tensors"]
    assert acc.PluginTagToContent("text") == {TAG: b""}
    (ev,) = acc.Tensors(TAG)
    sym = top_symptom(want)
    assert sym is not None and ev.step == sym.onset_step
    text = ev.tensor_proto.string_val[0].decode()
    assert want.symptoms[0].code in text and want.causes[0].id in text
    assert acc.Scalars(acc.Tags()["scalars"][0])  # the user's own scalars still read

    # the diagnosis of the logdir is the same with the text-only file beside the user's
    again = traindx.diagnose(run)[0]
    assert again.verdict == want.verdict and [s.code for s in again.symptoms] == [
        s.code for s in want.symptoms
    ]
    assert [c.id for c in again.causes[:3]] == [c.id for c in want.causes[:3]]


def test_write_tensorboard_twice_never_overwrites(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(HEALTHY_CSV, run)
    want = traindx.diagnose(run)[0]
    assert want.verdict == "healthy"
    assert main(["diagnose", str(run), "--write-tensorboard"]) == 0
    first = _snapshot(run)
    assert main(["diagnose", str(run), "--write-tensorboard"]) == 0
    second = _snapshot(run)
    assert len(second) == len(first) + 1 and {k: second[k] for k in first} == first
    acc = _accumulate(run)
    evs = acc.Tensors(TAG)
    assert len(evs) == 2 and all(e.step == 0 for e in evs)  # healthy: no onset, step 0
    assert "OK" in evs[0].tensor_proto.string_val[0].decode()
    again = traindx.diagnose(run)
    assert len(again) == 1 and again[0].verdict == "healthy"


def test_write_tensorboard_unwritable_target_is_one_clear_error(tmp_path):
    from traindx.errors import TraindxError
    from traindx.report.tensorboard import write_tensorboard

    d = traindx.diagnose(HEALTHY_CSV)[0]
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(
        TraindxError, match="not_a_dir: --write-tensorboard: cannot write an event file"
    ):
        write_tensorboard(d, blocker)


def test_write_tensorboard_runs_from_files_in_one_folder(tmp_path):
    # two CSV logs in one folder: each run read from its file gets its own tag in the folder
    src = ROOT / "fixtures/logs/jax_csv"
    for name in ("healthy_mlp_clean", "lr_too_high_mlp_regression_nan"):
        shutil.copy(src / name / "metrics.csv", tmp_path / f"{name}.csv")
    before = _snapshot(tmp_path)
    assert main(["diagnose", *(str(tmp_path / n) for n in sorted(before)), "--write-tensorboard"]) == 0
    after = _snapshot(tmp_path)
    assert {k: after[k] for k in before} == before and len(after) == len(before) + 2
    tags = _accumulate(tmp_path).Tags()["tensors"]
    assert len(tags) == 2 and all(t.startswith(TAG + "/") for t in tags)
