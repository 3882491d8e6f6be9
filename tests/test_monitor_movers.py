"""Movers with why (monitor/movers.py): the leads whose score moved most, their causes and
the fields behind each move, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lead_rows import attributes
from leadscore.config import Settings
from leadscore.demo import DemoLeads
from leadscore.live import LiveScoring, ModelSlot
from leadscore.monitor.movers import ATTRIBUTES, BEHAVIOUR, MODEL, movers, movers_frame
from leadscore.store import NewScore, Store


@pytest.fixture
def live(db_url: str, model_dir: Path, tmp_path: Path) -> LiveScoring:
    settings = Settings(database_url=db_url, tracking=False)
    return LiveScoring(ModelSlot.load(str(model_dir), settings), Store(db_url), reasons=3)


def _typical(demo_leads: DemoLeads) -> dict:
    return attributes(demo_leads.table.iloc[7])


def test_a_changed_field_is_the_first_reason_of_its_leads_move(
    live: LiveScoring, demo_leads: DemoLeads
) -> None:
    lead = _typical(demo_leads)
    live.score_lead("M1", {**lead, "time_on_site_s": 5.0})
    live.score_lead("M2", lead)  # scored again below, unchanged: not a mover
    time.sleep(0.01)
    start = datetime.now(UTC)
    time.sleep(0.01)
    live.update_attributes("M1", {"time_on_site_s": 3000.0})
    live.score_lead("M2", lead)
    found = movers(live.store, live.slot.current.scorer, start=start, min_jump=1)
    assert [m.lead_id for m in found] == ["M1"]
    (mover,) = found
    assert mover.causes == (ATTRIBUTES,)
    assert mover.change == mover.after - mover.before and abs(mover.change) >= 1
    first = mover.reasons[0]
    assert first.field == "time_on_site_s"
    assert (first.before, first.after) == (5.0, 3000.0)
    assert (first.points > 0) == (mover.change > 0)
    assert first.text.startswith("Time on site (s): 5 → 3,000: ")
    row = movers_frame(found).iloc[0]
    assert row["lead_id"] == "M1" and "Time on site" in row["reasons"]
    assert mover.to_dict()["reasons"][0]["field"] == "time_on_site_s"


def test_a_new_model_version_is_named_as_the_cause(db_url: str) -> None:
    store = Store(db_url)
    day = datetime(2026, 5, 4, 9, tzinfo=UTC)
    with store.scores.scoring(["A", "B"]) as writer:
        writer.add([NewScore("A", "3", 0.3, 30, "warm", True, scored_at=day),
                    NewScore("B", "3", 0.5, 50, "warm", True, scored_at=day)])  # fmt: skip
    with store.scores.scoring(["A", "B"]) as writer:
        later = day + timedelta(days=1)
        writer.add([NewScore("A", "4", 0.8, 80, "hot", True, scored_at=later),
                    NewScore("B", "4", 0.45, 45, "warm", True, scored_at=later)])  # fmt: skip
    found = movers(store, None, start=day + timedelta(hours=1), end=day + timedelta(days=2))
    assert [(m.lead_id, m.change, m.causes) for m in found] == [("A", 50, (MODEL,))]
    assert "model 3 → 4" in found[0].text
    assert found[0].reasons == ()
    # a smaller jump counts too when asked, largest first
    found = movers(
        store, None, start=day + timedelta(hours=1), end=later + timedelta(1), min_jump=5
    )
    assert [m.lead_id for m in found] == ["A", "B"]


def test_events_between_the_scores_are_behaviour(db_url: str) -> None:
    store = Store(db_url)
    day = datetime(2026, 5, 4, 9, tzinfo=UTC)
    with store.scores.scoring(["E"]) as writer:
        writer.add([NewScore("E", "3", 0.1, 10, "cold", False, scored_at=day)])
    store.events.add("E", [{"name": "demo_request", "time": day + timedelta(hours=3)}])
    with store.scores.scoring(["E"]) as writer:
        writer.add([NewScore("E", "3", 0.7, 70, "hot", True, scored_at=day + timedelta(hours=4))])
    (mover,) = movers(store, None, start=day + timedelta(hours=1), end=day + timedelta(days=1))
    assert mover.causes == (BEHAVIOUR,)


def test_bad_periods_and_limits_are_refused(db_url: str) -> None:
    store = Store(db_url)
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="start before it ends"):
        movers(store, None, start=now, end=now - timedelta(days=1))
    with pytest.raises(ValueError, match="limit"):
        movers(store, None, limit=0)
    assert movers(store, None) == []  # nothing scored: no movers
