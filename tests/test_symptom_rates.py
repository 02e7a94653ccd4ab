"""benchmarks/symptom_rates.py: how often each symptom fires on healthy and faulty runs."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from symptom_rates import SMOOTH, of_length, rates, render  # noqa: E402

from traindx.rules.loader import load_rulebook  # noqa: E402


@dataclass
class FakeRun:
    cause: str
    facts: dict = field(default_factory=dict)
    visible: bool = True
    input_kind: str = "logs"


def _nan_run(cause: str, **kw) -> FakeRun:
    return FakeRun(cause, {"loss": {"has_nonfinite": True, "nonfinite_step": 3}}, **kw)


def _clean_run(cause: str, **kw) -> FakeRun:
    return FakeRun(cause, {"loss": {"has_nonfinite": False, "nonfinite_step": -1}}, **kw)


def test_counts_and_ratios_of_one_symptom():
    runs = (
        [_nan_run("nonfinite_in_data")] * 3 + [_clean_run("nonfinite_in_data")]
        + [_clean_run("overfitting")] * 4
        + [_nan_run("healthy")] + [_clean_run("healthy")] * 9
        + [_nan_run("overfitting", visible=False)]  # log-invisible: left out
    )  # fmt: skip
    (r,) = rates(load_rulebook(), runs, ["LOSS001"])
    assert r.healthy == (1, 10) and r.faulty == (3, 8)
    assert r.by_cause == {"nonfinite_in_data": (3, 4), "overfitting": (0, 4)}
    p = lambda k, n: (k + SMOOTH) / (n + 2 * SMOOTH)  # noqa: E731
    assert r.lr_vs_healthy == pytest.approx(p(3, 8) / p(1, 10))
    assert r.lr_by_cause()["nonfinite_in_data"] == pytest.approx(p(3, 4) / p(0, 4))
    assert r.lr_by_cause()["overfitting"] < 1.0
    text = render([r])
    assert "LOSS001" in text and "nonfinite_in_data" in text and "1/10" in text


def test_adapter_runs_count_even_when_labelled_log_invisible():
    runs = [_nan_run("nonfinite_in_data", visible=False, input_kind="torch_adapter"), _clean_run("healthy")]
    (r,) = rates(load_rulebook(), runs, ["LOSS001"])
    assert r.faulty == (1, 1) and r.healthy == (0, 1)


# --diff REF (issue 15): which runs a condition change starts and stops firing on.


def _book_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the shipped rulebook with one line of symptoms/loss.yaml changed."""
    import shutil

    from traindx.rules.loader import builtin_dir

    d = tmp_path / "rulebook"
    shutil.copytree(builtin_dir(), d, ignore=shutil.ignore_patterns("learned"))
    f = d / "symptoms" / "loss.yaml"
    text = f.read_text(encoding="utf-8")
    assert text.count(old) == 1
    f.write_text(text.replace(old, new), encoding="utf-8")
    return d


def test_firing_diff_names_the_runs_a_changed_condition_starts_and_stops_on(tmp_path):
    from symptom_rates import firing_diff, render_diff

    # LOSS001 on the REF side fires on a non-finite loss; here, only on one from step 5 on
    ref = load_rulebook([_book_with(tmp_path, "when: loss.has_nonfinite\n", "when: loss.has_nonfinite && loss.nonfinite_step >= 5\n")], builtin=False)
    here = load_rulebook()
    late = FakeRun("nonfinite_in_data", {"loss": {"has_nonfinite": True, "nonfinite_step": 9}})
    early = FakeRun("healthy", {"loss": {"has_nonfinite": True, "nonfinite_step": 3}})
    clean = _clean_run("overfitting")
    runs = [late, early, clean, FakeRun("healthy", {"_error": {"message": "unreadable"}})]
    (c,) = firing_diff(ref, here, runs)
    assert c.name == "LOSS001" and c.old.endswith(">= 5") and c.new == "loss.has_nonfinite"
    assert c.starts == [early] and c.stops == []
    assert c.counts(runs) == {"healthy": (1, 0)}
    (back,) = firing_diff(here, ref, runs)
    assert back.starts == [] and back.stops == [early]
    assert firing_diff(here, here, runs) == []
    text = render_diff([c], runs)
    assert "LOSS001 (changed): starts firing on 1 run(s), stops on 0" in text and "healthy" in text


def test_a_condition_one_side_lacks_is_added_or_removed():
    from types import SimpleNamespace as NS

    from symptom_rates import firing_diff

    from traindx.rules.model import Condition

    def book(**conds: str) -> NS:
        cause = NS(id="overfitting", evidence=[NS(condition=Condition(source=conds.pop("ev")))] if "ev" in conds else [])
        return NS(symptoms=[NS(code=k, condition=Condition(source=v)) for k, v in conds.items()], requirements=[],
                  causes=[cause], calibration=[])  # fmt: skip

    runs = [_nan_run("nonfinite_in_data"), _clean_run("healthy")]
    by = {c.name: c for c in firing_diff(book(LOSS991="loss.has_nonfinite"), book(ev="!loss.has_nonfinite"), runs)}
    assert set(by) == {"LOSS991", "overfitting#+1"}
    assert by["LOSS991"].new is None and by["LOSS991"].stops == runs[:1] and by["LOSS991"].starts == []
    assert by["overfitting#+1"].old is None and by["overfitting#+1"].starts == runs[1:]


def test_the_ref_is_a_directory_or_a_git_ref(tmp_path):
    import shutil
    import subprocess

    from symptom_rates import rulebook_at

    assert rulebook_at(str(tmp_path), ROOT, tmp_path / "x") == tmp_path
    if shutil.which("git") is None:
        pytest.skip("no git")
    repo = tmp_path / "repo"
    (repo / "rulebook" / "symptoms").mkdir(parents=True)
    (repo / "rulebook" / "symptoms" / "a.yaml").write_text("symptoms: []\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "r"], check=True)
    (repo / "rulebook" / "symptoms" / "a.yaml").write_text("changed\n")  # the ref's version is read
    got = rulebook_at("HEAD", repo, tmp_path / "out")
    assert (got / "symptoms" / "a.yaml").read_text() == "symptoms: []\n"
    with pytest.raises(SystemExit, match="neither a directory nor a git ref"):
        rulebook_at("no-such-ref", repo, tmp_path / "out2")


def test_length_filter_keeps_the_strata_named():
    """``--length``: a stratum in full ('epoch 6-20') or a bin for both granularities ('<=5')."""
    keras = FakeRun("healthy", {"loss": {"n_finite": 10, "unit": "epoch"}, "run": {}})
    steps = FakeRun("healthy", {"loss": {"n_finite": 500, "unit": "step"}, "run": {}})
    crash = FakeRun("lr_too_high", {"loss": {"n_finite": 3, "unit": "step"}, "run": {}})
    runs = [keras, steps, crash]
    assert of_length(runs, "epoch 6-20") == [keras]
    assert of_length(runs, "<=5, step >100") == [steps, crash]
    assert of_length(runs, "epoch >100") == []


def test_an_evidence_item_inserted_mid_cause_is_the_only_change():
    """Cause evidence is named against the reference's positions by source, so inserting an
    item shows that item as added, not every later item as changed (fa40, gapsb40)."""
    from types import SimpleNamespace as NS

    from symptom_rates import firing_diff

    from traindx.rules.model import Condition

    def book(*items: str) -> NS:
        cause = NS(id="overfitting", evidence=[NS(condition=Condition(source=s)) for s in items])
        return NS(symptoms=[], requirements=[], causes=[cause], calibration=[])

    runs = [_nan_run("nonfinite_in_data"), _clean_run("healthy")]
    a, b, c = "loss.has_nonfinite", "!loss.has_nonfinite", "loss.n_finite > 0"
    (added,) = firing_diff(book(a, b), book(a, c, b), runs)
    assert added.name == "overfitting#+1" and added.old is None and added.new == c
    (changed,) = firing_diff(book(a, b), book(a, c), runs)  # b edited into c in place
    assert changed.name == "overfitting#2" and (changed.old, changed.new) == (b, c)
    (removed,) = firing_diff(book(a, c, b), book(a, b), runs)
    assert removed.name == "overfitting#2" and removed.old == c and removed.new is None
    assert firing_diff(book(a, c, b), book(a, c, b), runs) == []
