"""Real-file hygiene: Git LFS pointers, merge-conflict and stray lines, restarts (issue 16)."""

from __future__ import annotations

import json

import pytest
import wild_logs as w

import traindx
from traindx.cli import main
from traindx.errors import ReadError

POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 48213\n"


def _hf_state(path, n=40):
    hist = [
        {"loss": 2.0 * 0.97**i + 0.1, "learning_rate": 5e-5, "epoch": i / 10, "step": 10 * (i + 1)}
        for i in range(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"log_history": hist, "max_steps": 10 * n}))


def test_lfs_pointer_is_skipped_and_the_rest_diagnosed(tmp_path, capsys):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "trainer_state.json").write_text(POINTER)
    _hf_state(tmp_path / "good" / "trainer_state.json")
    w.ultralytics_v8(tmp_path / "yolo" / "results.csv")
    assert main(["diagnose", str(tmp_path), "--json"]) == 0
    runs = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
    assert runs["good"]["verdict"] == "healthy" and runs["yolo"]["verdict"] == "healthy"
    skipped = runs["ckpt"]
    assert skipped["verdict"] == "no_data"
    assert any(
        p["kind"] == "unreadable" and "Git LFS pointer" in p["message"] and "run git lfs pull" in p["message"]
        for p in skipped["ingest"]["problems"]
    )
    main(["diagnose", str(tmp_path)])
    out = " ".join(capsys.readouterr().out.split())
    assert "Git LFS pointer for a 48,213-byte file, not the file itself: run git lfs pull" in out


def test_lfs_pointer_given_alone_is_a_one_line_error(tmp_path, capsys):
    p = tmp_path / "results.csv"
    p.write_text(POINTER)
    with pytest.raises(ReadError, match="Git LFS pointer.*run git lfs pull"):
        traindx.read(p)
    assert main(["diagnose", str(p)]) == 2  # the file given itself: bad input, one line
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "run git lfs pull" in err
    main(["diagnose", str(tmp_path)])  # its directory: a run with no data, saying why
    out = " ".join(capsys.readouterr().out.split())
    assert "no data read" in out and "run git lfs pull" in out


def test_merge_conflict_lines_are_counted_and_both_sides_read(tmp_path):
    p = w.ultralytics_v8(tmp_path / "results.csv", epochs=30)
    lines = p.read_text().splitlines()
    ours, theirs = lines[1:21], lines[11:21]
    p.write_text(
        "\n".join(
            [
                lines[0],
                *ours[:10],
                "<<<<<<< HEAD",
                *ours[10:],
                "=======",
                *theirs,
                ">>>>>>> 1a2b3c4 (more epochs)",
                *lines[21:],
            ]
        )
        + "\n"
    )
    (run,) = traindx.read(p)
    probs = [p.message for p in run.ingest.problems]
    assert any(
        "3 git merge-conflict marker line(s) skipped (lines 12, 23, 34)" in x for x in probs
    ), probs
    assert any("restarted 1 time(s)" in x for x in probs), probs  # theirs repeats epochs 11..20
    assert len(run.get("loss")) == 30


def test_stray_lines_and_repeated_headers(tmp_path):
    rows = [f"{e},{2.3 * 0.9**e:.4f},{2.4 * 0.9**e:.4f}" for e in range(12)]
    text = (
        "epoch,loss,val_loss\n"
        + "\n".join(rows[:6])
        + "\nTraining interrupted by user\nepoch,loss,val_loss\n"
        + "\n".join(rows[6:])
        + "\n"
    )
    p = tmp_path / "log.csv"
    p.write_text(text)
    (run,) = traindx.read(p)
    probs = [p.message for p in run.ingest.problems]
    assert any(":9: the header is repeated 1 time(s)" in x for x in probs), probs
    assert any(":8: 1 stray line(s)" in x and "Training interrupted" in x for x in probs), probs
    assert len(run.get("loss")) == 12 and run.ingest.dropped_records == 0


def test_unreadable_file_next_to_a_good_one(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "broken.jsonl").write_text("{oops\n[1, 2]\n")
    w.timm_summary(tmp_path / "r" / "summary.csv")
    (run,) = traindx.read(tmp_path / "r")
    assert run.get("loss") is not None
    assert any(p.kind == "unreadable" and "broken.jsonl" in p.message for p in run.ingest.problems)


def test_a_per_epoch_step_counter_is_renumbered_not_called_a_restart(tmp_path):
    # step=batch_idx written by hand: the counter goes back to 0 every epoch. That is one
    # continuous run renumbered by the ordering, not a restarted run whose later points
    # replace earlier ones: the two messages must not both be given.
    rows = [f"{b},{2.3 * 0.99 ** (e * 20 + b):.4f}" for e in range(5) for b in range(20)]
    p = tmp_path / "log.csv"
    p.write_text("step,loss\n" + "\n".join(rows) + "\n")
    (run,) = traindx.read(p)
    probs = [x.message for x in run.ingest.problems]
    assert not any("restarted" in x for x in probs), probs
    assert any("per-epoch counter" in x for x in probs), probs
    assert len(run.get("loss")) == 100


def test_a_resumed_run_appended_to_one_file_is_still_a_restart(tmp_path):
    rows = [f"{s},{2.3 * 0.99**s:.4f}" for s in range(30)]
    resumed = [f"{s},{2.0 * 0.99**s:.4f}" for s in range(20, 50)]
    p = tmp_path / "log.csv"
    p.write_text("step,loss\n" + "\n".join(rows + resumed) + "\n")
    (run,) = traindx.read(p)
    probs = [x.message for x in run.ingest.problems]
    assert any("restarted 1 time(s)" in x and "went back from 29 to 20" in x for x in probs), probs
    assert len(run.get("loss")) == 50
