"""Segment counts kept in memory: exact for this store's own scoring writes, not kept when a
read races a write, dropped when a write fails (store/segment_counts.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from leadscore.live import add_scores
from leadscore.store import NewScore, Store
from leadscore.store.segment_counts import SegmentCounts

SEGMENTS = {"hot": 0.9, "warm": 0.5, "cold": 0.1}


def _score(lead_id: str, segment: str, scored_at: datetime | None = None) -> NewScore:
    p = SEGMENTS[segment]
    return NewScore(lead_id, "1", p, int(p * 100), segment, segment != "cold", scored_at=scored_at)


def test_counts_follow_the_stores_own_scoring_writes_exactly(db_url: str) -> None:
    store = Store(db_url)
    rng = random.Random(4)
    add_scores(store, [_score(f"L{i}", rng.choice(list(SEGMENTS))) for i in range(30)])
    assert store.scores.segment_counts(max_age_s=60) == store.scores.segment_counts()
    reads = []
    real = store.scores._segment_counts.offer
    store.scores._segment_counts.offer = lambda *a: (reads.append(a), real(*a))  # type: ignore[method-assign]
    for step in range(40):
        ids = rng.sample(range(40), k=rng.randint(1, 3))  # new leads and rescored ones
        batch = [_score(f"L{i}", rng.choice(list(SEGMENTS))) for i in ids]
        if step % 7 == 0:  # a backfill: older than the latest score, it moves nothing
            batch = [_score(batch[0].lead_id, "hot", datetime(2020, 1, 1, tzinfo=UTC))]
        add_scores(store, batch)
        assert store.scores.segment_counts(max_age_s=60) == {
            **dict.fromkeys(SEGMENTS, 0),
            **_fresh(store),
        }
    assert reads == []  # every one of those came from memory, moved by the writes


def _fresh(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in store.scores.ranked(limit=1000):
        counts[record.segment] = counts.get(record.segment, 0) + 1
    return counts


def test_other_processes_writes_show_once_the_counts_are_older_than_asked(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    mine, other = Store(url), Store(url)
    add_scores(mine, [_score("A", "hot")])
    assert mine.scores.segment_counts(max_age_s=60)["hot"] == 1
    add_scores(other, [_score("B", "hot")])  # another process: not seen by mine's memory
    assert mine.scores.segment_counts(max_age_s=60)["hot"] == 1
    assert mine.scores.segment_counts(max_age_s=0)["hot"] == 2


def test_a_read_racing_a_write_is_not_kept() -> None:
    counts = SegmentCounts()
    token = counts.before_read()
    with counts.writing() as moves:  # ended during the read: it may or may not be in it
        moves.append((None, "hot"))
    counts.offer(token, {"hot": 0, "warm": 0, "cold": 0})
    assert counts.cached(60) is None
    with counts.writing():  # running at the end of the read: likewise
        token = counts.before_read()
        counts.offer(token, {"hot": 1, "warm": 0, "cold": 0})
    assert counts.cached(60) is None
    counts.offer(counts.before_read(), {"hot": 1, "warm": 0, "cold": 0})
    assert counts.cached(60) == {"hot": 1, "warm": 0, "cold": 0}


def test_a_failed_write_drops_the_counts_and_an_old_read_expires() -> None:
    counts = SegmentCounts()
    counts.offer(counts.before_read(), {"hot": 1, "warm": 0, "cold": 0})
    with pytest.raises(RuntimeError), counts.writing() as moves:
        moves.append(("hot", "cold"))
        raise RuntimeError("the commit failed")
    assert counts.cached(60) is None
    counts.offer(counts.before_read(), {"hot": 1, "warm": 0, "cold": 0})
    counts._counts = (counts._counts[0] - 5, *counts._counts[1:])  # type: ignore[index]
    assert counts.cached(1.0) is None and counts.cached(60) is not None


def test_rescoring_a_lead_backwards_in_time_moves_nothing(db_url: str) -> None:
    store = Store(db_url)
    now = datetime.now(UTC)
    add_scores(store, [_score("L1", "hot", now)])
    assert store.scores.segment_counts(max_age_s=60)["hot"] == 1
    add_scores(store, [_score("L1", "cold", now - timedelta(days=1))])
    assert store.scores.segment_counts(max_age_s=60) == {"hot": 1, "warm": 0, "cold": 0}
