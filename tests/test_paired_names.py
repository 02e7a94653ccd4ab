"""A hand loop's ``tl``/``vl`` pair (train and validation loss) is read only as a pair in one
file: alone, ``vl`` is ambiguous (``vl_loss`` is a value loss in RL code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from traindx.api import read
from traindx.errors import ReadError
from traindx.names import explain_mapping, map_name, paired_names


def test_the_pair_maps_and_either_alone_does_not() -> None:
    assert paired_names(["epoch", "tl", "vl"]) == {"tl": "train/loss", "vl": "val/loss"}
    assert paired_names(["epoch", " TL ", "VL"]) == {" TL ": "train/loss", "VL": "val/loss"}
    assert paired_names(["epoch", "vl"]) == {}
    assert paired_names(["tl", "vl_loss"]) == {}
    assert map_name("vl") is None and map_name("tl") is None


def test_a_csv_with_the_pair_reads_train_and_val_loss(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.0 / (e + 1):.4f},{1.2 / (e + 1):.4f}" for e in range(8))
    (tmp_path / "log.csv").write_text("epoch,tl,vl\n" + rows + "\n")
    run = read(tmp_path)[0]
    assert sorted(str(k) for k in run.series) == ["train/loss", "val/loss"]
    assert run.series["val/loss"].original_name == "vl"


def test_a_printed_log_with_the_pair_is_read(tmp_path: Path) -> None:
    lines = [f"epoch {e} tl {1.0 / e:.4f} vl {1.3 / e:.4f}" for e in range(1, 11)]
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    run = read(tmp_path)[0]
    assert sorted(str(k) for k in run.series) == ["train/loss", "val/loss"]


def test_vl_alone_is_not_read_as_validation_loss(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text("epoch,vl\n0,1.0\n1,0.9\n2,0.8\n3,0.7\n")
    with pytest.raises(ReadError):
        read(tmp_path)


def test_a_user_map_wins_over_the_pair(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.0 / (e + 1):.4f},{1.2 / (e + 1):.4f}" for e in range(8))
    (tmp_path / "log.csv").write_text("epoch,tl,vl\n" + rows + "\n")
    run = read(tmp_path, overrides={"vl": "test/loss"})[0]
    assert sorted(str(k) for k in run.series) == ["test/loss", "train/loss"]


# A split letter before each name (``t_loss``/``v_loss``, issue 15): read where the file's names
# show the habit. Alone, ``v_loss`` is as often an RL value loss (beside ``p_loss``, ``pi_loss``,
# ``q1_loss``: public code, tests/data/wild_metric_names.tsv), and stays a metric of its own.
@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["epoch", "t_loss", "v_loss"], {"t_loss": "train/loss", "v_loss": "val/loss"}),
        (["loss", "v_loss"], {"v_loss": "val/loss"}),  # beside a training loss
        (["V_Loss", "v_acc"], {"V_Loss": "val/loss", "v_acc": "val/accuracy"}),  # v_ before a non-loss
        (["train_loss", "v_loss_step"], {"v_loss_step": "val/loss:step"}),
        (["v_loss"], {}),
        (["R_max", "v_loss"], {}),
        (["loss", "v_loss", "pi_loss"], {}),  # PPO: value and policy losses
        (["gen", "p_loss", "v_loss"], {}),  # AlphaZero
        (["q1_loss", "q2_loss", "v_loss", "alpha_loss"], {}),  # SAC
        (["loss", "v_num"], {}),  # Lightning's version number: no metric after the letter
        (["loss", "t_sne"], {}),
    ],
)
def test_split_letters_are_read_from_the_file_s_names(names: list[str], expected: dict[str, str]) -> None:
    assert paired_names(names) == expected
    assert str(map_name("v_loss")) == "train/v_loss"  # alone: no split said


def test_a_csv_with_split_letters_reads_train_and_val(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.0 / (e + 1):.4f},{1.2 / (e + 1):.4f},{0.5 + e / 40:.3f}" for e in range(8))
    (tmp_path / "log.csv").write_text("epoch,t_loss,v_loss,v_acc\n" + rows + "\n")
    run = read(tmp_path)[0]
    assert sorted(str(k) for k in run.series) == ["train/loss", "val/accuracy", "val/loss"]


def test_an_rl_log_keeps_its_value_loss(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.0 / (e + 1):.4f},{1.2 / (e + 1):.4f},{2.0 / (e + 1):.4f}" for e in range(8))
    (tmp_path / "log.csv").write_text("step,loss,pi_loss,v_loss\n" + rows + "\n")
    run = read(tmp_path)[0]
    assert "val/loss" not in {str(k) for k in run.series}
    assert "train/v_loss" in {str(k) for k in run.series}


def test_the_pair_is_explained_as_a_pair_not_as_a_map_the_user_never_passed(tmp_path: Path, capsys) -> None:
    from traindx.cli import main

    assert "--map" not in explain_mapping("tl", paired_names(["tl", "vl"]))
    assert "read as one of the pair tl / vl" in explain_mapping("tl", paired_names(["tl", "vl"]))
    assert explain_mapping("vl", {"vl": "val/loss"}).endswith("--map vl=val/loss")  # the user's own
    rows = "\n".join(f"{e},{1.0 / (e + 1):.4f},{1.2 / (e + 1):.4f}" for e in range(8))
    (tmp_path / "log.csv").write_text("epoch,tl,vl\n" + rows + "\n")
    assert main(["series", "-v", str(tmp_path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "val/loss: 'vl' read as one of the pair tl / vl in one file" in out and "--map" not in out
    (tmp_path / "log.csv").write_text("epoch,t_loss,v_loss\n" + rows + "\n")
    assert main(["series", "-v", str(tmp_path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "val/loss: split letter 'v_' -> val, as beside t_loss in one file" in out


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["train", "val", "acc"], {"train": "train/loss", "val": "val/loss"}),  # '[ 3] train 0.41  val 0.43  acc 0.81'
        (["loss", "val", "val_mae"], {"val": "val/loss"}),  # 'loss: 5931.2 | val: 6012.4 | val_mae: 64.8'
        (["epoch", "Train", "Test"], {"Train": "train/loss", "Test": "test/loss"}),
        (["train", "acc"], {}),  # one bare word, nothing beside it says which metric
        (["val", "acc"], {}),
        (["loss", "val", "val_loss"], {}),  # the file names the validation loss already
        (["loss", "val", "valid"], {}),  # two bare words of one split: which is which
        (["loss", "tr", "va"], {}),  # short forms: only as a set with no loss of theirs named (test_console_wild46)
    ],
)
def test_bare_split_words_are_the_file_s_losses_only_where_the_file_shows_the_habit(
    names: list[str], expected: dict[str, str]
) -> None:
    assert paired_names(names) == expected
    assert map_name("val") is None and map_name("train") is None  # alone: no metric named


def test_a_printed_log_with_bare_split_words_and_a_padded_round_counter(tmp_path: Path) -> None:
    lines = [f"[{e:2d}] train {1.0 / e:.4f}  val {1.1 / e:.4f}  acc {0.5 + e / 40:.3f}" for e in range(1, 13)]
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    run = read(tmp_path)[0]
    assert sorted(str(k) for k in run.series) == ["train/accuracy", "train/loss", "val/loss"]
    for s in run.series.values():  # one point per line, at the printed counter (1..12), nothing dropped
        assert list(s.steps) == list(range(1, 13))
    assert "bare split word 'val'" in explain_mapping("val", paired_names(["train", "val", "acc"]))
