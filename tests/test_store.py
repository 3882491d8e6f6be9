"""The score store (leadscore.store) on a real SQLite file and a real PostgreSQL.

Every store test runs on both databases (``db_url`` in conftest.py): PostgreSQL tests get
a schema of their own (``search_path`` in the URL, so Alembic's version table lives there
too), dropped afterwards. Without a server they skip, except under ``CI=true``.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.errors import LeadscoreError
from leadscore.live import add_score, add_scores, scoring
from leadscore.store import NewScore, Store, StoreError, make_engine, mask, normalise_url, upgrade
from leadscore.store.checkpoint import Checkpointer
from leadscore.store.db import current_revision, head_revision, write_engine
from leadscore.store.tables import Base

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


# ---------------------------------------------------------------------- engine, schema


def test_normalise_and_mask_urls() -> None:
    assert normalise_url("postgres://me:pw@db:5432/crm") == "postgresql+psycopg://me:pw@db:5432/crm"
    assert normalise_url("postgresql://me@db/crm") == "postgresql+psycopg://me@db/crm"
    assert normalise_url("postgresql+psycopg://me@db/crm") == "postgresql+psycopg://me@db/crm"
    assert normalise_url("sqlite:///leadscore.db") == "sqlite:///leadscore.db"
    assert mask("postgresql://me:secret@db/crm") == "postgresql+psycopg://me:***@db/crm"
    with pytest.raises(StoreError, match="malformed database URL"):
        normalise_url("not a url")
    with pytest.raises(StoreError, match="SQLite or PostgreSQL"):
        make_engine("mysql://me@db/crm")


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in (
                "journal_mode",
                "foreign_keys",
                "busy_timeout",
                "synchronous",
                "wal_autocheckpoint",
            )
        }
    engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,
        "wal_autocheckpoint": 10_000,  # a commit rarely pays for a checkpoint (store/db.py)
    }


def test_sqlite_transactions_begin_as_the_store_needs(tmp_path: Path) -> None:
    """A write transaction holds the write lock from its BEGIN (IMMEDIATE), before any
    statement (the store reads state, then writes, relying on it); a read transaction
    reads one snapshot and does not hold the lock."""
    import sqlite3

    path = tmp_path / "x.db"
    with Store(f"sqlite:///{path}") as store:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with (
                write_engine(store.engine).begin(),
                pytest.raises(sqlite3.OperationalError, match="locked"),
            ):
                other.execute("BEGIN IMMEDIATE")
            with store.engine.begin() as conn:
                count = "SELECT count(*) FROM leads"
                assert conn.exec_driver_sql(count).scalar() == 0
                other.execute("BEGIN IMMEDIATE")  # the reader does not hold the lock
                other.execute("INSERT INTO leads VALUES ('X', '{}', '2025-01-01', '2025-01-01')")
                other.execute("COMMIT")
                assert conn.exec_driver_sql(count).scalar() == 0  # its snapshot
            assert store.leads.get("X") is not None
        finally:
            other.close()


def test_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LeadscoreError, match="cannot open the score store") as caught:
        Store("postgresql://me:hunter2@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "hunter2" not in str(caught.value)  # passwords never in messages
    with pytest.raises(StoreError, match="cannot open the score store"):
        Store(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")


def test_migrations_match_the_models_and_upgrade_is_idempotent(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(db_url)
    upgrade(db_url)  # nothing to do the second time
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision() == "0006"
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            if conn.dialect.name == "postgresql":  # the version table is in the test schema
                schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
                found = conn.exec_driver_sql(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = 'alembic_version'"
                ).scalars()
                assert schema in set(found)
    finally:
        engine.dispose()


def test_store_defaults_to_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", f"sqlite:///{tmp_path / 'configured.db'}")
    with Store() as store:
        store.leads.upsert("L1", {})
    assert (tmp_path / "configured.db").is_file()
    monkeypatch.delenv("LEADSCORE_DATABASE_URL")
    with Store() as store:  # the default: leadscore.db in the working directory
        assert store.leads.get("L1") is None
    assert (tmp_path / "leadscore.db").is_file()


def test_store_without_migration_needs_an_upgraded_database(db_url: str) -> None:
    with Store(db_url, migrate=False) as store, pytest.raises(sa.exc.DBAPIError):
        store.leads.get("L1")
    upgrade(db_url)
    with Store(db_url, migrate=False) as store:
        assert store.leads.get("L1") is None


# ---------------------------------------------------------------------- leads, events


def test_upsert_lead_merges_attributes(store: Store) -> None:
    assert store.leads.get("L1") is None
    first = store.leads.upsert("L1", {"source": "google", "country": "FR", "visits": 3})
    second = store.leads.upsert("L1", {"country": "DE", "budget": float("nan")})
    assert second.attributes == {"source": "google", "country": "DE", "visits": 3, "budget": None}
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert second.created_at.tzinfo is UTC
    assert store.leads.get("L1") == second
    assert store.leads.upsert("L1", {}).attributes == second.attributes
    records = store.leads.upsert_many({"L2": {"a": 1}, "L1": {"visits": 4}})
    assert [r.id for r in records] == ["L2", "L1"]
    assert store.leads.get("L1").attributes["visits"] == 4
    with pytest.raises(StoreError, match="lead id"):
        store.leads.upsert("", {})


def test_events_are_stored_once_in_time_order(store: Store) -> None:
    events = [
        {"event_id": "e2", "time": T0 + timedelta(minutes=5), "event": "pricing_view"},
        {"event_id": "e1", "timestamp": T0.isoformat(), "name": "page_view", "url": "/"},
        # no id: identified by content (field order does not matter)
        {"time": "2025-03-01T10:01:00Z", "event": "click", "button": "demo", "page": "/"},
    ]
    assert store.events.add("L1", events) == 3
    assert store.leads.get("L1") is not None  # created with its first event
    again = [
        {"event_id": "e1", "time": T0, "event": "page_view"},  # same id: a duplicate
        {"page": "/", "button": "demo", "event": "click", "time": T0.timestamp() + 60},
        {"time": int((T0.timestamp() + 60) * 1000), "event": "click", "button": "trial"},
        {"time": T0 + timedelta(minutes=9), "event": "signup", "properties": {"plan": "pro"}},
        {"time": T0 + timedelta(minutes=9), "event": "signup", "properties": {"plan": "pro"}},
    ]
    assert store.events.add("L1", again) == 2  # the new click and one signup
    stored = store.events.for_lead("L1")
    assert [e.name for e in stored] == ["page_view", "click", "click", "pricing_view", "signup"]
    assert [e.time for e in stored] == sorted(e.time for e in stored)
    assert stored[0].event_id == "e1" and stored[0].properties == {"url": "/"}
    assert stored[-1].properties == {"plan": "pro"}
    assert all(len(e.event_id) == 64 for e in stored if e.name == "click")
    assert store.events.for_lead("nobody") == []
    assert store.events.add("L1", []) == 0


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"event": "x"}, "event 0 of lead 'L1' has no time"),
        ({"time": T0}, "event 0 of lead 'L1' has no name"),
        ({"time": "yesterday", "event": "x"}, "cannot read the time 'yesterday'"),
        ({"time": T0, "event": "x", "lead_id": "L2"}, "belongs to lead 'L2'"),
    ],
)
def test_bad_events_are_refused_with_the_reason(event: dict, message: str, tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        with pytest.raises(StoreError, match=message):
            store.events.add("L1", [event])
        assert store.leads.get("L1") is None  # nothing half-written


# ---------------------------------------------------------------------- scores


def test_score_history_latest_scores_and_segments(store: Store) -> None:
    add_score(store, "L1", "1", 0.20, 20, "cold", False, scored_at=T0)
    add_score(
        store,
        "L1",
        "1",
        0.85,
        85,
        "hot",
        True,
        reasons=[{"field": "visits"}],
        scored_at=T0 + timedelta(hours=1),
    )
    add_score(store, "L2", "1", 0.55, 55, "warm", True, scored_at=T0)
    add_score(store, "L3", "2", 0.91, 91, "hot", True, scored_at=T0)
    add_score(store, "L4", "2", 0.05, 5, "cold", False, scored_at=T0)
    # a backfill (older than the latest) joins the history but does not become the latest
    add_score(store, "L1", "0", 0.10, 10, "cold", False, scored_at=T0 - timedelta(days=1))

    history = store.scores.history("L1")
    assert [s.score_100 for s in history] == [85, 20, 10]
    assert history[0].reasons == [{"field": "visits"}] and history[0].scored_at.tzinfo is UTC
    assert [s.score_100 for s in store.scores.history("L1", limit=1)] == [85]
    assert store.scores.latest("L1") == history[0]
    assert store.scores.latest("nobody") is None

    assert [s.lead_id for s in store.scores.ranked()] == ["L3", "L1", "L2", "L4"]
    assert [s.lead_id for s in store.scores.ranked(segment="hot")] == ["L3", "L1"]
    assert [s.lead_id for s in store.scores.ranked(limit=2, offset=1)] == ["L1", "L2"]
    assert store.scores.ranked(segment="cold")[0].lead_id == "L4"
    assert store.scores.segment_counts() == {"hot": 2, "warm": 1, "cold": 1}


def test_batch_scores_apply_in_order(store: Store) -> None:
    scores, _ = add_scores(
        store,
        [
            NewScore("B1", "1", 0.1, 10, "cold", False),
            NewScore("B2", "1", 0.7, 70, "hot", True),
            NewScore("B1", "1", 0.6, 60, "warm", True),
        ],
    )
    assert [s.lead_id for s in scores] == ["B1", "B2", "B1"]
    assert len({s.id for s in scores}) == 3
    assert store.scores.latest("B1").score_100 == 60
    assert add_scores(store, []) == ([], [])


def test_scores_and_attributes_go_in_together(store: Store) -> None:
    store.leads.upsert("A1", {"source": "google", "visits": 2})
    scores, _ = add_scores(
        store,
        [NewScore("A1", "1", 0.4, 40, "warm", True), NewScore("A2", "1", 0.1, 10, "cold", False)],
        attributes={"A1": {"visits": 5}, "A2": {"source": "email"}},
    )
    assert [s.lead_id for s in scores] == ["A1", "A2"]
    assert store.leads.get("A1").attributes == {"source": "google", "visits": 5}
    assert store.leads.get("A2").attributes == {"source": "email"}
    with pytest.raises(StoreError, match="within 0–1"):  # a bad score: nothing of it lands
        add_scores(
            store, [NewScore("A1", "1", 2.0, 40, "warm", True)], attributes={"A1": {"visits": 99}}
        )
    assert store.leads.get("A1").attributes["visits"] == 5
    assert len(store.scores.history("A1")) == 1


@pytest.mark.parametrize(
    ("score", "score_100", "segment", "message"),
    [
        (1.5, 150, "hot", "within 0–1"),
        (float("nan"), 50, "warm", "within 0–1"),
        (0.5, 50.5, "warm", "whole number 0–100"),
        (0.5, 50, "", "segment"),
    ],
)
def test_bad_scores_are_refused(
    score: float, score_100: int, segment: str, message: str, tmp_path: Path
) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        with pytest.raises(StoreError, match=message):
            add_score(store, "L1", "1", score, score_100, segment, True)
        assert store.scores.history("L1") == []


def test_values_from_numpy_and_pandas_are_stored_as_plain_json(store: Store) -> None:
    import numpy as np
    import pandas as pd

    score, _ = add_score(store,
        "N1", "1", np.float64(0.42), np.int64(42), "warm", np.bool_(True),
        reasons=[{"points": np.float32(1.5), "value": float("inf"), "when": T0}],
    )  # fmt: skip
    assert (score.score, score.score_100, score.contact) == (0.42, 42, True)
    assert type(score.score_100) is int
    assert store.scores.history("N1")[0].reasons == [
        {"points": 1.5, "value": None, "when": "2025-03-01T10:00:00+00:00"}
    ]
    assert store.events.add("N1", [{"time": pd.Timestamp(T0), "event": "view"}]) == 1
    assert store.events.add("N1", [{"time": T0.replace(tzinfo=None), "event": "view"}]) == 0
    assert store.events.for_lead("N1")[0].time == T0


def test_a_scoring_transaction_is_opened_before_the_scores_are_known(store: Store) -> None:
    add_score(store, "S1", "1", 0.2, 20, "cold", False)
    with scoring(store, ["S1", "S2"], {"S2": {"visits": 3}}) as writer:
        # the leads are created (and locked) before any score is given
        scores, deliveries = writer.add(
            [NewScore("S1", "1", 0.9, 90, "hot", True), NewScore("S2", "1", 0.5, 50, "warm", True)]
        )
        with pytest.raises(StoreError, match="stored its scores already"):
            writer.add([NewScore("S1", "1", 0.1, 10, "cold", False)])
    assert [s.lead_id for s in scores] == ["S1", "S2"] and deliveries == []
    assert [s.score_100 for s in store.scores.history("S1")] == [90, 20]
    assert store.leads.get("S2").attributes == {"visits": 3}


def test_a_scoring_transaction_left_without_scores_keeps_nothing(store: Store) -> None:
    with scoring(store, ["S3"], {"S3": {"visits": 1}}):
        pass  # e.g. the model failed on the lead
    assert store.leads.get("S3") is None
    with pytest.raises(RuntimeError), scoring(store, ["S4"], {"S4": {"visits": 1}}) as writer:
        writer.add([NewScore("S4", "1", 0.5, 50, "warm", True)])
        raise RuntimeError("after the insert, before the commit")
    assert store.leads.get("S4") is None and store.scores.history("S4") == []
    with scoring(store, ["S5"]) as writer, pytest.raises(StoreError, match="not locked"):
        writer.add([NewScore("S6", "1", 0.5, 50, "warm", True)])
    assert store.leads.get("S6") is None


def test_json_text_is_the_same_with_or_without_conversion() -> None:
    import json

    import numpy as np

    from leadscore.store.json_columns import _plain, dumps_json

    plain = {"a": [1, 2.5, None, True], "b": {"c": "d"}, 3: "int key", None: 0, False: 1}
    # plain values take json's encoder alone; the same values with one numpy scalar
    # among them go through the conversion: the text must not depend on the way
    assert dumps_json(plain) == json.dumps(_plain(plain))
    mixed = {**plain, "n": np.int64(4)}
    assert json.loads(dumps_json(mixed)) == {**json.loads(dumps_json(plain)), "n": 4}
    assert dumps_json({"x": float("nan"), "y": (1, 2)}) == '{"x": null, "y": [1, 2]}'


def test_in_memory_store() -> None:
    with Store("sqlite://") as store:
        add_score(store, "M1", "1", 0.5, 50, "warm", True)
        assert store.scores.latest("M1").score_100 == 50


def test_outcomes_latest_wins(store: Store) -> None:
    store.outcomes.add("L1", False, occurred_at=T0)
    store.outcomes.add("L2", True, occurred_at=T0 + timedelta(days=2))
    corrected = store.outcomes.add("L1", True, occurred_at=T0 + timedelta(days=1))
    assert corrected.converted and corrected.occurred_at == T0 + timedelta(days=1)
    assert [(o.lead_id, o.converted) for o in store.outcomes.all()] == [("L1", True), ("L2", True)]
    assert [o.lead_id for o in store.outcomes.all(since=T0 + timedelta(days=2))] == ["L2"]
    assert len(store.outcomes.all(latest_only=False)) == 3
    assert store.leads.get("L2") is not None
    assert store.outcomes.latest("L1") == corrected
    assert store.outcomes.latest("nobody") is None


def test_ping(store: Store, tmp_path: Path) -> None:
    store.ping()
    broken = Store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", migrate=False)
    with pytest.raises(sa.exc.OperationalError):
        broken.ping()


def test_ping_reads_the_stores_own_tables(db_url: str) -> None:
    with Store(db_url, migrate=False) as bare:  # a database that answers, without a store
        if bare.dialect == "sqlite":
            with pytest.raises(sa.exc.OperationalError, match="no such table"):
                bare.ping()
        else:
            with pytest.raises(sa.exc.ProgrammingError, match="leads"):
                bare.ping()


def _move(path: Path, to: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            Path(f"{path}{suffix}").rename(f"{to}{suffix}")


def test_a_store_file_moved_away_is_an_error_and_is_served_again_once_back(
    tmp_path: Path,
) -> None:
    path, aside = tmp_path / "leadscore.db", tmp_path / "aside.db"
    store = Store(f"sqlite:///{path}")
    store.leads.upsert("L1", {"source": "google"})
    store.checkpoint()
    _move(path, aside)
    # every pooled connection still holds the moved file: none may answer for the path
    for _ in range(3):
        with pytest.raises(sa.exc.OperationalError, match="unable to open"):
            store.leads.get("L1")
        with pytest.raises(sa.exc.OperationalError):
            store.ping()
    assert not path.exists()  # no new, empty store in its place
    _move(aside, path)
    assert store.leads.get("L1") is not None  # recovered without reopening the store
    store.ping()


def test_a_connection_to_a_replaced_store_file_is_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "leadscore.db"
    old = Store(f"sqlite:///{path}")
    old.leads.upsert("OLD", {})
    with old.db.engine.connect():  # a pooled connection holds the old file
        pass
    replacement = tmp_path / "replacement.db"
    with Store(f"sqlite:///{replacement}") as other:
        other.leads.upsert("NEW", {})
        other.db.engine.dispose()
    for suffix in ("-wal", "-shm"):  # the old file's log must not be read with the new one
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    replacement.replace(path)
    assert old.leads.get("NEW") is not None and old.leads.get("OLD") is None


# ---------------------------------------------------------------------- concurrency

LEADS = ["C1", "C2", "C3"]
ROUNDS = 12


def _hammer(url: str, worker: int, rounds: int, store: Store | None = None) -> None:
    """One concurrent writer: per round, for every shared lead, an attribute of its own, an
    event of its own plus one every writer posts, and a score. Every other round the
    attribute goes in with the score (``add_scores(attributes=…)``) instead of with
    ``upsert_lead``, so both ways of merging attributes race with each other."""
    own = store or Store(url)
    try:
        for r in range(rounds):
            for lead in LEADS:
                attributes = {f"w{worker}_r{r}": r, "last": worker}
                with_score = (worker + r) % 2 == 1
                if not with_score:
                    own.leads.upsert(lead, attributes)
                own.events.add(
                    lead,
                    [
                        {
                            "event_id": f"{worker}-{r}",
                            "time": T0 + timedelta(seconds=r),
                            "event": "view",
                        },
                        {
                            "event_id": f"shared-{r}",
                            "time": T0 + timedelta(seconds=r),
                            "event": "view",
                        },
                    ],
                )
                hot = (worker + r) % 3 == 0
                score_100 = 90 if hot else (20 + 5 * ((worker * 7 + r) % 7))
                segment = "hot" if hot else "cold"
                if with_score:
                    add_scores(
                        own,
                        [NewScore(lead, "1", score_100 / 100, score_100, segment, hot)],
                        attributes={lead: attributes},
                    )
                else:
                    add_score(own, lead, "1", score_100 / 100, score_100, segment, hot)
    finally:
        if store is None:
            own.close()


def _process_main(
    url: str, worker: int, rounds: int, barrier: multiprocessing.synchronize.Barrier
) -> None:
    barrier.wait(timeout=120)  # 1: everyone opens (and migrates) the new database at once
    with Store(url) as store:
        barrier.wait(timeout=120)  # 2: all migrated; the parent adds the webhooks
        barrier.wait(timeout=120)  # 3: go
        _hammer(url, worker, rounds, store)


def _check_concurrent_result(url: str, workers: int, rounds: int) -> None:
    with Store(url) as store:
        hooks = {h.kinds: h for h in store.webhooks.all()}
        for lead in LEADS:
            attributes = store.leads.get(lead).attributes
            # no lost update: every writer's every attribute survived the merges
            assert {k for k in attributes if k != "last"} == {
                f"w{w}_r{r}" for w in range(workers) for r in range(rounds)
            }
            events = store.events.for_lead(lead)
            assert len(events) == workers * rounds + rounds  # own ones + shared once each
            assert len({e.event_id for e in events}) == len(events)

            history = store.scores.history(lead, limit=10_000)
            assert len(history) == workers * rounds  # none lost, none duplicated
            in_order = history[::-1]
            assert [s.id for s in sorted(in_order, key=lambda s: (s.scored_at, s.id))] == [
                s.id for s in in_order
            ]
            assert store.scores.latest(lead) == history[0]
            # each score saw exactly its predecessor: deliveries match the history's transitions
            expected: Counter[tuple[int, str]] = Counter()
            for previous, current in zip([None, *in_order], in_order, strict=False):
                if current.segment == "hot" and (previous is None or previous.segment != "hot"):
                    expected[(hooks[("hot",)].id, "hot")] += 1
                if previous is not None and current.score_100 - previous.score_100 >= 30:
                    expected[(hooks[("jump",)].id, "jump")] += 1
            got = Counter(
                (d.webhook_id, d.kind)
                for d in store.webhooks.deliveries(limit=100_000)
                if d.lead_id == lead
            )
            assert got == expected
        assert sum(store.scores.segment_counts().values()) == len(LEADS)
        assert len(store.scores.ranked(limit=100)) == len(LEADS)


def _add_hooks(url: str) -> None:
    from leadscore.config.settings import WebhookSettings

    with Store(url) as store:
        store.webhooks.configure(WebhookSettings(allow_private=True))  # 127.0.0.1: opted in
        store.webhooks.add("http://127.0.0.1:9/hot", "s", kinds=["hot"])
        store.webhooks.add("http://127.0.0.1:9/jump", "s", kinds=["jump"], min_jump=30)


def test_concurrent_threads_lose_and_duplicate_nothing(db_url: str) -> None:
    _add_hooks(db_url)
    workers, errors = 6, []
    shared = Store(db_url)  # half the threads share one store (pool), half have their own

    def run(worker: int) -> None:
        try:
            _hammer(db_url, worker, ROUNDS, shared if worker % 2 else None)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    shared.close()
    assert errors == []
    _check_concurrent_result(db_url, workers, ROUNDS)


def test_concurrent_batches_of_overlapping_leads_neither_deadlock_nor_lose(db_url: str) -> None:
    """Writers of multi-lead batches in shuffled orders, creating the same new lead at the
    same moment (a barrier per round), merging attributes with add_scores and with
    upsert_leads: leads are created and locked in id order, so no two writers wait for
    each other (PostgreSQL would abort one as a deadlock), and no merge or score is lost."""
    import random

    workers, rounds = 4, 8
    shared = [f"D{i}" for i in range(6)]
    barrier = threading.Barrier(workers)
    errors: list[Exception] = []
    store = Store(db_url)

    def run(worker: int) -> None:
        rng = random.Random(worker)
        try:
            for r in range(rounds):
                leads = [*shared, f"N{r}"]  # N{r} is new to every writer of round r
                rng.shuffle(leads)
                barrier.wait(timeout=60)
                add_scores(
                    store,
                    [NewScore(lead, "1", 0.5, 10 * worker + r, "warm", True) for lead in leads],
                    attributes={lead: {f"s{worker}_r{r}": r} for lead in leads},
                )
                rng.shuffle(leads)
                store.leads.upsert_many({lead: {f"u{worker}_r{r}": r} for lead in leads})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    try:
        assert errors == []
        for lead in [*shared, *(f"N{r}" for r in range(rounds))]:
            written = range(rounds) if lead in shared else [int(lead[1:])]
            assert set(store.leads.get(lead).attributes) == {
                f"{kind}{w}_r{r}" for kind in "su" for w in range(workers) for r in written
            }
            history = store.scores.history(lead, limit=1000)
            assert len(history) == workers * len(written)
            assert store.scores.latest(lead) == history[0]
    finally:
        store.close()


@pytest.mark.slow
def test_concurrent_processes_lose_and_duplicate_nothing(db_url: str) -> None:
    """Three processes open a brand-new database at the same moment (concurrent
    migrations), then write the same leads. (Most of the time is the children importing
    leadscore.)"""
    context = multiprocessing.get_context("spawn")
    workers = 3
    barrier = context.Barrier(workers + 1)
    processes = [
        context.Process(target=_process_main, args=(db_url, w, ROUNDS, barrier))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        barrier.wait(timeout=120)
        barrier.wait(timeout=120)
        _add_hooks(db_url)
        barrier.wait(timeout=120)
    finally:
        for process in processes:
            process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * workers
    _check_concurrent_result(db_url, workers, ROUNDS)


# ---------------------------------------------------------------------- checkpoints


def test_checkpoint_moves_the_write_ahead_log_into_the_file(store: Store, tmp_path: Path) -> None:
    for i in range(30):
        add_scores(store, [NewScore(f"C{i}", "1", 0.5, 50, "warm", True)])
    done = store.checkpoint()
    if store.dialect != "sqlite":
        assert done is None  # PostgreSQL has its own
        return
    logged, copied = done
    assert logged > 0 and copied == logged  # nobody reading: everything copied
    add_scores(store, [NewScore("C-late", "1", 0.5, 50, "warm", True)])
    again, copied = store.checkpoint()
    assert again < logged and copied == again  # the next write started the log over
    assert len(store.scores.ranked(limit=100)) == 31  # nothing lost on the way
    assert Store("sqlite://").checkpoint() is None  # in memory: no log


def test_checkpointer_thread_keeps_the_log_short(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = Store(f"sqlite:///{path}")
    store.checkpoint()
    before = path.stat().st_mtime_ns  # commits write the log; only a checkpoint the file
    checkpointer = Checkpointer(store, interval_s=0.05).start()
    try:
        for i in range(50):
            add_scores(store, [NewScore(f"T{i}", "1", 0.5, 50, "warm", True)])
        deadline = time.monotonic() + 10
        while path.stat().st_mtime_ns == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_mtime_ns != before
        assert checkpointer._thread is not None and checkpointer._thread.is_alive()
    finally:
        checkpointer.stop()
    assert checkpointer._thread is not None and not checkpointer._thread.is_alive()
    assert len(store.scores.ranked(limit=100)) == 50
    with pytest.raises(ValueError, match="positive"):
        Checkpointer(store, interval_s=0)
