"""What leads do and how they end: :class:`EventRepository` (``store.events``) and
:class:`OutcomeRepository` (``store.outcomes``).

Transactions: each write is one write transaction that first creates the lead if it is
new (``INSERT … ON CONFLICT DO NOTHING``, so concurrent writers of a new lead are safe);
events are de-duplicated by the unique ``(lead_id, event_id)`` the same way. Each read is
one read transaction.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Subquery, func, select

from leadscore.store.checks import CHUNK, as_json, check_lead_id
from leadscore.store.errors import StoreError
from leadscore.store.leads import LeadRepository
from leadscore.store.records import EventRecord, OutcomeRecord
from leadscore.store.session import Database, Repository
from leadscore.store.tables import Event, Lead, Outcome, as_utc, utcnow

#: an outcome to import: ``(lead_id, converted, occurred_at)``, optionally ``contacted``
OutcomeRow = tuple[str, bool, datetime | None] | tuple[str, bool, datetime | None, bool | None]

#: event fields with a column of their own; everything else goes to ``properties``
_TIME_KEYS = ("time", "timestamp")
_NAME_KEYS = ("name", "event")


@dataclass(frozen=True)
class OutcomeImport:
    """What :meth:`OutcomeRepository.add_many` did: outcomes added, skipped as already
    recorded, and the ids of leads the store does not know (skipped)."""

    added: int
    unchanged: int
    unknown: list[str]


class EventRepository(Repository):
    """Behaviour events of leads (``store.events``).

    Example
    -------
    >>> store.events.add("L1", [{"time": "2025-03-01T10:00:00Z", "event": "page_view"}])
    1
    """

    def __init__(self, db: Database, leads: LeadRepository) -> None:
        super().__init__(db)
        self._leads = leads
        self._insert = (
            db.insert(Event)
            .on_conflict_do_nothing(index_elements=["lead_id", "event_id"])
            .returning(Event.__table__.c.id)
        )

    def add(self, lead_id: str, events: Sequence[Mapping[str, Any]]) -> int:
        """Store behaviour events of a lead (created if new); returns how many were new.

        Each event needs a time (``time`` or ``timestamp``: a datetime, ISO 8601 text or
        epoch seconds/milliseconds) and a name (``name`` or ``event``); ``event_id`` is
        optional and everything else (or a ``properties`` mapping) becomes its properties.
        Re-posting an event is a no-op: events are unique per lead by ``event_id``, and an
        event without one gets a hash of lead, time, name and properties as its id, so an
        exact duplicate is dropped too.

        Example
        -------
        >>> batch = [{"time": "2025-03-01T10:00:00Z", "event": "page_view", "url": "/pricing"}]
        >>> store.events.add("L1", batch), store.events.add("L1", batch)
        (1, 0)
        """
        check_lead_id(lead_id)
        rows: dict[str, dict[str, Any]] = {}
        now = utcnow()
        for index, raw in enumerate(events):
            row = _event_row(lead_id, raw, index)
            row["received_at"] = now
            rows.setdefault(row["event_id"], row)
        if not rows:
            return 0
        # in event-id order: two requests posting overlapping events in different orders
        # would otherwise wait for each other's inserts (a deadlock on PostgreSQL)
        values = [rows[event_id] for event_id in sorted(rows)]
        # one statement, compiled once, for any number of events (SQLAlchemy batches the
        # rows into multi-row INSERTs); a VALUES list of its own would be compiled anew
        # for every post, which cost more than the insert
        with self._db.begin_write() as conn:
            self._leads.ensure(conn, [lead_id], now)
            return len(conn.execute(self._insert, values).all())

    def for_lead(self, lead_id: str) -> list[EventRecord]:
        """The lead's events in time order (oldest first).

        Example
        -------
        >>> _ = store.events.add("L1", [{"time": "2025-03-01T10:00:00Z", "event": "page_view"}])
        >>> [e.name for e in store.events.for_lead("L1")]
        ['page_view']
        """
        with self._read() as session:
            rows = session.scalars(
                select(Event).where(Event.lead_id == lead_id).order_by(Event.time, Event.id)
            )
            return [_event(row) for row in rows]

    def for_leads(self, lead_ids: Sequence[str]) -> Iterator[list[EventRecord]]:
        """The events of many leads, a chunk of leads at a time (by lead, then time), so a
        training table over the whole store never holds one huge result in the driver.

        Example
        -------
        >>> _ = store.events.add("L1", [{"time": "2025-03-01T10:00:00Z", "event": "a"}])
        >>> [[e.name for e in chunk] for chunk in store.events.for_leads(["L1", "L2"])]
        [['a']]
        """
        ids = sorted(set(lead_ids))
        for start in range(0, len(ids), CHUNK):
            with self._read() as session:
                rows = session.scalars(
                    select(Event)
                    .where(Event.lead_id.in_(ids[start : start + CHUNK]))
                    .order_by(Event.lead_id, Event.time, Event.id)
                )
                chunk = [_event(row) for row in rows]
            if chunk:
                yield chunk


class OutcomeRepository(Repository):
    """Conversions and losses of leads, append-only (``store.outcomes``).

    Example
    -------
    >>> store.outcomes.add("L1", True).converted
    True
    """

    def __init__(self, db: Database, leads: LeadRepository) -> None:
        super().__init__(db)
        self._leads = leads

    def add(
        self,
        lead_id: str,
        converted: bool,
        occurred_at: datetime | None = None,
        *,
        contacted: bool | None = None,
    ) -> OutcomeRecord:
        """Record that the lead converted or was lost (at ``occurred_at``, default now),
        and whether sales had contacted it (``contacted``; None: not said). Outcomes are
        append-only; a later record for the same lead supersedes earlier ones.

        Example
        -------
        >>> store.outcomes.add("L1", True).converted
        True
        """
        check_lead_id(lead_id)
        now = utcnow()
        values = {
            "lead_id": lead_id,
            "converted": bool(converted),
            "occurred_at": as_utc(occurred_at) if occurred_at else now,
            "recorded_at": now,
            "contacted": None if contacted is None else bool(contacted),
        }
        with self._write() as session:
            self._leads.ensure(session.connection(), [lead_id], now)
            row = session.scalars(self._db.insert(Outcome).values(values).returning(Outcome)).one()
            return outcome_record(row)

    def add_many(
        self,
        outcomes: Sequence[OutcomeRow],
        *,
        create: bool = False,
    ) -> OutcomeImport:
        """Record many outcomes at once (a CRM export), in one transaction.

        ``outcomes`` are ``(lead_id, converted, occurred_at)`` or ``(lead_id, converted,
        occurred_at, contacted)``, at most one per lead (the caller de-duplicates). An
        outcome equal to the lead's latest recorded one (same result, same time, and the
        same ``contacted`` unless the import does not say) is skipped, so importing the
        same export twice adds nothing, and an export that now says who was contacted adds
        that. Leads the store does not
        know are skipped and counted, unless ``create``.

        Example
        -------
        >>> _ = store.leads.upsert("L1", {})
        >>> store.outcomes.add_many([("L1", True, None), ("L9", False, None)])
        OutcomeImport(added=1, unchanged=0, unknown=['L9'])
        """
        ids = [row[0] for row in outcomes]
        for lead_id in ids:
            check_lead_id(lead_id)
        if len(set(ids)) != len(ids):
            raise StoreError("give at most one outcome per lead (de-duplicate the export first)")
        now = utcnow()
        added, unchanged, unknown = 0, 0, []
        with self._write() as session:
            conn = session.connection()
            known: set[str] = set()
            latest: dict[str, tuple[bool, datetime, bool | None]] = {}
            newest = select(func.max(Outcome.id)).group_by(Outcome.lead_id)
            for start in range(0, len(ids), CHUNK):
                part = ids[start : start + CHUNK]
                known.update(session.scalars(select(Lead.id).where(Lead.id.in_(part))))
                rows = session.scalars(
                    select(Outcome).where(Outcome.lead_id.in_(part), Outcome.id.in_(newest))
                )
                latest.update(
                    {r.lead_id: (r.converted, as_utc(r.occurred_at), r.contacted) for r in rows}
                )
            values = []
            for lead_id, converted, occurred_at, *said in outcomes:
                contacted = None if not said or said[0] is None else bool(said[0])
                if lead_id not in known and not create:
                    unknown.append(lead_id)
                    continue
                when = as_utc(occurred_at) if occurred_at else now
                before = latest.get(lead_id)
                if (
                    before is not None
                    and before[:2] == (bool(converted), when)
                    and (contacted is None or contacted == before[2])
                ):
                    unchanged += 1
                    continue
                values.append(
                    {"lead_id": lead_id, "converted": bool(converted), "occurred_at": when,
                     "recorded_at": now, "contacted": contacted}
                )  # fmt: skip
            if create:
                self._leads.ensure(conn, [v["lead_id"] for v in values], now)
            for start in range(0, len(values), CHUNK):
                conn.execute(self._db.insert(Outcome), values[start : start + CHUNK])
            added = len(values)
        return OutcomeImport(added, unchanged, unknown)

    def all(
        self, since: datetime | None = None, *, latest_only: bool = True
    ) -> list[OutcomeRecord]:
        """Outcomes that occurred at or after ``since`` (all when ``None``), oldest first.
        By default only each lead's latest record counts (a correction replaces a mistake);
        ``latest_only=False`` returns every record.

        Example
        -------
        >>> _ = store.outcomes.add("L1", True)
        >>> [(o.lead_id, o.converted) for o in store.outcomes.all()]
        [('L1', True)]
        """
        query = select(Outcome)
        if latest_only:
            newest = select(func.max(Outcome.id)).group_by(Outcome.lead_id)
            query = query.where(Outcome.id.in_(newest))
        if since is not None:
            query = query.where(Outcome.occurred_at >= as_utc(since))
        with self._read() as session:
            rows = session.scalars(query.order_by(Outcome.occurred_at, Outcome.id))
            return [outcome_record(row) for row in rows]

    def latest(self, lead_id: str) -> OutcomeRecord | None:
        """The lead's latest recorded outcome, or ``None``.

        Example
        -------
        >>> _ = store.outcomes.add("L1", False), store.outcomes.add("L1", True)
        >>> store.outcomes.latest("L1").converted, store.outcomes.latest("L2")
        (True, None)
        """
        with self._read() as session:
            row = session.scalars(
                select(Outcome)
                .where(Outcome.lead_id == lead_id)
                .order_by(Outcome.id.desc())
                .limit(1)
            ).first()
            return None if row is None else outcome_record(row)


# ---------------------------------------------------------------------- events in


def _parse_time(value: Any, where: str) -> datetime:
    """A datetime (naive = UTC), ISO 8601 text, or epoch seconds or milliseconds."""
    if isinstance(value, datetime):
        if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
            value = value.to_pydatetime()
        return as_utc(value)
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            try:
                return as_utc(datetime.fromisoformat(value.strip()))
            except ValueError:
                number = None
    if number is not None and math.isfinite(number):
        # epoch milliseconds are above 1e11 (in seconds that would be the year 5138)
        try:
            return datetime.fromtimestamp(number / 1000 if abs(number) > 1e11 else number, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    raise StoreError(f"{where}: cannot read the time {value!r} (ISO 8601 or epoch seconds)")


def _event_row(lead_id: str, raw: Mapping[str, Any], index: int) -> dict[str, Any]:
    where = f"event {index} of lead {lead_id!r}"
    if not isinstance(raw, Mapping):
        raise StoreError(f"{where} must be an object, not {type(raw).__name__}")
    data = dict(raw)
    other = data.pop("lead_id", None)
    if other is not None and str(other) != lead_id:
        raise StoreError(f"{where} belongs to lead {other!r}")
    time_value = next((data.pop(k) for k in _TIME_KEYS if k in data), None)
    for k in _TIME_KEYS:
        data.pop(k, None)
    name = next((data.pop(k) for k in _NAME_KEYS if k in data), None)
    for k in _NAME_KEYS:
        data.pop(k, None)
    if time_value is None:
        raise StoreError(f"{where} has no time (time or timestamp)")
    if not isinstance(name, str) or not name.strip():
        raise StoreError(f"{where} has no name (name or event)")
    event_time = _parse_time(time_value, where)
    event_id = data.pop("event_id", None)
    nested = data.pop("properties", None)
    properties = {**nested, **data} if isinstance(nested, Mapping) else data
    if nested is not None and not isinstance(nested, Mapping):
        properties["properties"] = nested
    properties = as_json(properties)
    if event_id is None or (isinstance(event_id, str) and not event_id.strip()):
        event_id = _content_id(lead_id, event_time, name, properties)
    return {
        "lead_id": lead_id,
        "event_id": str(event_id),
        "time": event_time,
        "name": name,
        "properties": properties,
    }


def _content_id(lead_id: str, time: datetime, name: str, properties: Mapping[str, Any]) -> str:
    """sha256 of lead|time|name|properties (sorted keys): the same event posted twice
    gets the same id, whatever the order of its fields."""
    props = json.dumps(properties, sort_keys=True, separators=(",", ":"))
    text = f"{lead_id}|{time.isoformat()}|{name}|{props}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- records


def _event(row: Event) -> EventRecord:
    return EventRecord(
        row.id, row.lead_id, row.event_id, row.time, row.name, dict(row.properties or {}),
        row.received_at,
    )  # fmt: skip


def outcome_record(row: Any) -> OutcomeRecord:
    """The frozen record of an outcome row (ORM or Core)."""
    return OutcomeRecord(
        row.id, row.lead_id, row.converted, row.occurred_at, row.recorded_at, row.contacted
    )


def latest_outcomes() -> Subquery:
    """Each lead's latest recorded outcome (the highest id: a correction replaces it)."""
    o = Outcome.__table__.c
    newer = Outcome.__table__.alias("newer")
    superseded = select(newer.c.id).where(newer.c.lead_id == o.lead_id, newer.c.id > o.id)
    return (
        select(o.id, o.lead_id, o.converted, o.occurred_at, o.contacted)
        .where(~superseded.exists())
        .subquery("outcome")
    )
