"""Console logs of the unseen batch fixtures/qa_wild50: ``logging`` lines whose format puts the
names in square brackets (``[epoch]: 3, [batch]: 40, [loss]: 1.17``), JSON lines written by
``json.dumps`` among text lines (a NaN loss printed as ``NaN``, a missing value as ``null``), and
PyTorch's own broadcast warning in a log captured with ``2>&1`` (recorded as the flag the
adapter sets). Each test writes its own log in the layout, never the fixture's numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import traindx
from tests.console_logs import original_names as _keys
from tests.console_logs import parsed_pairs as _pairs
from tests.console_logs import read_lines as _read
from traindx.readers.jsonl import python_dict
from traindx.readers.textwarnings import broadcasts, flags


def test_bracketed_names_of_a_logging_format_are_read(tmp_path: Path) -> None:
    lines = ["2026-01-02 10:00:00,001 - __main__ - INFO - train rows: 900, valid rows: 100"]
    for e in range(6):
        for b in range(3):
            lines.append(f"2026-01-02 10:00:01,{e}{b}0 - __main__ - INFO - [epoch]: {e}, [batch]: {10 * (3 * e + b + 1)}, [loss]: {2.0 - 0.1 * e - 0.01 * b:.4f}")
        lines.append(f"2026-01-02 10:00:02,{e}00 - __main__ - INFO - [epoch]: {e}, [val_loss]: {2.1 - 0.1 * e:.4f}, [val_acc]: {0.3 + 0.05 * e:.4f}")
    run = _read(tmp_path, lines)
    keys = _keys(run)
    assert keys["train/loss"] == "loss" and keys["val/loss"] == "val_loss" and keys["val/accuracy"] == "val_acc"
    loss = run.series[next(k for k in run.series if str(k) == "train/loss")]
    assert len(loss) == 18 and loss.values[0] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[loss]: 0.5, [acc]= 0.75", [{"loss": 0.5, "acc": 0.75}]),
        ("INFO - [val loss]: 0.7", [{"val loss": 0.7}]),
        ("epoch 3 | lr: [0.001] | loss: 0.4", [{"lr": 0.001, "loss": 0.4}]),  # a bracketed value, not a name
    ],
)
def test_a_bracketed_name_before_its_number_is_a_pair(text: str, expected: list[dict]) -> None:
    assert _pairs(text) == expected


def test_a_bracketed_prefix_before_a_word_is_no_name() -> None:
    got = _pairs("[rank0]: step 40 loss 0.41 lr 0.01\n[val] loss=2.3 acc=0.11")
    assert all("rank0" not in k for r in got for k in r)
    assert got[0]["loss"] == pytest.approx(0.41)


def test_json_lines_with_nan_and_null_among_text_lines_are_read(tmp_path: Path) -> None:
    lines = ["Loaded data: 400 rows", "split 320/80"]
    for s in range(1, 13):
        lines.append(json.dumps({"step": 10 * s, "epoch": 1 + s // 4, "loss": 1.2 if s == 1 else float("nan"), "lr": None}))
        if s % 4 == 0:
            lines += [f"eval done after epoch {s // 4}", json.dumps({"epoch": s // 4, "val_loss": float("nan")})]
    assert "NaN" in "\n".join(lines) and "null" in "\n".join(lines)
    run = _read(tmp_path, lines)
    loss = run.series[next(k for k in run.series if str(k) == "train/loss")]
    assert len(loss) == 12 and loss.values[0] == pytest.approx(1.2) and math.isnan(loss.values[-1])
    assert "val/loss" in _keys(run)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"loss": NaN, "step": 3}', {"loss": "nan", "step": 3}),
        ('{"loss": -Infinity}', {"loss": "-inf"}),
        ('{"loss": 0.5, "lr": null, "ok": true}', {"loss": 0.5, "lr": None, "ok": True}),
        ("{'loss': nan, 'epoch': 0.5}", {"loss": "nan", "epoch": 0.5}),  # a printed Python dict still reads
    ],
)
def test_python_dict_reads_json_spellings(line: str, expected: dict) -> None:
    got = python_dict(line)
    assert got is not None and set(got) == set(expected)
    for k, v in expected.items():
        if isinstance(v, str):
            assert str(got[k]).lower() == v
        else:
            assert got[k] == v


def _raschka(rate: float) -> list[str]:
    """Raschka's loop: ``Epoch: 001/020 | Batch 0000/0010 | Cost: ..`` lines and an epoch's MSEs."""
    out = []
    for e in range(1, 21):
        out += [f"Epoch: {e:03d}/020 | Batch {b:04d}/0010 | Cost: {1.0 - rate * e - 0.002 * b:.4f}" for b in (0, 4, 8)]
        out.append(f"Epoch: {e:03d}/020 | Train MSE: {1.0 - rate * e:.3f} | Valid MSE: {1.05 - rate * e:.3f}")
    return out


def test_torch_broadcast_warning_is_the_adapters_flag(tmp_path: Path) -> None:
    warn = ("/home/u/train.py:66: UserWarning: Using a target size (torch.Size([64])) that is different to the input "
            "size (torch.Size([64, 1])). This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.")  # fmt: skip
    lines = [warn, "  loss = F.mse_loss(model(x), y)"] + _raschka(0.001)
    run = _read(tmp_path, lines)
    assert run.context.flags.get("broadcast_in_loss") is True
    d = traindx.diagnose(run)[0]
    assert "CTX006" in {s.code for s in d.symptoms} and d.causes[0].id == "shape_broadcast_bug"


def test_no_warning_no_flag(tmp_path: Path) -> None:
    run = _read(tmp_path, _raschka(0.01))
    assert "broadcast_in_loss" not in run.context.flags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Using a target size (torch.Size([32])) that is different to the input size (torch.Size([32, 1]))", {"broadcast_in_loss": True}),
        ("Using a target size (torch.Size([32, 1])) that is different to the input size (torch.Size([32, 3]))", {"broadcast_in_loss": True}),
        # sizes that cannot broadcast: the call raised, no training followed it
        ("Using a target size (torch.Size([32])) that is different to the input size (torch.Size([16]))", {}),
        ("UserWarning: Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.", {}),
    ],
)
def test_flags_from_warning_text(text: str, expected: dict) -> None:
    assert flags(text) == expected


def test_broadcast_rule() -> None:
    assert broadcasts((32,), (32, 1)) and broadcasts((1, 5), (4, 1)) and not broadcasts((3,), (4,))


def _hf_dicts(steps: int, per_epoch: int, wandb: bool = True) -> list[str]:
    """The HF Trainer's printed dicts (PrinterCallback) every 4 steps, an eval dict every 8, the
    closing summary, then a W&B offline run's history / summary block."""
    lines = []
    for s in range(4, steps + 1, 4):
        loss = 1.39 - 0.6 * (s / steps) ** 2  # still falling fastest at the end
        lines.append(str({"loss": round(loss, 4), "grad_norm": 0.5, "learning_rate": 0.002, "epoch": round(s / per_epoch, 2)}))
        if s % 8 == 0:
            lines.append(str({"eval_loss": round(loss - 0.02, 4), "eval_accuracy": round(0.25 + 0.5 * s / steps, 4), "epoch": round(s / per_epoch, 2)}))
    lines.append(str({"train_runtime": 3.2, "train_loss": 1.2, "epoch": round(steps / per_epoch, 2)}))
    if wandb:
        lines += ["wandb: ", "wandb: Run history:", "wandb:      train/loss █▇▇▅▃▁", "wandb: ", "wandb: Run summary:",
                  "wandb:      train/loss 0.78", f"wandb: train/global_step {steps}", "wandb: Find logs at: ./wandb/offline-run/logs"]  # fmt: skip
    return lines


def test_wandb_console_lines_are_no_corrupt_records(tmp_path: Path) -> None:
    run = _read(tmp_path, _hf_dicts(40, 50))
    assert not [p for p in run.ingest.problems if p.kind == "corrupt"]
    assert len(run.series[next(k for k in run.series if str(k) == "train/loss")]) == 10


def test_a_fractional_epoch_counter_gives_the_epochs_done(tmp_path: Path) -> None:
    run = _read(tmp_path, _hf_dicts(40, 50))
    assert run.context.flags.get("epochs_done") == pytest.approx(0.8)
    (tmp_path / "b").mkdir()
    # a whole-number counter (Lightning's epoch from 0) says nothing of a fraction of a pass
    lines = [f"Epoch {e}: loss={1.0 - 0.05 * e:.3f} val_loss={1.1 - 0.05 * e:.3f}" for e in range(12)]
    assert "epochs_done" not in _read(tmp_path / "b", lines).context.flags


def test_a_run_stopped_within_its_first_epoch_while_learning_is_too_few_epochs(tmp_path: Path) -> None:
    (tmp_path / "short").mkdir()
    (tmp_path / "long").mkdir()
    (short,) = traindx.diagnose(_read(tmp_path / "short", _hf_dicts(40, 50)))
    assert short.verdict == "findings" and short.causes[0].id == "too_few_epochs"
    assert any("before one pass over the training data" in e.says for e in short.causes[0].evidence)
    # the same curve over four epochs: the counter says nothing against the run
    (long_,) = traindx.diagnose(_read(tmp_path / "long", _hf_dicts(200, 50)))
    assert not any("before one pass" in e.says for c in long_.causes for e in c.evidence)


def test_fall_before_nonfinite_is_measured_from_two_values() -> None:
    from traindx.signals.curve import nonfinite_facts

    steps = np.arange(6)
    assert nonfinite_facts(steps, np.array([0.72, 0.26, np.nan, np.nan, np.nan, np.nan]))["fall_before_nonfinite"] == pytest.approx(0.639, abs=1e-3)
    assert nonfinite_facts(steps, np.array([1.4, np.nan, np.nan, np.nan, np.nan, np.nan]))["fall_before_nonfinite"] == 0.0  # one value: no fall
    assert nonfinite_facts(steps, np.array([0.7, 0.6, 0.5, 0.4, 0.3, 0.2]))["fall_before_nonfinite"] == 0.0  # finite throughout


def test_a_loss_that_fell_before_its_nan_points_to_an_unstable_op_even_from_two_values() -> None:
    from traindx.engine import diagnose_run
    from traindx.rules.loader import load_rulebook
    from traindx.rules.model import Case
    from traindx.rules.testing import case_run

    book = load_rulebook().model_copy(update={"learned": False})  # the rules alone

    def margin(loss: str) -> float:
        """numerical_instability's log-odds over nonfinite_in_data's."""
        run = case_run(Case(name="r", series={"loss": loss}, fires=True))
        lo = {c.id: c.log_odds for c in diagnose_run(run, book).causes}
        return lo["numerical_instability"] - lo["nonfinite_in_data"]

    # a Keras bar's running mean, confident before its NaN (log(0)), against no fall before it:
    # the fall is the evidence of an op that overflowed as the model grew confident (x3)
    assert margin("0.72 0.26 nanx60") - margin("0.72 0.70 nanx60") == pytest.approx(math.log(3.0), abs=0.05)

