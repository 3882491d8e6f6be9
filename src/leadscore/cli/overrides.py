"""``leadscore override``: a sales correction of a lead's segment, set, cleared or listed.

The work is :mod:`leadscore.live.overrides`'s: the same as ``PUT`` / ``DELETE
/v1/leads/{id}/override`` and the dashboard's lead page (webhooks included).
"""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.table import Table

from leadscore.cli.common import ConfigOpt, DatabaseOpt, handle_errors, open_store, out
from leadscore.errors import LeadscoreError
from leadscore.live.overrides import (
    OverrideChange,
    clear_override,
    overrides_in_force,
    set_override,
    through_day,
)
from leadscore.store import OVERRIDE_SEGMENTS


def os_user() -> str:
    """Who runs the command (the default author of an override).

    Example
    -------
    >>> bool(os_user())
    True
    """
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "unknown"


def parse_until(text: str) -> datetime:
    """``--until``: a date (the override holds through that day, UTC) or an ISO date and
    time (UTC unless it names a zone).

    Example
    -------
    >>> parse_until("2026-12-31").isoformat()
    '2027-01-01T00:00:00+00:00'
    >>> parse_until("2026-12-31T18:00").isoformat()
    '2026-12-31T18:00:00+00:00'
    """
    value = text.strip()
    try:
        if len(value) == 10:
            return through_day(date.fromisoformat(value))
        when = datetime.fromisoformat(value)
    except ValueError:
        raise LeadscoreError(
            f"--until {text!r} is not a date (2026-12-31) or a date and time "
            "(2026-12-31T18:00, UTC unless a zone is given)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _stamp(when: datetime | None) -> str:
    return "" if when is None else f"{when:%Y-%m-%d %H:%M}"


def _said(change: OverrideChange) -> str:
    model = change.model_segment or "not scored yet"
    queued = len(change.deliveries)
    hooks = f"; {queued} lead.hot webhook deliveries queued" if queued else ""
    now = change.segment or "unscored"
    return f"lead {change.lead_id} now counts as {now} (model: {model}){hooks}"


@handle_errors
def override(
    lead: Annotated[str | None, typer.Argument(help="The lead's id.")] = None,
    segment: Annotated[
        str | None,
        typer.Option("--segment", help=f"One of {', '.join(OVERRIDE_SEGMENTS)}."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (what the rep learned).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Ends after this date (or ISO date and time, UTC)."),
    ] = None,
    author: Annotated[
        str | None, typer.Option("--author", help="Who sets or clears it (default: you).")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="End the lead's override now.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="The overrides in force.")] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Pin a lead's segment (--segment hot|warm|cold) or take it off the work queue
    (--segment exclude), with a --reason; --clear ends it; --list shows those in force.
    The model's scores go on underneath; overrides are never used as training labels."""
    if list_:
        if lead or segment or clear:
            raise LeadscoreError("--list takes no lead, --segment or --clear")
        with open_store(config, database) as store:
            rows = overrides_in_force(store)
        table = Table(header_style="bold", title=f"{len(rows):,} overrides in force")
        for name in ("lead", "segment", "model", "score", "reason", "author", "since", "until"):
            table.add_column(name)
        for o, latest in rows:
            table.add_row(
                o.lead_id, o.segment, latest.segment if latest else "",
                str(latest.score_100) if latest else "", o.reason, o.author,
                _stamp(o.created_at), _stamp(o.until),
            )  # fmt: skip
        out.print(table)
        return
    if not lead:
        raise LeadscoreError("name the lead (leadscore override LEAD …), or give --list")
    who = (author or "").strip() or os_user()
    if clear:
        if segment or reason or until:
            raise LeadscoreError("--clear takes no --segment, --reason or --until")
        with open_store(config, database) as store:
            change = clear_override(store, lead, who)
        if change.previous is None:
            out.print(f"lead {lead} has no override in force; nothing changed")
        else:
            out.print(f"cleared the {change.previous.segment} override; " + _said(change))
        return
    if not segment or not reason:
        raise LeadscoreError("an override needs --segment and --reason (or give --clear)")
    ends = parse_until(until) if until else None
    with open_store(config, database) as store:
        change = set_override(store, lead, segment.strip().lower(), reason, who, ends)
    ending = f" until {_stamp(ends)} UTC" if ends else ""
    out.print(f"{segment} override set by {who}{ending}; " + _said(change))
