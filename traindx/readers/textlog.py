"""Training output printed to a terminal and saved or pasted (``train.log``, ``output.txt``).

The layouts gathered from public code (issue 10) are all "name, separator, number" pairs
between separators, with an epoch marker somewhere:

- Keras ``fit``: ``Epoch 3/20`` on its own line, then ``32/32 [====] - 0s 2ms/step - loss:
  0.51 - accuracy: 0.81 - val_loss: ...`` (a progress line rewritten with ``\\r``: its last
  state is read);
- hand-written: ``epoch 3 | train loss 0.51 | val acc 81.2%``, ``Epoch [003/300] - Train
  Loss: 0.5, Valid Loss: 0.6, LR: [0.001]``, ``Epoch: 3, loss=0.51, acc=0.81``, ``Ep 3/12 |
  trn loss 0.99 acc 66.0% | val loss 1.03 acc 53.0%`` (a split word heading its pairs),
  ``==> epoch 3: val_loss 0.078 val_acc 0.97`` beside ``epoch 3 iter 200 loss 1.06`` lines;
- blocks: ``Epoch 3/100`` then ``  Train Loss: 0.96`` and ``  Val Loss: 0.95`` lines;
- PyTorch examples: ``| epoch 1 | 200/2983 batches | lr 20.00 | loss 5.53 | ppl 252.8``,
  ``| end of epoch 1 | valid loss 5.53``, ``Train Epoch: 1 [640/60000 (1%)]\\tLoss: 0.5`` and
  ``Test set: Average loss: 0.1, Accuracy: 9800/10000 (98%)``;
- tqdm postfixes: ``Epoch 1: 100%|####| 19/19 [00:00, 177.8it/s, loss=2.62]``; a
  ``2025-07-07 13:55:26 INFO:`` logging prefix is skipped.
- tutorials' summary lines: ``Accuracy of the network on the 10000 test images: 54 %``
  (``test Accuracy``), ``train Loss: 0.58 Acc: 0.71`` (pairs run on with a space),
  ``Test Acc: 55.3% (553/1000)``, ``Test loss: 0.03 / Test accuracy: 0.99``.
- beginners' ``print("epoch", e, "loss", loss, "val_loss", vl)``: one-word names and numbers
  alternating with single spaces (``epoch 3 loss 0.51 val_loss 0.62``), the values often the
  tensors themselves (``.item()`` forgotten: ``tensor(0.5100, grad_fn=<MseLossBackward0>)``,
  numpy 2's ``np.float64(0.51)``), read as their numbers;
- a history printed key by key (``for k in history.history: print(k, history.history[k])``:
  ``loss [0.9, 0.7, ...]``) or whole (``{'loss': [0.9, 0.7], 'val_loss': [...]}``): item *i* of
  each list is epoch *i*, as in a saved ``history.json``.

Pairs of one epoch form one record until a name repeats (then a new record starts: several
per epoch are read on a step axis, the record order, with the epoch beside it). Lines naming
a split (``Test set:``, ``Train Epoch:``) give it to their unsplit names. ``81.2%`` and
``9800/10000 (98%)`` read as fractions (0.812, 0.98). A line naming a metric beside a number
that gives no pair (``loss 0.41 reached at step 300``) is counted and reported ("skipped").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from traindx.errors import ReadError
from traindx.readers import textconfig, textlines, textnames, textwarnings
from traindx.readers import textsteps as steps
from traindx.readers.csvlog import parse_number, read_text
from traindx.readers.jsonl import python_dict, records_to_log
from traindx.readers.raw import RawLog
from traindx.readers.textaxis import EVAL_NAME as _EVAL_NAME
from traindx.readers.textaxis import percent_split, with_axis
from traindx.readers.textnames import COUNT_FIRST, aside, eval_sets, fraction_name
from traindx.readers.textsplit import NUM, split_groups, split_spaced, unnamed_grad_loss
from traindx.readers.texttable import WARNING, merge_tables, result_records, table_records
from traindx.readers.timeaxis import epochs_done

_NUM = NUM
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # terminal colours (Keras 3 progress bars)
_STATES = re.compile(r"[\r\x08]+")  # a progress line's states, each rewriting the one before
#: ``Epoch 3/20``, ``epoch: 3``, ``[ep 07]``, ``[ep 3/25]``, ``ep 001`` (the abbreviation of hand-written loops),
#: ``Epoch no. 3`` / ``Epoch number 3`` (a Q&A loop's words).
_EPOCH = re.compile(
    r"\b(?:epoch|ep)\b\.?\s*(?:(?:no|nr|num|number)\b\.?\s*)?[:#=\[]?\s*(\d+)\s*\]?(?:\s*(?:/|of)\s*\d+\s*\]?)?", re.I
)
#: Python logging's default ``%(levelname)s:%(name)s:`` too (``INFO:tensorflow:loss = 2.3, step = 0``,
#: ``INFO:root:``, ``INFO:__main__:``): the logger's name is no metric's (a number after it is a value).
_PREFIX = re.compile(
    r"^\s*(?:\[?\d{4}-\d\d-\d\d[ T][\d:.,]+\]?\s*)?(?:\[?(?:INFO|DEBUG|WARNING)\]?\s*[:-]?\s*(?:[A-Za-z_][\w.]*:(?!\s*[-+.\d]))?)?"
)
#: A split named at the start of a line (``Test set:``, ``Train Epoch:``, ``Validation -``), bracketed
#: too (``[val] epoch 3 loss=2.30 acc=0.11``, printed between a tqdm bar's states).
_LINE_SPLIT = re.compile(
    r"^\s*[|\[(]?\s*(train(?:ing)?|val(?:id(?:ation)?)?|eval(?:uation)?|test)\b(?:\s+set)?(?:\s*[\])])?"
    r"(?!\s*[:=-]?\s*[-+]?(?:\d|\.\d|nan\b|inf))\s*[:-]?",  # 'train 0.41  val 0.43': a pair, not the line's split
    re.I,
)
#: A line that only names a split, the next line's pairs being its (``Test Error:``, the quickstart).
_HEADER = re.compile(r"^\s*(train(?:ing)?|val(?:id(?:ation)?)?|eval(?:uation)?|test)\b[A-Za-z ]*:\s*$", re.I)
_SPLIT_WORD = re.compile(r"(?<![a-z])(train(?:ing)?|trn|val(?:id(?:ation)?)?|eval(?:uation)?|dev|test(?:ing)?)(?![a-z])", re.I)
#: Separators between pairs: `` - ``, ``|``, ``,``, ``;``, tabs, two spaces, tqdm's brackets.
#: An arrow before a name (``epoch 1 -> val_loss 1.85``) and an elapsed time aside (``(0.7 s)``) too.
_SEP = re.compile(
    r"\s+-\s+|\.{2,}(?=\s|$)\s*|\s*[|,;\t\[\]]\s*|(?<![:=\s])\s{2,}(?=[A-Za-z])|\s*(?:-{1,2}>|={1,2}>|\u2192)\s*(?=[A-Za-z])"
    r"|\s*\(\s*\d+(?:\.\d+)?\s*(?:ms|s|sec|secs|seconds|min)\s*\)\s*"
)
#: A segment wrapped in parentheses, whole or cut by a separator: ``(loss=1.2e-03)``, ``(loss=0.1, acc=0.9)``.
_WRAPPED = re.compile(r"^\(?([^()]*?)\)?$")
_BRACKETED = re.compile(rf"([:=])\s*\[\s*({_NUM})\s*\]", re.I)  # 'LR: [0.001]'
_PAIR = re.compile(
    rf"(?P<name>[A-Za-z][\w /@().%\u00b2-]*?)\s*(?P<sep>[:=]\s*|\s+)(?P<num>{_NUM})"
    rf"(?:\s*/\s*(?P<den>\d+)\s*(?:\(\s*[\d.]+\s*%\s*\))?)?\s*(?P<pct>%)?(?P<unit>s|ms|sec)?"
    r"(?:\s*\(\s*\d+\s*/\s*\d+\s*\))?",  # '55.3% (553/1000)': the count beside a percentage
    re.I,
)
#: A pair run into the next one's name with only a space: ``train Loss: 0.6 Acc: 0.7`` (the
#: transfer-learning tutorial), ``Test loss: 0.03 / Test accuracy: 0.99``.
_RUN_ON = re.compile(rf"([:=]\s*(?:{_NUM})\s*%?)\s+(?:/\s+)?(?=[A-Za-z][\w ().-]*?\s*[:=]\s*(?:[-+.\d]|nan\b|inf))", re.I)
#: ... or into a one-word pair (``val_loss=[1.24] acc 0.053``) whose word names a metric.
_RUN_ON_WORD = re.compile(rf"([:=]\s*(?:{_NUM})\s*%?)\s+(?=([A-Za-z]\w*)\s+(?:{_NUM})%?(?:\s|$))", re.I)
#: A record's best so far beside its value (``acc 0.053 (best 0.053)``): not a point of the series.
_BEST_ASIDE = re.compile(r"\s*\(\s*(?:best|min|max|lowest|highest)\b[^()]*\)", re.I)
#: Words of a sentence naming a summary metric: ``Accuracy of the network on the 10000 test images``.
_PROSE = re.compile(r"(?i)\b(?:of|on|over|for|in|the|final)\b")
#: Words of such a sentence naming data held out of training without a split word.
_HELD_OUT = re.compile(r"(?i)\b(?:hold-?out|held[- ]out|unseen|fresh|new|external|export|out[- ]of[- ]sample)\b")
_QUALIFIER = re.compile(r"(?i)\b(best|min|max|lowest|highest|worst|mean|avg|average|running|top-?\d*)\b")
#: Words before a number that name no metric: markers and progress (epoch, step, eta...), and a
#: lone linking word, which is prose (the stax example's ``Epoch 3 in 0.05 sec``, ``Epoch 3 took
#: 12.1 s``, ``done after 40 steps``).
#: A step counter or a rate printed as a pair (tf.estimator's ``global_step = 200``, ``global_step/sec: 356.5``).
#: A number word is no name (a row of a table of NaN, ``nan nan nan``).
_SKIP_NAMES = re.compile(
    r"(?i)epoch|ep|eta|step|batch|iter|it|in|took|takes|after|within|over|for|of|on|at|the|nan|inf(?:inity)?"
    r"|(?:global[_ ]?)?step|(?:global[_ ]?)?steps?/s(?:ec)?|(?:it|samples?|examples?)/s(?:ec)?"
)
_KNOWN = re.compile(r"(?i)(?<![a-z])((?:binary_|multi_)?m?log_?loss|loss|acc|accuracy|err|error|mse|mae|rmse|ppl|perplexity|f1|auc|iou|dice)(?![a-z])")
_LONE_NUM = re.compile(rf"(?<![\w.])(?:{_NUM})(?!\w)", re.I)  # a number, not part of a name ('loss_3.pt')
_NAMED_NUM = re.compile(r"(?<![\w@.])\d*\.\d+")  # 'loss 0.41 reached at step 300' is prose, not a name
#: A number printed as its tensor / numpy scalar: ``tensor(0.51, grad_fn=<MseLossBackward0>)``, ``np.float64(0.51)``.
_SCALAR = re.compile(rf"\b(?:tensor|(?:np|numpy)\.(?:float|int)\d+)\(\s*({_NUM})(?:\s*,[^()]*)?\)", re.I)
_WORD = r"[A-Za-z][\w/.@-]*"
#: One-word names and numbers alternating with single spaces: ``loss 0.51 val_loss 0.62``.
_SPACED = re.compile(rf"(?:{_WORD}\s+(?:{_NUM})%?\s+)+{_WORD}\s+(?:{_NUM})%?", re.I)
#: A split word heading one-word pairs (``trn loss 0.99 acc 66.0%``, ``val loss 1.2 acc 55%``).
_SPLIT_LEAD = re.compile(r"(train(?:ing)?|trn|val(?:id(?:ation)?)?|eval(?:uation)?|dev|test)\s+(?=(?!(?:nan|inf)\b)[A-Za-z])", re.I)
_SPACED_PAIR = re.compile(rf"({_WORD})\s+({_NUM})(%?)", re.I)
#: A metric's per-epoch list: ``loss [0.9, 0.7]``, ``'val_loss': [1.0, 0.8]`` (a printed history).
_KEY_LIST = re.compile(
    rf"""(?:^|[{{,])\s*['"]?({_WORD})['"]?\s*[:=]?\s*\[\s*((?:{_NUM})(?:\s*,\s*(?:{_NUM}))+)\s*,?\s*\]""", re.I | re.M
)
#: Lines needed to call a text file a training log (a README names a loss once or twice).
MIN_RECORDS = 3


def _name(name: str, context: str | None, *, prose: bool) -> str:
    """The name of a pair, given the line's split; a sentence naming a split's metric (``Accuracy of
    the model on the 320 test sequences: 50.6 %``, ``Final test accuracy: 0.9``) reads as ``test Accuracy``
    (``prose``: the value follows a colon, not a word as in ``loss barely moves from step 0``)."""
    split, metric = _SPLIT_WORD.search(name), _KNOWN.search(name)
    if prose and metric and len(name.split()) >= 3 and _PROSE.search(name):
        # a set no split word names but a word says is held out (``Accuracy on the fresh export``,
        # ``loss on unseen data``): a test metric, whatever the line's prefix (a logger named train)
        where = split[1] if split else ("test" if _HELD_OUT.search(name) else context)
        qualifier = _QUALIFIER.search(name)
        if where:
            return " ".join(w for w in (where, qualifier[1] if qualifier else None, metric[1]) if w)
    return f"{context} {name}" if context and not split else name


#: A rule of ``=`` around a marker (``== epoch 4 == val correct ..``), left before the pairs it heads.
_RULE_MARK = re.compile(r"^[\s:-]*={2,}>?\s*")
_BULLET = re.compile(r"^(?:>{1,3}|\*|\u2022|\u00bb|\u25b6|\u279c)\s*(?=[A-Za-z])")
_ABBREVIATED = re.compile(r"(?i)\b(val|valid|train|test)\.(?=\s)")  # ' Val. Loss: 0.69 |  Val. Acc: 49.3%'


def _pairs(text: str, header: str | None = None) -> dict[str, float]:
    """The ``name: number`` pairs of a line, the line's split given to names without one;
    ``81.2%`` reads 0.812 and ``9800/10000 (98%)`` 0.98."""
    text = eval_sets(_ABBREVIATED.sub(r"\1", text))
    split = _LINE_SPLIT.match(text)
    context = split[1].lower() if split else header
    out: dict[str, float] = {}
    # a part between bars may head its pairs with their split and a colon or dash:
    # ``loss=0.65 | val: loss=67.2 acc=0.41`` (its acc is the validation accuracy)
    for part in (text[split.end() :] if split else text).split("|"):
        own = _LINE_SPLIT.match(part)
        if (two := split_groups(part, lambda t: {k for k in _pairs(t) if _KNOWN.search(k)})) is not None:  # 'loss=.. valid=dev loss=..'
            out.update(_pairs(two[0], context))  # the second group's own names (lr, time) stay the line's
            raw, split_, plain = _pairs(two[2]), _pairs(two[2], two[1]), _pairs(two[2], context)
            again = set(_pairs(two[0]))
            out.update({(b if r in again else c): v for r, b, c, v in zip(raw, split_, plain, raw.values(), strict=False)})
        elif own and own[0].rstrip().endswith((":", "-")) and part[own.end() :].strip():
            _part_pairs(part[own.end() :], own[1].lower(), out)
        elif own and part[own.end() :].strip():
            # ``train loss=.. acc=.. | val loss=.. acc=..``: a part led by its split word gives
            # it to the names after it too (the second acc is the validation accuracy; issue 10)
            _part_pairs(part, own[1].lower(), out)
        else:
            _part_pairs(part, context, out)
    return out


def _part_pairs(text: str, context: str | None, out: dict[str, float]) -> None:
    """The pairs of one part of a line (between bars) into ``out``, ``context`` the split of
    names without one."""
    text = _RUN_ON.sub(r"\1 | ", _BRACKETED.sub(r"\1 \2", COUNT_FIRST.sub(r"correct \1", _BEST_ASIDE.sub("", text))))
    text = _RUN_ON_WORD.sub(lambda m: m[1] + (" | " if _KNOWN.search(m[2]) and not _SKIP_NAMES.fullmatch(m[2]) else " "), text)
    for raw in _SEP.split(text):
        seg = _RULE_MARK.sub("", raw).strip(" -:")  # '== epoch 4 == val correct 249/480': the rule is no name
        seg = _BULLET.sub("", seg)  # '  >> Val Loss: 0.61', '* val acc: 0.8': a marker before the name
        seg = w[1].strip() if (w := _WRAPPED.match(seg)) else seg
        # 'trn loss 0.99 acc 66.0%': a split word heading one-word pairs gives them its split
        lead = _SPLIT_LEAD.match(seg)
        spaced = seg[lead.end() :] if lead else seg
        if _SPACED.fullmatch(spaced):  # two or more one-word pairs, only spaces between
            own = lead[1].lower() if lead else context
            for name, num, pct in _SPACED_PAIR.findall(spaced):
                if not _SKIP_NAMES.fullmatch(name):
                    out[percent_split(_name(name, own, prose=False), pct)] = float(num) / (100.0 if pct else 1.0)
            continue
        if (two := split_spaced(seg, context, _KNOWN, lambda w, c: _name(w, c, prose=False))) is not None:
            out.update(two)  # 'train loss 5.84 val loss 4.97 val accuracy 14.67%'
            continue
        m = _PAIR.fullmatch(seg)
        if not m or _SKIP_NAMES.fullmatch(m["name"].strip()) or _NAMED_NUM.search(m["name"]):
            continue
        name = _name(aside(m["name"]).strip(), context, prose=m["sep"][0] in ":=")
        name = fraction_name(name) if m["den"] else percent_split(name, m["pct"])
        value, den = float(m["num"]), float(m["den"] or 1)
        out[name] = (value / den if den else float("nan")) / (100.0 if m["pct"] and not m["den"] else 1.0)


def parse_text(text: str) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    """(line index, record) pairs, and the number of lines that held metric pairs."""
    records, lines, _, _ = _parse(textconfig.split_config(text)[0])
    return records, lines


def _parse(text: str) -> tuple[list[tuple[int, dict[str, Any]]], int, list[int], list[int]]:
    """:func:`parse_text`, the lines naming a metric beside a number that gave no pair, and a
    table's lines between bars that gave no row (1-based).

    Each state of a line rewritten with ``\\r`` or backspaces is read: a tqdm bar's later state
    replaces the record of its epoch (a new epoch starts a record), and every state of a Keras
    bar (``8/23 [===>...] - loss: 0.51``) is a point at its batch (:mod:`textsteps`)."""
    text = _SCALAR.sub(r"\1", unnamed_grad_loss(textlines.join_printed_dicts(text), _SKIP_NAMES))
    unread: list[int] = []
    header: str | None = None  # the split a line naming only it gives the next line
    header_at: int | None = None  # that line's indent (lines indented deeper keep its split)
    epoch: float | None = None
    step: tuple[int, int | None] | None = None  # (step, of how many) the line's marker gives
    records: list[tuple[int, dict[str, Any]]] = []
    rec: dict[str, Any] | None = None  # the record being filled (also in ``records``)
    lines = 0
    epoch_bar: dict[float | None, int] = {}  # the batches of each epoch's Keras bar (fit's)
    shown: dict[str, float] = {}  # the validation values a tqdm postfix showed last
    rich = False  # in a Rich progress bar's frame (its line, the lines its metrics wrap onto)
    plain_lines = [_ANSI.sub("", ln) for ln in text.split("\n")]
    skipped_rows: list[int] = []
    tables, results = table_records(plain_lines, skipped_rows), dict(result_records(plain_lines))
    rows = dict(tables)  # a row is its epoch's marker and record (its lines after it add to it: 'test acc: 95%')
    for i, raw in enumerate(text.split("\n")):  # not splitlines: a '\r' rewrites a progress line
        if i in rows:
            epoch, rec, step = rows[i].get("epoch", epoch), rows[i], None
        states = [p for s in _STATES.split(_ANSI.sub("", raw)) if s.strip() for p in steps.after_frame(s, _names_a_value)] or [""]
        for j, state in enumerate(states):
            line = textlines.as_pairs(_PREFIX.sub("", state, count=1))
            m = _EPOCH.search(line)
            if m and int(m[1]) != epoch:
                epoch, rec, step = int(m[1]), None, None
            at = min((k for k in (line.find("{'"), line.find('{"')) if k >= 0), default=-1)
            d = python_dict(line[at:]) if at >= 0 else None  # (after a progress bar's state)
            counted = d is not None  # the line prints a counter of its own (a dict: its own point)
            if d is not None:  # a printed dict ('{'loss': 0.51, 'epoch': 0.5}', the HF Trainer)
                pairs = textlines.flat_numbers(d, parse_number)
                if pairs.pop("epoch", None) is not None and "train_runtime" not in pairs:
                    epoch, step = parse_number(str(d["epoch"])), None
                if "train_runtime" in pairs:  # the Trainer's closing summary: means, not points
                    unread.append(i + 1)
                    continue
            else:
                line, mark = steps.marker(_EPOCH.sub(" | ", line) if m else line)
                counted = mark is not None
                if mark is not None and mark != step:
                    step, rec = mark, None
                pairs = results.get(i) or _pairs(steps.TQDM_DONE.sub(" | ", line), header)  # 'DataLoader 0: 100%|': progress
            if line.strip() and j == len(states) - 1:
                # a split header gives the next line its split, and every line indented under it
                # (a YAML-like block: ``val:`` then ``    loss: 0.50`` and ``    acc: 0.77``)
                indent = len(state) - len(state.lstrip())
                if h := _HEADER.match(line):
                    header, header_at = h[1].lower(), indent
                elif header_at is None or indent <= header_at:
                    header, header_at = None, None
                rich = steps.RICH.search(line) is not None or (rich and steps.RICH_MORE.match(line) is not None)
            if not pairs:
                if j == len(states) - 1 and _KNOWN.search(line) and _LONE_NUM.search(line) and not WARNING.match(state):
                    unread.append(i + 1)
                continue
            lines += 1
            if rich and steps.rich_shown(records, epoch, pairs):  # a Rich bar's last frame: the epoch's values again
                continue
            bar = steps.BAR.match(line)
            if bar and epoch_bar.setdefault(epoch, int(bar[2])) != int(bar[2]):  # evaluate() after fit()
                bar, pairs = None, {k if _SPLIT_WORD.match(k) else f"test {k}": v for k, v in pairs.items()}
            tq = None if bar else steps.TQDM.search(line)  # a tqdm bar: each state a point at its step
            if tq:  # a validation value (an epoch's mean) stays in the postfix until the next one: read
                # where it changes (a loop's bar over epochs shows a new one each update) and at a bar's end
                kept, shown = steps.new_sticky_values(pairs, shown, _EVAL_NAME.match)
                pairs = pairs if steps.bar_ends(states, j) else kept
            # a line rewritten (its record made by an earlier state of this line: a ``tqdm.write``
            # line after a bar's frames on the same line is a line of its own); a tqdm state
            # printed again (its postfix updated)
            own = rec is not None and bool(records) and records[-1][1] is rec and records[-1][0] == i
            rewrite = rec is not None and (
                (j > 0 and own and not bar and not tq) or (tq is not None and rec.get(steps.TQDM_KEY) == (int(tq[1]), int(tq[2])))
            )
            if not (bar or tq or counted) and rec is not None and records and records[-1][1] is rec and records[-1][0] != i:
                pairs = steps.summary_apart(rec, pairs)  # an epoch's mean after a counted line: its own series
            if bar and (same := steps.repeated_state(records, (int(bar[1]), int(bar[2])), epoch, pairs)) is not None:
                rec = same  # Keras 3 prints an epoch's last bar state again, with the val_ values
                rec.update(pairs)
                continue
            if bar or tq or rewrite or rec is None or any(k in rec for k in pairs):  # a name again: the next record
                if rewrite and rec is not None:
                    rec.clear()
                else:
                    rec = {}
                    records.append((i, rec))
                rec.update({} if epoch is None else {"epoch": epoch})
                if bar:
                    rec[steps.BAR_KEY] = (int(bar[1]), int(bar[2]))
                elif tq:
                    rec[steps.TQDM_KEY] = (int(tq[1]), int(tq[2]))
                elif step is not None:
                    rec[steps.STEP_KEY] = step
            rec.update(pairs)
    if tables:  # fastai's, Markdown, ASCII tables: rows of numbers under a header of names
        records, lines = merge_tables(records, tables), lines + len(tables)
    if not lines and (lists := _KEY_LIST.findall(text)):  # a history printed key by key, or whole
        values = {k: [float(v) for v in vs.split(",")] for k, vs in lists}
        n = max(len(v) for v in values.values())
        return [(i, {"epoch": i} | {k: v[i] for k, v in values.items() if i < len(v)}) for i in range(n)], n, [], []
    return records, lines, unread, [i + 1 for i in skipped_rows]


def _prose_metric(name: str) -> str | None:
    """The metric a sentence without a split word names (``Accuracy on the 1000 sensor rows``), else None."""
    metric = _KNOWN.search(name)
    return metric[1].lower() if metric and not _SPLIT_WORD.search(name) and len(name.split()) >= 3 and _PROSE.search(name) else None


def _names_a_value(text: str) -> bool:
    return bool(_KNOWN.search(text) and _LONE_NUM.search(text))


def looks_like_text_log(head: str) -> bool:
    """A file's first lines print training metrics (``loss: 0.5``, ``val acc 81%``, or only the
    parts of a loss the name habits know: an autoencoder's ``recon 0.21 | kl 3.2``)."""
    records, n = parse_text(head)
    from traindx.names import paired_names

    if n >= MIN_RECORDS and paired_names({k for _, r in records for k in r}):
        return True  # a hand loop's "tl 0.52 vl 0.61"
    return n >= MIN_RECORDS and any(_KNOWN.search(k) or _loss_part(k) for _, r in records for k in r)


def _loss_part(name: str) -> bool:
    """``recon``, ``val_kld``: a part of the loss under :mod:`traindx.name_habits`."""
    from traindx.names import map_name

    key = map_name(name)
    return key is not None and (key.metric.endswith("_loss") or key.metric == "nll")


def read_text_log(path: str | Path) -> RawLog:
    src = str(path)
    text, settings = textconfig.split_config(read_text(path))  # a printed YAML config: settings, not points
    records, n, unread, skipped_rows = _parse(text)
    textnames.sklearn_score(text, records)
    textnames.one_off_test(records, _prose_metric)
    per_class = textnames.per_class_mean(text.split("\n"), records)
    unread = [n for n in unread if n - 1 not in per_class]
    for name in steps.progress_counts(records):  # a batch counter, not a share counted right
        for _, r in records:
            r.pop(name, None)
    if n == 0:
        raise ReadError(src, "no 'name: number' pairs on any line; expected printed training output like "
                        "'Epoch 3/20 - loss: 0.51 - val_loss: 0.62' or 'epoch 3 | train loss 0.51 | val acc 81.2%'")  # fmt: skip
    log = RawLog(path=src, hyperparameters=settings, flags=textwarnings.flags(text))
    if (done := epochs_done([[r["epoch"] for _, r in records if isinstance(r.get("epoch"), float | int)]])) is not None:
        log.flags["epochs_done"] = done  # printed HF dicts' 'epoch': 0.8 (progress, not a count)
    if unread:
        at = ", ".join(map(str, unread[:5])) + (f" and {len(unread) - 5} more" if len(unread) > 5 else "")
        log.problem("skipped", f"{src}: {len(unread)} lines name a metric beside a number in a layout not read "
                    f"(line {at}); map them or print 'name: value'", len(unread))  # fmt: skip
    if skipped_rows:
        at = ", ".join(map(str, skipped_rows[:5])) + (f" and {len(skipped_rows) - 5} more" if len(skipped_rows) > 5 else "")
        log.problem("skipped", f"{src}: {len(skipped_rows)} table rows not read (line {at}): another number of "
                    "cells than the header's, or no number", len(skipped_rows))  # fmt: skip
    spe = steps.bar_steps_per_epoch(records, _EVAL_NAME.match) or steps.printed_steps_per_epoch(text)
    if spe is not None:
        log.plan["steps_per_epoch"] = spe
        log.steps_counted = True
    apart = steps.stacked_summaries(records)  # epoch summaries stacked on one step: on their own axis
    out = records_to_log(src, with_axis([r for r in records if r[0] not in apart]), log)
    if apart:
        out.series += records_to_log(src, [(i, steps.plain([(i, r)])[0][1]) for i, r in records if i in apart], RawLog(path=src)).series
    return out
