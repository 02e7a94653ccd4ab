"""The engine's differential as a vectorized model over many runs, for fitting and CV.

Every rule condition is evaluated once per run (:class:`Compiled`); after that a set of
rulebook numbers (the parameter vector ``theta``: log priors, log ``explains`` ratios and
log evidence ratios) scores all runs with one sparse product. This reproduces
``traindx.engine.diagnose_facts``'s ranking and probabilities exactly (checked in
tests/test_accuracy_cv.py), so cross-validation can refit the numbers per fold in
milliseconds instead of re-diagnosing every run.

Calibration: probabilities are ``softmax([log-odds_c / T ..., log unknown_prior / T])``;
``T`` (the rulebook's ``temperature``) and ``unknown_prior`` are fitted on held-out scores.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

from traindx.engine import evaluate
from traindx.rerank import reads_context
from traindx.rules.model import Rulebook


@dataclass
class Compiled:
    book: Rulebook
    causes: list[str]
    names: list[
        tuple
    ]  # parameter names: ("prior", cid) / ("explains", cid, code) / ("evidence", cid, i)
    theta0: np.ndarray  # the rulebook's values (log)
    alarmed: np.ndarray  # bool per run: a warning or error fired
    fired: list[set[str]]  # all fired symptom codes per run
    cal_group: (
        np.ndarray
    )  # per run: index of the first matching book.calibration entry, -1: defaults
    _rows: list[
        list[tuple[int, list[list[tuple[int | None, float]]], list[int]]]
    ]  # per run: (cause idx, groups, evidence params)

    @classmethod
    def build(cls, book: Rulebook, facts_list: list[dict]) -> Compiled:
        names: list[tuple] = []
        theta0: list[float] = []
        index: dict[tuple, int] = {}

        def param(name: tuple, value: float) -> int:
            index[name] = len(names)
            names.append(name)
            theta0.append(math.log(value))
            return index[name]

        for c in book.causes:
            param(("prior", c.id), c.prior)
            for code, v in c.explains.items():
                param(("explains", c.id, code), v)
            for i, e in enumerate(c.evidence):
                param(("evidence", c.id, i), e.lr)
        sev = {s.code: s.severity for s in book.symptoms}
        group = {s.code: s.group or s.code for s in book.symptoms}
        unexpl = {
            s.code: math.log(
                s.unexplained_lr if s.unexplained_lr is not None else book.unexplained_lr
            )
            for s in book.symptoms
        }
        alarmed, fired_all, rows, groups_of = [], [], [], []
        for facts in facts_list:
            groups_of.append(
                next(
                    (
                        i
                        for i, cal in enumerate(book.calibration)
                        if evaluate(cal.condition, facts)[0]
                    ),
                    -1,
                )
            )
            fired = (
                {s.code for s in book.symptoms if evaluate(s.condition, facts)[0]}
                if "_error" not in facts
                else set()
            )
            alarms = {c for c in fired if sev[c] != "info"}
            alarmed.append(bool(alarms))
            fired_all.append(fired)
            run_rows = []
            for ci, c in enumerate(book.causes):
                if not alarms & set(c.explains):
                    continue
                groups: dict[str, list[tuple[int | None, float]]] = {}
                for code in fired:
                    if code in c.explains:
                        opt = (index[("explains", c.id, code)], 0.0)
                    elif sev[code] != "info":
                        opt = (None, unexpl[code])
                    else:
                        continue
                    groups.setdefault(group[code], []).append(opt)
                ev = [
                    index[("evidence", c.id, i)]
                    for i, e in enumerate(c.evidence)
                    if evaluate(e.condition, facts)[0]
                ]
                run_rows.append((ci, list(groups.values()), [index[("prior", c.id)], *ev]))
            rows.append(run_rows)
        return cls(
            book,
            [c.id for c in book.causes],
            names,
            np.array(theta0),
            np.array(alarmed),
            fired_all,
            np.array(groups_of, dtype=int),
            rows,
        )

    @classmethod
    def cached(cls, book: Rulebook, facts_list: list[dict], cache_dir: Path | None) -> Compiled:
        """:meth:`build`, kept on disk under ``cache_dir`` keyed by the rulebook's whole content,
        the facts and the code that evaluates them (the condition evaluation is ~75 % of
        ``accuracy.load_all``: 130 of 173 s on 7,011 runs at load 6, where a hit unpickles in
        seconds); None: no cache."""
        if cache_dir is None:
            return cls.build(book, facts_list)
        h = hashlib.sha256(book.model_dump_json().encode())
        here = Path(__file__).resolve()
        pkg = here.parent.parent / "traindx"
        for f in [here, pkg / "engine.py", *sorted((pkg / "rules").glob("*.py"))]:
            h.update(f.read_bytes())
        h.update(pickle.dumps(facts_list, protocol=5))
        path = cache_dir / f"compiled-{h.hexdigest()[:16]}.pkl"
        if path.exists():
            state = pickle.loads(path.read_bytes())  # noqa: S301 - our own cache file
            return cls(book=book, **state)
        comp = cls.build(book, facts_list)
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in sorted(cache_dir.glob("compiled-*.pkl"), key=lambda q: q.stat().st_mtime)[:-2]:
            old.unlink(missing_ok=True)  # keep the two newest beside the new one
        state = {f.name: getattr(comp, f.name) for f in fields(cls) if f.name != "book"}
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(state, protocol=5))
        tmp.replace(path)
        return comp

    def context_weighed(self, i: int, ctx: dict) -> bool:
        """Whether a fired evidence item of a cause the run's alarms bring in reads one of
        the run's ``ctx`` facts with a likelihood ratio other than 1
        (traindx.rerank._unseen_context, through the same traindx.rerank.reads_context: the
        engine then leaves a layer without context features out)."""
        if not ctx:
            return False
        for _, _, params in self._rows[i]:
            for k in params[1:]:
                _, cid, ei = self.names[k]
                e = self.book.cause(cid).evidence[ei]
                if e.lr != 1.0 and reads_context(e.condition.source, ctx):
                    return True
        return False

    def countered(self, i: int) -> set[str]:
        """The candidate causes of run ``i`` whose fired counter-evidence multiplies them by
        COUNTERED_LR or less (traindx.rerank.firmly_against:
        the layer may not raise them above the rules)."""
        from traindx.rerank import firmly_against

        return {self.causes[ci] for ci, _, params in self._rows[i]
                if firmly_against(math.log(self.book.cause(self.names[k][1]).evidence[self.names[k][2]].lr)
                                  for k in params[1:])}  # fmt: skip

    def calibration(
        self, cal: dict[int, tuple[float, float]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-run (temperature, unknown prior): from ``cal`` (group -> pair) or the rulebook."""
        book = self.book
        cal = cal or {-1: (book.temperature, book.unknown_prior)} | {
            i: (c.temperature, c.unknown_prior) for i, c in enumerate(book.calibration)
        }
        t = np.array([cal[g][0] for g in self.cal_group])
        u = np.array([cal[g][1] for g in self.cal_group])
        return t, u

    @property
    def n_runs(self) -> int:
        return len(self._rows)

    def design(
        self, theta: np.ndarray, runs: np.ndarray | None = None
    ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
        """(A, b, mask, run ids) with log-odds = (A @ theta + b) reshaped to runs x causes
        where ``mask``; the strongest ratio of each symptom group is chosen under ``theta``."""
        runs = np.arange(self.n_runs) if runs is None else runs
        C = len(self.causes)
        ri, ci, vals = [], [], []
        b = np.zeros(len(runs) * C)
        mask = np.zeros((len(runs), C), dtype=bool)
        for k, r in enumerate(runs):
            for c, groups, plain in self._rows[r]:
                row = k * C + c
                mask[k, c] = True
                cols = list(plain)
                for opts in groups:
                    best = max(opts, key=lambda o: theta[o[0]] if o[0] is not None else o[1])
                    if best[0] is None:
                        b[row] += best[1]
                    else:
                        cols.append(best[0])
                ri.extend([row] * len(cols))
                ci.extend(cols)
                vals.extend([1.0] * len(cols))
        A = sparse.csr_matrix((vals, (ri, ci)), shape=(len(runs) * C, len(theta)))
        return A, b, mask, runs

    def log_odds(self, theta: np.ndarray, runs: np.ndarray | None = None) -> np.ndarray:
        """runs x causes log-odds (-inf where a cause is not a candidate)."""
        A, b, mask, runs = self.design(theta, runs)
        lo = (A @ theta + b).reshape(len(runs), len(self.causes))
        return np.where(mask, lo, -np.inf)


def probabilities(lo: np.ndarray, temperature, unknown_prior) -> tuple[np.ndarray, np.ndarray]:
    """(cause probabilities runs x causes, unknown probability per run) as the engine gives
    them; ``temperature`` and ``unknown_prior`` are one value or one per run."""
    t = np.broadcast_to(np.asarray(temperature, dtype=float), (len(lo),))[:, None]
    u = np.broadcast_to(np.asarray(unknown_prior, dtype=float), (len(lo),))
    z = np.concatenate([lo, np.log(u)[:, None]], axis=1) / t
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    return p[:, :-1], p[:, -1]


def targets(comp: Compiled, causes: list[str]) -> np.ndarray:
    """The index each run's probability should go to: its cause when it is a candidate,
    else the "unknown" column (len(comp.causes))."""
    idx = {c: i for i, c in enumerate(comp.causes)}
    out = np.full(len(causes), len(comp.causes))
    for r, cause in enumerate(causes):
        i = idx.get(cause)
        if i is not None and any(c == i for c, _, _ in comp._rows[r]):
            out[r] = i
    return out


def fit(
    comp: Compiled,
    runs: np.ndarray,
    tgt: np.ndarray,
    lam: float,
    *,
    rounds: int = 2,
    clip: float = math.log(50.0),
) -> np.ndarray:
    """MAP fit of theta on ``runs``: multinomial log-loss of the target (cause or unknown)
    plus ``lam/2 * |theta - theta0|^2`` (the hand-set values are the prior mean).
    Each explains/evidence ratio stays within [1/50, 50] of its hand value and on the same
    side of 1."""
    runs = runs[comp.alarmed[runs]]
    theta = comp.theta0.copy()
    if not len(runs):
        return theta
    lu = np.log(comp.calibration()[1][runs])[:, None]
    C = len(comp.causes)
    y = np.zeros((len(runs), C + 1))
    y[np.arange(len(runs)), tgt[runs]] = 1.0
    # the fit sets magnitudes, not directions: a ratio the rulebook has above 1 (support)
    # stays >= 1, one below 1 stays <= 1, so no evidence line ends up contradicting its text
    bounds = [
        (t - clip, t + clip)
        if n[0] == "prior"
        else (max(t - clip, 0.0), t + clip)
        if t > 0
        else (t - clip, min(t + clip, 0.0))
        for n, t in zip(comp.names, comp.theta0, strict=True)
    ]
    for _ in range(rounds):
        A, b, mask, _ = comp.design(theta, runs)

        def obj(th: np.ndarray, A=A, b=b, mask=mask) -> tuple[float, np.ndarray]:
            lo = np.where(mask, (A @ th + b).reshape(len(runs), C), -np.inf)
            z = np.concatenate([lo, lu], axis=1)
            m = z.max(axis=1, keepdims=True)
            logz = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
            p = np.exp(z - logz[:, None])
            nll = float(-(y * np.where(y > 0, z, 0.0)).sum() + logz.sum())
            g_lo = (p - y)[:, :C]
            grad = A.T @ np.where(mask, g_lo, 0.0).ravel()
            d = th - comp.theta0
            return nll + 0.5 * lam * float(d @ d), grad + lam * d

        theta = optimize.minimize(obj, theta, jac=True, method="L-BFGS-B", bounds=bounds).x
    return theta


#: calibration may soften the hand-set probabilities, never sharpen them: the labelled runs
#: are easier than the wild (the rules were written reading many of them), so a fit that
#: wants T < 1 or less "unknown" mass than the hand-set 0.03 is not trusted
MIN_TEMPERATURE, MIN_UNKNOWN = 1.0, 0.03


def fit_calibration(
    lo: np.ndarray, tgt: np.ndarray, start: tuple[float, float]
) -> tuple[float, float]:
    """(temperature, unknown_prior) minimizing the log-loss of held-out scores, with
    temperature in [1, 20] and unknown prior in [0.03, 0.9]."""
    if not len(lo):
        return start

    def nll(x: np.ndarray) -> float:
        t, u = math.exp(x[0]), 1.0 / (1.0 + math.exp(-x[1]))
        p, pu = probabilities(lo, t, u)
        full = np.concatenate([p, pu[:, None]], axis=1)
        return float(-np.log(np.clip(full[np.arange(len(lo)), tgt], 1e-12, None)).sum())

    def logit(u: float) -> float:
        return math.log(u / (1 - u))

    bounds = [(math.log(MIN_TEMPERATURE), math.log(20.0)), (logit(MIN_UNKNOWN), logit(0.9))]
    x0 = np.array([math.log(start[0]), logit(start[1])])
    x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
    res = optimize.minimize(
        nll, x0, method="Nelder-Mead", bounds=bounds, options={"xatol": 1e-3, "fatol": 1e-4}
    )
    return float(math.exp(res.x[0])), float(1.0 / (1.0 + math.exp(-res.x[1])))
