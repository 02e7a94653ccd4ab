"""Load rule files (YAML) into a :class:`Rulebook`, with file:line errors for broken ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from traindx.errors import RulebookError
from traindx.rules.model import Cause, Requirement, Rulebook, Symptom

LINE = "__line__"


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that records the line of every mapping under ``__line__``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        return mapping


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != LINE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _line_of(obj: Any, loc: tuple[Any, ...]) -> int | None:
    """Deepest line number recorded along a pydantic error location."""
    line = obj.get(LINE) if isinstance(obj, dict) else None
    for part in loc:
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(obj, dict) and LINE in obj:
            line = obj[LINE]
    return line


def builtin_dir() -> Path:
    """The shipped rulebook: package data in a wheel, ``rulebook/`` in a source checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_rulebook"
    return packaged if packaged.is_dir() else here.parent / "rulebook"


def load_file(path: Path) -> tuple[list[Symptom], list[Cause], dict[str, Any], list[Requirement]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RulebookError(str(path), f"cannot read rule file: {e.strerror}") from None
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise RulebookError(str(path), f"not valid YAML: {getattr(e, 'problem', e)}", line=line) from None
    if doc is None:
        return [], [], {}, []
    if not isinstance(doc, dict):
        raise RulebookError(str(path), "expected a mapping with 'symptoms:' and/or 'causes:'", line=1)
    unknown = set(doc) - {"symptoms", "causes", "evidence", "settings", LINE}
    if unknown:
        raise RulebookError(
            str(path), f"unknown top-level key(s) {sorted(unknown)}; expected symptoms, causes, evidence, settings", line=doc.get(LINE)
        )
    symptoms: list[Symptom] = []
    causes: list[Cause] = []
    requirements: list[Requirement] = []
    sections = (("symptoms", Symptom, symptoms), ("causes", Cause, causes), ("evidence", Requirement, requirements))
    for section, model, out in sections:  # type: ignore[assignment]
        items = doc.get(section) or []
        if not isinstance(items, list):
            raise RulebookError(str(path), f"'{section}' must be a list", line=doc.get(LINE))
        for item in items:
            if not isinstance(item, dict):
                raise RulebookError(str(path), f"each entry of '{section}' must be a mapping", line=doc.get(LINE))
            try:
                obj = model.model_validate({**_strip(item), "file": str(path), "line": item.get(LINE)})
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                name = item.get("code") or item.get("id") or "?"
                what = "requirement" if section == "evidence" else section[:-1]
                raise RulebookError(
                    str(path), f"{what} {name}: {where}: {err['msg']}", line=_line_of(item, err["loc"])
                ) from None
            out.append(obj)
    return symptoms, causes, _strip(doc.get("settings") or {}), requirements


def load_rulebook(extra: list[str | Path] | None = None, *, builtin: bool = True) -> Rulebook:
    """The shipped rulebook plus the rule files in ``extra`` (directories or files).

    A user's symptom or cause with the same code/id as a shipped one replaces it.
    """
    paths: list[Path] = []
    dirs = ([builtin_dir()] if builtin else []) + [Path(p) for p in (extra or [])]
    for d in dirs:
        if d.is_file():
            paths.append(d)
        elif d.is_dir():
            paths.extend(sorted(p for p in d.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")))
        else:
            raise RulebookError(str(d), "no such rule file or directory")
    symptoms: dict[str, Symptom] = {}
    causes: dict[str, Cause] = {}
    requirements: dict[str, Requirement] = {}
    settings: dict[str, Any] = {}
    for p in paths:
        s, c, st, r = load_file(p)
        symptoms.update({x.code: x for x in s})
        requirements.update({x.code: x for x in r})
        causes.update({x.id: x for x in c})
        settings.update(st)
    book = Rulebook(
        symptoms=list(symptoms.values()), causes=list(causes.values()), requirements=list(requirements.values()),
        sources=[str(p) for p in paths], **settings,
    )  # fmt: skip
    codes = {s.code for s in book.symptoms}
    for c in book.causes:
        missing = sorted(set(c.explains) - codes)
        if missing:
            raise RulebookError(c.file, f"cause {c.id}: explains unknown symptom code(s) {missing}", line=c.line)
    return book
