"""The arguments of every ``traindx`` command (argparse); light to import: ``--help`` builds
this and nothing else. ``parser(only="diagnose")`` adds that command's arguments alone, so a
command line that names its command does not build the other commands' parsers."""

from __future__ import annotations

import argparse
from typing import Any


def parser(only: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="traindx", description="Differential diagnosis for deep-learning training runs."
    )
    from traindx.cli.options import selection, version, watch_parser

    p.add_argument("--version", action="version", version=version())
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, *, mapping: bool = True) -> None:
        sp.add_argument(
            "--rulebook",
            action="append",
            default=[],
            metavar="DIR",
            help="add a directory (or file) of rules",
        )
        sp.add_argument("--override-shipped", action="store_true",
                        help="let --rulebook files replace shipped symptoms, causes and requirements of the same code/id")  # fmt: skip
        if mapping:
            sp.add_argument("--map", action="append", default=[], metavar="NAME=CANONICAL",
                            help="map a logged name onto a metric, e.g. --map my_loss=loss --map vl=val/loss")  # fmt: skip

    def want(name: str) -> bool:
        return only is None or only == name

    if want("diagnose"):
        d = sub.add_parser("diagnose", help="diagnose the runs under one or more log paths")
        _diagnose(d)
        common(d)
        selection(d)

    if want("series"):
        s = sub.add_parser("series", help="show the series read from PATH and how each name was mapped")
        s.add_argument("paths", nargs="+", metavar="PATH")
        s.add_argument(
            "-v", "--verbose", action="store_true", help="say which mapping rule matched each name"
        )
        common(s)

    if want("rules"):
        r = sub.add_parser("rules", help="list the symptoms and causes of the rulebook")
        common(r, mapping=False)

    if want("explain"):
        e = sub.add_parser(
            "explain", help="explain a symptom code (LOSS003) or a cause id (lr_too_high)"
        )
        e.add_argument("name")
        common(e, mapping=False)

    if want("facts"):
        f = sub.add_parser(
            "facts", help="list the facts rule conditions can read (group.fact and type)"
        )
        f.add_argument("group", nargs="?", help="only this fact group (loss, val_loss, ctx, gap, ...)")

    if want("schema"):
        sc = sub.add_parser(
            "schema", help="print the JSON Schema of a run, a diagnosis report or a run context"
        )
        sc.add_argument("which", nargs="?", choices=["report", "run", "context"], default="report")

    if want("test-rules"):
        t = sub.add_parser("test-rules", help="run the cases of the rulebook (and of --rulebook DIRs)")
        common(t, mapping=False)

    if want("sweep"):
        from traindx.sweep.cli import (
            add_parser as add_sweep,  # `traindx sweep` (traindx/sweep/cli.py)
        )

        add_sweep(sub, common)
    if want("watch"):
        watch_parser(sub, common)
    return p


def _diagnose(d: Any) -> None:
    d.add_argument("paths", nargs="+", metavar="PATH")
    d.add_argument("--no-learned", action="store_true",
                   help="rank with the rules alone, without the learned (cross-validated) ranking layer")  # fmt: skip
    d.add_argument("--json", action="store_true", help="print JSON: {'runs': [...]}")
    # issue 13 report outputs (traindx/report/): one block
    d.add_argument("--format", choices=["text", "json", "markdown"], default=None,
                   help="output format: text (default), json (same as --json), markdown (for a PR or CI job summary)")  # fmt: skip
    d.add_argument(
        "--html", metavar="FILE", help="also write a self-contained HTML report with plots to FILE"
    )
    d.add_argument("--write-tensorboard", action="store_true",
                   help="write each run's diagnosis into its logdir as a TensorBoard text summary (a new event file)")  # fmt: skip
    d.add_argument(
        "--fail-on",
        choices=["warning", "error"],
        help="exit 1 if any run has a symptom this severe",
    )
    d.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="all causes, evidence, fixes and unevaluated rules",
    )
