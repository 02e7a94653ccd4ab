"""``traindx series``: the series read from each path and how each logged name was mapped."""

from __future__ import annotations

import argparse
import sys

from traindx.cli import EXIT_BAD_INPUT, EXIT_OK
from traindx.cli.options import overrides as map_option
from traindx.errors import TraindxError
from traindx.textsafe import printable


def cmd_series(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from traindx.api import read
    from traindx.names import explain_mapping, paired_names
    from traindx.report.layout import Hang, cli_console

    overrides = map_option(args)
    console = cli_console()
    bad = False
    for path in args.paths:
        skipped: list = []
        try:
            runs = read(path, overrides=overrides, skipped=skipped)
        except TraindxError as err:
            print(f"traindx: error: {printable(str(err))}", file=sys.stderr)
            bad = True
            continue
        for s in skipped:
            console.print(f"  not read: {printable(str(s))}", markup=False)
        for run in runs:
            title = escape(
                f"{printable(run.id)}  ({len(run.ingest.files)} file(s), {run.ingest.records} records)"
            )
            table = Table(title=title, title_justify="left")
            cols = ["key", "points", "steps", "unit", "logged as", "first", "last"]
            why: list[tuple[str, str]] = []  # -v: (key, how its name was mapped), under the table
            for col in cols:
                table.add_column(col, no_wrap=col in ("key", "logged as"))
            pairs = paired_names(s.original_name for s in run.series.values())  # tl beside vl
            for s in run.series.values():
                steps = f"{s.steps[0]}..{s.steps[-1]}" if len(s) else "-"
                first = f"{s.values[0]:.4g}" if len(s) else "-"
                last = f"{s.values[-1]:.4g}" if len(s) else "-"
                row = [
                    printable(str(s.key)),
                    str(len(s)),
                    steps,
                    s.unit,
                    printable(s.original_name),
                    first,
                    last,
                ]
                if args.verbose:
                    note = explain_mapping(s.original_name, {**pairs, **(overrides or {})}).split(": ", 1)[-1]
                    if s.superseded:
                        note += f"; {s.superseded} point(s) superseded by a restart"
                    why.append((printable(str(s.key)), note))
                table.add_row(*(escape(c) for c in row))
            console.print(table)
            for key, note in why:
                console.print(Hang(f"  {key}: ", printable(note)))
            for name in run.ingest.unmapped:
                console.print(
                    f"  not mapped: {printable(repr(name))}  ({printable(explain_mapping(name, overrides))})",
                    markup=False,
                )
            if run.ingest.dropped_records:
                console.print(f"  {run.ingest.dropped_records} corrupt record(s) skipped")
            for p in run.ingest.problems:
                console.print(f"  input ({p.kind}): {printable(p.message)}", markup=False)
    return EXIT_BAD_INPUT if bad else EXIT_OK
