"""The streamed features built by worker processes give the single-process table, byte
for byte, and a worker's failure stops the job with a clear error and no output.

With the same number of buckets (``chunk_events`` doubled for two workers, which halve it
per bucket), the two builds must write the same file: the same rows, values and order. The
fit sample is made smaller than the leads, so the sample's bound that each worker's task
carries (the lowest hashes so far) is exercised, and the outcomes are read in blocks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from leadscore.data.events import load_events
from leadscore.errors import DataError, SchemaError
from leadscore.features import build, partition, stream, stream_scan
from leadscore.features.build import LeadFeatureBuilder
from leadscore.features.stream import stream_lead_table
from leadscore.features.stream_pool import BucketPool

LEADS = 160
SAMPLE = 70


@pytest.fixture(scope="module")
def demo(streaming_demo: dict[str, Path]) -> dict[str, Path]:
    return streaming_demo


@pytest.fixture(autouse=True)
def parallel_on_small_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers even for the demo's few thousand events, and a fit sample of SAMPLE leads
    (the sample is kept by the job's process, so the patch reaches it)."""
    monkeypatch.setattr(stream, "PARALLEL_EVENTS", 0)
    monkeypatch.setattr(build, "FIT_SAMPLE", SAMPLE)
    monkeypatch.setattr(stream, "FIT_SAMPLE", SAMPLE)
    monkeypatch.setattr(stream_scan, "FIT_SAMPLE", SAMPLE)
    monkeypatch.setattr(partition, "OUTCOME_ROWS", 70)  # handed to the worker that splits


def both(events: object, tmp_path: Path, chunk: int, name: str = "t.parquet", **kw: object):
    """The table built in one process and by two workers, with the same buckets."""
    one = stream_lead_table(events, tmp_path / "one" / name, chunk_events=chunk, workers=1, **kw)
    two = stream_lead_table(
        events, tmp_path / "two" / name, chunk_events=2 * chunk, workers=2, **kw
    )
    assert one.buckets == two.buckets >= 3
    return one, two


def same_build(one: stream.StreamedTable, two: stream.StreamedTable) -> None:
    assert one.path.read_bytes() == two.path.read_bytes()
    assert (one.rows, one.columns, one.converted) == (two.rows, two.columns, two.converted)
    assert one.notes == two.notes
    assert one.load.counts == two.load.counts
    assert one.load.files == two.load.files
    pd.testing.assert_frame_equal(one.load.quarantine, two.load.quarantine)
    for learned in ("steps_", "sections_", "ngrams_", "milestones_", "own_domains_"):
        assert getattr(one.builder, learned) == getattr(two.builder, learned), learned


def test_training_table_by_workers_is_the_single_process_one(demo: dict, tmp_path: Path) -> None:
    one, two = both(demo["split"], tmp_path, 400, outcomes=demo["split_outcomes"], batch_rows=500)
    same_build(one, two)
    assert two.converted is not None and two.rows == LEADS


def test_jsonl_with_bad_lines_and_a_cutoff_by_workers(demo: dict, tmp_path: Path) -> None:
    one, two = both(demo["events"], tmp_path, 500, cutoff="2026-02-20")
    same_build(one, two)
    assert two.load.counts["quarantined"] > 0 and two.load.counts["duplicates_removed"] > 0


def test_scoring_to_csv_with_a_saved_builder_by_workers(demo: dict, tmp_path: Path) -> None:
    fitted = stream_lead_table(demo["events"], tmp_path / "fit.parquet", chunk_events=800,
                               outcomes=demo["outcomes"], workers=2).builder  # fmt: skip
    one, two = both(demo["new_events"], tmp_path, 100, name="new.csv", builder=fitted)
    same_build(one, two)
    assert two.converted is None
    one, two = both(demo["new_events"], tmp_path / "as_of", 100, builder=fitted, as_of="2026-04-01")
    same_build(one, two)


def sample_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the second reads of the buckets for the fit sample's events."""
    calls: list[int] = []
    second_read = BucketPool.sample_events

    def counted(self: BucketPool, *args: object) -> list:
        calls.append(1)
        return second_read(self, *args)

    monkeypatch.setattr(BucketPool, "sample_events", counted)
    return calls


def test_the_scan_hands_back_the_sample_when_every_lead_has_an_outcome(
    demo: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = sample_reads(monkeypatch)
    one, two = both(demo["split"], tmp_path, 400, outcomes=demo["split_outcomes"], batch_rows=500)
    same_build(one, two)
    assert calls == []  # the sample came with the first read of the buckets


def test_leads_without_outcomes_below_the_bound_make_the_sample_read_again(
    demo: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leads with events but no outcome are no candidates: when some hash below the bound
    the partition saw, the sample reaches past it and its events are read again."""
    outcomes = pd.read_csv(demo["split_outcomes"])
    lowest = build.lead_hashes(outcomes["lead_id"].astype(str)).argsort()[: SAMPLE // 2]
    outcomes.drop(index=lowest).to_csv(tmp_path / "some.csv", index=False)
    calls = sample_reads(monkeypatch)
    one, two = both(demo["split"], tmp_path, 400, outcomes=tmp_path / "some.csv", batch_rows=500)
    same_build(one, two)
    assert calls == [1]
    assert two.rows == LEADS - SAMPLE // 2


def fit_moments(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int]]:
    """Counts the buckets the scan has handed back (``read``), and notes how many when
    the fit is given to a worker (``fit_after``)."""
    read: list[int] = []
    fit_after: list[int] = []
    scan, fit = BucketPool.scan, BucketPool.fit

    def counted_scan(self: BucketPool, *args: object):
        for result in scan(self, *args):
            read.append(1)
            yield result

    def noted_fit(self: BucketPool, *args: object):
        fit_after.append(len(read))
        return fit(self, *args)

    monkeypatch.setattr(BucketPool, "scan", counted_scan)
    monkeypatch.setattr(BucketPool, "fit", noted_fit)
    return read, fit_after


def test_the_fit_starts_in_a_worker_once_the_first_buckets_settle_the_sample(
    demo: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Buckets are ranges of lead hashes: the sample (the lowest SAMPLE of LEADS) is in the
    first buckets, so the fit is given to a worker before the last buckets are read."""
    read, fit_after = fit_moments(monkeypatch)
    one, two = both(demo["split"], tmp_path, 250, outcomes=demo["split_outcomes"], batch_rows=500)
    same_build(one, two)
    assert len(fit_after) == 1 and fit_after[0] < two.buckets == len(read)
    leads = pd.read_parquet(two.path, columns=["lead_id"])["lead_id"]
    # the sample's leads are the lowest hashes: the first buckets' leads
    first = partition.lead_buckets(leads, two.buckets) <= fit_after[0] - 1
    assert set(build.fit_sample(pd.Index(leads), SAMPLE)) <= set(leads[first])


def test_a_sample_of_every_lead_is_fitted_once_the_last_bucket_is_read(
    demo: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer leads than the sample holds: the pool never fills, so only the last bucket
    settles it; the fit then runs in a worker on every lead, as in one process."""
    for module in (build, stream, stream_scan):
        monkeypatch.setattr(module, "FIT_SAMPLE", 10 * LEADS)
    read, fit_after = fit_moments(monkeypatch)
    one, two = both(demo["split"], tmp_path, 400, outcomes=demo["split_outcomes"], batch_rows=500)
    same_build(one, two)
    assert fit_after == [two.buckets] and len(read) == two.buckets


def test_two_workers_halve_the_events_of_a_bucket(demo: dict, tmp_path: Path) -> None:
    one = stream_lead_table(demo["events"], tmp_path / "a.parquet", chunk_events=1000, workers=1)
    two = stream_lead_table(demo["events"], tmp_path / "b.parquet", chunk_events=1000, workers=2)
    assert two.buckets == stream.bucket_count([demo["events"]], 500) > one.buckets
    key = ["lead_id"]
    a = pd.read_parquet(one.path).sort_values(key, ignore_index=True)
    b = pd.read_parquet(two.path).sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a, b)  # the same rows; only their order follows the buckets


def test_small_inputs_are_built_in_one_process(
    demo: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "PARALLEL_EVENTS", 10_000)

    def no_pool(workers: int) -> BucketPool:
        raise AssertionError("workers started for a few thousand events")

    monkeypatch.setattr(stream, "BucketPool", no_pool)
    built = stream_lead_table(demo["events"], tmp_path / "t.parquet", chunk_events=1000, workers=2)
    assert built.rows == LEADS


class FailingBuilder(LeadFeatureBuilder):
    """Fails while transforming a bucket (in a worker): raises, or kills its process."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def transform(self, *args: object, **kwargs: object) -> pd.DataFrame:
        if self.how == "exit":
            os._exit(3)  # as the kernel's OOM killer would end it: no exception, no cleanup
        raise DataError("this bucket cannot be built")


@pytest.mark.parametrize(
    ("how", "message"),
    [("raise", "this bucket cannot be built"), ("exit", "worker process stopped while building")],
)
@pytest.mark.parametrize("name", ["t.parquet", "t.csv"])
def test_a_failing_worker_stops_the_job_and_writes_nothing(
    demo: dict, tmp_path: Path, how: str, message: str, name: str
) -> None:
    failing = FailingBuilder(how).fit(load_events(demo["events"]).events)
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "out" / name
    with pytest.raises(DataError, match=message):
        stream_lead_table(demo["events"], out, builder=failing, chunk_events=1000, workdir=work)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # nor a partial file
    assert list(work.iterdir()) == []  # the buckets went with the workers


def test_an_outcome_error_in_the_splitting_worker_is_raised(demo: dict, tmp_path: Path) -> None:
    outcomes = pd.read_csv(demo["outcomes"])
    twice = pd.concat([outcomes, outcomes.head(1)], ignore_index=True)  # in another block
    twice.to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(SchemaError, match="more than once"):
        stream_lead_table(demo["events"], tmp_path / "t.parquet", outcomes=tmp_path / "twice.csv",
                          chunk_events=1000, workers=2)  # fmt: skip
    assert not (tmp_path / "t.parquet").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_outcomes_before_every_event_leave_nothing_to_fit(
    demo: dict, tmp_path: Path, workers: int
) -> None:
    """Every lead's outcome comes before its events: no event is usable, the fit (in a
    worker, or here) says so, and nothing is written."""
    outcomes = pd.read_csv(demo["outcomes"]).assign(outcome_at="2000-01-01T00:00:00Z")
    outcomes.to_csv(tmp_path / "early.csv", index=False)
    out = tmp_path / "out" / "t.parquet"
    with pytest.raises(DataError, match="no events before the cutoffs: nothing to learn"):
        stream_lead_table(demo["events"], out, outcomes=tmp_path / "early.csv",
                          chunk_events=1000, workers=workers)  # fmt: skip
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # nor a partial file


def test_workers_must_be_positive(demo: dict, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="workers must be a positive"):
        stream_lead_table(demo["events"], tmp_path / "t.parquet", workers=0)


def test_the_features_command_takes_the_workers(demo: dict, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from leadscore.cli import app

    runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})
    written = []
    for workers, chunk in ((1, 400), (2, 800)):
        out = tmp_path / f"leads-{workers}.parquet"
        args = ["features", str(demo["events"]), "--labels", str(demo["outcomes"]), "--out",
                str(out), "--chunk-events", str(chunk), "--workers", str(workers)]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        written.append(out.read_bytes())
    assert written[0] == written[1]
    refused = runner.invoke(app, ["features", str(demo["events"]), "--out", "x.parquet",
                                  "--workers", "0"])  # fmt: skip
    assert refused.exit_code == 2 and "--workers" in refused.output
