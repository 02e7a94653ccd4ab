"""TFRecord files: framing and CRC32C, vectorised with numpy (no TensorFlow, no C extension).

A TFRecord file is a sequence of records, each::

    uint64 length (little endian)
    uint32 masked_crc32c(length bytes)
    byte   data[length]
    uint32 masked_crc32c(data)

Everything here works on a whole file at once, held in one numpy ``uint8`` buffer.

CRC32C (:func:`crc32c_ranges`) of many byte ranges at once: the ranges of a block of 8192
advance in lockstep one aligned 32-bit word per numpy step, ``x = state ^ word;
state = TA[x & 0xffff] ^ TB[x >> 16]`` with two 64K-entry "slicing-by-4" tables.  CRC is
linear over GF(2), so a range is computed from a zero state (leading zero bytes then change
nothing, which lets every range start its first word masked and lets shorter ranges of a
block start later) and corrected by a constant that depends on its length only; the bytes
of the last word after the range's end are masked to zero and fed back out with the inverse
of the one-zero-byte step.  Ranges over 1 KiB are cut into chunks whose CRCs are combined
with the "feed 1 KiB of zeros" operator.  The length CRC of a header is a table lookup
(65536 precomputed lengths).

Framing (:func:`frame`): walking ``offset += 16 + length`` is sequential by nature, so the
walk is speculated instead.  Every position whose byte equals the first data byte of the
first records (0x09, the Event ``wall_time`` key, in practice) is a candidate record start;
candidates whose header is in bounds and whose length CRC checks are kept (two threads, one
per half of the file), and the chain ``start -> start + 16 + length`` through consecutive
candidates is the framing.  Where the chain breaks (a record with another first byte,
corruption, a truncated tail) a Python walker takes over until it meets the chain again, so
the Python work grows with the irregularities, not with the records.  A header whose length
CRC fails loses the framing: the walker resynchronises on the next offset whose length CRC
and data CRC both check.
Modules: :mod:`.crc` (tables, scalar CRC, masking, zero-byte operators), :mod:`.crc_ranges`
(batched CRC of many ranges), :mod:`.framing` (record boundaries, resynchronisation, loading).
"""

from traindx.readers.tfrecord.crc import CHUNK, _header_table, crc32c, mask_crc, masked_crc32c
from traindx.readers.tfrecord.crc_ranges import crc32c_ranges
from traindx.readers.tfrecord.framing import (
    _MAX_RECORD,
    FOOTER,
    HEADER,
    Framing,
    data_crc_ok,
    frame,
    load,
)

__all__ = [
    "CHUNK", "FOOTER", "HEADER", "Framing", "crc32c", "crc32c_ranges", "data_crc_ok", "frame",
    "load", "mask_crc", "masked_crc32c", "_MAX_RECORD", "_header_table",
]  # fmt: skip
