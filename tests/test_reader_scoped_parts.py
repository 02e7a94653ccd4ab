"""Issue 10 (qa_fresh39): timestamped ``logging`` lines ``train loss=.. acc=.. | val loss=..
acc=..`` gave the second ``acc=`` to training (the validation accuracy lost, the training one
overwritten) and, without an epoch marker, were read per step though each line is one
evaluation."""

from __future__ import annotations

import traindx

LINES = [
    "2026-12-06 10:00:0{i},100 INFO {ep}train loss={tl} acc={ta} | val loss={vl} acc={va}",
]


def _write(tmp_path, name, epoch_word):
    rows = [(2.0, 0.3, 1.9, 0.35), (1.5, 0.5, 1.6, 0.45), (1.2, 0.6, 1.4, 0.5)]
    text = "\n".join(
        LINES[0].format(i=i, ep=f"epoch {i + 1} " if epoch_word else "", tl=tl, ta=ta, vl=vl, va=va)
        for i, (tl, ta, vl, va) in enumerate(rows)
    )
    p = tmp_path / name
    p.write_text(text + "\n")
    (run,) = traindx.read(p)
    return {str(k): s for k, s in run.series.items()}


def test_a_part_led_by_its_split_scopes_its_names(tmp_path):
    for epoch_word in (True, False):
        s = _write(tmp_path, f"train_{epoch_word}.log", epoch_word)
        assert list(s["val/accuracy"].values) == [0.35, 0.45, 0.5]
        assert list(s["train/accuracy"].values) == [0.3, 0.5, 0.6]
        assert all(x.unit == "epoch" for x in s.values())


def test_lines_without_validation_stay_steps(tmp_path):
    p = tmp_path / "steps.log"
    p.write_text("\n".join(f"INFO train loss={2 - i / 10} acc={i / 10}" for i in range(5)) + "\n")
    (run,) = traindx.read(p)
    assert {s.unit for s in run.series.values()} == {"step"}
