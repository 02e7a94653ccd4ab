"""Field keys and data types of the Event protos read, and unaligned numeric views of a buffer."""

from __future__ import annotations

import numpy as np

# Field keys (field_number << 3 | wire_type) of what we read.
_EV_WALL, _EV_STEP, _EV_SUMMARY = 0x09, 0x10, 0x2A
_SUM_VALUE = 0x0A
_VAL_TAG, _VAL_SIMPLE, _VAL_HISTO, _VAL_TENSOR, _VAL_META = 0x0A, 0x15, 0x2A, 0x42, 0x4A
_TEN_DTYPE, _TEN_SHAPE, _TEN_CONTENT = 0x08, 0x12, 0x22
_SHAPE_DIM, _DIM_SIZE = 0x12, 0x08
# Repeated numeric value fields of TensorProto: float 5, double 6, int 7, int64 10,
# half 13, uint32 16, uint64 17 (bool 11 is not a metric).
_TEN_VAL_FIELDS = (5, 6, 7, 10, 13, 16, 17)

# DataType enum -> (numpy dtype of tensor_content, itemsize) for numeric scalars.
_DT = {
    1: "<f4",  # DT_FLOAT
    2: "<f8",  # DT_DOUBLE
    3: "<i4",  # DT_INT32
    4: "u1",  # DT_UINT8
    5: "<i2",  # DT_INT16
    6: "i1",  # DT_INT8
    9: "<i8",  # DT_INT64
    14: "bf16",  # DT_BFLOAT16
    17: "<u2",  # DT_UINT16
    19: "<f2",  # DT_HALF
    22: "<u4",  # DT_UINT32
    23: "<u8",  # DT_UINT64
}
_DT_SIZE = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 9: 8, 14: 2, 17: 2, 19: 2, 22: 4, 23: 8}
# Elements a tensor may hold per byte of its proto (repeated-last-value filling included).
_MAX_FILL_PER_BYTE = 8
# Plugins whose single-element tensors are not metrics.
_NOT_SCALAR_PLUGINS = {
    "histograms", "images", "audio", "text", "hparams", "pr_curves", "mesh",
    "graph_keras_model", "graph_run_metadata", "graph_run_metadata_graph", "custom_scalars",
    "projector",
}  # fmt: skip


# ------------------------------------------------------------------ numeric views


def _views(buf: np.ndarray) -> dict[str, np.ndarray]:
    """Unaligned little-endian views of ``buf`` at every byte offset, by dtype."""
    out = {}
    for dt in ("<f4", "<f8", "<i8", "<u4", "<i4", "<u2", "<i2", "<f2", "<u8"):
        size = np.dtype(dt).itemsize
        out[dt] = np.ndarray(shape=(buf.size - size + 1,), dtype=dt, buffer=buf, strides=(1,))
    return out


# Keys (field << 3 | wire type) of TensorProto's repeated numeric value fields, packed
# (wire type 2) and unpacked: float 5, double 6, int 7, int64 10, half 13, uint32 16, uint64 17.
_TEN_VAL_KEYS = tuple(
    (f << 3) | w
    for f in _TEN_VAL_FIELDS
    for w in ((2, 5) if f == 5 else (2, 1) if f == 6 else (2, 0))
)


def _read_num(buf: np.ndarray, views: dict, pos: np.ndarray, dt: int) -> np.ndarray:
    code = _DT[dt]
    if code == "bf16":
        bits = views["<u2"][pos].astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64)
    if code in ("u1", "i1"):
        b = buf[pos]
        return (b.view(np.int8) if code == "i1" else b).astype(np.float64)
    return views[code][pos].astype(np.float64)
