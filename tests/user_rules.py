"""One user symptom as rulebook YAML, for the tests of user rule files (``--rulebook DIR``)
and of references between conditions."""

from __future__ import annotations

import json

DOCS = "{what: Fires in this test only., why: A user rule under test., false_positives: none known}"
CASES = '[{name: a, series: {loss: "1x30"}, fires: true}, {name: b, series: {loss: "1x3"}, fires: false}]'


def symptom(code: str, when: str) -> str:
    """A ``symptoms:`` list item: a warning with condition ``when``, its docs and two cases."""
    return f"""\
  - code: {code}
    slug: user-rule
    summary: A user rule
    severity: warning
    when: {json.dumps(when)}
    docs: {DOCS}
    cases: {CASES}
"""
