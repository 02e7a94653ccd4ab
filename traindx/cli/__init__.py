"""Command line: ``traindx diagnose|series|rules|explain|facts|schema|test-rules|sweep|watch``.

The package: :mod:`~traindx.cli.parser` (the arguments), :mod:`~traindx.cli.options` (the
options several commands share), :mod:`~traindx.cli.diagnose` (``diagnose``),
:mod:`~traindx.cli.series` (``series``), :mod:`~traindx.cli.rulebook` (``rules``,
``explain``, ``facts``, ``schema``, ``test-rules``); ``sweep`` and ``watch`` live with their
work (:mod:`traindx.sweep.cli`, :mod:`traindx.cli.options`). A command's module is imported
only when that command runs, so ``traindx --help`` stays light.

Exit codes, one meaning each: 0 done (and, with ``--fail-on``, nothing at or above that
severity); 1 findings at or above ``--fail-on``; 2 bad input or usage (a one-line error that
names the path; the other paths are still diagnosed); 3 an internal error (one line saying
so; the traceback only with ``-v``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from traindx.errors import TraindxError
from traindx.textsafe import printable

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

#: command -> (module, function) that runs it
COMMANDS = {
    "diagnose": ("traindx.cli.diagnose", "cmd_diagnose"), "series": ("traindx.cli.series", "cmd_series"),
    "rules": ("traindx.cli.rulebook", "cmd_rules"), "explain": ("traindx.cli.rulebook", "cmd_explain"),
    "facts": ("traindx.cli.rulebook", "cmd_facts"), "schema": ("traindx.cli.rulebook", "cmd_schema"),
    "test-rules": ("traindx.cli.rulebook", "cmd_test_rules"), "sweep": ("traindx.sweep.cli", "cmd_sweep"),
    "watch": ("traindx.cli.options", "cmd_watch"),
}  # fmt: skip

_PLUGINS_OFF = ("__all__", "1", "true")


def _no_plugin_scan() -> None:
    """Keep pydantic from importing ``importlib.metadata`` when its plugins are off.

    pydantic looks for plugins by scanning every installed distribution's entry points when
    it builds its first model; the CLI's models are traindx's own, so the command turns the
    scan off (``PYDANTIC_DISABLE_PLUGINS``, an explicit setting wins). With the scan off,
    pydantic's plugin loader still imports ``importlib.metadata`` (0.04 s, an eighth of a
    ``traindx diagnose``) only to return no plugins; its one function is given here instead.
    Only when the plugins are off and the loader was not imported yet.
    """
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") not in _PLUGINS_OFF:
        return
    name = "pydantic.plugin._loader"
    if name in sys.modules:
        return
    import types

    loader = types.ModuleType(name, "pydantic's plugin loader with the plugins off (traindx.cli)")
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules[name] = loader


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _no_plugin_scan()
    from traindx.cli.parser import parser

    argv = sys.argv[1:] if argv is None else list(argv)
    # a command line that starts with its command builds that command's parser alone; an
    # unknown argument is reported by the whole parser (its usage names every command)
    args, unknown = parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_known_args(argv)
    if unknown:
        args = parser().parse_args(argv)
    try:
        from traindx.config import apply as apply_config

        apply_config(args)
        module, func = COMMANDS[args.command]
        return getattr(importlib.import_module(module), func)(args)
    except TraindxError as e:
        print(f"traindx: error: {printable(str(e))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `traindx diagnose ... | head`
        return EXIT_OK
    except Exception as e:  # a bug in traindx: say so in one line, never as findings
        if getattr(args, "verbose", False):
            import traceback

            traceback.print_exc()
        what = printable(f"{type(e).__name__}: {e}")[:300]
        hint = "" if getattr(args, "verbose", False) else " (-v shows the traceback)"
        print(f"traindx: internal error: {what}{hint}; please report it", file=sys.stderr)
        return EXIT_INTERNAL
