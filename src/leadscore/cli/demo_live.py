"""``leadscore demo-live``: ninety days of a lead-scoring team replayed against the store.

``make demo`` runs it once the API serves: :func:`leadscore.live.simulation.simulate_days`
lets the demo generator's leads arrive day by day up to today, scores them (and re-scores
them as they come back) with the champion, lets the team work the model's contacts plus
the exploration draw, sends the contacted leads' outcomes through the running API
(``POST /v1/outcomes`` with ``occurred_at`` and ``contacted``; without ``--api`` straight
to the store), shifts the new leads' traffic mix halfway and retrains from the store two
thirds in (``retrain --from-store``: the challenger serves the remaining days only if it
is promoted). Every part of ``leadscore monitor report`` and the dashboard's Monitoring
page then has content.

Example
-------
>>> from datetime import datetime
>>> body = outcome_body(DueOutcome("u_7", True, datetime(2026, 11, 3, 9, 30, tzinfo=UTC)))
>>> body["occurred_at"], body["contacted"]
('2026-11-03T09:30:00+00:00', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from leadscore.cli.common import (
    ConfigOpt,
    DatabaseOpt,
    err,
    handle_errors,
    open_store,
    out,
    settings_with_database,
)
from leadscore.cli.demo_loop import wait_ready
from leadscore.cli.options import ApiWaitOpt, KeyFileOpt
from leadscore.errors import LeadscoreError
from leadscore.live.simulation import DueOutcome, OutcomeSink

__all__ = ["api_sink", "demo_live", "outcome_body"]


def outcome_body(item: DueOutcome) -> dict[str, Any]:
    """An outcome as ``POST /v1/outcomes`` takes it."""
    return {
        "lead_id": item.lead_id,
        "converted": item.converted,
        "occurred_at": item.occurred_at.astimezone(UTC).isoformat(),
        "contacted": item.contacted,
    }


def api_sink(client: httpx.Client) -> OutcomeSink:
    """Outcomes sent through the running API, one request each, as a CRM would."""

    def sink(due: Sequence[DueOutcome]) -> None:
        for item in due:
            answer = client.post("/v1/outcomes", json=outcome_body(item))
            if answer.status_code != 200:
                raise LeadscoreError(
                    f"POST /v1/outcomes for {item.lead_id} answered {answer.status_code}: "
                    f"{answer.text[:300]}"
                )

    return sink


@handle_errors
def demo_live(
    days: Annotated[int, typer.Option("--days", help="Days to simulate, up to today.")] = 90,
    leads_per_day: Annotated[
        int, typer.Option("--leads-per-day", help="New leads a day on average.")
    ] = 60,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo generator.")] = 42,
    drift_day: Annotated[
        int | None,
        typer.Option(
            "--drift-day", help="First day of the traffic drift (default: halfway; 0: none)."
        ),
    ] = None,
    retrain_day: Annotated[
        int | None,
        typer.Option(
            "--retrain-day", help="Day of the retraining (default: two thirds in; 0: none)."
        ),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="The retraining's window, e.g. 60d.")
    ] = "60d",
    holdout: Annotated[
        str, typer.Option("--holdout", help="The retraining's holdout, e.g. 28d.")
    ] = "28d",
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Model folder or registry reference (default: the served one, the champion).",
        ),
    ] = None,
    api: Annotated[
        str | None,
        typer.Option("--api", help="Send the outcomes through this running API (base URL)."),
    ] = None,
    key_file: KeyFileOpt = Path("demo/api-key.txt"),
    wait: ApiWaitOpt = 120.0,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Demo: simulate days of leads arriving, scored, worked, converting, drifting and a
    retraining, against the score store (outcomes through the API with --api)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from leadscore.live.sim_retrain import refit_retrainer, registry_retrainer
    from leadscore.live.simulation import simulate_days, store_sink
    from leadscore.live.slot import ModelSlot

    if days < 2:
        raise LeadscoreError(f"--days must be at least 2, got {days}")
    drift = days // 2 if drift_day is None else (drift_day or None)
    settings = settings_with_database(config, database)
    slot = ModelSlot.load(model or settings.service.model, settings)
    client = None
    if api is not None:
        key = key_file.read_text(encoding="utf-8").strip()
        client = httpx.Client(base_url=api, headers={"X-API-Key": key}, timeout=60.0)
        wait_ready(client, wait)
    try:
        with (
            open_store(config, database) as store,
            Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=err, transient=True,
            ) as bar,
        ):  # fmt: skip
            task = bar.add_task("simulating days", total=days)
            retrainer = (
                registry_retrainer(store, settings, window=window, holdout=holdout)
                if settings.tracking
                else refit_retrainer(store)
            )
            summary = simulate_days(
                store, slot, settings, days=days, leads_per_day=leads_per_day, seed=seed,
                drift_from_day=drift, retrain_on_day=retrain_day,
                retrainer=None if retrain_day == 0 else retrainer,
                outcome_sink=api_sink(client) if client is not None else store_sink(store),
                progress=lambda done, _: bar.update(task, completed=done),
            )  # fmt: skip
    finally:
        if client is not None:
            client.close()
    where = f"through the API at {api}" if api else "to the store"
    lines = summary.lines()
    lines[1] += f" ({where})"
    for line in lines:
        out.print(line, markup=False, highlight=False)
