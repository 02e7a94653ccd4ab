"""Do the labels of the Q&A sets and healthy_aggr hold against the runs' own curves? (issue 10)

    python benchmarks/label_audit.py                 # every Q&A set (fixtures/qa*/logs) + healthy_aggr
    python benchmarks/label_audit.py fixtures/qa_small/logs --all   # one set, every run's row

The corpus's label check (fixtures/corpus/label.py) reads a generated run's `summary`; the Q&A
programs and their fixed versions carry their authors' labels and no summary. This builds the
same summary from what the run logged (traindx's readers: the training loss averaged over each
evaluation's interval = `epoch_loss`, the validation loss, the validation quality metric, the
last training accuracy) and applies label.py's own checks:

* a run labelled healthy that `overfits` (label.py's reading: the validation loss gives back
  its improvement while the training loss falls and the quality metric falls beyond its noise,
  or a train/validation accuracy gap > 0.15 after the loss fell by 90 %), or that `stalls`
  (neither loss fell 10 % and the quality metric rose < 0.05), or whose loss went non-finite;
* a run labelled faulty whose curves show no effect of its bug: finite, not overfitting, its
  training loss fell >= 10 % and never ran negative, and as good as its pair's fixed version
  of the same input kind (last validation quality within max(0.02, 10 % of what the fixed run
  gained), or - with no quality metric - a best validation loss within 1.1x, or no worse
  training loss) with a training loss that fell by at least 80 % of the fixed run's fall; an
  overfitting run whose validation loss ends > 20 % above its minimum while training falls
  shows its effect, as does a first training loss > 3x the fixed run's. data_leakage and class_imbalance are left out (their effect is a
  validation as good as training, an accuracy at the majority share: not a worse curve).
  Candidates to read, not verdicts: a bug may show elsewhere (a loss collapsing to 0, a
  plateau, losses on different scales).

The loss is the first of loss and traindx's stand-ins (nll, mse, rmse, mae, ...; LOSS_STANDINS) a run logs; a held-out split logged as "test"
stands for validation where there is none. healthy_aggr (generated, with a `summary`):
label.py's `policy` and label check on the summary itself.

Session 35 (main 57039dc), every Q&A set but the unseen qa_fresh35/qa_real35: 5 fixed versions
overfit by label.py's reading (qa_small torch_relu_mlp_normal_std1_init - the Monitor's
train accuracy 1.0 vs 0.82 -, qa_fresh kc_siamese_sqrt_nan, qa_fresh26
jax_text_bag_exponential_decay_per_step (adapter run), qa_real33
kb_blobs5_lr_lambda_times_01_csvlogger_tf, qa_wild_keras kw_deep_tanh_tiny_init_jax): their
programs were fixed and the fixed runs re-recorded; none stalled. 3 buggy pairs showed no
effect (train_mode_not_set x2: qa_fresh jax_flax_dropout_deterministic_train, qa_real
torch_cnn_train_mode_never_restored; qa_fresh hf_num_labels_one_mse, MSE on 0/1 labels): META
log_visible=False. (qa torch_eval_left_on, listed first, starts at 15.5 against the fix's 0.65 -
batch norm frozen on its init statistics - which is an effect: kept.) Read and kept (the effect shows another way): keras_binary_ce_multiclass
(-8 points), keras_labels_normalized (accuracy 1.0, loss 1e-5 from epoch 1),
torch_multilabel_ce_multihot adapter (F1 -8 points), the two VAE posterior-collapse runs (an
early plateau, losses not comparable), torch_siamese_digits_cosine_embedding_targets_01_tbx
(loss collapses to ~0). healthy_aggr: 4 healthy runs overfit, already scored as overfitting by
`policy`; no kept label fails its check.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np

from traindx.signals.pick import LOSS_STANDINS

ROOT = Path(__file__).resolve().parent.parent
#: the first a run logs is its loss: traindx's own stand-ins (signals.pick.LOSS_STANDINS: a
#: ``train_nll`` beside ``val_mae`` is the loss, the MAE a metric)
LOSSES = ("loss", *LOSS_STANDINS)
#: causes whose effect is not a worse curve than the fixed run's (a validation better than
#: training, accuracy at the majority share): judged by other facts, never "no effect" here
BY_DESIGN = {"data_leakage", "class_imbalance"}
QUALITY = ("accuracy", "auc", "f1", "precision", "recall", "map", "iou", "dice", "r2", "top5")


def _label_mod():
    spec = importlib.util.spec_from_file_location("corpus_label", ROOT / "fixtures" / "corpus" / "label.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


LABEL = _label_mod()


def _pick(run, metric: str, split: str):
    """The run's global value series of `metric` on `split` (the longest when several); a
    held-out split logged as "test" stands for "val" where no "val" series exists."""
    if split == "val":
        return _pick1(run, metric, "val") or _pick1(run, metric, "test")
    return _pick1(run, metric, split)


def _pick1(run, metric: str, split: str):
    best = None
    for s in run.series.values():
        k = s.key
        if k.metric == metric and k.split == split and k.scope == "global" and k.statistic == "value":
            if best is None or len(s.values) > len(best.values):
                best = s
    return best


def _quality(run, split: str):
    if split == "val" and not any(s.key.split == "val" for s in run.series.values()):
        split = "test"
    for m in QUALITY:
        s = _pick(run, m, split)
        if s is not None and len(s.values):
            return s
    return None


def _fin(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def summary(run) -> dict | None:
    """label.py's summary fields from the run's series; None without a training or validation loss."""
    tl = next((x for m in LOSSES if (x := _pick(run, m, "train")) is not None), None)
    vl = next((x for m in LOSSES if (x := _pick(run, m, "val")) is not None), None)
    va, ta = _quality(run, "val"), _quality(run, "train")
    if tl is None and vl is None:
        return None
    out: dict = {"nonfinite_steps": 0, "val_loss": None, "epoch_loss": None, "val_acc": None}
    if tl is not None and len(tl.values):
        t = np.asarray(tl.values, dtype=float)
        out["nonfinite_steps"] = int((~np.isfinite(t)).sum())
        fin = t[np.isfinite(t)]
        out["loss_first"] = float(fin[0]) if len(fin) else None
        out["loss_last"] = float(fin[-1]) if len(fin) else None
    if vl is not None and len(vl.values):
        v = np.asarray(vl.values, dtype=float)
        out["val_loss"] = [_fin(x) for x in v]
        if tl is not None and len(tl.values):
            out["epoch_loss"] = _chunks(tl, vl)
    if va is not None:
        out["val_acc"] = [_fin(x) for x in va.values]
        if vl is not None and len(va.values) != len(vl.values):
            out["val_acc"] = None  # not one per evaluation: the loss rule alone (label.py)
        out["q_last"] = _fin(va.values[-1])
        out["q_first"] = _fin(va.values[0])
        out["q_name"] = va.key.metric
    if ta is not None:
        out["train_acc_last"] = _fin(ta.values[-1])
    return out


def _chunks(tl, vl) -> list[float | None]:
    """The training loss averaged over each evaluation's interval (by step when both series
    share a unit and every interval holds points, else n equal index chunks)."""
    t, ts = np.asarray(tl.values, dtype=float), np.asarray(tl.steps)
    n = len(vl.values)
    if tl.unit == vl.unit:
        edges = [-np.inf, *np.asarray(vl.steps, dtype=float)]
        parts = [t[(ts > a) & (ts <= b)] for a, b in zip(edges[:-1], edges[1:], strict=True)]
        if all(len(p) for p in parts):
            return [_fin(np.mean(p)) for p in parts]
    parts = np.array_split(t, n) if len(t) >= n else [t[[min(i * len(t) // n, len(t) - 1)]] for i in range(n)]
    return [_fin(np.mean(p)) if len(p) else None for p in parts]


def healthy_problems(s: dict) -> list[str]:
    out = []
    if s["nonfinite_steps"] or any(v is None for v in s.get("val_loss") or []):
        out.append("non-finite loss")
    if LABEL.overfits(s):
        out.append("overfits")
    el = [v for v in s.get("epoch_loss") or [] if v is not None]
    vl = [v for v in s.get("val_loss") or [] if v is not None]
    tfell = s.get("loss_first") and s.get("loss_last") is not None and s["loss_last"] < 0.9 * s["loss_first"]
    tfell = tfell or (len(el) >= 2 and min(el[1:]) < 0.9 * el[0])
    vfell = len(vl) >= 2 and min(vl[1:]) < 0.9 * vl[0]
    qrose = s.get("q_last") is not None and s.get("q_first") is not None and s["q_last"] - s["q_first"] >= 0.05
    if not (tfell or vfell or qrose):
        out.append("stalls")
    return out


def val_rose(s: dict) -> bool:
    """The validation loss ends > 20 % above its minimum, reached >= 2 evaluations before the
    end, while the training loss kept falling: the textbook overfitting curve, whether or not
    the quality metric held (label.py's `overfits` also asks that it fell)."""
    vl, el = s.get("val_loss") or [], s.get("epoch_loss") or []
    if len(vl) < 4 or len(el) != len(vl) or any(v is None for v in vl + el):
        return False
    am = int(np.argmin(vl))
    return am <= len(vl) - 3 and vl[am] > 0 and vl[-1] > 1.2 * vl[am] and el[-1] < 0.9 * el[am]


def no_effect(b: dict, f: dict, cause: str = "") -> str | None:
    """Why the buggy run `b` looks as good as its fixed run `f`, or None (an effect shows)."""
    if b["nonfinite_steps"] or any(v is None for v in b.get("val_loss") or []) or LABEL.overfits(b):
        return None
    if cause == "overfitting" and val_rose(b):
        return None
    losses = [v for v in [b.get("loss_first"), b.get("loss_last"), *(b.get("val_loss") or [])] if v is not None]
    if any(v < 0 for v in losses) and not any(v < 0 for v in [f.get("loss_first") or 0, f.get("loss_last") or 0]):
        return None  # a loss running negative is the effect
    bf, bl = b.get("loss_first"), b.get("loss_last")
    if bf is not None and bl is not None and not bl < 0.9 * bf:
        return None  # the training loss never fell 10 %: a stall is the effect
    ff = f.get("loss_first")
    if bf is not None and ff is not None and ff > 0 and bf > 3 * ff:
        return None  # a start far above the fix's (a frozen batch norm, a bad init) is one
    why = []
    if b.get("q_last") is not None and f.get("q_last") is not None and b.get("q_name") == f.get("q_name"):
        gain = max(f["q_last"] - (f.get("q_first") or f["q_last"]), 0.0)
        if b["q_last"] < f["q_last"] - max(0.02, 0.1 * gain):
            return None
        why.append(f"{b['q_name']} {b['q_last']:.3f} vs fixed {f['q_last']:.3f}")
    else:
        bv = [v for v in b.get("val_loss") or [] if v is not None]
        fv = [v for v in f.get("val_loss") or [] if v is not None]
        if bv and fv:
            if min(bv) > 1.1 * min(fv) + 1e-3:
                return None
            why.append(f"best val loss {min(bv):.4g} vs fixed {min(fv):.4g}")
        elif b.get("loss_last") is not None and f.get("loss_last") is not None:
            if b["loss_last"] > 1.1 * f["loss_last"] + 1e-3:
                return None
            why.append(f"last loss {b['loss_last']:.4g} vs fixed {f['loss_last']:.4g}")
        else:
            return None
    bf, ff = b.get("loss_first"), f.get("loss_first")
    if bf and ff and b.get("loss_last") is not None and f.get("loss_last") is not None and ff > 0 and bf > 0:
        bdrop, fdrop = 1 - b["loss_last"] / bf, 1 - f["loss_last"] / ff
        if bdrop < 0.8 * fdrop:
            return None
        why.append(f"loss fell {bdrop:.0%} vs fixed {fdrop:.0%}")
    return "; ".join(why)


def qa_sets() -> list[Path]:
    skip = {"qa_fresh35", "qa_real35"}  # unseen batches: never read here
    return [p / "logs" for p in sorted((ROOT / "fixtures").glob("qa*")) if p.name not in skip and (p / "logs").is_dir()]


def audit_set(logs: Path, show_all: bool = False) -> list[tuple]:
    import traindx

    rows, sums = [], {}
    for lab_file in sorted(logs.rglob("label.json")):
        d = lab_file.parent
        lab = json.loads(lab_file.read_text())
        try:
            runs = traindx.read(d)
            s = summary(runs[0]) if runs else None
        except Exception as e:  # noqa: BLE001 - an unreadable run is listed, not fatal
            s, lab["_err"] = None, str(e)
        sums[d] = (lab, s)
    for d, (lab, s) in sums.items():
        rel = d.relative_to(ROOT)
        if s is None:
            if show_all:
                rows.append((str(rel), lab["cause"], "no loss read"))
            continue
        if lab["cause"] == "healthy":
            p = healthy_problems(s)
            if p or show_all:
                rows.append((str(rel), "healthy", ", ".join(p) or "ok", _brief(s)))
        else:
            fixed = d.parent / d.name.replace("buggy", "fixed")
            fs = sums.get(fixed, (None, None))[1]
            why = no_effect(s, fs, lab["cause"]) if fs and lab["cause"] not in BY_DESIGN else None
            if why or show_all:
                vis = "" if lab.get("log_visible", True) else " (log_visible false)"
                rows.append((str(rel), lab["cause"], f"no effect: {why}{vis}" if why else "effect", _brief(s)))
    return rows


def _brief(s: dict) -> str:
    def r(xs):
        return "-" if not xs else "[" + " ".join("nan" if v is None else f"{v:.3g}" for v in xs) + "]"
    return f"tl {r(s.get('epoch_loss'))} vl {r(s.get('val_loss'))} {s.get('q_name', 'q')} {r(s.get('val_acc'))} ta {s.get('train_acc_last')}"


def audit_aggr() -> list[tuple]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import labelled

    rows = []
    for d in labelled.discover([ROOT / "fixtures" / "healthy_aggr"]):
        lab = json.loads((d / "label.json").read_text())
        s = lab.get("summary") or {}
        cause, benign = LABEL.policy(lab)
        if lab["cause"] == "healthy" and cause != "healthy":
            rows.append((d.name, "healthy", f"scored as {cause} by policy (overfits)"))
        chk = lab.get("check") or {}
        if lab["cause"] == "healthy" and chk.get("action") not in (None, "keep"):
            rows.append((d.name, "healthy", f"label check: {chk}"))
        if lab["cause"] != "healthy" and chk.get("action") not in (None, "keep"):
            rows.append((d.name, lab["cause"], f"label check: {chk}"))
        if s and lab["cause"] == "healthy" and (s.get("nonfinite_steps") or 0):
            rows.append((d.name, "healthy", "non-finite loss"))
    return rows


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show_all = "--all" in sys.argv
    sets = [Path(a) for a in args] or qa_sets()
    for logs in sets:
        for row in audit_set(logs.resolve(), show_all):
            print(" | ".join(row))
    if not args:
        rows = audit_aggr()
        for row in rows:
            print("healthy_aggr/" + " | ".join(row))
        print(f"healthy_aggr: {len(rows)} flagged")


if __name__ == "__main__":
    main()
