"""Fitting the learned ranking layer (traindx/learned.py) with scikit-learn: the feature
catalogue, the design matrix of labelled runs, and one fit (standardization, multinomial
logistic regression, temperature and healthy threshold from an inner cross-validation).

Used by benchmarks/fit_ranker.py (writes rulebook/learned/<kind>.json) and by
benchmarks/accuracy.py (refits inside every cross-validation fold).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import optimize

from traindx.learned import FORMAT, RULE_FLOOR, LearnedModel, raw_feature, rule_logp

#: the curve statistics used for every series group (scale-free shape facts and levels;
#: step counts and series lengths are left out: they say how a writer logs, not what failed)
SHAPE = (
    "has_nonfinite", "nonfinite_progress", "ends_nonfinite", "has_inf", "first", "last", "min",
    "max", "min_progress", "max_progress", "peak_ratio", "drop", "change", "rise_rel", "tau",
    "tail_tau", "tail_share", "half_change", "noise", "osc", "tv_ratio", "spike_frac",
    "neg_frac", "tail_neg_frac", "tail_zero_frac", "tail_cv", "explode_step>=0", "spike_step>=0",
    "repeat_frac", "frozen_tail",
)  # fmt: skip
SERIES = ("loss", "val_loss", "quality", "val_quality", "grad", "weight", "update")
GROUPS = {
    "gap": ("ratio_last", "ratio_first", "diff_last", "val_below_frac", "val_min_progress", "val_rise",
            "val_rise_rel", "val_drop", "train_drop_after_val_min", "train_drop_after_val_first",
            "gap_open_step>=0", "quality_gain_after_val_min", "acc_gap_last", "val_acc_best"),
    "ce_bound": ("below", "val_acc_below", "acc_below", "over_p_true"),
    "chance": ("num_classes", "loss_first_ratio", "loss_last_ratio", "acc_last_over_chance", "acc_minus_majority"),
    # what the logs imply (traindx.signals.infer): the class count a first loss at ln(k) suggests
    # and its chance levels, the task a logged metric names, the validation size
    "infer": ("num_classes", "loss_first_ratio", "loss_last_ratio", "loss_min_ratio", "val_loss_last_ratio",
              "acc_last_over_chance", "acc_max_over_chance", "loss_first_lnk_err", "loss_last_lnk_err", "n_val",
              "task==classification", "task==regression", "num_classes_from==first loss"),
    "lr": ("first", "max", "last", "max_progress", "max_plan_progress", "plan_done", "last_over_max",
           "last_over_first", "zero_progress", "after_zero_max", "rising_frac", "constant"),
    "layers": ("dead_frac_max", "dead_layers", "grad_first_over_last", "grad_zero_layers", "grad_min",
               "update_ratio_median", "update_ratio_max", "update_zero_layers", "pred_class_frac_max",
               "row_sum_dev", "saturated_frac_max"),
    "test": ("acc_last", "loss_last"),
    "run": ("has_val",),
}  # fmt: skip
#: facts of the training loss the rules read but the layer did not: the marks an LR too large
#: leaves and their absence (traindx.signals.overshoot: overshoot, relapse, calm), its rise
#: and swings in units of its own point-to-point noise (the same per step and per epoch), the
#: last change as a share of the fall, the loss per wrong answer; the validation loss's least
#: ratio to the training loss
MARKS = ("loss.overshoot", "loss.relapse", "loss.calm", "loss.rise_z", "loss.osc_z", "loss.last_delta_share",
         "loss.per_error", "gap.ratio_min", "loss.rise_tau", "val_loss.rise_tau")  # fmt: skip
#: scale facts that span decades, also read on a log10 scale (traindx.learned.raw_feature
#: ``log10:``): on the sign-log scale an LR of 1e-6 and one of 1e-3 are both ~0 next to the
#: runs at 0.1-10, so a layer could not tell a tiny logged LR from a usual one (log-only runs
#: answered lr_too_low: median logged LR 4e-6 on the right ones, 8e-4 on the wrong ones), nor
#: a training loss memorized to 1e-3 (overfitting) from one ending at 0.1
LOG10 = (
    "lr.first", "lr.max", "lr.last", "loss.min", "loss.last", "val_loss.min", "val_loss.last",
    "loss.noise", "val_loss.noise", "infer.loss_min_ratio", "infer.loss_last_ratio", "grad.last", "grad.max",
    "loss.max_abs",
)  # fmt: skip
#: context facts an adapter records (logs have none)
CTX = (
    "lr", "eps", "from_logits", "output_units", "num_params", "n_layers", "input_norm_layer",
    "has_recurrent", "n_train", "batch_size", "input_max", "input_min", "input_std", "input_mean",
    "num_classes", "majority_share", "params_per_example", "init_scale_min", "init_scale_max",
    "init_zero_frac", "broadcast_in_loss", "input_nonfinite", "target_integer", "target_distinct",
    "params_without_grad", "momentum", "weight_decay", "has_dropout", "has_batchnorm", "training_mode",
    "grad_accumulating", "target_onehot", "l2_max", "reg_loss_share",
    "output_activation==linear", "output_activation==softmax", "output_activation==sigmoid",
    "output_activation==relu", "loss_expects==logits", "loss_expects==probs", "optimizer==sgd",
    "optimizer==adam", "task==classification", "task==regression",
)  # fmt: skip


def catalogue(book, with_ctx: bool) -> list[str]:
    """Every candidate feature name (see traindx.learned.raw_feature)."""
    names = [f"has:{g}" for g in (*SERIES, *GROUPS)]
    names += [f"{s}.{k}" for s in SERIES for k in SHAPE]
    names += [f"{g}.{k}" for g, keys in GROUPS.items() for k in keys]
    names += list(MARKS)
    names += [f"log10:{p}" for p in LOG10]
    if with_ctx:
        names += ["has:ctx"] + [f"ctx.{k}" for k in CTX]
    names += ["alarm"] + [f"rule:{c.id}" for c in book.causes]
    names += [f"sym:{s.code}" for s in book.symptoms]
    return names


def design(facts_list: list[dict], lo: np.ndarray, fired: list[set[str]], causes: list[str],
           unknown_prior: float, names: list[str]) -> np.ndarray:  # fmt: skip
    """Raw feature matrix (NaN where missing)."""
    X = np.full((len(facts_list), len(names)), np.nan)
    for r, facts in enumerate(facts_list):
        rules = rule_logp({c: float(v) for c, v in zip(causes, lo[r], strict=True) if np.isfinite(v)}, unknown_prior)
        for j, n in enumerate(names):
            v = raw_feature(n, facts, rules, fired[r])
            if v is not None:
                X[r, j] = v
    return X


def _standardize(X: np.ndarray, keep: np.ndarray, zclip: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(standardized kept columns, held to +-zclip when given; mean; scale)."""
    Xk = X[:, keep]
    mean = np.nanmean(np.where(np.isnan(Xk), np.nan, Xk), axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    Z = np.where(np.isnan(Xk), mean, Xk)
    scale = Z.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = (Z - mean) / scale
    return (Z if zclip is None else np.clip(Z, -zclip, zclip)), mean, scale


def offset_rows(X: np.ndarray, names: list[str], classes: list[str]) -> np.ndarray:
    """Rows of LearnedModel.offsets (the rules' log-probability per class) from raw X."""
    alarm = X[:, names.index("alarm")] > 0.5
    offs = np.full((len(X), len(classes)), RULE_FLOOR)
    for j, c in enumerate(classes):
        if c != "healthy" and f"rule:{c}" in names:
            offs[:, j] = np.where(alarm, X[:, names.index(f"rule:{c}")], RULE_FLOOR)
    h = classes.index("healthy")
    rest = 1.0 - np.exp(offs).sum(axis=1) + math.exp(RULE_FLOOR)
    offs[:, h] = np.where(alarm, np.log(np.clip(rest, math.exp(RULE_FLOOR), 1.0)), 0.0)
    return offs


def fit_offset(Z: np.ndarray, offs: np.ndarray, y: np.ndarray, classes: list[str], C: float,
               sw: np.ndarray | None = None, a_fixed: float | None = None, init: tuple | None = None):  # fmt: skip
    """Multinomial logistic regression with the rules' log-probabilities as an offset of
    fitted weight a >= 0: score = a * offs + Z @ W.T + b, L2 on W (sklearn's C convention).
    ``sw``: per-run weights of the log-loss; ``a_fixed``: a held at that value (the rules'
    scores kept whole, the facts a correction bounded by the L2 pull); ``init``: (classes, a, W, b)
    of a fit on overlapping runs to start from (the problem is convex: the same optimum, reached
    in fewer steps). Returns (a, W, b)."""
    n, F = Z.shape
    sw = np.ones(n) if sw is None else sw
    nc = len(classes)
    Y = np.zeros((n, nc))
    Y[np.arange(n), [classes.index(str(c)) for c in y]] = 1.0

    def f(th: np.ndarray) -> tuple[float, np.ndarray]:
        a, W, b = th[0], th[1 : 1 + nc * F].reshape(nc, F), th[1 + nc * F :]
        S = a * offs + Z @ W.T + b
        m = S.max(axis=1, keepdims=True)
        E = np.exp(S - m)
        tot = E.sum(axis=1, keepdims=True)
        nll = float((sw * (m[:, 0] + np.log(tot[:, 0]) - (S * Y).sum(axis=1))).sum())
        G = (E / tot - Y) * sw[:, None]
        grad = np.concatenate([[C * float((G * offs).sum())], (C * (G.T @ Z) + W).ravel(), C * G.sum(axis=0)])
        return C * nll + 0.5 * float((W * W).sum()), grad

    th0 = np.zeros(1 + nc * F + nc)
    th0[0] = 1.0 if a_fixed is None else a_fixed
    if init is not None and init[2].shape[1] == F:
        ic, ia, iW, ib = init
        at = {c: i for i, c in enumerate(ic)}
        W0, b0 = th0[1 : 1 + nc * F].reshape(nc, F), th0[1 + nc * F :]
        for j, c in enumerate(classes):
            if c in at:
                W0[j], b0[j] = iW[at[c]], ib[at[c]]
        th0[0] = ia if a_fixed is None else a_fixed
    bounds = [(0.0, 5.0) if a_fixed is None else (a_fixed, a_fixed)] + [(None, None)] * (nc * F + nc)
    th = optimize.minimize(f, th0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 300, "maxcor": 30}).x  # maxcor 10 -> 30: 266 -> 162 steps, a lower optimum
    return float(th[0]), th[1 : 1 + nc * F].reshape(nc, F), th[1 + nc * F :]


def _lr(Z: np.ndarray, y: np.ndarray, C: float, sw: np.ndarray | None = None):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(C=C, max_iter=400, tol=1e-3).fit(Z, y, sample_weight=sw)


def class_weights(y: np.ndarray, how: str | None) -> np.ndarray | None:
    """Per-run weights: None (every run 1), 'balanced' (n / (classes * runs of its class),
    sklearn's convention), 'sqrt' (the square root of balanced: rare causes count more,
    not as much more) or 'sqrt-causes' (sqrt among the faulty runs only, scaled to keep
    their total; healthy runs keep weight 1, so p(healthy) and the false alarms it decides
    are not traded for rare causes)."""
    if not how:
        return None
    vals, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    w = len(y) / (len(vals) * counts[inv])
    if how == "balanced":
        return w
    w = np.sqrt(w)
    if how == "sqrt-causes":
        faulty = y != "healthy"
        w = np.where(faulty, w * faulty.sum() / max(w[faulty].sum(), 1e-12), 1.0)
    return w


def fit_temperature(S: np.ndarray, y_idx: np.ndarray) -> float:
    """Temperature minimizing the log-loss of held-out class scores S (rows) of y_idx."""
    def nll(logt: float) -> float:
        s = S / math.exp(logt)
        s = s - s.max(axis=1, keepdims=True)
        lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return float(-lp[np.arange(len(y_idx)), y_idx].mean())

    res = optimize.minimize_scalar(nll, bounds=(math.log(0.3), math.log(10.0)), method="bounded")
    return float(math.exp(res.x))


def healthy_threshold(p_h: np.ndarray, healthy: np.ndarray, fa_cost: float) -> float:
    """The p(healthy) threshold (healthy when p >= threshold) minimizing
    fa_cost * false alarms + missed faults, on held-out probabilities."""
    cands = np.unique(np.concatenate([[0.0, 1.0], p_h]))
    best, best_t = math.inf, 0.5
    for t in cands:
        said = p_h >= t
        cost = fa_cost * (~said & healthy).sum() + (said & ~healthy).sum()
        if cost < best:
            best, best_t = cost, float(t)
    # halfway to the next lower value: a threshold not sitting exactly on a training run
    lower = p_h[p_h < best_t]
    return float((best_t + lower.max()) / 2) if len(lower) else best_t


def _core(X: np.ndarray, y: np.ndarray, names: list[str], keep: np.ndarray, C: float, offset: bool | str,
          weighting: str | None = None, zclip: float | None = None, init: tuple | None = None):  # fmt: skip
    """One fit: (classes, offset weight, coef, intercept, mean, scale) on the kept columns.
    ``offset``: False (plain features), True/'fit' (rules' offset, weight fitted) or 'fixed'
    (weight 1: a correction on the rules); ``zclip``: standardized features held to it;
    ``init``: (classes, a, W, b) to start the offset fit from (fit_offset)."""
    Z, mean, scale = _standardize(X, keep, zclip)
    classes = sorted({str(c) for c in y})
    sw = class_weights(y, weighting)
    if offset:
        a, W, b = fit_offset(Z, offset_rows(X, names, classes), y, classes, C, sw, 1.0 if offset == "fixed" else None, init)
        return classes, a, W, b, mean, scale
    clf = _lr(Z, y, C, sw)
    assert [str(c) for c in clf.classes_] == classes
    return classes, 0.0, np.atleast_2d(clf.coef_), np.atleast_1d(clf.intercept_), mean, scale


#: feature sets (benchmarks/fit_ranker.py --select): which catalogue names a layer may read
FEATURE_SETS = ("all", "symptoms", "symptoms+has", "no-levels")
#: the curve levels (first/last/min/max values): they carry a generator's scales
LEVELS = ("first", "last", "min", "max")


def in_set(name: str, which: str) -> bool:
    """Whether catalogue feature ``name`` belongs to feature set ``which``: 'all';
    'symptoms' (the fired symptoms and the rules' log-odds only); 'symptoms+has' (those and
    which series were recorded); 'no-levels' (all but the curves' raw levels); 'all-<group>'
    (all but one group: has, levels, a series such as loss, or a fact group such as gap)."""
    if which == "all" or name == "alarm" or name.startswith(("rule:", "sym:")):
        return True
    if which == "symptoms":
        return False
    if which == "symptoms+has":
        return name.startswith("has:")
    g, _, k = name.removeprefix("log10:").partition(".")
    if which == "no-levels":
        return not (g in SERIES and k in LEVELS)
    if which.startswith("all-"):  # all but one group (select_ranker.ablate): 'has', 'levels', a series or group
        drop = which[4:]
        if drop == "has":
            return not name.startswith("has:")
        if drop == "levels":
            return not (g in SERIES and k in LEVELS)
        return g != drop
    raise ValueError(f"unknown feature set {which!r}; expected one of {', '.join(FEATURE_SETS)}")


def _keep(X: np.ndarray, names: list[str], offset: bool | str, features: str = "all") -> np.ndarray:
    """Columns that are features: in the feature set and recorded at least once; with the
    offset, the rules' log-odds enter through it and not as features."""
    rule = np.array([n.startswith("rule:") for n in names])
    chosen = np.array([in_set(n, features) for n in names], dtype=bool)
    return ~np.all(np.isnan(X), axis=0) & ~(rule & bool(offset)) & chosen


def fit(X: np.ndarray, y: np.ndarray, names: list[str], *, kind: str, C: float = 0.05,
        fa_cost: float = 10.0, inner: int = 4, groups: np.ndarray | None = None,
        inner_by: str = "scenario", scenarios: np.ndarray | None = None,
        offset: bool | str = False, features: str = "all", weighting: str | None = None,
        blend: float = 1.0, bound: float | None = None, winsor: float = 0.0, zclip: float | None = None,
        meta: dict | None = None) -> LearnedModel:  # fmt: skip
    """Fit the layer on raw features X (NaN = missing) and labels y (causes / 'healthy').
    ``offset``: the rules' log-probabilities enter every class's score with a fitted weight
    and the facts learn a correction (else the facts and rule log-odds are plain features).
    Temperature and healthy threshold come from an inner ``inner``-fold CV (folds by
    ``groups`` when given, so one scenario's recordings stay together); 0: T=1, 0.5.
    ``inner_by`` names what ``groups`` holds (recorded in the file: a family field such as
    'writer' makes the inner folds hold out whole families, as the outer CV does, so the
    threshold is fitted on runs unlike its training side); ``scenarios``: no inner fold
    trains on another recording of one of its held-out scenarios. ``blend``: the weight of the
    layer's probabilities against the rules' in what is shown (traindx.rerank.mixed); the
    fit itself does not depend on it. ``bound``: each class's facts correction is held to
    [-bound, bound] (traindx.learned.LearnedModel.bound; the inner CV's temperature and
    threshold are fitted on bounded scores). ``winsor``: every graded feature (more than two
    values) is held to its training runs' [winsor, 1 - winsor] quantiles, in the fit and
    after (0: the whole training range). ``zclip``: every standardized feature is held to
    [-zclip, zclip] in the fit and after (traindx.learned.LearnedModel.zclip; None: not)."""
    keep = _keep(X, names, offset, features)
    X = winsorized(X, keep, winsor)
    classes, a, W, b, mean, scale = _core(X, y, names, keep, C, offset, weighting, zclip)
    t, thr = 1.0, 0.5
    if inner:
        # each inner fold starts from the whole fit: the same optimum in fewer steps (a
        # leave-one-style fold of the log layer: 1,101 -> 690 evaluations with maxcor 30)
        S = inner_scores(X, y, names, keep, classes, C, inner, groups, offset, weighting, scenarios, bound, winsor, zclip,
                         (classes, a, W, b))  # fmt: skip
        # calibrated where the layer is used: runs on which a rule fired
        used = X[:, names.index("alarm")] > 0.5 if "alarm" in names else np.ones(len(y), dtype=bool)
        used = used if used.sum() >= 20 else np.ones(len(y), dtype=bool)
        y_idx = np.array([classes.index(str(c)) for c in y])
        t, thr = calibrate(S[used], y_idx[used], classes.index("healthy"), fa_cost)
        s = S[used] / t
        s = np.exp(s - s.max(axis=1, keepdims=True))
        # the inner CV's held-out p(healthy) and truth: benchmarks refit the threshold at
        # other false-alarm costs from them (select_ranker.tradeoff); not written to the file
        inner_ph = ((s / s.sum(axis=1, keepdims=True))[:, classes.index("healthy")], y[used] == "healthy")
    lo, hi = value_range(X[:, keep], mean)
    model = LearnedModel(
        kind=kind, features=[n for n, k in zip(names, keep, strict=True) if k], mean=mean, scale=scale, lo=lo, hi=hi,
        coef=W, intercept=b, classes=classes, temperature=t, healthy_threshold=thr, catalogue=FORMAT,
        meta=dict(meta or {}, C=C, fa_cost=fa_cost, offset=offset if isinstance(offset, str) else ("fit" if offset else "none"),
                  features=features, weighting=weighting or "none", inner_by=inner_by, blend=blend, bound=bound, winsor=winsor,
                  zclip=zclip),
        offset_weight=a, blend=blend, bound=bound, zclip=zclip,
    )  # fmt: skip
    model.inner_ph = inner_ph if inner else None  # type: ignore[attr-defined]
    return model


def inner_scores(X, y, names, keep, classes, C, inner, groups, offset, weighting=None, scenarios=None,
                 bound: float | None = None, winsor: float = 0.0, zclip: float | None = None,
                 init: tuple | None = None) -> np.ndarray:  # fmt: skip
    """Held-out class scores of an ``inner``-fold CV over the training runs (each fold's fit
    started from ``init`` when given)."""
    rng = np.random.default_rng(0)
    g = groups if groups is not None else np.arange(len(y))
    ug = np.unique(g)
    fold_of = dict(zip(ug, rng.permutation(len(ug)) % inner, strict=True))
    fold = np.array([fold_of[v] for v in g])
    S = np.full((len(y), len(classes)), -30.0)
    for k in range(inner):
        te, tr = fold == k, fold != k
        if scenarios is not None:
            tr &= ~np.isin(scenarios, scenarios[te])
        if te.sum() == 0 or len(set(y[tr])) < 3:
            continue
        Xtr = winsorized(X[tr], keep, winsor)
        cl, a, W, b, mt, st = _core(Xtr, y[tr], names, keep, C, offset, weighting, zclip, init)
        lo, hi = value_range(Xtr[:, keep], mt)
        Zv = (np.clip(np.where(np.isnan(X[te][:, keep]), mt, X[te][:, keep]), lo, hi) - mt) / st
        Zv = Zv if zclip is None else np.clip(Zv, -zclip, zclip)
        f = Zv @ W.T if bound is None else np.clip(Zv @ W.T, -bound, bound)
        sc = f + b + a * offset_rows(X[te], names, cl) if offset else f + b
        S[np.ix_(np.where(te)[0], [classes.index(c) for c in cl])] = sc
    return S


def calibrate(S: np.ndarray, y_idx: np.ndarray, h: int, fa_cost: float) -> tuple[float, float]:
    """(temperature, healthy threshold) fitted on held-out class scores."""
    t = fit_temperature(S, y_idx)
    s = S / t
    s = s - s.max(axis=1, keepdims=True)
    P = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    return t, healthy_threshold(P[:, h], y_idx == h, fa_cost)


def model_scores(model: LearnedModel, X: np.ndarray, names: list[str]) -> np.ndarray:
    """The model's class scores (before temperature) of raw rows X."""
    return model.scores(standardized(model, X, names), offset_rows(X, names, model.classes) if model.offset_weight else None)


def model_proba(model: LearnedModel, X: np.ndarray, names: list[str]) -> np.ndarray:
    return model.predict_proba(standardized(model, X, names), offset_rows(X, names, model.classes) if model.offset_weight else None)


def standardized(model: LearnedModel, X: np.ndarray, names: list[str]) -> np.ndarray:
    """Rows of raw X (columns ``names``) as the model's standardized vectors (held to its
    training range, as LearnedModel.vector does)."""
    idx = [names.index(f) for f in model.features]
    Xm = X[:, idx]
    return model.standardize(np.where(np.isnan(Xm), model.mean, Xm))


def winsorized(X: np.ndarray, keep: np.ndarray, q: float) -> np.ndarray:
    """X with each kept graded column (more than two distinct values: never a flag such as a
    fired symptom) held to its [q, 1 - q] quantiles over the rows that record it (a copy;
    X itself when ``q`` is 0)."""
    if q <= 0.0:
        return X
    X = X.copy()
    for j in np.where(keep)[0]:
        col = X[:, j]
        seen = col[~np.isnan(col)]
        if len(np.unique(seen)) > 2:
            lo, hi = np.quantile(seen, [q, 1.0 - q])
            X[:, j] = np.where(np.isnan(col), np.nan, np.clip(col, lo, hi))
    return X


def value_range(Xk: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's training range (min, max over recorded values; the mean where none)."""
    seen = ~np.isnan(Xk)
    lo = np.where(seen.any(axis=0), np.nanmin(np.where(seen, Xk, np.inf), axis=0), mean)
    hi = np.where(seen.any(axis=0), np.nanmax(np.where(seen, Xk, -np.inf), axis=0), mean)
    return np.minimum(lo, mean), np.maximum(hi, mean)
