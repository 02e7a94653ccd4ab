"""The step axis of printed training output (:mod:`traindx.readers.textlog`).

Lines print where in training they are in three ways beside the epoch:

- a Keras progress bar, ``8/23 [=====>....] - ETA: 0s - loss: 0.51`` (Keras 2) or
  ``8/23 ━━━━━━━━ 0s 5ms/step - accuracy: 0.12 - loss: 2.30`` (Keras 3), one state per refresh
  (rewritten with ``\\r`` and backspaces on a terminal, one per line in a notebook's capture).
  Each state shows the *mean* of the epoch's batches so far: the mean of the batches between
  two states is read back from them (``(k m_k - j m_j) / (k - j)``), a point at batch ``k``;
- a tqdm bar (Lightning's, a hand-written loop's): ``Epoch 3:  45%|####5     | 18/40 [00:02<00:03,
  loss=0.51]``, one state per refresh, its postfix the values set at that step (a validation
  value or an epoch's mean, Lightning's ``train_loss_epoch``, stays in it until the next one:
  it is read where it changes and at the bar's end; Lightning's bar printed at 0 when it is
  reset for the next epoch is where the epoch before ended). A Rich bar's frame (Lightning's
  ``RichProgressBar``; a file keeps its last) shows the last epoch's values again;
- a counter: ``step 300``, ``Step [100/600]``, ``Iteration 3`` (scikit-learn's MLP's is an epoch:
  textlog reads it so),
  ``iter 200/1000``, ``batch 40`` or a boosting round ``[10]`` opening the line (XGBoost,
  LightGBM);
- nothing: the record order is the axis (textlog's fallback).

A counter that starts again each epoch continues from the epoch before: by its total when it
prints one (``100/600``: epoch 2's step 100 is 700), else by its stride. A tqdm bar per epoch
(``Epoch 2:   0%|  | 0/32``) starts where the epoch before ended (``32/32``): that state is
one point with it, not a resumed run's rewrite. The epoch stays beside
the step. Lines with one bar state or counter per epoch (Keras ``verbose=2``, only each epoch's
last state kept, ``Epoch [3/5], Step [600/600]``) keep the epoch axis: nothing finer was printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: A Keras progress bar state: batches done of the epoch's total, at the start of the line.
BAR = re.compile(r"^\s*(\d+)/(\d+)\s")
#: Keys of a record that the axis is computed from (never series).
BAR_KEY, STEP_KEY, TQDM_KEY = "\0bar", "\0step", "\0tqdm"
#: A tqdm bar's state (Lightning's, a loop's): ``45%|####5     | 18/40 [00:02<00:03, loss=0.5]``.
TQDM = re.compile(r"\d+%\s*(?:\|[^|]*\|)?\s*(\d+)/(\d+)\s*\[")  # (Colab prints no bar: '97% 1651/1702 [')
#: A tqdm state's progress before its counter (``Validation DataLoader 0: 100%|####|``, Lightning
#: naming the loader by its index): no metric's value.
TQDM_DONE = re.compile(r"(?:\bDataLoader\s+\d+\s*:\s*)?\d+%\s*\|[^|]*\|(?=\s*\d+/\d+\s*\[)")
#: A Rich progress bar's frame (Lightning's ``RichProgressBar``): ``Epoch 29/29 ━━━━ 50/50 0:00:00 •
#: 179.80it/s val_mse: 0.537``, its metrics wrapped onto lines under the elapsed time (RICH_MORE).
RICH = re.compile(r"━\s*\d+/\d+\s+\d+:\d\d:\d\d\b")
RICH_MORE = re.compile(r"^\s*\d+:\d\d:\d\d\s")
_COUNTER = re.compile(
    r"^\s*\[\s*(\d+)\s*\](?=\s)"  # a boosting round: '[10]\ttrain-logloss:0.5'; a loop's '[ 3] train 0.41'
    r"|(?<![/\w])(?:global[ _]?step|step|iter(?:ation)?|batch)\b\s*[:#=]?\s*\[?\s*(\d+)\s*(?:(?:/|of)\s*(\d+))?\s*\]?",
    re.I,
)
_FRACTION = re.compile(r"(?i)acc|precision|recall|auc")
#: Names that a Keras bar shows as they are (not a running mean): validation, the learning rate.
_NOT_MEAN = re.compile(r"(?i)^(?:val|valid|validation|test)[_ ]|(?:^|_)(?:lr|learning_rate)$")


def marker(line: str) -> tuple[str, tuple[int, int | None] | None]:
    """The line without its step counter, and (step, total or None) when it prints one."""
    m = _COUNTER.search(line)
    if m is None:
        return line, None
    n = m[1] if m[1] is not None else m[2]
    return line[: m.start()] + " | " + line[m.end() :], (int(n), int(m[3]) if m[3] else None)


def after_frame(state: str, names_a_value: Callable[[str], bool]) -> list[str]:
    """A tqdm frame and a line printed right after it (no newline between: ``45%|###| 9/15
    [00:03<00:02, 2.5it/s]Epoch 10: | Val Acc: 100.00%``) as two states: the print is a line of
    its own, not the bar's postfix (whose repeated validation values are dropped)."""
    tq = TQDM.search(state)
    close = state.find("]", tq.end()) if tq else -1
    if close >= 0 and names_a_value(state[close + 1 :]):
        return [state[: close + 1], state[close + 1 :]]
    return [state]


def progress_counts(records: list[tuple[int, dict[str, Any]]]) -> set[str]:
    """Names read as a share (``Train: 100/469``: ``Train accuracy``) that count progress: in
    every epoch (two or more) the same values rising (``100/469, 200/469, ...`` again each epoch),
    which no accuracy repeats."""
    seen: dict[str, dict[Any, list[float]]] = {}
    for _, r in records:
        for k, v in r.items():
            if isinstance(k, str) and k.endswith("accuracy") and r.get("epoch") is not None:
                seen.setdefault(k, {}).setdefault(r["epoch"], []).append(v)
    return {
        k for k, by in seen.items()
        if len(by) >= 2 and all(len(vs) >= 2 and vs == next(iter(by.values())) and vs == sorted(set(vs)) for vs in by.values())
    }  # fmt: skip


def bar_ends(states: list[str], j: int) -> bool:
    """State ``j`` of a line is its tqdm bar's last: complete (``40/40``), or the last before the
    bar restarts on the same line (a new epoch)."""
    now = TQDM.search(states[j])
    if now is None or int(now[1]) >= int(now[2]):
        return True
    nxt = TQDM.search(states[j + 1]) if j + 1 < len(states) else None
    return nxt is not None and int(nxt[1]) <= int(now[1])


def new_sticky_values(
    pairs: dict[str, float], shown: dict[str, float], is_eval: Callable[[str], object]
) -> tuple[dict[str, float], dict[str, float]]:
    """A tqdm state's pairs without the values that stay in a postfix (validation: ``is_eval``,
    an epoch's mean: ``*_epoch``) when it showed them already (the last value of each name in ``shown``,
    returned updated): Lightning keeps an epoch's ``val_loss`` and ``train_loss_epoch`` in every
    update of the next epoch's bar (one point, not one per update); a loop's bar over the epochs
    (``trange(60)``, ``set_postfix(val_mse=...)``) shows a new one in each update (a point each)."""
    evals = {k: v for k, v in pairs.items() if is_eval(k) or k.lower().endswith("_epoch")}
    kept = {k: v for k, v in pairs.items() if k not in evals or shown.get(k) != v}
    return kept, shown | evals


def rich_shown(records: list[tuple[int, dict[str, Any]]], epoch: Any, pairs: dict[str, float]) -> bool:
    """A Rich bar's frame: its values (rounded for display) given to the record its epoch
    has already (a file keeps the live display's last frame only: the last epoch's values,
    which the program printed too), names it lacks added; False when the epoch has none."""
    for _, r in reversed(records):
        if r.get("epoch") == epoch:
            for k, v in pairs.items():
                r.setdefault(k, v)
            return True
    return False


def repeated_state(
    records: list[tuple[int, dict[str, Any]]], mark: tuple[int, int], epoch: Any, pairs: dict[str, float]
) -> dict[str, Any] | None:
    """The record of the Keras bar state just before, when this state repeats it: the same
    batch of the same epoch, every value both show identical (Keras 3's ``fit(verbose=1)``
    prints an epoch's final state twice, the second time with the validation values). One
    record, not a resumed run; a state showing other values at that batch is not merged."""
    if not records:
        return None
    last = records[-1][1]
    if last.get(BAR_KEY) != mark or last.get("epoch") != epoch:
        return None
    shared = [k for k in pairs if k in last]
    return last if shared and all(last[k] == pairs[k] for k in shared) else None


def _strip(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in (BAR_KEY, STEP_KEY, TQDM_KEY)}


def plain(records: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """The records without the axis keys."""
    return [(i, _strip(r)) for i, r in records]


def _fine(records: list[tuple[int, dict[str, Any]]]) -> bool:
    """Some epoch has more than one counted record (Keras or tqdm bar states, ``step``
    counters), or a counter is printed without epochs (XGBoost's rounds): a counter printed once
    per epoch (``Epoch [3/5], Step [600/600], Loss: ...``) leaves the epoch axis."""
    per_epoch: dict[Any, int] = {}
    for _, r in records:
        if BAR_KEY in r or TQDM_KEY in r or STEP_KEY in r:
            if r.get("epoch") is None:
                return True
            per_epoch[r["epoch"]] = per_epoch.get(r["epoch"], 0) + 1
    return any(n > 1 for n in per_epoch.values())


def _means_undone(records: list[tuple[int, dict[str, Any]]]) -> None:
    """Each Keras bar state's running means turned into the mean of the batches since the state
    before it in the same epoch (in place); kept >= 0 when every shown mean was, and an accuracy
    within 0..1 (the printed decimals, times k / (k - j), can step outside)."""
    shown: dict[str, list[float]] = {}
    for _, r in records:
        if BAR_KEY in r:
            for k, v in r.items():
                if isinstance(v, float):
                    shown.setdefault(k, []).append(v)
    before: dict[str, tuple[int, float]] = {}  # name -> (batches, mean) at the epoch's last state
    epoch: Any = object()
    for _, r in records:
        if BAR_KEY not in r:
            continue
        if r.get("epoch") != epoch:
            epoch, before = r.get("epoch"), {}
        k = r[BAR_KEY][0]
        for name, m in list(r.items()):
            if not isinstance(m, float) or _NOT_MEAN.search(name):
                continue
            j, mj = before.get(name, (0, 0.0))
            before[name] = (k, m)
            if k <= j:
                continue  # the bar went back: shown as it is
            v = (k * m - j * mj) / (k - j)
            lo = 0.0 if min(shown[name]) >= 0 else None
            hi = 1.0 if _FRACTION.search(name) and max(shown[name]) <= 1 else None
            r[name] = min(max(v, lo if lo is not None else v), hi if hi is not None else v)


def step_axis(records: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]] | None:
    """The records on the step axis their lines print (``step`` added, epoch beside), or None
    when they print none finer than the epoch."""
    if not _fine(records):
        return None
    _means_undone(records)
    out: list[tuple[int, dict[str, Any]]] = []
    offset = last = stride = 0
    prev: tuple[int, Any] | None = None  # (raw step, epoch) of the last record with a counter
    for i, r in records:
        mark = r.get(BAR_KEY) or r.get(TQDM_KEY) or r.get(STEP_KEY)
        if mark is None:  # printed after the last counted line: at its step
            out.append((i, {"step": last, **_strip(r)}))
            continue
        n, total = mark
        e = r.get("epoch")
        if TQDM_KEY in r and out and prev is not None and n == 0 and e == prev[1] and total and prev[0] == total:
            # the bar reset for the next epoch (Lightning prints it at 0 before naming the epoch):
            # where the epoch ended, its postfix the latest shown there
            out[-1] = (out[-1][0], out[-1][1] | {k: v for k, v in _strip(r).items() if k != "epoch"})
            continue
        if prev is not None:
            pn, pe = prev
            if total and e is not None and pe is not None and e > pe and n <= pn:
                offset += total * (e - pe)  # a whole epoch (or more) of a counter that restarts
            elif n < pn or (n == pn and e != pe):  # restarted: continue by the stride
                offset = last + stride - n
            elif n > pn:
                stride = n - pn
        last = offset + n
        prev = (n, e)
        if TQDM_KEY in r and out and out[-1][1]["step"] == last and out[-1][1].get("epoch") != e:
            # a new epoch's bar at 0 done is where the epoch before ended, not a resumed run:
            # one point, its postfix the latest shown there (values the epoch before's last
            # state shows alone, a validation value, stay)
            out[-1] = (out[-1][0], out[-1][1] | {k: v for k, v in _strip(r).items() if k != "epoch"})
            continue
        out.append((i, {"step": last, **_strip(r)}))
    return out


def bar_steps_per_epoch(records: list[tuple[int, dict[str, Any]]], is_eval: Callable[[str], object]) -> int | None:
    """The optimizer steps of one epoch as a training bar per epoch counts them: its
    ``n/total`` when complete (tqdm's ``Epoch 3: 100%|####| 1/1 [.., loss=0.69]``: one step an
    epoch; Keras's ``300/300 - 11s - 37ms/step - loss: 0.51``, ``verbose=2`` or a bar's last
    state), the same total at the end of two or more epochs' bars that carry a training value.
    A bar over the epochs themselves (``tqdm(range(50))``) completes once; validation bars carry
    validation values only (``is_eval``: a validation value's name); an ``evaluate()`` bar after
    the last epoch with another total leaves the count unknown."""
    totals: dict[Any, int] = {}
    for _, r in records:
        tq = r.get(TQDM_KEY) or r.get(BAR_KEY)
        if tq is None or tq[0] != tq[1] or r.get("epoch") is None:
            continue
        if any(not k.startswith("\0") and k != "epoch" and not is_eval(k) for k in r):
            totals[r["epoch"]] = tq[1]
    return totals.popitem()[1] if len(totals) >= 2 and len(set(totals.values())) == 1 else None


#: The program's own count of optimizer steps per epoch: ``batches per epoch: 1``,
#: ``steps_per_epoch=43``, ``Iterations per epoch: 12`` (its loader's ``len``).
_PER_EPOCH = re.compile(r"(?i)\b(?:batches|steps|iterations|iters|updates)[ _]per[ _]epoch\b\s*[:=]?\s*(\d+)(?![\d.])")


def printed_steps_per_epoch(text: str) -> int | None:
    """The steps per epoch the program printed, when it printed one number for them."""
    found = {int(m[1]) for m in _PER_EPOCH.finditer(text)}
    return found.pop() if len(found) == 1 and min(found) > 0 else None


def stacked_summaries(records: list[tuple[int, dict[str, Any]]]) -> set[int]:
    """The line indexes of a log's epoch summary lines (an epoch marker, no step counter) where
    the step axis would stack two epochs' summaries on one step (``epoch 8 | val_loss ..`` and
    ``epoch 9 | val_loss ..`` with no ``step 90`` line between: the later would supersede the
    earlier as if the run had resumed); empty when each summary has a step of its own. Those
    summaries are read on the epoch axis instead, beside the step lines (issue 10 s.4: one
    series, one unit; :func:`traindx.readers.timeaxis.combine` aligns the two)."""
    if not _fine(records):
        return set()
    after: dict[int, set[Any]] = {}  # the last counted record before a summary -> the epochs summarized there
    summaries: set[int] = set()
    last = -1
    for i, r in records:
        if BAR_KEY in r or TQDM_KEY in r or STEP_KEY in r:
            last = i
        elif r.get("epoch") is not None:
            after.setdefault(last, set()).add(r["epoch"])
            summaries.add(i)
    return summaries if any(len(e) > 1 for e in after.values()) else set()


#: A name read as its epoch-level series (``train loss/epoch``: ``train/loss@epoch``).
EPOCH_APART = "/epoch"


def summary_apart(rec: dict[str, Any], pairs: dict[str, float]) -> dict[str, float]:
    """The pairs of an epoch summary line (no counter of its own) that adds to the record of a
    counted line before it (``Epoch [1/25], Step [20/32], Loss: 0.25`` then ``Epoch [1/25] train
    loss 0.39``, or a tqdm bar's last state then the epoch's summary): a name that reads as the
    same series as one of the record's (``Loss`` and ``train loss``: train/loss) is the epoch's
    mean beside a batch's value, and is read apart as that series' epoch-level scope (``train
    loss/epoch``: train/loss@epoch; issue 10 s.4) instead of being dropped as a second version."""
    if STEP_KEY not in rec and TQDM_KEY not in rec:
        return pairs
    from traindx.names import map_name

    have = {  # a batch's value is a training one (two test lines naming one metric are not this)
        str(k) for n in rec if isinstance(n, str) and not n.startswith("\0") and (k := map_name(n)) is not None and k.split == "train"
    }
    if not have:
        return pairs
    return {(f"{n}{EPOCH_APART}" if (k := map_name(n)) is not None and str(k) in have else n): v for n, v in pairs.items()}
