"""Pure-Python protobuf decoding for the rare values: whole tensors, histogram tensors, plugin names."""

from __future__ import annotations

import math

import numpy as np

from traindx.readers.tfevents.proto import _DT, _DT_SIZE, _MAX_FILL_PER_BYTE


def _varint(data: bytes, i: int) -> tuple[int, int]:
    """The base-128 varint at ``data[i]`` and the index after it."""
    v = shift = 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def _iter_fields(data: bytes, start: int = 0, end: int | None = None):
    """Pure-Python protobuf field iterator: yields (field, wire_type, value or (start, end))."""
    end = len(data) if end is None else end
    i = start
    while i < end:
        key, i = _varint(data, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(data, i)
            yield field, wt, v
        elif wt == 1:
            yield field, wt, (i, i + 8)
            i += 8
        elif wt == 5:
            yield field, wt, (i, i + 4)
            i += 4
        elif wt == 2:
            ln, i = _varint(data, i)
            yield field, wt, (i, i + ln)
            i += ln
        else:
            raise ValueError(f"wire type {wt}")


def _packed_varints(data: bytes, a: int, b: int) -> list[int]:
    out = []
    i = a
    while i < b:
        v, i = _varint(data, i)
        out.append(v)
    return out


def _tensor_values(data: bytes) -> tuple[int, list[int], np.ndarray]:
    """Decode a TensorProto fully: (dtype, shape, float64 values)."""
    dtype = 0
    shape: list[int] = []
    content = None
    vals: list[float] = []
    for f, wt, v in _iter_fields(data):
        if f == 1 and wt == 0:
            dtype = v
        elif f == 2 and wt == 2:
            for f2, w2, v2 in _iter_fields(data, *v):
                if f2 == 2 and w2 == 2:
                    size = 0
                    for f3, w3, v3 in _iter_fields(data, *v2):
                        if f3 == 1 and w3 == 0:
                            size = v3 - (1 << 64) if v3 >= 1 << 63 else v3
                    shape.append(size)
        elif f == 4 and wt == 2:
            content = data[v[0] : v[1]]
        elif f == 5:
            a, b = v
            vals.extend(np.frombuffer(data[a:b], "<f4").tolist())
        elif f == 6:
            a, b = v
            vals.extend(np.frombuffer(data[a:b], "<f8").tolist())
        elif f in (7, 10, 16, 17):
            if wt == 0:
                vals.append(v - (1 << 64) if v >= 1 << 63 else v)
            elif wt == 2:
                vals.extend(x - (1 << 64) if x >= 1 << 63 else x for x in _packed_varints(data, *v))
        elif f == 13:
            bits = [v] if wt == 0 else _packed_varints(data, *v) if wt == 2 else []
            arr = np.array(bits, dtype=np.uint32)
            if dtype == 14:
                vals.extend((arr << 16).view(np.float32).astype(np.float64).tolist())
            else:
                vals.extend(arr.astype(np.uint16).view(np.float16).astype(np.float64).tolist())
    if any(d < 0 for d in shape):
        raise ValueError("negative dimension")
    numel = math.prod(shape)
    # TensorFlow repeats the last value to fill a shape; a crafted shape must not make us
    # allocate more than the bytes present could describe.
    if numel > _MAX_FILL_PER_BYTE * max(len(data), 1):
        raise ValueError(f"shape {shape} holds more elements than the tensor's bytes")
    if content is not None and dtype in _DT:
        if dtype == 14:
            raw = np.frombuffer(content[: len(content) // 2 * 2], "<u2").astype(np.uint32) << 16
            arr = raw.view(np.float32).astype(np.float64)
        else:
            arr = np.frombuffer(
                content[: len(content) // _DT_SIZE[dtype] * _DT_SIZE[dtype]], _DT[dtype]
            ).astype(np.float64)
    else:
        arr = np.array(vals, dtype=np.float64)
        if arr.size < numel:  # TensorFlow repeats the last value (zeros when there is none)
            fill = arr[-1] if arr.size else 0.0
            arr = np.concatenate([arr, np.full(numel - arr.size, fill)])
    return dtype, shape, arr[:numel]


def _histogram_tensor_stats(data: bytes) -> np.ndarray | None:
    """Stats (count, sum, sumsq, min, max) of a TF2 histogram tensor [[left, right, count]]."""
    try:
        _dtype, shape, arr = _tensor_values(data)
    except (ValueError, IndexError):
        return None
    if len(shape) != 2 or shape[1] != 3 or arr.size != shape[0] * 3:
        return None
    if shape[0] == 0:
        return np.array([0.0, 0.0, 0.0, np.nan, np.nan])
    t = arr.reshape(-1, 3)
    left, right, cnt = t[:, 0], t[:, 1], t[:, 2]
    count = float(cnt.sum())
    centre = (left + right) / 2
    nz = np.flatnonzero(cnt > 0)
    if nz.size == 0:
        return np.array([count, 0.0, 0.0, np.nan, np.nan])
    return np.array(
        [
            count,
            float((cnt * centre).sum()),
            float((cnt * centre * centre).sum()),
            float(left[nz[0]]),
            float(right[nz[-1]]),
        ]
    )


def _plugin_name(buf: np.ndarray, pos: int, length: int) -> str:
    """SummaryMetadata.plugin_data.plugin_name of the metadata at ``buf[pos:pos+length]``."""
    data = buf[pos : pos + length].tobytes()
    try:
        for f, wt, v in _iter_fields(data):
            if f == 1 and wt == 2:
                for f2, w2, v2 in _iter_fields(data, *v):
                    if f2 == 1 and w2 == 2:
                        return data[v2[0] : v2[1]].decode("utf-8", "replace")
    except (ValueError, IndexError):
        pass
    return ""
