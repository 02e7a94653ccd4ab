"""The CEL compiler, without the ``cel`` package's interactive CLI.

``import cel`` runs the package ``__init__``, which imports its REPL (prompt_toolkit): 1.3 s
of a 1.5 s import here, for nothing traindx uses. The compiled extension inside the package
is loaded directly instead (0.02 s idle) and registered as ``cel.cel``, so that the user's
own ``import cel`` (before or after traindx's) shares the one copy the extension allows per
process; if that ever fails, the plain import is used.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from typing import Any


def _load() -> Any:
    # the extension initializes once per process (a second load panics in its logger set-up):
    # reuse it when the user's code imported cel already, and register it for theirs
    if "cel.cel" in sys.modules:
        return sys.modules["cel.cel"]
    try:
        spec = importlib.util.find_spec("cel")
        if spec is None or not spec.origin:
            raise ImportError("cel not found")
        folder = os.path.dirname(spec.origin)
        suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
        name = next(f for f in os.listdir(folder) if f.startswith("cel.") and f.endswith(suffixes))
        loader = importlib.machinery.ExtensionFileLoader("cel.cel", os.path.join(folder, name))
        ext = importlib.util.spec_from_loader("cel.cel", loader)
        if ext is None:
            raise ImportError("cel's extension cannot be loaded")
        module = importlib.util.module_from_spec(ext)
        loader.exec_module(module)
        sys.modules["cel.cel"] = module  # a later `import cel` finds it loaded
        return module
    except Exception:  # any layout change in the package: fall back to the public import
        import cel

        return cel


_cel = _load()
compile = _cel.compile  # noqa: A001 - the CEL API's name
Context = _cel.Context
