"""Display fields through the API (issue 22): a lead scored or updated through the service
can carry who it is (name, company, owner …), stored with it for people to read and never
given to the model; the work queue's readers (the dashboard) then show them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leadscore.data.roles import identity_columns
from test_service_inputs import ATTRIBUTES, Api, refused, serving

WHO = {"name": "Ada Lovelace", "company": "Analytical Engines", "owner": "maria"}


@pytest.fixture
def api(model_dir: Path, tmp_path: Path) -> Iterator[Api]:
    with serving(f"sqlite:///{tmp_path / 'store.db'}", model_dir, tmp_path) as running:
        yield running


def test_a_scored_lead_keeps_its_display_fields_and_scores_as_without(api: Api) -> None:
    plain = api.post("/v1/score", {"lead_id": "D0", "attributes": ATTRIBUTES})
    shown = api.post("/v1/score", {"lead_id": "D1", "attributes": ATTRIBUTES, "display": WHO})
    assert shown.status_code == 200, shown.text
    # the model never reads them: the same score and reasons as the lead without them
    assert shown.json()["score"] == plain.json()["score"]
    assert shown.json()["reasons"] == plain.json()["reasons"]
    stored = api.store.leads.get("D1").attributes
    assert {k: stored[k] for k in WHO} == WHO
    # what the dashboard looks for to name a lead
    assert identity_columns(stored) == {"name": "name", "company": "company", "owner": "owner"}
    lead = api.get("/v1/leads/D1").json()
    assert lead["attributes"]["company"] == "Analytical Engines"


def test_a_batch_carries_display_fields_per_lead(api: Api) -> None:
    body = {
        "leads": [
            {"lead_id": "B1", "attributes": ATTRIBUTES, "display": {"name": "Grace Hopper"}},
            {"lead_id": "B2", "attributes": ATTRIBUTES},
        ]
    }
    assert api.post("/v1/score/batch", body).status_code == 200
    assert api.store.leads.get("B1").attributes["name"] == "Grace Hopper"
    assert "name" not in api.store.leads.get("B2").attributes


def test_a_model_input_sent_as_a_display_field_is_refused_naming_it(api: Api) -> None:
    body = {"lead_id": "D2", "attributes": ATTRIBUTES, "display": {"country": "France"}}
    message = refused(api.post("/v1/score", body), ["body", "display", "country"])
    assert "send it in attributes" in message
    assert api.store.leads.get("D2") is None  # nothing stored


@pytest.mark.parametrize(
    ("display", "loc"),
    [
        ({"name": "x" * 501}, ["body", "display", "name"]),
        ({"name": 42}, ["body", "display", "name"]),
        ({"name": "Ada\x00"}, ["body", "display", "name"]),
    ],
)
def test_bad_display_values_are_refused(api: Api, display: dict, loc: list) -> None:
    body = {"lead_id": "D3", "attributes": ATTRIBUTES, "display": display}
    response = api.post("/v1/score", body)
    assert response.status_code == 422, response.text
    assert any(e["loc"][: len(loc)] == loc for e in response.json()["detail"])
    assert api.store.leads.get("D3") is None


def test_too_many_display_fields_are_refused(api: Api) -> None:
    display = {f"field_{i}": "x" for i in range(21)}
    body = {"lead_id": "D4", "attributes": ATTRIBUTES, "display": display}
    refused(api.post("/v1/score", body), ["body", "display"], "too_long")


def test_an_update_of_display_fields_alone_stores_them_without_a_new_score(api: Api) -> None:
    assert api.post("/v1/score", {"lead_id": "U1", "attributes": ATTRIBUTES}).status_code == 200
    response = api.client.patch(
        "/v1/leads/U1", json={"display": {"owner": "li"}}, headers=api.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["score"] is None
    assert "display fields stored" in response.json()["note"]
    assert api.store.leads.get("U1").attributes["owner"] == "li"
    assert len(api.store.scores.history("U1")) == 1
    # neither attributes nor display: nothing to do, said so
    empty = api.client.patch("/v1/leads/U1", json={}, headers=api.headers)
    assert empty.status_code == 422
    assert "send attributes, display fields or both" in empty.text
