"""Project defaults for the CLI: a ``[tool.traindx]`` table in ``pyproject.toml``, and rule
selection (``--select`` / ``--ignore``).

The table is looked for the way ruff looks for ``[tool.ruff]``: in the ``pyproject.toml`` of
the current directory, else of the nearest parent directory that has one holding a
``[tool.traindx]`` table. Flags given on the command line override it. Example::

    [tool.traindx]
    select = ["LOSS", "GRAD", "GEN"]   # symptom codes / cause ids, prefixes like ruff's
    ignore = ["GEN003", "batch_size_bad"]
    format = "markdown"                # text | json | markdown
    fail-on = "error"                  # diagnose's --fail-on
    rulebook = ["rules/"]              # relative to the pyproject.toml
    override-shipped = false
    map = { my_loss = "loss", vl = "val/loss" }   # or ["my_loss=loss", ...]

A key it does not know, or a value of the wrong type, is an error naming the file and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traindx.errors import TraindxError

FILE = "pyproject.toml"
#: key -> (what it holds, the argparse destination it fills)
KEYS: dict[str, tuple[str, str]] = {
    "select": ("a list of rule codes", "select"),
    "ignore": ("a list of rule codes", "ignore"),
    "format": ("one of text, json, markdown", "format"),
    "fail-on": ("one of warning, error", "fail_on"),
    "rulebook": ("a list of paths", "rulebook"),
    "override-shipped": ("true or false", "override_shipped"),
    "map": ("a table NAME = CANONICAL or a list of 'NAME=CANONICAL'", "map"),
}
_CHOICES = {"format": ("text", "json", "markdown"), "fail-on": ("warning", "error")}


def find(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the current
    directory) that has a ``[tool.traindx]`` table."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        p = d / FILE
        if p.is_file() and _has_table(p):
            return p
    return None


def _has_table(p: Path) -> bool:
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "[tool.traindx" in text or "tool.traindx" in text


def load(path: Path) -> dict[str, Any]:
    """The validated ``[tool.traindx]`` table of ``path`` (keys as in :data:`KEYS`, values
    made CLI-shaped: lists of strings; ``rulebook`` paths resolved against the file)."""
    import tomllib  # only where a project has a table to read

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TraindxError(f"{path}: cannot read ({e.strerror or e})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise TraindxError(f"{path}: not valid TOML ({e})") from None
    table = doc.get("tool", {}).get("traindx", {})
    if not isinstance(table, dict):
        raise TraindxError(f"{path}: [tool.traindx] must be a table")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            known = ", ".join(KEYS)
            raise TraindxError(f"{path}: [tool.traindx] {key}: unknown key (known: {known})")

        def bad(v: Any = value, key: str = key) -> TraindxError:
            return TraindxError(f"{path}: [tool.traindx] {key}: expected {KEYS[key][0]}, got {v!r}")

        if key in ("select", "ignore", "rulebook"):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise bad()
            if key == "rulebook":
                value = [str((path.parent / v).resolve()) for v in value]
        elif key in _CHOICES:
            if value not in _CHOICES[key]:
                raise bad()
        elif key == "override-shipped":
            if not isinstance(value, bool):
                raise bad()
        elif key == "map":
            if isinstance(value, dict):
                if not all(isinstance(v, str) for v in value.values()):
                    raise bad()
                value = [f"{k}={v}" for k, v in value.items()]
            elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad()
        out[key] = value
    return out


def apply(args: Any, start: Path | None = None) -> Path | None:
    """Fill the options of parsed CLI ``args`` that the command line left unset from the
    nearest ``[tool.traindx]`` table; returns the file used (None: none found)."""
    path = find(start)
    if path is None:
        return None
    for key, value in load(path).items():
        dest = KEYS[key][1]
        if not hasattr(args, dest):  # an option this command does not take
            continue
        current = getattr(args, dest)
        if dest == "format" and getattr(args, "json", False):
            continue
        if current in (None, [], False):
            setattr(args, dest, value)
    return path


def _matches(name: str, selectors: list[str]) -> bool:
    low = name.lower()
    return any(s.upper() == "ALL" or low.startswith(s.lower()) for s in selectors)


def select_rules(book: Any, select: list[str] | None, ignore: list[str] | None) -> Any:
    """``book`` with only the selected and not ignored symptoms (by code) and causes (by
    id), matched by prefix like ruff (``GEN`` is every GEN0xx, ``lr_`` every lr_* cause).
    ``select`` restricts the symptoms when some selector names a symptom, the causes when
    some names a cause. A selector that matches nothing is an error."""
    if not select and not ignore:
        return book
    codes = [s.code for s in book.symptoms]
    ids = [c.id for c in book.causes]
    for flag, sels in (("--select", select), ("--ignore", ignore)):
        for s in sels or []:
            if s.upper() != "ALL" and not any(_matches(n, [s]) for n in codes + ids):
                raise TraindxError(
                    f"{flag} {s}: matches no symptom code or cause id; `traindx rules` lists them"
                )
    symptoms, causes = list(book.symptoms), list(book.causes)
    if select:
        if any(_matches(c, select) for c in codes):
            symptoms = [s for s in symptoms if _matches(s.code, select)]
        if any(_matches(i, select) for i in ids):
            causes = [c for c in causes if _matches(c.id, select)]
    if ignore:
        symptoms = [s for s in symptoms if not _matches(s.code, ignore)]
        causes = [c for c in causes if not _matches(c.id, ignore)]
    return book.model_copy(update={"symptoms": symptoms, "causes": causes})
