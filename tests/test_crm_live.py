"""One lead, all its data, live: attributes (``PATCH /v1/leads/{id}``) and events (``POST
/v1/events``) posted separately, in either order, score a lead exactly as batch scoring
of the CRM file plus the event log does (issue 20's contract)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from leadscore import LeadModel
from leadscore.config import ServiceSettings, Settings
from leadscore.data.events import load_events
from leadscore.demo import write_demo_events
from leadscore.features.table import build_lead_table, save_lead_table
from leadscore.lifecycle.train import train
from leadscore.service import create_app
from leadscore.store import Store


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("crm_live")
    paths = write_demo_events(folder / "demo", leads=400, new_leads=12, messy=False)
    truth = pd.read_csv(paths["truth"])
    rng = np.random.default_rng(7)
    crm = pd.DataFrame(
        {
            "lead_id": truth["lead_id"].astype(str),
            "industry": rng.choice(["Retail", "Software", "Bank"], len(truth)),
            "employees": rng.integers(1, 5000, len(truth)).astype(float),
            "updated_at": "2025-01-01",
        }
    )
    crm_path = folder / "crm.csv"
    crm.to_csv(crm_path, index=False)
    table_path = folder / "leads.parquet"
    built = build_lead_table(str(paths["events"]), outcomes=paths["outcomes"], leads=crm_path)
    save_lead_table(built, table_path)
    model = train(
        table_path, model="logreg_l2", models=["logreg_l2"], cv=3, track=False,
        show_progress=False, budget=0, out=folder / "model",
    )  # fmt: skip
    assert model.crm_fields == ["industry", "employees"]
    # recency features (which depend on the scoring time) are left out of a table built
    # with outcomes, so the batch and the API score the same inputs whenever they run
    assert not model.feature_builder_.as_of_features_
    return {"paths": paths, "crm": crm, "crm_path": crm_path, "model": folder / "model"}


def _api(served: dict[str, Any], tmp_path: Path) -> tuple[TestClient, dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store(url) as store:
        key = store.keys.create("t", ["admin"])[0]
    settings = Settings(
        database_url=url, tracking=False, mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        service=ServiceSettings(model=str(served["model"]), model_check_s=0),
    )  # fmt: skip
    return TestClient(create_app(settings, deliver_webhooks=False)), {"X-API-Key": key}


def _events_of(events: pd.DataFrame, lead_id: str) -> list[dict[str, Any]]:
    out = []
    for row in events[events["lead_id"] == lead_id].to_dict("records"):
        item = {k: v for k, v in row.items() if v is not None and v == v}  # NaN: absent
        item.pop("lead_id")
        item["time"] = pd.Timestamp(item.pop("timestamp")).tz_localize("UTC").isoformat()
        item["name"] = item.pop("event")
        known = {"event_id", "time", "name", "url", "page_title", "referrer", "utm_source",
                 "utm_medium", "utm_campaign", "user_agent", "ip", "tz_offset_minutes",
                 "timezone", "device_type", "os", "browser", "country"}  # fmt: skip
        props = {k: item.pop(k) for k in list(item) if k not in known}
        if "tz_offset_minutes" in item:
            item["tz_offset_minutes"] = int(item["tz_offset_minutes"])
        item["properties"] = json.loads(json.dumps(props, default=str))
        out.append(item)
    return out


def test_attributes_and_events_in_any_order_score_as_the_batch(
    served: dict[str, Any], tmp_path: Path
) -> None:
    model = LeadModel.load(served["model"])
    events = load_events(served["paths"]["new_events"]).events
    leads = sorted(events["lead_id"].astype(str).unique())[:6]
    batch = model.score_leads(model.event_features(events, leads=served["crm_path"]))
    expected = batch.set_index("lead_id")["score"]
    client, headers = _api(served, tmp_path)
    crm = served["crm"].set_index("lead_id")
    with client:
        for i, lead_id in enumerate(leads):
            fields = {"industry": crm.loc[lead_id, "industry"],
                      "employees": float(crm.loc[lead_id, "employees"])}  # fmt: skip
            requests = [
                ("PATCH", f"/v1/leads/{lead_id}", {"attributes": fields}),
                ("POST", "/v1/events", {"lead_id": lead_id, "events": _events_of(events, lead_id)}),
            ]
            if i % 2:
                requests.reverse()
            answers = [client.request(m, u, json=b, headers=headers) for m, u, b in requests]
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            last = answers[1].json()["score"]
            assert last["score"] == pytest.approx(expected[lead_id], abs=1e-9), lead_id
            stored = client.get(f"/v1/leads/{lead_id}", headers=headers).json()
            assert stored["attributes"] == fields  # the behaviour is not stored as fields


def test_a_crm_lead_without_events_is_scored_and_bad_fields_are_named(
    served: dict[str, Any], tmp_path: Path
) -> None:
    client, headers = _api(served, tmp_path)
    with client:
        scored = client.patch(
            "/v1/leads/CRM-1", json={"attributes": {"industry": "Bank"}}, headers=headers
        )
        assert scored.status_code == 200, scored.text
        assert scored.json()["score"] is not None  # scored like a CRM-only lead in a batch
        unknown = client.patch(
            "/v1/leads/CRM-1", json={"attributes": {"industy": "Bank"}}, headers=headers
        )
        assert unknown.status_code == 422
        assert unknown.json()["detail"][0]["loc"] == ["body", "attributes", "industy"]
        wrong = client.patch(
            "/v1/leads/CRM-1", json={"attributes": {"employees": "many"}}, headers=headers
        )
        assert wrong.status_code == 422
        assert wrong.json()["detail"][0]["loc"] == ["body", "attributes", "employees"]
        lead = client.get("/v1/leads/CRM-1", headers=headers).json()
        assert lead["attributes"] == {"industry": "Bank"}  # refused updates left nothing


def test_a_change_report_scores_open_leads_from_their_stored_events(
    served: dict[str, Any], tmp_path: Path
) -> None:
    """A promotion's change report scores the store's open leads with the new model as the
    live scorer would: features from their stored events, CRM fields from attributes."""
    from leadscore.lifecycle.change_report import store_report
    from leadscore.live.batch import store_scores

    model = LeadModel.load(served["model"])
    events = load_events(served["paths"]["new_events"]).events
    leads = sorted(events["lead_id"].astype(str).unique())[:5]
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        for lead_id in leads:
            store.events.add(lead_id, [{**e, "properties": None} | e["properties"]
                                       for e in _events_of(events, lead_id)])  # fmt: skip
        frame = model.event_features(events, leads=served["crm_path"])
        frame = frame[frame["lead_id"].isin(leads)].reset_index(drop=True)
        scores = model.score_leads(frame)
        store_scores(store, model, frame, scores, "1")
        report = store_report(model, store)
    # the same model on the same inputs: every open lead keeps its score and segment
    assert report.changed == 0
    assert report.largest_move == pytest.approx(0.0, abs=0.5)
    assert sum(sum(row.values()) for row in report.matrix.values()) == len(leads)
