"""Text that is safe to print and to serialize, whatever the input held.

File names on POSIX are bytes (Python hands undecodable ones over as lone surrogates), JSON
keys may be lone surrogates (``"\\ud800"``), and tag names may carry terminal escape
sequences. :func:`clean` makes a string valid Unicode (UTF-8-encodable) without losing
which bytes were there; :func:`printable` also makes control characters visible, so a name
can neither break ``--json`` nor drive the terminal. :func:`value_text` is how every
output (evidence texts, the terminal, markdown and HTML reports) writes a fact's value.
"""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL, and the bidirectional overrides/isolates (which can
# make printed text read differently from what it is).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` as valid Unicode: undecodable file-name bytes become ``\\xNN``, other lone
    surrogates ``\\udNNN``."""
    if not _SURROGATE.search(text):
        return text

    def esc(m: re.Match[str]) -> str:
        c = ord(m[0])
        return f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\u{c:04x}"

    return _SURROGATE.sub(esc, text)


def printable(text: str) -> str:
    """:func:`clean`, and control characters shown as ``\\xNN``/``\\uNNNN`` (tab and newline
    included: a printed name is one line)."""
    text = clean(text)
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text
    )


def value_text(v: object) -> str:
    """A fact's value as text: booleans lower-case (as CEL writes them), floats to three
    significant digits (``inf``, ``nan`` as such), anything else as ``str``."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
