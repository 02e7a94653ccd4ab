"""Load the rulebook: the shipped rule files plus the user's, merged into one :class:`Rulebook`.

Each file is read, parsed and validated by :mod:`traindx.rules.parse` (file:line errors).
User files may not define a code or cause twice, nor replace a shipped one unless asked to
(``override_shipped``). The merged, validated rulebook is cached by content
(:mod:`traindx.rules.cache`): a command that finds it there parses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traindx.errors import RulebookError
from traindx.rules import cache
from traindx.rules.model import Cause, CauseExtension, Rulebook


def builtin_dir() -> Path:
    """The shipped rulebook: package data in a wheel, ``rulebook/`` in a source checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_rulebook"
    return packaged if packaged.is_dir() else here.parent / "rulebook"


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
    sources = [str(p) for p in shipped + user]
    # Every file under the shipped rulebook counts (not only the rule files read here), so
    # that data read beside the rules cannot go stale.
    hashed = _all_files(builtin_dir()) + user if builtin else user
    key = cache.key(hashed, builtin=builtin, override_shipped=override_shipped, sources=sources)
    book = cache.get(key, sources)
    if book is None:
        book = _merge(shipped, user, override_shipped)
        for rule in (*book.symptoms, *book.requirements, *book.calibration, *(e for c in book.causes for e in c.evidence)):
            rule.condition.prepare()  # its groups and its outcome without them, cached with it
        for fix in (f for c in book.causes for f in c.fixes):
            if fix.condition is not None:
                fix.condition.prepare()
        cache.put(key, book)
    return book


def _all_files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."))


def _merge(shipped: list[Path], user: list[Path], override_shipped: bool) -> Rulebook:
    """Read, validate and merge the rule files (what :func:`load_rulebook` caches)."""
    from traindx.rules.parse import SECTIONS, load_file
    from traindx.rules.refs import resolve

    entries: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    origin: dict[str, bool] = {}  # "section:key" -> defined by a shipped file
    settings: dict[str, Any] = {}
    overridden: list[str] = []
    extensions: list[tuple[CauseExtension, bool]] = []
    shared: dict[str, Any] = {}  # name -> shared condition (conditions:)

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
        s, c, st, r, conds = load_file(p)
        for x in conds:
            if x.name in shared:
                old = shared[x.name]
                raise RulebookError(x.file, f"shared condition {x.name} is defined twice (also at {old.file}:{old.line})", line=x.line)
            shared[x.name] = x
        for section, items in (("symptoms", s), ("causes", c), ("evidence", r)):
            for x in items:
                if isinstance(x, CauseExtension):
                    extensions.append((x, is_shipped))
                    continue
                key = x.id if isinstance(x, Cause) else x.code
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
    resolve(book, list(shared.values()))  # fired.CODE / shared.NAME written out, in dependency order
    for cause in book.causes:
        missing = sorted(set(cause.explains) - codes)
        if missing:
            raise RulebookError(cause.file, f"cause {cause.id}: explains unknown symptom code(s) {missing}", line=cause.line)
    for sym in book.symptoms:  # an info symptom is no finding: "never healthy" would say nothing
        if sym.never_healthy and sym.severity == "info":
            raise RulebookError(sym.file, f"symptom {sym.code}: never_healthy needs severity warning or error, not info", line=sym.line)
    return book
