"""``leadscore score --engine spark``: a lead table in a data lake → ranked scores, with
the single-machine scorer on every Arrow batch.

The model is broadcast (the :class:`~leadscore.modeling.model.LeadModel`, loaded and
checked on the driver) and every batch of leads runs :meth:`LeadModel.score_leads` — the
same probabilities, scores, segments and contact decisions as one machine, since a lead
gets the same score alone or in any batch. What depends on the whole table is done by
Spark afterwards: the rank (by score, ties in input order) and, with a capacity, the
contact of the best ``capacity`` leads. Exploration draws per lead, so it runs per batch
after that. Why not MLflow's ``spark_udf``: it returns one value per row and knows nothing
of the rank, the capacity or the reasons, and it rebuilds the model's environment on every
executor; a broadcast model needs only leadscore installed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from leadscore.errors import LeadscoreError
from leadscore.modeling.model import LeadModel
from leadscore.scoring.exploration import ExplorationPolicy
from leadscore.spark.chunks import ORDER, to_arrow
from leadscore.spark.io import input_order, read_table_frame
from leadscore.spark.schema import spark_schema, widened

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: leads per rank bucket: the rank is numbered within buckets of scores (a window each),
#: then offset by the leads in the buckets above
BUCKET_LEADS = 250_000
_RANK = "rank"


@dataclass
class SparkScores:
    """Ranked scores (a lazy Spark DataFrame, best first) and the model that made them."""

    scores: DataFrame
    model: LeadModel
    key: str


def _score_schema(model: LeadModel, sample: pd.DataFrame, reasons: int, now: Any) -> pa.Schema:
    """The columns one batch's scores have (integers stay integers: never missing)."""
    scored = _batch_scores(model, sample, reasons, now)
    fields = []
    for name in scored.columns:
        kind = pa.array(scored[name], from_pandas=True).type
        fields.append(pa.field(name, pa.int64() if pa.types.is_integer(kind) else widened(kind)))
    return pa.schema(fields)


def _batch_scores(model: LeadModel, frame: pd.DataFrame, reasons: int, now: Any) -> pd.DataFrame:
    """:meth:`LeadModel.score_leads` of one batch, without the batch's own rank."""
    order = frame.pop(ORDER).to_numpy() if ORDER in frame.columns else np.arange(len(frame))
    scores = model.score_leads(frame, as_of=now)
    if reasons:
        from leadscore.scoring.reasons import with_reasons

        scores = with_reasons(model, frame, scores, reasons)
    scores = scores.drop(columns=[_RANK])
    scores[ORDER] = order
    return scores


def spark_scores(
    spark: SparkSession,
    model: LeadModel,
    data: str | Path | DataFrame,
    *,
    capacity: int | None = None,
    reasons: int = 0,
    exploration: ExplorationPolicy | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> SparkScores:
    """Plan :func:`leadscore.scoring.batch.score` on Spark: every lead scored, ranked over
    the whole table, best first.

    Parameters
    ----------
    spark:
        The session.
    model:
        A fitted :class:`LeadModel` (loaded on the driver, broadcast to the executors).
    data:
        A Parquet or Delta table on any Hadoop file system, or a Spark DataFrame (e.g.
        :func:`leadscore.spark.features.spark_lead_table`'s table). It needs the model's
        id column: numbering leads needs one machine.
    capacity:
        Contact only this many of the best leads of the whole table (default: the
        model's ``business.capacity``).
    reasons:
        Add each lead's top ``reasons`` reasons up and down.
    exploration:
        Contact a random share of the leads below the cut-off too.
    as_of:
        The time ``age_days`` is counted to (default: now, the same for every batch).

    Example (needs a SparkSession, so not run here)::

        ranked = spark_scores(spark, LeadModel.load("model/"), "s3a://lake/leads/")
        write_scores(ranked, "s3a://lake/scores/")
    """
    from pyspark.sql import functions as F

    frame = data if not isinstance(data, (str, Path)) else read_table_frame(spark, data)
    key = model.id_column_
    if not key or key not in frame.columns:
        raise LeadscoreError(
            f"--engine spark needs each lead's id: the model's id column "
            f"{key or '(none: train with --id)'} is not in the leads ({frame.columns[:8]} …)"
        )
    capacity = capacity if capacity is not None else model.business_.capacity
    if capacity is not None and capacity < 1:
        raise LeadscoreError(f"capacity must be at least 1 lead, not {capacity}")
    now = pd.Timestamp(as_of) if as_of else pd.Timestamp.now(tz="UTC").tz_localize(None)
    frame = frame.select("*", input_order(frame).alias(ORDER))
    sample = frame.limit(20).toArrow().to_pandas()
    if not len(sample):
        raise LeadscoreError("no leads to score")
    schema = _score_schema(model, sample, reasons, now)
    shared = spark.sparkContext.broadcast(model)

    def score_batches(batches: Any) -> Any:
        for batch in batches:
            scored = _batch_scores(shared.value, batch.to_pandas(), reasons, now)
            yield from to_arrow(scored, schema).to_batches()

    scored = frame.mapInArrow(score_batches, spark_schema(schema)).persist()
    ranked = _ranked(scored)
    if capacity is not None:
        ranked = ranked.withColumn("contact", F.col(_RANK) <= capacity)
    if exploration is not None:
        ranked = _explored(ranked, exploration, key)
    columns = [c for c in _column_order(schema.names, exploration) if c in ranked.columns]
    return SparkScores(ranked.select(*columns).orderBy(_RANK), model, key)


def _column_order(names: list[str], exploration: ExplorationPolicy | None) -> list[str]:
    """The single machine's columns: id, score, score_100, segment, rank, contact, …"""
    head = [n for n in names if n not in (ORDER, "contact", "reasons_up", "reasons_down")]
    at = head.index("segment") + 1
    extra = ["explored", "propensity"] if exploration is not None else []
    tail = [n for n in ("reasons_up", "reasons_down") if n in names]
    return [*head[:at], _RANK, "contact", *head[at:], *extra, *tail]


def _ranked(scored: DataFrame) -> DataFrame:
    """``scored`` with the rank over the whole table: best score first, ties in input
    order, as the single machine ranks. Scores are cut into buckets of about
    :data:`BUCKET_LEADS` leads by their quantiles; each bucket is numbered in a window of
    its own, offset by the leads of the buckets above."""
    from pyspark.ml.feature import Bucketizer
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    total = scored.count()
    buckets = max(1, min(4096, -(-total // BUCKET_LEADS)))
    inner: list[float] = []
    if buckets > 1:
        probabilities = [i / buckets for i in range(1, buckets)]
        inner = sorted(set(scored.approxQuantile("score", probabilities, 0.0005)))
    if inner:
        splits = [-float("inf"), *inner, float("inf")]
        cut = Bucketizer(splits=splits, inputCol="score", outputCol="_ls_bucket")
        placed = cut.transform(scored)
    else:  # one bucket: a window over the whole (small) table
        placed = scored.withColumn("_ls_bucket", F.lit(0.0))
    sizes = dict(placed.groupBy("_ls_bucket").count().collect())
    offsets, above = {}, 0
    for bucket in sorted(sizes, reverse=True):
        offsets[bucket] = above
        above += sizes[bucket]
    offset = F.create_map(*[x for b, o in offsets.items() for x in (F.lit(b), F.lit(o))])
    within = Window.partitionBy("_ls_bucket").orderBy(F.col("score").desc(), F.col(ORDER))
    rank = (offset[F.col("_ls_bucket")] + F.row_number().over(within)).cast("long")
    return placed.withColumn(_RANK, rank).drop("_ls_bucket")


def _explored(ranked: DataFrame, policy: ExplorationPolicy, key: str) -> DataFrame:
    """The exploration policy on every batch (its draw is per lead, fixed by the id)."""
    from pyspark.sql import types as T

    fields = list(ranked.schema.fields)  # a copy: StructType.add would change ranked's own
    out = T.StructType(
        [*fields, T.StructField("explored", T.BooleanType()),
         T.StructField("propensity", T.DoubleType())]
    )  # fmt: skip
    base = pa.schema([*[(f.name, _arrow_type(f.dataType)) for f in fields],
                      ("explored", pa.bool_()), ("propensity", pa.float64())])  # fmt: skip

    def explore(batches: Any) -> Any:
        for batch in batches:
            chosen = policy.apply(batch.to_pandas(), key)
            yield from to_arrow(chosen, base).to_batches()

    return ranked.mapInArrow(explore, out)


def _arrow_type(kind: Any) -> pa.DataType:
    from pyspark.sql.pandas.types import to_arrow_type

    made = to_arrow_type(kind)
    return pa.timestamp("us") if pa.types.is_timestamp(made) else made


def write_scores(scores: SparkScores, out: str | Path, fmt: str = "parquet") -> str:
    """Write the ranked scores (best first) as Parquet or Delta; returns where."""
    from leadscore.spark.io import write_table_frame

    return write_table_frame(scores.scores, out, "delta" if fmt == "delta" else "parquet")


def summary(scores: SparkScores, top: int = 10) -> tuple[dict[str, int], pd.DataFrame]:
    """Leads per segment, to contact and explored (``leads``, ``hot`` …, ``contact``,
    ``explored``), and the ``top`` best leads as a pandas frame."""
    from pyspark.sql import functions as F

    frame = scores.scores
    parts = [
        F.count(F.lit(1)).alias("leads"),
        F.sum(F.col("contact").cast("long")).alias("contact"),
    ]
    for segment in ("hot", "warm", "cold"):
        parts.append(F.sum((F.col("segment") == segment).cast("long")).alias(segment))
    if "explored" in frame.columns:
        parts.append(F.sum(F.col("explored").cast("long")).alias("explored"))
    row = frame.agg(*parts).first().asDict()
    counts = {name: int(value or 0) for name, value in row.items()}
    best = frame.where(F.col(_RANK) <= top).orderBy(_RANK).toArrow().to_pandas()
    return counts, best
