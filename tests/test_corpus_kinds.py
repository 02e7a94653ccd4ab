"""The corpus's newer task families (fixtures/corpus/kinds.py): spec sampling and the label check.

Pure Python on specs and summaries (no training; the generator is run by hand).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))

import kinds  # noqa: E402
from label import decide, facts, judge  # noqa: E402

from traindx.causes import CAUSES  # noqa: E402


def test_sampling_is_deterministic_and_json_able():
    a, b = kinds.sample(3, 17), kinds.sample(3, 17)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.dumps(kinds.sample(3, 18)) != json.dumps(a)


def test_every_family_and_every_listed_cause_has_a_form():
    specs = [kinds.sample(5, i) for i in range(400)]
    fams = Counter(s["kind"] for s in specs)
    assert set(fams) == set(kinds.FAMILY_P)
    causes = Counter(s["cause"] for s in specs)
    assert set(kinds.CAUSES) <= set(causes), set(kinds.CAUSES) - set(causes)
    assert set(causes) <= set(CAUSES) | {"healthy"}
    assert 0.15 <= causes["healthy"] / len(specs) <= 0.4
    # the label's data/model fields name the family, so leaving one out holds the family out
    datas = {s["data"]["name"] for s in specs}
    assert {"multilabel", "tokens", "series", "cat_tab", "recon_digits", "recon_tab"} <= datas
    models = {s["model"]["kind"] for s in specs}
    assert {"ae", "conv_ae", "vae", "siamese", "triplet", "transformer", "embed_bag", "cat_embed"} <= models
    for s in specs:
        assert s["fault"] and s["form"], s["name"]
        assert (s["severity"] is None) == (s["cause"] == "healthy"), s["name"]


def test_forms_are_code_level_and_several_per_cause():
    forms: dict[str, set] = {}
    for i in range(600):
        s = kinds.sample(7, i)
        forms.setdefault(s["cause"], set()).add(s["form"])
    several = [c for c, f in forms.items() if c != "healthy" and len(f) >= 2]
    assert len(several) >= 15, forms


def _summary(q, ref, chance=0.0, task="reconstruction", vl=(1.0, 0.6, 0.5, 0.45), el=(1.0, 0.6, 0.4, 0.35)):
    acc = task not in ("reconstruction", "regression")
    return {"task": task, "n_classes": 0, "n_train": 900, "steps": 100, "epochs_run": len(vl),
            "nonfinite_steps": 0, "loss_first": el[0], "loss_last": el[-1], "loss_min": min(el), "loss_max": max(el),
            "epoch_loss": list(el), "val_loss": list(vl), "val_acc": [q] * len(vl) if acc else [None] * len(vl),
            "train_acc_last": q if acc else None, "bal_acc_last": None, "r2_last": None if acc else q,
            "majority_share": None, "q_last": q, "ref": ref, "chance": chance, "family": "x"}


def _lab(cause, s):
    return {"cause": cause, "summary": s, "data": "recon_digits", "fault": "f", "severity": "severe",
            "spec": {"data": {"name": "recon_digits", "kw": {}}}}


def test_the_family_quality_and_reference_replace_the_classic_ones():
    s = _summary(0.3, 0.7)
    f = facts(_lab("bad_weight_init", s), s["ref"])
    assert f["q"] == 0.3 and f["degraded"] and not f["learned"]
    s = _summary(0.66, 0.7)
    f = facts(_lab("healthy", s), s["ref"])
    assert f["learned"] and not f["degraded"]
    # pair accuracy at chance 0.5 with a reference of 0.9 is degraded; 0.88 is not
    assert facts(_lab("labels_corrupted", _summary(0.5, 0.9, 0.5, "metric")), 0.9)["degraded"]
    assert not facts(_lab("labels_corrupted", _summary(0.88, 0.9, 0.5, "metric")), 0.9)["worse15"]


def test_a_fault_that_did_not_bite_is_relabelled_or_dropped():
    fine = _summary(0.69, 0.7)
    assert decide(_lab("lr_too_high", fine), facts(_lab("lr_too_high", fine), 0.7))[0] == "relabel"
    assert decide(_lab("loss_sign_flipped", fine), facts(_lab("loss_sign_flipped", fine), 0.7))[0] == "drop"
    bad = _summary(0.1, 0.7)
    assert decide(_lab("loss_sign_flipped", bad), facts(_lab("loss_sign_flipped", bad), 0.7))[0] == "keep"
    # judge reads the reference from the run's summary (no scikit-learn refit of a data set it
    # does not know)
    (lab, action, _, _), = judge([_lab("healthy", _summary(0.2, 0.7))])
    assert action == "drop" and lab["check"]["ref"] == 0.7


def test_series_data_is_split_in_time_unless_the_leak_form_shuffles_windows():
    import kinds_data

    clean = kinds_data.series(1, 8, 1)
    leak = kinds_data.series(1, 8, 1, split="random")
    assert clean.x_train.shape[1:] == (8, 1) and len(clean.y_val) > 100
    # a time split keeps a gap: no validation window equals a training window
    tr = {row.tobytes() for row in clean.x_train}
    assert not any(row.tobytes() in tr for row in clean.x_val)
    # shuffled overlapping windows: each validation window has its shifted twin in training
    tail = {row[1:].tobytes() for row in leak.x_train}
    assert np.mean([row[:-1].tobytes() in tail for row in leak.x_val]) > 0.5


def test_a_model_that_healthy_runs_train_below_the_reference_is_judged_by_what_they_reach():
    # five healthy attention-encoder runs reach 60 % of the margin ref - chance; a faulty run at
    # 55 % of it is within what the model reaches (not degraded), one at chance is degraded
    healthy = [_lab("healthy", _summary(0.5 + 0.6 * 0.4 + e, 0.9, 0.5, "multiclass")) for e in
               (-0.01, 0.0, 0.0, 0.01, 0.0)]
    for lab in healthy:
        lab["model"] = "transformer"
    near, off = (_lab("lr_too_low", _summary(q, 0.9, 0.5, "multiclass")) for q in (0.72, 0.5))
    near["model"] = off["model"] = "transformer"
    out = {id(lab): action for lab, action, _, _ in judge(healthy + [near, off])}
    assert [out[id(lab)] for lab in healthy] == ["keep"] * 5
    assert out[id(near)] == "relabel" and out[id(off)] == "keep"
    # without those healthy runs the same near-miss counts as degraded against ref
    near2 = _lab("lr_too_low", _summary(0.72, 0.9, 0.5, "multiclass"))
    assert judge([near2])[0][1] == "keep"
