"""The accuracy benchmark's machinery: the vectorized differential reproduces the engine, and
leave-one-family-out cross-validation never fits on the family it scores."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy import Outcome, cross_validate, summarize  # noqa: E402
from accuracy import outcomes as outcomes_of  # noqa: E402
from differential import Compiled, fit, fit_calibration, probabilities, targets  # noqa: E402
from labelled import load, map_label  # noqa: E402

from traindx.api import read  # noqa: E402
from traindx.engine import diagnose_run  # noqa: E402
from traindx.rules.loader import load_rulebook  # noqa: E402


@pytest.fixture(scope="module")
def runs():
    return load([ROOT / "fixtures" / "logs" / "jax_rec", ROOT / "fixtures" / "logs" / "keras_cb"])


@pytest.fixture(scope="module")
def book():
    return load_rulebook()


def test_old_labels_map_to_the_contract_fields():
    m = map_label(
        {
            "cause": "healthy",
            "writer": "keras_cb",
            "framework": "keras",
            "model": "mlp",
            "data": "digits",
        },
        Path("x/keras_cb/run1"),
    )
    assert (
        m["input_kind"] == "keras_adapter"
        and m["framework"] == "keras-tf"
        and m["style"] == "fixture"
    )
    assert m["scenario"] == "run1"
    assert (
        map_label(
            {
                "cause": "lr_too_high",
                "writer": "csv_hand",
                "input_kind": "logs",
                "style": "qa",
                "pair": "p1",
            },
            Path("a/b"),
        )["scenario"]
        == "p1"
    )


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_vectorized_scores_match_the_engine(runs, book, temperature):
    cal = [c.model_copy(update={"temperature": temperature * 0.5}) for c in book.calibration]
    # the differential's own probabilities: without the confidence maps, which the engine
    # applies after it (their mirror: tests/test_confidence.py)
    book = book.model_copy(
        update={"temperature": temperature, "calibration": cal, "confidence": []}
    )
    comp = Compiled.build(book, [r.facts for r in runs])
    p, unknown = probabilities(comp.log_odds(comp.theta0), *comp.calibration())
    checked = 0
    for i, r in enumerate(runs[::4]):
        k = i * 4
        d = diagnose_run(read(ROOT / r.path)[0], book)
        assert bool(comp.alarmed[k]) == (d.verdict == "findings"), r.path
        for c in d.causes:
            assert p[k, comp.causes.index(c.id)] == pytest.approx(c.probability, abs=1e-9), (
                r.path,
                c.id,
            )
        assert unknown[k] == pytest.approx(d.unknown_probability, abs=1e-9) if d.causes else True
        checked += bool(d.causes)
    assert checked >= 5


def _outcome(cause: str, ranked: list[str], group: list[str], healthy_said: bool = False) -> Outcome:
    return Outcome(run="r", writer="w", cause=cause, visible=True, healthy_said=healthy_said,
                   ranked=ranked, p_true=0.0, alarmed=not healthy_said, group=group)  # fmt: skip


def test_the_stated_set_is_the_group_else_the_top_cause():
    abc = ["a", "b", "c", "d"]
    held = _outcome("c", abc, ["a", "b", "c"])  # the group holds the cause: covered, 3 named
    missed = _outcome("d", abc, ["a", "b", "c"])  # it does not: 3 named, not covered
    alone = _outcome("b", abc, [])  # no group: the top cause alone, wrong
    right = _outcome("a", abc, ["a"])  # a one-cause "group" is no group: the top alone
    healthy = _outcome("a", abc, ["a", "b"], healthy_said=True)  # "healthy": nothing named
    assert held.stated == ["a", "b", "c"] and missed.stated == ["a", "b", "c"]
    assert alone.stated == ["a"] and right.stated == ["a"] and healthy.stated == []
    s = summarize([held, missed, alone, right, healthy])
    assert s["faulty"] == 5
    assert s["set_coverage"] == pytest.approx(2 / 5)  # held, right
    assert s["set_size"] == pytest.approx((3 + 3 + 1 + 1 + 0) / 5)
    # top-1/top-3 read the ranking as before (the "healthy" run's ranking included)
    assert s["top1"] == pytest.approx(2 / 5) and s["top3"] == pytest.approx(4 / 5)


def test_the_stated_set_is_what_the_engine_reports(runs, book):
    book = book.model_copy(update={"confidence": []})  # the differential's own probabilities
    comp = Compiled.build(book, [r.facts for r in runs])
    outs = outcomes_of(runs, comp, comp.log_odds(comp.theta0), *comp.calibration())
    grouped = 0
    # every third run, then the others only until one grouped answer is checked too (which
    # sampled run is grouped moves with the rulebook: gapsf48's clipping evidence ungrouped one)
    for i, k in enumerate([*range(0, len(runs), 3), *(k for k in range(len(runs)) if k % 3)]):
        if i >= (len(runs) + 2) // 3 and grouped:
            break
        d = diagnose_run(read(ROOT / runs[k].path)[0], book)
        said = d.confusable.causes if d.confusable else [c.id for c in d.causes[:1]]
        assert outs[k].stated == ([] if d.verdict != "findings" else said), runs[k].path
        grouped += d.confusable is not None
    assert grouped >= 1


def test_fit_moves_toward_the_data_and_the_prior_holds_it(runs, book):
    comp = Compiled.build(book, [r.facts for r in runs])
    tgt = targets(comp, [r.cause for r in runs])
    every = np.arange(len(runs))
    loose, tight = fit(comp, every, tgt, lam=0.1), fit(comp, every, tgt, lam=1e4)

    def nll(theta):
        p, u = probabilities(comp.log_odds(theta), 1.0, book.unknown_prior)
        full = np.concatenate([p, u[:, None]], axis=1)[comp.alarmed]
        return -np.log(full[np.arange(len(full)), tgt[comp.alarmed]]).sum()

    assert nll(loose) < nll(comp.theta0)
    assert np.abs(tight - comp.theta0).max() < np.abs(loose - comp.theta0).max()
    t, u = fit_calibration(comp.log_odds(comp.theta0)[comp.alarmed], tgt[comp.alarmed], (1.0, 0.03))
    assert 0.25 <= t <= 20 and 0 < u < 1


def test_held_out_family_is_never_fitted_on(runs, book):
    """Relabel one dataset family to a wrong cause: fitting on it would learn the wrong
    label, so its held-out scores must equal those of a fit on the other runs only."""
    fam = "make_classification"
    assert sum(r.data == fam for r in runs) >= 5
    poisoned = [
        type(r)(**{**r.__dict__, "cause": "overfitting"}) if r.data == fam else r for r in runs
    ]
    comp = Compiled.build(book, [r.facts for r in poisoned])
    lo, temps, unks, values = cross_validate(poisoned, comp, "data", lam=0.3)
    assert fam in values and len(values) >= 2
    held = np.array([r.data == fam for r in poisoned])
    scen = {r.scenario for r in poisoned if r.data == fam}
    train = np.array(
        [i for i, r in enumerate(poisoned) if r.data != fam and r.scenario not in scen]
    )
    tgt = targets(comp, [r.cause for r in poisoned])
    expected = comp.log_odds(fit(comp, train, tgt, 0.3), np.where(held)[0])
    np.testing.assert_allclose(lo[held], expected)
    in_sample = comp.log_odds(fit(comp, np.arange(len(poisoned)), tgt, 0.3), np.where(held)[0])
    assert not np.allclose(np.nan_to_num(in_sample, neginf=0), np.nan_to_num(expected, neginf=0))
    outs = outcomes_of(poisoned, comp, lo, temps, unks)
    s = summarize(outs)
    assert 0 <= s["ece"] <= 1 and s["faulty"] == sum(r.cause != "healthy" for r in poisoned)
    assert math.isfinite(s["mean_p_true"])


def test_write_back_rewrites_only_the_kept_causes(tmp_path, runs, book):
    import shutil

    from fit_rulebook import write_back, write_settings

    shutil.copytree(ROOT / "rulebook", tmp_path / "rulebook")
    comp = Compiled.build(book, [r.facts for r in runs[:3]])
    theta = comp.theta0 + math.log(2.0)  # every number doubled
    write_back(comp, theta, ["lr_too_high"], tmp_path / "rulebook")
    write_settings(tmp_path / "rulebook", book, {-1: (1.7, 0.05), 0: (0.6, 0.01)})
    new = load_rulebook([tmp_path / "rulebook"], builtin=False)
    old_c, new_c = book.cause("lr_too_high"), new.cause("lr_too_high")
    assert new_c.prior == pytest.approx(2 * old_c.prior, rel=0.01)
    for k, v in old_c.explains.items():
        assert new_c.explains[k] == pytest.approx(2 * v, rel=0.05), k
    for a, b in zip(old_c.evidence, new_c.evidence, strict=True):
        assert b.lr == pytest.approx(2 * a.lr, rel=0.05) and a.when == b.when
    assert new.cause("lr_too_low").explains == book.cause("lr_too_low").explains
    assert new.temperature == pytest.approx(1.7) and new.unknown_prior == pytest.approx(0.05)
    assert new.confidence == book.confidence and new.learned_keeps == book.learned_keeps
    assert (
        new.calibration[0].temperature == pytest.approx(0.6)
        and new.calibration[0].when == book.calibration[0].when
    )


def test_runs_in_tar_xz_archives_are_read(tmp_path, monkeypatch):
    import tarfile

    import labelled

    monkeypatch.setattr(labelled, "CACHE", tmp_path / "cache")
    src = ROOT / "fixtures" / "logs" / "jax_csv"
    names = sorted(p.name for p in src.iterdir() if (p / "label.json").exists())[:3]
    root = tmp_path / "corpus"
    root.mkdir()
    with tarfile.open(root / "shard-0.tar.xz", "w:xz") as tar:
        for n in names:
            tar.add(src / n, arcname=f"shard-0/{n}")
    got = load([root])
    assert sorted(r.path.rsplit("/", 1)[-1] for r in got) == names
    assert all(r.facts and "_error" not in r.facts for r in got)
    assert load([root]) and (tmp_path / "cache").exists()  # second time: from the cache


def test_kinds_restrict_the_runs_loaded_and_scored(tmp_path):
    """``accuracy.py --kinds``: only the runs of the kinds named are loaded (their facts alone
    computed); a kind is named in full or by its framework."""
    import argparse

    from accuracy import parse_kinds, restrict_learned

    assert parse_kinds("logs,torch_adapter") == ("logs", "torch_adapter")
    assert parse_kinds("torch, keras,jax,torch") == ("torch_adapter", "keras_adapter", "jax_adapter")
    for bad in ("tf", "logs,mxnet", ",", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_kinds(bad)
    roots = [ROOT / "fixtures" / "logs" / "jax_rec", ROOT / "fixtures" / "logs" / "keras_cb"]
    every = load(roots, cache=False)
    assert {r.input_kind for r in every} == {"jax_adapter", "keras_adapter"}
    jax = load(roots, cache=False, kinds=("jax_adapter",))
    assert [r.path for r in jax] == [r.path for r in every if r.input_kind == "jax_adapter"] != []
    assert load(roots, cache=False, kinds=("logs",)) == []
    # the learned layer only for the kinds loaded (an adapter-only run fits none)
    assert restrict_learned("auto", ("torch_adapter", "jax_adapter"), ["logs"]) == "off"
    assert restrict_learned("auto", ("logs", "jax_adapter"), ["logs"]) == "logs"
    assert restrict_learned("logs,jax_adapter", ("jax_adapter",), ["logs"]) == "jax_adapter"
    assert restrict_learned("auto", None, ["logs"]) == "auto" and restrict_learned("off", ("logs",), []) == "off"


def test_the_facts_cache_key_reads_every_module_facts_depend_on():
    """benchmarks/labelled.py keys its facts cache by the source of FACT_SOURCES: every
    traindx module the readers and signals import (lazy imports too) is there, but for the
    judging side a preflight check's verdict reaches through traindx.checks (engine, rules...),
    which computes no fact, and modules that hold no values."""
    from labelled import FACT_SOURCES
    from test_layering import _graph

    judging = ("traindx.engine", "traindx.rules", "traindx.diagnosis", "traindx.learned", "traindx.confidence",
               "traindx.rerank", "traindx.separation", "traindx.headline", "traindx.causes")  # fmt: skip
    no_values = ("traindx", "traindx._twin", "traindx.lazymodel", "traindx.errors")
    g = _graph()
    seen: set[str] = set()
    todo = [m for m in g if m.startswith(("traindx.readers", "traindx.signals"))] + ["traindx.names", "traindx.api"]
    while todo:
        m = todo.pop()
        if m in seen or m not in g or m in no_values or m.startswith(judging):
            continue
        seen.add(m)
        todo.extend(g[m] - {"traindx.engine"} if m == "traindx.api" else g[m])  # api.read, not diagnose
    hashed = {s.removesuffix(".py") for s in FACT_SOURCES}
    missing = sorted(m for m in seen if m.split(".")[1] not in hashed)
    assert missing == [], f"add to benchmarks/labelled.py FACT_SOURCES: {missing}"


def test_length_strata_count_the_main_loss_and_tell_per_epoch_from_per_step(tmp_path):
    """``accuracy.py --by-length``: a run's stratum is the number of finite evaluations of
    its training loss and whether they are one per epoch (a Keras CSVLogger) or finer."""
    from labelled import length_stratum

    from traindx.signals import compute_facts

    def stratum(name: str, text: str) -> str:
        d = tmp_path / name
        d.mkdir()
        (d / "log.csv").write_text(text)
        return length_stratum(compute_facts(read(d)[0]))

    per_epoch = "epoch,loss,val_loss\n" + "".join(f"{e},{1.0 / (e + 1)},{1.1 / (e + 1)}\n" for e in range(8))
    per_step = "step,loss\n" + "".join(f"{s},{1.0 / (s + 1)}\n" for s in range(150))
    assert stratum("keras", per_epoch) == "epoch 6-20"
    assert stratum("steps", per_step) == "step >100"
    assert stratum("short", "epoch,loss\n0,1.0\n1,0.8\nnan_row,\n2,nan\n").endswith(" <=5")
    # the bins are the upper bounds, in order, the last open
    assert length_stratum({"loss": {"n_finite": 21, "unit": "step"}, "run": {}}) == "step 21-100"
    assert length_stratum({"val_loss": {"n_finite": 100, "unit": "epoch"}, "run": {}}) == "epoch 21-100"
    assert length_stratum({"run": {"curve_points": 0}}) == "step <=5"


def test_the_cached_differential_is_the_built_one_and_a_changed_rulebook_misses(runs, book, tmp_path):
    facts = [r.facts for r in runs]
    built = Compiled.build(book, facts)
    first = Compiled.cached(book, facts, tmp_path)  # a miss: built, then written
    again = Compiled.cached(book, facts, tmp_path)  # a hit: read back
    assert len(list(tmp_path.glob("compiled-*.pkl"))) == 1
    for c in (first, again):
        assert c.book is book and c.causes == built.causes and c.names == built.names
        assert c.fired == built.fired and c._rows == built._rows
        assert np.array_equal(c.theta0, built.theta0) and np.array_equal(c.alarmed, built.alarmed)
        assert np.array_equal(c.cal_group, built.cal_group)
    # another rulebook (one cause's prior changed) is another entry, built afresh
    cause = book.causes[0]
    other = book.model_copy(update={"causes": [cause.model_copy(update={"prior": cause.prior * 2}), *book.causes[1:]]})
    changed = Compiled.cached(other, facts, tmp_path)
    assert len(list(tmp_path.glob("compiled-*.pkl"))) == 2
    assert changed.theta0[0] == pytest.approx(built.theta0[0] + math.log(2))
