"""Settings of the Spark engine (``--engine spark``): which cluster, with what configuration.

Kept apart from :mod:`~leadscore.config.settings` like the source settings are: they are
read only by :mod:`leadscore.spark` and its flags (``--spark-master``, ``--spark-conf``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator


class SparkSettings(BaseModel):
    """The Spark cluster ``--engine spark`` runs on (``[spark]``, ``LEADSCORE_SPARK__MASTER``,
    ``LEADSCORE_SPARK__CONF='{"spark.executor.memory": "8g"}'``).

    Example
    -------
    >>> SparkSettings(conf={"spark.executor.memory": "8g"}).master is None
    True
    """

    #: the cluster manager: ``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://…``;
    #: unset: the one ``spark-submit`` (or Databricks) started, else ``local[*]``
    master: str | None = None
    #: the application name shown by the cluster manager
    app_name: str = "leadscore"
    #: any Spark configuration (``spark.executor.memory``, ``spark.hadoop.fs.s3a.endpoint`` …);
    #: ``--spark-conf KEY=VALUE`` adds to it
    conf: dict[str, str] = Field(default_factory=dict)
    #: Maven coordinates the cluster fetches (``spark.jars.packages``), e.g.
    #: ``org.apache.hadoop:hadoop-aws:3.4.1`` for ``s3a://``
    packages: list[str] = Field(default_factory=list)
    #: partitions the events are spread over, by lead (unset: twice the cluster's cores)
    partitions: int | None = Field(default=None, ge=1)
    #: events handed to the feature builder at once inside a partition (whole leads): a
    #: task's memory is bounded by this, not by its partition
    chunk_events: int = Field(default=500_000, ge=100)
    #: the format of written tables: ``parquet``, or ``delta`` (needs ``delta-spark``)
    format: Literal["parquet", "delta"] = "parquet"

    @field_validator("conf")
    @classmethod
    def _spark_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.startswith("spark."):
                raise ValueError(f"Spark settings start with 'spark.', not {key!r}")
        return {key: str(item) for key, item in value.items()}
