"""Session 41's code-level forms (fixtures/corpus/forms.py, `generate.py --forms`).

Sampling draws every form in turn, deterministically, with as many healthy messy runs as faulty
ones; the torch runner spells the new forms (a linear stack has no non-linearity, BCE on the
class ids 1..K drives the loss below zero, MSLE clips a z-scored target at 0).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))


@pytest.fixture(scope="module")
def forms():
    pytest.importorskip("sklearn")
    import forms

    return forms


def test_every_form_is_drawn_in_turn_and_deterministically(forms):
    a = forms.sample("torch", 42, 7)
    assert json.dumps(a, sort_keys=True) == json.dumps(forms.sample("torch", 42, 7), sort_keys=True)
    for fw in ("torch", "keras"):
        specs = [forms.sample(fw, 42, i) for i in range(40)]
        got = Counter((s["cause"], s["form"].replace("bce_labels_1k", "bce_class_ids"))
                      for s in specs)
        assert len(got) == len(forms.FORMS) and set(got.values()) == {4}, got
        assert sum(n for (c, _), n in got.items() if c == "healthy") == 20
        for s in specs:
            assert s["name"].startswith(f"{fw}f_42_") and s["framework"] == fw
            if s["form"] == "linear_stack":
                assert s["model"]["act"] == "linear" and len(s["model"]["hidden"]) >= 2
                assert s["data"]["name"] == "circles"
            if s["form"] == "abs_lr":
                assert s["opt"]["lr"] >= 0.3 and s["opt"]["name"] in ("adam", "rmsprop")
            if s["form"] == "rare_pos":
                assert s["task"] == "binary" and s["data"]["fault"]["share"] >= 0.95
            if s["form"] == "weighted_imbalanced":
                assert s["loss"]["class_weights"] and s["data"]["fault"]["share"] >= 0.9


def _first(forms, form):
    for i in range(200):
        s = forms.sample("torch", 43, i)
        if s["form"] == form:
            return s
    raise AssertionError(form)


def test_the_torch_runner_spells_the_new_forms(forms):
    torch = pytest.importorskip("torch")
    import torch_run
    from data import load

    s = _first(forms, "linear_stack")
    d = load(s["data"]["name"], 0, **s["data"]["kw"])
    mods = list(torch_run.build_model(d, s["model"]).modules())
    assert sum(isinstance(m, torch.nn.Linear) for m in mods) >= 3
    assert not any(isinstance(m, (torch.nn.ReLU, torch.nn.Tanh, torch.nn.GELU, torch.nn.ELU,
                                  torch.nn.LeakyReLU, torch.nn.Sigmoid)) for m in mods)
    dm = load("digits", 0)
    f, _, _ = torch_run.build_loss(dm, {"loss": "bce_labels_1k"})
    y = torch.tensor([0, 3, 5, 9])
    assert float(f(torch.full((4, 1), 8.0), y)) < 0  # BCE on targets above 1: unbounded below
    dr = load("regression", 0)
    f, _, _ = torch_run.build_loss(dr, {"loss": "msle"})
    yr = torch.tensor([-1.5, -0.5, 0.2, 1.0])
    # every negative target reads as 0: a prediction of 0 costs nothing there
    assert float(f(torch.tensor([[0.0], [0.0], [0.2], [1.0]]), yr)) == 0.0
