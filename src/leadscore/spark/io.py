"""Tables and files where a cluster reads and writes them: local paths, ``s3a://``,
``hdfs://``, ``abfss://``, ``gs://``, ``dbfs:/`` — any Hadoop-compatible store — as
Parquet, or as Delta tables where ``delta-spark`` is installed.

Small files beside a table (the fitted feature builder, the table's JSON description) go
through the same Hadoop file system, so they land where the table does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from leadscore.errors import DataError
from leadscore.spark.session import delta_installed

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

Format = Literal["parquet", "delta"]
#: a file's rows are numbered below this (a row's place is file × this + row)
_ROWS_PER_FILE = 1 << 40

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")
#: file systems only Spark (Hadoop) reads; ``s3://`` and local paths leadscore reads itself
HADOOP_SCHEMES = frozenset(
    {"s3a", "s3n", "hdfs", "abfs", "abfss", "wasb", "wasbs", "gs", "dbfs", "viewfs", "oss"}
)


def is_uri(path: str | Path) -> bool:
    """Whether ``path`` names a file system by scheme (``s3a://…``, ``dbfs:/…``).

    Example
    -------
    >>> is_uri("s3a://lake/events/"), is_uri("dbfs:/mnt/events"), is_uri("data/events")
    (True, True, False)
    """
    return bool(_URI.match(str(path)))


def hadoop_path(path: str | Path) -> str:
    """``path`` as Spark reads it: a URI unchanged, a local path made absolute.

    Example
    -------
    >>> hadoop_path("s3a://lake/events/")
    's3a://lake/events/'
    >>> hadoop_path("events.parquet") == str(Path("events.parquet").resolve())
    True
    """
    return str(path) if is_uri(path) else str(Path(path).resolve())


def sibling(path: str | Path, name: str) -> str:
    """The path of a file named ``name`` in the folder that holds ``path``.

    Example
    -------
    >>> sibling("s3a://lake/tables/leads.parquet", "leads.features.json")
    's3a://lake/tables/leads.features.json'
    >>> sibling("out/leads.parquet", "leads.builder.joblib")
    'out/leads.builder.joblib'
    """
    text = str(path).rstrip("/")
    head, sep, _ = text.rpartition("/")
    return f"{head}{sep}{name}" if sep else name


def _fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """The Hadoop file system of ``path`` and the path as a Hadoop Path (Java objects)."""
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(hadoop_path(path))
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    return target.getFileSystem(conf), target


def path_exists(spark: SparkSession, path: str | Path) -> bool:
    """Whether ``path`` exists on its file system."""
    fs, target = _fs(spark, str(path))
    return bool(fs.exists(target))


def is_delta(spark: SparkSession, path: str | Path) -> bool:
    """Whether ``path`` is a Delta table (it holds a ``_delta_log`` folder)."""
    return path_exists(spark, f"{str(path).rstrip('/')}/_delta_log")


def input_order(frame: DataFrame, staged: str | None = None) -> Column:
    """Each row's place in the input: its file (in name order, as the single machine reads
    a folder), then its row in the file; ``staged`` names a column that holds it already.
    A source without row numbers (not Parquet) gets Spark's own reading order."""
    from pyspark.sql import functions as F

    if staged is not None and staged in frame.columns:
        return F.col(staged)
    try:
        frame.select("_metadata.row_index").schema  # noqa: B018 - Parquet files have it
    except Exception:  # not files (a computed DataFrame), or a format without row numbers
        return F.monotonically_increasing_id()
    path = F.col("_metadata.file_path")
    jvm = frame.sparkSession.sparkContext._jvm
    ranks: dict[str, int] = {}
    for i, name in enumerate(sorted(frame.inputFiles())):
        # _metadata spells a path as Hadoop does (file:/tmp/x, not file:///tmp/x), escaped
        # or not depending on the version: every spelling finds the file's rank
        hadoop = jvm.org.apache.hadoop.fs.Path(name)
        for spelling in (name, str(hadoop.toString()), str(hadoop.toUri().toString())):
            ranks.setdefault(spelling, i)
    rank = F.create_map(*[x for f, i in ranks.items() for x in (F.lit(f), F.lit(i))])
    return F.coalesce(rank[path], F.lit(len(ranks))) * _ROWS_PER_FILE + F.col("_metadata.row_index")


def _read(load: Callable[[], DataFrame], path: object) -> DataFrame:
    """``load()``, with Spark's refusal to read a table said as a :class:`DataError`."""
    from pyspark.errors import AnalysisException

    try:
        return load()
    except AnalysisException as exc:
        message = str(exc).split("SQLSTATE")[0].strip()
        if "NANOS" in message:
            message += (
                " — Spark reads no nanosecond times: write them in microseconds, e.g. "
                "to_parquet(..., coerce_timestamps='us')"
            )
        raise DataError(f"cannot read {path}: {message}") from None


def read_events_frame(spark: SparkSession, path: str | Path | list[str]) -> DataFrame:
    """Raw events (any column layout the event schema knows) from Parquet files, folders
    or globs, or a Delta table.

    Parameters
    ----------
    path:
        One path or several (all Parquet, or one Delta table).
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths:
        raise DataError("no event files given")
    for item in paths:
        suffix = str(item).lower().rstrip("/")
        if suffix.endswith((".jsonl", ".json", ".csv", ".gz", ".tsv")):
            raise DataError(
                f"--engine spark reads events as Parquet or Delta, not {item}: convert them "
                "first (leadscore ingest --events FILES --out events.parquet, or a Spark job)"
            )
    if len(paths) == 1 and is_delta(spark, paths[0]):
        return read_table_frame(spark, paths[0])
    if not all(path_exists(spark, p) or any(c in str(p) for c in "*?[") for p in paths):
        missing = [str(p) for p in paths if not path_exists(spark, p)]
        raise DataError(f"events not found: {', '.join(missing)}")
    return _read(lambda: spark.read.parquet(*[hadoop_path(p) for p in paths]), paths[0])


def read_table_frame(spark: SparkSession, path: str | Path) -> DataFrame:
    """A Parquet or Delta table (Delta when the path holds a ``_delta_log`` folder)."""
    if is_delta(spark, path):
        if not delta_installed():
            raise DataError(
                f"{path} is a Delta table: pip install delta-spark (with its jars on the "
                "cluster: [spark] packages) to read it"
            )
        return _read(lambda: spark.read.format("delta").load(hadoop_path(path)), path)
    if not path_exists(spark, path):
        raise DataError(f"table not found: {path}")
    return _read(lambda: spark.read.parquet(hadoop_path(path)), path)


def write_table_frame(frame: DataFrame, path: str | Path, fmt: Format = "parquet") -> str:
    """Write ``frame`` to ``path`` (replacing what was there) as Parquet or Delta."""
    if fmt == "delta" and not delta_installed():
        raise DataError("writing Delta tables needs delta-spark: pip install delta-spark")
    target = hadoop_path(path)
    frame.write.mode("overwrite").format(fmt).save(target)
    return target


def write_bytes(spark: SparkSession, path: str | Path, data: bytes) -> str:
    """Write ``data`` as a file at ``path`` on its file system (replacing it)."""
    if not is_uri(path):
        local = Path(path)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        return str(local)
    fs, target = _fs(spark, str(path))
    stream = fs.create(target, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()
    return str(path)


def read_bytes(spark: SparkSession, path: str | Path) -> bytes:
    """The bytes of the file at ``path`` on its file system."""
    if not is_uri(path):
        return Path(path).read_bytes()
    fs, target = _fs(spark, str(path))
    if not fs.exists(target):
        raise DataError(f"file not found: {path}")
    jvm = spark.sparkContext._jvm
    stream = fs.open(target)
    try:
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()


def read_small_table(
    spark: SparkSession, source: str | Path | pd.DataFrame
) -> str | Path | pd.DataFrame:
    """A table read on the driver (outcomes, a CRM table): on a Hadoop file system
    (``s3a://``, ``hdfs://``, ``abfss://``, ``gs://``, ``dbfs:/`` …) read by Spark into
    pandas; anything else (a DataFrame, a local path, ``s3://``, a database URL) is
    returned for leadscore's own readers.

    Parameters
    ----------
    source:
        The table.
    """
    if isinstance(source, pd.DataFrame):
        return source
    scheme = str(source).split(":", 1)[0].lower() if is_uri(source) else ""
    if scheme not in HADOOP_SCHEMES:
        return source
    return read_table_frame(spark, str(source)).toArrow().to_pandas()
