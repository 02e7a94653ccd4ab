"""CRC32C tables, the scalar CRC and TFRecord's masking, and the GF(2) zero-byte operators."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_POLY = 0x82F63B78  # CRC32C (Castagnoli), reflected
_MASK_DELTA = 0xA282EAD8


# --------------------------------------------------------------------------- tables


@lru_cache(maxsize=1)
def _byte_tables() -> np.ndarray:
    """``T[k][b]``: the 8 slicing tables of CRC32C (``T[0]`` is the classic byte table)."""
    t0 = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t0 = np.where(t0 & 1, (t0 >> 1) ^ np.uint32(_POLY), t0 >> 1).astype(np.uint32)
    tabs = [t0]
    for _ in range(7):
        prev = tabs[-1]
        tabs.append((prev >> 8) ^ t0[prev & 0xFF])
    return np.stack(tabs)


@lru_cache(maxsize=1)
def _word_tables() -> tuple[np.ndarray, np.ndarray]:
    """Two 65536-entry tables: ``state' = TA[x & 0xffff] ^ TB[x >> 16]`` with ``x = state ^ word``.

    Kept as int64 so the gathered values can index the tables again without a cast.
    """
    t = _byte_tables()
    i = np.arange(65536)
    ta = (t[3][i & 0xFF] ^ t[2][i >> 8]).astype(np.int64)
    tb = (t[1][i & 0xFF] ^ t[0][i >> 8]).astype(np.int64)
    return ta, tb


@lru_cache(maxsize=1)
def _byte_list() -> list[int]:
    return [int(v) for v in _byte_tables()[0]]


def crc32c(data: bytes | bytearray | memoryview, state: int = 0) -> int:
    """CRC32C of one short byte string (pure Python; for headers and small slow paths).

    ``state`` is a previous result to continue from (``crc32c(a + b) == crc32c(b, crc32c(a))``).
    """
    t = _byte_list()
    crc = state ^ 0xFFFFFFFF
    for b in bytes(data):
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask_crc(crc):
    """TFRecord's masked CRC: rotate right by 15 and add a constant (ints and arrays)."""
    if isinstance(crc, np.ndarray):
        c = crc.astype(np.int64) & 0xFFFFFFFF
        return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF
    crc &= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    return mask_crc(crc32c(data))


# ------------------------------------------------------------ GF(2) zero operators


def _apply_cols(cols: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Apply the linear map whose images of the 32 basis bits are ``cols`` to ``v`` (uint64)."""
    out = np.zeros(v.shape, dtype=np.uint64)
    for bit in range(32):
        out ^= ((v >> np.uint64(bit)) & np.uint64(1)) * cols[bit]
    return out


@lru_cache(maxsize=1)
def _zero_powers() -> list[np.ndarray]:
    """``P[k]``: column images of the operator 'feed 2**k zero bytes' on a raw CRC state."""
    t0 = _byte_tables()[0].astype(np.uint64)
    e = np.uint64(1) << np.arange(32, dtype=np.uint64)
    one = t0[(e & np.uint64(0xFF)).astype(np.intp)] ^ (e >> np.uint64(8))
    powers = [one]
    for _ in range(40):
        powers.append(_apply_cols(powers[-1], powers[-1]))
    return powers


def _shift_zeros(state: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Raw CRC states after feeding ``nbytes`` zero bytes to each of ``state`` (vectorised)."""
    state = np.asarray(state, dtype=np.uint64).copy()
    rest = np.asarray(nbytes, dtype=np.int64).copy()
    powers = _zero_powers()
    k = 0
    while (rest > 0).any():
        sel = np.flatnonzero(rest & 1)
        if sel.size:
            state[sel] = _apply_cols(powers[k], state[sel])
        rest >>= 1
        k += 1
    return state


def _byte_op_tables(cols: np.ndarray) -> np.ndarray:
    """4 x 256 int64 tables applying a linear state map one byte of the state at a time."""
    v = np.arange(256, dtype=np.uint64)
    tabs = np.zeros((4, 256), dtype=np.uint64)
    for byte in range(4):
        for bit in range(8):
            tabs[byte] ^= ((v >> np.uint64(bit)) & np.uint64(1)) * cols[8 * byte + bit]
    return tabs.astype(np.int64)


@lru_cache(maxsize=8)
def _chunk_shift_tables(chunk: int) -> np.ndarray:
    cols = _shift_zeros(np.uint64(1) << np.arange(32, dtype=np.uint64), np.full(32, chunk))
    return _byte_op_tables(cols)


# ------------------------------------------------------- zero-byte constants by length

CHUNK = 1024  # ranges longer than this are cut into chunks whose CRCs are combined


@lru_cache(maxsize=1)
def _z_table() -> np.ndarray:
    """``Z[len]`` for len in 0..CHUNK (int64): one zero byte at a time, in plain Python."""
    t = _byte_list()
    z = [0] * (CHUNK + 1)
    st = 0xFFFFFFFF
    for n in range(CHUNK + 1):
        z[n] = st ^ 0xFFFFFFFF
        st = t[st & 0xFF] ^ (st >> 8)
    return np.array(z, dtype=np.int64)


def _z_of(lengths: np.ndarray) -> np.ndarray:
    """``Z[len] = ~(state after len zero bytes from 0xffffffff)`` for each length (int64)."""
    if lengths.size == 0 or int(lengths.max()) <= CHUNK:
        return _z_table()[lengths]
    uniq, inv = np.unique(lengths, return_inverse=True)
    st = _shift_zeros(np.full(uniq.size, 0xFFFFFFFF, dtype=np.uint64), uniq)
    return (st ^ np.uint64(0xFFFFFFFF)).astype(np.int64)[inv]


@lru_cache(maxsize=1)
def _header_table() -> np.ndarray:
    """Masked CRC of the 8-byte little-endian length header for every length < 65536."""
    lens = np.arange(65536, dtype=np.int64)
    ta, tb = _word_tables()
    # Two words: the low 32 bits of the length, then four zero bytes.
    crc = ta[lens & 0xFFFF] ^ tb[lens >> 16]
    crc = ta[crc & 0xFFFF] ^ tb[crc >> 16]
    crc ^= _z_table()[8]
    return mask_crc(crc).astype(np.int64)
