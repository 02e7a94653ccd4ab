"""A bare ``score`` (a beginner's test accuracy, sklearn's ``Validation score``) is read as the
split's accuracy only where its values are shares k/n of one evaluation set (qa_begin42/44:
'score' and 'val_score' were not mapped, and a run whose only other series was a summed loss was
called healthy); an R^2, a mean of batch scores or a game score stays a metric of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import traindx
from traindx.names import map_name
from traindx.readers.assemble import count_shares


def _csv(folder: Path, header: str, rows: list[tuple[float, ...]]) -> Path:
    folder.mkdir(parents=True)
    (folder / "log.csv").write_text(header + "\n" + "\n".join(",".join(repr(v) for v in r) for r in rows) + "\n")
    return folder


def test_score_names_are_kept_with_their_split() -> None:
    assert str(map_name("score")) == "train/score"
    assert str(map_name("val_score")) == "val/score"
    assert str(map_name("Validation score")) == "val/score"
    assert str(map_name("f1_score")) == "train/f1"  # the qualified scores keep their own rules


def test_shares_of_one_evaluation_set_are_an_accuracy() -> None:
    correct = np.array([75, 105, 105, 110, 112, 113])
    v = (correct / 119).astype(np.float32).astype(float)  # float32 as torch writes it
    assert count_shares(v) is not None
    assert np.allclose(count_shares(100 * correct / 360), correct / 360)  # percent
    assert count_shares(np.round(np.array([10, 12, 11, 20]) / 27, 6)) is not None  # six printed decimals
    assert count_shares(np.array([75, 105, 105]) / 119) is not None  # frozen after one epoch: two values


def test_an_r2_or_a_game_score_is_no_accuracy() -> None:
    r2 = np.array([0.017035, 0.065634, 0.106087, 0.14267, 0.173761, 0.204356, 0.233369])  # sklearn regressor
    assert count_shares(r2) is None
    assert count_shares(np.array([-0.09, 0.2, 0.4, 0.45])) is None  # negative: an R^2
    assert count_shares(np.array([12.0, 30.0, 45.0, 80.0])) is None  # whole numbers: a count or game score
    assert count_shares(np.array([0.5, 0.5, 0.5])) is None  # one value fits any n
    rng = np.random.default_rng(0)
    assert sum(count_shares(rng.uniform(0, 1, 5)) is not None for _ in range(200)) == 0


def test_a_csv_score_becomes_the_accuracy_unless_the_run_is_a_regression(tmp_path: Path) -> None:
    rows = [(e, 12.0 * 0.8**e, (60 + min(e, 10) * 5) / 119) for e in range(20)]
    (run,) = traindx.read(_csv(tmp_path / "clf", "epoch,J,score", rows))
    acc = run.get("accuracy", "train")
    assert acc is not None and acc.original_name == "score"
    rows = [(e, 1.0 * 0.9**e, (60 + min(e, 10) * 5) / 119, 0.9**e) for e in range(20)]
    (run,) = traindx.read(_csv(tmp_path / "reg", "epoch,loss,score,mae", rows))
    assert run.get("accuracy", "train") is None and run.get("score", "train") is not None


def test_a_bare_err_of_counted_shares_is_one_minus_the_accuracy(tmp_path: Path) -> None:
    """qa_begin44 ten sigmoid layers: {'loss','val','err'} with err a validation error in percent
    (82.0 = 164/200 wrong): read as an error of unknown kind, the run had no task and no chance
    level, and a loss flat at ln 4 was ranked shape_broadcast_bug (a regression at its trivial level)."""
    rows = [(e, 1.39, 1.39, float(np.float32(wrong / 200)) * 100) for e, wrong in enumerate([141, 144, 151, 164] * 5)]
    (run,) = traindx.read(_csv(tmp_path / "clf", "epoch,loss,val,err", rows))
    acc = run.get("accuracy", "train")
    assert acc is not None and np.allclose(acc.values[:4], [59 / 200, 56 / 200, 49 / 200, 36 / 200])
    mae = [(e, 1.0 / (e + 1), 0.37 + 0.8 / (e + 3)) for e in range(20)]  # a regression's absolute error
    (run,) = traindx.read(_csv(tmp_path / "reg", "epoch,loss,err", mae))
    assert run.get("accuracy", "train") is None
