"""``leadscore demo-outcomes``: the demo closes the loop through the running API.

After ``make demo`` has scored the fresh demo leads, production would go on: the tracking
pipeline keeps sending the leads' events (``POST /v1/events``) and the CRM reports who
converted (``POST /v1/outcomes``). This command plays that part for the first ``--share``
of the fresh leads (in order of arrival): it sends their events from the demo's event
file and then their outcomes as the demo's truth drew them (``truth.csv``: ``converted``),
timed now — after their scoring — so ``leadscore retrain --from-store`` can learn from
them. It waits for the API to be ready first (``/readyz``).

Example
-------
>>> truth = pd.DataFrame({"lead_id": ["u_3", "u_1", "u_2", "u_9"],
...                       "converted": [True, False, True, False]})
>>> chosen_leads(truth, ["u_1", "u_2", "u_3"], share=0.5).to_dict("list")
{'lead_id': ['u_1', 'u_2'], 'converted': [False, True]}
>>> api_event({"event_id": "e1", "lead_id": "u_1", "timestamp": "2026-03-06T09:00:00.000Z",
...            "event": "page_view", "referrer": None, "tz_offset_minutes": 60.0})
{'event_id': 'e1', 'time': '2026-03-06T09:00:00.000Z', 'name': 'page_view', 'tz_offset_minutes': 60}
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import pandas as pd
import typer

from leadscore.cli.common import handle_errors, out
from leadscore.cli.options import ApiWaitOpt, KeyFileOpt
from leadscore.errors import LeadscoreError

__all__ = ["LoopResult", "api_event", "chosen_leads", "close_the_loop", "demo_outcomes"]

#: event file columns → the API's event fields (the others keep their names)
_RENAMED = {"timestamp": "time", "event": "name"}
_DROPPED = ("lead_id",)


@dataclass(frozen=True)
class LoopResult:
    """What :func:`close_the_loop` sent: leads, events, outcomes and how many converted."""

    leads: int
    events: int
    outcomes: int
    converted: int
    seconds: float


def chosen_leads(truth: pd.DataFrame, fresh: Iterable[str], share: float) -> pd.DataFrame:
    """The first ``share`` of the fresh leads (ids in order: the demo numbers them by
    arrival), with their ``converted`` from the truth."""
    if not 0 < share <= 1:
        raise LeadscoreError(f"--share must be above 0 and at most 1, got {share}")
    ids = sorted(set(fresh))
    picked = ids[: max(1, round(share * len(ids)))]
    table = truth.assign(lead_id=truth["lead_id"].astype(str)).set_index("lead_id")
    missing = [i for i in picked if i not in table.index]
    if missing:
        raise LeadscoreError(f"the truth has no row for {len(missing)} leads, e.g. {missing[0]}")
    rows = table.loc[picked, ["converted"]].reset_index()
    rows["converted"] = rows["converted"].map(_as_bool)
    return rows


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def api_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """One event of the demo's event file as ``POST /v1/events`` takes it: ``timestamp``
    → ``time``, ``event`` → ``name``, missing fields left out, the UTC offset an integer."""
    event: dict[str, Any] = {}
    for key, value in record.items():
        if key in _DROPPED or value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if key == "tz_offset_minutes":
            value = int(value)
        event[_RENAMED.get(key, key)] = value
    return event


def _events_by_lead(path: Path, leads: set[str]) -> dict[str, list[dict[str, Any]]]:
    by_lead: dict[str, list[dict[str, Any]]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a malformed line: the API would refuse it too
            lead = record.get("lead_id")
            if lead in leads:
                by_lead.setdefault(lead, []).append(api_event(record))
    return by_lead


def wait_ready(client: httpx.Client, timeout_s: float) -> None:
    """Poll ``/readyz`` until the API answers 200, at most ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise LeadscoreError(f"the API at {client.base_url} was not ready in {timeout_s:g} s")
        time.sleep(0.25)


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> None:
    answer = client.post(path, json=body)
    if answer.status_code != 200:
        raise LeadscoreError(
            f"POST {path} for {body.get('lead_id')} answered {answer.status_code}: "
            f"{answer.text[:300]}"
        )


def close_the_loop(
    client: httpx.Client,
    chosen: pd.DataFrame,
    events: Mapping[str, list[dict[str, Any]]],
) -> LoopResult:
    """Send each chosen lead's events (``POST /v1/events``), then every outcome (``POST
    /v1/outcomes``, timed by the API: now). ``client`` carries the base URL and the key."""
    started = time.perf_counter()
    sent = 0
    for lead in chosen["lead_id"]:
        lead_events = events.get(lead, [])
        if lead_events:
            _post(client, "/v1/events", {"lead_id": lead, "events": lead_events})
            sent += len(lead_events)
    for lead, converted in zip(chosen["lead_id"], chosen["converted"], strict=True):
        _post(client, "/v1/outcomes", {"lead_id": lead, "converted": bool(converted)})
    return LoopResult(
        leads=len(chosen),
        events=sent,
        outcomes=len(chosen),
        converted=int(chosen["converted"].sum()),
        seconds=time.perf_counter() - started,
    )


@handle_errors
def demo_outcomes(
    api: Annotated[str, typer.Option("--api", help="The running API's base URL.")] = (
        "http://127.0.0.1:8000"
    ),
    key_file: KeyFileOpt = Path("demo/api-key.txt"),
    truth: Annotated[
        Path, typer.Option("--truth", help="The demo's truth.csv (who converted).")
    ] = Path("demo/truth.csv"),
    events: Annotated[
        Path, typer.Option("--events", help="The fresh leads' events (JSON Lines).")
    ] = Path("demo/new_events.jsonl"),
    share: Annotated[
        float, typer.Option("--share", help="Share of the fresh leads, first arrived first.")
    ] = 0.5,
    wait: ApiWaitOpt = 120.0,
) -> None:
    """Demo: send the first fresh leads' events and outcomes through the running API."""
    key = key_file.read_text(encoding="utf-8").strip()
    fresh_ids = _fresh_ids(events)
    chosen = chosen_leads(pd.read_csv(truth, dtype={"lead_id": str}), fresh_ids, share)
    by_lead = _events_by_lead(events, set(chosen["lead_id"]))
    with _client(api, key) as client:
        wait_ready(client, wait)
        done = close_the_loop(client, chosen, by_lead)
    out.print(
        f"through the API at {api}: {done.events:,} events and {done.outcomes:,} outcomes "
        f"({done.converted:,} converted) of the first {done.leads:,} of {len(fresh_ids):,} "
        f"fresh leads, in {done.seconds:.1f} s"
    )


def _client(api: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=api, headers={"X-API-Key": key}, timeout=60.0)


def _fresh_ids(path: Path) -> list[str]:
    ids: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                lead = json.loads(line).get("lead_id")
            except json.JSONDecodeError:
                continue
            if isinstance(lead, str):
                ids.add(lead)
    if not ids:
        raise LeadscoreError(f"{path} holds no events with a lead id")
    return sorted(ids)
