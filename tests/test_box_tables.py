"""Tables printed in a box (issue 10, qa_wild47: a ``rich`` table of the training history was
not read at all, "no training logs found"): every box style of rich (written here by rich
itself), tabulate's and prettytable's styles (literal samples: neither is installed), a
header a narrow column wrapped over two lines, and the count of a table's rows not read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import traindx
from traindx.readers.texttable import table_records, unbox

rich_box = pytest.importorskip("rich.box")
rich_console = pytest.importorskip("rich.console")
rich_table = pytest.importorskip("rich.table")

EPOCHS = range(1, 13)


def _loss(e: int) -> float:
    return 2.0 / e


def _rich(box_name: str, width: int = 120) -> str:
    table = rich_table.Table(title="Training history", box=getattr(rich_box, box_name))
    for name in ("Epoch", "Train loss", "Val loss", "Val acc"):
        table.add_column(name, justify="right")
    for e in EPOCHS:
        table.add_row(str(e), f"{_loss(e):.4f}", f"{1.1 * _loss(e):.4f}", f"{0.5 + 0.03 * e:.3f}")
    out = io.StringIO()
    rich_console.Console(file=out, width=width, color_system=None).print(table)
    return out.getvalue()


def _check(tmp_path: Path, text: str) -> None:
    (tmp_path / "run.txt").write_text(text + "best val acc 0.860\n")
    (run,) = traindx.read(tmp_path)
    assert {"train/loss", "val/loss", "val/accuracy"} <= set(run.series)
    assert list(run.series["train/loss"].steps) == list(EPOCHS)
    assert list(run.series["train/loss"].values) == pytest.approx([round(_loss(e), 4) for e in EPOCHS])
    assert list(run.series["val/accuracy"].values) == pytest.approx([round(0.5 + 0.03 * e, 3) for e in EPOCHS])


@pytest.mark.parametrize("box_name", ["HEAVY_HEAD", "SQUARE", "SQUARE_DOUBLE_HEAD", "ROUNDED", "HEAVY", "HEAVY_EDGE",
                                      "DOUBLE", "DOUBLE_EDGE", "MINIMAL", "MINIMAL_HEAVY_HEAD", "MINIMAL_DOUBLE_HEAD",
                                      "ASCII", "ASCII2", "ASCII_DOUBLE_HEAD", "MARKDOWN"])  # fmt: skip
def test_every_rich_box_style_is_read(tmp_path: Path, box_name: str) -> None:
    _check(tmp_path, _rich(box_name))


def test_a_rich_header_wrapped_over_two_lines_is_one_name_per_column(tmp_path: Path) -> None:
    text = _rich("HEAVY_HEAD", width=36)
    assert "┃ Epoch ┃   loss ┃" in text  # rich wrapped the names (the premise)
    _check(tmp_path, text)


def _rows(left: str, sep: str, right: str) -> list[str]:
    return [left + sep.join([f"{e:>5}", f"{_loss(e):>10.4f}", f"{1.1 * _loss(e):>8.4f}", f"{0.5 + 0.03 * e:>7.3f}"]) + right
            for e in EPOCHS]  # fmt: skip


HEAD = ["Epoch", "Train loss", "Val loss", "Val acc"]
WIDTHS = [5, 10, 8, 7]


def _head(left: str, sep: str, right: str) -> str:
    return left + sep.join(f"{n:>{w}}" for n, w in zip(HEAD, WIDTHS, strict=True)) + right


def _rule(a: str, fill: str, mid: str, b: str) -> str:
    return a + mid.join(fill * (w + 2) for w in WIDTHS) + b


#: tabulate's and prettytable's styles, as they print them (neither library is installed here).
STYLES = {
    "tabulate grid": [_rule("+", "-", "+", "+"), _head("| ", " | ", " |"), _rule("+", "=", "+", "+"),
                      *sum(([r, _rule("+", "-", "+", "+")] for r in _rows("| ", " | ", " |")), [])],
    "tabulate fancy_grid": [_rule("╒", "═", "╤", "╕"), _head("│ ", " │ ", " │"), _rule("╞", "═", "╪", "╡"),
                            *sum(([r, _rule("├", "─", "┼", "┤")] for r in _rows("│ ", " │ ", " │")), [])[:-1],
                            _rule("╘", "═", "╧", "╛")],
    "tabulate psql / prettytable": [_rule("+", "-", "+", "+"), _head("| ", " | ", " |"), _rule("+", "-", "+", "+"),
                                    *_rows("| ", " | ", " |"), _rule("+", "-", "+", "+")],
    "tabulate github": [_head("| ", " | ", " |"), _rule("|", "-", "|", "|"), *_rows("| ", " | ", " |")],
    "tabulate pipe": [_head("| ", " | ", " |"), "|------:|-----------:|---------:|--------:|", *_rows("| ", " | ", " |")],
    "prettytable double border": [_rule("╔", "═", "╦", "╗"), _head("║ ", " ║ ", " ║"), _rule("╠", "═", "╬", "╣"),
                                  *_rows("║ ", " ║ ", " ║"), _rule("╚", "═", "╩", "╝")],
    "tabulate simple": ["  ".join(f"{n.replace(' ', '_'):>{w}}" for n, w in zip(HEAD, WIDTHS, strict=True)),
                        "  ".join("-" * w for w in WIDTHS), *_rows("", "  ", "")],
    "tabulate rst": ["  ".join("=" * w for w in WIDTHS),
                     "  ".join(f"{n.replace(' ', '_'):>{w}}" for n, w in zip(HEAD, WIDTHS, strict=True)),
                     "  ".join("=" * w for w in WIDTHS), *_rows("", "  ", ""), "  ".join("=" * w for w in WIDTHS)],
}  # fmt: skip


@pytest.mark.parametrize("style", sorted(STYLES))
def test_tabulate_and_prettytable_styles_are_read(tmp_path: Path, style: str) -> None:
    _check(tmp_path, "\n".join(STYLES[style]) + "\n")


def test_a_box_line_of_strokes_is_a_rule_and_its_verticals_are_bars() -> None:
    assert unbox("┡━━━━━━━╇━━━━━━━━━━━━┩") == "---"
    assert unbox("│     1 │     1.4910 │") == "|     1 |     1.4910 |"
    assert unbox("loss 0.41 ─ done") == "loss 0.41 ─ done"  # prose with a stroke is no rule


def test_rows_of_another_shape_are_counted_and_the_table_goes_on(tmp_path: Path) -> None:
    lines = _rich("HEAVY_HEAD").splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("│     4 │"))
    lines[at] = "│     4 │ diverged, restarted │"  # two cells under four names
    skipped: list[int] = []
    rows = table_records(lines, skipped)
    assert skipped == [at]
    assert [r["epoch"] for _, r in rows] == [e for e in EPOCHS if e != 4]
    (tmp_path / "run.txt").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    assert len(run.series["train/loss"]) == len(EPOCHS) - 1
    assert any("1 table rows not read" in p.message for p in run.ingest.problems)


def test_a_minimal_box_header_wrapped_keeps_its_blank_first_cell(tmp_path: Path) -> None:
    text = _rich("MINIMAL", width=36)
    assert "  Epoch │   loss │" in text  # the premise: no outer bars, 'Epoch' on the second line
    _check(tmp_path, text)
