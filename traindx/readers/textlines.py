"""Printed lines of a known layout that :mod:`traindx.readers.textlog` reads rewritten as its
``name: value`` pairs: scikit-learn's MLP's ``Iteration 3, loss = 0.51`` (an epoch), the PyTorch
char-RNN tutorials' bare progress print, and tf.estimator's evaluation result."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from traindx.readers.textsplit import NUM as _NUM

#: scikit-learn's MLP (``verbose=True``): ``Iteration 3, loss = 0.51``. Its stochastic solvers'
#: iteration is an epoch (``max_iter`` "determines the number of epochs"), so the line is read as
#: ``epoch 3 | loss = 0.51``; anchored at the line start (Caffe's ``Iteration 100, loss = 0.5``
#: follows a glog prefix and counts solver steps).
_SKLEARN_ITER = re.compile(r"^Iteration (\d+), (?=loss = )")
#: The PyTorch char-RNN tutorials' progress print: iteration, percent done, elapsed time and a
#: bare number - the loss: ``1500 100% (1m 16s) 0.6932 pos / neg ✗ (neg)`` (classifying names),
#: ``0m 5s (5000 5%) 2.4521`` (generating names). Read as ``step 1500 | loss: 0.6932 | ...``.
_ELAPSED = r"(?:\d+(?:\.\d+)?\s*[hms]\s*)+"
_TUTORIAL = re.compile(
    rf"^\s*(?:(?P<it>\d+)\s+\d+(?:\.\d+)?%\s+\(\s*{_ELAPSED}\)|{_ELAPSED}\(\s*(?P<it2>\d+)\s+\d+(?:\.\d+)?%\s*\))"
    rf"\s+(?P<loss>{_NUM})(?=\s|$)",
    re.I,
)


def tutorial(line: str) -> str:
    """A tutorial progress line (:data:`_TUTORIAL`) as ``step N | loss: X`` and the rest."""
    m = _TUTORIAL.match(line)
    if m is None:
        return line
    return f"step {m['it'] or m['it2']} | loss: {m['loss']} | {line[m.end():]}"


#: tf.estimator's evaluation result, ``Saving dict for global step 200: accuracy = 0.55, loss = 2.02``
#: (its training lines print ``loss = 2.14, step = 100``): read as ``eval step 200 | accuracy = ...``.
_ESTIMATOR_EVAL = re.compile(r"^Saving dict for global step (\d+):\s*", re.I)


#: A name in square brackets before its separator and number: ``[epoch]: 3, [loss]: 1.17`` (a
#: ``logging`` format string's habit), ``[val acc]=0.81``; a bracketed prefix before a word
#: (``[rank0]: step 40``, ``[val] loss=2.3``) and a bracketed value (``lr: [0.001]``) stay as they are.
_BRACKET_NAME = re.compile(rf"\[\s*([A-Za-z][\w./-]*(?: [\w./-]+)*)\s*\]\s*([:=])(?=\s*(?:{_NUM})(?![\w.]))", re.I)


def as_pairs(line: str) -> str:
    """``line`` (its logging prefix taken off) with a known layout rewritten as pairs."""
    line = _BRACKET_NAME.sub(r"\1\2", _ESTIMATOR_EVAL.sub(r"eval step \1 | ", line, count=1))
    return tutorial(_SKLEARN_ITER.sub(r"epoch \1 | ", line, count=1))


#: A dict printed over several lines (``pprint.pprint(logs)``, ``json.dumps(logs, indent=2)``): its
#: first line opens it (``{'epoch': 0.21,`` or a lone ``{``) without closing it.
_DICT_OPEN = re.compile(r"""^\s*\{\s*(?:['"]|$)""")
_OPENED = re.compile(r"([{\[])\s+")
_DICT_LINES = 200  # the most lines one printed dict is joined over


def join_printed_dicts(text: str) -> str:
    """``text`` with each dict printed over several lines joined onto its first line (the lines
    after it left empty, so line numbers stay the file's): read as a dict printed on one line."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        depth = lines[i].count("{") - lines[i].count("}")
        if _DICT_OPEN.match(lines[i]) and depth > 0:
            j = i
            while depth > 0 and j + 1 < len(lines) and j - i < _DICT_LINES:
                j += 1
                depth += lines[j].count("{") - lines[j].count("}")
            if depth == 0:
                joined = _OPENED.sub(r"\1", " ".join(ln.strip() for ln in lines[i : j + 1]))  # '{ "a"': '{"a"'
                lines[i : j + 1] = [joined] + [""] * (j - i)
            i = j
        i += 1
    return "\n".join(lines)


def flat_numbers(d: dict[str, Any], parse: Callable[[str], float | None], prefix: str = "") -> dict[str, float]:
    """The numbers of a printed dict, a nested dict's under ``outer/inner`` (``{'eval': {'loss':
    0.69}}``: ``eval/loss``, its split the outer key)."""
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_numbers(v, parse, f"{prefix}{k}/"))
        elif (x := parse(str(v))) is not None:
            out[f"{prefix}{k}"] = x
    return out
