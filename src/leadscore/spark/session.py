"""The SparkSession ``--engine spark`` runs in: an existing cluster's, or one made from
the ``[spark]`` settings (master URL, Spark configuration, Maven packages).

PySpark is an optional extra: without it (or without Java) :func:`require_spark` says how
to get it, before anything else is read.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from leadscore.config.cluster import SparkSettings
from leadscore.errors import LeadscoreError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = (
    "--engine spark needs PySpark: pip install 'leadscore[spark]' (on a cluster, install "
    "leadscore on the driver and every executor; Databricks: a cluster library)"
)
#: Delta Lake's session extension and catalog, set when ``delta-spark`` is installed
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def pyspark_installed() -> bool:
    """Whether PySpark can be imported here."""
    return importlib.util.find_spec("pyspark") is not None


def delta_installed() -> bool:
    """Whether ``delta-spark`` (Delta Lake tables) can be imported here."""
    return importlib.util.find_spec("delta") is not None


def java_found() -> bool:
    """Whether a Java runtime is there for a local Spark (``JAVA_HOME`` or ``java``)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def require_spark() -> None:
    """Raise a :class:`~leadscore.errors.LeadscoreError` saying how to get PySpark when it
    is missing.

    Example
    -------
    >>> require_spark() if pyspark_installed() else None
    """
    if not pyspark_installed():
        raise LeadscoreError(INSTALL_HINT)


def parse_conf(pairs: list[str] | None) -> dict[str, str]:
    """``--spark-conf KEY=VALUE`` flags as a mapping.

    Parameters
    ----------
    pairs:
        ``["spark.executor.memory=8g", …]``.

    Example
    -------
    >>> parse_conf(["spark.executor.memory=8g", "spark.sql.shuffle.partitions = 64"])
    {'spark.executor.memory': '8g', 'spark.sql.shuffle.partitions': '64'}
    """
    conf: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise LeadscoreError(f"--spark-conf takes spark.KEY=VALUE, not {pair!r}")
        conf[key.strip()] = value.strip()
    return conf


def session_conf(
    settings: SparkSettings, master: str | None = None, conf: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The Spark configuration a new session gets: the settings' ``conf`` and packages,
    then ``conf`` (flags) on top; for a local master, the workers run this Python (a
    virtual environment's packages are then theirs too) and the web UI stays off unless
    asked for.

    Parameters
    ----------
    settings:
        The ``[spark]`` settings.
    master:
        A master URL that wins over ``settings.master``.
    conf:
        Spark configuration that wins over ``settings.conf``.

    Example
    -------
    >>> made = session_conf(SparkSettings(packages=["org.apache.hadoop:hadoop-aws:3.4.1"]),
    ...                     master="local[2]", conf={"spark.sql.shuffle.partitions": "4"})
    >>> made["spark.master"], made["spark.jars.packages"], made["spark.ui.enabled"]
    ('local[2]', 'org.apache.hadoop:hadoop-aws:3.4.1', 'false')
    """
    chosen = master or settings.master
    made: dict[str, str] = {"spark.app.name": settings.app_name}
    if chosen:
        made["spark.master"] = chosen
    submitted = os.environ.get("PYSPARK_GATEWAY_PORT") is not None
    local = (chosen is None and not submitted) or (chosen or "").startswith("local")
    if local:
        made["spark.ui.enabled"] = "false"
        # a local master's tasks run in the driver's JVM: Spark's 1 GB is too little to
        # collect the builder's fit sample
        made["spark.driver.memory"] = "4g"
        made["spark.pyspark.python"] = sys.executable
        made["spark.pyspark.driver.python"] = sys.executable
    if settings.packages:
        made["spark.jars.packages"] = ",".join(settings.packages)
    if delta_installed():
        made.update(DELTA_CONF)
    made.update(settings.conf)
    made.update(conf or {})
    return made


def spark_session(
    settings: SparkSettings | None = None,
    *,
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """The active SparkSession (under ``spark-submit``, in a Databricks notebook), or a new
    one configured by :func:`session_conf` (``local[*]`` when no master is set).

    Parameters
    ----------
    settings:
        The ``[spark]`` settings (default: their defaults).
    master, conf:
        A master URL and Spark configuration from flags, over the settings.

    Example (starts a JVM, so not run here)::

        spark = spark_session(SparkSettings(master="local[2]"))
    """
    require_spark()
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    made = session_conf(settings, master, conf)
    if made.get("spark.master", "local").startswith("local") and not java_found():
        raise LeadscoreError(
            "a local Spark needs Java 17 or later: install it (apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME, or give --spark-master URL of a cluster"
        )
    # the workers of a local master run this interpreter: the same packages as the driver
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    # under spark-submit (it starts this Python with a gateway port) the master is its own
    if "spark.master" not in made and "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = builder.master("local[*]")
    for key, value in made.items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        # PySpark 4 warns about pandas 3 once per import; leadscore converts with Arrow itself
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
