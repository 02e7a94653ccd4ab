"""Start-up (issue 15): what a ``traindx diagnose`` imports and does once per process.

The timings themselves are benchmarks/startup.py's (they depend on the machine); these
tests hold the causes of a slow start-up away: modules a command does not use, and work
done per condition that can be done once per run.
"""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from traindx.api import read
from traindx.engine import Bound, check
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Condition
from traindx.signals import compute_facts

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "fixtures" / "logs" / "tbx" / "healthy_mlp_wine"

#: not needed by a diagnosis printed as text to a pipe (the rulebook cache warm)
UNUSED = ("importlib.metadata", "rich", "numpy.ma", "tomllib", "yaml", "traindx.rules.parse", "sklearn", "scipy",
          "mlflow", "wandb", "torch", "tensorflow", "jax", "keras", "traindx.report.html", "traindx.sweep.report",
          "pydantic", "pydantic_core", "traindx._twin")  # fmt: skip


def _imported(args: list[str], env: dict[str, str], modules: tuple[str, ...]) -> list[str]:
    code = (
        "import sys, io, contextlib\nfrom traindx.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main({args!r})\n"
        f"print(sorted(m for m in {modules!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYDANTIC_DISABLE_PLUGINS", "TRAINDX_NO_CACHE")}
    return {**env, "TRAINDX_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT), **extra}


def test_diagnose_imports_only_what_it_uses(tmp_path):
    env = _env(tmp_path)
    args = ["diagnose", str(RUN)]
    first = _imported(args, env, ("yaml",))  # the first run parses the rule files and caches them
    assert first == ["yaml"]
    assert _imported(args, env, UNUSED) == []
    assert _imported(["--help"], env, ("numpy", "pydantic", "rich")) == []


def test_plugins_the_user_turned_on_are_still_looked_for(tmp_path):
    """The plugin loader is replaced only where the plugins are off: an explicit
    PYDANTIC_DISABLE_PLUGINS=0 keeps pydantic's own loader (which reads the entry points)
    where pydantic is used (``--json`` dumps the report with it)."""
    args = ["diagnose", "--json", str(RUN)]
    assert _imported(args, _env(tmp_path), ("importlib.metadata", "pydantic")) == ["pydantic"]
    env = _env(tmp_path, PYDANTIC_DISABLE_PLUGINS="0")
    assert _imported(args, env, ("importlib.metadata",)) == ["importlib.metadata"]


@pytest.mark.parametrize("kind", ["tbx", "torch_mon", "keras_cb", "jax_csv"])
def test_bound_facts_evaluate_every_condition_as_a_dict_does(kind):
    """The shared CEL context (engine.Bound) gives each condition the outcome (value, needs,
    error) it has on a plain dict of the facts, on real runs of each log kind; and so does
    the outcome noted at load for a run without any of the condition's groups
    (``Condition.prepare``), which spares compiling it."""
    book = load_rulebook()
    conds = [s.condition for s in book.symptoms] + [r.condition for r in book.requirements]
    conds += [e.condition for c in book.causes for e in c.evidence] + [c.condition for c in book.calibration]
    named = {g for s in book.symptoms for g in s.condition.groups}
    runs = [r for p in sorted(glob.glob(str(ROOT / "fixtures" / "logs" / kind / "*")))[:6] for r in read(p)]
    assert runs
    n = decided = 0
    for run in runs:
        facts = compute_facts(run)
        bound = Bound(facts, named)
        for c in conds:
            assert c.absent is not None
            fresh = Condition.model_construct(source=c.source)  # not prepared: compiled and run
            assert check(c, bound) == check(fresh, facts) == check(c, facts), (run.id, c.source)
            n += 1
            decided += not any(g in facts for g in c.groups)
    assert n > 100 * len(runs) and decided > 10 * len(runs)


@pytest.mark.parametrize("first", ["cel", "traindx"])
def test_cel_imported_by_the_user_too(first):
    """traindx loads cel's extension without its REPL (traindx/rules/_cel.py); the user's own
    ``import cel``, before or after, shares that one copy (a second load of the extension
    panics in its logger set-up, which took the process down)."""
    ours = "from traindx.engine import check; from traindx.rules.model import Condition; import traindx.rules._cel as c"
    theirs = "import cel"
    order = [theirs, ours] if first == "cel" else [ours, theirs]
    code = "; ".join(order) + "; print(cel.evaluate('1 + 2', {}), check(Condition(source='a.x > 1'), {'a': {'x': 2}}).value)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.split() == ["3", "True"]


def test_diagnose_builds_no_pydantic_model(tmp_path):
    """The engine and the API build the diagnosis and the report from values they made
    (``model_construct``), the readers the run, its series and keys (``Series.checked``),
    and the rulebook comes from its cache, so a cached ``traindx diagnose`` printed as text
    builds none of those models' pydantic twins (traindx.lazymodel) and imports no pydantic."""
    env = _env(tmp_path)
    code = (
        "import io, contextlib\nfrom traindx.cli import main\n"
        "for _ in range(2):\n"
        f"    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main(['diagnose', {str(RUN)!r}])\n"
        "from traindx.api import Report\nfrom traindx.diagnosis import Diagnosis\n"
        "from traindx.rules.model import Cause, Condition, Rulebook, Symptom\n"
        "from traindx.schema import IngestReport, Run, RunContext, Series, SeriesKey\n"
        "import sys\n"
        "print(sorted(m.__name__ for m in (Report, Diagnosis, Rulebook, Symptom, Cause, Condition, "
        "Run, RunContext, Series, SeriesKey, IngestReport) "
        "if m.__dict__.get('_twin_model')) + [m for m in ('pydantic', 'pydantic_core') if m in sys.modules])"
    )
    # the first run in a fresh cache parses and validates the rule files: the second one counts
    subprocess.run([sys.executable, "-m", "traindx.cli", "diagnose", str(RUN)], env=env, cwd=ROOT,
                   capture_output=True, timeout=120, check=False)  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert ast.literal_eval(out.stdout.strip().splitlines()[-1]) == []
