"""API keys and the process's cache of recently verified ones: :class:`KeyRepository`
(``store.keys``).

Keys are ``ls_`` + 43 random URL-safe characters (256 bits); only their SHA-256 is
stored, with the first :data:`KEY_PREFIX_LENGTH` characters in clear for display and
lookup, and hashes are compared in constant time.

Transactions: creating and revoking a key are one write transaction each; verifying one
is a read transaction, followed at most once a minute per key by a write that refreshes
``last_used_at`` (a failure of that bookkeeping never fails the request).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError

from leadscore.store.errors import NotFoundError, StoreError
from leadscore.store.records import SCOPES, ApiKeyRecord
from leadscore.store.session import Repository
from leadscore.store.tables import ApiKey, utcnow

log = logging.getLogger(__name__)

#: every API key starts with this, so a key in a log or a repository is recognisable
KEY_PREFIX = "ls_"
#: how many leading characters of a key are stored in clear (for display and lookup)
KEY_PREFIX_LENGTH = 8
#: ``last_used_at`` is written at most this often per key (it costs a write transaction)
LAST_USED_RESOLUTION = timedelta(minutes=1)


class _KeyCache:
    """API keys verified recently, in this process: SHA-256 of the key → its record.

    Only keys that were found active are kept (an unknown key is never cached, so guesses
    cannot fill memory), for at most ``max_age`` seconds each, and at most ``SIZE`` of
    them. A revoke through any store of this process empties the cache at once; a revoke
    by another process (the CLI, the dashboard, another worker) takes effect here when
    the entry ages out.
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


class KeyRepository(Repository):
    """API keys: create, verify (through the cache, when asked), revoke, list
    (``store.keys``).

    Example
    -------
    >>> plaintext, key = store.keys.create("crm", ["score", "read"])
    >>> store.keys.authenticate(plaintext).name
    'crm'
    """

    def create(self, name: str, scopes: Iterable[str]) -> tuple[str, ApiKeyRecord]:
        """Create an API key; returns its plaintext (shown once, never stored) and record.

        Keys are ``ls_`` + 43 random URL-safe characters (256 bits), so a fast hash
        (SHA-256) is the right storage: there is nothing to brute-force.

        Example
        -------
        >>> plaintext, key = store.keys.create("crm", ["score", "read"])
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
            row = session.scalars(self._db.insert(ApiKey).values(values).returning(ApiKey)).one()
            return plaintext, _api_key(row)

    def authenticate(self, plaintext: str | None, *, cache_s: float = 0.0) -> ApiKeyRecord | None:
        """The active key whose plaintext this is, or ``None`` (unknown, malformed or
        revoked). Hashes are compared in constant time; ``last_used_at`` is refreshed at
        most once a minute.

        With ``cache_s`` > 0 a key this process verified within the last ``cache_s``
        seconds is accepted from memory, without reading the database (see
        :meth:`cached`); a revoke through this process applies at once, one by another
        process within ``cache_s`` seconds.

        Example
        -------
        >>> plaintext, _ = store.keys.create("crm", ["read"])
        >>> store.keys.authenticate(plaintext).name, store.keys.authenticate("ls_wrong")
        ('crm', None)
        """
        if not _well_formed(plaintext):
            return None
        assert plaintext is not None  # for the type checker: _well_formed says so
        digest = _hash_key(plaintext)
        url = self._db.url
        if cache_s > 0:
            cached = _KEY_CACHE.get(url, digest, cache_s)
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
                record = dataclasses.replace(record, last_used_at=now)
            except OperationalError as exc:  # bookkeeping must not fail a valid request
                log.warning("could not record the use of API key %s: %s", record.prefix, exc)
        if cache_s > 0:
            _KEY_CACHE.put(url, digest, record, generation)
        return record

    def cached(self, plaintext: str | None, cache_s: float) -> ApiKeyRecord | None:
        """The key's record if :meth:`authenticate` verified it in this process within
        the last ``cache_s`` seconds, else ``None`` (then ask :meth:`authenticate`).
        Never touches the database, so an event loop can call it.

        ``last_used_at`` of a cached record is as of its last database check (it is
        refreshed at most once a minute anyway).

        Example
        -------
        >>> plaintext, _ = store.keys.create("crm", ["read"])
        >>> store.keys.cached(plaintext, 5) is None
        True
        >>> store.keys.authenticate(plaintext, cache_s=5) == store.keys.cached(plaintext, 5)
        True
        """
        if cache_s <= 0 or not _well_formed(plaintext):
            return None
        assert plaintext is not None
        return _KEY_CACHE.get(self._db.url, _hash_key(plaintext), cache_s)

    def revoke(self, key_id_or_prefix: int | str) -> ApiKeyRecord:
        """Revoke a key given by id, by its displayed prefix (``ls_AbCdE``) or by the key
        itself; revoking twice is harmless. Raises
        :class:`~leadscore.store.errors.NotFoundError` when no key matches.

        Example
        -------
        >>> plaintext, key = store.keys.create("old", ["read"])
        >>> store.keys.revoke(key.prefix).active, store.keys.authenticate(plaintext)
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

    def all(self) -> list[ApiKeyRecord]:
        """Every API key (revoked ones too), oldest first.

        Example
        -------
        >>> _ = store.keys.create("crm", ["read"])
        >>> _, old = store.keys.create("old", ["read"])
        >>> _ = store.keys.revoke(old.prefix)
        >>> [(k.name, k.active) for k in store.keys.all()]
        [('crm', True), ('old', False)]
        """
        with self._read() as session:
            return [_api_key(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.id))]


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


def _well_formed(plaintext: Any) -> bool:
    """Whether this could be a key at all (not worth a hash or a query otherwise)."""
    return (
        isinstance(plaintext, str)
        and plaintext.startswith(KEY_PREFIX)
        and KEY_PREFIX_LENGTH < len(plaintext) <= 256
    )


def _hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


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
