"""The CLI never crashes on bad input, and its exit codes mean one thing each (issue 9).

0 done, 1 findings at --fail-on, 2 bad input or usage, 3 internal error. One bad file or
run never aborts the others; what was skipped is reported; an empty run says "no data yet".
"""

from __future__ import annotations

import json
import os

import pytest

from traindx.cli import main

GOOD = "step,loss\n" + "".join(f"{i},{2.3 * 0.97**i:.4f}\n" for i in range(60))


def _run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _good(d):
    d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.csv").write_text(GOOD)


@pytest.mark.parametrize(
    "name, data",
    [
        ("huge_cell.csv", "step,loss\n1,0.5\n2," + "9" * 200_000 + "\n3,0.4\n"),
        (
            "nested.jsonl",
            '{"step": 1, "loss": 0.5}\n' + "[" * 100_000 + "\n" + '{"step": 2, "loss": 0.4}\n',
        ),
        ("deep_obj.jsonl", '{"step": 1, "loss": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}\n"),
        ("bigint.jsonl", '{"step": 1, "loss": ' + "9" * 400 + '}\n{"step": 2, "loss": 0.4}\n'),
        ("bigstep.jsonl", '{"step": ' + str(2**64) + ', "loss": 0.5}\n{"step": 2, "loss": 0.4}\n'),
        ("bigstep.csv", "step,loss\n1,0.5\n" + str(2**63) + ",0.4\n3,0.3\n"),
        ("surrogate.jsonl", '{"step": 1, "\\ud800loss": 0.5, "loss": 0.5}\n'),
        ("trainer_state.json", '{"log_history": ' + "[" * 100_000 + "]}"),
    ],
)
def test_hostile_files_never_crash(tmp_path, capsys, name, data):
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_text(data, encoding="utf-8", errors="surrogatepass")
    for argv in (["diagnose", str(run)], ["diagnose", str(run), "--json"], ["series", str(run)]):
        code, out, err = _run(argv, capsys)
        assert code in (0, 2), (argv, code, err)
        assert "Traceback" not in err and "internal error" not in err
        if "--json" in argv and code == 0:
            json.loads(out)


def test_non_utf8_directory_name_and_control_characters(tmp_path, capsys):
    root = os.fsencode(tmp_path) + b"/r\xff\x1b[31mun"
    os.mkdir(root)
    with open(root + b"/metrics.csv", "w") as f:
        f.write(GOOD)
    code, out, err = _run(["diagnose", str(tmp_path), "--json"], capsys)
    assert code == 0, err
    (r,) = json.loads(out)["runs"]
    assert "\\xff" in r["run_id"]
    code, out, err = _run(["diagnose", str(tmp_path)], capsys)
    assert code == 0 and "\x1b" not in out and "\\x1b" in out


def test_path_over_path_max_is_bad_input(tmp_path, capsys):
    code, out, err = _run(["diagnose", str(tmp_path / ("a" * 300) / ("b" * 5000))], capsys)
    assert code == 2 and err.startswith("traindx: error:") and "Traceback" not in err


def test_one_bad_path_does_not_abort_the_others(tmp_path, capsys):
    _good(tmp_path / "ok")
    code, out, err = _run(
        ["diagnose", str(tmp_path / "missing"), str(tmp_path / "ok"), "--json"], capsys
    )
    assert code == 2 and "missing" in err
    doc = json.loads(out)
    assert [r["run_id"] for r in doc["runs"]] == ["ok"]
    assert doc["errors"][0]["path"].endswith("missing")


def test_unreadable_file_and_unlistable_directory_are_reported_not_fatal(
    tmp_path, capsys, monkeypatch
):
    _good(tmp_path / "a")
    ev = tmp_path / "a" / "events.out.tfevents.1.host"
    ev.write_bytes(b"x" * 64)
    (tmp_path / "locked").mkdir()
    _good(tmp_path / "locked" / "inner")
    if os.geteuid() == 0:  # root reads whatever the mode: make the OS calls fail instead
        import builtins

        real_open, real_scandir = builtins.open, os.scandir

        def fake_open(file, *args, **kwargs):
            if str(file) == str(ev):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        def scandir(path="."):
            if os.fspath(path) == str(tmp_path / "locked"):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_scandir(path)

        monkeypatch.setattr(builtins, "open", fake_open)  # (the event reader opens it)
        monkeypatch.setattr(os, "scandir", scandir)
    ev.chmod(0)
    (tmp_path / "locked").chmod(0)
    try:
        code, out, err = _run(["diagnose", str(tmp_path), "--json"], capsys)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert code == 0, err
    doc = json.loads(out)
    (run,) = doc["runs"]
    (p,) = [p for p in run["ingest"]["problems"] if p["kind"] == "unreadable"]
    assert p["file"] == str(ev) and "Permission denied" in p["message"]
    assert [s["path"] for s in doc["skipped"]] == [str(tmp_path / "locked")]


def test_corrupt_event_file_does_not_abort_the_run(tmp_path, capsys):
    _good(tmp_path / "a")
    (tmp_path / "a" / "events.out.tfevents.1.host").write_bytes(b"\x00garbage" * 8)
    code, out, err = _run(["diagnose", str(tmp_path), "--json"], capsys)
    assert code == 0, err
    (run,) = json.loads(out)["runs"]
    (p,) = [p for p in run["ingest"]["problems"] if p["kind"] == "unreadable"]
    assert "tfevents" in p["file"] and run["verdict"] in ("healthy", "findings")


def test_header_only_csv_is_no_data_yet_beside_other_runs(tmp_path, capsys):
    _good(tmp_path / "done")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "metrics.csv").write_text("epoch,loss,val_loss\n")
    code, out, err = _run(["diagnose", str(tmp_path)], capsys)
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if " new " in ln)
    assert "no data yet" in line and "healthy" not in line and not line.startswith("OK")
    code, out, err = _run(["diagnose", str(tmp_path / "new"), "--json"], capsys)
    (r,) = json.loads(out)["runs"]
    assert code == 0 and r["verdict"] == "no_data" and r["healthy"] is False


def test_folders_in_unsupported_formats_are_listed(tmp_path, capsys):
    _good(tmp_path / "ok")
    (tmp_path / "wandb" / "run-1").mkdir(parents=True)
    (tmp_path / "wandb" / "run-1" / "run-1.wandb").write_bytes(b"\x00" * 10)
    (tmp_path / "stats.csv").write_text("name,address\nBob,Main St\n")
    code, out, err = _run(["diagnose", str(tmp_path), "--json"], capsys)
    doc = json.loads(out)
    reasons = {os.path.basename(s["path"]): s["reason"] for s in doc["skipped"]}
    assert "Weights & Biases" in reasons["run-1"] and "no column name" in reasons["stats.csv"]
    code, out, err = _run(["diagnose", str(tmp_path)], capsys)
    assert "not read: 2" in out and "run-1" in out


def test_internal_error_exits_3_in_one_line(tmp_path, capsys, monkeypatch):
    _good(tmp_path / "a")
    import traindx.engine

    def boom(*a, **k):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(traindx.engine, "diagnose_run", boom)
    code, out, err = _run(["diagnose", str(tmp_path), "--fail-on", "warning"], capsys)
    assert code == 3 and err.count("\n") == 1 and "internal error" in err and "Traceback" not in err
    code, out, err = _run(["diagnose", str(tmp_path), "-v"], capsys)
    assert code == 3 and "Traceback" in err


def test_usage_error_is_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["diagnose"])
    assert e.value.code == 2


@pytest.mark.parametrize("command", ["diagnose", "series"])
def test_markup_in_names_is_printed_not_interpreted(tmp_path, capsys, command):
    _good(tmp_path / "[/bold]run")
    (tmp_path / "[/bold]run" / "[red]x.csv").write_text(GOOD)
    code, out, err = _run([command, str(tmp_path)], capsys)
    assert code == 0, err
    assert "[/bold]run" in out
