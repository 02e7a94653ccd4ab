"""train_mode_not_set on torch in the forms that leave the dropout / batch-norm submodules in eval
while ``model.training`` says True (spec.mode_variant, torch shards from spec.MODE_SEED on).

``model.training = True`` after ``model.eval()`` sets the top module's flag only: the torch
Monitor's ``training_mode`` reads True, and only its per-step read of the submodules' modes
(``mode_layers_eval_share``, CTX004's third clause) shows the fault. The healthy loop
(``model.train()`` after validation) records a share of 0.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))

BASE = {"data": {"name": "blobs", "kw": {"n_classes": 4, "cluster_std": 1.5}}, "task": "multiclass",
        "model": {"kind": "mlp", "hidden": [16], "act": "relu", "bn": False, "dropout": 0.3},
        "opt": {"name": "adam", "lr": 0.002, "sane_lr": 0.002}, "sched": None,
        "loss": {"loss": "default"}, "loop": {"bs": 64, "epochs": 4, "zero_grad": "step"},
        "cause": "train_mode_not_set", "framework": "torch", "seed": 11, "adapter": True,
        "log": {"writer": "csv_hand", "names": 8, "gran": "both", "every": 1, "step_reset": False,
                "val_x": "epoch", "epoch_base": 0, "lr": True, "train_acc": True, "grad_norm": False},
        "name": "mode_test"}


def test_only_new_torch_shards_draw_the_flag_forms():
    pytest.importorskip("sklearn")
    from spec import MODE_SEED, sample

    def forms(seed: int) -> set[str]:
        out = set()
        for i in range(3000):
            s = sample("torch", seed, i)
            if s["cause"] == "train_mode_not_set":
                out.add(s["form"])
        return out

    assert forms(MODE_SEED - 1) == {"eval_after_val", "eval_always"}
    assert {"flag_after_val", "flag_always"} <= forms(MODE_SEED)
    # keras / jax never: their runners have no such loop
    assert all(sample("keras", MODE_SEED, i).get("form") not in ("flag_after_val", "flag_always")
               for i in range(400))


@pytest.mark.slow
@pytest.mark.parametrize("mode, top, share_at_least, share_at_most", [
    (None, True, 0.0, 0.0),
    ("flag_after_val", True, 0.5, 0.9),  # the first epoch trains in train mode
    ("flag_always", True, 1.0, 1.0),
    ("eval_always", False, 1.0, 1.0),
])
def test_the_monitor_sees_the_submodules_modes(tmp_path: Path, mode, top, share_at_least, share_at_most):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import torch_run

    spec = json.loads(json.dumps(BASE))
    if mode:
        spec["loop"]["mode"] = mode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_run.train(spec, tmp_path)
    ctx = json.loads((tmp_path / "context.json").read_text())
    assert ctx["model"]["training_mode"] is top
    flags = ctx["flags"]
    assert flags["mode_layers"] >= 1.0
    assert share_at_least <= flags["mode_layers_eval_share"] <= share_at_most
