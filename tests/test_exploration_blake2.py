"""The compiled BLAKE2b-64 behind exploration's draws, bit for bit against hashlib."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest

from leadscore.scoring import blake2
from leadscore.scoring.blake2 import blake2b_64
from leadscore.scoring.exploration import COMPILED_FROM, uniform_draws


def _hashlib(texts: list[str], prefix: bytes) -> list[int]:
    return [
        int.from_bytes(hashlib.blake2b(prefix + t.encode(), digest_size=8).digest(), "big")
        for t in texts
    ]


def _slow_draws(texts: list[str], seed: int | str) -> np.ndarray:
    """The draws one hashlib call at a time (the path below ``COMPILED_FROM`` ids)."""
    return np.concatenate(
        [uniform_draws(texts[i : i + 1], seed) for i in range(len(texts))] or [np.zeros(0)]
    )


def _awkward_ids() -> list[str]:
    rng = np.random.default_rng(7)
    alphabet = [*"abcXYZ019 -_:", "é", "ß", "中", "😀", "\u0301", "\x00"]
    ids = ["", " ", "L1", "é", "😀" * 40, "x" * 1000]
    # every length around the 128-byte block edges, with the prefix's bytes counted
    ids += ["a" * n for n in range(0, 300)]
    ids += ["".join(rng.choice(alphabet, size=int(rng.integers(0, 200)))) for _ in range(2000)]
    return ids


@pytest.mark.parametrize("prefix", [b"", b"1:0:", b"6:spring:", b"p" * 127, b"q" * 128, b"r" * 129])
def test_the_kernel_gives_hashlibs_digests(prefix: bytes) -> None:
    ids = _awkward_ids()
    assert blake2b_64(pa.array(ids, pa.string()), prefix).tolist() == _hashlib(ids, prefix)


def test_large_strings_slices_and_chunks_hash_alike() -> None:
    ids = _awkward_ids()
    expected = _hashlib(ids, b"1:7:")
    large = pa.array(ids, pa.large_string())
    assert blake2b_64(large, b"1:7:").tolist() == expected
    # a slice starts at an offset into its parent's buffers
    sliced = pa.array(ids, pa.string()).slice(100, 500)
    assert blake2b_64(sliced, b"1:7:").tolist() == expected[100:600]
    chunked = pa.chunked_array([pa.array(ids[:10]), pa.array(ids[10:])])
    assert blake2b_64(chunked, b"1:7:").tolist() == expected
    # every value empty: the array may have no data buffer at all
    assert blake2b_64(pa.array([""] * 3), b"").tolist() == _hashlib([""] * 3, b"")


def test_a_threaded_call_gives_the_same_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [f"L{i:07d}" for i in range(5000)]
    monkeypatch.setattr(blake2, "THREADED_IDS", 100)
    assert blake2b_64(pa.array(ids), b"1:0:").tolist() == _hashlib(ids, b"1:0:")


def test_the_kernel_refuses_missing_and_non_text_values() -> None:
    with pytest.raises(ValueError, match="missing"):
        blake2b_64(pa.array(["a", None]))
    with pytest.raises(TypeError, match="int64"):
        blake2b_64(pa.array([1, 2]))


@pytest.mark.parametrize("seed", [0, 3, "spring", "été"])
def test_draws_are_the_same_on_either_path(seed: int | str) -> None:
    ids = _awkward_ids()
    slow = _slow_draws(ids, seed)
    assert len(ids) >= COMPILED_FROM
    assert uniform_draws(ids, seed).tolist() == slow.tolist()
    assert uniform_draws(pa.array(ids), seed).tolist() == slow.tolist()
    assert uniform_draws(tuple(ids), seed).tolist() == slow.tolist()
    assert uniform_draws(np.array(ids, dtype=object), seed).tolist() == slow.tolist()


def test_the_pinned_draws_hold_on_the_compiled_path() -> None:
    # the values test_monitor_exploration pins for the hashlib path, here among many ids
    ids = ["L1", "L2", *(f"M{i}" for i in range(COMPILED_FROM))]
    assert uniform_draws(ids, seed=3)[:2].tolist() == pytest.approx(
        [0.68896035, 0.5526905], abs=1e-8
    )


def test_ids_that_are_not_all_text_are_read_as_before() -> None:
    numbers = list(range(COMPILED_FROM + 5))
    assert uniform_draws(numbers).tolist() == _slow_draws([str(n) for n in numbers], 0).tolist()
    arrow_numbers = pa.array(numbers)
    assert uniform_draws(arrow_numbers).tolist() == uniform_draws(numbers).tolist()
    mixed = [*(f"L{i}" for i in range(COMPILED_FROM)), None]
    with pytest.raises(ValueError, match=f"missing id at position {COMPILED_FROM}"):
        uniform_draws(mixed)
    with pytest.raises(ValueError, match=f"missing id at position {COMPILED_FROM}"):
        uniform_draws(pa.array(mixed))
    # a lone surrogate cannot be UTF-8: hashlib's path raises as it always did
    with pytest.raises(UnicodeEncodeError):
        uniform_draws([*(f"L{i}" for i in range(COMPILED_FROM)), "\ud800"])
