"""The generated corpus (fixtures/corpus/): archives extract, labels follow the contract.

Only reads the committed archives (no framework needed); the generator itself is run by hand.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))

from load import corpus_runs  # noqa: E402

from traindx.causes import CAUSES  # noqa: E402

FIELDS = ("cause", "log_visible", "input_kind", "framework", "writer", "data", "model",
          "optimizer", "fault", "severity", "style", "seed")
LOG_NAMES = (".csv", ".jsonl", "trainer_state.json", "tfevents")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return list(corpus_runs(tmp_path_factory.mktemp("corpus")))


def test_every_indexed_run_is_in_an_archive_with_a_contract_label(runs):
    index = json.loads((ROOT / "fixtures" / "corpus" / "index.json").read_text())
    got = {f"{d.parent.name}/{d.name}": lab for d, lab in runs}
    assert set(got) == {r["path"] for r in index["runs"]}
    for path, lab in got.items():
        missing = [f for f in FIELDS if f not in lab]
        assert not missing, f"{path}: label.json lacks {missing}"
        assert lab["cause"] in CAUSES or lab["cause"] == "healthy", path
        assert lab["style"] == "generator"
        assert lab["input_kind"] in ("logs", "torch_adapter", "keras_adapter", "jax_adapter")
        assert (lab["input_kind"] == "logs") == (lab["writer"] not in ("monitor", "keras_cb", "jax_rec"))


def test_every_run_holds_the_files_its_logger_wrote(runs):
    for d, lab in runs:
        names = [p.name for p in d.rglob("*") if p.is_file() and p.name != "label.json"]
        assert any(any(k in n for k in LOG_NAMES) for n in names), f"{d}: no log file in {names}"
        if lab["input_kind"] != "logs":
            assert "context.json" in names, d


def test_the_corpus_mixes_causes_frameworks_and_loggers(runs):
    causes = Counter(lab["cause"] for _, lab in runs)
    assert len(causes) >= 25
    assert 0.15 <= causes["healthy"] / len(runs) <= 0.45
    assert len({lab["framework"] for _, lab in runs}) >= 2
    assert len({lab["writer"] for _, lab in runs}) >= 6


# The Keras multi-label / dense autoencoder kinds (fixtures/corpus/kinds_keras.py) on each of
# Keras 3's backends: keras-tensorflow-kinds-s39 (session 39), keras-jax-kinds-s40 and
# keras-torch-kinds-s41 (session 40), as unseen batches show them on all three.
KERAS_KINDS_DATA = ("multilabel", "recon_digits", "recon_tab")


def test_keras_multilabel_and_autoencoder_runs_on_every_backend(runs):
    by: dict[str, Counter] = {}
    for _, lab in runs:
        if lab["framework"].startswith("keras") and lab["data"] in KERAS_KINDS_DATA:
            task = "multilabel" if lab["data"] == "multilabel" else "recon"
            c = by.setdefault(lab["framework"], Counter())
            c[task, lab["input_kind"]] += 1
            c["healthy" if lab["cause"] == "healthy" else "fault:" + lab["cause"]] += 1
    assert set(by) == {"keras-tf", "keras-jax", "keras-torch"}, sorted(by)
    for fw, c in by.items():
        for task in ("multilabel", "recon"):
            assert c[task, "logs"] >= 5 and c[task, "keras_adapter"] >= 5, (fw, task, c)
        assert c["healthy"] >= 5 and sum(1 for k in c if str(k).startswith("fault:")) >= 12, (fw, c)


# Session 41's code-level forms (fixtures/corpus/forms.py, `generate.py --forms`) on torch and on
# Keras (TensorFlow), with their healthy messy counterparts: shards torch-forms-s42 and
# keras-tensorflow-forms-s42.
FORMS_SHARDS = ("torch-forms-s42", "keras-tensorflow-forms-s42")
FORMS_FAULTS = ("linear_stack", "abs_lr", "msle", "bce_ids", "rare_pos")
FORMS_HEALTHY = ("weighted_imbalanced", "label_smoothing", "linear_on_purpose", "full_batch",
                 "dropout_05")
#: kept runs per form at least (torch 58-62 kept of 70 generated, Keras 43 of 50)
MIN_FORM = {"torch-forms-s42": 3, "keras-tensorflow-forms-s42": 3}


def test_session41_forms_and_as_many_healthy_runs_on_torch_and_keras(runs):
    by: dict[str, Counter] = {}
    for d, lab in runs:
        if d.parent.name in FORMS_SHARDS:
            c = by.setdefault(d.parent.name, Counter())
            form = "bce_ids" if lab["form"] in ("bce_class_ids", "bce_labels_1k") else lab["form"]
            c[form, lab["cause"]] += 1
            c["healthy" if lab["cause"] == "healthy" else "fault"] += 1
            c[lab["input_kind"] == "logs"] += 1
    assert set(by) == set(FORMS_SHARDS), sorted(by)
    for sh, c in by.items():
        faults = {f: sum(n for k, n in c.items() if isinstance(k, tuple) and k[0] == f
                         and k[1] != "healthy") for f in FORMS_FAULTS}
        assert min(faults.values()) >= MIN_FORM[sh], (sh, faults)
        healthy = {f: c[f, "healthy"] for f in FORMS_HEALTHY}
        assert min(healthy.values()) >= MIN_FORM[sh], (sh, healthy)
        assert c["healthy"] >= c["fault"] * 0.8, (sh, c)
        assert c[True] >= 10 and c[False] >= 8, (sh, c)  # log-only and adapter runs
