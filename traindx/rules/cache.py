"""The loaded rulebook cached by content, so that a command does not parse and validate it again.

A cache entry is the validated :class:`~traindx.rules.model.Rulebook` (pickled), stored
under a key that hashes everything the result depends on: the bytes and paths of every
rule file read (every file under a rulebook directory, so a file a later loader reads
counts too), the loader's options, traindx's version and the size and modification time
of each of its modules (an edited check or fact catalogue invalidates it), and the Python
version. Nothing stale can match: a changed input is a different key.

The cache lives in the user's cache directory (``$TRAINDX_CACHE_DIR``, else
``$XDG_CACHE_HOME/traindx``, ``~/.cache/traindx``; ``TRAINDX_NO_CACHE=1`` turns it off).
An entry is written to a temporary file and renamed into place (``os.replace``), so
concurrent writers never leave a torn file. An entry is used only when its header names
the key, its payload's SHA-256 matches, the directory and file belong to this user and
are not writable by others, and it unpickles into a rulebook of the expected files;
anything else is ignored and the rulebook is loaded from its files. A directory that
cannot be written means no cache, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import traindx
from traindx.rules.model import Rulebook

MAGIC = b"traindx-rulebook-cache 1\n"
KEEP = 8  # entries kept per directory (older ones are removed when a new one is written)
_MAX_BYTES = 4 << 20  # a file larger than this is not hashed (the loader refuses it anyway)
_memo: dict[str, bytes] = {}  # key -> payload, for repeated loads in one process


def cache_dir() -> Path | None:
    """Where entries live; None when caching is turned off."""
    if os.environ.get("TRAINDX_NO_CACHE", "") not in ("", "0"):
        return None
    explicit = os.environ.get("TRAINDX_CACHE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) / "traindx" / "Cache" if base else None
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "traindx"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "traindx"


def _code_stamp() -> Iterable[str]:
    """Size and modification time of every traindx module (what validation and the pickled
    classes depend on)."""
    root = Path(traindx.__file__).parent
    stack = [root]
    out = []
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False) and not e.name.startswith((".", "__pycache__")):
                    stack.append(Path(e.path))
                elif e.name.endswith(".py"):
                    st = e.stat()
                    out.append(f"{os.path.relpath(e.path, root)}:{st.st_size}:{st.st_mtime_ns}")
    return sorted(out)


def key(files: Iterable[Path], **options: Any) -> str | None:
    """The cache key of loading ``files`` with ``options``; None when a file cannot be read
    (the loader then reports it)."""
    h = hashlib.sha256()
    # (the pickled models are traindx's own classes: pydantic's version is not part of them)
    head = [traindx.__version__, sys.version, repr(sorted(options.items()))]
    for part in [*head, *_code_stamp()]:
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for p in files:
        try:
            with open(p, "rb") as f:
                data = f.read(_MAX_BYTES + 1)
        except OSError:
            return None
        if len(data) > _MAX_BYTES:
            return None
        name = str(p).encode("utf-8", "surrogateescape")
        h.update(b"%d:%s:%d:" % (len(name), name, len(data)))
        h.update(data)
    return h.hexdigest()


def _entry(d: Path, k: str) -> Path:
    return d / f"rulebook-{k[:40]}.pickle"


def _private(st: os.stat_result) -> bool:
    """Owned by this user and not writable by anyone else (where the OS says so)."""
    if not hasattr(os, "getuid"):
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


#: the modules whose classes a rulebook pickle holds (the rule model and its settings' parts)
_MODEL_MODULES = frozenset({"traindx.rules.model", "traindx.rules.calibration_settings"})


class _Unpickler(pickle.Unpickler):
    """Unpickles the rule model's classes and nothing else (no builtins: no callables)."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _MODEL_MODULES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not expected in a rulebook cache")


def _unpickle(payload: bytes, sources: list[str]) -> Rulebook | None:
    try:
        book = _Unpickler(io.BytesIO(payload)).load()
    except Exception:  # noqa: BLE001 - a corrupt or foreign entry: load the files instead
        return None
    if not isinstance(book, Rulebook) or book.sources != sources:
        return None
    return book


def get(k: str | None, sources: list[str]) -> Rulebook | None:
    """The cached rulebook of key ``k`` (a fresh copy), or None."""
    if k is None:
        return None
    if k in _memo:
        return _unpickle(_memo[k], sources)
    d = cache_dir()
    if d is None:
        return None
    try:
        if not _private(d.stat()):
            return None
        with open(_entry(d, k), "rb") as f:
            if not _private(os.fstat(f.fileno())):
                return None
            data = f.read()
    except OSError:
        return None
    head = MAGIC + k.encode() + b"\n"
    if not data.startswith(head) or len(data) < len(head) + 65:
        return None
    digest, payload = data[len(head) : len(head) + 64], data[len(head) + 65 :]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return None
    book = _unpickle(payload, sources)
    if book is not None:
        _memo[k] = payload
    return book


def put(k: str | None, book: Rulebook) -> None:
    """Store ``book`` under ``k``; silently nothing when it cannot be written."""
    if k is None:
        return
    try:
        payload = pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - something unpicklable: just no cache
        return
    _memo[k] = payload
    d = cache_dir()
    if d is None:
        return
    import tempfile

    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(d.stat()):
            return
        fd, tmp = tempfile.mkstemp(prefix=".rulebook-", suffix=".tmp", dir=d)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + k.encode() + b"\n")
                f.write(hashlib.sha256(payload).hexdigest().encode() + b"\n")
                f.write(payload)
            os.replace(tmp, _entry(d, k))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _prune(d)
    except OSError:
        return


def _prune(d: Path) -> None:
    """Keep the :data:`KEEP` most recently written entries."""
    entries = []
    for p in d.glob("rulebook-*.pickle"):
        try:
            entries.append((p.stat().st_mtime_ns, p))
        except OSError:
            continue
    for _, p in sorted(entries, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            p.unlink()
