"""Metric names as other people's training code logs them (issue 10): every name gathered from
public code (tests/data/wild_metric_names.tsv) maps to its role, or is kept and counted as not
read; losses logged in parts (a VAE's total/recon/kl, a GAN's two adversaries) are read as such."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import traindx
from traindx.names import direction, explain_mapping, is_bookkeeping, map_name, paired_names
from traindx.report.text import render_diagnosis

TABLE = Path(__file__).parent / "data" / "wild_metric_names.tsv"


def _rows() -> list[tuple[str, str, str, str, list[str]]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, expected, better, source, *beside = line.split("\t")
            rows.append((name, expected, better, source, beside[0].split(",") if beside else []))
    return rows


ROWS = _rows()


def test_the_table_is_broad() -> None:
    names = {r[0] for r in ROWS}
    repos = {r[3].split()[0] for r in ROWS if "/" in r[3].split()[0] and not r[3].startswith("code search")}
    assert len(names) == len(ROWS) >= 150  # no name twice
    assert len(repos) >= 25, sorted(repos)
    kinds = {r[1] for r in ROWS}
    assert {"unmapped", "bookkeeping", "train/loss", "val/loss", "val/accuracy", "test/accuracy"} <= kinds


@pytest.mark.parametrize(
    ("name", "expected", "better", "beside"), [(*r[:3], r[4]) for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_wild_name(name: str, expected: str, better: str, beside: list[str]) -> None:
    """``beside``: the other names of the file it was seen in, where the table gives them (a
    hand loop's ``t_loss``/``v_loss`` prefixes are read from the file's names together)."""
    pairs = paired_names([name, *beside]) if beside else None
    key = map_name(name, pairs)
    why = explain_mapping(name, pairs)
    if expected == "bookkeeping":
        assert key is None and is_bookkeeping(name), why
    elif expected == "unmapped":  # kept as a name not read (counted in the report), never guessed
        assert key is None and not is_bookkeeping(name), why
    else:
        assert str(key) == expected, why
        assert (direction(key.metric) or "none") == better, why


@pytest.mark.parametrize(
    ("metric", "better"),
    [("accuracy", "higher"), ("f1_macro", "higher"), ("auc", "higher"), ("bleu", "higher"), ("miou", "higher"),
     ("r2", "higher"), ("spearman", "higher"), ("loss", "lower"), ("error", "lower"), ("mae", "lower"),
     ("perplexity", "lower"), ("wer", "lower"), ("nll", "lower"), ("kl_loss", "lower"), ("std_accuracy", None),
     ("best_val_accuracy", None), ("total", None)],
)  # fmt: skip
def test_direction(metric: str, better: str | None) -> None:
    assert direction(metric) == better


def _csv(folder: Path, header: str, rows: list[tuple]) -> Path:
    folder.mkdir(parents=True)
    body = "\n".join(", ".join(f"{v:.5f}" if isinstance(v, float) else str(v) for v in r) for r in rows)
    (folder / "log.csv").write_text(f"{header}\n{body}\n")
    return folder


def _decay(e: int, a: float, b: float) -> float:
    return a * math.exp(-e / 6) + b


def test_vae_total_is_the_loss_and_its_parts_stay(tmp_path: Path) -> None:
    rows = [(e, _decay(e, 9, 1.5) + _decay(e, 1, 0.2), _decay(e, 9, 1.5), _decay(e, 1, 0.2)) for e in range(20)]
    (run,) = traindx.read(_csv(tmp_path / "vae", "it, total, recon, kl", rows))
    loss = run.get("loss", "train")
    assert loss is not None and loss.original_name == "total"
    assert {"train/recon_loss", "train/kl_loss"} <= set(run.series)
    assert not run.ingest.unmapped


def test_vae_parts_without_a_total_are_summed(tmp_path: Path) -> None:
    rows = [(e, _decay(e, 9, 1.5), _decay(e, 1, 0.2)) for e in range(20)]
    (run,) = traindx.read(_csv(tmp_path / "vae", "epoch,recon,kld", rows))
    loss = run.get("loss", "train")
    assert loss is not None and loss.original_name == "recon+kld"
    assert loss.values[0] == pytest.approx(rows[0][1] + rows[0][2], rel=1e-4)


def test_gan_losses_are_two_adversaries_not_train_and_val(tmp_path: Path) -> None:
    rows = [(e, 0.69 + 0.05 * math.sin(e), 0.9 + 0.1 * math.cos(e), 0.5) for e in range(30)]
    (run,) = traindx.read(_csv(tmp_path / "gan", "epoch,Loss_D,Loss_G,D(x)", rows))
    assert {"train/d_loss", "train/g_loss"} <= set(run.series)
    assert run.get("loss", "train") is None and run.get("loss", "val") is None
    assert any("GAN" in p.message for p in run.ingest.problems)
    assert run.ingest.unmapped == ["D(x)"]


def test_a_statistic_of_the_loss_is_the_loss_and_its_spread_is_not_summed(tmp_path: Path) -> None:
    rows = [(e, _decay(e, 2, 0.1), 0.05, _decay(e, 3, 0.2)) for e in range(20)]
    (run,) = traindx.read(_csv(tmp_path / "stats", "epoch,avg_loss,std_loss,max_loss", rows))
    loss = run.get("loss", "train")
    assert loss is not None and loss.original_name == "avg_loss"


def test_a_logged_loss_wins_over_its_statistics_and_parts(tmp_path: Path) -> None:
    rows = [(e, _decay(e, 2, 0.1), _decay(e, 2.2, 0.1), _decay(e, 1, 0.05)) for e in range(20)]
    (run,) = traindx.read(_csv(tmp_path / "both", "epoch,loss,running_loss,recon", rows))
    assert run.get("loss", "train").original_name == "loss"


def test_pair_accuracy_is_an_accuracy(tmp_path: Path) -> None:
    rows = [(e, _decay(e, 0.5, 0.2), 0.5 + 0.01 * (e % 2)) for e in range(20)]
    (run,) = traindx.read(_csv(tmp_path / "siamese", "epoch,train_loss,val_pair_acc", rows))
    assert run.get("accuracy", "val").original_name == "val_pair_acc"


def test_names_not_read_are_counted_in_the_report(tmp_path: Path) -> None:
    rows = [(e, _decay(e, 2, 0.1), _decay(e, 2, 0.2), e % 3, 0.1 * e) for e in range(20)]
    folder = _csv(tmp_path / "run", "epoch,train_loss,val_loss,tl,Episode Reward", rows)
    (d,) = traindx.diagnose(folder)
    assert d.ingest.unmapped == ["tl", "Episode Reward"]
    text = "\n".join(getattr(line, "plain", "") for line in render_diagnosis(d))
    assert "2 logged name(s) not read" in text and "'Episode Reward'" in text


def test_an_epoch_mean_beside_the_step_loss_never_replaces_it(tmp_path: Path) -> None:
    """'Loss/train' per step and 'Loss/train_epoch' per epoch (a corpus writer's habit): the
    second segment names a split and an axis, not a part of the loss."""
    lines = []
    for step in range(1, 201):
        lines.append(f'{{"step": {step}, "Loss/train": {_decay(step / 20, 2, 0.1):.5f}}}')
        if step % 20 == 0:
            lines.append(f'{{"step": {step}, "Loss/train_epoch": {_decay(step / 20, 2, 0.1):.5f}}}')
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "train_log.jsonl").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path / "r")
    assert len(run.get("loss", "train")) == 200


def test_a_name_saying_percent_is_read_as_percent_even_at_chance(tmp_path: Path) -> None:
    """A 100-class run stuck at chance logs 'Accuracy (%)' around 1.0: a fraction of 0.01, never
    a perfect score. Without the percent sign the same values are not guessed to be percent (and
    a percent name whose values never pass 1 is left as logged: a fraction under a '%' label)."""
    rows = [(e, _decay(e, 1, 4.6), 0.9 + 0.1 * (e % 5), 99.0 - 0.1 * (e % 5)) for e in range(20)]
    (run,) = traindx.read(_csv(tmp_path / "pct", "epoch,train_loss,Accuracy (%),top1 err (%)", rows))
    acc, err = run.get("accuracy", "train"), run.get("error", "train")
    assert acc is not None and acc.values.max() < 0.02
    assert err is not None and 0.98 < err.values.min() <= err.values.max() < 1.0
    (plain,) = traindx.read(_csv(tmp_path / "plain", "epoch,train_loss,acc,err", rows))
    assert plain.get("accuracy", "train").values.max() > 1.0  # not guessed: a value over 1 the rules judge


def test_every_report_names_the_series_it_did_not_read(tmp_path: Path) -> None:
    from traindx.report.html import render_html
    from traindx.report.markdown import render_markdown

    rows = [(e, _decay(e, 2, 0.1), _decay(e, 2, 0.2), 0.1 * e, e % 3) for e in range(20)]
    (d,) = traindx.diagnose(_csv(tmp_path / "run", "epoch,trn_loss,vl_loss,Episode Reward,zz_q", rows))
    assert d.ingest.unmapped == ["Episode Reward", "zz_q"]
    md = render_markdown([d])
    assert "2 logged name(s) not read: `Episode Reward`, `zz_q`" in md
    assert "2 logged name(s) not read" in render_html([d]) and "zz_q" in render_html([d])


def test_a_printed_name_with_a_percent_sign_is_read(tmp_path: Path) -> None:
    """'Accuracy (%): 1.10' in a printed log was dropped without a count (the '%' ended the name)."""
    lines = [f"Epoch {e}/30 - loss: {4.6 - 0.001 * e:.4f} - Accuracy (%): {1.0 + 0.1 * (e % 3):.2f}" for e in range(1, 30)]
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "train.log").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path / "r")
    acc = run.get("accuracy", "train")
    assert acc is not None and acc.original_name == "Accuracy (%)" and acc.values.max() < 0.02


def test_one_minus_a_classification_error_rate_is_the_accuracy(tmp_path: Path) -> None:
    """fastai's default metric is error_rate (a validation metric); timm-style scripts log
    top1_err in percent. A split logging no accuracy reads one minus such a rate as its
    accuracy; a bare 'error' (a regression's error?) is left alone."""
    rows = [(e, _decay(e, 1, 0.2), _decay(e, 1, 0.3), _decay(e, 0.5, 0.1), "00:01") for e in range(20)]
    (fastai,) = traindx.read(_csv(tmp_path / "fastai", "epoch,train_loss,valid_loss,error_rate,time", rows))
    acc, err = fastai.get("accuracy", "val"), fastai.get("error", "val")
    assert acc is not None and acc.original_name == "1-error_rate"
    assert acc.values == pytest.approx(1 - err.values)
    pct = [(e, _decay(e, 1, 0.2), 100 * _decay(e, 0.8, 0.15)) for e in range(20)]
    (timm,) = traindx.read(_csv(tmp_path / "timm", "epoch,train_loss,val_top1_err", pct))
    assert timm.get("error", "val").values.max() <= 1 and timm.get("accuracy", "val").values[-1] > 0.8
    (bare,) = traindx.read(_csv(tmp_path / "bare", "epoch,train_loss,val_error", [r[:4] for r in rows]))
    assert bare.get("error", "val") is not None and bare.get("accuracy", "val") is None
