"""Getting data in: ``demo-data``, ``ingest`` and ``features`` (raw events → lead table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.common import ConfigOpt, DatabaseOpt, err, handle_errors, open_store, out
from leadscore.cli.engine import (
    EngineOpt,
    SparkConfOpt,
    SparkMasterOpt,
    dataset_on_spark,
    features_on_spark,
    on_spark,
)
from leadscore.config import load_settings
from leadscore.errors import LeadscoreError


@handle_errors
def demo_data(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the CSV files.")] = Path(
        "demo"
    ),
    rows: Annotated[int, typer.Option("--rows", help="Labelled historical leads.")] = 5000,
    new_rows: Annotated[int, typer.Option("--new-rows", help="Fresh leads to score.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
    events: Annotated[
        bool,
        typer.Option(
            "--events",
            help="Raw web events and CRM tables (events.jsonl, outcomes.csv, crm.csv, "
            "new_events.jsonl, new_crm.csv, truth.csv) instead of a lead table; --rows and "
            "--new-rows count leads.",
        ),
    ] = False,
) -> None:
    """Generate realistic demo data with known planted effects (lead table or raw events)."""
    from leadscore.demo import write_demo, write_demo_events

    if events:
        paths = write_demo_events(out_dir, leads=rows, new_leads=new_rows, seed=seed)
    else:
        paths = write_demo(out_dir, rows=rows, new_rows=new_rows, seed=seed)
    for name, path in paths.items():
        out.print(f"wrote {name:9s} {path}")


@handle_errors
def ingest(
    source: Annotated[
        str,
        typer.Argument(
            help="A path, folder or glob, s3://bucket/prefix/, "
            "mixpanel://[PROJECT]?from=YYYY-MM-DD&to=YYYY-MM-DD, or a database URL with "
            "?table=NAME or ?query=SELECT…"
        ),
    ],
    out_file: Annotated[
        Path, typer.Option("--out", help="Local copy: .csv, .parquet or .jsonl[.gz].")
    ],
    config: ConfigOpt = None,
    as_events: Annotated[
        bool,
        typer.Option(
            "--events",
            help="Read SOURCE as raw events: map every file onto the event schema, set bad "
            "events aside (quarantine file beside --out), remove duplicates.",
        ),
    ] = False,
) -> None:
    """Copy lead tables or raw events from where they live into one local file."""
    from leadscore.data.ingest import ingest as run_ingest
    from leadscore.data.masking import mask_source

    settings = load_settings(config)
    with err.status(f"ingesting {mask_source(source)}"):
        if as_events:
            from leadscore.data.events import load_events
            from leadscore.data.table_files import write_table

            loaded = load_events(source)
            written = write_table(loaded.events, out_file)
            out.print(loaded.summary())
            if len(loaded.quarantine):
                target = out_file.with_name(out_file.name.split(".")[0] + ".quarantine.csv")
                out.print(f"set-aside events: {loaded.write_quarantine(target)}")
        else:
            written = run_ingest(source, out_file, settings=settings)
    out.print(f"wrote {written} ({written.stat().st_size:,} bytes)")


@handle_errors
def features(
    events: Annotated[
        list[Path], typer.Argument(help="Event files, folders or globs (JSONL, CSV, Parquet).")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Lead table to write (.csv/.parquet).")],
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="Outcomes: lead id, converted, outcome time (training)."),
    ] = None,
    lead_event: Annotated[
        str | None, typer.Option("--lead-event", help="Event that makes a visitor a lead.")
    ] = None,
    conversion_event: Annotated[
        str | None,
        typer.Option("--conversion-event", help="Event that means the lead converted."),
    ] = None,
    cutoff: Annotated[
        str | None, typer.Option("--cutoff", help="Ignore events at or after this time.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Scoring time for recency (default: last event).")
    ] = None,
    builder: Annotated[
        Path | None,
        typer.Option("--builder", help="Fitted feature builder: reuse (scoring) or save path."),
    ] = None,
    quarantine: Annotated[
        Path | None, typer.Option("--quarantine", help="Where to write set-aside events (CSV).")
    ] = None,
    session_gap: Annotated[
        float, typer.Option("--session-gap", help="Minutes of inactivity that end a session.")
    ] = 30.0,
    milestone: Annotated[
        list[str] | None,
        typer.Option("--milestone", help="Event to time from the first visit (repeatable)."),
    ] = None,
    mmdb: Annotated[
        Path | None,
        typer.Option("--mmdb", help="MaxMind country database instead of the bundled one."),
    ] = None,
    leads: Annotated[
        str | None,
        typer.Option(
            "--leads",
            help="CRM table (file or source URL) whose fields are joined onto each lead's "
            "behaviour, as of its cutoff when it has an updated-at column.",
        ),
    ] = None,
    leads_id: Annotated[
        str | None, typer.Option("--leads-id", help="Lead id column of the CRM table.")
    ] = None,
    leads_time: Annotated[
        str | None,
        typer.Option(
            "--leads-time",
            help="Updated-at column of the CRM table (default: found by name; 'none': the "
            "table is one row per lead, taken as is).",
        ),
    ] = None,
    chunk_events: Annotated[
        int,
        typer.Option(
            "--chunk-events",
            min=1,
            help="Events per bucket: inputs larger than this are built a bucket of leads at "
            "a time, in memory bounded by the bucket (raise it to go faster with memory to "
            "spare).",
        ),
    ] = 1_000_000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes that build the buckets of a bucketed build (default: one per "
            "core; 1: all in one process). Each holds a bucket, so a bucket gets "
            "--chunk-events / --workers events.",
        ),
    ] = None,
    engine: EngineOpt = "single",
    spark_master: SparkMasterOpt = None,
    spark_conf: SparkConfOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Turn raw events into one row of features per lead (point-in-time correct), with
    each lead's CRM fields joined on (--leads)."""
    from leadscore.features.build import FeatureSettings
    from leadscore.features.stream import stream_lead_table
    from leadscore.features.table import (
        build_lead_table,
        load_builder,
        save_beside_table,
        save_lead_table,
        streams,
    )

    training = labels is not None or conversion_event is not None
    if builder is not None and not training and not builder.exists():
        raise LeadscoreError(
            f"feature builder not found: {builder} (to score, give the builder saved when the "
            "training table was built)"
        )
    reuse = builder if builder is not None and not training else None
    settings = FeatureSettings(
        session_gap_minutes=session_gap,
        milestones=milestone or None,
        mmdb_path=str(mmdb) if mmdb else None,
    )
    if on_spark(engine):
        no_time = (leads_time or "").lower() == "none"
        crm_read = None if leads is None else {
            "source": leads, "id_column": leads_id, "use_time": not no_time,
            "time_column": None if no_time else leads_time,
        }  # fmt: skip
        features_on_spark(
            events, out_file, training=training, builder=builder, crm=crm_read, config=config,
            master=spark_master, conf=spark_conf, outcomes=labels,
            lead_event=lead_event, conversion_event=conversion_event, cutoff=cutoff, as_of=as_of,
            settings=settings,
        )  # fmt: skip
        return
    crm = None
    if leads is not None:
        from leadscore.features.crm import read_crm

        no_time = (leads_time or "").lower() == "none"
        with err.status("reading the CRM table"):
            crm = read_crm(
                leads, id_column=leads_id, time_column=None if no_time else leads_time,
                use_time=not no_time,
            )  # fmt: skip
    inputs, save_to = [str(e) for e in events], builder if training or reuse is None else None
    if streams(inputs, chunk_events, conversion_event=conversion_event, leads=crm):
        with err.status("building lead features, a bucket of leads at a time"):
            built = stream_lead_table(
                inputs, out_file, outcomes=labels, cutoff=cutoff, as_of=as_of,
                builder=load_builder(reuse) if reuse else None, settings=settings,
                chunk_events=chunk_events, workers=workers,
            )  # fmt: skip
        load, notes, rows, columns = built.load, built.notes, built.rows, built.columns
        converted = None if built.converted is None else built.converted / max(rows, 1)
        written = {"table": built.path}
        written |= save_beside_table(out_file, columns, built.builder, load.counts, notes, save_to)
        result = None
    else:
        with err.status("building lead features"):
            result = build_lead_table(
                inputs, outcomes=labels, lead_event=lead_event,
                conversion_event=conversion_event, cutoff=cutoff, as_of=as_of, builder=reuse,
                settings=settings, leads=crm,
            )  # fmt: skip
        load, notes, table = result.load, result.notes, result.table
        rows, columns = len(table), list(table.columns)
        converted = (table["converted"] == "yes").mean() if "converted" in columns else None
    out.print(load.summary())
    if len(load.quarantine):
        target = quarantine or out_file.with_name(out_file.name.split(".")[0] + ".quarantine.csv")
        load.write_quarantine(target)
        out.print(f"set-aside events with file, line and reason: {target}")
    for note in notes:
        out.print(f"[dim]note: {note}[/]")
    if result is not None:
        written = save_lead_table(result, out_file, save_to)
    summary = f"{rows:,} leads × {len(columns) - 1} columns"
    if converted is not None:
        summary += f", {converted:.1%} converted"
    out.print(f"wrote {written['table']} ({summary}); builder {written['builder']}")
    if result is not None and result.crm_fields:
        timing = "as of each lead's cutoff" if result.crm_dated else "as exported"
        out.print(f"CRM fields joined ({timing}): {', '.join(result.crm_fields)}")


@handle_errors
def dataset(
    out_file: Annotated[Path, typer.Option("--out", help="Training table to write.")],
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Build it from the score store: every lead with a recorded outcome, its "
            "features as of its outcome.",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only outcomes that occurred at or after this date."),
    ] = None,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
    engine: EngineOpt = "single",
    spark_master: SparkMasterOpt = None,
    spark_conf: SparkConfOpt = None,
) -> None:
    """Write a training table from what production recorded (leads, events, outcomes)."""
    from leadscore.lifecycle.store_dataset import save_store_dataset, store_dataset

    if not from_store:
        raise LeadscoreError(
            "say where the training table comes from: --from-store (files: leadscore features)"
        )
    if on_spark(engine) and dataset_on_spark(
        out_file, since=since, config=config, database=database, master=spark_master,
        conf=spark_conf,
    ):  # fmt: skip
        return
    with open_store(config, database) as store, err.status("building the training table"):
        built = store_dataset(store, since=since)
    for note in built.notes:
        out.print(f"[dim]note: {note}[/]")
    written = save_store_dataset(built, out_file)
    table = built.table
    converted = (table["converted"] == "yes").mean()
    source = f"{built.events:,} events and " if built.builder is not None else ""
    out.print(
        f"wrote {written['table']} ({len(table):,} leads with outcomes, {converted:.1%} "
        f"converted; from {source}{len(built.fields)} attribute fields as of each outcome)"
    )
