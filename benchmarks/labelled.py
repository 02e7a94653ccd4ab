"""Labelled runs for the accuracy benchmark: discovery, label mapping and a facts cache.

Every run directory with a ``label.json`` under the roots (fixtures/logs, fixtures/corpus,
fixtures/qa, fixtures/qa_keras, fixtures/qa_wild, fixtures/qa_wild_keras, fixtures/qa_fresh,
fixtures/qa_heldout, fixtures/qa_small, fixtures/qa_real, fixtures/qa_fresh21, fixtures/qa_fresh22,
fixtures/qa_fresh23, fixtures/qa_fresh24, fixtures/qa_fresh26, fixtures/qa_real26, fixtures/qa_real27,
fixtures/healthy_aggr;
``*.tar.xz`` archives there are unpacked once into the cache directory) is read
and its facts computed ONCE; the facts are cached on disk keyed by the run's file contents and the
source of the readers and signals, so a second benchmark run only re-scores.

Labels follow fixtures/corpus-contract (cause, input_kind, framework, writer, data, model,
style, ...); the older fixtures/logs labels are mapped onto the same fields. The generated
corpus's labels are read through the one label policy (fixtures/corpus/label.py ``policy``):
faulty, healthy, or benign (a fault present that did not hurt: ``cause`` is the injected one,
``benign`` True; benchmarks/accuracy.py scores those apart and fits nothing on them).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import tarfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROOTS = ("fixtures/logs", "fixtures/corpus", "fixtures/qa", "fixtures/qa_keras", "fixtures/qa_wild",
         "fixtures/qa_wild_keras", "fixtures/qa_fresh", "fixtures/qa_heldout", "fixtures/qa_small",
         "fixtures/qa_real", "fixtures/qa_fresh21", "fixtures/qa_fresh22",
         "fixtures/qa_fresh23", "fixtures/qa_fresh24", "fixtures/qa_fresh26",
         "fixtures/qa_real26", "fixtures/qa_real27", "fixtures/qa_fresh27", "fixtures/qa_fresh28",
         "fixtures/qa_fresh33", "fixtures/qa_real33", "fixtures/qa_fresh34",
         "fixtures/qa_real34", "fixtures/qa_fresh35", "fixtures/qa_real35", "fixtures/qa_real36",
         "fixtures/qa_fresh36", "fixtures/qa_fresh37", "fixtures/qa_real37", "fixtures/qa_real38",
         "fixtures/qa_fresh38", "fixtures/qa_real39", "fixtures/qa_fresh39",
         "fixtures/qa_real40",
         "fixtures/qa_real41",
         "fixtures/qa_real42",
         "fixtures/qa_real43",
         "fixtures/qa_real44",
         "fixtures/qa_real45",
         "fixtures/qa_real46",
         "fixtures/qa_real47",
         "fixtures/qa_real48",
         "fixtures/qa_real49",
         "fixtures/qa_real50",
         "fixtures/qa_fresh40",
         "fixtures/qa_fresh41",
         "fixtures/qa_fresh42",
         "fixtures/qa_fresh43",
         "fixtures/qa_fresh44",
         "fixtures/qa_fresh45",
         "fixtures/qa_fresh46",
         "fixtures/qa_fresh47",
         "fixtures/qa_fresh48",
         "fixtures/qa_fresh49",
         "fixtures/qa_fresh50",
         "fixtures/qa_keras40",
         "fixtures/qa_keras41",
         "fixtures/qa_keras48",
         "fixtures/qa_keras49",
         "fixtures/qa_keras50",
         "fixtures/qa_wild41",
         "fixtures/qa_mixed41",
         "fixtures/qa_wild42",
         "fixtures/qa_begin42",
         "fixtures/qa_jax42",
         "fixtures/qa_mixed42",
         "fixtures/qa_wild43",
         "fixtures/qa_jax43",
         "fixtures/qa_mixed43",
         "fixtures/qa_begin44",
         "fixtures/qa_mixed44",
         "fixtures/qa_wild44",
         "fixtures/qa_jax44",
         "fixtures/qa_begin45",
         "fixtures/qa_mixed45",
         "fixtures/qa_wild45",
         "fixtures/qa_wild46",
         "fixtures/qa_wild47",
         "fixtures/qa_wild48",
         "fixtures/qa_wild49",
         "fixtures/qa_wild50",
         "fixtures/qa_jax45",
         "fixtures/qa_begin46",
         "fixtures/qa_jax46",
         "fixtures/qa_jax47",
         "fixtures/qa_mixed46",
         "fixtures/qa_begin47",
         "fixtures/qa_mixed47",
         "fixtures/qa_begin48",
         "fixtures/qa_jax48",
         "fixtures/qa_mixed48",
         "fixtures/qa_mixed49",
         "fixtures/qa_mixed50",
         "fixtures/qa_begin49",
         "fixtures/qa_jax50",
         "fixtures/qa_begin50",
         "fixtures/healthy_aggr")
CACHE = ROOT / ".cache" / "accuracy"


def _corpus_label():
    """fixtures/corpus/label.py (never imports traindx), loaded by path so that the corpus
    scripts' module names (data, load, spec...) stay off sys.path."""
    spec = importlib.util.spec_from_file_location("corpus_label", ROOT / "fixtures" / "corpus" / "label.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


policy = _corpus_label().policy

#: the fixtures' writer directories recorded through a traindx adapter
_ADAPTER_WRITERS = {
    "torch_mon": "torch_adapter",
    "keras_cb": "keras_adapter",
    "jax_rec": "jax_adapter",
}
#: the fields a leave-one-family-out fold holds out
FAMILIES = ("data", "model", "writer", "framework", "style")


@dataclass
class Labelled:
    """One labelled run: where it is, what it is, and its facts (computed once)."""

    path: str  # relative to the repository root (or to the cache for unpacked archives)
    cause: str
    visible: bool
    input_kind: str
    framework: str
    writer: str
    data: str
    model: str
    style: str
    scenario: str  # the training run (shared by several writers' recordings of it)
    benign: bool = False  # a fault present (``cause``) that did not hurt training
    facts: dict[str, Any] = field(default_factory=dict, repr=False)
    n_runs: int = 1  # runs the reader found in the directory (the first is diagnosed)

    def family(self, name: str) -> str:
        return str(getattr(self, name))


#: the ``--by-length`` strata: (upper bound on the main loss's logged evaluations, name)
LENGTH_BINS = ((5, "<=5"), (20, "6-20"), (100, "21-100"), (None, ">100"))


def length_stratum(facts: dict[str, Any]) -> str:
    """A run's stratum by how much of its main loss was logged: the number of finite
    evaluations of the training loss (the validation loss where none), binned by
    :data:`LENGTH_BINS`, and whether they are one per epoch ("epoch": an epoch-unit series,
    or no more points than the epochs they fall in, plus one) or finer ("step"). A run
    with neither loss falls back on the curve a healthy verdict rests on (``run.curve_points``)."""
    run = facts.get("run") or {}
    main = facts.get("loss") or facts.get("val_loss") or {}
    n = int(main.get("n_finite", run.get("curve_points", 0)) or 0)
    epochs = int(run.get("curve_epochs") or 0)
    per_epoch = main.get("unit", run.get("curve_unit")) == "epoch" or (
        epochs > 0 and int(run.get("curve_points") or 0) <= epochs + 1
    )
    name = next(name for hi, name in LENGTH_BINS if hi is None or n <= hi)
    return f"{'epoch' if per_epoch else 'step'} {name}"


def map_label(label: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The contract's fields from a label in either format."""
    writer = label.get("writer") or run_dir.parent.name
    kind = label.get("input_kind") or _ADAPTER_WRITERS.get(writer, "logs")
    cause, benign = policy(label)
    framework = label.get("framework") or "?"
    if framework == "keras":
        framework = "keras-tf"  # the fixtures' Keras runs use the TensorFlow backend
    return {
        "cause": cause,
        "benign": benign,
        "visible": bool(label.get("log_visible", True)),
        "input_kind": kind,
        "framework": framework,
        "writer": writer,
        "data": str(label.get("data") or "?"),
        "model": str(label.get("model") or "?"),
        "style": label.get("style") or "fixture",
        "scenario": label.get("pair") or run_dir.name,
    }


def _unpack(archive: Path) -> Path:
    """A tar.xz of run directories, unpacked once under the cache (keyed by its hash)."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    dest = CACHE / "unpacked" / f"{archive.stem.removesuffix('.tar')}-{digest}"
    if not (dest / ".done").exists():
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "r:xz") as tar:
            tar.extractall(dest, filter="data")
        (dest / ".done").write_text("")
    return dest


def discover(roots: list[Path]) -> list[Path]:
    """Every directory holding a label.json under the roots (archives unpacked)."""
    found: list[Path] = []
    for root in roots:
        if not root.exists():
            continue
        # directories starting with "_" are scratch (a generator's _work, a loader's _cache):
        # the committed runs are the plain directories and the archives
        def committed(p: Path, root: Path = root) -> bool:
            return not any(part.startswith("_") for part in p.relative_to(root).parts)

        found.extend(p.parent for p in sorted(root.rglob("label.json")) if committed(p))
        for archive in sorted(a for a in root.rglob("*.tar.xz") if committed(a)):
            found.extend(p.parent for p in sorted(_unpack(archive).rglob("label.json")))
    return found


#: traindx's modules the facts of a run depend on (reading it: traindx.api.read; its facts:
#: traindx.signals.compute_facts), whose source keys the facts cache. A module they import
#: that is missing here leaves stale facts after a change to it (tests/test_accuracy_cv.py
#: checks the list against the import graph).
FACT_SOURCES = (
    "readers", "signals", "schema.py", "names.py", "name_tables.py", "name_habits.py", "name_letters.py", "name_averages.py", "metric_direction.py",
    "api.py", "arrays.py", "checks", "ingest.py", "ordering.py", "ranks.py", "textsafe.py", "context_json.py",
)  # fmt: skip


def _code_version() -> str:
    h = hashlib.sha256()
    pkg = ROOT / "traindx"
    for sub in FACT_SOURCES:
        p = pkg / sub
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _files_key(run_dir: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(run_dir.rglob("*")):
        if f.is_file() and f.name != "label.json":
            # by content, not mtime: a fresh checkout or a git worktree shares the cache
            # (hashing every run's files costs ~1 s over the whole corpus)
            with f.open("rb") as fh:
                digest = hashlib.file_digest(fh, "sha1").hexdigest()
            h.update(f"{f.relative_to(run_dir)}:{digest}".encode())
    return h.hexdigest()[:16]


def _facts_of(run_dir: Path) -> tuple[dict[str, Any], int]:
    from traindx.api import read
    from traindx.signals import compute_facts

    runs = read(run_dir)
    return compute_facts(runs[0]), len(runs)


def load(
    roots: list[Path] | None = None, *, cache: bool = True, verbose: bool = False,
    kinds: Collection[str] | None = None,
) -> list[Labelled]:
    """Every labelled run under the roots with its facts (from the cache when unchanged);
    ``kinds``: only the runs of those input kinds (by their label: the others' facts are
    neither computed nor read)."""
    roots = roots if roots is not None else [ROOT / r for r in ROOTS]
    version = _code_version()
    cache_file = CACHE / f"facts-{version}.pkl"
    store: dict[str, tuple[str, dict[str, Any], int]] = {}
    if cache and cache_file.exists():
        store = pickle.loads(cache_file.read_bytes())  # noqa: S301 - our own cache file
    out, dirty = [], False
    for run_dir in discover(roots):
        rel = str(run_dir.relative_to(ROOT)) if run_dir.is_relative_to(ROOT) else str(run_dir)
        label = map_label(json.loads((run_dir / "label.json").read_text()), run_dir)
        if kinds is not None and label["input_kind"] not in kinds:
            continue
        key = _files_key(run_dir)
        hit = store.get(rel)
        if hit and hit[0] == key:
            facts, n = hit[1], hit[2]
        else:
            try:
                facts, n = _facts_of(run_dir)
            except Exception as e:  # a run the readers reject is reported, not skipped silently
                if verbose:
                    print(f"{rel}: cannot read ({type(e).__name__}: {e})")
                facts, n = {"_error": {"message": str(e)}}, 0
            store[rel] = (key, facts, n)
            dirty = True
        out.append(Labelled(path=rel, facts=facts, n_runs=n, **label))
    if cache and dirty:
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(store))
        tmp.replace(cache_file)
    return out
