"""BLAKE2b-64 of many short texts at once, compiled: exploration's draws for big batches.

:func:`~leadscore.scoring.exploration.uniform_draws` hashes ``prefix + lead id`` (UTF-8)
with ``hashlib.blake2b(digest_size=8)``, one Python call per lead: about a microsecond
each, most of a streamed logistic regression's time. :func:`blake2b_64` computes the same
digests (RFC 7693, 8-byte digest, no key, salt or personalisation) in a numba kernel that
reads the ids straight from an Arrow string array's offsets and bytes, on every core; the
tests check it bit for bit against ``hashlib``.

The digest is returned as the integer ``int.from_bytes(digest, "big")``, as the draws read
it.

Example
-------
>>> import hashlib
>>> import pyarrow as pa
>>> ids = pa.array(["L1", "", "lead é"])
>>> mine = blake2b_64(ids, b"1:0:")
>>> theirs = [hashlib.blake2b(b"1:0:" + s.encode(), digest_size=8).digest() for s in
...           ["L1", "", "lead é"]]
>>> mine.tolist() == [int.from_bytes(d, "big") for d in theirs]
True
"""

from __future__ import annotations

import functools

import numba
import numpy as np
import pyarrow as pa

from leadscore.scoring.treeshap.pool import CORES, by_ranges, shared_pool

#: ids from which one call is split over the cores
THREADED_IDS = 65_536

_U = np.uint64
_IV = np.array(
    [
        0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
        0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
    ],
    dtype=np.uint64,
)  # fmt: skip
_SIGMA = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    ],
    dtype=np.int64,
)
# the parameter block of an unkeyed 8-byte digest: depth 1, fanout 1, digest length 8
_H0 = _IV[0] ^ _U(0x01010008)
_ALL = _U(0xFFFFFFFFFFFFFFFF)
# shift amounts typed uint64: numba would make a float of uint64 mixed with int64
_R8, _R16, _R24, _R32, _R40, _R48, _R56, _R63 = (_U(n) for n in (8, 16, 24, 32, 40, 48, 56, 63))
_R1, _R11 = _U(1), _U(11)
_BYTE = _U(0xFF)


@numba.njit(cache=True, nogil=True, inline="always")
def _g(
    a: np.uint64, b: np.uint64, c: np.uint64, d: np.uint64, x: np.uint64, y: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:  # pragma: no cover - compiled
    a = a + b + x
    d = d ^ a
    d = (d >> _R32) | (d << _R32)
    c = c + d
    b = b ^ c
    b = (b >> _R24) | (b << _R40)
    a = a + b + y
    d = d ^ a
    d = (d >> _R16) | (d << _R48)
    c = c + d
    b = b ^ c
    b = (b >> _R63) | (b << _R1)
    return a, b, c, d


@numba.njit(cache=True, nogil=True, inline="always")
def _compress(
    h: np.ndarray, m: np.ndarray, counter: np.uint64, last: bool
) -> None:  # pragma: no cover - compiled
    """One block of 16 little-endian words into the state ``h`` (RFC 7693, F)."""
    v0, v1, v2, v3, v4, v5, v6, v7 = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    v8, v9, v10, v11 = _IV[0], _IV[1], _IV[2], _IV[3]
    v12, v13, v14, v15 = _IV[4] ^ counter, _IV[5], _IV[6], _IV[7]
    if last:
        v14 = v14 ^ _ALL
    for r in range(12):
        s = _SIGMA[r]
        v0, v4, v8, v12 = _g(v0, v4, v8, v12, m[s[0]], m[s[1]])
        v1, v5, v9, v13 = _g(v1, v5, v9, v13, m[s[2]], m[s[3]])
        v2, v6, v10, v14 = _g(v2, v6, v10, v14, m[s[4]], m[s[5]])
        v3, v7, v11, v15 = _g(v3, v7, v11, v15, m[s[6]], m[s[7]])
        v0, v5, v10, v15 = _g(v0, v5, v10, v15, m[s[8]], m[s[9]])
        v1, v6, v11, v12 = _g(v1, v6, v11, v12, m[s[10]], m[s[11]])
        v2, v7, v8, v13 = _g(v2, v7, v8, v13, m[s[12]], m[s[13]])
        v3, v4, v9, v14 = _g(v3, v4, v9, v14, m[s[14]], m[s[15]])
    h[0] ^= v0 ^ v8
    h[1] ^= v1 ^ v9
    h[2] ^= v2 ^ v10
    h[3] ^= v3 ^ v11
    h[4] ^= v4 ^ v12
    h[5] ^= v5 ^ v13
    h[6] ^= v6 ^ v14
    h[7] ^= v7 ^ v15


@numba.njit(cache=True, nogil=True)
def _digests(
    prefix: np.ndarray, offsets: np.ndarray, data: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``out[i]``: the digest of ``prefix + data[offsets[i]:offsets[i + 1]]`` as a
    big-endian integer."""
    h = np.empty(8, dtype=np.uint64)
    m = np.empty(16, dtype=np.uint64)
    size = len(prefix)
    for i in range(len(out)):
        start = offsets[i]
        length = size + (offsets[i + 1] - start)
        h[0] = _H0
        for k in range(1, 8):
            h[k] = _IV[k]
        done = 0
        while True:
            # a block is compressed only when it is the last or more bytes follow; an
            # empty message is one block of zeros
            fill = min(128, length - done)
            m[:] = 0
            for k in range(fill):
                at = done + k
                byte = prefix[at] if at < size else data[start + at - size]
                m[k >> 3] |= _U(byte) << _U((k & 7) << 3)
            done += fill
            _compress(h, m, _U(done), done == length)
            if done == length:
                break
        x = h[0]
        # the digest's bytes are h[0] little-endian; read big-endian, as the draws do
        out[i] = (
            ((x & _BYTE) << _R56) | (((x >> _R8) & _BYTE) << _R48)
            | (((x >> _R16) & _BYTE) << _R40) | (((x >> _R24) & _BYTE) << _R32)
            | (((x >> _R32) & _BYTE) << _R24) | (((x >> _R40) & _BYTE) << _R16)
            | (((x >> _R48) & _BYTE) << _R8) | (x >> _R56)
        )  # fmt: skip


def _buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string array's offsets (its own rows only) and its bytes, without copying."""
    _, offsets_buffer, data_buffer = chunk.buffers()
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)
    data = np.zeros(0, np.uint8) if data_buffer is None else np.frombuffer(data_buffer, np.uint8)
    return offsets[chunk.offset : chunk.offset + len(chunk) + 1], data


def _digests_of(
    head: np.ndarray, offsets: np.ndarray, data: np.ndarray, out: np.ndarray, lo: int, hi: int
) -> None:
    # texts lo … hi: their offsets run one further, to the last text's end
    _digests(head, offsets[lo : hi + 1], data, out[lo:hi])


def blake2b_64(texts: pa.Array | pa.ChunkedArray, prefix: bytes = b"") -> np.ndarray:
    """The 8-byte BLAKE2b digest of ``prefix`` + each text's UTF-8 bytes, as unsigned
    integers (``int.from_bytes(digest, "big")``).

    Parameters
    ----------
    texts:
        Arrow ``string`` or ``large_string`` values, no nulls.
    prefix:
        Bytes hashed before every text.
    """
    if isinstance(texts, pa.ChunkedArray):
        # one array: a chunk at a time, small chunks would each be a call on one core
        texts = texts.chunk(0) if texts.num_chunks == 1 else texts.combine_chunks()
    chunks = [texts]
    head = np.frombuffer(prefix, dtype=np.uint8) if prefix else np.zeros(0, np.uint8)
    out = np.empty(len(texts), dtype=np.uint64)
    at = 0
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            raise TypeError(f"blake2b_64 hashes Arrow strings, not {chunk.type}")
        if chunk.null_count:
            raise ValueError("blake2b_64 cannot hash a missing text")
        offsets, data = _buffers(chunk)
        mine = out[at : at + len(chunk)]
        parts = CORES if len(chunk) >= THREADED_IDS else 1
        part = functools.partial(_digests_of, head, offsets, data, mine)
        by_ranges(shared_pool(), part, len(chunk), parts)
        at += len(chunk)
    return out


__all__ = ["THREADED_IDS", "blake2b_64"]
