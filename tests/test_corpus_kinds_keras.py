"""Keras runs of the multi-label and autoencoder families (fixtures/corpus/kinds_keras.py).

Sampling keeps only specs the Keras runner spells; a short run of each family writes the logs of
its logger (or the callback's) and label.py's summary with the family's q and reference.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))


@pytest.fixture(scope="module")
def kk():
    pytest.importorskip("keras")
    pytest.importorskip("sklearn")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import kinds_keras

    return kinds_keras


def test_sampling_is_deterministic_and_keeps_what_keras_spells(kk):
    a = kk.sample(5, 3)
    assert json.dumps(a, sort_keys=True) == json.dumps(kk.sample(5, 3), sort_keys=True)
    specs = [kk.sample(5, i) for i in range(300)]
    causes = Counter(s["cause"] for s in specs)
    assert set(causes) <= set(kk.CAUSES) | {"healthy"}
    assert len(causes) >= 20 and 0.15 <= causes["healthy"] / len(specs) <= 0.4
    fams = Counter(s["kind"] for s in specs)
    assert fams["recon"] >= 90 and fams["multilabel"] >= 90
    for s in specs:
        assert kk.supported(s), s["name"]
        assert s["framework"] == "keras" and s["name"].startswith("kerask_5_")
        assert s["model"]["kind"] in ("ae", "mlp")
        assert not s["opt"].get("maximize") and not s["loop"].get("skip_step")
        assert s["data"]["name"] in ("multilabel", "recon_digits", "recon_tab")


def test_torch_only_forms_are_not_drawn(kk):
    for i in range(300):
        s = kk.sample(6, i)
        assert s["loop"].get("zero_grad", "step") == "step"
        assert s["loop"].get("opt_params") != "new_model"
        if s["cause"] == "updates_not_applied":
            assert s["form"] == "lr_zero" and s["opt"]["lr"] == 0.0


def _first(kk, pred):
    for i in range(400):
        s = kk.sample(7, i)
        if pred(s):
            return s
    raise AssertionError("no such spec")


@pytest.mark.slow
@pytest.mark.parametrize("fam", ["multilabel", "recon"])
def test_a_short_run_writes_its_logs_and_the_family_summary(kk, fam, tmp_path):
    s = _first(kk, lambda s: s["kind"] == fam and s["cause"] == "healthy" and not s["adapter"]
               and s["log"]["writer"] in ("keras_csv", "csv_hand", "jsonl"))
    s["loop"]["epochs"] = 2
    s["loop"].pop("early_stop", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summ = kk.train(s, tmp_path)
    assert summ["task"] == {"multilabel": "multilabel", "recon": "reconstruction"}[fam]
    assert summ["epochs_run"] == 2 and summ["q_last"] is not None and summ["ref"] > 0
    assert any(p.suffix in (".csv", ".jsonl") for p in tmp_path.iterdir())
