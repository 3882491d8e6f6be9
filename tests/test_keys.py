"""API keys in the score store: created once in clear, stored hashed, with scopes, revoked.

Runs on a SQLite file and on PostgreSQL (a schema per test; skips without a server except
under ``CI=true``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.errors import LeadscoreError
from leadscore.store import SCOPES, NotFoundError, Store, StoreError
from leadscore.store.keys import KeyRepository
from leadscore.store.tables import ApiKey


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A fresh store on both databases (``db_url`` in conftest.py)."""
    with Store(db_url) as opened:
        yield opened


def _stored_rows(store: Store) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(ApiKey.__table__))]


def test_a_key_is_shown_once_and_stored_only_as_a_hash(store: Store) -> None:
    plaintext, record = store.keys.create("crm", ["score", "read"])
    assert plaintext.startswith("ls_") and len(plaintext) == 3 + 43  # 32 random bytes
    assert record.prefix == plaintext[:8]
    assert record.scopes == ("score", "read") and record.active and record.last_used_at is None
    (row,) = _stored_rows(store)
    assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert not any(plaintext in str(value) for value in row.values())
    other, _ = store.keys.create("crm", ["read"])
    assert other != plaintext


def test_authenticate(store: Store) -> None:
    plaintext, record = store.keys.create("crm", ["read"])
    found = store.keys.authenticate(plaintext)
    assert found is not None and found.id == record.id and found.name == "crm"
    assert found.last_used_at is not None
    for wrong in [
        plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B"),  # same prefix, other key
        plaintext + "x",
        plaintext[:8],
        "ls_",
        "",
        None,
        "Bearer " + plaintext,
        "x" * 10_000,
    ]:
        assert store.keys.authenticate(wrong) is None, wrong


def test_hashes_are_compared_in_constant_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadscore.store.keys as repository

    plaintext, _ = store.keys.create("crm", ["read"])
    calls: list[tuple[str, str]] = []
    real = repository.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(repository.hmac, "compare_digest", spy)
    assert store.keys.authenticate(plaintext) is not None
    assert store.keys.authenticate(plaintext[:8] + "wrong-rest-of-the-key") is None
    assert len(calls) == 2


def test_last_used_is_written_at_most_once_a_minute(store: Store) -> None:
    plaintext, record = store.keys.create("crm", ["read"])
    first = store.keys.authenticate(plaintext).last_used_at
    assert store.keys.authenticate(plaintext).last_used_at == first
    assert store.keys.all()[0].last_used_at == first
    with store.engine.begin() as conn:  # pretend the last use was two minutes ago
        conn.execute(
            sa.update(ApiKey)
            .where(ApiKey.id == record.id)
            .values(last_used_at=first - timedelta(minutes=2))
        )
    later = store.keys.authenticate(plaintext).last_used_at
    assert later > first - timedelta(minutes=2) and later >= first
    assert store.keys.all()[0].last_used_at == later


def test_scopes_are_validated(store: Store) -> None:
    assert SCOPES == ("score", "ingest", "read", "admin")
    with pytest.raises(StoreError, match="unknown API key scope 'write'") as caught:
        store.keys.create("crm", ["read", "write"])
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, LeadscoreError)
    assert "valid scopes: score, ingest, read, admin" in str(caught.value)
    with pytest.raises(StoreError, match="at least one scope"):
        store.keys.create("crm", [])
    with pytest.raises(StoreError, match="needs a name"):
        store.keys.create("  ", ["read"])
    _, key = store.keys.create("ops", [" Admin ", "admin"])
    assert key.scopes == ("admin",)
    assert key.allows("score") and key.allows("ingest") and key.allows("read")
    _, reader = store.keys.create("bi", "read")
    assert reader.scopes == ("read",) and not reader.allows("score")
    assert store.keys.all() == [key, reader]


def test_revoke_by_id_prefix_or_key(store: Store) -> None:
    first, a = store.keys.create("a", ["read"])
    second, b = store.keys.create("b", ["score"])
    third, _ = store.keys.create("c", ["ingest"])

    revoked = store.keys.revoke(a.id)
    assert not revoked.active and revoked.revoked_at is not None
    assert not revoked.allows("read")
    assert store.keys.authenticate(first) is None
    assert store.keys.revoke(str(a.id)).revoked_at == revoked.revoked_at  # twice: harmless

    assert not store.keys.revoke(b.prefix).active
    assert store.keys.authenticate(second) is None
    assert not store.keys.revoke(third).active  # the key itself
    assert store.keys.authenticate(third) is None
    assert [k.active for k in store.keys.all()] == [False, False, False]

    with pytest.raises(NotFoundError, match="no API key with prefix 'ls_nope0'") as caught:
        store.keys.revoke("ls_nope0")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value).startswith("no API key")  # no KeyError quotes
    with pytest.raises(NotFoundError, match="no API key with id 999"):
        store.keys.revoke(999)


def test_an_ambiguous_prefix_is_refused(store: Store) -> None:
    _, a = store.keys.create("a", ["read"])
    _, b = store.keys.create("b", ["read"])
    with store.engine.begin() as conn:  # a 1-in-a-billion prefix collision, forced
        conn.execute(sa.update(ApiKey).where(ApiKey.id == b.id).values(prefix=a.prefix))
    with pytest.raises(StoreError, match="several API keys have prefix"):
        store.keys.revoke(a.prefix)
    assert all(k.active for k in store.keys.all())


# ---------------------------------------------------------------------- the key cache


def test_a_cached_key_needs_no_database_read(store: Store) -> None:
    plaintext, record = store.keys.create("crm", ["read"])
    assert store.keys.cached(plaintext, 60) is None  # not verified yet
    found = store.keys.authenticate(plaintext, cache_s=60)
    assert found is not None and found.id == record.id
    assert store.keys.cached(plaintext, 60) == found
    assert store.keys.cached(plaintext, 0) is None  # a zero cache time: always the database
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert store.keys.authenticate(plaintext, cache_s=60) == found
    assert statements == []
    # a different store of the same database in this process shares the verified keys; a
    # store of another database does not
    with Store(store.url, migrate=False) as twin:
        assert twin.keys.cached(plaintext, 60) == found


def test_unknown_and_revoked_keys_are_never_cached(store: Store) -> None:
    plaintext, record = store.keys.create("crm", ["read"])
    wrong = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert store.keys.authenticate(wrong, cache_s=60) is None
    assert store.keys.cached(wrong, 60) is None
    store.keys.revoke(record.id)
    assert store.keys.authenticate(plaintext, cache_s=60) is None
    assert store.keys.cached(plaintext, 60) is None


def test_a_revoke_in_this_process_applies_at_once(store: Store) -> None:
    plaintext, record = store.keys.create("crm", ["read"])
    kept, _ = store.keys.create("other", ["read"])
    assert store.keys.authenticate(plaintext, cache_s=60) is not None
    assert store.keys.authenticate(kept, cache_s=60) is not None
    with Store(store.url, migrate=False) as twin:  # e.g. the dashboard's store
        twin.keys.revoke(record.prefix)
    assert store.keys.cached(plaintext, 60) is None
    assert store.keys.authenticate(plaintext, cache_s=60) is None
    assert store.keys.authenticate(kept, cache_s=60) is not None  # others re-verified, still valid


def test_a_revoke_elsewhere_applies_when_the_cached_entry_ages_out(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadscore.store.keys as repository

    plaintext, record = store.keys.create("crm", ["read"])
    now = [1000.0]
    monkeypatch.setattr(repository.time, "monotonic", lambda: now[0])
    assert store.keys.authenticate(plaintext, cache_s=5) is not None
    with store.engine.begin() as conn:  # another process revokes: this one is not told
        conn.execute(
            sa.update(ApiKey).where(ApiKey.id == record.id).values(revoked_at=sa.func.now())
        )
    assert store.keys.authenticate(plaintext) is None  # without the cache: refused at once
    now[0] += 4.9
    assert store.keys.authenticate(plaintext, cache_s=5) is not None  # within the cache time
    now[0] += 0.2
    assert store.keys.cached(plaintext, 5) is None
    assert store.keys.authenticate(plaintext, cache_s=5) is None


def test_a_lookup_overtaken_by_a_revoke_does_not_cache_the_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext, record = store.keys.create("crm", ["read"])
    real_read = KeyRepository._read

    def read_then_revoke(self: KeyRepository) -> Any:
        # the lookup has read the key as active; a revoke commits before it caches it
        with real_read(self) as session:
            yield session
        monkeypatch.setattr(KeyRepository, "_read", real_read)
        store.keys.revoke(record.id)

    monkeypatch.setattr(KeyRepository, "_read", contextmanager(read_then_revoke))
    assert store.keys.authenticate(plaintext, cache_s=60) is not None  # answered before the revoke
    assert store.keys.cached(plaintext, 60) is None
    assert store.keys.authenticate(plaintext, cache_s=60) is None


def test_the_cache_compares_hashes_in_constant_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadscore.store.keys as repository

    plaintext, _ = store.keys.create("crm", ["read"])
    store.keys.authenticate(plaintext, cache_s=60)
    calls: list[tuple[str, str]] = []
    real = repository.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(repository.hmac, "compare_digest", spy)
    assert store.keys.cached(plaintext, 60) is not None
    assert calls == [(hashlib.sha256(plaintext.encode()).hexdigest(),) * 2]
