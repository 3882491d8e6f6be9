"""Idempotency keys: write requests that may be retried safely (``store.idempotency``).

A client that sends a write with an idempotency key (the API's ``Idempotency-Key``
header) may send it again, after a timeout or a dropped connection, without the write
being done twice: the first request :meth:`claims <IdempotencyRepository.claim>` the key
(per API key: two clients may use the same idempotency key), does its work and
:meth:`completes <IdempotencyRepository.complete>` the claim with its answer — on the
connection of its own write transaction, so that the write and its answer commit together
or not at all; a retry is answered the stored answer.

A claim is one short write transaction: answers older than ``ttl_s`` are pruned (at most
:data:`PRUNE_BATCH` of them, through the index on ``created_at``, so the table holds about
``ttl_s`` worth of requests whatever the traffic, without a background job), an expired
or abandoned claim of the key is dropped, and the key is inserted with ``ON CONFLICT DO
NOTHING``: of two requests with one key, on SQLite or PostgreSQL, exactly one claims it
and the other finds the first one's row.

Example
-------
>>> key_id = store.keys.create("crm", ["score"])[1].id
>>> store.idempotency.claim(key_id, "retry-1", "hash-a") is None  # claimed: do the work
True
>>> store.idempotency.complete(key_id, "retry-1", 200, '{"ok": true}')
>>> found = store.idempotency.claim(key_id, "retry-1", "hash-a")  # a retry
>>> found.status, found.body
(200, '{"ok": true}')
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, Row, and_, delete, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from leadscore.store.errors import StoreError
from leadscore.store.records import IdempotencyRecord
from leadscore.store.session import Repository
from leadscore.store.tables import IdempotencyKey, utcnow

KEYS = IdempotencyKey.__table__
#: the longest idempotency key accepted
MAX_KEY_LENGTH = 200
#: how long answers are kept by default (a day: retries come within minutes)
DEFAULT_TTL_S = 24 * 3600.0
#: a claim never completed (its process stopped mid-request) is given up after this long,
#: so a retry can do the work; far beyond any request's time (the store waits are bounded)
DEFAULT_LEASE_S = 60.0
#: expired answers deleted by one claim at most
PRUNE_BATCH = 100


def check_key(key: str) -> str:
    """``key`` if it is an idempotency key: 1–200 printable ASCII characters.

    Example
    -------
    >>> check_key("order-17/attempt")
    'order-17/attempt'
    """
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise StoreError(f"an idempotency key is 1–{MAX_KEY_LENGTH} characters")
    if not all(" " <= c <= "~" for c in key):
        raise StoreError("an idempotency key is printable ASCII characters only")
    return key


def _record(row: Row[tuple[object, ...]]) -> IdempotencyRecord:
    m = row._mapping
    return IdempotencyRecord(
        api_key_id=int(m["api_key_id"]),
        key=str(m["key"]),
        request_hash=str(m["request_hash"]),
        status=None if m["status"] is None else int(m["status"]),
        body=m["body"],
        created_at=m["created_at"],
    )


class IdempotencyRepository(Repository):
    """Claims of idempotency keys and the answers stored with them
    (``store.idempotency``)."""

    def claim(
        self,
        api_key_id: int,
        key: str,
        request_hash: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> IdempotencyRecord | None:
        """Claim ``key`` of client ``api_key_id`` for a request (``request_hash``: what
        tells it from another request, e.g. a hash of its method, path and body).

        Returns ``None`` when the key is now this request's: do the work, then
        :meth:`complete` (or :meth:`release` on failure). Otherwise the record found: an
        answer to replay (check its ``request_hash`` first), or a request still in
        progress (``pending``). An answer older than ``ttl_s``, or a claim pending for
        longer than ``lease_s``, counts as absent.
        """
        check_key(key)
        now = utcnow()
        expired = now - timedelta(seconds=ttl_s)
        abandoned = now - timedelta(seconds=lease_s)
        mine = and_(KEYS.c.api_key_id == api_key_id, KEYS.c.key == key)
        oldest = (
            select(KEYS.c.api_key_id, KEYS.c.key)
            .where(KEYS.c.created_at < expired)
            .order_by(KEYS.c.created_at)
            .limit(PRUNE_BATCH)
            # PostgreSQL: concurrent claims prune different rows instead of queueing on
            # (or deadlocking over) the same ones; SQLite has one writer anyway
            .with_for_update(skip_locked=True)
        )
        new = self._db.insert(IdempotencyKey).values(
            api_key_id=api_key_id, key=key, request_hash=request_hash, created_at=now
        )
        with self._db.begin_write() as conn:
            conn.execute(delete(KEYS).where(tuple_(KEYS.c.api_key_id, KEYS.c.key).in_(oldest)))
            conn.execute(
                delete(KEYS).where(
                    mine,
                    or_(
                        KEYS.c.created_at < expired,
                        and_(KEYS.c.status.is_(None), KEYS.c.created_at < abandoned),
                    ),
                )
            )
            try:
                claimed = conn.execute(new.on_conflict_do_nothing().returning(KEYS.c.key)).first()
            except IntegrityError:  # the API key is gone (deleted meanwhile)
                raise StoreError(f"no API key with id {api_key_id}") from None
            if claimed is not None:
                return None
            row = conn.execute(select(KEYS).where(mine)).first()
        if row is None:  # claimed and released in between: a retry will find it free
            return IdempotencyRecord(api_key_id, key, request_hash, None, None, now)
        return _record(row)

    def complete(
        self,
        api_key_id: int,
        key: str,
        status: int,
        body: str,
        conn: Connection | None = None,
    ) -> None:
        """Store the answer of the request that claimed ``key``: on ``conn``, the
        connection of the request's own write transaction (so both commit together), or
        in a transaction of its own."""
        stmt = (
            update(KEYS)
            .where(KEYS.c.api_key_id == api_key_id, KEYS.c.key == key)
            .values(status=int(status), body=body)
        )
        if conn is not None:
            conn.execute(stmt)
            return
        with self._db.begin_write() as own:
            own.execute(stmt)

    def release(self, api_key_id: int, key: str) -> None:
        """Give up a claim whose request failed (it wrote nothing): a retry does the
        work. A key already answered is kept."""
        with self._db.begin_write() as conn:
            conn.execute(
                delete(KEYS).where(
                    KEYS.c.api_key_id == api_key_id, KEYS.c.key == key, KEYS.c.status.is_(None)
                )
            )

    def get(self, api_key_id: int, key: str) -> IdempotencyRecord | None:
        """The stored claim or answer of ``key`` of client ``api_key_id``, if any."""
        with self._db.engine.connect() as conn:
            row = conn.execute(
                select(KEYS).where(KEYS.c.api_key_id == api_key_id, KEYS.c.key == key)
            ).first()
        return None if row is None else _record(row)

    def prune(self, ttl_s: float = DEFAULT_TTL_S) -> int:
        """Delete every answer older than ``ttl_s`` seconds (claims do it a batch at a
        time already); returns how many.

        Example
        -------
        >>> store.idempotency.prune(ttl_s=3600)
        0
        """
        cutoff = utcnow() - timedelta(seconds=ttl_s)
        with self._db.begin_write() as conn:
            old = delete(KEYS).where(KEYS.c.created_at < cutoff).returning(KEYS.c.key)
            gone = conn.execute(old)
            return len(gone.all())
