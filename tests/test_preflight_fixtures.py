"""The preflight program suite (fixtures/preflight): torch programs at the top, Keras ones in
keras/ (TensorFlow backend), JAX ones in jax/ (plain params, flax linen, flax nnx, equinox).
Over all of them, each buggy program's cause is ranked first in at least 90 %, and no
healthy program gets a warning."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "preflight"))

import run_all  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def _count(fw: str) -> tuple[int, int, int]:
    progs = run_all.programs(frameworks=(fw,))
    bug = [p for p in progs if not p.stem.startswith("healthy")]
    return len(bug), len(progs) - len(bug), len({p.stem.split("__")[0] for p in bug})


def test_suite_is_large_and_covers_many_causes():
    assert _count("torch") >= (30, 15, 15)
    keras_bug, keras_ok, keras_causes = _count("keras")
    assert keras_bug >= 12 and keras_ok >= 5 and keras_causes >= 10
    jax_bug, jax_ok, jax_causes = _count("jax")
    assert jax_bug >= 10 and jax_ok >= 5 and jax_causes >= 10
    forms = {p.stem.split("__")[1].split("_")[0] for p in run_all.programs(frameworks=("jax",))}
    assert {"linen", "nnx", "eqx"} <= forms  # and plain dict params in the others


def test_right_cause_first_and_healthy_programs_clean():
    frameworks = tuple(fw for fw in run_all.FRAMEWORKS if fw == "torch" or _importable(fw))
    rows = [run_all.run_one(p) for p in run_all.programs(frameworks=frameworks)]
    bug = [r for r in rows if r["cause"] != "healthy"]
    ok = [r for r in rows if r["cause"] == "healthy"]
    wrong = [(r["framework"], r["program"], r["top"]) for r in bug if not r["ok"]]
    assert sum(r["ok"] for r in bug) >= 0.9 * len(bug), wrong
    assert all(r["ok"] for r in ok), [(r["framework"], r["program"], r["verdict"], r["symptoms"]) for r in ok if not r["ok"]]
    for r in rows:  # a check that cannot run says so; the suite's models allow these checks
        assert all(st != "skipped" for name, (st, _) in r["checks"].items() if name not in ("batch", "gradcheck", "lr", "modes")), r


def _importable(fw: str) -> bool:
    import importlib.util

    need = {"keras": ("keras", "tensorflow"), "jax": ("jax", "optax", "flax", "equinox")}[fw]
    return all(importlib.util.find_spec(n) is not None for n in need)


def test_programs_get_their_own_common_whatever_is_imported_before(monkeypatch):
    # CI order: the corpus tests import fixtures/common.py as `common` first; the programs'
    # `from common import digits` must still mean fixtures/preflight/common.py
    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    monkeypatch.syspath_prepend(str(fixtures))
    monkeypatch.delitem(sys.modules, "common", raising=False)
    import common

    assert Path(common.__file__).parent == fixtures
    healthy = next(p for p in run_all.programs(frameworks=("torch",)) if p.stem == "healthy__mlp_adam")
    assert run_all.run_one(healthy)["ok"]
    assert sys.modules["common"] is common
