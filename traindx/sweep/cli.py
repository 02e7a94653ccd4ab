"""The ``traindx sweep`` command: its arguments and what it prints."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub, common) -> None:  # (argparse subparsers, cli.common)
    sw = sub.add_parser("sweep", help="diagnose every run under DIR; hyperparameter importance and the next search region")
    sw.add_argument("path", metavar="DIR")
    sw.add_argument("--json", action="store_true",
                    help="print JSON: {'runs': [...], 'hyperparameters': [...], 'suggest': {...}}")  # fmt: skip
    sw.add_argument("--executor", default="process", metavar="serial|process|dask|dask://HOST:PORT",
                    help="where runs are diagnosed (default: process, one per core)")  # fmt: skip
    sw.add_argument("-j", "--workers", type=int, default=None, help="processes or Dask workers (default: the cores)")
    sw.add_argument("-v", "--verbose", action="store_true", help="one line per run as well")
    sw.add_argument("--html", metavar="FILE", help="also write an HTML page: the final metric against each important hyperparameter")
    common(sw)


def cmd_sweep(args: argparse.Namespace) -> int:
    from traindx.cli.options import json_safe, overrides
    from traindx.report.layout import cli_console
    from traindx.report.progress import Spinner
    from traindx.sweep import sweep
    from traindx.sweep.executors import check_executor
    from traindx.sweep.render import print_sweep
    from traindx.textsafe import printable

    done = 0
    with Spinner() as spin:

        def progress(n: int) -> None:
            nonlocal done
            done += n
            spin(f"{done} runs diagnosed")

        report = sweep(
            args.path, executor=check_executor(args.executor), workers=args.workers,
            rulebook=args.rulebook, overrides=overrides(args), override_shipped=args.override_shipped,
            progress=progress,
        )  # fmt: skip
    if args.html:
        from traindx.sweep.plots import write_sweep_html

        write_sweep_html(args.html, report)
        print(f"traindx: wrote {printable(args.html)}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(json_safe(report.model_dump(mode="json")), indent=2, ensure_ascii=False) + "\n")
    else:
        print_sweep(report, cli_console(), verbose=args.verbose)
    return 0
