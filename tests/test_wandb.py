"""W&B offline runs written by wandb itself, read through the SDK's own log reader (readers/wandb_log.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import traindx
from traindx.errors import ReadError

pytest.importorskip("wandb")
pytestmark = pytest.mark.slow  # wandb writes the runs in a child process (~10 s)

from tracker_runs import make_wandb_runs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wandb_dir(tmp_path_factory) -> Path:
    return make_wandb_runs(tmp_path_factory.mktemp("wb"))


def _log_file(wandb_dir: Path, name: str) -> Path:
    return next(p for p in wandb_dir.glob("offline-run-*/run-*.wandb") if name in traindx.read(p)[0].id)


def test_offline_runs(wandb_dir):
    skipped = []
    runs = {r.id: r for r in traindx.read(wandb_dir, skipped=skipped)}
    assert sorted(runs) == ["digits/healthy", "digits/lr-2"] and skipped == []
    run = runs["digits/healthy"]
    assert sorted(run.series) == ["train/loss", "val/accuracy", "val/loss"]
    assert run.get("loss").steps.tolist() == list(range(40))
    assert run.get("loss").values[-1] < run.get("loss").values[0]
    assert run.context.hyperparameters == {"lr": 0.5, "batch_size": 1400, "optimizer.name": "sgd", "optimizer.momentum": 0.0}
    assert run.context.optimizer.lr == 0.5 and runs["digits/lr-2"].context.optimizer.lr == 2.0
    (p,) = [p for p in run.ingest.problems if p.kind == "skipped"]
    assert "weights" in p.message and "not numbers" in p.message


def test_project_folder_and_synced_layout(wandb_dir, tmp_path):
    proj = tmp_path / "proj"
    shutil.copytree(wandb_dir, proj / "wandb", symlinks=True)
    offline = next((proj / "wandb").glob("offline-run-*"))
    offline.rename(offline.with_name(offline.name.replace("offline-run-", "run-")))  # as a synced run lies
    (proj / "metrics.csv").write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(12)))
    skipped = []
    runs = traindx.read(proj, skipped=skipped)
    assert sorted(r.id for r in runs) == ["proj", "wandb/digits/healthy", "wandb/digits/lr-2"]
    assert skipped == []  # W&B's own debug logs and files/ folders are not runs


def test_damaged_log_keeps_what_came_before(wandb_dir, tmp_path):
    src = _log_file(wandb_dir, "healthy")
    data = bytearray(src.read_bytes())
    heads = _fragment_headers(bytes(data))
    cut = tmp_path / "truncated" / src.name
    cut.parent.mkdir()
    # a run still being written: the file ends inside a record (at a record boundary nothing
    # shows that more is coming; 0.7 % of the cuts at len/2 fell on one)
    cut.write_bytes(data[: next(h for h in heads if h > len(data) // 2) + 9])
    (run,) = traindx.read(cut)
    assert [p.kind for p in run.ingest.problems if p.kind in ("incomplete", "corrupt")] == ["incomplete"]
    assert 0 < len(run.get("loss")) < 40
    bad = tmp_path / "flipped" / src.name
    bad.parent.mkdir()
    mid = next(h for h in heads if h > len(data) // 3)
    # a flipped byte anywhere is damage, never "still being written": in a fragment's data, its
    # checksum, its length (the read then runs to the end of the file, as a cut file's does),
    # its type, and in the last fragment, which ends where the file ends (CI flaked on these)
    for at in (mid + 3, mid + 5, mid + 6, mid + 9, len(data) // 3, heads[-1] + 9, len(data) - 1):
        flipped = bytearray(data)
        flipped[at] ^= 0xFF
        bad.write_bytes(flipped)
        (run,) = traindx.read(bad)
        problems = [p for p in run.ingest.problems if p.kind in ("incomplete", "corrupt")]
        assert [p.kind for p in problems] == ["corrupt"], at
        assert problems[0].count == 1 and "record" in problems[0].message and str(bad) in problems[0].message
        if at < heads[-1]:
            assert 0 < len(run.get("loss")) < 40


def _fragment_headers(data: bytes) -> list[int]:
    """Where each LevelDB log fragment's 7-byte header starts (32 KiB blocks, zero padding)."""
    at, heads = 7, []
    while at + 7 <= len(data):
        if 32768 - at % 32768 < 7:
            at += 32768 - at % 32768
            continue
        heads.append(at)
        at += 7 + int.from_bytes(data[at + 4 : at + 6], "little")
    assert at == len(data), "the framing walk did not end at the end of the file"
    return heads


def test_not_a_wandb_log(tmp_path):
    f = tmp_path / "run-x.wandb"
    f.write_bytes(b"not a log at all")
    with pytest.raises(ReadError, match="not a W&B transaction log"):
        traindx.read(f)


def test_without_the_sdk_the_run_is_skipped_naming_the_extra(wandb_dir, tmp_path):
    shutil.copytree(wandb_dir, tmp_path / "wandb", symlinks=True)
    (tmp_path / "metrics.csv").write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(12)))
    blocked = "import sys; sys.modules['wandb'] = None; from traindx.cli import main; sys.exit(main(sys.argv[1:]))"
    out = subprocess.run(
        [sys.executable, "-c", blocked, "diagnose", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode in (0, 1), out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "offline-run-" in ln]
    assert len(lines) == 2 and all("pip install 'traindx[wandb]'" in ln for ln in lines)
    out = subprocess.run(
        [sys.executable, "-c", blocked, "diagnose", str(tmp_path / "wandb")], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 2 and "traindx[wandb]" in out.stderr


def test_cli_diagnoses_the_wandb_folder_with_one_command(wandb_dir):
    out = subprocess.run(
        [sys.executable, "-m", "traindx.cli", "diagnose", str(wandb_dir)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode in (0, 1), out.stderr
    assert "digits/healthy" in out.stdout and "digits/lr-2" in out.stdout
