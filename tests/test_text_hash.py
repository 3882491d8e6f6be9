"""The distinct count of event ids by hashes first is Arrow's ``unique`` count, whatever
the values: repeats, missing values, empty and non-ASCII text, slices, wide offsets and
hash collisions (forced), and the FNV-1a hashes are the published ones."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from leadscore.data import text_hash
from leadscore.data.text_hash import distinct_count, text_hashes


def unique_count(values: pa.Array) -> int:
    return len(pc.drop_null(pc.unique(values)))


def test_hashes_are_fnv1a_64() -> None:
    # the FNV-1a 64-bit test vectors: "" and "a" and "foobar"
    hashes = text_hashes(pa.array(["", "a", "foobar", None]))
    assert hashes.tolist()[:3] == [0xCBF29CE484222325, 0xAF63DC4C8601EC8C, 0x85944171F73967E8]
    assert hashes[3] == hashes[0]  # missing hashes as the empty text


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_distinct_count_is_uniques_count(kind: pa.DataType) -> None:
    rng = np.random.default_rng(4)
    ids = [f"{rng.integers(0, 10**9):x}-évènement" for _ in range(5000)]
    cases = [
        ids,  # all distinct
        ids + ids[:3],  # repeats
        [*ids[:100], None, None, "", ""],  # missing values, the empty text twice
        ["ä", "a", "ä"],
        [None, None],
        [],
    ]
    for values in cases:
        array = pa.array(values, kind)
        assert distinct_count(array) == unique_count(array), values[:5]
        sliced = array.slice(3)  # offsets that do not start at the buffer's start
        assert distinct_count(sliced) == unique_count(sliced)
        chunked = pa.chunked_array([array.slice(0, 2), array.slice(2)], kind)
        assert distinct_count(chunked) == unique_count(array)


def test_equal_hashes_of_distinct_ids_are_counted_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two different ids with one hash: the count comes from ``unique``, not the hashes."""
    monkeypatch.setattr(text_hash, "text_hashes", lambda values: np.zeros(len(values), np.uint64))
    assert distinct_count(pa.array(["e1", "e2", "e3"])) == 3


def test_other_types_are_counted_by_unique() -> None:
    assert distinct_count(pa.array([1, 2, 2, None])) == 2
    with pytest.raises(TypeError, match="text values"):
        text_hashes(pa.array([1, 2]))


def test_any_repeated_is_numpys_answer() -> None:
    rng = np.random.default_rng(9)
    for size in (0, 1, 2, 7, 1000):
        hashes = rng.integers(0, 2**64, size, dtype=np.uint64)
        for values in (hashes, np.append(hashes, hashes[-1:]), np.append(hashes, [0, 0])):
            values = values.astype(np.uint64)
            assert text_hash._any_repeated(values) == (len(np.unique(values)) < len(values))
