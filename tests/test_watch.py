"""``traindx watch`` against a real writer process (tensorboardX and a CSV logger writing
while the watch follows), and the CLI's exits: --exit-on, --duration, Ctrl-C, no logs."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from traindx.cli import main
from traindx.rules.loader import load_rulebook
from traindx.watch import Watch

ROOT = Path(__file__).resolve().parent.parent
WRITER = Path(__file__).resolve().parent / "watch_writer.py"


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=400, soft_wrap=True, highlight=False), buf


def _until(cond, what: str, proc: subprocess.Popen, limit: float = 90.0) -> None:
    end = time.monotonic() + limit
    while not cond():
        if proc.poll() not in (None, 0):
            pytest.fail(f"writer exited {proc.returncode}: {proc.stderr.read()}")
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.tensorboardx
def test_watch_follows_a_writer_process(tmp_path):
    pytest.importorskip("tensorboardX")
    out, out_buf = _console()
    err, err_buf = _console()
    watch = Watch(tmp_path, load_rulebook([]), out, err, interval=0.1, exit_on="error")
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(tmp_path)], stderr=subprocess.PIPE, text=True
    )
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(watch.run(duration=120)), daemon=True)
    thread.start()
    try:
        judged = lambda rid, *v: rid in watch.diagnoses and watch.diagnoses[rid].verdict in v  # noqa: E731
        # 1. the falling loss, judged before anything bad is written
        _until(lambda: judged("tb", "healthy") and not writer.poll(), "tb healthy", writer)
        (tmp_path / ".go1").touch()
        # 2. a CSV run appears (all its rows read), is truncated and rewritten: read again, counted
        csv_rows = lambda: max(  # noqa: E731
            (len(t.rows) for p, t in list(watch.follower.tails.items()) if p.name == "metrics.csv"),
            default=0,
        )
        _until(lambda: csv_rows() == 12, "the CSV's 12 rows read", writer)
        (tmp_path / ".go_trunc").touch()
        _until(lambda: "input (truncated)" in out_buf.getvalue(), "the truncation said", writer)
        (tmp_path / ".go2").touch()
        # 3. a new event file where the loss explodes: --exit-on error stops the watch
        thread.join(120)
    finally:
        (tmp_path / ".go1").touch()
        (tmp_path / ".go_trunc").touch()
        (tmp_path / ".go2").touch()
        writer.communicate(timeout=60)
    assert result == [1], (out_buf.getvalue(), err_buf.getvalue())
    lines = out_buf.getvalue().splitlines()
    tb = [ln.split("  ", 1)[1] for ln in lines if " tb @" in ln]
    verdicts = [
        ln.split(":")[0]
        for ln in tb
        if ln.split(":")[0] in ("healthy", "findings", "insufficient_data")
    ]
    # judged healthy while the loss fell, then findings once it exploded (a partial read
    # early on may be judged either way: only the order around the explosion is fixed)
    assert verdicts[-1] == "findings"
    last = len(verdicts) - 1 - verdicts[::-1].index("healthy")
    assert "findings" in verdicts[last:]
    assert any(ln.startswith("ERROR LOSS") for ln in tb)
    assert sum(ln.startswith("likely cause") for ln in tb) >= 1
    # each symptom and leading cause said once
    said = [
        ln.split(" (from")[0]
        for ln in tb
        if ln.startswith(("ERROR", "WARNING", "INFO", "likely cause"))
    ]
    assert said and len(said) == len(set(said))
    csv = [ln for ln in lines if " csv_run" in ln]
    assert any("input (truncated)" in ln and "metrics.csv" in ln for ln in csv)
    # both event files (the rotation) followed, each read once (not again on every round)
    events = {p: t for p, t in watch.follower.tails.items() if "tfevents" in p.name}
    assert len(events) == 2 and watch.rounds >= 4
    for path, tail in events.items():
        size = path.stat().st_size  # the watch may have stopped before the writer did
        assert 0 < tail.offset <= size and tail.bytes_read < 2 * size


def test_exit_on_and_duration(capsys):
    run = str(ROOT / "fixtures/logs/torch_tb/lr_too_high_mlp_regression_nan")
    assert main(["watch", run, "--interval", "0.1", "--exit-on", "error"]) == 1
    out = capsys.readouterr().out
    assert "ERROR LOSS001" in out and "likely cause" in out
    healthy = str(ROOT / "fixtures/logs/torch_tb/healthy_mlp_clean")
    assert (
        main(["watch", healthy, "--interval", "0.1", "--duration", "0.3", "--exit-on", "warning"])
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out.count("healthy:") == 1  # said once, not every round
    assert "healthy_mlp_clean: healthy" in captured.err  # the summary at the end


def test_missing_logdir_is_waited_for_then_exit_2(tmp_path, capsys):
    assert main(["watch", str(tmp_path / "not_yet"), "--interval", "0.1", "--duration", "0.3"]) == 2
    err = capsys.readouterr().err
    assert err.count("waiting:") == 1 and "not_yet" in err and "no logs appeared" in err
    assert main(["watch", str(tmp_path), "--interval", "0"]) == 2
    assert "--interval" in capsys.readouterr().err


def test_ctrl_c_stops_cleanly(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text(
        "step,loss\n" + "".join(f"{i},{2.3 * 0.9**i}\n" for i in range(40))
    )
    # faulthandler: a watch that does not stop is made to print where it is (below)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"}
    # a terminal's Ctrl-C: the test may run where SIGINT is ignored (a background job of a
    # non-interactive shell), which a child inherits, and then Python raises no
    # KeyboardInterrupt at all (the watch slept on in `run`, its stacks showed). The child
    # restores Python's own handler first; not with preexec_fn, which makes subprocess fork
    # a process that has imported JAX (JAX warns at fork, and CI turned that into a failure)
    start = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = ['traindx'] + sys.argv[1:]; runpy.run_module('traindx.cli', run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", start, "watch", str(run), "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()  # the first verdict: the watch is running
        assert "run" in first, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # say where it hung
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"watch still running 60 s after Ctrl-C; its stacks:\n{err[-4000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped (Ctrl-C)" in err and "Traceback" not in err


def test_rediagnosis_only_on_new_data_and_rate_limited(tmp_path):
    """An unchanged tree is not re-read; a diagnosis that takes long spaces the next one out
    to twice its duration; new rows are read from where the last read stopped."""
    run = tmp_path / "run"
    run.mkdir()
    log = run / "log.csv"
    log.write_text("step,loss\n" + "".join(f"{i},{2.3 * 0.97**i}\n" for i in range(40)))
    now = [0.0]
    naps: list[float] = []
    out, buf = _console()
    err, _ = _console()
    watch = Watch(run, load_rulebook([]), out, err, interval=0.5, clock=lambda: now[0])

    def sleep(s: float) -> None:
        naps.append(s)
        now[0] += s
        if len(naps) == 3:  # the run logs more rows while the watch sleeps
            with open(log, "a") as f:
                f.write("".join(f"{i},{2.3 * 0.97**i}\n" for i in range(40, 80)))

    assert watch.run(duration=3.0, sleep=sleep) == 0
    assert watch.rounds == 2  # the first look, and once after the rows were appended
    assert naps[0] == 0.5
    tail = watch.follower.tails[log]
    assert tail.offset == log.stat().st_size and tail.bytes_read == log.stat().st_size
    # a slow diagnosis: the next look waits twice as long as it took
    slow = Watch(run, load_rulebook([]), out, err, interval=0.5, clock=lambda: now[0])
    real_step = slow.step

    def costly_step() -> bool:
        stop = real_step()
        slow._cost = 4.0  # as if the diagnosis had taken 4 s
        return stop

    slow.step = costly_step  # type: ignore[method-assign]
    naps.clear()
    slow.run(duration=20.0, sleep=lambda s: (naps.append(s), now.__setitem__(0, now[0] + s)))
    assert naps[0] == 8.0
