"""Command line: ``traindx diagnose|series|rules|explain|schema|test-rules|sweep``.

Exit codes, one meaning each: 0 done (and, with ``--fail-on``, nothing at or above that
severity); 1 findings at or above ``--fail-on``; 2 bad input or usage (a one-line error that
names the path; the other paths are still diagnosed); 3 an internal error (one line saying
so; the traceback only with ``-v``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from traindx.errors import TraindxError
from traindx.textsafe import clean, printable

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="traindx", description="Differential diagnosis for deep-learning training runs."
    )
    from traindx.cli_options import selection, version, watch_parser

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

    d = sub.add_parser("diagnose", help="diagnose the runs under one or more log paths")
    d.add_argument("paths", nargs="+", metavar="PATH")
    d.add_argument("--no-learned", action="store_true",
                   help="rank with the rules alone, without the learned (cross-validated) ranking layer")  # fmt: skip
    d.add_argument("--json", action="store_true", help="print JSON: {'runs': [...]}")
    # issue 13 report outputs (traindx/report/): one block
    d.add_argument("--format", choices=["text", "json", "markdown"], default=None,
                   help="output format: text (default), json (same as --json), markdown (for a PR or CI job summary)")  # fmt: skip
    d.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report with plots to FILE")
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
    common(d)
    selection(d)

    s = sub.add_parser("series", help="show the series read from PATH and how each name was mapped")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument(
        "-v", "--verbose", action="store_true", help="say which mapping rule matched each name"
    )
    common(s)

    r = sub.add_parser("rules", help="list the symptoms and causes of the rulebook")
    common(r, mapping=False)

    e = sub.add_parser(
        "explain", help="explain a symptom code (LOSS003) or a cause id (lr_too_high)"
    )
    e.add_argument("name")
    common(e, mapping=False)

    f = sub.add_parser(
        "facts", help="list the facts rule conditions can read (group.fact and type)"
    )
    f.add_argument("group", nargs="?", help="only this fact group (loss, val_loss, ctx, gap, ...)")

    sc = sub.add_parser(
        "schema", help="print the JSON Schema of a run, a diagnosis report or a run context"
    )
    sc.add_argument("which", nargs="?", choices=["report", "run", "context"], default="report")

    t = sub.add_parser("test-rules", help="run the cases of the rulebook (and of --rulebook DIRs)")
    common(t, mapping=False)

    from traindx.sweep.cli import add_parser as add_sweep  # `traindx sweep` (traindx/sweep/cli.py)

    add_sweep(sub, common)
    watch_parser(sub, common)
    return p


def _cmd_watch(args: argparse.Namespace) -> int:
    from traindx.cli_options import cmd_watch

    return cmd_watch(args)


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    from traindx.names import parse_map_option

    try:
        return parse_map_option(args.map)
    except ValueError as e:
        raise TraindxError(f"--map: {e}") from None


def cmd_diagnose(args: argparse.Namespace) -> int:
    from traindx.api import diagnose_all
    from traindx.cli_options import rules
    from traindx.report.layout import cli_console
    from traindx.report.progress import Spinner
    from traindx.report.text import print_report

    with Spinner() as progress:
        report = diagnose_all(
            args.paths,
            rulebook=rules(args),
            overrides=_overrides(args),
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
            json.dumps(_json_safe(report.model_dump(mode="json")), indent=2, ensure_ascii=False)
            + "\n"
        )
    else:
        print_report(
            report.runs, cli_console(), verbose=args.verbose, skipped=report.skipped
        )
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


def _json_safe(obj: Any) -> Any:
    """Every string (keys too) made valid Unicode: file names and logged names may hold
    undecodable bytes or lone surrogates, which JSON output cannot carry."""
    if isinstance(obj, str):
        return clean(obj)
    if isinstance(obj, dict):
        return {clean(k) if isinstance(k, str) else k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def cmd_series(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from traindx.api import read
    from traindx.names import explain_mapping
    from traindx.report.layout import Hang, cli_console

    overrides = _overrides(args)
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
                    note = explain_mapping(s.original_name, overrides).split(": ", 1)[-1]
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


def cmd_rules(args: argparse.Namespace) -> int:
    from rich.table import Table

    from traindx.report.layout import cli_console
    from traindx.rules.loader import load_rulebook

    book = load_rulebook(args.rulebook, override_shipped=args.override_shipped)
    console = cli_console()
    t = Table(title=f"{len(book.symptoms)} symptoms", title_justify="left")
    for col in ("code", "severity", "status", "summary"):
        t.add_column(col)
    for s in sorted(book.symptoms, key=lambda s: s.code):
        t.add_row(s.code, s.severity, s.status, s.summary)
    console.print(t)
    c = Table(title=f"{len(book.causes)} causes", title_justify="left")
    for col in ("cause", "family", "prior", "explains"):
        c.add_column(col)
    for cause in sorted(book.causes, key=lambda c: (c.family, c.id)):
        c.add_row(cause.id, cause.family, f"{cause.prior:g}", " ".join(sorted(cause.explains)))
    console.print(c)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from traindx.rules.loader import load_rulebook

    book = load_rulebook(args.rulebook, override_shipped=args.override_shipped)
    name = args.name
    sym = book.symptom(name.upper())
    if sym is not None:
        print(
            f"{sym.code} ({sym.slug}) - {sym.summary}\nseverity: {sym.severity}   status: {sym.status}   file: {sym.file}:{sym.line}\n"
        )
        print(
            f"What it does\n  {sym.docs.what}\n\nWhy it matters\n  {sym.docs.why}\n\nKnown false positives\n  {sym.docs.false_positives}\n"
        )
        print(f"Condition\n  {sym.when}\n")
        causes = sorted(
            (c for c in book.causes if sym.code in c.explains), key=lambda c: -c.explains[sym.code]
        )
        print(
            "Causes it points to (likelihood ratio)\n  "
            + ", ".join(f"{c.id} x{c.explains[sym.code]:g}" for c in causes)
        )
        return 0
    cause = book.cause(name.lower())
    if cause is not None:
        print(
            f"{cause.id} ({cause.family}) - {cause.summary}\nprior: {cause.prior:g}   file: {cause.file}:{cause.line}\n"
        )
        print("Symptoms it explains (likelihood ratio)")
        for code, ratio in sorted(cause.explains.items(), key=lambda kv: -kv[1]):
            s = book.symptom(code)
            print(f"  {code} x{ratio:g}  {s.summary if s else ''}")
        if cause.evidence:
            print("\nEvidence")
            for ev in cause.evidence:
                print(f"  x{ev.lr:g} when {ev.when}\n        {ev.says}")
        print("\nFixes")
        for f in cause.fixes:
            print(f"  - {f.text}")
            for fw in ("torch", "keras", "jax"):
                if getattr(f, fw):
                    print(f"      {fw}: {getattr(f, fw)}")
        return 0
    raise TraindxError(
        f"{name!r} is neither a symptom code nor a cause id; `traindx rules` lists them"
    )


def cmd_facts(args: argparse.Namespace) -> int:
    from traindx.rules.catalogue import catalogue, unknown

    cat = catalogue()
    if args.group and args.group not in cat:
        raise TraindxError(unknown(args.group, None) or args.group)
    for group in [args.group] if args.group else sorted(cat):
        print(f"{group}: " + ", ".join(f"{k} ({t})" for k, t in sorted(cat[group].items())))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from pydantic import BaseModel

    from traindx.api import Report
    from traindx.schema import Run, RunContext

    models: dict[str, type[BaseModel]] = {"report": Report, "run": Run, "context": RunContext}
    model = models[args.which]
    print(json.dumps(model.model_json_schema(mode="serialization"), indent=2))
    return 0


def cmd_test_rules(args: argparse.Namespace) -> int:
    from traindx.rules.loader import load_rulebook
    from traindx.rules.testing import run_all

    results = run_all(load_rulebook(args.rulebook, override_shipped=args.override_shipped))
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"FAIL {r.id}: {r.message}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from traindx.sweep.cli import cmd_sweep as run

    return run(args)


COMMANDS = {"diagnose": cmd_diagnose, "series": cmd_series, "rules": cmd_rules, "explain": cmd_explain,
            "schema": cmd_schema, "facts": cmd_facts, "test-rules": cmd_test_rules, "sweep": cmd_sweep,
            "watch": _cmd_watch}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    # pydantic looks for plugins by scanning every installed distribution's entry points
    # when it builds its first model (~15 ms with a few hundred packages); the CLI's models
    # are traindx's own, so the command does not look (an explicit setting wins).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    args = _parser().parse_args(argv)
    try:
        from traindx.config import apply as apply_config

        apply_config(args)
        return COMMANDS[args.command](args)
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


if __name__ == "__main__":
    raise SystemExit(main())
