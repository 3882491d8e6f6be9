"""Drift of a model on event features (monitor/inputs.py, monitor/report.py): the leads of a
period are read from their stored events; leads scored in batch from files, whose events
the store never saw, are left out of the feature drift and counted in a note, instead of
raising a false alarm of every feature turned missing (what the demo showed before)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from leadscore.config import Settings
from leadscore.data.events import load_events
from leadscore.demo import write_demo_events
from leadscore.features.table import build_lead_table, save_lead_table
from leadscore.lifecycle.train import train
from leadscore.live import ModelSlot
from leadscore.live.outbox import add_scores
from leadscore.monitor.inputs import inputs_at, window_inputs
from leadscore.monitor.report import MIN_DRIFT_LEADS, period_drift
from leadscore.store import NewScore, Store

WITH_EVENTS, FROM_FILES = 80, 120


@pytest.fixture(scope="module")
def event_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("event_drift")
    paths = write_demo_events(folder / "demo", leads=500, new_leads=WITH_EVENTS, messy=False)
    table = folder / "leads.parquet"
    save_lead_table(build_lead_table(str(paths["events"]), outcomes=paths["outcomes"]), table)
    train(
        table, model="logreg_l2", models=["logreg_l2"], cv=3, track=False,
        show_progress=False, budget=0, out=folder / "model",
    )  # fmt: skip
    return {"model": folder / "model", "new_events": load_events(str(paths["new_events"])).events}


def _stored(events: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for row in events.to_dict("records"):
        item = {k: v for k, v in row.items() if v is not None and v == v}  # NaN: absent
        lead_id = str(item.pop("lead_id"))
        item["time"] = pd.Timestamp(item.pop("timestamp")).tz_localize("UTC").isoformat()
        by_lead.setdefault(lead_id, []).append(item)
    return by_lead


def _fill(event_model: dict[str, Any], db_url: str, with_events: int) -> tuple[Store, ModelSlot]:
    """A store of ``with_events`` leads scored live from their stored events and
    :data:`FROM_FILES` leads scored in batch from a file (scores, no events)."""
    slot = ModelSlot.load(str(event_model["model"]), Settings(database_url=db_url, tracking=False))
    store = Store(db_url)
    frame = event_model["new_events"]
    events = dict(list(_stored(frame).items())[:with_events])
    for lead_id, items in events.items():
        store.events.add(lead_id, items)
    scorer, version = slot.current.scorer, slot.current.version
    items = []
    for lead_id in events:
        inputs = scorer.model.event_features(frame[frame["lead_id"] == lead_id]).iloc[0]
        s = scorer.score(inputs.to_dict())
        items.append(NewScore(lead_id, version, s.score, s.score_100, s.segment, s.contact))
    items += [NewScore(f"F{i}", version, 0.2, 20, "warm", False) for i in range(FROM_FILES)]
    add_scores(store, items)
    return store, slot


@pytest.fixture
def store_of_both(event_model: dict[str, Any], db_url: str) -> tuple[Store, ModelSlot]:
    return _fill(event_model, db_url, WITH_EVENTS)


def test_leads_without_stored_events_are_left_out_not_read_as_missing(
    store_of_both: tuple[Store, ModelSlot],
) -> None:
    store, slot = store_of_both
    model = slot.current.model
    ids = [f"F{i}" for i in range(FROM_FILES)] + sorted(_lead_ids(store))
    current = window_inputs(store, model, ids, datetime.now(UTC))
    assert len(current) == WITH_EVENTS
    assert not any(i.startswith("F") for i in current.index)
    # the event features were read: a lead's inputs are its features, not all missing
    assert current.notna().mean().mean() > 0.5

    drift, notes = period_drift(store, slot.current.scorer)
    assert drift is not None
    assert drift.current_rows == WITH_EVENTS
    # fresh leads of a few days differ from the training months in places (weekdays),
    # but no input turned missing: before, every event feature of the file-scored leads
    # read as missing and most features alerted with "(missing) 0 % → 60 %"
    assert not [a.moved for a in drift.alerts if _missing_grew(a.moved)]
    assert len(drift.alerts) < len(drift.features) / 4
    assert any(f"{FROM_FILES} of the {FROM_FILES + WITH_EVENTS} leads read" in n for n in notes)
    # the score is compared over every lead scored, the file-scored ones included
    assert drift.score is not None


def test_too_few_leads_with_events_compare_the_score_alone(
    event_model: dict[str, Any], db_url: str
) -> None:
    store, slot = _fill(event_model, db_url, MIN_DRIFT_LEADS - 1)
    drift, notes = period_drift(store, slot.current.scorer)
    assert drift is not None and drift.features == ()
    assert drift.score is not None and drift.current_rows == MIN_DRIFT_LEADS - 1 + FROM_FILES
    assert set(drift.skipped.values()) == {
        "not compared: too few of the period's leads have stored events"
    }
    assert any(f"{MIN_DRIFT_LEADS - 1} had" in n for n in notes)


def test_a_lead_without_events_reads_its_crm_fields_and_missing_features(
    store_of_both: tuple[Store, ModelSlot],
) -> None:
    store, slot = store_of_both
    row = inputs_at(store, slot.current.model, "F0", datetime.now(UTC))
    assert set(row) == set(slot.current.model.schema_.names)
    assert all(value is None for value in row.values())


def _lead_ids(store: Store) -> set[str]:
    """The store's leads scored from their events (not the file-scored ``F…``)."""
    from leadscore.monitor.data import scores_frame

    return {i for i in scores_frame(store)["lead_id"].astype(str) if not i.startswith("F")}


def _missing_grew(moved: str) -> bool:
    """Whether a drift's largest move is missing values growing by more than 20 points
    ("(missing): a % → b %")."""
    if not moved.startswith("(missing)"):
        return False
    before, after = (float(x.strip(" %")) for x in moved.split(":", 1)[1].split("→"))
    return after - before > 20
