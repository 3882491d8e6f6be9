"""The streamed features (leadscore.features.stream) give the in-memory table row for row.

The demo's events go through both paths: ``build_lead_table`` (everything in memory)
and ``stream_lead_table`` (events written to buckets of leads on disk, the builder fitted
on a sample, each bucket transformed on its own). Inputs are cut so that leads straddle
batches and files, the fit sample is smaller than the leads, and a lead is given events
in two files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from leadscore.data.event_arrow import normalise_table
from leadscore.data.event_schema import EVENT_COLUMNS, TEXT_COLUMNS, normalise
from leadscore.data.table_files import write_table
from leadscore.errors import DataError, SchemaError
from leadscore.features import build, partition, stream, stream_scan
from leadscore.features.build import fit_sample
from leadscore.features.stream import stream_lead_table
from leadscore.features.table import build_lead_table, streams

LEADS = 160
SAMPLE = 70  # fit sample smaller than the leads, so the sampling itself is compared


@pytest.fixture(scope="module")
def demo(streaming_demo: dict[str, Path]) -> dict[str, Path]:
    return streaming_demo


@pytest.fixture(autouse=True)
def small_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "FIT_SAMPLE", SAMPLE)
    monkeypatch.setattr(stream, "FIT_SAMPLE", SAMPLE)
    monkeypatch.setattr(stream_scan, "FIT_SAMPLE", SAMPLE)


def same_rows(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Equal row for row (by lead): text exactly, numbers to 1e-9."""
    assert list(got.columns) == list(expected.columns)
    expected = expected.sort_values("lead_id").reset_index(drop=True)
    got = got.sort_values("lead_id").reset_index(drop=True)
    for column in expected.columns:
        want, have = expected[column], got[column]
        if pd.api.types.is_float_dtype(want):
            np.testing.assert_allclose(have.to_numpy(float), want.to_numpy(float), atol=1e-9,
                                       rtol=0, err_msg=column)  # fmt: skip
        else:
            assert (
                have.astype(object).where(have.notna(), None).tolist()
                == want.astype(object).where(want.notna(), None).tolist()
            ), column


@pytest.fixture(scope="module")
def trained(demo: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "FIT_SAMPLE", SAMPLE)
        patch.setattr(stream, "FIT_SAMPLE", SAMPLE)
        patch.setattr(stream_scan, "FIT_SAMPLE", SAMPLE)
        patch.setattr(partition, "OUTCOME_ROWS", 70)  # the outcomes read in blocks too
        memory = build_lead_table(demo["split"], outcomes=demo["split_outcomes"])
        out = tmp_path_factory.mktemp("out") / "leads.parquet"
        streamed = stream_lead_table(
            demo["split"], out, outcomes=demo["split_outcomes"], chunk_events=400, batch_rows=500
        )
    return memory, streamed


def test_streamed_training_table_equals_the_in_memory_one(trained: tuple, demo: dict) -> None:
    memory, streamed = trained
    assert streamed.buckets >= 3
    table = pd.read_parquet(streamed.path)
    same_rows(memory.table, table)
    assert demo["straddler"] in set(table["lead_id"])
    # the fitted vocabularies (learned from the same sample of SAMPLE < LEADS leads)
    assert streamed.builder.steps_ == memory.builder.steps_
    assert streamed.builder.ngrams_ == memory.builder.ngrams_
    assert streamed.builder.milestones_ == memory.builder.milestones_
    assert streamed.notes == memory.notes
    assert streamed.load.counts == memory.load.counts
    # each pass timed, in the order they ran
    assert list(streamed.seconds) == ["partition", "scan", "fit", "rows"]
    assert all(seconds >= 0 for seconds in streamed.seconds.values())


def test_streamed_scoring_with_a_saved_builder_to_csv(trained: tuple, demo: dict, tmp_path) -> None:
    memory, _ = trained
    scored = build_lead_table(demo["new_events"], builder=memory.builder)
    out = stream_lead_table(
        demo["new_events"], tmp_path / "new.csv", builder=memory.builder, chunk_events=200
    )
    assert out.buckets > 1 and out.converted is None
    # the recency features are measured as of the latest event of all buckets
    expected = pd.read_csv(write_table(scored.table, tmp_path / "memory.csv"))
    same_rows(expected, pd.read_csv(out.path))


def test_streamed_fit_on_the_events_themselves(demo: dict, tmp_path: Path) -> None:
    memory = build_lead_table(demo["events"], cutoff="2026-02-20")
    out = stream_lead_table(
        demo["events"], tmp_path / "t.parquet", cutoff="2026-02-20", chunk_events=1500
    )
    same_rows(memory.table, pd.read_parquet(out.path))
    assert memory.builder.sections_ == out.builder.sections_


def test_fit_sample_is_the_lowest_hashes_in_any_order() -> None:
    ids = pd.Index([f"lead-{i}" for i in range(50)])
    sample = fit_sample(ids, most=10)
    assert len(sample) == 10
    assert set(fit_sample(ids[::-1], most=10)) == set(sample)
    assert set(fit_sample(ids[:30].union(sample), most=10)) == set(sample)
    assert list(fit_sample(ids[:5], most=10)) == list(ids[:5])


def test_arrow_and_pandas_normalisers_agree() -> None:
    raw = pd.DataFrame(
        {
            "distinct_id": [" a", "b ", None, "a", "", "c"],
            "event": ["page_view", "signup", "page_view", None, "x", "page_view"],
            "time": ["2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z",
                     "2026-01-05T11:00:00Z", "yesterday-ish", "1999-01-01T00:00:00Z"],
            "$current_url": ["https://x.com/a", " ", "https://x.com/b", None, "", "https://x.com"],
            "$referrer": ["", None, "https://google.com", "", None, " https://t.co "],
            "tz_offset": [60, None, -300, 0, 15, 30],
        }
    )  # fmt: skip
    lines = np.arange(1, len(raw) + 1)
    expected, expected_bad = normalise(raw.astype({"distinct_id": "category"}), "f", lines)
    got, got_bad = normalise_table(pa.Table.from_pandas(raw, preserve_index=False), "f")
    frame = got.to_pandas()
    assert list(frame.columns) == list(EVENT_COLUMNS)
    for column in TEXT_COLUMNS:
        assert frame[column].astype(object).where(frame[column].notna(), None).tolist() == (
            expected[column].astype(object).where(expected[column].notna(), None).tolist()
        ), column
    assert frame["timestamp"].tolist() == expected["timestamp"].tolist()
    np.testing.assert_array_equal(frame["tz_offset_minutes"], expected["tz_offset_minutes"])
    assert got_bad[["line", "reason"]].values.tolist() == (
        expected_bad[["line", "reason"]].values.tolist()
    )


def test_streams_only_over_one_bucket(demo: dict) -> None:
    assert streams([str(demo["events"])], chunk_events=100)
    assert not streams([str(demo["events"])], chunk_events=10_000_000)
    assert not streams([str(demo["events"])], chunk_events=100, conversion_event="purchase")


def test_bad_chunk_and_output_are_said(demo: dict, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="positive"):
        stream_lead_table(demo["events"], tmp_path / "x.parquet", chunk_events=0)
    with pytest.raises(DataError, match="output format"):
        stream_lead_table(demo["events"], tmp_path / "x.xlsx")


def test_a_lead_twice_in_the_outcomes_is_an_error(demo: dict, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(partition, "OUTCOME_ROWS", 50)
    outcomes = pd.read_csv(demo["outcomes"])
    twice = pd.concat([outcomes, outcomes.head(1)], ignore_index=True)  # in another block
    twice.to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(SchemaError, match="more than once"):
        stream_lead_table(demo["events"], tmp_path / "t.parquet", outcomes=tmp_path / "twice.csv",
                          chunk_events=1000)  # fmt: skip
