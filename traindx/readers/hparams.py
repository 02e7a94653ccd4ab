"""Hyperparameters wherever a run keeps them, into ``RunContext.hyperparameters``.

``RunContext.hyperparameters`` maps a name to a value: a number (``int``/``float``), a
string, a bool, or a list of those; nested configurations are flattened to dotted names
(``optimizer.lr``). ``RunContext.hyperparameter_sources`` says where each name was read
(a file path, or ``directory name '<name>'``). Sources, first one wins for a name:

1. the adapter's ``context.json`` (what the traindx callback recorded);
2. files beside the logs: Lightning's ``hparams.yaml``, a HuggingFace ``training_args.json``
   (``TrainingArguments.to_json_string()``), Hydra's ``.hydra/overrides.yaml``, the readers'
   own (MLflow params, W&B config, TensorBoard's hparams plugin, ``trainer_state.json``);
3. ``key=value`` directory names from the root given down to the run (Hydra's multirun
   ``lr=0.01,bs=32``, Ray Tune's ``train_fn_1a2b3_00000_0_lr=0.0100,bs=32_2024-...``),
   and ``lr_0.01-batch_size_32`` (plain numbers only: ``-`` also begins a negative number
   or an exponent), the nearest directory first.

Where the run's LR is not otherwise known (``context.optimizer.lr``), one learning-rate
hyperparameter (``lr``, ``learning_rate``, or a dotted name ending in one) fills it; the
other settings the hyperparameters state (class count, dropout, weight decay, batch size,
optimizer ...) fill the context by :mod:`traindx.readers.hparams_facts`.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from traindx.schema import Run, RunContext

#: Files of hyperparameters beside a run's logs: name -> what writes it.
HPARAM_FILES = {
    "hparams.yaml": "Lightning",
    "training_args.json": "HuggingFace TrainingArguments",
}
HYDRA_OVERRIDES = Path(".hydra") / "overrides.yaml"
#: Names kept from a configuration at most (a full model config is not a run's hyperparameters).
MAX_NAMES = 200

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_KEY = re.compile(r"[A-Za-z_][\w.\-/]*")
#: Ray Tune's trial directory: ``<trainable>_<trial id>_<index>_<k=v,...>[_<date>]``.
_RAY = re.compile(r".+?_[0-9a-f]{5}_\d{5}_\d+_(?P<kv>.+?)(?:_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})?")
_LR_NAMES = {"lr", "learning_rate", "learning-rate", "learningrate"}
#: ``lr_0.01-bs_32``: ``-``-separated ``name_number`` pairs (a name may hold ``_``: the number
#: after its last ``_`` is the value, never negative since ``-`` separates the pairs).
_UNDERSCORE_PAIR = re.compile(r"(?P<k>[A-Za-z][A-Za-z0-9_]*?)_(?P<v>\d+(?:\.\d+)?)")


def parse_value(text: str) -> Any:
    """A number when ``text`` is one (``"32"`` -> 32, ``"1e-3"`` -> 0.001), a bool for
    ``true``/``false``, else the text itself (stripped)."""
    t = text.strip()
    if _INT.fullmatch(t):
        return int(t)
    if _FLOAT.fullmatch(t):
        return float(t)
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    return t


def from_dir_name(name: str) -> dict[str, Any]:
    """``lr=0.01,bs=32`` -> ``{"lr": 0.01, "bs": 32}``; {} unless every comma-separated
    part is one ``key=value`` (a name that only mentions ``=`` somewhere is not read).
    ``lr_0.01-bs_32`` is read when every ``-``-separated part, two at least, is a name, ``_``
    and a plain number (so ``version_0``, ``run_2024-01-05`` and ``lr_1e-3-bs_32`` are not)."""
    m = _RAY.fullmatch(name)
    text = m.group("kv") if m and "=" in m.group("kv") else name
    if "=" not in text:
        pairs = [_UNDERSCORE_PAIR.fullmatch(p) for p in text.split("-")]
        if len(pairs) < 2 or not all(pairs) or len({p["k"] for p in pairs if p}) < len(pairs):
            return {}
        return {p["k"]: parse_value(p["v"]) for p in pairs if p}
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if not eq or "=" in value or not _KEY.fullmatch(key.strip()) or key.strip() in out:
            return {}
        out[key.strip()] = parse_value(value)
    return out


def flatten(doc: Any, prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """A nested mapping as dotted names -> scalars (lists of scalars kept, other values as text)."""
    out = {} if out is None else out
    if isinstance(doc, dict):
        for k, v in doc.items():
            if len(out) >= MAX_NAMES:
                break
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif prefix:
        out[prefix] = _scalar(doc)
    return out


def _scalar(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, list | tuple) and all(
        x is None or isinstance(x, bool | int | float | str) for x in v
    ):
        return [_scalar(x) for x in v]
    return str(v)


@lru_cache(maxsize=1)
def _loader() -> type:
    """Safe YAML that reads Python-object tags (Lightning saves some hparams that way) as
    text (built on first use: ``yaml`` is imported only when such a file is read)."""
    import yaml

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> str:
        if isinstance(node, yaml.ScalarNode) and node.value:
            return f"{suffix}({node.value})"
        return suffix.rsplit(":", 1)[-1] or "object"

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", tagged)
    Loader.add_multi_constructor("!", tagged)
    return Loader


def read_file(path: Path) -> tuple[dict[str, Any], str | None]:
    """(hyperparameters, problem) of a hyperparameter file; a problem is one line naming the file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return {}, f"{path}: cannot read ({e.strerror or e}); its hyperparameters were not read"
    import yaml

    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_loader())  # noqa: S506
    except (ValueError, yaml.YAMLError) as e:
        what = "JSON" if path.suffix == ".json" else "YAML"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return {}, f"{path}: not valid {what} ({first}); its hyperparameters were not read"
    if path.name == HYDRA_OVERRIDES.name and isinstance(doc, list):  # ["lr=0.01", "+bs=32"]
        items = [str(x).lstrip("+~") for x in doc]
        return {k: parse_value(v) for k, _, v in (s.partition("=") for s in items) if k}, None
    if doc is None:  # Lightning writes an empty hparams.yaml when nothing was saved
        return {}, None
    if not isinstance(doc, dict):
        return (
            {},
            f"{path}: expected a mapping of hyperparameters, found {type(doc).__name__}; not read",
        )
    return flatten(doc), None


def files_near(dirs: set[Path]) -> list[Path]:
    """Hyperparameter files in the run's directories (its own and those its logs lie in)."""
    out = []
    for d in sorted(dirs):
        names: tuple[str | Path, ...] = (*HPARAM_FILES, HYDRA_OVERRIDES)
        for name in names:
            p = d / name
            try:
                if p.is_file():
                    out.append(p)
            except OSError:
                continue
    return out


def add(ctx: RunContext, values: dict[str, Any], source: str) -> None:
    """Add hyperparameters a name at a time; a name already known keeps its first value."""
    for k, v in values.items():
        if k not in ctx.hyperparameters:
            ctx.hyperparameters[k] = v
            ctx.hyperparameter_sources[k] = source
        elif k not in ctx.hyperparameter_sources:
            ctx.hyperparameter_sources[k] = source


def dir_names(run_id: str, root_name: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(directory name, hyperparameters) of the run's path, nearest directory first."""
    parts = [p for p in Path(run_id).parts if p not in (".", "..")]
    if root_name:
        parts.insert(0, root_name)
    return [(p, kv) for p in reversed(parts) if (kv := from_dir_name(p))]


def learning_rate(hp: dict[str, Any]) -> tuple[str, float] | None:
    """(name, value) of the one learning rate the hyperparameters name; None when none is
    named or several different ones are (a per-group LR is not one LR)."""
    found: dict[float, str] = {}
    for k, v in hp.items():
        last = re.split(r"[./]", k)[-1].lower()
        if last in _LR_NAMES and isinstance(v, str):
            v = parse_value(v)  # YAML 1.1 reads ``lr: 1e-3`` (no dot) as text
        if last in _LR_NAMES and isinstance(v, int | float) and not isinstance(v, bool):
            if math.isfinite(v) and v >= 0:
                found.setdefault(float(v), k)
    if len(found) != 1:
        return None
    value, name = next(iter(found.items()))
    return name, value


def fill_lr(ctx: RunContext) -> None:
    """``context.optimizer.lr`` from a learning-rate hyperparameter, when the run did not say."""
    if ctx.optimizer.lr is not None:
        return
    got = learning_rate(ctx.hyperparameters)
    if got is not None:
        ctx.optimizer.lr = got[1]


def attach(
    run: Run, source: Path, files: list[Path], found: list[tuple[dict[str, Any], str]],
    context_file: str, root_name: str | None,
) -> None:  # fmt: skip
    """Give ``run.context`` its hyperparameters, first source first: the adapter's
    ``context_file`` among ``files``, hyperparameter files beside them, what the readers
    ``found`` (values, file), the run's ``key=value`` directory names; then the LR."""
    ctx = run.context
    own = next((str(f) for f in files if f.name == context_file), None)
    if own:
        add(ctx, dict(ctx.hyperparameters), own)
    is_dir = source.is_dir()
    for path in files_near({f.parent for f in files} | ({source} if is_dir else set())):
        values, problem = read_file(path)
        if problem:
            run.ingest.add("unreadable", problem, file=str(path))
            continue
        run.ingest.files.append(str(path))
        add(ctx, values, str(path))
    for values, src in found:
        add(ctx, values, src)
    names = dir_names(run.id, root_name) if is_dir else dir_names("", source.parent.name)
    for name, values in names:
        add(ctx, values, f"directory name '{name}'")
    fill_lr(ctx)
    from traindx.readers.hparams_facts import fill_context

    skipped = fill_context(ctx)
    if skipped:
        what = "; ".join(f"{k} ({why})" for k, why in sorted(skipped.items()))
        run.ingest.add("skipped", f"hyperparameters not read as context facts: {what}", count=len(skipped))
