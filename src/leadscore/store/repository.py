"""The score store: leads, events, scores, outcomes, API keys and webhooks in one database.

:class:`Store` opens one short transaction per call and returns frozen records
(:mod:`leadscore.store.records`), never ORM objects, so it is safe to share one ``Store``
between threads (each call takes its own pooled connection) and between processes that
open the same database.

Concurrency, as tested with threads and processes on SQLite and PostgreSQL:

* Writes that may race on a new lead insert it with ``INSERT … ON CONFLICT DO NOTHING``;
  events are de-duplicated by the unique ``(lead_id, event_id)`` the same way.
* Read-modify-write on one lead (merging attributes, "previous score → new score") locks
  the lead row first, creating it if new: on PostgreSQL with the ``INSERT … ON CONFLICT DO
  UPDATE … WHERE false`` that creates missing leads (it updates nothing but locks each
  existing row with ``FOR NO KEY UPDATE`` strength, which does not block inserts of events
  referring to it), then reads the lead's state in a statement of its own, which sees
  what the previous holder of the lock committed; on SQLite the write transaction itself
  is the lock, taken at ``BEGIN IMMEDIATE``.
* Webhook deliveries are written in the transaction of the score that triggers them
  (transactional outbox): a stored score has its notifications queued, or neither exists.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import numbers
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from leadscore.store.dashboard import DashboardStore
from leadscore.store.db import dumps_json, make_engine, normalise_url, upgrade, write_engine
from leadscore.store.errors import NotFoundError, StoreError
from leadscore.store.models import (
    ApiKey,
    Base,
    Event,
    LatestScore,
    Lead,
    Outcome,
    Score,
    Webhook,
    WebhookDelivery,
    as_utc,
    utcnow,
)
from leadscore.store.records import (
    SCOPES,
    ApiKeyRecord,
    DeliveryRecord,
    EventRecord,
    LeadRecord,
    NewScore,
    OutcomeRecord,
    ScoreRecord,
    WebhookRecord,
)
from leadscore.webhooks.triggers import WEBHOOK_KINDS, triggered_kinds, webhook_payload

log = logging.getLogger(__name__)

#: every API key starts with this, so a key in a log or a repository is recognisable
KEY_PREFIX = "ls_"
#: how many leading characters of a key are stored in clear (for display and lookup)
KEY_PREFIX_LENGTH = 8
#: ``last_used_at`` is written at most this often per key (it costs a write transaction)
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: rows per multi-row INSERT (SQLite allows 32,766 bound parameters per statement)
_CHUNK = 500
#: event fields with a column of their own; everything else goes to ``properties``
_TIME_KEYS = ("time", "timestamp")
_NAME_KEYS = ("name", "event")
_DELIVERY_STATUSES = ("pending", "delivered", "failed")
_MAX_ERROR_LENGTH = 2000

# Core statements of the scoring write path, built once: SQLAlchemy then finds their
# compiled form in its cache by identity instead of building, coercing and hashing a new
# statement per call (that was most of a single-lead write's cost, not SQL). ``ids`` are
# expanding IN lists.
_LEADS, _SCORES, _LATEST = Lead.__table__, Score.__table__, LatestScore.__table__
_WEBHOOKS, _DELIVERIES = Webhook.__table__, WebhookDelivery.__table__
_SELECT_LEADS = select(_LEADS).where(_LEADS.c.id.in_(bindparam("ids", expanding=True)))
# what add_scores needs of locked leads, in one statement: the latest score (outer joins:
# a lead may have none; score_100 is only in scores, and the reasons are not needed)
# and, when attributes are merged, the stored attributes
_STATE = select(
    _LEADS.c.id, _SCORES.c.segment, _SCORES.c.score_100, _SCORES.c.scored_at
).select_from(
    _LEADS.outerjoin(_LATEST, _LATEST.c.lead_id == _LEADS.c.id).outerjoin(
        _SCORES, _SCORES.c.id == _LATEST.c.score_id
    )
)
# by (with attributes, of one lead): one lead (a real-time call) is looked up by ``id``,
# as an expanding IN list costs a compilation step per call
_SELECT_STATE = {
    (attributes, one): (_STATE.add_columns(_LEADS.c.attributes) if attributes else _STATE).where(
        _LEADS.c.id == bindparam("id") if one else _LEADS.c.id.in_(bindparam("ids", expanding=True))
    )
    for attributes in (False, True)
    for one in (False, True)
}
_UPDATE_ATTRIBUTES = (
    update(_LEADS)
    .where(_LEADS.c.id == bindparam("b_id"))
    .values(attributes=bindparam("b_attributes"), updated_at=bindparam("b_updated_at"))
)
_SELECT_LATEST = (
    select(_SCORES)
    .join(_LATEST, _LATEST.c.score_id == _SCORES.c.id)
    .where(_LATEST.c.lead_id.in_(bindparam("ids", expanding=True)))
)
_ACTIVE_WEBHOOKS = select(_WEBHOOKS).where(_WEBHOOKS.c.active)
_INSERT_SCORES = insert(_SCORES).returning(_SCORES.c.id, sort_by_parameter_order=True)
_INSERT_DELIVERIES = insert(_DELIVERIES).returning(*_DELIVERIES.c, sort_by_parameter_order=True)

#: what a new score is compared with: the lead's latest stored score (a row of
#: ``_STATE``: segment, score_100, scored_at) or an earlier one of the same batch
_Previous = Row[Any] | ScoreRecord


class _KeyCache:
    """API keys verified recently, in this process: SHA-256 of the key → its record.

    Only keys that were found active are kept (an unknown key is never cached, so guesses
    cannot fill memory), for at most ``max_age`` seconds each, and at most ``SIZE`` of
    them. A revoke through any :class:`Store` of this process empties the cache at once;
    a revoke by another process (the CLI, the dashboard, another worker) takes effect
    here when the entry ages out.
    """

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, str, ApiKeyRecord]] = {}
        #: bumped by every revoke, so a lookup that started before it cannot store a
        #: now-revoked key afterwards
        self.generation = 0

    def get(self, url: str, digest: str, max_age: float) -> ApiKeyRecord | None:
        entry = self._entries.get((url, digest))
        if entry is None:
            return None
        stored_at, stored_digest, record = entry
        # the dict found the entry by hash; the comparison that admits the key stays a
        # constant-time one, like the database path's
        if time.monotonic() - stored_at > max_age or not hmac.compare_digest(stored_digest, digest):
            return None
        return record

    def put(self, url: str, digest: str, record: ApiKeyRecord, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return  # a key was revoked while this one was looked up: do not cache it
            if len(self._entries) >= self.SIZE:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if now - v[0] < 60}
                if len(self._entries) >= self.SIZE:
                    self._entries.clear()
            self._entries[(url, digest)] = (time.monotonic(), digest, record)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


_KEY_CACHE = _KeyCache()


class Store(DashboardStore):
    """The score store at ``url`` (default: ``Settings().database_url``, i.e.
    ``LEADSCORE_DATABASE_URL`` or ``sqlite:///leadscore.db``).

    With ``migrate=True`` the schema is created or upgraded on opening (cheap when current,
    safe from several processes at once). Close the store (or use it as a context manager)
    to release its connections.

    Example
    -------
    >>> with Store("sqlite:///scores.db") as store:
    ...     _ = store.upsert_lead("L1", {"source": "google"})
    ...     score, deliveries = store.add_score("L1", "3", 0.82, 82, "hot", True)
    ...     [s.score_100 for s in store.score_history("L1")]
    [82]
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        if url is None:
            from leadscore.config import Settings

            url = Settings().database_url
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self._writer = write_engine(self.engine)
        self.dialect = self.engine.dialect.name
        # SQLite has one writer at a time. Writers of this process queue on a lock that
        # wakes the next one the moment a commit ends; left to SQLite's busy handler they
        # would sleep 1, 2, 5, … up to 100 ms between tries (other processes still do).
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if self.dialect == "sqlite" else nullcontext()
        )
        # the dialect's INSERT … ON CONFLICT statements, built once (see _SELECT_LEADS)
        ensure = self._insert(Lead)
        self._ensure_stmt = ensure.on_conflict_do_nothing()
        # PostgreSQL: DO UPDATE … WHERE false changes no row but locks every existing one
        # (documented), and with no key column in SET it is a FOR NO KEY UPDATE lock
        self._lock_stmt = ensure.on_conflict_do_update(
            index_elements=["id"], set_={"attributes": _LEADS.c.attributes}, where=false()
        )
        upsert = self._insert(LatestScore)
        self._upsert_latest = upsert.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={
                "score_id": upsert.excluded.score_id,
                "score": upsert.excluded.score,
                "segment": upsert.excluded.segment,
                "scored_at": upsert.excluded.scored_at,
            },
        )
        if migrate:
            try:
                upgrade(self.engine)
            except BaseException:
                self.engine.dispose()
                raise

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Close the pooled connections (the store can still be used; it reconnects)."""
        self.engine.dispose()

    def checkpoint(self) -> tuple[int, int] | None:
        """Copy SQLite's write-ahead log into the database file now, without waiting for
        readers or writers (a passive checkpoint): ``(frames in the log, frames copied)``;
        None for PostgreSQL and in-memory stores.

        SQLite otherwise checkpoints inside whichever commit finds the log over 1,000
        pages, and that commit waits the few milliseconds of the copy and its fsync; the
        service calls this from a background thread so requests do not (see
        :class:`leadscore.store.checkpoint.Checkpointer`)."""
        if self.dialect != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return None
        with self.engine.connect() as conn:
            driver = conn.connection.driver_connection
            _busy, logged, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(logged), int(copied)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine) as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        # BEGIN IMMEDIATE on SQLite: the file lock is taken up front, so concurrent
        # writers queue on the busy timeout instead of failing mid-transaction
        with self._write_lock, Session(self._writer) as session, session.begin():
            yield session

    def _insert(self, model: type[Base]) -> Any:
        """A dialect-specific INSERT that has ``on_conflict_do_*``."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        return dialect_insert(model)

    def _ensure_leads(self, conn: Connection, lead_ids: Iterable[str], now: datetime) -> None:
        # one cached executemany statement (a multi-row VALUES would be compiled per call);
        # sorted, so concurrent batches insert overlapping new leads in the same order
        rows = [
            {"id": i, "attributes": {}, "created_at": now, "updated_at": now}
            for i in sorted(set(lead_ids))
        ]
        conn.execute(self._ensure_stmt, rows)

    def _lock_leads(
        self, conn: Connection, leads: Mapping[str, Mapping[str, Any]], now: datetime
    ) -> None:
        """Create the leads that do not exist yet (with the given attributes, as stored)
        and, on PostgreSQL, lock all of them; read their state afterwards, in a statement
        of its own (one snapshot taken before a lock wait would miss what the previous
        holder of the lock committed)."""
        # sorted, one pass: each row is inserted or locked in turn (a row another
        # transaction is inserting is waited for like a lock), so two transactions locking
        # overlapping sets cannot deadlock; NO KEY UPDATE does not block concurrent inserts
        # of events and outcomes for the lead. SQLite: the write transaction already holds
        # the lock, and DO NOTHING suffices
        stmt = self._lock_stmt if self.dialect == "postgresql" else self._ensure_stmt
        rows = [
            {"id": i, "attributes": leads[i], "created_at": now, "updated_at": now}
            for i in sorted(leads)
        ]
        conn.execute(stmt, rows)  # one cached executemany, like _ensure_leads

    def ping(self) -> None:
        """Check that the database answers (a readiness probe); raises if it does not.

        Example
        -------
        >>> store.ping()
        """
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()

    # ------------------------------------------------------------------ leads

    def upsert_lead(self, lead_id: str, attributes: Mapping[str, Any]) -> LeadRecord:
        """Create the lead or merge ``attributes`` over its stored ones (new values win,
        other fields stay). Concurrent upserts of the same new lead are safe.

        Example
        -------
        >>> store.upsert_lead("L1", {"source": "google", "country": "FR"}).attributes
        {'source': 'google', 'country': 'FR'}
        >>> store.upsert_lead("L1", {"country": "DE"}).attributes
        {'source': 'google', 'country': 'DE'}
        """
        return self.upsert_leads({lead_id: attributes})[0]

    def upsert_leads(self, leads: Mapping[str, Mapping[str, Any]]) -> list[LeadRecord]:
        """:meth:`upsert_lead` for many leads in one transaction (in the given order).

        Example
        -------
        >>> [r.id for r in store.upsert_leads({"L1": {"a": 1}, "L2": {"a": 2}})]
        ['L1', 'L2']
        """
        for lead_id, attributes in leads.items():
            _check_lead_id(lead_id)
            if not isinstance(attributes, Mapping):
                raise StoreError(f"attributes of lead {lead_id!r} must be a mapping")
        if not leads:
            return []
        # as they will be stored (NaN → None, dates → text), so the records say the same
        fields = {lead_id: _as_json(dict(attributes)) for lead_id, attributes in leads.items()}
        now = utcnow()
        with self._write_lock, self._writer.begin() as conn:
            self._lock_leads(conn, fields, now)
            rows = self._leads_by_id(conn, fields)
            stored = {lead_id: row.attributes for lead_id, row in rows.items()}
            for lead_id, merged in self._merge_attributes(conn, fields, stored, now).items():
                rows[lead_id] = LeadRecord(lead_id, merged, rows[lead_id].created_at, now)
            return [rows[lead_id] for lead_id in leads]

    def _merge_attributes(
        self,
        conn: Connection,
        fields: Mapping[str, Mapping[str, Any]],
        stored: Mapping[str, Mapping[str, Any]],
        now: datetime,
    ) -> dict[str, dict[str, Any]]:
        """Merge new attributes (as stored, see :func:`_as_json`) over the ``stored`` ones
        of locked, existing leads; returns the merged attributes of the leads that changed
        (a lead just created with its attributes does not)."""
        changed: dict[str, dict[str, Any]] = {}
        for lead_id, attributes in fields.items():
            merged = {**stored[lead_id], **attributes}
            if merged != stored[lead_id]:
                changed[lead_id] = merged
        if changed:
            conn.execute(  # one executemany
                _UPDATE_ATTRIBUTES,
                [{"b_id": i, "b_attributes": m, "b_updated_at": now} for i, m in changed.items()],
            )
        return changed

    def _leads_by_id(self, conn: Connection, lead_ids: Iterable[str]) -> dict[str, LeadRecord]:
        ids = sorted(set(lead_ids))
        out: dict[str, LeadRecord] = {}
        for start in range(0, len(ids), _CHUNK):
            for row in conn.execute(_SELECT_LEADS, {"ids": ids[start : start + _CHUNK]}):
                out[row.id] = _lead(row)
        return out

    def get_lead(self, lead_id: str) -> LeadRecord | None:
        """The lead, or ``None`` when the store knows nothing about it.

        Example
        -------
        >>> store.get_lead("nobody") is None
        True
        """
        with self._read() as session:
            row = session.get(Lead, lead_id)
            return None if row is None else _lead(row)

    # ------------------------------------------------------------------ events

    def add_events(self, lead_id: str, events: Sequence[Mapping[str, Any]]) -> int:
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
        >>> store.add_events("L1", batch), store.add_events("L1", batch)
        (1, 0)
        """
        _check_lead_id(lead_id)
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
        new = 0
        with self._write() as session:
            self._ensure_leads(session.connection(), [lead_id], now)
            for start in range(0, len(values), _CHUNK):
                stmt = (
                    self._insert(Event)
                    .values(values[start : start + _CHUNK])
                    .on_conflict_do_nothing(index_elements=["lead_id", "event_id"])
                    .returning(Event.id)
                )
                new += len(session.execute(stmt).all())
        return new

    def events_for(self, lead_id: str) -> list[EventRecord]:
        """The lead's events in time order (oldest first).

        Example
        -------
        >>> [e.name for e in store.events_for("L1")]
        ['page_view']
        """
        with self._read() as session:
            rows = session.scalars(
                select(Event).where(Event.lead_id == lead_id).order_by(Event.time, Event.id)
            )
            return [_event(row) for row in rows]

    # ------------------------------------------------------------------ scores

    def add_score(
        self,
        lead_id: str,
        model_version: str,
        score: float,
        score_100: int,
        segment: str,
        contact: bool,
        reasons: list[Any] | None = None,
        scored_at: datetime | None = None,
        webhook_payload_extra: Mapping[str, Any] | None = None,
    ) -> tuple[ScoreRecord, list[DeliveryRecord]]:
        """Append a score to the lead's history (the lead is created if new) and, in the
        same transaction, queue a delivery to every active webhook it triggers (see
        :mod:`leadscore.webhooks.triggers`). Returns the score and the queued deliveries.

        A score older than the lead's latest one (a backfill) is stored in the history
        but neither becomes the latest nor triggers webhooks.

        Example
        -------
        >>> score, deliveries = store.add_score("L1", "3", 0.82, 82, "hot", True,
        ...                                     reasons=[{"field": "pricing_views"}])
        >>> score.segment, [d.payload["event"] for d in deliveries]
        ('hot', ['lead.hot'])
        """
        item = NewScore(
            lead_id=lead_id,
            model_version=model_version,
            score=score,
            score_100=score_100,
            segment=segment,
            contact=contact,
            reasons=reasons,
            scored_at=scored_at,
            webhook_payload_extra=dict(webhook_payload_extra) if webhook_payload_extra else None,
        )
        scores, deliveries = self.add_scores([item])
        return scores[0], deliveries

    def add_scores(
        self,
        items: Sequence[NewScore],
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> tuple[list[ScoreRecord], list[DeliveryRecord]]:
        """:meth:`add_score` for many scores in one transaction (a scored batch); scores
        of the same lead are applied in the given order. ``attributes`` (lead id → fields)
        are merged into the leads in the same transaction, as :meth:`upsert_leads` does.

        Example
        -------
        >>> scores, _ = store.add_scores([NewScore("L1", "3", 0.1, 10, "cold", False),
        ...                               NewScore("L2", "3", 0.5, 50, "warm", True)])
        >>> [s.lead_id for s in scores]
        ['L1', 'L2']
        """
        for item in items:
            _check_score(item)
        if not items:
            return [], []
        with self.scoring([item.lead_id for item in items], attributes) as writer:
            return writer.add(items)

    @contextmanager
    def scoring(
        self,
        lead_ids: Iterable[str],
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Iterator[ScoreWriter]:
        """The transaction of :meth:`add_scores`, opened before the scores are known:
        the leads are created and locked, ``attributes`` merged, their latest scores and
        the active webhooks read; then :meth:`ScoreWriter.add` appends the scores, once.

        The service computes a lead's score while the database does this first half.
        Leaving the block without :meth:`ScoreWriter.add` (or with an exception) rolls it
        all back.

        Example
        -------
        >>> with store.scoring(["L1"], {"L1": {"visits": 3}}) as writer:
        ...     scores, deliveries = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True)])
        """
        attributes = attributes or {}
        for lead_id, fields in attributes.items():
            _check_lead_id(lead_id)
            if not isinstance(fields, Mapping):
                raise StoreError(f"attributes of lead {lead_id!r} must be a mapping")
        ids = sorted(set(lead_ids) | set(attributes))
        for lead_id in ids:
            _check_lead_id(lead_id)
        # as they will be stored (NaN → None, dates → text), so the records say the same;
        # converted before the write lock is taken, which is then held the shorter
        fields = {lead_id: _as_json(dict(f)) for lead_id, f in attributes.items()}
        # Core statements on one connection (no ORM session: nothing here needs identity
        # or unit-of-work tracking); still one transaction, BEGIN IMMEDIATE on SQLite
        with self._write_lock, self._writer.begin() as conn:
            stored, latest = self._lock_state(conn, ids, fields)
            # the default scored_at is taken once the leads are locked (SQLite: since the
            # BEGIN), so concurrent writers' scores are in time order, and one that waited
            # for the lock is not mistaken for a backfill
            now = utcnow()
            if fields:
                self._merge_attributes(conn, fields, stored, now)
            hooks = [_webhook(w) for w in conn.execute(_ACTIVE_WEBHOOKS)]
            writer = ScoreWriter(self, conn, frozenset(ids), latest, hooks, now)
            yield writer
            if not writer.done:
                conn.rollback()  # no scores: nothing of it is kept

    def _lock_state(
        self, conn: Connection, lead_ids: list[str], fields: Mapping[str, dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, _Previous]]:
        """Create the missing leads of ``lead_ids`` (sorted) with their new ``fields``, lock
        them all, and read what :meth:`add_scores` needs: the stored attributes of the
        leads in ``fields`` and the latest score of each lead that has one.

        PostgreSQL: two statements (create and lock, then read). SQLite, where the write
        transaction is the lock and nobody else writes meanwhile: the read comes first,
        and only leads it does not find are created (their state is then known)."""
        now = utcnow()
        new = {lead_id: fields.get(lead_id, {}) for lead_id in lead_ids}
        if self.dialect == "postgresql":
            self._lock_leads(conn, new, now)
        one = len(lead_ids) == 1
        stmt = _SELECT_STATE[bool(fields), one]
        chunks = (
            [{"id": lead_ids[0]}]
            if one
            else [{"ids": lead_ids[i : i + _CHUNK]} for i in range(0, len(lead_ids), _CHUNK)]
        )
        stored: dict[str, dict[str, Any]] = {}
        latest: dict[str, _Previous] = {}
        found: set[str] = set()
        for chunk in chunks:
            for row in conn.execute(stmt, chunk):
                found.add(row.id)
                if fields:
                    stored[row.id] = row.attributes or {}
                if row.scored_at is not None:
                    latest[row.id] = row
        if self.dialect != "postgresql" and len(found) < len(lead_ids):
            missing = {lead_id: new[lead_id] for lead_id in lead_ids if lead_id not in found}
            self._lock_leads(conn, missing, now)
            stored.update(missing)
        return stored, latest

    def _latest_by_lead(self, conn: Connection, lead_ids: Iterable[str]) -> dict[str, ScoreRecord]:
        ids = sorted(set(lead_ids))
        out: dict[str, ScoreRecord] = {}
        for start in range(0, len(ids), _CHUNK):
            for row in conn.execute(_SELECT_LATEST, {"ids": ids[start : start + _CHUNK]}):
                out[row.lead_id] = _score(row)
        return out

    def latest_score(self, lead_id: str) -> ScoreRecord | None:
        """The lead's latest score, or ``None`` when it has none.

        Example
        -------
        >>> store.latest_score("L1").score_100
        82
        """
        with self.engine.begin() as conn:
            return self._latest_by_lead(conn, [lead_id]).get(lead_id)

    def score_history(self, lead_id: str, limit: int = 100) -> list[ScoreRecord]:
        """The lead's scores, newest first (at most ``limit``).

        Example
        -------
        >>> [s.score_100 for s in store.score_history("L1", limit=2)]
        [82, 40]
        """
        with self._read() as session:
            rows = session.scalars(
                select(Score)
                .where(Score.lead_id == lead_id)
                .order_by(Score.scored_at.desc(), Score.id.desc())
                .limit(_limit(limit))
            )
            return [_score(row) for row in rows]

    def latest_scores(
        self, segment: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ScoreRecord]:
        """The work queue: each lead's latest score, best first (ties by lead id),
        optionally only one segment. An index scan on either database, however long the
        history.

        Example
        -------
        >>> [(s.lead_id, s.segment) for s in store.latest_scores("hot", limit=2)]
        [('L7', 'hot'), ('L1', 'hot')]
        """
        query: Select[tuple[Score]] = select(Score).join(
            LatestScore, LatestScore.score_id == Score.id
        )
        if segment is not None:
            query = query.where(LatestScore.segment == segment)
        query = (
            query.order_by(LatestScore.score.desc(), LatestScore.lead_id)
            .limit(_limit(limit))
            .offset(max(0, int(offset)))
        )
        with self._read() as session:
            return [_score(row) for row in session.scalars(query)]

    def segment_counts(self) -> dict[str, int]:
        """How many leads are in each segment now (by their latest score); hot, warm and
        cold are always present.

        Example
        -------
        >>> store.segment_counts()
        {'hot': 2, 'warm': 0, 'cold': 5}
        """
        counts = {"hot": 0, "warm": 0, "cold": 0}
        with self._read() as session:
            for segment, count in session.execute(
                select(LatestScore.segment, func.count()).group_by(LatestScore.segment)
            ):
                counts[segment] = int(count)
        return counts

    # ------------------------------------------------------------------ outcomes

    def add_outcome(
        self, lead_id: str, converted: bool, occurred_at: datetime | None = None
    ) -> OutcomeRecord:
        """Record that the lead converted or was lost (at ``occurred_at``, default now).
        Outcomes are append-only; a later record for the same lead supersedes earlier ones.

        Example
        -------
        >>> store.add_outcome("L1", True).converted
        True
        """
        _check_lead_id(lead_id)
        now = utcnow()
        values = {
            "lead_id": lead_id,
            "converted": bool(converted),
            "occurred_at": as_utc(occurred_at) if occurred_at else now,
            "recorded_at": now,
        }
        with self._write() as session:
            self._ensure_leads(session.connection(), [lead_id], now)
            row = session.scalars(self._insert(Outcome).values(values).returning(Outcome)).one()
            return _outcome(row)

    def outcomes(
        self, since: datetime | None = None, *, latest_only: bool = True
    ) -> list[OutcomeRecord]:
        """Outcomes that occurred at or after ``since`` (all when ``None``), oldest first.
        By default only each lead's latest record counts (a correction replaces a mistake);
        ``latest_only=False`` returns every record.

        Example
        -------
        >>> [(o.lead_id, o.converted) for o in store.outcomes()]
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
            return [_outcome(row) for row in rows]

    def lead_outcome(self, lead_id: str) -> OutcomeRecord | None:
        """The lead's latest recorded outcome, or ``None``.

        Example
        -------
        >>> store.lead_outcome("L1").converted
        True
        """
        with self._read() as session:
            row = session.scalars(
                select(Outcome)
                .where(Outcome.lead_id == lead_id)
                .order_by(Outcome.id.desc())
                .limit(1)
            ).first()
            return None if row is None else _outcome(row)

    # ------------------------------------------------------------------ API keys

    def create_key(self, name: str, scopes: Iterable[str]) -> tuple[str, ApiKeyRecord]:
        """Create an API key; returns its plaintext (shown once, never stored) and record.

        Keys are ``ls_`` + 43 random URL-safe characters (256 bits), so a fast hash
        (SHA-256) is the right storage: there is nothing to brute-force.

        Example
        -------
        >>> plaintext, key = store.create_key("crm", ["score", "read"])
        >>> plaintext.startswith("ls_"), key.scopes
        (True, ('score', 'read'))
        """
        name = str(name).strip()
        if not name:
            raise StoreError("an API key needs a name")
        clean = _check_scopes(scopes)
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        values = {
            "name": name,
            "prefix": plaintext[:KEY_PREFIX_LENGTH],
            "key_hash": _hash_key(plaintext),
            "scopes": list(clean),
            "created_at": utcnow(),
        }
        with self._write() as session:
            row = session.scalars(self._insert(ApiKey).values(values).returning(ApiKey)).one()
            return plaintext, _api_key(row)

    def authenticate(self, plaintext: str | None, *, cache_s: float = 0.0) -> ApiKeyRecord | None:
        """The active key whose plaintext this is, or ``None`` (unknown, malformed or
        revoked). Hashes are compared in constant time; ``last_used_at`` is refreshed at
        most once a minute.

        With ``cache_s`` > 0 a key this process verified within the last ``cache_s``
        seconds is accepted from memory, without reading the database (see
        :meth:`cached_key`); a revoke through this process applies at once, one by
        another process within ``cache_s`` seconds.

        Example
        -------
        >>> plaintext, _ = store.create_key("crm", ["read"])
        >>> store.authenticate(plaintext).name, store.authenticate("ls_wrong")
        ('crm', None)
        """
        if not _well_formed(plaintext):
            return None
        assert plaintext is not None  # for the type checker: _well_formed says so
        digest = _hash_key(plaintext)
        if cache_s > 0:
            cached = _KEY_CACHE.get(self.url, digest, cache_s)
            if cached is not None:
                return cached
        generation = _KEY_CACHE.generation
        with self._read() as session:
            rows = session.scalars(
                select(ApiKey).where(ApiKey.prefix == plaintext[:KEY_PREFIX_LENGTH])
            ).all()
            match: ApiKey | None = None
            for row in rows:  # compare with every candidate: no early exit
                if hmac.compare_digest(row.key_hash, digest):
                    match = row
            if match is None or match.revoked_at is not None:
                return None
            record = _api_key(match)
        now = utcnow()
        if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
            try:
                with self._write() as session:
                    session.execute(
                        update(ApiKey)
                        .where(
                            ApiKey.id == record.id,
                            or_(
                                ApiKey.last_used_at.is_(None),
                                ApiKey.last_used_at <= now - LAST_USED_RESOLUTION,
                            ),
                        )
                        .values(last_used_at=now)
                    )
                record = _replace(record, last_used_at=now)
            except OperationalError as exc:  # bookkeeping must not fail a valid request
                log.warning("could not record the use of API key %s: %s", record.prefix, exc)
        if cache_s > 0:
            _KEY_CACHE.put(self.url, digest, record, generation)
        return record

    def cached_key(self, plaintext: str | None, cache_s: float) -> ApiKeyRecord | None:
        """The key's record if :meth:`authenticate` verified it in this process within
        the last ``cache_s`` seconds, else ``None`` (then ask :meth:`authenticate`).
        Never touches the database, so an event loop can call it.

        ``last_used_at`` of a cached record is as of its last database check (it is
        refreshed at most once a minute anyway).

        Example
        -------
        >>> plaintext, _ = store.create_key("crm", ["read"])
        >>> store.cached_key(plaintext, 5) is None
        True
        >>> store.authenticate(plaintext, cache_s=5) == store.cached_key(plaintext, 5)
        True
        """
        if cache_s <= 0 or not _well_formed(plaintext):
            return None
        assert plaintext is not None
        return _KEY_CACHE.get(self.url, _hash_key(plaintext), cache_s)

    def revoke_key(self, key_id_or_prefix: int | str) -> ApiKeyRecord:
        """Revoke a key given by id, by its displayed prefix (``ls_AbCdE``) or by the key
        itself; revoking twice is harmless. Raises
        :class:`~leadscore.store.errors.NotFoundError` when no key matches.

        Example
        -------
        >>> plaintext, key = store.create_key("old", ["read"])
        >>> store.revoke_key(key.prefix).active, store.authenticate(plaintext)
        (False, None)
        """
        with self._write() as session:
            query = select(ApiKey)
            spec = key_id_or_prefix
            if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
                query = query.where(ApiKey.id == int(spec))
                what = f"id {int(spec)}"
            elif isinstance(spec, str) and len(spec.strip()) > KEY_PREFIX_LENGTH:
                query = query.where(ApiKey.key_hash == _hash_key(spec.strip()))
                what = f"prefix {spec.strip()[:KEY_PREFIX_LENGTH]!r} (the key given)"
            else:
                query = query.where(ApiKey.prefix == str(spec).strip())
                what = f"prefix {str(spec).strip()!r}"
            rows = session.scalars(query.order_by(ApiKey.id)).all()
            if not rows:
                raise NotFoundError(f"no API key with {what}; `leadscore keys list` shows them")
            if len(rows) > 1:
                ids = ", ".join(str(r.id) for r in rows)
                raise StoreError(f"several API keys have {what} (ids {ids}): revoke one by id")
            row = rows[0]
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                session.flush()
            record = _api_key(row)
        # after the commit, so a lookup racing with the revoke cannot re-cache the key
        # from a read that predates it (the generation check in _KeyCache.put)
        _KEY_CACHE.clear()
        return record

    def list_keys(self) -> list[ApiKeyRecord]:
        """Every API key (revoked ones too), oldest first.

        Example
        -------
        >>> [(k.name, k.active) for k in store.list_keys()]
        [('crm', True), ('old', False)]
        """
        with self._read() as session:
            return [_api_key(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.id))]

    # ------------------------------------------------------------------ webhooks

    def add_webhook(
        self,
        url: str,
        secret: str,
        kinds: Iterable[str] = WEBHOOK_KINDS,
        min_jump: int = 30,
    ) -> WebhookRecord:
        """Subscribe ``url`` (http or https) to hot leads and/or score jumps of at least
        ``min_jump`` points; payloads are signed with ``secret`` (see
        :mod:`leadscore.webhooks.signing`).

        Example
        -------
        >>> hook = store.add_webhook("https://crm.example.com/hooks/leads", "s3cret",
        ...                          kinds=["hot"])
        >>> hook.kinds, hook.active
        (('hot',), True)
        """
        url = _check_url(url)
        if not isinstance(secret, str) or not secret.strip():
            raise StoreError("a webhook needs a non-empty secret (it signs the payloads)")
        clean_kinds = _check_kinds(kinds)
        if isinstance(min_jump, bool) or not isinstance(min_jump, int) or not 1 <= min_jump <= 100:
            raise StoreError(
                f"min_jump must be a whole number of points from 1 to 100, not {min_jump!r}"
            )
        values = {
            "url": url,
            "secret": secret,
            "kinds": list(clean_kinds),
            "min_jump": min_jump,
            "active": True,
            "created_at": utcnow(),
        }
        with self._write() as session:
            row = session.scalars(self._insert(Webhook).values(values).returning(Webhook)).one()
            return _webhook(row)

    def get_webhook(self, webhook_id: int) -> WebhookRecord:
        """The webhook (active or not); :class:`~leadscore.store.errors.NotFoundError` if
        unknown.

        Example
        -------
        >>> store.get_webhook(1).url
        'https://crm.example.com/hooks/leads'
        """
        with self._read() as session:
            row = session.get(Webhook, int(webhook_id))
            if row is None:
                raise NotFoundError(f"no webhook with id {webhook_id}")
            return _webhook(row)

    def list_webhooks(self, include_inactive: bool = False) -> list[WebhookRecord]:
        """The webhooks, oldest first (only active ones unless ``include_inactive``).

        Example
        -------
        >>> [h.id for h in store.list_webhooks()]
        [1]
        """
        query = select(Webhook).order_by(Webhook.id)
        if not include_inactive:
            query = query.where(Webhook.active)
        with self._read() as session:
            return [_webhook(row) for row in session.scalars(query)]

    def remove_webhook(self, webhook_id: int) -> WebhookRecord:
        """Deactivate a webhook (its delivery log stays); its pending deliveries are
        cancelled (``failed``, "webhook removed").

        Example
        -------
        >>> store.remove_webhook(1).active
        False
        """
        with self._write() as session:
            row = session.get(Webhook, int(webhook_id))
            if row is None:
                raise NotFoundError(f"no webhook with id {webhook_id}")
            row.active = False
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.webhook_id == row.id,
                    WebhookDelivery.status == "pending",
                )
                .values(status="failed", next_attempt_at=None, last_error="webhook removed")
            )
            session.flush()
            return _webhook(row)

    # ------------------------------------------------------------------ deliveries

    def due_deliveries(self, now: datetime | None = None, limit: int = 50) -> list[DeliveryRecord]:
        """Pending deliveries whose next attempt is due at ``now``, oldest due first.

        Example
        -------
        >>> [d.kind for d in store.due_deliveries()]
        ['hot']
        """
        now = as_utc(now) if now else utcnow()
        with self._read() as session:
            rows = session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(_limit(limit))
            )
            return [_delivery(row) for row in rows]

    def claim(
        self, delivery_id: int, *, now: datetime | None = None, lease_s: float = 60.0
    ) -> DeliveryRecord | None:
        """Take a due delivery for sending: its next attempt moves ``lease_s`` into the
        future in one conditional UPDATE, so a second dispatcher skips it. Returns ``None``
        when it is not (or no longer) due. If the sender dies, the delivery becomes due
        again when the lease ends (at-least-once).

        Example
        -------
        >>> due = store.due_deliveries()[0]
        >>> store.claim(due.id) is not None, store.claim(due.id)
        (True, None)
        """
        now = as_utc(now) if now else utcnow()
        with self._write() as session:
            row = session.scalars(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + timedelta(seconds=lease_s))
                .returning(WebhookDelivery),
                execution_options={"synchronize_session": False},
            ).one_or_none()
            return None if row is None else _delivery(row)

    def mark_delivered(
        self, delivery_id: int, status_code: int, *, now: datetime | None = None
    ) -> DeliveryRecord:
        """Record a successful attempt (a 2xx answer): the delivery is done.

        Example
        -------
        >>> store.mark_delivered(due.id, 200).status
        'delivered'
        """
        now = as_utc(now) if now else utcnow()
        with self._write() as session:
            row = session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(
                    status="delivered",
                    attempts=WebhookDelivery.attempts + 1,
                    last_status_code=status_code,
                    last_error=None,
                    next_attempt_at=None,
                    delivered_at=now,
                )
                .returning(WebhookDelivery),
                execution_options={"synchronize_session": False},
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"no webhook delivery with id {delivery_id}")
            return _delivery(row)

    def mark_failed(
        self,
        delivery_id: int,
        status_code: int | None,
        error: str,
        next_attempt_at: datetime | None,
    ) -> DeliveryRecord:
        """Record a failed attempt: retry at ``next_attempt_at``, or give up (``failed``)
        when it is ``None``. A delivery that is no longer pending (delivered meanwhile by
        another dispatcher, or cancelled) is left as it is.

        Example
        -------
        >>> store.mark_failed(due.id, 500, "HTTP 500", None).status
        'failed'
        """
        values: dict[str, Any] = {
            "attempts": WebhookDelivery.attempts + 1,
            "last_status_code": status_code,
            "last_error": str(error)[:_MAX_ERROR_LENGTH],
        }
        if next_attempt_at is None:
            values.update(status="failed", next_attempt_at=None)
        else:
            values["next_attempt_at"] = as_utc(next_attempt_at)
        with self._write() as session:
            row = session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
                .values(**values)
                .returning(WebhookDelivery),
                execution_options={"synchronize_session": False},
            ).one_or_none()
            if row is None:
                current = session.get(WebhookDelivery, delivery_id)
                if current is None:
                    raise NotFoundError(f"no webhook delivery with id {delivery_id}")
                return _delivery(current)
            return _delivery(row)

    def get_delivery(self, delivery_id: int) -> DeliveryRecord:
        """One delivery; :class:`~leadscore.store.errors.NotFoundError` if unknown.

        Example
        -------
        >>> store.get_delivery(due.id).attempts
        1
        """
        with self._read() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFoundError(f"no webhook delivery with id {delivery_id}")
            return _delivery(row)

    def deliveries(
        self, webhook_id: int | None = None, limit: int = 100, status: str | None = None
    ) -> list[DeliveryRecord]:
        """The delivery log, newest first; optionally of one webhook and/or one status.

        Example
        -------
        >>> [(d.kind, d.status) for d in store.deliveries(webhook_id=1)]
        [('hot', 'failed')]
        """
        query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(_limit(limit))
        if webhook_id is not None:
            query = query.where(WebhookDelivery.webhook_id == webhook_id)
        if status is not None:
            if status not in _DELIVERY_STATUSES:
                raise StoreError(
                    f"unknown delivery status {status!r}; one of {', '.join(_DELIVERY_STATUSES)}"
                )
            query = query.where(WebhookDelivery.status == status)
        with self._read() as session:
            return [_delivery(row) for row in session.scalars(query)]


# ---------------------------------------------------------------------- validation


def _limit(limit: int) -> int:
    return max(0, int(limit))


def _check_lead_id(lead_id: Any) -> None:
    if not isinstance(lead_id, str) or not lead_id.strip():
        raise StoreError(f"a lead id must be non-empty text, not {lead_id!r}")


class ScoreWriter:
    """The second half of :meth:`Store.scoring`: appends scores to the locked leads."""

    def __init__(
        self,
        store: Store,
        conn: Connection,
        lead_ids: frozenset[str],
        latest: dict[str, _Previous],
        hooks: list[Any],
        now: datetime,
    ) -> None:
        self._store, self._conn, self._lead_ids = store, conn, lead_ids
        self._latest, self._hooks, self._now = latest, hooks, now
        #: whether the scores were added (only once)
        self.done = False

    def add(self, items: Sequence[NewScore]) -> tuple[list[ScoreRecord], list[DeliveryRecord]]:
        """Append the scores (of leads given to :meth:`Store.scoring`, in order) and queue
        the webhooks they trigger; returns the stored scores and the queued deliveries."""
        if self.done:
            raise StoreError("this scoring transaction has stored its scores already")
        for item in items:
            _check_score(item)
            if item.lead_id not in self._lead_ids:
                raise StoreError(f"lead {item.lead_id!r} was not locked for this transaction")
        self.done = True
        conn, latest, hooks, now = self._conn, self._latest, self._hooks, self._now
        params = [
            {
                "lead_id": item.lead_id,
                "model_version": str(item.model_version),
                "score": float(item.score),
                "score_100": int(item.score_100),
                "segment": item.segment,
                "contact": bool(item.contact),
                "reasons": _as_json(item.reasons),
                "scored_at": as_utc(item.scored_at) if item.scored_at else None,
            }
            for item in items
        ]
        if not params:
            return [], []
        for p in params:
            if p["scored_at"] is None:
                p["scored_at"] = now
        ids = conn.execute(_INSERT_SCORES, params).scalars().all()
        scores = [ScoreRecord(id=i, **p) for i, p in zip(ids, params, strict=True)]

        new_latest: dict[str, ScoreRecord] = {}
        outbox: list[dict[str, Any]] = []
        for item, record in zip(items, scores, strict=True):
            previous = latest.get(record.lead_id)
            if previous is not None and record.scored_at < previous.scored_at:
                continue  # a backfill: history only
            latest[record.lead_id] = new_latest[record.lead_id] = record
            for hook in hooks:
                fired = triggered_kinds(
                    previous_segment=previous.segment if previous else None,
                    previous_score_100=previous.score_100 if previous else None,
                    segment=record.segment,
                    score_100=record.score_100,
                    kinds=hook.kinds,
                    min_jump=hook.min_jump,
                )
                if not fired:
                    continue
                payload = webhook_payload(
                    fired,
                    lead_id=record.lead_id,
                    score=record.score,
                    score_100=record.score_100,
                    segment=record.segment,
                    previous_score_100=previous.score_100 if previous else None,
                    previous_segment=previous.segment if previous else None,
                    model_version=record.model_version,
                    scored_at=record.scored_at,
                    reasons=record.reasons,
                    extra=item.webhook_payload_extra,
                )
                outbox.append(
                    {
                        "webhook_id": hook.id,
                        "lead_id": record.lead_id,
                        "kind": payload["event"].removeprefix("lead."),
                        "payload": payload,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_status_code": None,
                        "last_error": None,
                        "created_at": now,
                        "delivered_at": None,
                    }
                )

        if new_latest:
            conn.execute(
                self._store._upsert_latest,
                [
                    {
                        "lead_id": r.lead_id,
                        "score_id": r.id,
                        "score": r.score,
                        "segment": r.segment,
                        "scored_at": r.scored_at,
                    }
                    for r in new_latest.values()
                ],
            )
        deliveries: list[DeliveryRecord] = []
        if outbox:
            deliveries = [_delivery(row) for row in conn.execute(_INSERT_DELIVERIES, outbox)]
        return scores, deliveries


def _check_score(item: NewScore) -> None:
    _check_lead_id(item.lead_id)
    # numbers.Real / Integral: numpy scalars from a model are fine too
    if not isinstance(item.score, numbers.Real) or not (
        math.isfinite(item.score) and 0.0 <= item.score <= 1.0
    ):
        raise StoreError(f"score of lead {item.lead_id!r} must be within 0–1, not {item.score!r}")
    if (
        isinstance(item.score_100, bool)
        or not isinstance(item.score_100, numbers.Integral)
        or not (0 <= item.score_100 <= 100)
    ):
        raise StoreError(
            f"score_100 of lead {item.lead_id!r} must be a whole number 0–100, "
            f"not {item.score_100!r}"
        )
    if not isinstance(item.segment, str) or not item.segment:
        raise StoreError(f"segment of lead {item.lead_id!r} must be non-empty text")
    if item.reasons is not None and not isinstance(item.reasons, list):
        raise StoreError(f"reasons of lead {item.lead_id!r} must be a list or None")


def _check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    if isinstance(scopes, str):
        scopes = [scopes]
    clean = tuple(dict.fromkeys(str(s).strip().lower() for s in scopes))
    unknown = [s for s in clean if s not in SCOPES]
    if unknown:
        raise StoreError(
            f"unknown API key scope {', '.join(repr(s) for s in unknown)}; "
            f"valid scopes: {', '.join(SCOPES)}"
        )
    if not clean:
        raise StoreError(f"an API key needs at least one scope ({', '.join(SCOPES)})")
    return clean


def _check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    given = [kinds] if isinstance(kinds, str) else list(kinds)
    clean = tuple(dict.fromkeys(str(k).strip().lower() for k in given))
    unknown = [k for k in clean if k not in WEBHOOK_KINDS]
    if unknown or not clean:
        raise StoreError(
            f"webhook kinds must be one or more of {', '.join(WEBHOOK_KINDS)}, not {given!r}"
        )
    return clean


def _check_url(url: Any) -> str:
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urllib.parse.urlsplit(text)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        valid = False
    if not valid:
        raise StoreError(
            f"a webhook URL must be an http:// or https:// URL with a host, not {url!r}"
        )
    return text


def _well_formed(plaintext: Any) -> bool:
    """Whether this could be a key at all (not worth a hash or a query otherwise)."""
    return (
        isinstance(plaintext, str)
        and plaintext.startswith(KEY_PREFIX)
        and KEY_PREFIX_LENGTH < len(plaintext) <= 256
    )


def _hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


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
    properties = _as_json(properties)
    if event_id is None or (isinstance(event_id, str) and not event_id.strip()):
        event_id = _content_id(lead_id, event_time, name, properties)
    return {
        "lead_id": lead_id,
        "event_id": str(event_id),
        "time": event_time,
        "name": name,
        "properties": properties,
    }


def _as_json(value: Any) -> Any:
    """``value`` as it comes back from a JSON column."""
    return None if value is None else json.loads(dumps_json(value))


def _content_id(lead_id: str, time: datetime, name: str, properties: Mapping[str, Any]) -> str:
    """sha256 of lead|time|name|properties (sorted keys): the same event posted twice
    gets the same id, whatever the order of its fields."""
    props = json.dumps(properties, sort_keys=True, separators=(",", ":"))
    text = f"{lead_id}|{time.isoformat()}|{name}|{props}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- records


def _replace(record: ApiKeyRecord, **changes: Any) -> ApiKeyRecord:
    import dataclasses

    return dataclasses.replace(record, **changes)


def _lead(row: Lead | Row[Any]) -> LeadRecord:
    return LeadRecord(row.id, dict(row.attributes or {}), row.created_at, row.updated_at)


def _event(row: Event) -> EventRecord:
    return EventRecord(
        row.id, row.lead_id, row.event_id, row.time, row.name, dict(row.properties or {}),
        row.received_at,
    )  # fmt: skip


def _score(row: Score | Row[Any]) -> ScoreRecord:
    return ScoreRecord(
        id=row.id,
        lead_id=row.lead_id,
        model_version=row.model_version,
        score=row.score,
        score_100=row.score_100,
        segment=row.segment,
        contact=row.contact,
        reasons=row.reasons,
        scored_at=row.scored_at,
    )


def _outcome(row: Outcome) -> OutcomeRecord:
    return OutcomeRecord(row.id, row.lead_id, row.converted, row.occurred_at, row.recorded_at)


def _api_key(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes or ()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _webhook(row: Webhook | Row[Any]) -> WebhookRecord:
    return WebhookRecord(
        id=row.id,
        url=row.url,
        secret=row.secret,
        kinds=tuple(row.kinds or ()),
        min_jump=row.min_jump,
        active=row.active,
        created_at=row.created_at,
    )


def _delivery(row: WebhookDelivery | Row[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        webhook_id=row.webhook_id,
        lead_id=row.lead_id,
        kind=row.kind,
        payload=dict(row.payload or {}),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )
