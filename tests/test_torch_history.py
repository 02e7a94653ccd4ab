"""torch.save'd histories (read without torch) and headerless tables (named, not guessed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from traindx.errors import ReadError
from traindx.readers import read
from traindx.readers.torch_history import read_torch_history, torch_kind

torch = pytest.importorskip("torch")


def _series(log):
    return {s.name: [float(v) for v in s.values] for s in log.series}


def test_dict_of_lists_of_floats_tensors_and_numpy_scalars(tmp_path: Path) -> None:
    p = tmp_path / "history.pt"
    torch.save({
        "train_loss": [torch.tensor(1.0 / (i + 1)) for i in range(4)],   # 0-d tensors (loss.detach())
        "val_loss": torch.tensor([0.9, 0.8, 0.7, 0.65], dtype=torch.float64),  # one 1-D tensor
        "val_acc": [np.float32(0.25 * i) for i in range(4)],             # NumPy scalars
        "lr": [0.1, 0.1, 0.05, 0.05],                                    # floats
    }, p)  # fmt: skip
    got = _series(read_torch_history(p))
    assert got["train_loss"] == pytest.approx([1.0, 0.5, 1 / 3, 0.25], rel=1e-6)
    assert got["val_loss"] == pytest.approx([0.9, 0.8, 0.7, 0.65])
    assert got["val_acc"] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert got["lr"] == [0.1, 0.1, 0.05, 0.05]


def test_list_of_epoch_dicts_with_strided_half_and_parameter_values(tmp_path: Path) -> None:
    p = tmp_path / "run.pth"  # not named as a history: found by what it holds
    base = torch.arange(10, dtype=torch.float16)
    torch.save([{"epoch": e + 1, "loss": base[::3][e], "val_acc": torch.nn.Parameter(torch.tensor(0.5))}
                for e in range(3)], p)  # fmt: skip
    assert torch_kind(p) == "torch"
    log = read_torch_history(p)
    got = _series(log)
    assert got["loss"] == [0.0, 3.0, 6.0] and got["val_acc"] == [0.5] * 3
    assert [int(x) for x in next(s for s in log.series if s.name == "loss").steps] == [1, 2, 3]


def test_a_checkpoint_is_not_a_log_and_a_named_history_that_is_one_errs(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    torch.save({"epoch": 3, "model": model.state_dict(), "loss": 0.5}, tmp_path / "checkpoint.pth")
    assert torch_kind(tmp_path / "model.pt") is None and torch_kind(tmp_path / "checkpoint.pth") is None
    torch.save(model, tmp_path / "metrics.pt")  # a whole module: a class traindx never unpickles
    with pytest.raises(ReadError, match=r"metrics\.pt: cannot read: it holds torch\.nn\..*Linear.*expected torch\.save"):
        read_torch_history(tmp_path / "metrics.pt")
    (tmp_path / "losses.pt").write_bytes(b"not a zip")
    with pytest.raises(ReadError, match=r"losses\.pt: cannot read: not a zip"):
        read_torch_history(tmp_path / "losses.pt")


def test_a_folder_with_a_history_and_a_checkpoint_reads_the_history(tmp_path: Path) -> None:
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "best.pt")
    torch.save({"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7]}, tmp_path / "history.pt")
    (run,) = read(tmp_path)
    assert {"train/loss", "val/loss"} <= set(run.series)


def test_reading_never_imports_torch(tmp_path: Path) -> None:
    torch.save({"loss": [torch.tensor(0.5), torch.tensor(0.4)]}, tmp_path / "history.pt")
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from traindx.readers.torch_history import read_torch_history\n"
        f"print([float(v) for v in read_torch_history({str(tmp_path / 'history.pt')!r}).series[0].values])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[0.5, 0.4000000059604645]"


@pytest.mark.parametrize("name", ["log.txt", "log.csv"])
def test_a_headerless_table_is_named_with_why(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("1,0.65,0.69,0.53\n2,0.44,0.97,0.35\n3,0.30,0.97,0.25\n")
    with pytest.raises(ReadError, match=rf"{name}(:1)?: no header row \(the first line is 4 numbers\).*write a header line"):
        read(tmp_path)
    with pytest.raises(ReadError, match=r"no header row \(the first line is 4 numbers\)"):
        read(tmp_path / name)
