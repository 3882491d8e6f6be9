"""The streamed features' passes over the buckets: what the first pass keeps for the
second gives the same events, and the fit sample's pool is the same sort as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.api.types import union_categoricals

from leadscore.data.events import _object_categories, _union, events_frame
from leadscore.demo import write_demo_events
from leadscore.features import partition
from leadscore.features.partition import Buckets, partition_events
from leadscore.features.stream import used_categories
from leadscore.features.stream_sample import SamplePool
from leadscore.features.stream_work import rows_kept


@pytest.fixture(scope="module")
def buckets(tmp_path_factory: pytest.TempPathFactory) -> Buckets:
    folder = tmp_path_factory.mktemp("demo")
    demo = write_demo_events(folder, leads=120, new_leads=10, seed=5)  # with a duplicate
    return partition_events(demo["events"], folder / "buckets", count=3)


def test_a_kept_bucket_reads_back_as_the_clean_one(buckets: Buckets) -> None:
    removed = 0
    for b in range(buckets.count):
        table, repeated = buckets.clean(b)
        kept_table, again = buckets.clean(b, keep=True)
        assert again == repeated
        expected, kept = events_frame(table), events_frame(kept_table)
        removed += repeated
        assert not buckets.path(b).exists()  # the raw bucket made way for the clean one
        settled = buckets.settled(b)
        pd.testing.assert_frame_equal(kept, expected)
        assert list(settled.columns) == list(expected.columns)
        for column in expected.columns:
            want, have = expected[column], settled[column]
            assert str(have.dtype) == str(want.dtype), column
            assert (
                have.astype(object).where(have.notna(), None).tolist()
                == want.astype(object).where(want.notna(), None).tolist()
            ), column
            if isinstance(want.dtype, pd.CategoricalDtype):
                assert have.cat.categories.tolist() == want.cat.categories.tolist(), column
    assert removed >= 1  # the demo's repeated event was removed in the first pass


def test_a_bucket_never_kept_is_cleaned_when_settled(tmp_path: Path) -> None:
    demo = write_demo_events(tmp_path, leads=30, new_leads=5, seed=2)
    buckets = partition_events(demo["events"], tmp_path / "b", count=2)
    expected, _ = buckets.clean(0)
    pd.testing.assert_frame_equal(buckets.settled(0), events_frame(expected))


@pytest.mark.parametrize("chunks", [1, 7])
def test_the_sample_pool_keeps_the_lowest_hashes_by_hash_then_id(chunks: int) -> None:
    rng = np.random.default_rng(3)
    ids = np.array([f"lead-{i}" for i in rng.permutation(500)], dtype=object)
    hashes = rng.integers(0, 2**63, 500).astype(np.uint64)
    # ties: two ids share a hash, in the reverse of their id order, and one at the edge
    hashes[[7, 9]] = 0
    ids[[7, 9]] = ["z-last", "a-first"]
    edge = np.sort(hashes)[99]
    hashes[[11, 12]] = edge
    frame = pd.DataFrame({"id": ids, "hash": hashes})
    expected = frame.sort_values(["hash", "id"], kind="stable").head(100)
    pool = SamplePool()
    for part in np.array_split(np.arange(500), chunks):  # bucket by bucket, or at once
        pool = pool.merged(ids[part], 100, hashes[part])
    assert pool.ids.tolist() == expected["id"].tolist()
    assert pool.hashes.tolist() == expected["hash"].tolist()
    assert pool.ids.tolist()[:2] == ["a-first", "z-last"]


@pytest.mark.parametrize("kept", [0.0, 0.01, 0.5, 1.0])
def test_used_categories_is_pandas_remove_unused_categories(kept: float) -> None:
    rng = np.random.default_rng(int(kept * 100))
    categories = pd.Index([f"url-{i}" for i in range(3000)], dtype="str")
    codes = rng.integers(-1, len(categories), 20_000)
    values = pd.Series(pd.Categorical.from_codes(codes, categories=categories), name="url")
    values = values[rng.random(len(values)) < kept]
    expected = values.cat.remove_unused_categories()
    got = used_categories(values)
    pd.testing.assert_series_equal(got, expected)
    assert got.cat.codes.dtype == expected.cat.codes.dtype


def test_the_fit_samples_union_is_pandas_union_categoricals() -> None:
    rng = np.random.default_rng(8)

    def part(rows: int, distinct: int, first: int) -> pd.Series:
        categories = pd.Index([f"id-{first + i}" for i in rng.permutation(distinct)], dtype="str")
        codes = rng.integers(-1, distinct, rows) if distinct else np.full(rows, -1)
        return pd.Series(pd.Categorical.from_codes(codes, categories=categories))

    cases = [[part(500, 40, 0), part(300, 60, 20), part(0, 0, 0), part(200, 10, 90)]]
    cases.append([cases[0][0], cases[0][0].sample(frac=1, random_state=1)])  # same categories
    cases.append([part(100, 5, 0)])
    cases.append([part(50, 0, 0), part(80, 6, 3)])  # a part without any value
    for parts in cases:
        expected = union_categoricals([_object_categories(p) for p in parts], ignore_order=True)
        got = _union(parts)
        pd.testing.assert_series_equal(pd.Series(got), pd.Series(expected))
        assert got.codes.dtype == expected.codes.dtype
        assert got.categories.dtype == expected.categories.dtype


def test_a_buckets_sample_leads_read_alone_are_its_clean_rows(buckets: Buckets) -> None:
    for b in range(buckets.count):
        events = buckets.settled(b)
        names = events["lead_id"].cat.categories.astype(object)
        leads = np.asarray(names[::3], dtype=object)  # a third of the bucket's leads
        mask = np.isin(events["lead_id"].astype(object).to_numpy(), leads)
        expected = rows_kept(events, mask)
        got = events_frame(buckets.settled_leads(b, leads))
        assert 0 < len(got) < len(events)
        pd.testing.assert_frame_equal(got, expected)
        for column in got.columns:
            if isinstance(got[column].dtype, pd.CategoricalDtype):
                assert got[column].cat.categories.tolist() == (
                    expected[column].cat.categories.tolist()
                ), column


def test_buckets_are_ranges_of_lead_hashes_in_order() -> None:
    """A higher hash is never in a lower bucket (the fit sample, the lowest hashes, is then
    in the first buckets), and every bucket gets about its share."""
    hashes = np.random.default_rng(3).integers(0, 2**64 - 1, 100_000, dtype=np.uint64)
    for count in (1, 7, 64):
        buckets = partition.hash_buckets(np.sort(hashes), count)
        assert buckets[0] == 0 and buckets[-1] == count - 1
        assert (np.diff(buckets) >= 0).all()
        sizes = np.bincount(buckets, minlength=count)
        assert sizes.min() > 0.9 * len(hashes) / count
    assert partition.hash_buckets(np.array([2**64 - 1], dtype=np.uint64), 3).tolist() == [2]


def test_a_bucket_kept_clean_twice_keeps_its_events(tmp_path: Path) -> None:
    """The second ``clean(keep=True)`` reads what the first kept: the raw bucket is gone by
    then, and cleaning it again would replace the kept events with none."""
    demo = write_demo_events(tmp_path / "demo", leads=30, new_leads=5)
    buckets = partition_events(demo["events"], tmp_path / "buckets", count=2)
    first, _ = buckets.clean(0, keep=True)
    again, repeated_again = buckets.clean(0, keep=True)
    assert first.num_rows > 0 and again.equals(first)
    assert repeated_again == 0
    assert buckets.settled(0).equals(events_frame(first))
