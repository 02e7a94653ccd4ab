"""``traindx diagnose``: diagnose the runs under the paths and print the report (text, JSON
or markdown; ``--html`` and ``--write-tensorboard`` besides)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from traindx.cli import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK
from traindx.cli.options import json_safe, overrides
from traindx.textsafe import printable


def cmd_diagnose(args: argparse.Namespace) -> int:
    from traindx.api import diagnose_all
    from traindx.cli.options import rules
    from traindx.report.layout import text_console
    from traindx.report.progress import Spinner
    from traindx.report.text import print_report

    with Spinner() as progress:
        report = diagnose_all(
            args.paths,
            rulebook=rules(args),
            overrides=overrides(args),
            override_shipped=args.override_shipped,
            keep_runs=bool(args.html),
            learned=not args.no_learned,
            progress=progress,
        )
    fmt = "json" if args.json else (args.format or "text")
    _report_outputs(args, report)
    if fmt == "markdown":
        from traindx.report.markdown import render_markdown

        sys.stdout.write(render_markdown(report.runs, skipped=report.skipped, errors=report.errors))
    elif fmt == "json":
        sys.stdout.write(
            json.dumps(json_safe(report.model_dump(mode="json")), indent=2, ensure_ascii=False)
            + "\n"
        )
    else:
        print_report(report.runs, text_console(), verbose=args.verbose, skipped=report.skipped)
    for err in report.errors:
        print(f"traindx: error: {printable(err.reason)}", file=sys.stderr)
    if report.errors:
        return EXIT_BAD_INPUT
    if args.fail_on:
        from traindx.diagnosis import SEVERITY_RANK

        worst = report.worst()
        if worst and SEVERITY_RANK[worst] >= SEVERITY_RANK[args.fail_on]:
            return EXIT_FINDINGS
    return EXIT_OK


def _report_outputs(args: argparse.Namespace, report: Any) -> None:
    """--html FILE and --write-tensorboard (issue 13): written before the report is printed."""
    if args.html:
        from traindx.report.html import write_html

        write_html(args.html, report)
        print(f"traindx: wrote {printable(args.html)}", file=sys.stderr)
    if args.write_tensorboard:
        from traindx.report.tensorboard import write_tensorboard

        for d in report.runs:
            path = write_tensorboard(d)
            print(f"traindx: wrote {printable(str(path))}", file=sys.stderr)
