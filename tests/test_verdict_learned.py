"""The verdict after the learned layer follows its numbers: a run whose likeliest fault is
more probable than healthy is not called healthy (rulebook/verdict.yaml:
healthy_over_fault), and text, JSON and markdown say the same verdict."""

from __future__ import annotations

import json
from pathlib import Path

from traindx.api import read
from traindx.cli import main
from traindx.engine import diagnose_run
from traindx.rerank import says_healthy
from traindx.rules.loader import load_rulebook

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "fixtures" / "logs" / "torch_tb" / "class_imbalance_mlp_95_5"


def test_shipped_rule_needs_healthy_at_least_as_likely_as_the_top_fault():
    from traindx.learned import load_model
    from traindx.rules.loader import builtin_dir

    book = load_rulebook()
    model = load_model(builtin_dir() / "learned", "logs")
    assert book.healthy_over_fault >= 1.0
    t = model.healthy_threshold
    assert not says_healthy(model, book, max(t, 0.25), 0.40)  # the fixture's numbers
    assert says_healthy(model, book, max(t, 0.45), 0.30)
    assert not says_healthy(model, book, t * 0.9, 0.01)  # below the threshold: never


def test_a_likelier_fault_is_a_finding_in_every_format(capsys):
    (d,) = [diagnose_run(r, load_rulebook()) for r in read(RUN)]
    assert d.verdict == "findings", d.headline
    assert d.causes and d.causes[0].id == "class_imbalance", [c.id for c in d.causes[:3]]
    assert "class_imbalance" in d.headline and "no confident fault" not in d.headline
    main(["diagnose", str(RUN)])
    text = capsys.readouterr().out
    assert text.lstrip().startswith("!!") and "OK" not in text.split("\n")[0]
    main(["diagnose", "--json", str(RUN)])
    (j,) = json.loads(capsys.readouterr().out)["runs"]
    assert j["verdict"] == "findings" and j["healthy"] is False
    main(["diagnose", "--format", "markdown", str(RUN)])
    md = capsys.readouterr().out
    assert "FINDINGS" in md and "OK" not in md.split("class_imbalance_mlp_95_5")[0][-40:]
