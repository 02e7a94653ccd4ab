"""TensorBoard's hparams plugin: the hyperparameters of a session (``SummaryWriter.add_hparams``,
``tensorboard.plugins.hparams.api.hparams``), decoded from the summary's metadata.

The ``_hparams_/session_start_info`` value's ``SummaryMetadata.plugin_data.content`` is an
``HParamsPluginData`` whose ``session_start_info`` (field 3) maps each hyperparameter name
(field 1 of an entry) to a ``google.protobuf.Value`` (field 2): a number (2; a whole
number read as an int), a string (3) or a bool (4). Struct and list values are not hyperparameters a sweep can rank; not read.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from traindx.readers.tfevents.pyfields import _iter_fields

SESSION_START = "_hparams_/session_start_info"
#: The text summary HuggingFace's ``TensorBoardCallback`` writes once (``report_to=["tensorboard"]``):
#: ``TrainingArguments.to_json_string()`` - the optimizer (``optim``), its LR, warm-up, batch size.
HF_ARGS = "args/text_summary"


def text_json_hparams(tensor: bytes) -> dict[str, Any] | None:
    """The scalar entries of the JSON object in a text summary's ``TensorProto.string_val``
    (field 8); None when the tensor holds no JSON object (a text that is not arguments)."""
    try:
        vals = [tensor[v[0] : v[1]] for f, wt, v in _iter_fields(tensor, 0, len(tensor)) if f == 8 and wt == 2]
        if len(vals) != 1:
            return None
        obj = json.loads(vals[0].decode("utf-8"))
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    return {
        str(k): v for k, v in obj.items()
        if isinstance(v, str | int | float | bool) and not (isinstance(v, float) and not math.isfinite(v))
    }


def session_hparams(meta: bytes) -> dict[str, Any] | None:
    """The hyperparameters in a session-start summary's metadata; None when it holds none
    (another hparams summary) or does not decode."""
    try:
        content = _field(meta, 0, len(meta), 1, 2)  # SummaryMetadata.plugin_data
        if content is None:
            return None
        data = meta[content[0] : content[1]]
        c = _field(data, 0, len(data), 2, 2)  # PluginData.content
        if c is None:
            return None
        data = data[c[0] : c[1]]
        s = _field(data, 0, len(data), 3, 2)  # HParamsPluginData.session_start_info
        if s is None:
            return None
        out: dict[str, Any] = {}
        for f, wt, v in _iter_fields(data, *s):
            if f == 1 and wt == 2:  # map<string, Value> entry
                k = _field(data, v[0], v[1], 1, 2)
                val = _field(data, v[0], v[1], 2, 2)
                x = _value(data, *val) if val else None
                if k is not None and x is not None:
                    out[data[k[0] : k[1]].decode("utf-8", "replace")] = x
        return out
    except (ValueError, IndexError, struct.error):
        return None


def _field(data: bytes, a: int, b: int, field: int, wire: int) -> tuple[int, int] | None:
    """(start, end) of the last length-delimited ``field`` in ``data[a:b]``."""
    found = None
    for f, wt, v in _iter_fields(data, a, b):
        if f == field and wt == wire:
            found = v
    return found


def _value(data: bytes, a: int, b: int) -> Any:
    for f, wt, v in _iter_fields(data, a, b):
        if f == 2 and wt == 1:  # a double: 32.0 for a batch size of 32, read back as 32
            x = struct.unpack("<d", data[v[0] : v[1]])[0]
            return int(x) if x.is_integer() and abs(x) < 2**53 else x
        if f == 3 and wt == 2:
            return data[v[0] : v[1]].decode("utf-8", "replace")
        if f == 4 and wt == 0:
            return bool(v)
    return None
