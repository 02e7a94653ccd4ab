"""Parse ``--map NAME=CANONICAL`` options into the overrides :func:`traindx.names.map_name` reads."""

from __future__ import annotations

from traindx.name_tables import SPLIT_WORDS
from traindx.names import _metric_of, _normalize
from traindx.schema import CANONICAL_METRICS, SeriesKey


def parse_map_option(items: list[str]) -> dict[str, str]:
    """Parse ``--map NAME=CANONICAL`` items into overrides for :func:`map_name`.

    CANONICAL is a metric (``loss``; aliases like ``acc`` are normalized to ``accuracy``) or a
    key string (``val/loss``, ``train/grad_norm@fc1.weight``). Raises ValueError on a bad item.
    """
    out: dict[str, str] = {}
    expected = f"expected NAME=METRIC with METRIC one of {', '.join(CANONICAL_METRICS)}, or a key like 'val/loss'"
    for item in items:
        name, eq, target = (s.strip() for s in item.rpartition("="))
        if not eq or not name or not target:
            raise ValueError(f"--map {item!r}: {expected}")
        if "+" in target:  # a sum: --map loss=train/box_loss+train/cls_loss (keyed "+<key>")
            parts = [p.strip() for p in target.split("+")]
            if not all(parts):
                raise ValueError(f"--map {item!r}: expected CANONICAL=PART+PART, e.g. loss=train/box_loss+train/cls_loss")
            key = SeriesKey.parse(parse_map_option([f"_={name}"])["_"])
            out["+" + str(key)] = "+".join(parts)
            continue
        split, slash, rest = target.partition("/")
        if slash:
            if _normalize(split) not in SPLIT_WORDS:
                raise ValueError(
                    f"--map {item!r}: {split!r} is not a split; expected train, val or test"
                )
            target = f"{SPLIT_WORDS[_normalize(split)]}/{rest}"
        key = SeriesKey.parse(target)
        found = _metric_of(_normalize(key.metric))
        if found is None:
            raise ValueError(f"--map {item!r}: unknown metric {key.metric!r}; {expected}")
        key = key.model_copy(update={"metric": found[0]})
        out[name] = str(key) if any(c in target for c in "/@:") else key.metric
    return out
