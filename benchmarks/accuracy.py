"""Diagnostic accuracy on labelled real runs, cross-validated by family.

Reads every run with a label.json under fixtures/logs, fixtures/corpus and fixtures/qa
(facts computed once and cached, see benchmarks/labelled.py) and reports, per input kind
(log-only, each adapter): top-1 / top-3 over faulty runs, false alarms on healthy runs,
mean p(true cause), expected calibration error (ECE, 10 bins) and wrong top answers at
>= 80 %.

The headline is leave-one-family-out cross-validation: for each family field (dataset,
model, writer, framework, style) and each of its values, the rulebook's numbers are fitted
on the runs of the other values (``--lam``: strength of the pull toward the hand-set
values; ``hand`` = no fit) and the temperature / unknown mass are fitted on the other
folds' held-out scores; the held-out family is then scored. In-sample numbers (fitted and
calibrated on everything) are printed beside, never as the headline.

The label policy (fixtures/corpus/label.py ``policy``, read by benchmarks/labelled.py) has
three classes, the same for every input kind:

* faulty: the injected fault visibly hurt training (or the run overfits by the checklist's
  own reading: validation loss given back while training loss falls, or a train/val accuracy
  gap > 0.15). Scored in top-1/top-3 (a log-only run only when its logs can show the fault).
* healthy: no fault injected and the run trained; the Q&A programs' fixed versions. ``FA``,
  the headline false-alarm rate, is the share of these on which any cause is raised.
* benign: a fault present that did not hurt (a setting that trained fine, an adapter-only bug
  the metrics do not show, injected overfitting that did not overfit). Both "healthy" and the
  injected cause are right there, any other cause is a false alarm. Their own columns: ``bn``
  runs, ``bn-al`` alarm rate, ``bn-ok`` right (healthy or the injected cause on top), ``bn-FA``
  another cause on top. No fit (rulebook numbers, calibration, learned layer, confidence maps)
  learns from them: either answer is right, so they teach nothing about which.

    python benchmarks/accuracy.py                      # CV table, hand-set numbers
    python benchmarks/accuracy.py --lam hand,3,1       # compare fits by CV
    python benchmarks/accuracy.py --reliability        # the reliability table
    python benchmarks/accuracy.py --families           # one row per held-out family value
    python benchmarks/accuracy.py --held-out-adapters  # the adapter kinds with fitted components, held out
    python benchmarks/accuracy.py --kinds torch,keras,jax  # the adapter rows only (~1 min; rules-only kinds)
    python benchmarks/accuracy.py --kinds logs --dims writer --by-length  # rows per logged length

The adapter kinds are ranked by the rules alone, whose numbers were hand-set looking at those
runs: their CV rows refit only the calibration, so the headline marks them in-sample.
``--held-out-adapters`` (benchmarks/held_out_adapters.py) adds what a component fitted inside
every fold does on them (the rules' numbers, a learned layer); neither ships for an adapter
kind while it does not beat the rules on the worst held-out field.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# one BLAS thread: the fits are small, and threads that spin on a shared 2-core machine cost
# 30x more CPU time than they save
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import calibrate as calibrate_maps  # noqa: E402
from differential import Compiled, fit, fit_calibration, probabilities, targets  # noqa: E402
from labelled import CACHE, FAMILIES, LENGTH_BINS, ROOT, ROOTS, Labelled, length_stratum, load  # noqa: E402

from traindx.engine import evaluate as cel_evaluate  # noqa: E402
from traindx.rules.loader import load_rulebook  # noqa: E402
from traindx.separation import group_size  # noqa: E402

KINDS = ("logs", "torch_adapter", "keras_adapter", "jax_adapter")
MIN_TRAIN = 20  # a fold whose training side has fewer alarmed runs keeps the hand values


@dataclass
class Outcome:
    run: str
    writer: str
    cause: str
    visible: bool
    healthy_said: bool
    ranked: list[str]
    p_true: float
    input_kind: str = "logs"
    alarmed: bool = False
    confidence: float = 0.0  # probability of the top cause (0 when no cause is listed)
    group: list[str] = field(
        default_factory=list
    )  # the "cannot separate" group (empty: top stands apart)
    families: dict[str, str] = field(default_factory=dict)
    probs: list[float] = field(default_factory=list)  # the ranked causes' probabilities
    unknown: float = 0.0  # "none of these"
    ranker: str = "rules"  # or "learned": which confidence map applies
    scenario: str = ""
    benign: bool = False  # a fault present (``cause``) that did not hurt: healthy or it is right
    group_p: float | None = None  # the group's stated probability (None: its members' sum)

    @property
    def rank(self) -> int | None:
        if self.cause == "healthy":
            return 1 if self.healthy_said else None
        return self.ranked.index(self.cause) + 1 if self.cause in self.ranked else None

    @property
    def scored(self) -> bool:
        """Counts in top-1/top-3: a faulty run whose fault its input can show."""
        return self.cause != "healthy" and not self.benign and (self.visible or self.input_kind != "logs")

    @property
    def benign_right(self) -> bool:
        """A benign run answered "healthy" (no alarm) or with its injected cause on top."""
        return self.benign and (not self.alarmed or (bool(self.ranked) and self.ranked[0] == self.cause))

    @property
    def stated(self) -> list[str]:
        """The causes the report names: none when it says healthy, else its "cannot separate"
        group (two or more, as the engine shows it) or the top cause alone."""
        if self.healthy_said:
            return []
        return self.group if len(self.group) >= 2 else self.ranked[:1]


def _healthy_said(book, facts: dict, alarmed: bool) -> bool:
    if alarmed or "_error" in facts:
        return False
    return all(cel_evaluate(r.condition, facts)[0] for r in book.requirements)


def outcomes(
    runs: list[Labelled], comp: Compiled, lo: np.ndarray, temperature, unknown
) -> list[Outcome]:
    p, pu = probabilities(lo, temperature, unknown)  # one value or one per run
    out = []
    for r, run in enumerate(runs):
        order = [i for i in np.argsort(-lo[r], kind="stable") if np.isfinite(lo[r, i])]
        ranked = [comp.causes[i] for i in order]
        alarmed = bool(comp.alarmed[r])
        said = _healthy_said(comp.book, run.facts, alarmed)
        if run.cause == "healthy":
            p_true = 1.0 if said else 0.0
        else:
            p_true = float(p[r, comp.causes.index(run.cause)]) if run.cause in ranked else 0.0
        out.append(
            Outcome(
                run=run.path, writer=run.writer, cause=run.cause, visible=run.visible, healthy_said=said,
                ranked=ranked, p_true=p_true, input_kind=run.input_kind, alarmed=alarmed,
                confidence=float(p[r, order[0]]) if order else 0.0,
                group=ranked[: group_size([float(p[r, i]) for i in order], float(pu[r]), comp.book.confusable_mass, comp.book.confusable_max)],
                families={f: run.family(f) for f in FAMILIES},
                probs=[float(p[r, i]) for i in order], unknown=float(pu[r]) if order else 0.0, scenario=run.scenario,
                benign=run.benign,
            )
        )  # fmt: skip
    return out


def reliability(outs: list[Outcome], bins: int = 10) -> list[tuple[float, float, float, int]]:
    """(bin low edge, mean confidence, accuracy, count) of the top answer on alarmed runs."""
    rows = []
    shown = [o for o in outs if o.ranked and (o.scored or o.cause == "healthy")]
    for b in range(bins):
        lo_, hi = b / bins, (b + 1) / bins
        inb = [
            o for o in shown if lo_ <= o.confidence < hi or (b == bins - 1 and o.confidence == 1.0)
        ]
        if inb:
            rows.append(
                (
                    lo_,
                    float(np.mean([o.confidence for o in inb])),
                    float(np.mean([o.rank == 1 for o in inb])),
                    len(inb),
                )
            )
    return rows


def summarize(outs: list[Outcome]) -> dict[str, float]:
    faulty = [o for o in outs if o.scored]
    healthy = [o for o in outs if o.cause == "healthy"]
    benign = [o for o in outs if o.benign]

    def share(xs: list) -> float:
        return float(sum(xs) / len(xs)) if xs else float("nan")

    rel = reliability(outs)
    n_rel = sum(r[3] for r in rel)
    shown = [o for o in outs if o.ranked and (o.scored or o.cause == "healthy")]
    conf = np.clip(np.array([o.confidence for o in shown], float), 1e-4, 1 - 1e-4)
    hit = np.array([o.rank == 1 for o in shown], float)
    ece = sum(r[3] * abs(r[1] - r[2]) for r in rel) / n_rel if n_rel else float("nan")
    return {
        "faulty": len(faulty),
        "healthy": len(healthy),
        "top1": share([o.rank == 1 for o in faulty]),
        "top3": share([o.rank is not None and o.rank <= 3 for o in faulty]),
        "false_alarm_rate": share([o.alarmed for o in healthy]),
        "benign": len(benign),
        "benign_alarm_rate": share([o.alarmed for o in benign]),
        "benign_right": share([o.benign_right for o in benign]),
        "benign_false_alarm": share([not o.benign_right for o in benign]),
        "mean_p_true": share([o.p_true for o in faulty]),
        "healthy_said_on_faulty": share([o.healthy_said for o in faulty]),
        "ece": ece,
        # the top answer's probability against whether it is right, on the answers ECE scores
        "brier": float(np.mean((conf - hit) ** 2)) if shown else float("nan"),
        "log_loss": float(-np.mean(hit * np.log(conf) + (1 - hit) * np.log(1 - conf))) if shown else float("nan"),
        # the true cause is the top answer, or in the group the report says it cannot separate
        "top1_or_group": share([o.rank == 1 or o.cause in o.group for o in faulty]),
        "group_share": share([bool(o.group) for o in faulty]),
        "group_size": float(np.mean([len(o.group) for o in faulty if o.group]))
        if any(o.group for o in faulty)
        else 0.0,
        # the answer set the report states, scored as a pair: how often it holds the true cause
        # and how many causes it names (top-3 is this pair at exactly 3)
        "set_coverage": share([o.cause in o.stated for o in faulty]),
        "set_size": share([len(o.stated) for o in faulty]),
        "wrong_at_80": sum(
            1
            for o in outs
            if o.ranked
            and o.confidence >= 0.8
            and o.rank != 1
            and (o.scored or o.cause == "healthy")
        ),
    }


def evaluate(logs: Path | list[Path] | None = None, book=None) -> list[Outcome]:
    """Outcomes with the rulebook as it is (what ``traindx diagnose`` says), no fitting: the
    shipped learned layer reranks the kinds it ships for."""
    book = book or load_rulebook()
    roots = [logs] if isinstance(logs, Path) else logs
    runs = load(roots)
    comp = Compiled.build(book, [r.facts for r in runs])
    outs = outcomes(runs, comp, comp.log_odds(comp.theta0), *comp.calibration())
    if book.learned:
        from fit_ranker import shipped_outcomes

        outs = shipped_outcomes(outs, runs, book, comp, Outcome, _healthy_said)
    return calibrate_maps.shipped(outs, book)


def cross_validate(
    runs: list[Labelled], comp: Compiled, dim: str, lam: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Held-out log-odds of every run with ``dim`` left out family by family, and the
    per-run calibration (temperature, unknown prior) fitted on the OTHER folds' held-out
    scores. Returns (log-odds, temperatures, unknown priors, fold values)."""
    tgt = targets(comp, [r.cause for r in runs])
    fam = np.array([r.family(dim) for r in runs])
    scen = np.array([r.scenario for r in runs])
    fits = fittable(runs)
    values = sorted(set(fam))
    lo = np.full((len(runs), len(comp.causes)), -np.inf)
    for v in values:
        # nothing of the held-out family in training, nor another writer's recording of one
        # of its training runs (the same scenario logged twice)
        test = np.where(fam == v)[0]
        train = np.where((fam != v) & ~np.isin(scen, scen[test]) & fits)[0]
        theta = comp.theta0
        if lam is not None and comp.alarmed[train].sum() >= MIN_TRAIN:
            theta = fit(comp, train, tgt, lam)
        lo[test] = comp.log_odds(theta, test)
    temps, unks = comp.calibration()
    for v in values:
        test = fam == v
        other = (fam != v) & ~np.isin(scen, scen[test]) & comp.alarmed & fits
        for t, u, mask in calibrate(comp, lo, tgt, other):
            temps[test & mask], unks[test & mask] = t, u
    return lo, temps, unks, values


def fittable(runs: list[Labelled]) -> np.ndarray:
    """Runs a fit may learn from: all but the benign ones (their right answer is either)."""
    return np.array([not r.benign for r in runs], dtype=bool)


def calibrate(
    comp: Compiled, lo: np.ndarray, tgt: np.ndarray, fit_on: np.ndarray
) -> list[tuple[float, float, np.ndarray]]:
    """(temperature, unknown prior, runs it applies to) per calibration group of the
    rulebook, fitted on the runs in ``fit_on``; a group with too few keeps its values."""
    out = []
    t0, u0 = comp.calibration()
    for g in sorted(set(comp.cal_group)):
        mask = comp.cal_group == g
        start = (float(t0[mask][0]), float(u0[mask][0]))
        sel = fit_on & mask
        out.append(
            (
                *(fit_calibration(lo[sel], tgt[sel], start) if sel.sum() >= MIN_TRAIN else start),
                mask,
            )
        )
    return out


def cv_outcomes(runs: list[Labelled], comp: Compiled, dim: str, lam: float | None) -> list[Outcome]:
    lo, temps, unks, _ = cross_validate(runs, comp, dim, lam)
    return outcomes(runs, comp, lo, temps, unks)


DIMS_DEFAULT = ",".join(FAMILIES)


def parse_kinds(text: str) -> tuple[str, ...]:
    """``--kinds logs,torch_adapter``: the input kinds named, each one of :data:`KINDS`
    (``torch`` short for ``torch_adapter``); an unknown one is a usage error."""
    out = []
    for k in (k.strip() for k in text.split(",")):
        kind = k if k in KINDS or not k else f"{k}_adapter"
        if kind not in KINDS:
            raise argparse.ArgumentTypeError(f"unknown input kind {k!r}: expected some of {', '.join(KINDS)}")
        if kind and kind not in out:
            out.append(kind)
    if not out:
        raise argparse.ArgumentTypeError(f"no input kind named: expected some of {', '.join(KINDS)}")
    return tuple(out)


def restrict_learned(arg: str, kinds: tuple[str, ...] | None, shipped: list[str]) -> str:
    """``--learned`` for a run scoring only ``kinds``: the layer's kinds among them ('auto':
    the kinds with a shipped model, ``shipped``), 'off' when none is (no layer is fitted on
    runs that were not loaded)."""
    if kinds is None or arg == "off":
        return arg
    chosen = [k for k in (shipped if arg == "auto" else arg.split(",")) if k in kinds]
    return ",".join(chosen) if chosen else "off"


def load_all(learned: str = "auto", roots: list[Path] | None = None):
    """(runs, shipped rulebook, compiled differential, learned-layer setup) for the CV."""
    from fit_ranker import learned_setup

    book = load_rulebook()
    runs = load(roots or [ROOT / r for r in ROOTS])
    comp = Compiled.cached(book, [r.facts for r in runs], CACHE)
    return runs, book, comp, learned_setup(learned, runs, book, comp)


def cv_all(runs: list[Labelled], comp: Compiled, learned: dict | None, dim: str, lam: float | None = None) -> list[Outcome]:
    """Held-out answers (``dim`` left out) of the rules and, for its kinds, the learned layer,
    before the confidence maps."""
    return with_learned(cv_outcomes(runs, comp, dim, lam), learned, dim)


def _row(name: str, s: dict) -> str:
    return (
        f"{name:34} {s['faulty']:>5} {s['top1']:>6.1%} {s['top3']:>6.1%} {s['mean_p_true']:>6.2f} "
        f"{s['ece']:>6.3f} {s['wrong_at_80']:>5} {s['healthy']:>5} {s['false_alarm_rate']:>6.1%} "
        f"{s['top1_or_group']:>6.1%} {s['group_share']:>6.1%} {s['group_size']:>5.1f} "
        f"{s['set_size']:>5.2f} "
        f"{s['benign']:>4} {s['benign_alarm_rate']:>6.1%} {s['benign_right']:>6.1%} {s['benign_false_alarm']:>6.1%}"
    )


HEADER = f"{'':34} {'runs':>5} {'top1':>6} {'top3':>6} {'p_true':>6} {'ECE':>6} {'w@80':>5} {'hlthy':>5} {'FA':>6} {'t1|grp':>6} {'grp%':>6} {'size':>5} {'set n':>5} {'bn':>4} {'bn-al':>6} {'bn-ok':>6} {'bn-FA':>6}"

SET_NOTE = (
    "t1|grp / set n: the answer set the report states (its cannot-separate group, else the top cause;"
    " none when it says healthy): share of faulty runs it holds the true cause (the headline's 'set'),"
    " mean causes it names (top3 names 3)"
)


def by_kind(outs: list[Outcome]) -> dict[str, dict]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outs:
        groups[o.input_kind].append(o)
    groups["ALL"] = outs
    return {k: summarize(v) for k, v in groups.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--roots", nargs="*", type=Path, default=[ROOT / r for r in ROOTS])
    ap.add_argument(
        "--lam", default="hand", help="comma-separated: 'hand' (no fit) and/or prior strengths"
    )
    ap.add_argument("--dims", default=",".join(FAMILIES))
    ap.add_argument("--families", action="store_true", help="a row per held-out family value")
    ap.add_argument("--reliability", action="store_true")
    ap.add_argument("--per-cause", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--outcomes", type=Path, help="write every held-out answer (JSON lines: run, kind, cause, ranked, group...)")
    ap.add_argument(
        "--no-confidence", action="store_true",
        help="score the CV without the confidence maps (traindx/confidence.py; else refitted per fold)",
    )  # fmt: skip
    ap.add_argument(
        "--rulebook", type=Path,
        help="score this rulebook directory instead of the shipped one, as if it shipped: the learned layer "
        "is refitted on its verdicts inside every fold. The engine ranks a user's rulebook with its rules "
        "alone (traindx.rerank.model_for); add --learned off to score it that way",
    )  # fmt: skip
    ap.add_argument(
        "--learned", default="auto",
        help="input kinds ranked by the learned layer, refitted inside every fold: 'auto' (the kinds "
        "with a model in rulebook/learned/), 'off' (rules alone), or a comma-separated list",
    )  # fmt: skip
    ap.add_argument(
        "--held-out-adapters", action="store_true",
        help="for each adapter kind ranked by the hand-set rules (numbers written looking at these runs: "
        "in-sample), what each fitted component does held out: the rules' numbers fitted per fold "
        "(--adapter-lam) and a learned layer refitted per fold (fit_ranker.py's options)",
    )  # fmt: skip
    ap.add_argument("--adapter-lam", type=float, default=1.0, help="prior strength of --held-out-adapters' fit")
    ap.add_argument(
        "--kinds", type=parse_kinds,
        help=f"comma-separated input kinds to score ({', '.join(KINDS)}; default all): the other runs are not "
        "loaded. The adapter kinds are ranked by the rules alone, so --kinds torch,keras,jax ranks every "
        "adapter run as a full run does (checked on 2,073 runs: same rankings; the confidence maps, fitted "
        "without the log runs' scenarios held out beside them, move probabilities by < 0.01) in ~1.5 min",
    )  # fmt: skip
    ap.add_argument(
        "--by-length", action="store_true",
        help="a row per input kind and stratum of the main loss's logged evaluations (<=5, 6-20, 21-100, >100; "
        "one per epoch or finer: benchmarks/labelled.py length_stratum)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    book = load_rulebook([args.rulebook], builtin=False) if args.rulebook else load_rulebook()
    runs = load(args.roots, kinds=args.kinds)
    if not runs:
        print(f"no labelled runs under {', '.join(map(str, args.roots))}", file=sys.stderr)
        return 2
    comp = Compiled.build(book, [r.facts for r in runs])
    from fit_ranker import OUT, learned_setup

    shipped_layers = [p.stem for p in sorted(OUT.glob("*.json"))]
    learned = learned_setup(restrict_learned(args.learned, args.kinds, shipped_layers), runs, book, comp)
    layered = set(learned["opts"]) if learned else set()
    if args.held_out_adapters:
        from held_out_adapters import held_out_rows, held_out_setup
    alt = held_out_setup(runs, book, comp, learned, layered) if args.held_out_adapters else None
    print(
        f"{len(runs)} labelled runs; rulebook calibration: default T={book.temperature:g} U={book.unknown_prior:g}; "
        + " ".join(f"{c.name}: T={c.temperature:g} U={c.unknown_prior:g}" for c in book.calibration)
    )
    report: dict = {"runs": len(runs), "configs": {}}
    for lam_s in args.lam.split(","):
        lam = None if lam_s == "hand" else float(lam_s)
        print(
            f"\n== rulebook numbers: {'hand-set' if lam is None else f'fitted per fold, prior strength {lam:g}'} =="
        )
        print(HEADER)
        print(f"   {SET_NOTE}")
        theta = (
            comp.theta0
            if lam is None
            else fit(comp, np.where(fittable(runs))[0], targets(comp, [r.cause for r in runs]), lam)
        )
        lo_in = comp.log_odds(theta)
        t_in, u_in = comp.calibration()
        cal_in = calibrate(comp, lo_in, targets(comp, [r.cause for r in runs]), comp.alarmed & fittable(runs))
        for t, u, mask in cal_in:
            t_in[mask], u_in[mask] = t, u
        as_is = by_kind(calibrate_maps.shipped(with_learned(outcomes(runs, comp, lo_in, *comp.calibration()), learned, None), book))
        ins = by_kind(calibrate_maps.shipped(with_learned(outcomes(runs, comp, lo_in, t_in, u_in), learned, None), book))
        cal_txt = " ".join(f"T={t:.2f},U={u:.3f}" for t, u, _ in cal_in)
        cfg: dict = {
            "as_shipped": as_is,
            "in_sample_calibrated": ins,
            "in_sample_T_U": [(t, u) for t, u, _ in cal_in],
            "cv": {},
        }
        for k, s in as_is.items():
            print(_row(f"{'as shipped' if lam is None else 'fit on all'} (in-sample) {k}", s))
        for k, s in ins.items():
            print(_row(f"in-sample calibrated {k}", s))
        print(f"   (in-sample calibration per group: {cal_txt})")
        for dim in args.dims.split(","):
            rules_outs = cv_outcomes(runs, comp, dim, lam)
            outs = with_learned(rules_outs, learned, dim)
            if not args.no_confidence:  # the maps fitted on the other families' answers
                outs = calibrate_maps.nested(outs, dim, book, calibrate_maps.pool(rules_outs, outs))
            kinds = by_kind(outs)
            cfg["cv"][dim] = kinds
            for k, s in kinds.items():
                print(_row(f"CV leave-one-{dim} out: {k}", s))
            if args.families:
                for v in sorted({o.families[dim] for o in outs}):
                    print(
                        _row(
                            f"   held out {dim}={v}",
                            summarize([o for o in outs if o.families[dim] == v]),
                        )
                    )
            if args.by_length:
                _by_length(outs, {r.path: length_stratum(r.facts) for r in runs})
            if args.reliability:
                print("   reliability (bin, mean confidence, accuracy, runs):")
                for lo_, conf, acc, n in reliability(outs):
                    print(f"     [{lo_:.1f},{lo_ + 0.1:.1f})  {conf:.3f}  {acc:.3f}  {n}")
            if args.per_cause:
                _per_cause(outs)
            if args.outcomes:
                _write_outcomes(args.outcomes, dim, outs)
            if alt:
                for name, kinds in held_out_rows(runs, comp, book, dim, alt, args.adapter_lam, args.no_confidence).items():
                    cfg.setdefault("held_out_adapters", {}).setdefault(name, {})[dim] = kinds
                    for k in alt["kinds"]:
                        print(_row(f"CV leave-one-{dim} out: {k} {name}", kinds[k]))
        report["configs"][lam_s] = cfg
        _headline(cfg, layered)
        for name, cv in cfg.get("held_out_adapters", {}).items():
            print(f"\n   ADAPTERS with {name} (held out):")
            _headline({"cv": {d: {k: v for k, v in kinds.items() if k in alt["kinds"]} for d, kinds in cv.items()},
                       "as_shipped": {}}, set(alt["kinds"]))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return 0


def with_learned(outs: list[Outcome], learned: dict | None, dim: str | None) -> list[Outcome]:
    """The learned layer's held-out (``dim``) or in-sample (None) answers for its kinds."""
    from fit_ranker import replace_outcomes

    return replace_outcomes(outs, learned, dim, Outcome, _healthy_said)


def _headline(cfg: dict, layered: set[str] | None = None) -> None:
    """Cross-validated numbers per input kind: the worst and the mean over the family fields
    held out (fields with a single family have no held-out fold and are left out). A kind
    not in ``layered`` (given) is ranked by the hand-set rules, whose numbers were written
    looking at these runs: its rows are marked in-sample."""
    dims = [d for d, kinds in cfg["cv"].items() if kinds != cfg["as_shipped"]]
    if not dims:
        return
    print(
        f"\n   HEADLINE, cross-validated (mean [worst] over leave-one-{{{', '.join(dims)}}}-out):"
    )
    print(f"   {'kind':14} {'top1':>14} {'top3':>14} {'FA':>14} {'ECE':>14} {'w@80':>5} {'benign FA':>14} {'benign ok':>14} {'set':>14} {'set n':>5}")
    kinds = sorted({k for d in dims for k in cfg["cv"][d]}, key=lambda k: (k == "ALL", k))
    for k in kinds:
        vals = [cfg["cv"][d][k] for d in dims if k in cfg["cv"][d]]

        def cell(key: str, worst, vals=vals) -> str:
            xs = [v[key] for v in vals if v[key] == v[key]]
            return f"{np.mean(xs):6.1%} [{worst(xs):5.1%}]" if xs else f"{'-':>14}"

        ece = [v["ece"] for v in vals if v["ece"] == v["ece"]]
        ece_s = f"{np.mean(ece):6.3f} [{max(ece):5.3f}]" if ece else f"{'-':>14}"
        w80 = max(v["wrong_at_80"] for v in vals)
        print(
            f"   {k:14} {cell('top1', min)} {cell('top3', min)} {cell('false_alarm_rate', max)} {ece_s} {w80:>5}"
            f" {cell('benign_false_alarm', max)} {cell('benign_right', min)} {cell('set_coverage', min)}"
            f" {np.mean([v['set_size'] for v in vals if v['set_size'] == v['set_size']] or [np.nan]):>5.2f}"
            + ("   rules hand-set on these runs: in-sample" if layered is not None and k not in layered and k != "ALL" else "")
        )


def _by_length(outs: list[Outcome], strata: dict[str, str]) -> None:
    """A row per input kind and length stratum (``strata``: run path -> stratum), in the
    order of :data:`LENGTH_BINS`, per-epoch strata before per-step ones."""
    order = [f"{g} {name}" for g in ("epoch", "step") for _, name in LENGTH_BINS]
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outs:
        groups[(o.input_kind, strata[o.run])].append(o)
    print("   by the main loss's logged evaluations (per epoch / finer):")
    for kind, st in sorted(groups, key=lambda ks: (ks[0], order.index(ks[1]))):
        print(_row(f"     {kind} {st}", summarize(groups[(kind, st)])))


def _per_cause(outs: list[Outcome]) -> None:
    """Per true cause: top-1 and the top answers it is confused with, for all kinds together,
    then the log-only runs alone with the largest true -> predicted cells and how often the
    report's "cannot separate" group holds the true cause when the top answer is wrong."""
    _per_cause_rows(outs)
    logs = [o for o in outs if o.input_kind == "logs"]
    if not logs:
        return
    print("     -- log-only:")
    _per_cause_rows(logs)
    cells: dict[tuple[str, str], int] = defaultdict(int)
    grouped = wrong = 0
    for o in logs:
        if o.scored and o.rank != 1:
            wrong += 1
            grouped += o.cause in o.group
            cells[(o.cause, "healthy" if o.healthy_said else (o.ranked[0] if o.ranked else "-"))] += 1
    top = sorted(cells.items(), key=lambda kv: -kv[1])[:15]
    _stated_rows(logs)
    print(f"     log-only wrong top-1: {wrong}, true cause in the group: {grouped}; largest cells (true -> said):")
    for (t, s), n in top:
        print(f"       {t:24} -> {s:24} {n}")


def _stated_rows(outs: list[Outcome]) -> None:
    """Is the stated set honest? Per size of the set a report names (1: the top cause alone;
    2+: "one of A / B / C (p)"), over faulty runs answered with a cause: the probability the
    report states for the set (its members' sum) against how often it holds the true cause."""
    by: dict[int, list[tuple[float, float, bool]]] = defaultdict(list)
    for o in outs:
        if o.scored and o.stated:
            summed = sum(o.probs[: len(o.stated)])
            p = o.group_p if len(o.stated) >= 2 and o.group_p is not None else summed
            by[len(o.stated)].append((p, summed, o.cause in o.stated))
    print("     log-only stated set: size, runs, stated probability (mean; its members' sum), holds the true cause")
    for n in sorted(by):
        ps, sums, hits = zip(*by[n], strict=True)
        print(f"       {n}  {len(ps):5d}  {np.mean(ps):6.1%} ({np.mean(sums):6.1%})  {np.mean(hits):6.1%}")
    every = [t for v in by.values() for t in v]
    groups = [t for n, v in by.items() if n >= 2 for t in v]
    if groups:
        ps, sums, hits = zip(*groups, strict=True)
        print(f"       2+ {len(ps):5d}  {np.mean(ps):6.1%} ({np.mean(sums):6.1%})  {np.mean(hits):6.1%}   (all sizes: {len(every)} runs)")


def _write_outcomes(path: Path, dim: str, outs: list[Outcome]) -> None:
    """Append the held-out answers of one family field, one JSON object a line."""
    with path.open("a") as f:
        for o in outs:
            row = {"dim": dim, "run": o.run, "kind": o.input_kind, "cause": o.cause, "scored": o.scored,
                   "benign": o.benign, "healthy_said": o.healthy_said, "ranked": o.ranked[:5],
                   "probs": [round(p, 4) for p in o.probs[: max(5, len(o.group))]], "confidence": round(o.confidence, 4),
                   "group": o.group, "ranker": o.ranker}  # fmt: skip
            f.write(json.dumps(row, default=lambda v: v.item() if hasattr(v, "item") else str(v)) + "\n")


def _per_cause_rows(outs: list[Outcome]) -> None:
    per: dict[str, list[Outcome]] = defaultdict(list)
    for o in outs:
        if o.scored or o.cause == "healthy":
            per[o.cause].append(o)
        elif o.benign:
            per[f"benign:{o.cause}"].append(o)
    for cause, os_ in sorted(per.items()):
        t1 = sum(o.benign_right if o.benign else o.rank == 1 for o in os_)
        misses = defaultdict(int)
        for o in os_:
            if not (o.benign_right if o.benign else o.rank == 1):
                misses["healthy" if o.healthy_said else (o.ranked[0] if o.ranked else "-")] += 1
        miss = ", ".join(f"{k} {n}" for k, n in sorted(misses.items(), key=lambda kv: -kv[1])[:4])
        print(f"     {cause:24} {len(os_):>4} top1 {t1 / len(os_):>5.0%}  -> {miss}")


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Outcome", "evaluate", "summarize"]
