"""The learned ranking layer: a multinomial logistic regression over a run's facts and the
rules' verdicts, shipped as data (``rulebook/learned/<input kind>.json``) and evaluated here
in plain numpy.

The model file is written by ``benchmarks/fit_ranker.py --write`` (scikit-learn, a dev
dependency) from the labelled runs; it holds the feature list (fact paths and how each is
transformed), the standardization, the coefficients per class (the causes and ``healthy``),
the fitted temperature and the threshold on p(healthy) above which a run is called healthy.

Features are general: curve shapes, ratios and context facts, the rules' log-odds per cause
and which symptoms fired; never a run's name, writer or step counts. A class's score is
``intercept + sum(coef * feature)``, so every probability it gives is explained by the
per-feature contributions (:meth:`LearnedModel.contributions`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from traindx.errors import RulebookError

FORMAT = "traindx-learned-ranker/1"
#: rule log-odds relative to the best candidate are clipped here (a non-candidate sits at it)
RULE_FLOOR = -12.0


def input_kind(facts: dict[str, Any]) -> str:
    """``logs`` for a run read from logs alone, ``<framework>_adapter`` for an adapter's run."""
    fw = facts.get("ctx", {}).get("framework")
    return f"{fw}_adapter" if isinstance(fw, str) and fw else "logs"


def rule_logp(log_odds: dict[str, float], unknown_prior: float) -> dict[str, float]:
    """The rules' log-probability per candidate cause at temperature 1 (softmax over the
    candidates' log-odds and the unknown prior), clipped at RULE_FLOOR: the ``rule:``
    features. Empty when no cause is a candidate (no alarm)."""
    if not log_odds:
        return {}
    z = [*log_odds.values(), math.log(unknown_prior)]
    top = max(z)
    lse = top + math.log(sum(math.exp(v - top) for v in z))
    return {c: max(v - lse, RULE_FLOOR) for c, v in log_odds.items()}


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float) and math.isfinite(float(v)):
        return float(v)
    return None


def raw_feature(name: str, facts: dict[str, Any], rules: dict[str, float], fired: set[str]) -> float | None:
    """One feature's raw value (None: missing). Names:
    ``group.key`` a fact (sign-log transformed), ``group.key>=0`` a flag (a step recorded),
    ``group.key==text`` a flag on a text fact, ``has:group`` the group was recorded,
    ``rule:<cause>`` the rules' log-odds of a cause relative to the best candidate,
    ``alarm`` a warning or error fired, ``sym:<CODE>`` that symptom fired, ``log10:group.key``
    the decimal logarithm of a positive fact (missing at or below 0): a scale fact that spans
    decades (an LR of 1e-6 or 1e-3, a loss memorized to 1e-4 or stuck at 0.2) reads as
    nearly 0 on the sign-log scale, where values above 1 set the spread."""
    if name.startswith("rule:"):
        return rules.get(name[5:], RULE_FLOOR)
    if name == "alarm":
        return float(bool(rules))
    if name.startswith("sym:"):
        return float(name[4:] in fired)
    if name.startswith("has:"):
        return float(bool(facts.get(name[4:])))
    if name.startswith("log10:"):
        g, _, k = name[6:].partition(".")
        v = _num(facts.get(g, {}).get(k))
        return None if v is None or v <= 0.0 else math.log10(min(max(v, 1e-12), 1e12))
    if "==" in name:
        path, _, want = name.partition("==")
        g, _, k = path.partition(".")
        v = facts.get(g, {}).get(k)
        return None if v is None else float(str(v).lower() == want)
    if name.endswith(">=0"):
        g, _, k = name[:-3].partition(".")
        v = _num(facts.get(g, {}).get(k))
        return None if v is None else float(v >= 0)
    g, _, k = name.partition(".")
    v = _num(facts.get(g, {}).get(k))
    if v is None:
        return None
    return math.copysign(math.log1p(min(abs(v), 1e12)), v)


@dataclass
class LearnedModel:
    """A fitted multinomial logistic regression (one row of ``coef`` per class)."""

    kind: str
    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # classes x features (on standardized features)
    intercept: np.ndarray
    classes: list[str]
    temperature: float
    healthy_threshold: float
    catalogue: str
    meta: dict[str, Any]
    path: str = ""
    #: weight of the rules' own log-probabilities in every class's score (0: facts only)
    offset_weight: float = 0.0
    #: each feature's training range (transformed values): a value outside it is clipped to
    #: it, so a run unlike every training run (a loss rising to 1e18 where training runs sat
    #: at 0-3) cannot push a class by a linear extrapolation. None: no clipping (older files)
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    #: the shown probabilities are ``blend * the layer's + (1 - blend) * the rules'`` (an equal
    #: mixture of the two rankers at 0.5); the healthy verdict is the layer's alone. Under a
    #: shift (a held-out style of program or framework) the layer alone ranked worse than the
    #: rules, the mixture better than either (benchmarks/fit_ranker.py ``blend``). 1: layer alone
    blend: float = 1.0
    #: each class's correction from the facts (``coef . z``, before the intercept and the
    #: rules' offset) is held to [-bound, bound]: a handful of heavy-tailed features far out
    #: on a run unlike the training corpus (a loss "oscillation" 22 standard deviations out)
    #: cannot multiply a cause by 1e5 on their own. Fitted by CV (benchmarks/fit_ranker.py
    #: ``bound``). None: unbounded (older files)
    bound: float | None = None
    #: every standardized feature is held to [-zclip, zclip]: a flag that one training run in
    #: 3,000 had (a symptom, "validation loss has inf", a tail of exact zeros) standardizes to
    #: z = sqrt(3000) = 55, so a coefficient the L2 penalty hardly notices moved a cause by
    #: 1e3-1e4 on that one fact; held to a few standard deviations, such a flag must earn a
    #: coefficient the penalty sees. Fitted with the same hold (benchmarks/ranker.fit
    #: ``zclip``). None: no hold (older files)
    zclip: float | None = None

    def clip(self, x: np.ndarray) -> np.ndarray:
        """Raw feature rows held to the training range (no-op without one)."""
        return x if self.lo is None or self.hi is None else np.clip(x, self.lo, self.hi)

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Raw feature rows (missing values already at the mean) as standardized rows: held
        to the training range, centred and scaled, then held to +-zclip."""
        z = (self.clip(x) - self.mean) / self.scale
        return z if self.zclip is None else np.clip(z, -self.zclip, self.zclip)

    def offsets(self, rules: dict[str, float]) -> np.ndarray:
        """The rules' log-probability of each class: a cause's from the differential (the
        floor when it is not a candidate); healthy's is the mass the rules leave unlisted
        when a rule fired, and certainty (log 1 = 0) when none fired."""
        o = np.array([rules.get(c, RULE_FLOOR) for c in self.classes], dtype=float)
        h = self.classes.index("healthy")
        o[h] = RULE_FLOOR
        rest = 1.0 - float(np.exp(o).sum()) + math.exp(RULE_FLOOR)
        o[h] = math.log(min(max(rest, math.exp(RULE_FLOOR)), 1.0)) if rules else 0.0
        return o

    def vector(self, facts: dict[str, Any], rules: dict[str, float], fired: set[str]) -> np.ndarray:
        """Standardized feature vector; a missing fact sits at the training mean (0)."""
        raw = [raw_feature(f, facts, rules, fired) for f in self.features]
        x = np.array([self.mean[i] if v is None else v for i, v in enumerate(raw)], dtype=float)
        return self.standardize(x)

    def scores(self, z: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
        """Class scores (log-odds up to a constant) of standardized vectors (rows), plus the
        weighted rules' log-probabilities (rows of :meth:`offsets`) when the model uses them."""
        f = np.atleast_2d(z) @ self.coef.T
        s = (f if self.bound is None else np.clip(f, -self.bound, self.bound)) + self.intercept
        if offsets is not None and self.offset_weight:
            s = s + self.offset_weight * np.atleast_2d(offsets)
        return s

    def predict_proba(self, z: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
        s = self.scores(z, offsets) / self.temperature
        s = s - s.max(axis=1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=1, keepdims=True)

    def contributions(self, z: np.ndarray, cls: str, against: str | None = None) -> list[tuple[str, float]]:
        """(feature, contribution to cls's score minus ``against``'s), largest first."""
        i = self.classes.index(cls)
        w = self.coef[i] - (self.coef[self.classes.index(against)] if against else 0.0)
        c = w * z
        order = np.argsort(-c)
        return [(self.features[j], float(c[j])) for j in order]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "kind": self.kind, "catalogue": self.catalogue,
            "classes": self.classes, "features": self.features,
            "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
            "temperature": self.temperature, "healthy_threshold": self.healthy_threshold,
            "offset_weight": self.offset_weight, "blend": self.blend, "meta": self.meta,
            **({"bound": self.bound} if self.bound is not None else {}),
            **({"zclip": self.zclip} if self.zclip is not None else {}),
            **({"lo": self.lo.tolist(), "hi": self.hi.tolist()} if self.lo is not None and self.hi is not None else {}),
        }  # fmt: skip


def _bad(path: Path | str, what: str) -> RulebookError:
    return RulebookError(str(path), f"not a learned ranker model: {what}")


def from_json(data: Any, path: Path | str = "<memory>") -> LearnedModel:
    """A model from its JSON object, validated; a RulebookError naming ``path`` otherwise."""
    if not isinstance(data, dict):
        raise _bad(path, "expected a JSON object")
    if data.get("format") != FORMAT:
        raise _bad(path, f"format is {data.get('format')!r}, expected {FORMAT!r}")
    for key, typ in (("kind", str), ("classes", list), ("features", list), ("mean", list), ("scale", list),
                     ("coef", list), ("intercept", list), ("temperature", (int, float)),
                     ("healthy_threshold", (int, float)), ("catalogue", str)):  # fmt: skip
        if not isinstance(data.get(key), typ):
            raise _bad(path, f"'{key}' missing or not a {getattr(typ, '__name__', 'number')}")
    try:
        mean, scale = np.asarray(data["mean"], float), np.asarray(data["scale"], float)
        coef, icpt = np.asarray(data["coef"], float), np.asarray(data["intercept"], float)
    except (TypeError, ValueError) as e:
        raise _bad(path, f"a numeric array holds a non-number ({e})") from None
    nf, nc = len(data["features"]), len(data["classes"])
    if mean.shape != (nf,) or scale.shape != (nf,) or coef.shape != (nc, nf) or icpt.shape != (nc,):
        raise _bad(path, f"array shapes do not match {nc} classes x {nf} features")
    if not all(np.isfinite(a).all() for a in (mean, scale, coef, icpt)) or (scale <= 0).any():
        raise _bad(path, "non-finite numbers or a scale <= 0")
    if "healthy" not in data["classes"] or not 0.0 < data["temperature"]:
        raise _bad(path, "no 'healthy' class, or a temperature <= 0")
    offset = data.get("offset_weight", 0.0)
    if not isinstance(offset, int | float) or not math.isfinite(offset) or offset < 0:
        raise _bad(path, "'offset_weight' must be a number >= 0")
    blend = data.get("blend", 1.0)
    if not isinstance(blend, int | float) or isinstance(blend, bool) or not 0.0 <= blend <= 1.0:
        raise _bad(path, "'blend' must be a number from 0 to 1")
    bound = data.get("bound")
    if bound is not None and (not isinstance(bound, int | float) or isinstance(bound, bool) or not 0.0 < bound < math.inf):
        raise _bad(path, "'bound' must be a number > 0")
    zclip = data.get("zclip")
    if zclip is not None and (not isinstance(zclip, int | float) or isinstance(zclip, bool) or not 0.0 < zclip < math.inf):
        raise _bad(path, "'zclip' must be a number > 0")
    lo = hi = None
    if "lo" in data or "hi" in data:
        try:
            lo, hi = np.asarray(data.get("lo"), float), np.asarray(data.get("hi"), float)
        except (TypeError, ValueError) as e:
            raise _bad(path, f"'lo'/'hi' hold a non-number ({e})") from None
        if lo.shape != (nf,) or hi.shape != (nf,) or not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (lo > hi).any():
            raise _bad(path, f"'lo' and 'hi' must be {nf} finite numbers each with lo <= hi")
    return LearnedModel(
        kind=data["kind"], features=[str(f) for f in data["features"]], mean=mean, scale=scale,
        coef=coef, intercept=icpt, classes=[str(c) for c in data["classes"]],
        temperature=float(data["temperature"]), healthy_threshold=float(data["healthy_threshold"]),
        catalogue=data["catalogue"], meta=dict(data.get("meta") or {}), path=str(path),
        offset_weight=float(offset), lo=lo, hi=hi, blend=float(blend),
        bound=None if bound is None else float(bound), zclip=None if zclip is None else float(zclip),
    )  # fmt: skip


_CACHE: dict[str, LearnedModel | None] = {}


def load_model(directory: Path, kind: str) -> LearnedModel | None:
    """The model for an input kind from ``directory/<kind>.json`` (None when there is none);
    a corrupt file raises RulebookError naming it. Loaded once per process."""
    path = directory / f"{kind}.json"
    key = str(path)
    if key not in _CACHE:
        if not path.is_file():
            _CACHE[key] = None
        else:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise _bad(path, f"cannot read JSON ({type(e).__name__}: {e})") from None
            _CACHE[key] = from_json(data, path)
    return _CACHE[key]
