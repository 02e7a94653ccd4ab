"""The third verdict: "healthy" needs evidence; otherwise "insufficient data" says what is missing."""

from __future__ import annotations

import json

import traindx
from traindx.cli import main


def _hf(path, history, **state):
    path.mkdir(parents=True, exist_ok=True)
    (path / "trainer_state.json").write_text(json.dumps({"log_history": history, **state}))


def test_one_logged_point_is_insufficient_data(tmp_path, capsys):
    _hf(tmp_path / "r", [{"train_loss": 0.61, "epoch": 3.0, "step": 120, "train_runtime": 30.0}])
    (d,) = traindx.diagnose(tmp_path / "r")
    assert d.verdict == "insufficient_data" and not d.healthy
    assert "only 1 logged point" in d.headline and "train_loss" in d.headline
    assert main(["diagnose", str(tmp_path / "r"), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["verdict"] == "insufficient_data" and run["healthy"] is False
    assert run["missing"] and "10 points" in run["missing"][0]
    main(["diagnose", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert out.startswith("?? r") and "insufficient data" in out


def test_absurd_value_is_a_finding_from_one_point(tmp_path, capsys):
    _hf(tmp_path / "r", [{"train_loss": 177371128639.07, "epoch": 1.0, "step": 50}])
    (d,) = traindx.diagnose(tmp_path / "r")
    assert d.verdict == "findings"
    assert [s.code for s in d.symptoms] == ["LOSS014"]
    assert main(["diagnose", str(tmp_path / "r"), "--fail-on", "error"]) == 1


def test_healthy_needs_a_curve(tmp_path):
    lines = ["step,loss,lr"] + [f"{i},{2.3 * 0.95**i:.4f},0.001" for i in range(40)]
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "m.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "lr_only").mkdir()
    (tmp_path / "lr_only" / "m.csv").write_text(
        "step,lr\n" + "".join(f"{i},0.001\n" for i in range(40))
    )
    rep = traindx.diagnose(tmp_path)
    by = {d.run_id: d for d in rep}
    assert by["ok"].verdict == "healthy" and by["ok"].healthy and by["ok"].missing == []
    assert by["lr_only"].verdict == "insufficient_data"
    assert "no loss-like series" in by["lr_only"].headline
    text = traindx.render_text(rep)
    assert "2 runs: 1 healthy, 0 with findings, 1 with insufficient data" in text


def test_five_epochs_are_enough(tmp_path):
    lines = ["epoch,loss,val_loss"] + [
        # a converged curve: one still falling 30 % per epoch at the end is cut short (LOSS007)
        f"{e},{0.3 + 2.0 * 0.3**e:.4f},{0.35 + 2.0 * 0.32**e:.4f}" for e in range(5)
    ]
    p = tmp_path / "log.csv"
    p.write_text("\n".join(lines) + "\n")
    assert traindx.diagnose(p)[0].verdict == "healthy"
