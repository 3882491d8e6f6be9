"""Reads the store answers for monitoring and retraining without handing out its tables
(store/scores_at.py, store/webhook_reads.py): a lead's score as it stood at a time, and
the deliveries already queued; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from leadscore.store import NewDelivery, NewScore, Store, StoreError
from leadscore.store.scores_at import scores_at
from leadscore.store.secrets import new_key
from leadscore.store.webhook_reads import active_webhooks, queued_deliveries

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


def _score(store: Store, lead_id: str, points: int, at: datetime, **extra: object) -> int:
    with store.scores.scoring([lead_id]) as writer:
        (stored,) = writer.add(
            [NewScore(lead_id, "1", points / 100, points, "hot", True, scored_at=at, **extra)]
        )
    return stored.record.id


def test_each_pair_gets_the_last_score_at_or_before_its_time(store: Store) -> None:
    first = _score(store, "L1", 20, T0)
    tie_early = _score(store, "L1", 40, T0 + HOUR)
    tie_late = _score(store, "L1", 60, T0 + HOUR, explored=True, propensity=0.05)
    other = _score(store, "L2", 90, T0 + 2 * HOUR)
    assert tie_early < tie_late
    wanted = [
        ("L1", T0 - HOUR),  # before any score
        ("L1", T0),  # exactly at one: it counts
        ("L1", T0 + HOUR / 2),
        ("L1", T0 + HOUR),  # two at one instant: the one stored later
        ("L2", T0 + 3 * HOUR),
        ("L1", (T0 + 5 * HOUR).replace(tzinfo=None)),  # naive: UTC
        ("nobody", T0),
        ("L1", T0),  # a pair may repeat
    ]
    found = store.scores.at(wanted)
    assert [None if s is None else s.id for s in found] == [
        None, first, first, tie_late, other, tie_late, None, first,
    ]  # fmt: skip
    late = found[3]
    assert late is not None
    assert (late.lead_id, late.score, late.score_100, late.segment, late.contact) == (
        "L1", 0.6, 60, "hot", True,
    )  # fmt: skip
    assert (late.explored, late.propensity, late.model_version) == (True, 0.05, "1")
    assert late.scored_at == T0 + HOUR and late.scored_at.tzinfo is not None
    assert found[0] is None and found[2] is not None and found[2].propensity is None
    # chunked, and on a transaction's connection, the same answers
    with store.engine.connect() as conn:
        assert scores_at(conn, wanted, chunk=3) == found
    with store.scores.scoring(["L1"]) as writer:
        assert store.scores.at(wanted, writer.connection) == found
        writer.add([])
    assert store.scores.at([]) == []


def test_bad_pairs_are_refused_by_name(store: Store) -> None:
    with pytest.raises(StoreError, match="lead id"):
        store.scores.at([("", T0)])
    with pytest.raises(TypeError, match="time of lead 'L1' must be a datetime"):
        store.scores.at([("L1", "2026-03-02")])  # type: ignore[list-item]
    with store.engine.connect() as conn, pytest.raises(ValueError, match="chunk"):
        scores_at(conn, [("L1", T0)], chunk=0)


def test_queued_deliveries_of_a_kind_for_some_webhooks_and_leads(store: Store) -> None:
    moved = store.webhooks.add("https://crm.example.com/a", "s3cret", kinds=["moved"])
    other = store.webhooks.add("https://crm.example.com/b", "s3cret", kinds=["moved", "hot"])
    _score(store, "L1", 90, T0)
    with store.scores.scoring(["L1", "L2"]) as writer:
        conn = writer.connection
        store.webhooks.enqueue(
            conn,
            [
                NewDelivery(moved.id, "L1", "moved", {"score_id": 1}),
                NewDelivery(moved.id, "L2", "moved", {"score_id": 2}),
                NewDelivery(other.id, "L1", "moved", {"score_id": 1}),
                NewDelivery(moved.id, "L1", "hot", {"score_id": 1}),
            ],
            writer.now,
        )
        # seen in the transaction that queued them
        inside = queued_deliveries(conn, "moved", [moved.id], ["L1", "L2"])
        writer.add([])
    assert sorted(inside) == [(moved.id, "L1", {"score_id": 1}), (moved.id, "L2", {"score_id": 2})]
    with store.engine.connect() as conn:
        assert queued_deliveries(conn, "moved", [other.id], ["L1", "L2"]) == [
            (other.id, "L1", {"score_id": 1})
        ]
        assert queued_deliveries(conn, "hot", [moved.id, other.id], ["L1"]) == [
            (moved.id, "L1", {"score_id": 1})
        ]
        assert queued_deliveries(conn, "moved", [moved.id], []) == []
        assert queued_deliveries(conn, "moved", [], ["L1"]) == []
        many = [f"X{i}" for i in range(1200)] + ["L2"]  # more leads than one IN list holds
        assert queued_deliveries(conn, "moved", [moved.id], many) == [
            (moved.id, "L2", {"score_id": 2})
        ]


def test_active_webhooks_read_on_a_scoring_connection_as_the_repository_has_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read every real-time score makes (straight to sqlite3 on SQLite) gives the same
    records as the repository: secrets opened, kinds, times; removed webhooks left out."""
    monkeypatch.setenv("LEADSCORE_SECRET_KEY", new_key())  # secrets sealed at rest
    kept = store.webhooks.add("https://crm.example.com/a", "s3cret-a", kinds=["hot", "moved"])
    gone = store.webhooks.add("https://crm.example.com/b", "s3cret-b", min_jump=40)
    store.webhooks.remove(gone.id)
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql(f"SELECT secret FROM webhooks WHERE id = {kept.id}")
        assert "s3cret" not in stored.scalar_one()
    with store.scores.scoring(["L1"]) as writer:
        read = active_webhooks(writer.connection)
        writer.add([])
    (listed,) = [h for h in store.webhooks.all() if h.active]
    assert read == [listed]
    assert (read[0].id, read[0].secret, read[0].kinds) == (kept.id, "s3cret-a", ("hot", "moved"))
    assert read[0].created_at.tzinfo is not None
