"""``leadscore dataset --from-store --engine spark``: the score store's training table,
with the features computed on a Spark cluster.

The outcomes and the attribute history are read from the store on the driver, as
:func:`leadscore.lifecycle.store_dataset.store_dataset` reads them (one row per lead or
per change: small beside the events). The store's events, a chunk of leads at a time,
are staged as Parquet beside the output (numbered in the order the single machine reads
them) and go through :func:`leadscore.spark.features.spark_lead_table` in training mode:
each lead's features strictly before its outcome, its attributes as of that moment.
A store without events needs no cluster: its table is the single machine's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from leadscore.config.cluster import SparkSettings
from leadscore.data.events import stored_events_frame
from leadscore.features.build import FeatureSettings, LeadFeatureBuilder
from leadscore.lifecycle.store_dataset import attribute_history, store_labels
from leadscore.spark.chunks import ORDER
from leadscore.spark.features import SparkLeadTable, spark_lead_table
from leadscore.spark.io import hadoop_path, sibling
from leadscore.store import Store

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _staged(frame: pd.DataFrame, first: int) -> pa.Table:
    """Stored events as Arrow (text as text, times in microseconds), numbered from
    ``first`` in the order they were read."""
    plain = frame.astype(
        {c: "str" for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}
    )
    plain[ORDER] = range(first, first + len(plain))
    table = pa.Table.from_pandas(plain, preserve_index=False)
    schema = pa.schema(
        pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f
        for f in table.schema
    )
    return table.cast(schema, safe=False)


def stage_store_events(spark: SparkSession, store: Store, lead_ids: list[str], staging: str) -> int:
    """Write the store's events of ``lead_ids`` as Parquet under ``staging`` (replacing
    it); returns how many."""
    written = 0
    for chunk in store.events.for_leads(lead_ids):
        table = _staged(stored_events_frame(chunk), written)
        mode = "overwrite" if written == 0 else "append"
        spark.createDataFrame(table).write.mode(mode).parquet(hadoop_path(staging))
        written += table.num_rows
    return written


def remove(spark: SparkSession, path: str) -> None:
    """Delete ``path`` (a folder) on its file system."""
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(hadoop_path(path))
    target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(target, True)


def spark_store_dataset(
    spark: SparkSession,
    store: Store,
    out: str | Path,
    *,
    since: str | None = None,
    settings: FeatureSettings | None = None,
    builder: LeadFeatureBuilder | None = None,
    config: SparkSettings | None = None,
) -> tuple[SparkLeadTable | None, str | None]:
    """Plan the store's training table on Spark; its events are staged beside ``out``.

    Returns the planned table and the staging folder (delete it with :func:`remove` once
    the table is written), or ``(None, None)`` when the store holds no events of the
    leads with outcomes (its table is then :func:`store_dataset`'s, on one machine).

    Parameters
    ----------
    spark:
        The session.
    store:
        The score store.
    out:
        Where the table will be written (the staging folder goes beside it).
    since, settings, builder:
        As for :func:`leadscore.lifecycle.store_dataset.store_dataset`.
    config:
        The ``[spark]`` settings.

    Example (needs a SparkSession and a store, so not run here)::

        planned, staging = spark_store_dataset(spark, store, "s3a://lake/train.parquet")
        write_lead_table(spark, planned, "s3a://lake/train.parquet")
        remove(spark, staging)
    """
    labels = store_labels(store, since)
    lead_ids = labels["lead_id"].tolist()
    stem = str(out).rstrip("/").rpartition("/")[2].split(".")[0]
    staging = sibling(out, f"_{stem}.store-events")
    if stage_store_events(spark, store, lead_ids, staging) == 0:
        return None, None
    planned = spark_lead_table(
        spark, [staging], outcomes=labels, leads=attribute_history(store, lead_ids),
        settings=settings, builder=builder, config=config,
    )  # fmt: skip
    return planned, staging
