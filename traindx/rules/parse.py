"""One rule file: read (bounded UTF-8), parse (YAML with line numbers) and validate.

A rule file is user input: it is read as UTF-8 text of bounded size, parsed with a safe
YAML loader that refuses aliases (a few hundred bytes of nested aliases expand to
gigabytes) and nesting deeper than :data:`MAX_YAML_DEPTH`, and each entry is validated
against the schema (:mod:`traindx.rules.model`) and the fact catalogue
(:mod:`traindx.rules.checks`), with ``file:line`` errors. libyaml's C parser reads the file;
the pure-Python loader re-reads it only to say where a file that is not valid YAML goes wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from traindx.errors import RulebookError
from traindx.rules.checks import condition_problem, first_problem
from traindx.rules.model import Cause, CauseExtension, Requirement, Settings, Symptom

LINE = "__line__"
KEYS = "__keys__"  # key -> line of that key
MAX_YAML_DEPTH = 32
MAX_FILE_BYTES = 4 << 20
Entry = Symptom | Cause | CauseExtension | Requirement
SECTIONS: dict[str, type[Symptom] | type[Cause] | type[Requirement]] = {"symptoms": Symptom, "causes": Cause, "evidence": Requirement}


class _Lines:
    """Loader mix-in: records the line of every mapping (``__line__``) and of its keys
    (``__keys__``)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # a mix-in: super() is the YAML loader it is mixed into
        mapping = super().construct_mapping(node, deep=deep)  # type: ignore[misc]
        mapping[LINE] = node.start_mark.line + 1
        mapping[KEYS] = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
        return mapping


class _LineLoader(_Lines, yaml.SafeLoader):
    """The pure-Python SafeLoader with line numbers that refuses aliases and deep nesting
    while it composes, so its errors point at the offending line."""

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


class _CLineLoader(_Lines, yaml.CSafeLoader):
    """libyaml's parser and composer, Python's safe constructor, with line numbers."""


_SLOW = object()  # "parse this text with the line-aware pure-Python loader"


def _fast(text: str) -> Any:
    """``text`` parsed by libyaml's C parser (ten times faster), with the same line numbers;
    :data:`_SLOW` when the pure-Python loader must say what is wrong (not valid YAML, a
    character YAML does not allow, an alias, nesting deeper than :data:`MAX_YAML_DEPTH`) or
    when libyaml is not there. The C composer builds the whole node tree first; it is walked
    for aliases (a node met twice) and depth before anything is constructed from it."""
    if not getattr(yaml, "__with_libyaml__", False) or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return _SLOW
    loader = _CLineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        seen: set[int] = set()
        stack = [(node, 1)]
        while stack:
            n, depth = stack.pop()
            if id(n) in seen or depth > MAX_YAML_DEPTH:
                return _SLOW
            seen.add(id(n))
            if isinstance(n, yaml.MappingNode):
                stack.extend((c, depth + 1) for kv in n.value for c in kv)
            elif isinstance(n, yaml.SequenceNode):
                stack.extend((c, depth + 1) for c in n.value)
        return loader.construct_document(node)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError):
        return _SLOW
    finally:
        loader.dispose()


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
        at = data[: e.start].count(b"\n") + 1
        raise RulebookError(str(path), f"not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8", line=at) from None
    doc = _fast(text)
    if doc is not _SLOW:
        return doc
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
    from traindx.rules.refs import SharedCondition

    model: type[Entry] | type[SharedCondition]
    model = CauseExtension if section == "causes" and "prior" not in item else SECTIONS.get(section, SharedCondition)
    name = item.get("code") or item.get("id") or item.get("name") or "?"
    what = {"evidence": "requirement", "conditions": "shared condition"}.get(section, section[:-1])
    try:
        obj = model.model_validate({**_strip(item), "file": str(path), "line": item.get(LINE)})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise RulebookError(str(path), f"{what} {name}: {where}: {msg}", line=_line_of(item, err["loc"])) from None
    problem = first_problem(obj) if not isinstance(obj, SharedCondition) else condition_problem(obj.when)
    if isinstance(problem, str):
        problem = (("when",), problem)
    if problem:
        loc, msg = problem
        where = ".".join(str(p) for p in loc)
        raise RulebookError(str(path), f"{what} {name}: {where}: {msg}", line=_line_of(item, loc))
    return obj


def load_file(path: Path) -> tuple[list[Symptom], list[Cause], dict[str, Any], list[Requirement], list[Any]]:
    """(symptoms, causes, settings, requirements, shared conditions) of one rule file."""
    doc = _read(path)
    if doc is None:
        return [], [], {}, [], []
    if not isinstance(doc, dict):
        raise RulebookError(str(path), "expected a mapping with 'symptoms:' and/or 'causes:'", line=1)
    unknown = set(doc) - {*SECTIONS, "conditions", "settings", LINE, KEYS}
    if unknown:
        names = sorted(map(str, unknown))
        raise RulebookError(str(path), f"unknown top-level key(s) {names}; expected symptoms, causes, evidence, conditions, settings", line=doc.get(LINE))
    out: dict[str, list[Any]] = {s: [] for s in (*SECTIONS, "conditions")}
    for section in out:
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
    return out["symptoms"], out["causes"], settings, out["evidence"], out["conditions"]


