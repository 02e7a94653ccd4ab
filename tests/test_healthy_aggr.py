"""fixtures/healthy_aggr: the sampler of aggressive-but-fine settings and the labels it packed."""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "fixtures" / "healthy_aggr"


def _make():
    spec = importlib.util.spec_from_file_location("healthy_aggr_make", HERE / "make.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _labels() -> list[dict]:
    out = []
    for archive in sorted((HERE / "shards").glob("*.tar.xz")):
        with tarfile.open(archive, "r:xz") as tar:
            for m in tar.getmembers():
                if m.name.endswith("/label.json"):
                    out.append(json.loads(tar.extractfile(m).read()))
    return out


def test_sampling_is_deterministic_json_able_and_always_sets_something():
    make = _make()
    for fw in ("torch", "keras", "jax"):
        for i in range(40):
            a, b = make.sample(fw, 41, i), make.sample(fw, 41, i)
            assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
            assert a["cause"] == "healthy" and a["settings"] and set(a["settings"]) <= set(make.RISK)
            assert a["fault"].startswith("none: ")
    opts = {make.sample("torch", 41, i)["opt"]["name"] for i in range(60)}
    assert {"adam", "sgd_momentum", "adamw", "rmsprop"} <= opts


def test_packed_labels_follow_the_outcome_rule_and_the_corpus_policy():
    sys.path.insert(0, str(ROOT / "fixtures" / "corpus"))
    import label

    labs = _labels()
    index = json.loads((HERE / "index.json").read_text())
    assert len(labs) == index["count"] >= 150
    make = _make()
    for lab in labs:
        c = lab["check"]
        gap = max(c["ref"] - c["chance"], 0.05)
        cause, benign = label.policy(lab)
        assert not benign and "injected" not in lab  # a common setting that fit is healthy, not benign
        if lab["cause"] == "healthy":  # learned: within 0.35 of the learnable margin of the reference
            assert c["q"] is not None and c["q"] >= c["ref"] - 0.35 * gap
            assert cause in ("healthy", "overfitting")
        else:  # hurt by its one risky setting
            assert lab["cause"] in {make.RISK[k] for k in lab["settings"]}
            assert c["q"] is None or c["q"] < c["ref"] - 0.25 * gap
            assert cause == lab["cause"]
    assert sum(lab["cause"] == "healthy" for lab in labs) >= 0.85 * len(labs)
