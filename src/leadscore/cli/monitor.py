"""``leadscore monitor``: how scores, inputs and outcomes moved over a period, and the
``lead.moved`` alerts of the movers (``notify``, for a scheduler).

The work is :mod:`leadscore.monitor`'s: the same numbers as ``GET /v1/monitoring/…`` and the
dashboard's Monitoring page. ``--json`` prints what the API answers; ``--html FILE`` writes
the report as a page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from leadscore.cli.common import (
    ConfigOpt,
    DatabaseOpt,
    handle_errors,
    open_store,
    out,
    settings_with_database,
)
from leadscore.errors import LeadscoreError
from leadscore.terminal import Column, fitted_table

monitor_app = typer.Typer(help="Movers, drift, cohorts and outcomes against predictions.")

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="Model folder or registry reference (default: the served one)."),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Start of the period (ISO; default 30 days ago).")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="End of the period (default now).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (as the API answers).")]


def parse_time(text: str | None, option: str) -> datetime | None:
    """``--since`` / ``--until``: an ISO date or date and time, UTC unless it says.

    Example
    -------
    >>> parse_time("2026-05-04", "--since").isoformat()
    '2026-05-04T00:00:00+00:00'
    """
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise LeadscoreError(f"{option} {text!r} is not an ISO date or date and time") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _served(model: str | None, config: Path | None, database: str | None):
    from leadscore.lifecycle.loader import load_for_serving

    settings = settings_with_database(config, database)
    return load_for_serving(model or settings.service.model, settings), settings


@monitor_app.command("report")
@handle_errors
def report(
    model: ModelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_jump: Annotated[int, typer.Option("--min-jump", help="Smallest move (points).")] = 10,
    freq: Annotated[str, typer.Option("--by", help="Cohorts by week or month.")] = "week",
    as_json: JsonOpt = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write the report here.")] = None,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """The monitoring report of the period: alerts, movers, drift, outcomes against
    predictions (and estimated before they arrive) and cohorts."""
    from leadscore.monitor.report import build_report

    if freq not in ("week", "month"):
        raise LeadscoreError(f"--by {freq!r}: week or month")
    loaded, settings = _served(model, config, database)
    period: Literal["week", "month"] = "week" if freq == "week" else "month"
    with open_store(config, database) as store:
        built = build_report(
            store, loaded.scorer, settings.business, start=parse_time(since, "--since"),
            end=parse_time(until, "--until"), min_jump=min_jump, freq=period,
            model_version=loaded.version,
        )  # fmt: skip
    if html is not None:
        from leadscore.monitor.html import report_html

        html.write_text(report_html(built), encoding="utf-8")
    if as_json:
        print(json.dumps(built.to_dict(), allow_nan=False))
        return
    out.print(
        f"[bold]Monitoring[/bold] {built.start:%Y-%m-%d %H:%M} – {built.end:%Y-%m-%d %H:%M} "
        f"UTC: {built.scores:,} scores of {built.leads:,} leads"
    )
    for alert in built.alerts or ["no alerts"]:
        out.print(f"  alert: {alert}" if built.alerts else f"  {alert}")
    for note in built.notes:
        out.print(f"  note: {note}")
    _print_movers(built.movers)
    if built.drift is not None:
        rows = [
            [escape(f.feature), f"{f.psi:.3f}", f.status, escape(f.moved)]
            for f in built.drift.features
        ]
        columns = [
            Column("input", 0, justify="left"), Column("PSI", 0),
            Column("status", 0, justify="left"),
            Column("moved most", 1, wrap=True, justify="left"),
        ]  # fmt: skip
        out.print(fitted_table(columns, rows, out.width, title="Drift")[0])
    if built.realised is not None:
        r = built.realised
        auc = "–" if r.auc is None else f"{r.auc:.3f} ({r.auc_low:.3f}–{r.auc_high:.3f})"
        trained = "–" if r.training_auc is None else f"{r.training_auc:.3f}"
        out.print(f"Outcomes: {r.n:,} ({r.positives:,} converted), AUC {auc}; training {trained}")
    if built.estimated is not None:
        e = built.estimated
        auc = "–" if e.expected_auc is None else f"{e.expected_auc:.3f}"
        out.print(f"Estimated from the scores: conversion {100 * e.expected_rate:.1f} %, AUC {auc}")
    if built.exploration is not None:
        out.print("Every lead, not only the contacted ones (exploration):")
        for line in built.exploration.summary():
            out.print(f"  {line}")
    if html is not None:
        out.print(f"report written to {html}")


@monitor_app.command("movers")
@handle_errors
def movers_command(
    model: ModelOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Start of the period (default a day ago).")
    ] = None,
    until: UntilOpt = None,
    min_jump: Annotated[int, typer.Option("--min-jump", help="Smallest move (points).")] = 10,
    limit: Annotated[int, typer.Option("--limit", help="How many movers at most.")] = 50,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """The leads whose score moved most over the period, with causes and reasons."""
    from leadscore.monitor.movers import movers

    loaded, _ = _served(model, config, database)
    with open_store(config, database) as store:
        found = movers(
            store, loaded.scorer, start=parse_time(since, "--since"),
            end=parse_time(until, "--until"), min_jump=min_jump, limit=limit,
        )  # fmt: skip
    if as_json:
        print(json.dumps([m.to_dict() for m in found], allow_nan=False))
        return
    _print_movers(found)


@monitor_app.command("notify")
@handle_errors
def notify_command(
    model: ModelOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Start of the period (default a day ago).")
    ] = None,
    until: UntilOpt = None,
    min_move: Annotated[
        int, typer.Option("--min-move", help="Smallest move that alerts, up or down (points).")
    ] = 30,
    limit: Annotated[int, typer.Option("--limit", help="How many movers at most.")] = 500,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Queue a lead.moved webhook alert, with the causes and reasons, for each lead whose
    score moved at least --min-move points over the period (default the last day), to
    every webhook subscribed to moved; the service's dispatcher sends them. Meant for cron
    or a scheduler (e.g. hourly): a move already alerted is not queued again, so
    overlapping periods are safe."""
    from leadscore.monitor.alerts import notify_movers

    loaded, _ = _served(model, config, database)
    with open_store(config, database) as store:
        try:
            alerts = notify_movers(
                store, loaded.scorer, start=parse_time(since, "--since"),
                end=parse_time(until, "--until"), min_move=min_move, limit=limit,
            )  # fmt: skip
        except ValueError as exc:
            raise LeadscoreError(str(exc)) from None
    if as_json:
        print(json.dumps(alerts.to_dict(), allow_nan=False))
        return
    out.print(alerts.text)
    if not alerts.webhooks:
        out.print(
            "  note: no active webhook subscribes to moved: leadscore webhooks add URL --kind moved"
        )
    if alerts.limited:
        out.print(f"  note: stopped at --limit {limit} movers; there may be more")


def _print_movers(found: list) -> None:  # type: ignore[type-arg]
    if not found:
        out.print("Movers: no lead moved that much in the period")
        return
    rows = [
        [escape(m.lead_id), f"{m.before} → {m.after}", f"{m.change:+d}",
         escape(", ".join(m.causes)), escape("; ".join(r.text for r in m.reasons))]
        for m in found
    ]  # fmt: skip
    columns = [
        Column("lead", 0, justify="left"), Column("score", 0), Column("change", 0),
        Column("causes", 1, wrap=True, justify="left"),
        Column("reasons", 0, wrap=True, justify="left"),
    ]  # fmt: skip
    out.print(fitted_table(columns, rows, out.width, title="Movers")[0])
