"""``--engine spark`` of ``features``, ``dataset`` and ``score``: the options, and each
command's run on a Spark cluster (:mod:`leadscore.spark`), printed as the single machine
prints it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from leadscore.cli.common import err, out
from leadscore.config import Settings, load_settings
from leadscore.errors import LeadscoreError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        # rich markup: "\\[" is a literal bracket in the help
        help="single: this machine; spark: a Spark cluster (\\[spark] settings, --spark-master; "
        "pip install 'leadscore\\[spark]'), reading and writing Parquet or Delta on any "
        "Hadoop path (s3a://, hdfs://, abfss://, dbfs:/).",
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option("--spark-master", help="With --engine spark: local[*], spark://host:7077, yarn…"),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option("--spark-conf", help="With --engine spark: spark.KEY=VALUE (repeatable)."),
]
ENGINES = ("single", "spark")
_FLATTENED = re.compile(r"^(s3a|s3n|hdfs|abfss?|wasbs?|gs|oss|viewfs):/(?!/)")


def on_spark(engine: str) -> bool:
    """Whether ``--engine`` asks for Spark (PySpark must then be installed).

    Example
    -------
    >>> on_spark("single")
    False
    """
    if engine not in ENGINES:
        raise LeadscoreError(f"--engine is single or spark, not {engine!r}")
    if engine == "spark":
        from leadscore.spark.session import require_spark

        require_spark()
    return engine == "spark"


def uri(path: str | Path) -> str:
    """A path option as the user typed it: ``Path`` folds ``s3a://b/k`` to ``s3a:/b/k``.

    Example
    -------
    >>> uri(Path("s3a://lake/events")), uri(Path("out/leads.parquet"))
    ('s3a://lake/events', 'out/leads.parquet')
    """
    return _FLATTENED.sub(lambda m: f"{m.group(1)}://", str(path))


def session(
    config: Path | None, master: str | None, conf: list[str] | None
) -> tuple[SparkSession, Settings]:
    """The SparkSession of the ``[spark]`` settings and the flags, and the settings."""
    from leadscore.spark.session import parse_conf, spark_session

    settings = load_settings(config)
    with err.status("starting Spark"):
        spark = spark_session(settings.spark, master=master, conf=parse_conf(conf))
    return spark, settings


def _counts_line(counts: dict[str, int]) -> str:
    aside = {k.split(": ", 1)[1]: n for k, n in counts.items() if k.startswith("quarantined: ")}
    text = (
        f"{counts.get('events read', 0):,} events read; "
        f"{counts.get('duplicates removed', 0):,} duplicates removed; "
        f"{sum(aside.values()):,} set aside"
    )
    if aside:
        text += " (" + ", ".join(f"{n:,} {r}" for r, n in aside.items()) + ")"
    return text


def _wrote_table(spark: SparkSession, planned: Any, written: dict[str, str]) -> None:
    from pyspark.sql import functions as F

    counts = planned.event_counts
    out.print(_counts_line(counts))
    for note in planned.notes:
        out.print(f"[dim]note: {note}[/]")
    columns = planned.table.columns
    summary = f"{counts.get('leads', 0):,} leads × {len(columns) - 1} columns"
    if "converted" in columns:
        from leadscore.spark.io import read_table_frame

        share = (
            read_table_frame(spark, written["table"])
            .agg(F.avg((F.col("converted") == "yes").cast("double")))
            .first()[0]
        )
        summary += f", {share or 0:.1%} converted"
        known = counts.get("leads", 0) - counts.get("leads with events", 0)
        if known:
            out.print(f"[dim]note: {known:,} leads in the outcomes have no events[/]")
    out.print(f"wrote {written['table']} ({summary}); builder {written['builder']}")
    if planned.crm_fields:
        timing = "as of each lead's cutoff" if planned.crm_dated else "as exported"
        out.print(f"CRM fields joined ({timing}): {', '.join(planned.crm_fields)}")


def features_on_spark(
    events: list[Path],
    out_file: Path,
    *,
    training: bool,
    builder: Path | None,
    crm: dict[str, Any] | None,
    config: Path | None,
    master: str | None,
    conf: list[str] | None,
    **options: Any,
) -> None:
    """``leadscore features --engine spark``: ``options`` are ``build_lead_table``'s
    (outcomes, cutoff, as_of, settings, conversion_event); ``crm`` is ``read_crm``'s."""
    from leadscore.features.crm import read_crm
    from leadscore.spark.features import spark_lead_table, write_lead_table
    from leadscore.spark.io import read_small_table

    events_define = [options.pop("lead_event", None), options.pop("conversion_event", None)]
    if any(name is not None for name in events_define):
        raise LeadscoreError(
            "--engine spark takes the outcomes from --labels; outcomes defined by a "
            "conversion event need one machine (leadscore features without --engine)"
        )
    spark, settings = session(config, master, conf)
    leads = None
    if crm is not None:
        leads = read_crm(read_small_table(spark, uri(crm.pop("source"))), **crm)
    if options.get("outcomes") is not None:
        options["outcomes"] = uri(options["outcomes"])
    with err.status("building lead features on Spark"):
        planned = spark_lead_table(
            spark, [uri(e) for e in events], builder=builder if not training else None,
            leads=leads, config=settings.spark, **options,
        )  # fmt: skip
        keep = uri(builder) if builder is not None and training else None
        written = write_lead_table(spark, planned, uri(out_file), keep, settings.spark.format)
    _wrote_table(spark, planned, written)


def dataset_on_spark(
    out_file: Path,
    *,
    since: str | None,
    config: Path | None,
    database: str | None,
    master: str | None,
    conf: list[str] | None,
) -> bool:
    """``leadscore dataset --from-store --engine spark``; False when the store has no
    events (the single machine then builds the table)."""
    from leadscore.spark.dataset import remove, spark_store_dataset
    from leadscore.spark.features import write_lead_table
    from leadscore.store import Store

    spark, settings = session(config, master, conf)
    store = Store(database or settings.database_url)
    target = uri(out_file)
    with err.status("building the training table on Spark"):
        planned, staging = spark_store_dataset(
            spark, store, target, since=since, config=settings.spark
        )
        if planned is None or staging is None:
            out.print("[dim]note: the store holds no events: built on this machine[/]")
            return False
        try:
            written = write_lead_table(spark, planned, target, fmt=settings.spark.format)
        finally:
            remove(spark, staging)
    _wrote_table(spark, planned, written)
    return True


def score_on_spark(
    model_ref: str,
    data: str,
    out_file: Path | None,
    *,
    from_events: bool,
    as_of: str | None,
    leads: str | None,
    capacity: int | None,
    reasons: int,
    top: int,
    config: Path | None,
    master: str | None,
    conf: list[str] | None,
) -> None:
    """``leadscore score --engine spark``: scores written to ``--out``, the top leads and
    the counts printed."""
    from leadscore.lifecycle.registry import load_lead_model
    from leadscore.scoring.exploration import ExplorationPolicy
    from leadscore.spark.scoring import spark_scores, summary, write_scores

    if out_file is None:
        raise LeadscoreError("--engine spark writes the scores: give --out (a Parquet path)")
    spark, settings = session(config, master, conf)
    model = load_lead_model(model_ref, settings)
    table: Any = uri(data)
    if from_events:
        from leadscore.features.crm import read_crm
        from leadscore.spark.features import spark_lead_table
        from leadscore.spark.io import read_small_table

        builder = getattr(model, "feature_builder_", None)
        if builder is None:
            raise LeadscoreError(
                "this model was not trained on event features (leadscore features), so it "
                "cannot score raw events; score a lead table instead"
            )
        crm = read_crm(read_small_table(spark, uri(leads))) if leads else None
        # kept once computed: the scorer reads the features more than once
        table = spark_lead_table(
            spark, [table], builder=builder, as_of=as_of, leads=crm, config=settings.spark
        ).table.persist()
    elif leads is not None:
        raise LeadscoreError("--leads joins CRM fields onto events: use it with --events")
    with err.status("scoring on Spark"):
        ranked = spark_scores(
            spark, model, table, capacity=capacity, reasons=reasons,
            exploration=ExplorationPolicy.from_settings(settings),
        )  # fmt: skip
        written = write_scores(ranked, uri(out_file), settings.spark.format)
        counts, best = summary(ranked, top)
    explored = f" ({counts['explored']:,} of them by exploration)" if counts.get("explored") else ""
    out.print(
        f"{counts['leads']:,} leads: [bold red]{counts['hot']:,} hot[/], [bold yellow]"
        f"{counts['warm']:,} warm[/], [bold blue]{counts['cold']:,} cold[/]; "
        f"{counts['contact']:,} to contact{explored}"
    )
    shown = Table(title=f"Top {len(best)} leads", header_style="bold")
    for name in ("rank", ranked.key, "score", "segment", "contact"):
        shown.add_column(name, justify="left" if name in (ranked.key, "segment") else "right")
    for row in best.to_dict("records"):
        shown.add_row(
            str(row["rank"]), escape(str(row[ranked.key])), str(row["score_100"]),
            row["segment"], "yes" if row["contact"] else "no",
        )  # fmt: skip
    out.print(shown)
    out.print(f"wrote {counts['leads']:,} scores to {written}")
