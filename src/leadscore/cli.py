"""The ``leadscore`` command line: one command per job.

Every command takes the same column-role options (``--target``, ``--id``, ``--time``,
``--exclude``, ``--keep``) and reads ``leadscore.toml`` from the working directory (or
``--config``). Problems with the input print one clear line and exit with status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from pydantic import ValidationError
from rich.table import Table

from leadscore.cliutil import (
    ConfigOpt,
    DatabaseOpt,
    err,
    handle_errors,
    open_store,
    out,
)
from leadscore.config import Business, Settings, load_settings
from leadscore.errors import ConfigError, LeadscoreError

app = typer.Typer(
    name="leadscore",
    help="Predictive lead scoring: audit lead data, compare models, train, score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# ----------------------------------------------------------------------------- shared options

DataArg = Annotated[Path, typer.Argument(help="Lead table: a CSV or Parquet file.")]
TargetOpt = Annotated[
    str | None, typer.Option("--target", help="Outcome column (converted yes/no, 1/0, won/lost).")
]
IdOpt = Annotated[str | None, typer.Option("--id", help="Lead id column.")]
TimeOpt = Annotated[
    str | None,
    typer.Option("--time", help="Lead creation time column: validation becomes time-ordered."),
]
ExcludeOpt = Annotated[
    list[str] | None, typer.Option("--exclude", help="Leave this column out (repeatable).")
]
KeepOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--keep", help="Keep this column even if the audit suspects leakage (repeatable)."
    ),
]
DictionaryOpt = Annotated[
    Path | None,
    typer.Option(
        "--dictionary",
        help="Data dictionary (CSV: column, description): descriptions such as 'assigned by "
        "the sales team' or 'current status' mark columns filled in after contact.",
    ),
]
StrictLeakageOpt = Annotated[
    bool,
    typer.Option(
        "--strict-leakage",
        help="Also leave out strong columns that nothing shows to be recorded after the outcome.",
    ),
]
RowOrderOpt = Annotated[
    str | None,
    typer.Option(
        "--row-order",
        help="Without --time: auto (default: validate forward in file order when the rows "
        "look time-ordered), time (they are), random (they are not).",
    ),
]
BadNumbersOpt = Annotated[
    str | None,
    typer.Option(
        "--bad-numbers",
        help="What to do with text in a numeric column: error (default) or missing.",
    ),
]
ValueOpt = Annotated[
    float | None, typer.Option("--value-per-conversion", help="Revenue of one conversion.")
]
CostOpt = Annotated[float | None, typer.Option("--cost-per-contact", help="Cost of one contact.")]
MissedOpt = Annotated[
    float | None,
    typer.Option("--missed-conversion-cost", help="Cost of not contacting a lead that converts."),
]
CapacityOpt = Annotated[
    int | None, typer.Option("--capacity", help="The team can contact this many leads per batch.")
]
SortOpt = Annotated[
    str, typer.Option("--sort", help="Rank models by: auc, profit, pr_auc, recall, f1, …")
]
CvOpt = Annotated[int | None, typer.Option("--cv", help="Cross-validation folds (default 5).")]
BudgetOpt = Annotated[
    str | None,
    typer.Option(
        "--budget",
        help="Hyperparameter search time for the leading model families: 60s, 2m, auto "
        "(half as long as the comparison took) or 0 (none). train: auto; compare: 0.",
    ),
]
ModelsOpt = Annotated[
    str | None,
    typer.Option("--models", help="Comma-separated candidates to compare (default: all)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def build_settings(
    config: Path | None,
    *,
    target: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
    exclude: list[str] | None = None,
    keep: list[str] | None = None,
    bad_numbers: str | None = None,
    cv: int | None = None,
    value: float | None = None,
    cost: float | None = None,
    missed: float | None = None,
    capacity: int | None = None,
    dictionary: Path | None = None,
    strict_leakage: bool = False,
    row_order: str | None = None,
) -> Settings:
    """Settings from file and environment, with command-line flags on top."""
    settings = load_settings(config)
    roles = settings.roles.merged(
        target=target, id=id_column, time=time_column, exclude=exclude or [], keep=keep or []
    )
    business_updates = {
        k: v
        for k, v in {
            "value_per_conversion": value,
            "cost_per_contact": cost,
            "missed_conversion_cost": missed,
            "capacity": capacity,
        }.items()
        if v is not None
    }
    updates: dict[str, Any] = {"roles": roles}
    try:
        if business_updates:
            updates["business"] = Business(**{**settings.business.model_dump(), **business_updates})
        if bad_numbers is not None:
            if bad_numbers not in ("error", "missing"):
                raise ConfigError(
                    f"--bad-numbers must be 'error' or 'missing', not {bad_numbers!r}"
                )
            updates["on_bad_number"] = bad_numbers
        if cv is not None:
            if cv < 2:
                raise ConfigError(f"--cv must be at least 2 folds, not {cv}")
            updates["cv_folds"] = cv
        if row_order is not None:
            if row_order not in ("auto", "time", "random"):
                raise ConfigError(
                    f"--row-order must be 'auto', 'time' or 'random', not {row_order!r}"
                )
            updates["row_order"] = row_order
        if dictionary is not None or strict_leakage:
            leakage = settings.leakage.model_copy()
            if dictionary is not None:
                if not dictionary.is_file():
                    raise ConfigError(f"--dictionary: file not found: {dictionary}")
                leakage.dictionary = dictionary
            leakage.strict = leakage.strict or strict_leakage
            updates["leakage"] = leakage
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid business values: {problems}") from None
    return settings.model_copy(update=updates)


def _models(models: str | None) -> list[str] | None:
    return [m.strip() for m in models.split(",") if m.strip()] if models else None


# ----------------------------------------------------------------------------- commands


@app.command("demo-data")
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
            help="Raw web events (events.jsonl, outcomes.csv, new_events.jsonl) instead of a "
            "lead table; --rows and --new-rows count leads.",
        ),
    ] = False,
) -> None:
    """Generate realistic demo data with known planted effects (lead table or raw events)."""
    from leadscore.data.demo import write_demo
    from leadscore.data.demo_events import write_demo_events

    if events:
        paths = write_demo_events(out_dir, leads=rows, new_leads=new_rows, seed=seed)
    else:
        paths = write_demo(out_dir, rows=rows, new_rows=new_rows, seed=seed)
    for name, path in paths.items():
        out.print(f"wrote {name:9s} {path}")


@app.command()
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

    settings = load_settings(config)
    with err.status(f"ingesting {source}"):
        if as_events:
            from leadscore.data.events import load_events
            from leadscore.data.sources import write_table

            loaded = load_events(source)
            written = write_table(loaded.events, out_file)
            out.print(loaded.summary())
            if len(loaded.quarantine):
                target = out_file.with_name(out_file.name.split(".")[0] + ".quarantine.csv")
                out.print(f"set-aside events: {loaded.write_quarantine(target)}")
        else:
            written = run_ingest(source, out_file, settings=settings)
    out.print(f"wrote {written} ({written.stat().st_size:,} bytes)")


@app.command()
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
) -> None:
    """Turn raw events into one row of features per lead (point-in-time correct)."""
    from leadscore.features.build import FeatureSettings
    from leadscore.features.table import build_lead_table, save_lead_table

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
    with err.status("building lead features"):
        result = build_lead_table(
            [str(e) for e in events], outcomes=labels, lead_event=lead_event,
            conversion_event=conversion_event, cutoff=cutoff, as_of=as_of, builder=reuse,
            settings=settings,
        )  # fmt: skip
    out.print(result.load.summary())
    if len(result.load.quarantine):
        target = quarantine or out_file.with_name(out_file.name.split(".")[0] + ".quarantine.csv")
        result.load.write_quarantine(target)
        out.print(f"set-aside events with file, line and reason: {target}")
    for note in result.notes:
        out.print(f"[dim]note: {note}[/]")
    written = save_lead_table(result, out_file, builder if training or reuse is None else None)
    table = result.table
    summary = f"{len(table):,} leads × {table.shape[1] - 1} columns"
    if "converted" in table.columns:
        summary += f", {(table['converted'] == 'yes').mean():.1%} converted"
    out.print(f"wrote {written['table']} ({summary}); builder {written['builder']}")


@app.command()
@handle_errors
def audit(
    data: DataArg,
    target: TargetOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
    exclude: ExcludeOpt = None,
    keep: KeepOpt = None,
    config: ConfigOpt = None,
    bad_numbers: BadNumbersOpt = None,
    dictionary: DictionaryOpt = None,
    strict_leakage: StrictLeakageOpt = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON.")
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as HTML.")
    ] = None,
) -> None:
    """Check data quality and flag leakage suspects (columns filled in after the outcome)."""
    from leadscore.modeling.audit import audit as run_audit

    settings = build_settings(
        config, target=target, id_column=id_column, time_column=time_column, exclude=exclude,
        keep=keep, bad_numbers=bad_numbers, dictionary=dictionary,
        strict_leakage=strict_leakage,
    )  # fmt: skip
    with err.status("auditing"):
        report = run_audit(data, settings=settings)
    report.render(out)
    if json_out:
        out.print(f"wrote {report.to_json(json_out)}")
    if html_out:
        out.print(f"wrote {report.to_html(html_out)}")


@app.command()
@handle_errors
def compare(
    data: DataArg,
    target: TargetOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
    exclude: ExcludeOpt = None,
    keep: KeepOpt = None,
    config: ConfigOpt = None,
    bad_numbers: BadNumbersOpt = None,
    dictionary: DictionaryOpt = None,
    strict_leakage: StrictLeakageOpt = False,
    row_order: RowOrderOpt = None,
    budget: BudgetOpt = None,
    models: ModelsOpt = None,
    sort: SortOpt = "auc",
    cv: CvOpt = None,
    value: ValueOpt = None,
    cost: CostOpt = None,
    missed: MissedOpt = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the leaderboard (.csv or .json).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare model families by cross-validation and print the leaderboard."""
    from leadscore.modeling.compare import compare as run_compare

    settings = build_settings(
        config, target=target, id_column=id_column, time_column=time_column, exclude=exclude,
        keep=keep, bad_numbers=bad_numbers, dictionary=dictionary,
        strict_leakage=strict_leakage, row_order=row_order, cv=cv, value=value, cost=cost,
        missed=missed,
    )  # fmt: skip
    board = run_compare(
        data, settings=settings, models=_models(models), sort=sort, console=err,
        show_progress=not quiet, budget=budget or 0,
    )  # fmt: skip
    board.render(out)
    out.print(f"[dim]{board.seconds:.1f} s[/]")
    if board.run_id:
        out.print(f"MLflow run {board.run_id}")
    if out_file:
        out.print(f"wrote {board.write(out_file)}")


@app.command()
@handle_errors
def train(
    data: DataArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to save the model in.")],
    target: TargetOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
    exclude: ExcludeOpt = None,
    keep: KeepOpt = None,
    config: ConfigOpt = None,
    bad_numbers: BadNumbersOpt = None,
    dictionary: DictionaryOpt = None,
    strict_leakage: StrictLeakageOpt = False,
    row_order: RowOrderOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Train this model instead of the best.")
    ] = None,
    budget: BudgetOpt = None,
    models: ModelsOpt = None,
    sort: SortOpt = "auc",
    cv: CvOpt = None,
    value: ValueOpt = None,
    cost: CostOpt = None,
    missed: MissedOpt = None,
    capacity: CapacityOpt = None,
    leaderboard: Annotated[
        Path | None, typer.Option("--leaderboard", help="Write the leaderboard (.csv or .json).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare models, train the best on all data, calibrate it and save it."""
    from leadscore.modeling.train import train as run_train

    settings = build_settings(
        config, target=target, id_column=id_column, time_column=time_column, exclude=exclude,
        keep=keep, bad_numbers=bad_numbers, dictionary=dictionary,
        strict_leakage=strict_leakage, row_order=row_order, cv=cv, value=value, cost=cost,
        missed=missed,
        capacity=capacity,
    )  # fmt: skip
    lead_model = run_train(
        data, settings=settings, model=model, models=_models(models), sort=sort,
        out=out_dir, leaderboard_out=leaderboard, console=out, show_progress=not quiet,
        budget=budget,
    )  # fmt: skip
    meta = lead_model.metadata_
    m = lead_model.cv_metrics_
    choice = lead_model.threshold_choice_
    cut = lead_model.cutoffs_
    out.print(
        f"Trained [bold]{meta['model_label']}[/] on {meta['rows']:,} leads "
        f"({meta['positive_rate']:.1%} converted) — {meta['selection']}"
    )
    if len(meta.get("leaderboard") or []) <= 1:  # otherwise the leaderboard said it
        out.print(f"Validation: {meta.get('validation', 'shuffled, stratified')}")
    out.print(
        f"Cross-validated: AUC {m['auc']:.3f}, PR-AUC {m['pr_auc']:.3f}, "
        f"calibration error {m['ece']:.3f}, lift in top 10% {m['lift_top10']:.2f}×"
    )
    out.print(
        f"Contact threshold {cut.contact:.3f} (score {cut.contact * 100:.0f}): profit "
        f"{choice.profit:,.0f} on {choice.n_leads:,} leads vs contact everyone "
        f"{choice.contact_all_profit:,.0f}, contact no one {choice.contact_none_profit:,.0f}, "
        f"threshold 0.5 {choice.default_threshold_profit:,.0f}"
    )
    # one decimal where whole points would print two different cutoffs alike
    digits = 0 if round(cut.hot * 100) != round(cut.warm * 100) or cut.hot == cut.warm else 1
    shares = meta.get("segment_shares") or {}
    out.print(
        f"Segments: hot ≥ {cut.hot * 100:.{digits}f}, warm ≥ {cut.warm * 100:.{digits}f}, "
        "cold below"
        + (
            " (training leads: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()) + ")"
            if shares
            else ""
        )
    )
    if meta.get("segment_note"):
        out.print(f"[yellow]note:[/] {meta['segment_note']}")
    out.print(f"Saved to {out_dir}")
    version = getattr(lead_model, "registered_version_", None)
    if version is not None:
        from leadscore.registry import CHAMPION, Registry

        registry = Registry(settings)
        role = "champion" if registry.resolve(CHAMPION) == version else "challenger"
        out.print(
            f"MLflow run {lead_model.mlflow_run_id_}; registered as version {version} of "
            f"{registry.name} ({role}) in {registry.uri}"
        )


@app.command()
@handle_errors
def score(
    first: Annotated[
        str,
        typer.Argument(
            metavar="[MODEL] DATA",
            help="MODEL: a model folder, or champion / challenger / a version number from the "
            "registry (default: the champion). DATA: the leads to score.",
        ),
    ],
    second: Annotated[str | None, typer.Argument(metavar="", show_default=False)] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write scores (.csv or .parquet).")
    ] = None,
    capacity: CapacityOpt = None,
    top: Annotated[int, typer.Option("--top", help="Print this many top leads.")] = 10,
    show: Annotated[
        list[str] | None,
        typer.Option("--show", help="Also print this input column for the top leads (repeatable)."),
    ] = None,
    from_events: Annotated[
        bool,
        typer.Option("--events", help="DATA holds raw events: build features, then score."),
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="With --events: score as of this time.")
    ] = None,
    config: ConfigOpt = None,
    reasons: Annotated[
        int, typer.Option("--reasons", help="Add each lead's top K reasons up and down.")
    ] = 0,
    store: Annotated[
        bool,
        typer.Option(
            "--store", help="Also append the scores to the score store (history, webhooks)."
        ),
    ] = False,
    database: DatabaseOpt = None,
) -> None:
    """Score leads with a trained model: score 0–100, hot/warm/cold, rank, contact."""
    from leadscore.data.sources import read_table
    from leadscore.registry import CHAMPION, load_lead_model
    from leadscore.scoring import score as run_score

    model_ref, data = (first, second) if second is not None else (CHAMPION, first)
    lead_model = load_lead_model(model_ref, load_settings(config))
    if from_events:
        from leadscore.data.events import load_events

        loaded = load_events(data)
        out.print(loaded.summary())
        frame = lead_model.event_features(loaded.events, as_of=as_of)
    else:
        frame = read_table(data)
    score_store, version = None, "unknown"
    if store or database:
        from leadscore.scoring.loader import model_version
        from leadscore.store import Store

        settings = load_settings(config)
        score_store = Store(database or settings.database_url)
        version = model_version(model_ref, lead_model, settings)
    scores = run_score(
        lead_model, frame, out=out_file, capacity=capacity, reasons=reasons,
        store=score_store, model_version=version,
    )  # fmt: skip
    print_top(scores, frame, lead_model.id_column_, top, show or [])
    if out_file:
        out.print(f"wrote {len(scores):,} scores to {out_file}")
    if score_store is not None:
        from leadscore.store import mask

        out.print(
            f"stored {len(scores):,} scores (model version {version}) in {mask(score_store.url)}"
        )


@app.command()
@handle_errors
def explain(
    first: Annotated[
        str,
        typer.Argument(metavar="[MODEL] DATA", help="Model (default: the champion) and leads."),
    ],
    second: Annotated[str | None, typer.Argument(metavar="", show_default=False)] = None,
    lead: Annotated[
        list[str] | None, typer.Option("--lead", help="Explain this lead id (repeatable).")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Without --lead: the top N leads.")] = 5,
    reasons: Annotated[int, typer.Option("--reasons", help="Reasons each way.")] = 4,
    config: ConfigOpt = None,
) -> None:
    """Why leads scored as they did: each field's push in score points."""
    from leadscore.data.sources import read_table
    from leadscore.explain.contributions import contributions
    from leadscore.explain.reasons import reasons as lead_reasons
    from leadscore.registry import CHAMPION, load_lead_model

    model_ref, data = (first, second) if second is not None else (CHAMPION, first)
    model = load_lead_model(model_ref, load_settings(config))
    frame = read_table(data).reset_index(drop=True)
    scores = model.score_leads(frame)
    key = model.id_column_ or "lead"
    if lead:
        wanted = scores.index[scores[key].isin([str(x) for x in lead])]
        missing = sorted(set(map(str, lead)) - set(scores.loc[wanted, key]))
        if missing:
            raise LeadscoreError(f"no lead with id {', '.join(missing)} in {data}")
    else:
        wanted = scores.sort_values("rank").index[:top]
    rows = frame.loc[wanted].reset_index(drop=True)
    explained = contributions(model, rows)
    base = explained.base_score * 100
    for i, (up, down) in enumerate(lead_reasons(model, rows, reasons, explained)):
        row = scores.loc[wanted[i]]
        out.print(
            f"[bold]{key} {row[key]}[/]: score [bold]{row['score_100']}[/] ({row['segment']}), "
            f"{'contact' if row['contact'] else 'do not contact'}; a typical lead scores "
            f"{base[i]:.0f}"
        )
        for reason in up:
            out.print(f"  [green]▲[/] {reason.text}", highlight=False)
        for reason in down:
            out.print(f"  [red]▼[/] {reason.text}", highlight=False)


@app.command()
@handle_errors
def insights(
    first: Annotated[
        str,
        typer.Argument(
            metavar="[MODEL] DATA", help="Model (default: the champion) and labelled leads."
        ),
    ],
    second: Annotated[str | None, typer.Argument(metavar="", show_default=False)] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for insights.html, insights.json and PNGs.")
    ] = Path("insights"),
    findings: Annotated[int, typer.Option("--findings", help="Findings to print.")] = 8,
    config: ConfigOpt = None,
) -> None:
    """What converts: drivers, conversion by field, the ideal customer, segment profiles."""
    from leadscore.explain.drivers import beeswarm_png, explain_sample, global_drivers
    from leadscore.explain.insights import load_for_insights, write_insights
    from leadscore.registry import CHAMPION, load_lead_model

    model_ref, data = (first, second) if second is not None else (CHAMPION, first)
    model = load_lead_model(model_ref, load_settings(config))
    model, table = load_for_insights(model, data)
    with out.status("explaining a sample of leads …"):
        rows, explained = explain_sample(model, table.features)
        drivers = global_drivers(explained)
        drivers = drivers_with_permutation(drivers, model)
        beeswarm = beeswarm_png(rows, explained)
    caption = (
        "Every dot is a lead: how far the field moved its score (right raises it), "
        "coloured from low (blue) to high (red) values; categories in grey."
    )
    with out.status("writing insights …"):
        paths = write_insights(
            model, table, out_dir, drivers=drivers,
            extra_figures={"beeswarm": (caption, beeswarm)},
        )  # fmt: skip
    shown = Table(title="What moves the score (points on the 0–100 scale)", header_style="bold")
    for name in ("field", "average effect", "mean push", "held-out AUC drop"):
        shown.add_column(name, justify="left" if name == "field" else "right")
    for row in drivers.head(12).itertuples():
        auc_drop = row.permutation_auc_drop
        shown.add_row(
            row.field, f"{row.importance:.1f}", f"{row.mean_points:+.1f}",
            "" if pd.isna(auc_drop) else f"{auc_drop:.4f}",
        )  # fmt: skip
    out.print(shown)
    import json

    content = json.loads(paths["json"].read_text(encoding="utf-8"))
    for line in content["findings"][:findings]:
        out.print(f"• {line}", highlight=False)
    out.print(f"wrote {paths['html']}, {paths['json']} and {len(paths) - 2} charts")


def drivers_with_permutation(drivers: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Add the training run's held-out permutation importance (AUC drop) as a cross-check."""
    importance = getattr(model, "importance_", None)
    if importance is None or len(importance) == 0:
        return drivers.assign(permutation_auc_drop=np.nan)
    drop = importance.set_index("feature")["importance"]
    return drivers.assign(permutation_auc_drop=drivers["field"].map(drop).astype(float))


models_app = typer.Typer(help="The model registry: versions, champion and challenger.")
app.add_typer(models_app, name="models")


@models_app.command("list")
@handle_errors
def models_list(config: ConfigOpt = None) -> None:
    """All registered versions, newest first, with their aliases and metrics."""
    from leadscore.registry import Registry

    registry = Registry(load_settings(config))
    table = Table(title=f"{registry.name} @ {registry.uri}", header_style="bold")
    for name in ("version", "aliases", "model", "CV AUC", "CV profit", "rows", "created"):
        table.add_column(name, justify="right" if name in ("version", "rows") else "left")
    for v in registry.versions():
        table.add_row(
            str(v.version), ", ".join(sorted(v.aliases)), v.model,
            "" if v.auc is None else f"{v.auc:.4f}",
            "" if v.profit is None else f"{v.profit:,.0f}",
            "" if v.rows is None else f"{v.rows:,}", f"{v.created:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    out.print(table)


@models_app.command("show")
@handle_errors
def models_show(
    version: Annotated[str, typer.Argument(help="Version number, champion or challenger.")],
    config: ConfigOpt = None,
) -> None:
    """Everything recorded about one version."""
    import json

    from leadscore.registry import Registry

    registry = Registry(load_settings(config))
    out.print_json(json.dumps(registry.describe(registry.resolve(version)), default=str))


@models_app.command("promote")
@handle_errors
def models_promote(
    version: Annotated[str, typer.Argument(help="Version number (or challenger).")],
    config: ConfigOpt = None,
) -> None:
    """Make a version the champion (every scoring entry point then loads it)."""
    from leadscore.registry import Registry

    registry = Registry(load_settings(config))
    number = registry.resolve(version)
    registry.promote(number)
    out.print(f"version {number} of {registry.name} is now the champion")


@models_app.command("rollback")
@handle_errors
def models_rollback(config: ConfigOpt = None) -> None:
    """Give the champion alias back to the previous champion."""
    from leadscore.registry import Registry

    registry = Registry(load_settings(config))
    out.print(f"champion rolled back to version {registry.rollback()} of {registry.name}")


@app.command("mlflow-ui")
@handle_errors
def mlflow_ui(
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 5000,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    config: ConfigOpt = None,
) -> None:
    """Browse runs and models in the MLflow UI (the project's tracking store)."""
    import subprocess

    from leadscore.registry import tracking_uri

    uri = tracking_uri(load_settings(config))
    out.print(f"MLflow UI for {uri} at http://{host}:{port} (Ctrl-C stops)")
    mlflow = Path(sys.executable).with_name("mlflow")
    subprocess.run(
        [str(mlflow), "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)],
        check=False,
    )


@app.command()
@handle_errors
def report(
    run: Annotated[
        str,
        typer.Argument(help="A model folder, or champion / challenger / a registry version."),
    ] = "champion",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.html and PNGs.")] = Path(
        "report"
    ),
    config: ConfigOpt = None,
) -> None:
    """Write the evaluation report (HTML + PNG plots) of a trained model."""
    import tempfile

    from leadscore.modeling.report import write_report
    from leadscore.registry import load_lead_model

    if Path(run).is_dir():
        path = write_report(run, out_dir)
    else:
        model = load_lead_model(run, load_settings(config))
        with tempfile.TemporaryDirectory() as tmp:
            path = write_report(model.save(Path(tmp) / "model"), out_dir)
    out.print(f"wrote {path}")


@app.command()
@handle_errors
def retrain(
    data: DataArg,
    window: Annotated[
        str, typer.Option("--window", help="Train on this recent span, e.g. 90d.")
    ] = "90d",
    holdout: Annotated[
        str | None,
        typer.Option("--holdout", help="Judge on this most recent span (default: window / 5)."),
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="What the challenger must improve: profit, auc, …")
    ] = "profit",
    margin: Annotated[
        float, typer.Option("--margin", help="Relative improvement needed (0.01 = 1 %).")
    ] = 0.01,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Keep running and retrain every span (e.g. 7d)."),
    ] = None,
    target: TargetOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
    exclude: ExcludeOpt = None,
    keep: KeepOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a challenger on a sliding window; promote it only if it beats the champion."""
    from leadscore.modeling.retrain import retrain as run_retrain
    from leadscore.modeling.retrain import retrain_every

    settings = build_settings(
        config, target=target, id_column=id_column, time_column=time_column, exclude=exclude,
        keep=keep,
    )  # fmt: skip

    def once() -> None:
        decision = run_retrain(
            data, window=window, holdout=holdout, metric=metric, margin=margin,
            settings=settings, console=err, show_progress=not quiet,
        )  # fmt: skip
        verdict = "[bold green]promoted[/]" if decision.promoted else "[bold]kept the champion[/]"
        out.print(
            f"{verdict}: {decision.reason} (champion v{decision.champion_version}, "
            f"challenger v{decision.challenger_version}, MLflow run {decision.run_id})"
        )

    if every:
        retrain_every(every, handle_errors(once), err)
    else:
        once()


@app.command()
@handle_errors
def serve(
    model: Annotated[
        str | None,
        typer.Argument(help="Model to serve: champion (default), a version or a model folder."),
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default 8000.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Server processes.")] = 1,
    database: Annotated[
        str | None, typer.Option("--database", help="Score store URL (LEADSCORE_DATABASE_URL).")
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="A log line per request (default: service.access_log, off).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """The real-time scoring API (FastAPI + uvicorn); OpenAPI docs at /docs."""
    import uvicorn

    from leadscore.scoring.live import ModelSlot
    from leadscore.store import Store, mask

    settings = load_settings(config)
    service = settings.service.model_copy(
        update={
            k: v
            for k, v in {
                "model": model,
                "host": host,
                "port": port,
                "access_log": access_log,
            }.items()
            if v is not None
        }
    )
    settings = settings.model_copy(
        update={"service": service, **({"database_url": database} if database else {})}
    )
    # Fail here, with a clear message, rather than inside the server's startup.
    slot = ModelSlot.load(service.model, settings)
    with Store(settings.database_url) as store:  # migrated now, not by each worker at once
        has_keys = bool(store.list_keys())
    out.print(
        f"serving model version [bold]{slot.current.version}[/] ({service.model}); scores "
        f"stored in {mask(settings.database_url)}"
    )
    out.print(
        f"API: http://{service.host}:{service.port}  docs: http://{service.host}:{service.port}/docs"
    )
    if not has_keys:
        out.print("[yellow]no API keys yet:[/] leadscore keys create NAME --scope score")
    os.environ["LEADSCORE_SERVICE__MODEL"] = service.model
    os.environ["LEADSCORE_DATABASE_URL"] = settings.database_url
    if config:
        os.environ["LEADSCORE_CONFIG"] = str(config)
    uvicorn.run(
        "leadscore.service.server:app", host=service.host, port=service.port, workers=workers,
        log_level="info", access_log=service.access_log,
    )  # fmt: skip


keys_app = typer.Typer(help="API keys of the scoring service.")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
@handle_errors
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. crm-sync.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="score, ingest, read or admin (repeatable)."),
    ],
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a key; it is shown once (only its hash is stored)."""
    try:
        plaintext, record = open_store(config, database).create_key(name, scope)
    except ValueError as exc:
        raise LeadscoreError(str(exc)) from None
    out.print(f"key {record.id} ({record.name}, scopes: {', '.join(record.scopes)}):")
    print(plaintext)
    out.print("[yellow]store it now: it cannot be shown again[/]")


@keys_app.command("list")
@handle_errors
def keys_list(database: DatabaseOpt = None, config: ConfigOpt = None) -> None:
    """Keys with their scopes and last use (never the keys themselves)."""
    table = Table(header_style="bold")
    for name in ("id", "name", "prefix", "scopes", "created", "last used", "revoked"):
        table.add_column(name)
    for k in open_store(config, database).list_keys():
        table.add_row(
            str(k.id), k.name, k.prefix + "…", ", ".join(k.scopes),
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )  # fmt: skip
    out.print(table)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id or prefix.")],
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke a key: it stops working at once."""
    record = open_store(config, database).revoke_key(int(key) if key.isdigit() else key)
    out.print(f"revoked key {record.id} ({record.name})")


hooks_app = typer.Typer(help="Webhooks: POST to your CRM when a lead turns hot or jumps.")
app.add_typer(hooks_app, name="webhooks")


@hooks_app.command("add")
@handle_errors
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST (http or https).")],
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="Signing secret (default: LEADSCORE_WEBHOOK_SECRET)."),
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="hot and/or jump (default both).")
    ] = None,
    min_jump: Annotated[
        int, typer.Option("--min-jump", help="Points a score must rise to count as a jump.")
    ] = 30,
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Register a webhook; payloads are signed with HMAC-SHA256 of the secret."""
    secret = secret or os.environ.get("LEADSCORE_WEBHOOK_SECRET")
    if not secret:
        raise LeadscoreError("a signing secret is needed: --secret or LEADSCORE_WEBHOOK_SECRET")
    try:
        hook = open_store(config, database).add_webhook(
            url, secret, kinds=tuple(kind or ("hot", "jump")), min_jump=min_jump
        )
    except ValueError as exc:
        raise LeadscoreError(str(exc)) from None
    out.print(f"webhook {hook.id}: {hook.url} on {', '.join(hook.kinds)} (jump ≥ {hook.min_jump})")


@hooks_app.command("list")
@handle_errors
def webhooks_list(database: DatabaseOpt = None, config: ConfigOpt = None) -> None:
    """Active webhooks."""
    table = Table(header_style="bold")
    for name in ("id", "url", "kinds", "min jump", "created"):
        table.add_column(name)
    for h in open_store(config, database).list_webhooks():
        table.add_row(
            str(h.id), h.url, ", ".join(h.kinds), str(h.min_jump), f"{h.created_at:%Y-%m-%d %H:%M}"
        )
    out.print(table)


@hooks_app.command("remove")
@handle_errors
def webhooks_remove(
    webhook: Annotated[int, typer.Argument(help="Webhook id.")],
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Stop calling a webhook (its delivery log is kept)."""
    hook = open_store(config, database).remove_webhook(webhook)
    out.print(f"webhook {hook.id} ({hook.url}) removed")


@hooks_app.command("deliveries")
@handle_errors
def webhooks_deliveries(
    webhook: Annotated[int | None, typer.Option("--webhook", help="Only this webhook.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 20,
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The delivery log, newest first."""
    table = Table(header_style="bold")
    for name in (
        "id",
        "webhook",
        "lead",
        "event",
        "status",
        "attempts",
        "HTTP",
        "error",
        "created",
    ):
        table.add_column(name)
    for d in open_store(config, database).deliveries(webhook_id=webhook, limit=limit):
        table.add_row(
            str(d.id), str(d.webhook_id), d.lead_id, d.kind, d.status, str(d.attempts),
            "" if d.last_status_code is None else str(d.last_status_code), d.last_error or "",
            f"{d.created_at:%Y-%m-%d %H:%M:%S}",
        )  # fmt: skip
    out.print(table)


# The dashboard (Streamlit) and its users live in leadscore.ui.
from leadscore.ui.cli import ui_command, users_app  # noqa: E402 - after the app it extends

app.command("ui")(ui_command)
app.add_typer(users_app, name="users")


def print_top(
    scores: pd.DataFrame,
    frame: pd.DataFrame,
    id_column: str | None,
    top: int,
    show: list[str],
) -> None:
    """Segment counts and the top leads as a table."""
    counts = scores["segment"].value_counts()
    out.print(
        f"{len(scores):,} leads: [bold red]{counts.get('hot', 0):,} hot[/], "
        f"[bold yellow]{counts.get('warm', 0):,} warm[/], "
        f"[bold blue]{counts.get('cold', 0):,} cold[/]; "
        f"{int(scores['contact'].sum()):,} to contact"
    )
    key = id_column or "lead"
    extra = [c for c in show if c in frame.columns]
    extra += [c for c in ("reasons_up", "reasons_down") if c in scores.columns]
    table = Table(title=f"Top {min(top, len(scores))} leads", header_style="bold")
    for name in ("rank", key, "score", "segment", "contact", *extra):
        table.add_column(name, justify="right" if name in ("rank", "score") else "left")
    head = scores.head(top)
    shown = [c for c in extra if c not in head.columns]
    if shown and id_column and id_column in frame.columns:
        details = frame.assign(**{key: frame[id_column].astype(str)}).drop_duplicates(key)
        head = head.join(details.set_index(key)[shown], on=key)
    colour = {"hot": "red", "warm": "yellow", "cold": "blue"}
    for row in head.to_dict("records"):
        table.add_row(
            str(row["rank"]), str(row[key]), f"{row['score_100']}",
            f"[{colour[row['segment']]}]{row['segment']}[/]", "yes" if row["contact"] else "no",
            *[_cell(row.get(c)) for c in extra],
        )  # fmt: skip
    out.print(table)


def _cell(value: Any) -> str:
    """A table cell: whole floats without ".0", missing as blank."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return str(value)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
