"""Whether Arrow text values are all distinct, by 64-bit hashes first.

Event ids are almost always distinct: proving it is the common case of de-duplication.
Arrow's ``unique`` proves it by building a table of every id (36 bytes each, copied); a
64-bit FNV-1a hash of each id, sorted, proves it with a fraction of that work when no two
hashes are equal — distinct hashes mean distinct ids. Equal hashes (a repeated id, or,
rarely, two ids that collide) send the values to ``unique`` for the exact answer, so the
answer is always exact.
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@numba.njit(cache=True, nogil=True)
def _fnv1a(offsets: np.ndarray, data: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    for i in range(len(out)):
        h = _FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        out[i] = h


@numba.njit(cache=True, nogil=True)
def _any_repeated(hashes: np.ndarray) -> bool:  # pragma: no cover
    """Whether two of ``hashes`` are equal: one pass through an open-addressing set."""
    size = 1
    while size < 2 * len(hashes):
        size *= 2
    table = np.zeros(size, dtype=np.uint64)  # 0 marks an empty slot
    zero_seen = False
    mask = np.uint64(size - 1)
    for h in hashes:
        if h == 0:
            if zero_seen:
                return True
            zero_seen = True
            continue
        slot = (h ^ (h >> np.uint64(29))) & mask
        while table[slot] != 0:
            if table[slot] == h:
                return True
            slot = (slot + np.uint64(1)) & mask
        table[slot] = h
    return False


def text_hashes(values: pa.Array) -> np.ndarray:
    """A 64-bit FNV-1a hash of each value's UTF-8 bytes (a missing value hashes as the
    empty text).

    Parameters
    ----------
    values:
        Arrow ``string`` or ``large_string`` values.

    Example
    -------
    >>> hashes = text_hashes(pa.array(["a", "b", "a"]))
    >>> bool(hashes[0] == hashes[2]), bool(hashes[0] == hashes[1])
    (True, False)
    """
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"text values expected, got {values.type}")
    wide = pa.types.is_large_string(values.type)
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if wide else np.int32)
    offsets = offsets[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else None
    if data is None:  # every value empty or missing
        data = np.zeros(0, dtype=np.uint8)
    out = np.empty(len(values), dtype=np.uint64)
    _fnv1a(offsets, data, out)
    return out


def distinct_count(values: pa.Array | pa.ChunkedArray) -> int:
    """How many distinct values there are, missing ones left out (``unique``'s count,
    without a table of every value in the common case where all are distinct).

    Parameters
    ----------
    values:
        Arrow values (text by hashes first; any other type by ``unique``).

    Example
    -------
    >>> distinct_count(pa.array(["e1", "e2", None, "e3"])), distinct_count(pa.array(["a", "a"]))
    (3, 1)
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    present = values.drop_null()
    text = pa.types.is_string(present.type) or pa.types.is_large_string(present.type)
    if text and len(present) > 1 and not _any_repeated(text_hashes(present)):
        return len(present)  # distinct hashes: distinct values
    return len(pc.unique(present))
