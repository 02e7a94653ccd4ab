"""Console logs of the unseen batch fixtures/qa_wild48: Python logging's default
``LEVEL:logger:`` prefix before tf.estimator's ``loss = 2.14, step = 100 (0.28 sec)`` lines and
its ``Saving dict for global step 200: accuracy = ..`` evaluation, a marker before a name
(``  >> Val Loss: 0.61``), a YAML-like block per epoch (``val:`` then its indented pairs) and a
dict printed over several lines (``pprint``, ``json.dumps(indent=2)``), nested by split. Each
test writes its own log in the layout, never the fixture's numbers."""

from __future__ import annotations

import json
import pprint
from pathlib import Path

import pytest

from tests.console_logs import original_names as _keys
from tests.console_logs import parsed_pairs as _pairs
from tests.console_logs import read_lines as _read
from traindx.readers.textlines import join_printed_dicts


def test_tf_estimator_lines_are_training_steps_and_its_saved_dict_the_evaluation(tmp_path: Path) -> None:
    lines = ["INFO:tensorflow:Calling model_fn."]
    for s in range(0, 1100, 100):
        lines += [f"INFO:tensorflow:loss = {2.3 - s / 1000:.4f}, step = {s} (0.07 sec)", "INFO:tensorflow:global_step/sec: 1400"]
        if s and s % 200 == 0:
            lines.append(f"INFO:tensorflow:Saving dict for global step {s}: accuracy = {0.4 + s / 4000:.4f}, global_step = {s}, loss = {2.2 - s / 1000:.4f}")
    run = _read(tmp_path, lines)
    assert _keys(run) == {"train/loss": "loss", "val/loss": "eval loss", "val/accuracy": "eval accuracy"}
    loss = run.series[next(k for k in run.series if str(k) == "train/loss")]
    assert len(loss) == 11 and list(loss.steps[:3]) == [0, 100, 200]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INFO:root:epoch 3 loss 0.5", [{"loss": 0.5}]),  # logging.basicConfig's format
        ("WARNING:__main__:val_loss: 0.7", [{"val_loss": 0.7}]),
        ("INFO:loss: 0.5", [{"loss": 0.5}]),  # a name followed by its number is no logger's
    ],
)
def test_a_logger_name_after_the_level_is_no_metric(text: str, expected: list[dict]) -> None:
    assert _pairs(text) == expected


@pytest.mark.parametrize("mark", [">>", ">", "*", "\u2022", "\u00bb"])
def test_a_marker_before_a_name_keeps_the_pair(mark: str) -> None:
    text = f"Epoch 010 | Loss: 1.3497 | Acc: 90.00%\n  {mark} Val Loss: 1.6354 | Val Acc: 74.00%"
    assert _pairs(text) == [{"Loss": 1.3497, "Acc": 0.9, "Val Loss": 1.6354, "Val Acc": 0.74}]


def test_a_yaml_like_block_gives_its_split_to_every_line_indented_under_it(tmp_path: Path) -> None:
    lines = []
    for e in range(12):
        lines += [f"epoch: {e}", "  train:", f"    loss: {0.6 / (e + 1):.4f}", f"    acc: {0.7 + e / 50:.4f}",
                  "  val:", f"    loss: {0.5 + e / 100:.4f}", f"    acc: {0.75 + e / 200:.4f}"]  # fmt: skip
    assert _keys(_read(tmp_path, lines)) == {"train/loss": "train loss", "train/accuracy": "train acc",
                                             "val/loss": "val loss", "val/accuracy": "val acc"}  # fmt: skip


def test_a_split_header_still_gives_only_the_next_line_at_its_own_indent() -> None:
    text = "Test Error:\n Accuracy: 62.1%, Avg loss: 1.1\n\nEpoch 2\nloss: 0.9\nloss: 0.8"
    got = _pairs(text)
    assert got[0] == {"test Accuracy": 0.621, "test Avg loss": 1.1} and got[1:] == [{"loss": 0.9}, {"loss": 0.8}]


@pytest.mark.parametrize("dump", ["pprint", "json"])
def test_a_dict_printed_over_several_lines_is_read_with_its_nested_splits(tmp_path: Path, dump: str) -> None:
    lines: list[str] = []
    for s in range(1, 25):
        logs = {"epoch": s / 8, "step": 10 * s, "train": {"grad_norm": 0.2 + s / 100, "learning_rate": 0.01 - s / 10000, "loss": 0.7 - s / 100}}
        evals = {"epoch": s / 8, "eval": {"accuracy": 0.5 + s / 100, "loss": 0.69 - s / 200, "runtime": 0.0163}}
        for d in [logs] + ([evals] if s % 8 == 0 else []):
            lines += (pprint.pformat(d, width=40) if dump == "pprint" else json.dumps(d, indent=2)).split("\n")
    assert _keys(_read(tmp_path, lines)) == {
        "train/loss": "train/loss", "train/grad_norm": "train/grad_norm", "train/lr": "train/learning_rate",
        "val/loss": "eval/loss", "val/accuracy": "eval/accuracy",
    }  # fmt: skip


def test_joined_dicts_keep_the_files_line_numbers() -> None:
    text = "start\n{'a': 1,\n 'b': {'c': 2}}\nend\n{'unclosed': 1,"
    out = join_printed_dicts(text).split("\n")
    assert out == ["start", "{'a': 1, 'b': {'c': 2}}", "", "end", "{'unclosed': 1,"]
