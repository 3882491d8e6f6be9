"""Hostile input to the scoring API (issue 19, rows 3, 11 and 12): non-finite numbers,
control characters and deeply nested JSON answer 4xx JSON naming the field, never a score
and never a 500.

The app runs its real lifespan through FastAPI's TestClient, on SQLite; the control
character cases also on PostgreSQL (which cannot store a NUL in text: it answered 500).
Bodies are sent as raw text: ``NaN``, ``Infinity`` and ``1e400`` are what a client can
send, not what Python's JSON writer writes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from leadscore.config import ServiceSettings, Settings
from leadscore.live import ModelSlot
from leadscore.service import create_app
from leadscore.store import Store

#: a demo lead as a request's attributes (every input of the model)
ATTRIBUTES: dict[str, Any] = {
    "created_at": "2026-01-15T20:28:37", "source": "google", "country": "India",
    "device": "desktop", "visits": 3, "time_on_site_s": 161.0, "pages_per_visit": 1.96,
    "returned_same_day": "no", "industry": "Finance", "company_size": "11-50",
    "newsletter": "yes",
}  # fmt: skip
EVENT: dict[str, Any] = {"time": "2026-01-15T20:28:37Z", "name": "page_view"}
#: stands for a raw JSON token in a body written by json.dumps
HOLE = "@@hole@@"


def with_token(body: dict[str, Any], token: str) -> str:
    """``body`` as JSON text with its one ``HOLE`` value replaced by the raw ``token``."""
    text = json.dumps(body)
    assert text.count(json.dumps(HOLE)) == 1
    return text.replace(json.dumps(HOLE), token)


class Api:
    """A running app, its store and an admin key; bodies posted as JSON text."""

    def __init__(self, client: TestClient, store: Store) -> None:
        self.client = client
        self.store = store
        self.headers = {"Authorization": f"Bearer {store.keys.create('test', ['admin'])[0]}"}

    def post(self, path: str, body: str | dict[str, Any]) -> httpx.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        headers = {**self.headers, "Content-Type": "application/json"}
        return self.client.post(path, content=text.encode(), headers=headers)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path, headers=self.headers)


@contextmanager
def serving(db_url: str, model_dir: Path, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        database_url=db_url,
        tracking=False,
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        service=ServiceSettings(max_batch=20, max_body_bytes=1_000_000),
    )
    store = Store(db_url)
    slot = ModelSlot.load(str(model_dir), settings)
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    try:
        # a server error is an answer (500) here, not an exception in the test
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client, store)
    finally:
        store.close()


@pytest.fixture
def api(model_dir: Path, tmp_path: Path) -> Iterator[Api]:
    with serving(f"sqlite:///{tmp_path / 'store.db'}", model_dir, tmp_path) as running:
        yield running


@pytest.fixture
def any_api(db_url: str, model_dir: Path, tmp_path: Path) -> Iterator[Api]:
    """The app on SQLite and on PostgreSQL."""
    with serving(db_url, model_dir, tmp_path) as running:
        yield running


def refused(response: httpx.Response, loc: list[Any], kind: str | None = None) -> str:
    """The message of a 422 whose only error is at ``loc`` (of type ``kind``)."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [loc], errors
    if kind is not None:
        assert errors[0]["type"] == kind, errors
    return str(errors[0]["msg"])


# ----------------------------------------------------------------------------- row 3


NON_FINITE = ["Infinity", "-Infinity", "NaN", "1e400", "-1e400", '"inf"', '"nan"', '"Infinity"']


@pytest.mark.parametrize("token", NON_FINITE)
def test_a_non_finite_attribute_is_refused_naming_it(api: Api, token: str) -> None:
    body = {"lead_id": "NF1", "attributes": {**ATTRIBUTES, "time_on_site_s": HOLE}}
    response = api.post("/v1/score", with_token(body, token))
    refused(response, ["body", "attributes", "time_on_site_s"], "finite_number")
    # not scored (it scored 1.0, hot, and queued a hot-lead webhook), not stored
    assert api.store.leads.get("NF1") is None
    assert api.store.scores.history("NF1") == []
    # the same body with a number scores
    assert api.post("/v1/score", with_token(body, "1532.5")).status_code == 200


def test_a_non_finite_attribute_in_a_batch_refuses_the_batch(api: Api) -> None:
    good = {"lead_id": "B1", "attributes": ATTRIBUTES}
    bad = {"lead_id": "B2", "attributes": {**ATTRIBUTES, "visits": HOLE}}
    response = api.post("/v1/score/batch", with_token({"leads": [good, bad]}, "1e400"))
    refused(response, ["body", "leads", 1, "attributes", "visits"], "finite_number")
    assert api.store.leads.get("B1") is None


@pytest.mark.parametrize(
    ("event", "token", "loc"),
    [
        ({**EVENT, "properties": {"price": HOLE}}, "NaN", ["properties", "price"]),
        ({**EVENT, "properties": {"price": HOLE}}, "1e400", ["properties", "price"]),
        ({**EVENT, "properties": {"price": HOLE}}, "-Infinity", ["properties", "price"]),
        ({**EVENT, "tz_offset_minutes": HOLE}, "Infinity", ["tz_offset_minutes"]),
        # its error echoed the NaN, which no JSON can hold: a 500
        ({**EVENT, "time": HOLE}, "NaN", ["time"]),
        ({**EVENT, "time": HOLE}, "1e400", ["time"]),
    ],
)
def test_a_non_finite_event_value_is_refused_naming_it(
    api: Api, event: dict[str, Any], token: str, loc: list[str]
) -> None:
    body = with_token({"lead_id": "E1", "events": [event]}, token)
    refused(api.post("/v1/events", body), ["body", "events", 0, *loc])
    assert api.store.leads.get("E1") is None


def test_inf_as_text_in_a_property_stays_text(api: Api) -> None:
    # a property takes text or a number: "inf" is text (a number field refuses it)
    body = {"lead_id": "E2", "events": [{**EVENT, "properties": {"plan": "inf"}}]}
    assert api.post("/v1/events", body).status_code == 200


# ----------------------------------------------------------------------------- row 11

CONTROLS = ["\x00", "\x01", "\x1b", "\x7f"]


@pytest.mark.parametrize("char", CONTROLS)
def test_a_control_character_in_a_lead_id_is_refused(any_api: Api, char: str) -> None:
    lead = f"L{char}1"
    bodies = {
        "/v1/score": {"lead_id": lead, "attributes": ATTRIBUTES},
        "/v1/events": {"lead_id": lead, "events": [EVENT]},
        "/v1/outcomes": {"lead_id": lead, "converted": True},
    }
    for path, body in bodies.items():
        message = refused(any_api.post(path, body), ["body", "lead_id"])
        assert "control characters" in message.lower()
    batch = {"leads": [{"lead_id": lead, "attributes": ATTRIBUTES}]}
    refused(any_api.post("/v1/score/batch", batch), ["body", "leads", 0, "lead_id"])
    # looked up by id in the path: 422 (it was found on SQLite, a 500 on PostgreSQL)
    response = any_api.get(f"/v1/leads/{quote(lead)}")
    assert "control characters" in refused(response, ["path", "lead_id"]).lower()
    # nothing stored (PostgreSQL cannot even look such an id up: list what there is)
    assert [lead for chunk in any_api.store.leads.iter_attributes() for lead in chunk] == []


def test_control_characters_in_attribute_values(any_api: Api) -> None:
    for value in ("go\x00ogle", "google\x1b[31m", "google\x7f"):
        body = {"lead_id": "C1", "attributes": {**ATTRIBUTES, "source": value}}
        message = refused(any_api.post("/v1/score", body), ["body", "attributes", "source"])
        assert "control characters" in message.lower()
    assert any_api.store.leads.get("C1") is None
    # free text may hold tab, newline and carriage return (a CRM's text fields do)
    body = {"lead_id": "C1", "attributes": {**ATTRIBUTES, "industry": "Finance\r\n\tBanking"}}
    assert any_api.post("/v1/score", body).status_code == 200, "text with line breaks"
    assert any_api.store.leads.get("C1").attributes["industry"] == "Finance\r\n\tBanking"


@pytest.mark.parametrize(
    ("event", "loc"),
    [
        ({**EVENT, "name": "page\x00view"}, ["name"]),
        ({**EVENT, "event_id": "e\x01"}, ["event_id"]),
        ({**EVENT, "url": "https://example.com/\npath"}, ["url"]),
        ({**EVENT, "utm_source": "news\tletter"}, ["utm_source"]),
        ({**EVENT, "page_title": "Pricing\x00"}, ["page_title"]),
        ({**EVENT, "user_agent": "Mozilla\x7f"}, ["user_agent"]),
        ({**EVENT, "properties": {"plan\x00": "pro"}}, ["properties", "plan\x00", "[key]"]),
        ({**EVENT, "properties": {"plan": "pro\x00"}}, ["properties", "plan"]),
    ],
)
def test_a_control_character_in_an_event_is_refused_naming_the_field(
    any_api: Api, event: dict[str, Any], loc: list[str]
) -> None:
    response = any_api.post("/v1/events", {"lead_id": "E3", "events": [event]})
    assert "control characters" in refused(response, ["body", "events", 0, *loc]).lower()
    assert any_api.store.leads.get("E3") is None


def test_free_text_in_an_event_may_span_lines(api: Api) -> None:
    event = {**EVENT, "page_title": "Pricing\n– Plans", "properties": {"note": "a\tb\r\nc"}}
    assert api.post("/v1/events", {"lead_id": "E4", "events": [event]}).status_code == 200


# ----------------------------------------------------------------------------- row 12


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_bodies(depth: int) -> dict[str, str]:
    """A body per route with a value nested ``depth`` levels where a scalar belongs."""
    lead = json.dumps({"lead_id": "D1", "attributes": {**ATTRIBUTES, "source": HOLE}})
    event = json.dumps({"lead_id": "D1", "events": [{**EVENT, "properties": {"x": HOLE}}]})
    outcome = json.dumps({"lead_id": "D1", "converted": HOLE})
    hole, deep = json.dumps(HOLE), nested(depth)
    return {
        "/v1/score": lead.replace(hole, deep),
        "/v1/score/batch": '{"leads":[' + lead.replace(hole, deep) + "]}",
        "/v1/events": event.replace(hole, deep),
        "/v1/outcomes": outcome.replace(hole, deep),
    }


def test_deeply_nested_json_answers_4xx_at_every_depth(api: Api) -> None:
    # Around the recursion limit, a body is read but its refusal, which echoes it, could
    # not be written (500); beyond, FastAPI could not read it (400 "error parsing").
    limit = sys.getrecursionlimit()
    for depth in range(limit - 160, limit + 10):
        for path, body in deep_bodies(depth).items():
            response = api.post(path, body)
            assert response.status_code in (400, 422), (depth, path, response.text[:300])
            # JSON with a detail (not decoded here: an echo as deep as the body would be
            # beyond this test's own recursion limit)
            assert response.headers["content-type"] == "application/json"
            assert response.content.startswith(b'{"detail":')
    for path, body in deep_bodies(100_000).items():
        response = api.post(path, body)
        assert response.status_code == 400, (path, response.text[:300])
        assert "nested too deeply" in response.json()["detail"]
    assert api.store.leads.get("D1") is None


def test_a_refused_deep_value_is_echoed_cut_short(api: Api) -> None:
    response = api.post("/v1/score", deep_bodies(200)["/v1/score"])
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "attributes", "source"]
    assert len(json.dumps(error["input"])) < 50  # (it echoed all 200 levels)
