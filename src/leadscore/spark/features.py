"""``leadscore features --engine spark``: raw events in a data lake → the lead table, on
a Spark cluster, with the single-machine feature code in every partition.

The plan, for a Spark DataFrame of raw events (Parquet or Delta, any column layout the
event schema knows):

1. Each event gets its lead id as text (:data:`~leadscore.spark.chunks.KEY`) and its
   place in the input (:data:`~leadscore.spark.chunks.ORDER`: file, then row), which
   decides between events at the same time exactly as the single machine's reading order
   does. The leads of the population (the outcomes; the CRM table) join as placeholder
   rows, so that a lead without events still gets its row in its partition.
2. The feature builder is fitted on the driver, on the events of at most
   :data:`~leadscore.features.build.FIT_SAMPLE` leads (all of them when there are fewer,
   as on one machine), and broadcast with the outcomes and the CRM table.
3. The events are repartitioned by lead, sorted by lead and input order within each
   partition, and every partition runs :func:`leadscore.spark.chunks.partition_rows`:
   chunks of whole leads through :meth:`LeadFeatureBuilder.transform`.

The latest event (the default scoring time, and the reference for leads without an
outcome time) is found first over all events, never per partition, so recency features
do not depend on how the leads were split.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadscore.config.cluster import SparkSettings
from leadscore.data.event_schema import map_columns, normalise
from leadscore.data.events import load_events
from leadscore.data.sources import TableLike
from leadscore.errors import DataError
from leadscore.features.build import FIT_SAMPLE, FeatureSettings, LeadFeatureBuilder
from leadscore.features.crm import CrmTable, join_crm, read_crm
from leadscore.features.labels import cutoffs_for, read_outcomes
from leadscore.features.table import ID, TARGET, TIME, load_builder
from leadscore.spark.chunks import KEY, ORDER, SOURCE, ChunkJob, chunk_events, lead_rows
from leadscore.spark.chunks import partition_rows as run_partition
from leadscore.spark.io import (
    Format,
    input_order,
    read_events_frame,
    read_small_table,
    sibling,
    write_bytes,
    write_table_frame,
)
from leadscore.spark.schema import Counts, arrow_schema, spark_schema

if TYPE_CHECKING:
    from pyspark import Accumulator
    from pyspark.sql import DataFrame, SparkSession

#: leads whose rows find the output's schema on the driver
_SCHEMA_LEADS = 200


@dataclass
class SparkLeadTable:
    """What :func:`spark_lead_table` planned: the lead table (a lazy Spark DataFrame),
    the fitted builder, notes, the CRM fields joined, and the event counts (filled in
    once the table has been computed, e.g. written)."""

    table: DataFrame
    builder: LeadFeatureBuilder
    notes: list[str]
    crm_fields: list[str]
    crm_dated: bool
    counts: Accumulator

    @property
    def event_counts(self) -> dict[str, int]:
        """Events read, set aside by reason, duplicates removed, leads written."""
        return dict(sorted(self.counts.value.items()))


def keyed_events(raw: DataFrame) -> tuple[DataFrame, list[str]]:
    """The raw event columns the event schema maps, with each row's lead key and place
    in the input; and the names of those columns."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    mapping = map_columns(raw.columns)
    lead = next((c for c, target in mapping.items() if target == "lead_id"), None)
    if lead is None or "timestamp" not in mapping.values() or "event" not in mapping.values():
        normalise(pd.DataFrame(columns=raw.columns), SOURCE, np.zeros(0))  # names what lacks
        raise DataError(f"the events have no lead id column: {raw.columns}")
    column = F.col(f"`{lead}`")
    kind = raw.schema[lead].dataType
    if isinstance(kind, (T.FloatType, T.DoubleType, T.DecimalType)):
        # as the single machine reads ids read as numbers: 12345.0 → "12345"
        text = F.when(column == F.floor(column), column.cast("long").cast("string"))
        text = text.otherwise(column.cast("string"))
    else:
        text = F.trim(column.cast("string"))
    key = F.when(text == "", F.lit(None)).otherwise(text)
    keyed = raw.select(
        *[F.col(f"`{c}`") for c in mapping], key.alias(KEY), input_order(raw, ORDER).alias(ORDER)
    )
    return keyed, list(mapping)


def _placeholders(spark: SparkSession, ids: pd.Index) -> DataFrame:
    table = pa.table(
        {KEY: pa.array(ids.astype(str).tolist(), pa.string()),
         ORDER: pa.array(np.full(len(ids), -1, np.int64))}
    )  # fmt: skip
    return spark.createDataFrame(table)


def _collect(frame: DataFrame) -> pa.Table:
    """Rows to the driver, in input order (the single machine's reading order)."""
    table = frame.toArrow()
    return table.sort_by([(ORDER, "ascending")])


def _scope(keyed: DataFrame, population: pd.Index | None) -> DataFrame:
    """The events with a lead (of the population, when there is one)."""
    from pyspark.sql import functions as F

    scope = keyed.where(F.col(KEY).isNotNull())
    if population is not None:
        ids = _placeholders(keyed.sparkSession, population).select(KEY)
        scope = scope.join(F.broadcast(ids), on=KEY, how="left_semi")
    return scope


def _fit_sample(scope: DataFrame, population: pd.Index | None) -> pa.Table:
    """The events of at most FIT_SAMPLE leads on the driver, to fit the builder on."""
    from pyspark.sql import functions as F

    # what the fit reads (the vocabularies come from event names, URLs and page titles):
    # the other columns (user agents, IPs …) would only fill the driver's memory
    mapping = map_columns(scope.columns)
    scope = scope.select(*[f"`{c}`" for c, t in mapping.items() if t in FIT_COLUMNS], KEY, ORDER)
    # the outcomes' leads bound the count: no pass over the events when they are few
    few = population is not None and len(population) <= FIT_SAMPLE
    leads = 0 if few else scope.select(F.approx_count_distinct(KEY)).first()[0]
    if leads > FIT_SAMPLE:
        share = FIT_SAMPLE / leads
        scope = scope.where(F.pmod(F.xxhash64(KEY), F.lit(1_000_000)) < share * 1e6)
    return _collect(scope)


def _fit_events(sample: pa.Table, raw_columns: list[str]) -> pd.DataFrame:
    """The sampled events as the single machine loads them (:func:`load_events` on one
    file in input order: the same reading, duplicates and order of values, so the same
    fit as on one machine)."""
    with tempfile.TemporaryDirectory(prefix="leadscore-fit-") as folder:
        path = Path(folder) / "sample.parquet"
        pq.write_table(sample.select(raw_columns), path)
        try:
            return load_events(path).events
        except DataError as exc:
            raise DataError(f"no events to fit the feature builder on: {exc}") from None


#: the event columns the feature builder learns from (:meth:`LeadFeatureBuilder.fit`)
FIT_COLUMNS = ("lead_id", "timestamp", "event", "event_id", "url", "page_title", "referrer")


def _latest(keyed: DataFrame, job: ChunkJob) -> pd.Timestamp | None:
    """The time of the latest event the single machine would count (before the cutoff;
    in training, of a lead of the population before its cutoff), over all events."""
    columns = job.raw_columns
    mapping = map_columns(columns)
    needed = [c for c in columns if mapping[c] in ("lead_id", "timestamp", "event")]

    def latest(batches: Any) -> Any:
        best = None
        for batch in batches:
            events, _ = normalise(batch.to_pandas(), SOURCE, np.zeros(batch.num_rows))
            ts = events["timestamp"]
            keep = np.ones(len(events), dtype=bool)
            if job.cutoff is not None:
                keep &= (ts < job.cutoff).to_numpy()
            if job.cutoffs is not None:
                ids = events["lead_id"].astype(object)
                limit = pd.to_datetime(ids.map(_by_text(job.cutoffs)))
                keep &= ids.isin(job.cutoffs.index.astype(str)).to_numpy()
                keep &= (limit.isna() | (ts < limit)).to_numpy()
            if keep.any():
                top = ts[keep].max()
                best = top if best is None else max(best, top)
        if best is not None:
            yield pa.record_batch({"latest": pa.array([best], pa.timestamp("us"))})

    found = keyed.select(*[f"`{c}`" for c in needed]).mapInArrow(latest, "latest timestamp_ntz")
    value = found.agg({"latest": "max"}).first()[0]
    return pd.Timestamp(value) if value is not None else None


def _by_text(cutoffs: pd.Series) -> pd.Series:
    return pd.Series(cutoffs.to_numpy(), index=cutoffs.index.astype(str))


def _schema_rows(sample: pa.Table, job: ChunkJob) -> pd.DataFrame:
    """Lead rows of a few sampled leads, to find the output's columns and types."""
    keys = pd.unique(sample[KEY].to_numpy(zero_copy_only=False))[:_SCHEMA_LEADS]
    some = sample.filter(pc.is_in(sample[KEY], pa.array(keys, pa.string())))
    placeholders = pa.table({KEY: pa.array(keys, pa.string()),
                             ORDER: pa.array(np.full(len(keys), -1, np.int64))})  # fmt: skip
    chunk = pa.concat_tables([placeholders, some], promote_options="default")
    return lead_rows(chunk, dataclasses.replace(job, counts=None))


def spark_lead_table(
    spark: SparkSession,
    events: str | Path | list[str] | DataFrame,
    *,
    outcomes: TableLike | None = None,
    cutoff: str | pd.Timestamp | None = None,
    as_of: str | pd.Timestamp | None = None,
    builder: LeadFeatureBuilder | str | Path | None = None,
    settings: FeatureSettings | None = None,
    leads: TableLike | CrmTable | None = None,
    config: SparkSettings | None = None,
) -> SparkLeadTable:
    """Plan the lead table of :func:`leadscore.features.table.build_lead_table` on Spark.

    Parameters
    ----------
    spark:
        The session (:func:`leadscore.spark.session.spark_session`).
    events:
        Parquet files, folders or globs, or a Delta table, on any Hadoop file system
        (``s3a://…``); or a Spark DataFrame of raw events.
    outcomes, cutoff, as_of, builder, settings, leads:
        As for :func:`~leadscore.features.table.build_lead_table` (outcomes and CRM
        tables may be on ``s3a://`` too). Outcomes defined by events (a conversion event)
        need one machine.
    config:
        The ``[spark]`` settings: partitions, events per chunk.

    Example (needs a SparkSession, so not run here)::

        planned = spark_lead_table(spark, "s3a://lake/events/", outcomes="outcomes.csv")
        write_lead_table(spark, planned, "s3a://lake/tables/leads.parquet")
    """
    config = config or SparkSettings()
    raw = events if not isinstance(events, (str, Path, list)) else read_events_frame(spark, events)
    keyed, raw_columns = keyed_events(raw)
    notes: list[str] = []
    crm = None
    if leads is not None:
        crm = leads if isinstance(leads, CrmTable) else read_crm(read_small_table(spark, leads))
    cutoff_ts = pd.Timestamp(cutoff) if cutoff is not None else None
    if isinstance(builder, (str, Path)):
        builder = load_builder(builder)
    job = ChunkJob(LeadFeatureBuilder(settings), raw_columns, [], chunk_events=config.chunk_events)
    population: pd.Index | None = None
    if outcomes is not None:
        labels = read_outcomes(read_small_table(spark, outcomes))
        job.labels, job.cutoffs = labels, cutoffs_for(labels, cutoff_ts)
        population = pd.Index(labels[ID].astype(str))
        if labels["outcome_at"].isna().all() and cutoff_ts is None:
            notes.append(
                "the outcomes have no times: features use every event (give outcome times or "
                "--cutoff to keep post-outcome events out)"
            )
    else:
        job.cutoff = cutoff_ts
    scope = _scope(keyed, population)
    # a few thousand events with every column: the output's columns and types
    sample = _collect(scope.limit(5000))
    if builder is None:
        if outcomes is None:
            notes.append(
                "no fitted builder given: fitted on these events. To score leads for a model, "
                "pass the builder saved when its training table was built (--builder)."
            )
        fitting = _fit_sample(scope, population)
        fit_columns = [c for c in raw_columns if c in fitting.column_names]
        builder = job.builder.fit(_fit_events(fitting, fit_columns), job.cutoffs, leads=population)
        del fitting
    job.builder = builder
    if job.labels is None:
        job.as_of = pd.Timestamp(as_of) if as_of is not None else _latest(keyed, job)
        when = as_of if as_of is not None else cutoff_ts
        job.crm_when = pd.Timestamp(when) if when is not None else None
    elif builder.as_of_features_ and job.cutoffs is not None and job.cutoffs.isna().any():
        job.as_of = _latest(keyed, job)
    if job.labels is not None and not builder.as_of_features_:
        notes.append(
            "recency features (days since last event, recent events) are left out: each "
            "lead's outcome time differs, and measured at the outcome they give the answer "
            "away"
        )
    job.crm = crm
    job.feature_columns = _feature_columns(sample, job)
    crm_fields: list[str] = []
    if crm is not None:
        crm_fields, crm_notes = _crm_names(crm, job)
        notes += crm_notes
    known = {}
    if crm is not None:  # a CRM field's type from the whole table, not from the sample
        known = {joined: crm.rows[f] for f, joined in zip(crm.fields, crm_fields, strict=True)}
    job.schema = arrow_schema(_schema_rows(sample, job), known)
    table = _plan(spark, keyed, job, population, crm, config)
    dated = crm is not None and crm.time_column is not None
    return SparkLeadTable(table[0], builder, notes, crm_fields, dated, table[1])


def _feature_columns(sample: pa.Table, job: ChunkJob) -> list[str]:
    """The columns the builder returns (the same for every chunk)."""
    events, _ = chunk_events(sample.slice(0, min(sample.num_rows, 50_000)), job)
    if not len(events):
        raise DataError("no usable events: every event was set aside or none was read")
    return list(job.builder.transform(events).columns)


def _crm_names(crm: CrmTable, job: ChunkJob) -> tuple[list[str], list[str]]:
    """The CRM fields as joined (renamed where they clash) and the notes on the join,
    for the whole population (training: the outcomes' leads)."""
    ids = job.labels[ID] if job.labels is not None else crm.leads.astype("string")
    frame = pd.DataFrame({ID: pd.Series(ids, dtype="string").to_numpy()})
    frame = frame.reindex(columns=job.feature_columns)
    _, names, notes = join_crm(frame, crm, cutoffs=job.cutoffs if job.labels is not None
                               else job.crm_when)  # fmt: skip
    if job.labels is None:  # the event leads without CRM rows are not counted here
        notes = [n for n in notes if "have no CRM row" not in n]
    return names, notes


def _plan(
    spark: SparkSession,
    keyed: DataFrame,
    job: ChunkJob,
    population: pd.Index | None,
    crm: CrmTable | None,
    config: SparkSettings,
) -> tuple[DataFrame, Accumulator]:
    """The lazy lead table: events and placeholders by lead → partition_rows."""
    counts = spark.sparkContext.accumulator({}, Counts())
    named = population if population is not None else (crm.leads if crm is not None else None)
    rows = keyed
    if named is not None and len(named):
        rows = keyed.unionByName(_placeholders(spark, pd.Index(named)), allowMissingColumns=True)
    partitions = config.partitions or 2 * spark.sparkContext.defaultParallelism
    shared = spark.sparkContext.broadcast(job)

    def each_partition(batches: Any) -> Any:
        # the accumulator travels with the task, not in the broadcast (reused by workers)
        return run_partition(batches, dataclasses.replace(shared.value, counts=counts))

    ordered = rows.repartition(partitions, KEY).sortWithinPartitions(KEY, ORDER)
    return ordered.mapInArrow(each_partition, spark_schema(job.schema)), counts


def write_lead_table(
    spark: SparkSession,
    planned: SparkLeadTable,
    out: str | Path,
    builder_path: str | Path | None = None,
    fmt: Format = "parquet",
) -> dict[str, str]:
    """Compute and write the lead table (Parquet or Delta, any Hadoop path), the fitted
    builder and the JSON description beside it, as ``leadscore features`` does, so that
    ``leadscore train`` reads a copy of it like a table built on one machine.

    Parameters
    ----------
    spark:
        The session.
    planned:
        What :func:`spark_lead_table` planned.
    out:
        Where the table goes (a folder of Parquet files, or a Delta table).
    builder_path:
        Where the builder goes (default: ``<stem>.builder.joblib`` beside the table).
    fmt:
        ``parquet`` or ``delta``.
    """
    written = {"table": write_table_frame(planned.table, out, fmt)}
    stem = str(out).rstrip("/").rpartition("/")[2].split(".")[0]
    target = str(builder_path) if builder_path else sibling(out, f"{stem}.builder.joblib")
    buffer = io.BytesIO()
    joblib.dump(planned.builder, buffer)
    written["builder"] = write_bytes(spark, target, buffer.getvalue())
    columns = planned.table.columns
    crm = set(planned.crm_fields)
    described: dict[str, Any] = {
        "created_by": "leadscore features --engine spark",
        "id": ID,
        "time": TIME,
        "builder": target.rstrip("/").rpartition("/")[2],
        "point_in_time": [
            c for c in columns if c not in (ID, TARGET) and (planned.crm_dated or c not in crm)
        ],
        "sources": {
            "crm": list(planned.crm_fields),
            "events": [c for c in columns if c not in (ID, TARGET, *crm)],
        },
        "events": planned.event_counts,
        "notes": planned.notes,
    }
    if TARGET in columns:
        described["target"] = TARGET
    text = json.dumps(described, indent=2, default=str).encode()
    written["description"] = write_bytes(spark, sibling(out, f"{stem}.features.json"), text)
    return written
