"""Fit the rulebook's numbers on labelled runs, keeping a fitted value only where
leave-one-family-out cross-validation says it helps; fit the calibration on held-out scores.

The structure (which symptom a cause explains, which evidence it weighs) is written by hand;
this script re-estimates the numbers: each cause's prior, ``explains`` ratios and evidence
ratios, as a MAP fit (multinomial log-loss of the true cause, or of "unknown" when the true
cause is not among the candidates) with a Gaussian prior at the hand-set log values
(``--lam``: its strength). See benchmarks/differential.py.

Which causes keep their fitted numbers: for every family field (dataset, model, writer,
framework, style) each family is held out in turn and scored with numbers fitted without
it. A cause's log-odds depend only on its own numbers, so swapping one cause's held-out
column from hand-set to fitted measures what fitting that cause alone does to the held-out
log-loss; causes are added greedily while the summed held-out log-loss falls and held-out
top-1 does not. Then the temperature and the unknown mass are fitted on the held-out scores
of that mix. ``--write`` rewrites the YAML (the kept causes' numbers, ``temperature`` and
``unknown_prior``).

    python benchmarks/fit_rulebook.py                # report only
    python benchmarks/fit_rulebook.py --write        # also rewrite rulebook/causes/*.yaml
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from accuracy import cross_validate  # noqa: E402
from differential import Compiled, fit, fit_calibration, probabilities, targets  # noqa: E402
from labelled import FAMILIES, ROOT, ROOTS, load  # noqa: E402

from traindx.rules.loader import builtin_dir, load_rulebook  # noqa: E402


def _nll_top1(
    lo: np.ndarray, tgt: np.ndarray, alarmed: np.ndarray, t: np.ndarray, u: np.ndarray
) -> tuple[float, int]:
    p, pu = probabilities(lo[alarmed], t[alarmed], u[alarmed])
    full = np.concatenate([p, pu[:, None]], axis=1)
    y = tgt[alarmed]
    nll = float(-np.log(np.clip(full[np.arange(len(y)), y], 1e-12, None)).sum())
    top1 = int(((np.argmax(p, axis=1) == y) & (y < p.shape[1])).sum())
    return nll, top1


def choose(comp: Compiled, runs, lam: float, dims: list[str]) -> tuple[list[str], dict]:
    """The causes whose fitted numbers lower the held-out log-loss, with the evidence."""
    tgt = targets(comp, [r.cause for r in runs])
    t0, u0 = comp.calibration()
    hand = {d: cross_validate(runs, comp, d, None)[0] for d in dims}
    fitted = {d: cross_validate(runs, comp, d, lam)[0] for d in dims}

    def score(kept: set[int]) -> tuple[float, int]:
        tot, hits = 0.0, 0
        for d in dims:
            lo = hand[d].copy()
            cols = sorted(kept)
            lo[:, cols] = fitted[d][:, cols]
            n, h = _nll_top1(lo, tgt, comp.alarmed, t0, u0)
            tot, hits = tot + n, hits + h
        return tot, hits

    kept: set[int] = set()
    base = score(kept)
    report = {"hand": base}
    gains = []
    for c in range(len(comp.causes)):
        s = score({c})
        gains.append((s[0] - base[0], c))
    for _, c in sorted(gains):
        s = score(kept | {c})
        if s[0] < base[0] - 0.5 and s[1] >= base[1]:
            kept.add(c)
            base = s
    report["kept"] = base
    report["all_fitted"] = score(set(range(len(comp.causes))))
    return [comp.causes[c] for c in sorted(kept)], report


def _fmt(v: float) -> str:
    return f"{v:.2g}" if v < 10 else f"{v:.0f}"


def write_back(comp: Compiled, theta: np.ndarray, keep: list[str], rule_dir: Path) -> int:
    """Rewrite prior, explains and evidence ``lr`` of the kept causes in their YAML files."""
    values: dict[str, dict] = {c: {"evidence": {}, "explains": {}} for c in keep}
    for name, v in zip(comp.names, np.exp(theta), strict=True):
        if name[1] in values:
            if name[0] == "prior":
                values[name[1]]["prior"] = float(v)
            else:
                values[name[1]][name[0]][name[2]] = float(v)
    changed = 0
    for path in sorted((rule_dir / "causes").glob("*.yaml")):
        text = path.read_text()
        for cid, vals in values.items():
            m = re.search(rf"  - id: {re.escape(cid)}\n(?:(?!  - id:).*\n?)*", text)
            if not m:
                continue
            block = m.group(0)
            block = re.sub(
                r"(\n    prior: )[0-9.e-]+",
                lambda x, p=vals["prior"]: x.group(1) + f"{p:.3g}",
                block,
                count=1,
            )
            body = "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in vals["explains"].items()) + "}"
            block = re.sub(
                r"(\n    explains: )\{[^}]*\}", lambda x, b=body: x.group(1) + b, block, count=1
            )
            lines = block.split("\n")
            i = 0
            for j, line in enumerate(lines):
                if line.startswith("      - {when: "):
                    lines[j] = re.sub(
                        r"(, lr: )[0-9.e-]+",
                        lambda x, v=vals["evidence"][i]: x.group(1) + _fmt(v),
                        line,
                        count=1,
                    )
                    i += 1
            text = text[: m.start()] + "\n".join(lines) + text[m.end() :]
            changed += 1
        path.write_text(text)
    return changed


def write_settings(rule_dir: Path, book, fitted: dict[int, tuple[float, float]]) -> None:
    """Rewrite the temperature / unknown prior pairs in rulebook/calibration.yaml (group -1
    is the default pair, i the i-th entry); every other line (comments, the confidence maps,
    learned_keeps) is kept."""
    path = rule_dir / "calibration.yaml"
    text = path.read_text()
    t, u = fitted.get(-1, (book.temperature, book.unknown_prior))
    text = re.sub(r"^  temperature: .*$", f"  temperature: {t:.3g}", text, count=1, flags=re.M)
    text = re.sub(r"^  unknown_prior: .*$", f"  unknown_prior: {u:.3g}", text, count=1, flags=re.M)
    lines = ["  calibration:"]
    for i, cal in enumerate(book.calibration):
        ti, ui = fitted.get(i, (cal.temperature, cal.unknown_prior))
        when = cal.when.replace('"', '\\"')
        lines.append(
            f'    - {{name: {cal.name}, when: "{when}", temperature: {ti:.3g}, unknown_prior: {ui:.3g}}}'
        )
    block = "\n".join(lines) + "\n"
    text = re.sub(r"^  calibration:\n(?:    - .*\n)*", lambda _: block, text, count=1, flags=re.M)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--roots", nargs="*", type=Path, default=[ROOT / r for r in ROOTS])
    ap.add_argument(
        "--lam", type=float, default=1.0, help="strength of the pull toward the hand-set values"
    )
    ap.add_argument("--dims", default=",".join(FAMILIES))
    ap.add_argument("--write", action="store_true", help="rewrite the rule files")
    ap.add_argument(
        "--calibration-only",
        action="store_true",
        help="keep every hand-set number; fit only the calibration",
    )
    args = ap.parse_args(argv)
    book = load_rulebook()
    runs = [r for r in load(args.roots) if not r.benign]  # benign: either answer is right, nothing to fit
    comp = Compiled.build(book, [r.facts for r in runs])
    dims = args.dims.split(",")
    if args.calibration_only:
        keep: list[str] = []
    else:
        keep, rep = choose(comp, runs, args.lam, dims)
        print(
            f"{len(runs)} runs; held-out log-loss summed over {len(dims)} family fields (top-1 hits):"
        )
        for k in ("hand", "all_fitted", "kept"):
            print(f"  {k:11} {rep[k][0]:10.1f}  ({rep[k][1]})")
        print(
            f"causes whose fitted numbers help held out ({len(keep)}): {', '.join(keep) or 'none'}"
        )
    tgt = targets(comp, [r.cause for r in runs])
    theta = fit(comp, np.arange(len(runs)), tgt, args.lam) if keep else comp.theta0
    mixed = comp.theta0.copy()
    idx = [i for i, n in enumerate(comp.names) if n[1] in keep]
    mixed[idx] = theta[idx]
    # calibration per group on the held-out scores of the chosen mix (pooled over the fields)
    los, tg, grp = [], [], []
    for d in dims:
        lo_h, *_ = cross_validate(runs, comp, d, None)
        lo_f, *_ = cross_validate(runs, comp, d, args.lam) if keep else (lo_h,)
        cols = [comp.causes.index(c) for c in keep]
        lo_h[:, cols] = lo_f[:, cols]
        los.append(lo_h[comp.alarmed])
        tg.append(tgt[comp.alarmed])
        grp.append(comp.cal_group[comp.alarmed])
    lo_all, tg_all, grp_all = np.concatenate(los), np.concatenate(tg), np.concatenate(grp)
    t0, u0 = comp.calibration()
    cal: dict[int, tuple[float, float]] = {}
    for g in sorted(set(comp.cal_group)):
        start = (float(t0[comp.cal_group == g][0]), float(u0[comp.cal_group == g][0]))
        sel = grp_all == g
        cal[int(g)] = fit_calibration(lo_all[sel], tg_all[sel], start) if sel.sum() >= 20 else start
        name = "default" if g < 0 else book.calibration[g].name
        print(
            f"calibration {name}: temperature {cal[g][0]:.3g}, unknown prior {cal[g][1]:.3g} ({sel.sum()} held-out scores)"
        )
    moved = [
        (n, math.exp(a), math.exp(b))
        for n, a, b in zip(comp.names, comp.theta0, mixed, strict=True)
        if abs(a - b) > 0.05
    ]
    for n, a, b in moved[:40]:
        print(f"  {'/'.join(map(str, n)):44} {a:.3g} -> {b:.3g}")
    if args.write:
        n = write_back(comp, mixed, keep, builtin_dir())
        write_settings(builtin_dir(), book, cal)
        print(f"rewrote {n} causes and the calibration under {builtin_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
