"""The dashboard's store reads (ui/web.py) outside Streamlit: the lead page's "leads scoring
like this one in earlier weeks" reads at most two scores per lead (each lead's last, and
each outcome's last before it), never the whole history, and says what the whole history
says; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import streamlit as st

from leadscore.monitor.cohorts import earlier_cohorts_rate
from leadscore.monitor.data import cohort_frames, leads_frame, outcomes_frame, scores_frame
from leadscore.store import NewScore, Store
from leadscore.store.scores import ScoreRepository
from leadscore.ui import web

NOW = datetime.now(UTC).replace(microsecond=0)
#: two earlier weeks, and the week of the lead compared
WEEK0, WEEK1 = NOW - timedelta(days=28), NOW - timedelta(days=21)
DAY = timedelta(days=1)


def _scores(store: Store, *items: tuple[str, int, datetime]) -> None:
    """Each ``(lead, score_100, at)`` in its own scoring transaction, in the order given."""
    for lead_id, points, at in items:
        with store.scores.scoring([lead_id]) as writer:
            writer.add([NewScore(lead_id, "1", points / 100, points, "hot", True, scored_at=at)])


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """Earlier leads in the 80s before their outcomes, with the cases where a lead's last
    score is not the one it counts at."""
    with Store(db_url) as opened:
        _scores(
            opened,
            ("A", 84, WEEK0), ("A", 20, WEEK0 + 5 * DAY),  # re-scored after its outcome
            ("B", 30, WEEK0), ("B", 86, WEEK0 + DAY),  # moved into the 80s before it
            ("C", 85, WEEK1), ("C", 50, WEEK1 + DAY), ("C", 88, WEEK1 + DAY),  # a tie: 88
            ("D", 83, WEEK1), ("D", 10, WEEK1 + 2 * DAY),  # scored at its outcome's instant
            ("E", 87, WEEK1),  # no outcome
            ("F", 81, WEEK1),  # an outcome corrected
            ("H", 55, WEEK1), ("H", 89, WEEK1 + 3 * DAY),  # in the 80s only after it
            ("NEW", 82, NOW - DAY),
        )  # fmt: skip
        for lead_id, converted, at in (
            ("A", True, WEEK0 + 3 * DAY),
            ("B", False, WEEK0 + 4 * DAY),
            ("C", True, WEEK1 + 2 * DAY),
            ("D", True, WEEK1 + 2 * DAY),
            ("F", True, WEEK1 + DAY),
            ("F", False, WEEK1 + 2 * DAY),
            ("G", True, WEEK1 + DAY),  # never scored
            ("H", True, WEEK1 + 2 * DAY),
        ):
            opened.outcomes.add(lead_id, converted, at)
        created = {lead: WEEK0 for lead in "AB"} | {lead: WEEK1 for lead in "CDEFGH"}
        opened.leads.backdate(created)
        yield opened


def _whole_history(store: Store, lead_id: str) -> Any:
    return earlier_cohorts_rate(
        leads_frame(store), scores_frame(store), outcomes_frame(store), lead_id
    )


def test_the_comparison_frames_say_what_the_whole_history_says(store: Store) -> None:
    frames = web.comparison_frames(store, datetime.now(UTC))
    found = earlier_cohorts_rate(*frames, "NEW")
    assert found is not None
    # A (84), B (86), C (88), D (83) and F (81, lost at last) before their outcomes; not
    # E (no outcome), G (no score) or H (55 before its outcome)
    assert (found.band, found.leads, found.converted) == ("80–89", 5, 3)
    assert found.text == "Leads scoring 80–89 in earlier weeks converted at 60 % (3 of 5)"
    for lead_id in ["NEW", *"ABCDEFGH", "nobody"]:
        assert earlier_cohorts_rate(*frames, lead_id) == _whole_history(store, lead_id), lead_id
    # at most two scores per lead: its last, and the last before its outcome
    assert frames[1].groupby("lead_id").size().max() == 2
    assert len(frames[1]) < len(scores_frame(store))
    # each lead's last score alone loses A and D, scored again at or after their outcomes
    alone = earlier_cohorts_rate(*cohort_frames(store, datetime.now(UTC)), "NEW")
    assert alone is not None and (alone.leads, alone.converted) == (3, 1)


def test_the_lead_page_never_reads_every_score_and_follows_the_store(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def every_score(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the lead page read the whole score history")

    monkeypatch.setattr(ScoreRepository, "rows", every_score)
    st.cache_data.clear()  # nothing read by another test
    ctx: Any = SimpleNamespace(store=store)
    found = web.earlier_cohorts(ctx, "NEW")
    assert found is not None and (found.leads, found.converted) == (5, 3)
    # cached until the store changes: E's outcome makes it one more earlier lead
    store.outcomes.add("E", True, WEEK1 + 4 * DAY)
    again = web.earlier_cohorts(ctx, "NEW")
    assert again is not None and (again.leads, again.converted) == (6, 4)
    st.cache_data.clear()
