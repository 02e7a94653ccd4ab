"""What several commands share: ``--version``, ``--map`` (:func:`overrides`), ``--select`` /
``--ignore`` (the rulebook narrowed by :func:`traindx.config.select_rules`), JSON output
(:func:`json_safe`), and ``traindx watch`` (:mod:`traindx.watch`), small enough to live
here. Light to import: the work is imported lazily."""

from __future__ import annotations

import argparse
from typing import Any

from traindx.errors import TraindxError
from traindx.textsafe import clean


def watch_parser(sub: Any, common: Any) -> None:
    """``traindx watch`` (issue 13; traindx/watch.py)."""
    w = sub.add_parser("watch", help="follow a run while it trains; print each new finding once")
    w.add_argument("path", metavar="LOGDIR")
    w.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="look for new data this often (default 2)")  # fmt: skip
    w.add_argument("--exit-on", choices=["warning", "error"],
                   help="stop with exit code 1 when a run has a symptom this severe")  # fmt: skip
    w.add_argument("--duration", type=float, metavar="SECONDS",
                   help="stop after this long (exit 0; default: until Ctrl-C)")  # fmt: skip
    common(w)
    selection(w)


def cmd_watch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from traindx.report.layout import cli_console
    from traindx.watch import Watch

    if args.interval <= 0:
        raise TraindxError(
            f"--interval: expected a positive number of seconds, got {args.interval:g}"
        )
    watch = Watch(Path(args.path), rules(args), cli_console(), cli_console(stderr=True),
                  overrides=overrides(args), interval=args.interval, exit_on=args.exit_on)  # fmt: skip
    return watch.run(args.duration)


def version() -> str:
    from traindx import __version__

    return f"traindx {__version__}"


def selection(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--select", action="append", metavar="CODE",
                    help="only these symptom codes / cause ids (prefixes: --select LOSS,GRAD); repeatable")  # fmt: skip
    sp.add_argument("--ignore", action="append", metavar="CODE",
                    help="leave out these symptom codes / cause ids (prefixes: --ignore GEN drops GEN0xx)")  # fmt: skip


def _codes(values: list[str] | None) -> list[str]:
    return [c.strip() for v in values or [] for c in v.split(",") if c.strip()]


def rules(args: argparse.Namespace) -> Any:
    """The rulebook of --rulebook/--override-shipped, narrowed by --select/--ignore."""
    from traindx.config import select_rules
    from traindx.rules.loader import load_rulebook

    book = load_rulebook(args.rulebook, override_shipped=args.override_shipped)
    return select_rules(
        book, _codes(getattr(args, "select", None)), _codes(getattr(args, "ignore", None))
    )


def overrides(args: argparse.Namespace) -> dict[str, str]:
    """``--map NAME=CANONICAL`` options as a mapping (a bad one is a usage error)."""
    from traindx.name_options import parse_map_option

    try:
        return parse_map_option(args.map)
    except ValueError as e:
        raise TraindxError(f"--map: {e}") from None


def json_safe(obj: Any) -> Any:
    """Every string (keys too) made valid Unicode: file names and logged names may hold
    undecodable bytes or lone surrogates, which JSON output cannot carry."""
    if isinstance(obj, str):
        return clean(obj)
    if isinstance(obj, dict):
        return {clean(k) if isinstance(k, str) else k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    return obj
