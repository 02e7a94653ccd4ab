"""Load rule files (YAML) into a :class:`Rulebook`, with file:line errors for broken ones.

A rule file is user input: it is read as UTF-8 text of bounded size, parsed with a safe
YAML loader that refuses aliases (a few hundred bytes of nested aliases expand to
gigabytes) and nesting deeper than :data:`MAX_YAML_DEPTH`, validated against the schema
(:mod:`traindx.rules.model`) and the fact catalogue (:mod:`traindx.rules.checks`). User
files may not define a code or cause twice, nor replace a shipped one unless asked to
(``override_shipped``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from traindx.errors import RulebookError
from traindx.rules.checks import first_problem
from traindx.rules.model import Cause, CauseExtension, Requirement, Rulebook, Settings, Symptom

LINE = "__line__"
KEYS = "__keys__"  # key -> line of that key
MAX_YAML_DEPTH = 32
MAX_FILE_BYTES = 4 << 20
SECTIONS: dict[str, type[BaseModel]] = {"symptoms": Symptom, "causes": Cause, "evidence": Requirement}


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that records the line of every mapping (``__line__``) and of its keys
    (``__keys__``), and refuses aliases and deep nesting."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in rule files", mark)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_YAML_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        mapping[KEYS] = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
        return mapping


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in (LINE, KEYS)}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _line_of(obj: Any, loc: tuple[Any, ...]) -> int | None:
    """Deepest line number recorded along a location (a pydantic error's ``loc``)."""
    line = obj.get(LINE) if isinstance(obj, dict) else None
    for part in loc:
        if isinstance(obj, dict) and part in obj.get(KEYS, {}):
            line = obj[KEYS][part]
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


def _read(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise RulebookError(str(path), f"cannot read rule file: {e.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise RulebookError(str(path), f"rule file is larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RulebookError(str(path), f"not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8", line=line) from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        if isinstance(e, yaml.reader.ReaderError):  # a control character YAML does not allow
            line = text[: e.position].count("\n") + 1
            what = f"character {e.character!r} is not allowed in YAML" if isinstance(e.character, str) else "unreadable"
        else:
            what = str(getattr(e, "problem", None) or e).splitlines()[0]
        raise RulebookError(str(path), f"not valid YAML: {what}", line=line) from None
    except RecursionError:  # nesting the depth bound did not see (a very long scalar chain)
        raise RulebookError(str(path), "not valid YAML: nested too deeply") from None


def _entry(path: Path, section: str, item: dict[str, Any]) -> Any:
    model = CauseExtension if section == "causes" and "prior" not in item else SECTIONS[section]
    name = item.get("code") or item.get("id") or "?"
    what = "requirement" if section == "evidence" else section[:-1]
    try:
        obj = model.model_validate({**_strip(item), "file": str(path), "line": item.get(LINE)})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise RulebookError(str(path), f"{what} {name}: {where}: {msg}", line=_line_of(item, err["loc"])) from None
    problem = first_problem(obj)
    if problem:
        loc, msg = problem
        where = ".".join(str(p) for p in loc)
        raise RulebookError(str(path), f"{what} {name}: {where}: {msg}", line=_line_of(item, loc))
    return obj


def load_file(path: Path) -> tuple[list[Symptom], list[Cause], dict[str, Any], list[Requirement]]:
    doc = _read(path)
    if doc is None:
        return [], [], {}, []
    if not isinstance(doc, dict):
        raise RulebookError(str(path), "expected a mapping with 'symptoms:' and/or 'causes:'", line=1)
    unknown = set(doc) - {*SECTIONS, "settings", LINE, KEYS}
    if unknown:
        names = sorted(map(str, unknown))
        raise RulebookError(str(path), f"unknown top-level key(s) {names}; expected symptoms, causes, evidence, settings", line=doc.get(LINE))
    out: dict[str, list[Any]] = {s: [] for s in SECTIONS}
    for section in SECTIONS:
        items = doc.get(section) or []
        if not isinstance(items, list):
            raise RulebookError(str(path), f"'{section}' must be a list", line=_line_of(doc, (section,)))
        for item in items:
            if not isinstance(item, dict):
                raise RulebookError(str(path), f"each entry of '{section}' must be a mapping", line=_line_of(doc, (section,)))
            out[section].append(_entry(path, section, item))
    raw = doc.get("settings") or {}
    if not isinstance(raw, dict):
        raise RulebookError(str(path), "'settings' must be a mapping", line=_line_of(doc, ("settings",)))
    try:
        settings = Settings.model_validate(_strip(raw)).model_dump(include=set(_strip(raw)))
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        line = _line_of(doc, ("settings", *err["loc"]))
        raise RulebookError(str(path), f"settings: {where}: {err['msg']} (settings are {', '.join(Settings.model_fields)})", line=line) from None
    return out["symptoms"], out["causes"], settings, out["evidence"]


def _files(d: Path) -> list[Path]:
    if d.is_file():
        return [d]
    if d.is_dir():
        return sorted(p for p in d.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    raise RulebookError(str(d), "no such rule file or directory")


def load_rulebook(extra: list[str | Path] | None = None, *, builtin: bool = True, override_shipped: bool = False) -> Rulebook:
    """The shipped rulebook plus the rule files in ``extra`` (directories or files).

    A code or cause id defined twice is an error, and so is a user file's symptom, cause or
    requirement with the code/id of a shipped one, unless ``override_shipped`` is true: it
    then replaces the shipped entry and is listed in ``Rulebook.overridden``. A ``causes:``
    entry without a ``prior`` extends the cause of that id (new symptoms it explains, more
    evidence and fixes); re-rating a symptom the shipped cause already explains is a
    replacement too.
    """
    shipped = _files(builtin_dir()) if builtin else []
    user: list[Path] = []
    for d in extra or []:
        user.extend(p for p in _files(Path(d)) if p not in user and p not in shipped)
    entries: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    origin: dict[str, bool] = {}  # "section:key" -> defined by a shipped file
    settings: dict[str, Any] = {}
    overridden: list[str] = []
    extensions: list[tuple[CauseExtension, bool]] = []

    def replace(x: Any, what: str, old: Any, shipped_old: bool, shipped_new: bool) -> None:
        if not (shipped_old and not shipped_new):
            raise RulebookError(x.file, f"{what} is defined twice (also at {old.file}:{old.line})", line=x.line)
        if not override_shipped:
            raise RulebookError(
                x.file, f"{what} is already defined by the shipped rulebook ({old.file}:{old.line}); "
                "pick another name, or pass --override-shipped (override_shipped=True) to replace it", line=x.line,
            )  # fmt: skip
        overridden.append(what.split()[-1])

    for p in shipped + user:
        is_shipped = p in shipped
        s, c, st, r = load_file(p)
        for section, items in (("symptoms", s), ("causes", c), ("evidence", r)):
            for x in items:
                if isinstance(x, CauseExtension):
                    extensions.append((x, is_shipped))
                    continue
                key = x.id if section == "causes" else x.code
                what = f"{'cause' if section == 'causes' else 'code'} {key}"
                if key in entries[section]:
                    replace(x, what, entries[section][key], origin[f"{section}:{key}"], is_shipped)
                entries[section][key] = x
                origin[f"{section}:{key}"] = is_shipped
        settings.update(st)
    added: dict[tuple[str, str], CauseExtension] = {}  # (cause, code) -> the extension that added it
    for ext, is_shipped in extensions:
        base = entries["causes"].get(ext.id)
        if base is None:
            raise RulebookError(ext.file, f"cause {ext.id} is not defined; a cause entry without 'prior' extends a defined cause", line=ext.line)
        unknown = sorted(set(ext.explains) - set(entries["symptoms"]))
        if unknown:
            raise RulebookError(ext.file, f"cause {ext.id}: explains unknown symptom code(s) {unknown}", line=ext.line)
        for code in sorted(set(ext.explains) & set(base.explains)):
            first = added.get((ext.id, code))
            replace(ext, f"ratio {ext.id}.{code}", first or base, first is None and origin[f"causes:{ext.id}"], is_shipped)
        added.update({(ext.id, code): ext for code in ext.explains})
        entries["causes"][ext.id] = base.model_copy(update={
            "explains": {**base.explains, **ext.explains}, "evidence": [*base.evidence, *ext.evidence],
            "fixes": [*base.fixes, *ext.fixes],
        })  # fmt: skip
    book = Rulebook(
        symptoms=list(entries["symptoms"].values()), causes=list(entries["causes"].values()),
        requirements=list(entries["evidence"].values()), sources=[str(p) for p in shipped + user],
        overridden=overridden, **settings,
    )  # fmt: skip
    codes = {s.code for s in book.symptoms}
    for c in book.causes:
        missing = sorted(set(c.explains) - codes)
        if missing:
            raise RulebookError(c.file, f"cause {c.id}: explains unknown symptom code(s) {missing}", line=c.line)
    return book
