"""What the dashboard adds to the score store (leadscore.store.users and .settings), on
SQLite and PostgreSQL: users with argon2 hashes, sign-in throttling, dashboard settings,
bulk reads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from leadscore.live import add_scores
from leadscore.store import NewScore, Store, StoreError
from leadscore.store.users import WRONG_CREDENTIALS, block_seconds, clean_name

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


def test_users_are_stored_with_an_argon2_hash_only(store: Store) -> None:
    user = store.users.add(" Alice ", "correct horse", "admin")
    assert (user.name, user.role, user.is_admin) == ("alice", "admin", True)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert store.users.get("ALICE") == user
    assert store.users.get("nobody") is None and store.users.get("bad name!") is None
    with pytest.raises(StoreError, match="already a user 'alice'"):
        store.users.add("alice", "another password", "viewer")
    with pytest.raises(StoreError, match="at least 8 characters"):
        store.users.add("bob", "short", "viewer")
    with pytest.raises(StoreError, match="a role is one of admin, viewer"):
        store.users.add("bob", "long enough", "owner")
    with pytest.raises(StoreError, match="a user name is"):
        store.users.add("bob smith", "long enough", "viewer")
    assert clean_name("Bob.Smith@example.com") == "bob.smith@example.com"


def test_roles_passwords_and_the_last_admin(store: Store) -> None:
    store.users.add("alice", "password-a", "admin")
    store.users.add("bob", "password-b", "viewer")
    assert [(u.name, u.role) for u in store.users.all()] == [("alice", "admin"), ("bob", "viewer")]
    with pytest.raises(StoreError, match="last admin"):
        store.users.set_role("alice", "viewer")
    with pytest.raises(StoreError, match="last admin"):
        store.users.remove("alice")
    assert store.users.set_role("bob", "admin").role == "admin"
    assert store.users.set_role("alice", "viewer").role == "viewer"  # bob is admin now
    store.users.set_password("alice", "new-password")
    assert not store.users.login("alice", "password-a").ok
    assert store.users.login("alice", "new-password").ok
    assert store.users.remove("alice").name == "alice"
    assert store.users.get("alice") is None
    with pytest.raises(StoreError, match="no user 'alice'"):
        store.users.remove("alice")


def test_login_says_the_same_for_unknown_names_and_wrong_passwords(store: Store) -> None:
    store.users.add("alice", "correct horse", "admin")
    wrong = store.users.login("alice", "wrong horse")
    unknown = store.users.login("mallory", "correct horse")
    assert wrong.message == unknown.message == WRONG_CREDENTIALS
    assert not wrong.ok and not unknown.ok
    ok = store.users.login("Alice", "correct horse", client="10.0.0.1")
    assert ok.ok and ok.user is not None and ok.user.last_login_at is not None
    # an unknown name costs about as much time as a known one (argon2 runs either way)
    start = time.perf_counter()
    store.users.login("alice", "nope")
    known = time.perf_counter() - start
    start = time.perf_counter()
    store.users.login("nobody-at-all", "nope")
    assert time.perf_counter() - start > known / 4


def test_repeated_failures_are_slowed_down_per_name_and_address(store: Store) -> None:
    store.users.add("alice", "correct horse", "admin")
    now = T0
    for _ in range(2):
        assert store.users.login("alice", "bad", now=now).retry_after_s == 0
    third = store.users.login("alice", "bad", now=now)
    assert third.retry_after_s == 1.0 and "try again in 1 s" in third.message
    # while blocked even the right password is refused, without checking it
    blocked = store.users.login("alice", "correct horse", now=now + timedelta(milliseconds=500))
    assert not blocked.ok and "Too many failed sign-ins" in blocked.message
    # unknown names are throttled exactly the same way: nothing tells them apart
    for _ in range(3):
        last = store.users.login("mallory", "bad", now=now)
    assert last.retry_after_s == 1.0
    # the block doubles with every further failure, and a success clears it
    assert store.users.login("alice", "bad", now=now + timedelta(seconds=2)).retry_after_s == 2.0
    assert store.users.login("alice", "correct horse", now=now + timedelta(seconds=5)).ok
    assert store.users.login("alice", "bad", now=now + timedelta(seconds=6)).retry_after_s == 0
    # failures are forgotten after a quiet quarter of an hour
    later = now + timedelta(hours=1)
    for _ in range(2):
        assert store.users.login("mallory", "bad", now=later).retry_after_s == 0
    assert [block_seconds(n, 3) for n in (2, 3, 4, 12, 40)] == [0.0, 1.0, 2.0, 300.0, 300.0]


def test_one_address_failing_on_many_names_is_slowed_down(store: Store) -> None:
    results = [
        store.users.login(f"user{i}", "bad", client="203.0.113.9", now=T0) for i in range(10)
    ]
    assert results[-1].retry_after_s == 1.0
    refused = store.users.login("someone-else", "whatever", client="203.0.113.9", now=T0)
    assert "Too many failed sign-ins" in refused.message
    assert (
        store.users.login("someone-else", "whatever", client="198.51.100.1", now=T0).retry_after_s
        == 0
    )


def test_dashboard_settings(store: Store) -> None:
    assert store.settings.get("business") is None
    store.settings.set("business", {"cost_per_contact": 20.0, "when": T0}, by="alice")
    store.settings.set("business", {"cost_per_contact": 25.0}, by="bob")
    assert store.settings.get("business") == {"cost_per_contact": 25.0}
    changed = store.settings.changed()["business"]
    assert changed["updated_by"] == "bob" and changed["updated_at"].tzinfo is UTC
    store.settings.delete("business")
    assert store.settings.get("business") is None
    with pytest.raises(StoreError, match="JSON object"):
        store.settings.set("x", ["not", "a", "mapping"])  # type: ignore[arg-type]


def test_queue_points_token_and_lead_iteration(store: Store) -> None:
    token = store.scores.change_token()
    store.leads.upsert_many({"L1": {"source": "google"}, "L2": {"source": "email"}})
    reasons = [{"direction": "up", "text": "Source: google → +5"}]
    later = T0 + timedelta(days=1)
    add_scores(
        store,
        [
            NewScore("L1", "1", 0.2, 20, "cold", False, scored_at=T0),
            NewScore("L1", "1", 0.8, 80, "hot", True, reasons=reasons, scored_at=later),
            NewScore("L2", "1", 0.5, 50, "warm", True, scored_at=T0),
        ],
    )
    assert store.scores.change_token() != token
    queue = store.scores.queue()
    assert [(e.lead_id, e.score_100, e.segment) for e in queue] == [
        ("L1", 80, "hot"),
        ("L2", 50, "warm"),
    ]
    assert queue[0].attributes == {"source": "google"} and queue[0].reasons == reasons
    assert [e.lead_id for e in store.scores.queue(limit=1)] == ["L1"]
    points = store.scores.points()
    assert [(p.lead_id, p.score_100) for p in points] == [("L1", 20), ("L2", 50), ("L1", 80)]
    assert len(store.scores.points(since=T0 + timedelta(hours=1))) == 1
    before = store.scores.change_token()
    store.outcomes.add("L2", True)
    assert store.scores.change_token() != before
    chunks = list(store.leads.iter_attributes(chunk=1))
    assert [[lead_id for lead_id, _ in c] for c in chunks] == [["L1"], ["L2"]]


# ------------------------------------------------- sign-in throttling under parallel guesses


def _count_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every password check slow (as a loaded server's argon2 is) and record it."""
    import leadscore.store.users as users

    checked: list[str] = []
    real = users._verify

    def slow_verify(password_hash: str, password: str) -> bool:
        checked.append(password)
        time.sleep(0.3)
        return real(password_hash, password)

    monkeypatch.setattr(users, "_verify", slow_verify)
    return checked


def _parallel_logins(store: Store, attempts: list[tuple[str, str, str | None]]) -> list:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(len(attempts))

    def attempt(name: str, password: str, client: str | None) -> object:
        start.wait()
        return store.users.login(name, password, client=client, now=T0)

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(lambda a: attempt(*a), attempts))


def test_parallel_wrong_passwords_are_counted_before_they_are_checked(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.store.users import USER_FREE_FAILURES

    store.users.add("alice", "correct horse", "admin")
    checked = _count_verifications(monkeypatch)
    results = _parallel_logins(store, [("alice", f"guess-{i}", None) for i in range(8)])
    # today's code checked all 8 (each read "not blocked" before any failure was written)
    assert len(checked) <= USER_FREE_FAILURES
    assert not any(r.ok for r in results)
    refused = [r for r in results if r.message.startswith("Too many failed sign-ins")]
    assert len(refused) == len(results) - len(checked) >= 8 - USER_FREE_FAILURES
    # the block is the usual one, and the right password works once it is over
    checked.clear()
    assert not store.users.login("alice", "correct horse", now=T0 + timedelta(seconds=0.5)).ok
    assert checked == []  # refused without checking
    assert store.users.login("alice", "correct horse", now=T0 + timedelta(seconds=5)).ok
    # a success clears the count: two more failures start no block
    for _ in range(USER_FREE_FAILURES - 1):
        assert store.users.login("alice", "bad", now=T0 + timedelta(seconds=6)).retry_after_s == 0


def test_parallel_guesses_from_one_address_are_counted_before_they_are_checked(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.store.users import CLIENT_FREE_FAILURES

    checked = _count_verifications(monkeypatch)
    attempts = [(f"user{i}", "bad password", "203.0.113.9") for i in range(16)]
    results = _parallel_logins(store, attempts)
    assert len(checked) <= CLIENT_FREE_FAILURES
    assert not any(r.ok for r in results)
    assert sum(r.message.startswith("Too many") for r in results) >= 16 - CLIENT_FREE_FAILURES
