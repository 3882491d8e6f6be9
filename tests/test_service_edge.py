"""The service's edge (issue 19, row 14): ``/metrics`` needs a key, a ``/v1/`` request's
key is checked before its body is read, every answer has the security headers, and
``/docs`` works offline from packaged assets.

Through FastAPI's TestClient and raw ASGI calls on a SQLite store, with a small logistic
model; the pages themselves in Debian's chromium (skipped without it, except in CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from leadscore import LeadModel
from leadscore.config import ServiceSettings, Settings
from leadscore.demo import generate_leads
from leadscore.lifecycle.artifacts import save_model
from leadscore.live import ModelSlot
from leadscore.service import create_app
from leadscore.service.edge import API_POLICY, DOCS_POLICY
from leadscore.store import Store
from leadscore.store.keys import KeyRepository

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = generate_leads(400, seed=5).table
    model = LeadModel("logreg_l2", cv=3).fit(
        table.drop(columns=["lead_id", "converted", "sales_status"]), table["converted"]
    )
    return save_model(model, tmp_path_factory.mktemp("edge") / "model")


class Edge:
    """A running app on a SQLite store, with a key per scope."""

    def __init__(self, app: FastAPI, client: TestClient, store: Store) -> None:
        self.app = app
        self.client = client
        self.store = store
        self.keys = {
            scope: store.keys.create(f"edge-{scope}", [scope])[0]
            for scope in ("score", "read", "admin")
        }

    def headers(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


def make_app(model_dir: Path, tmp_path: Path, **service: Any) -> tuple[FastAPI, Store]:
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    settings = Settings(
        database_url=url,
        tracking=False,
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        service=ServiceSettings(max_body_bytes=10_000, **service),
    )
    store = Store(url)
    slot = ModelSlot.load(str(model_dir), settings)
    return create_app(settings, store=store, slot=slot, deliver_webhooks=False), store


@pytest.fixture
def edge(model_dir: Path, tmp_path: Path) -> Iterator[Edge]:
    app, store = make_app(model_dir, tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Edge(app, client, store)
    store.close()


def lead_body(lead_id: str = "E1") -> dict[str, Any]:
    """A new demo lead as a ``POST /v1/score`` body."""
    row = generate_leads(1, seed=9, labelled=False).table.drop(columns=["lead_id"])
    return {
        "lead_id": lead_id,
        "attributes": json.loads(row.to_json(orient="records", date_format="iso"))[0],
    }


# ----------------------------------------------------------------------------- metrics


def test_metrics_need_a_key_with_the_read_scope(edge: Edge) -> None:
    keyless = edge.client.get("/metrics")
    assert keyless.status_code == 401
    assert "leadscore_model_info" not in keyless.text
    assert keyless.headers["www-authenticate"] == "Bearer"
    wrong = edge.client.get("/metrics", headers={"X-API-Key": "lsk_not-a-key"})
    assert wrong.status_code == 401
    assert edge.client.get("/metrics", headers=edge.headers("score")).status_code == 403
    for scope in ("read", "admin"):
        answer = edge.client.get("/metrics", headers=edge.headers(scope))
        assert answer.status_code == 200
        assert "leadscore_model_info{version=" in answer.text
    # Prometheus' `authorization` (Bearer) or an X-API-Key header
    assert edge.client.get("/metrics", headers={"X-API-Key": edge.keys["read"]}).status_code == 200


def test_metrics_can_be_opened_for_scrapers_without_headers(
    model_dir: Path, tmp_path: Path
) -> None:
    app, store = make_app(model_dir, tmp_path, metrics_public=True)
    with TestClient(app) as client:
        answer = client.get("/metrics")
        assert answer.status_code == 200 and "leadscore_model_info{version=" in answer.text
        assert client.get("/v1/leads").status_code == 401  # only the metrics are open
    store.close()


# ----------------------------------------------------------------------------- key first


def test_a_keyless_malformed_request_gets_401_not_the_parsers_422(edge: Edge) -> None:
    malformed = b'{"lead_id": "E1", "attributes": {'
    json_type = {"Content-Type": "application/json"}
    for headers in ({}, {"X-API-Key": "lsk_unknown"}, {"Authorization": "Bearer lsk_unknown"}):
        answer = edge.client.post("/v1/score", content=malformed, headers={**json_type, **headers})
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
        assert set(answer.json()) == {"detail"} and isinstance(answer.json()["detail"], str)
    # every /v1/ path, a route or not, a batch, events
    for path in ("/v1/score/batch", "/v1/events", "/v1/outcomes", "/v1/no-such-thing"):
        assert edge.client.post(path, content=malformed, headers=json_type).status_code == 401
    # with a valid key the body is parsed as before: 422 naming the problem
    answer = edge.client.post(
        "/v1/score", content=malformed, headers={**json_type, **edge.headers("score")}
    )
    assert answer.status_code == 422 and answer.json()["detail"][0]["type"] == "json_invalid"
    # and the scope is still checked by the route: 403
    body = lead_body()
    assert edge.client.post("/v1/score", json=body, headers=edge.headers("read")).status_code == 403
    assert (
        edge.client.post("/v1/score", json=body, headers=edge.headers("score")).status_code == 200
    )


def asgi_post(app: FastAPI, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """POST through the ASGI interface: (status, how often the body was asked for)."""
    reads = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b'{"lead_id": 1', "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return status, reads


def test_the_body_of_a_keyless_request_is_never_read(edge: Edge) -> None:
    assert asgi_post(edge.app, "/v1/score", []) == (401, 0)
    assert asgi_post(edge.app, "/v1/score", [(b"x-api-key", b"lsk_unknown")]) == (401, 0)
    key = edge.keys["score"].encode()
    status, reads = asgi_post(edge.app, "/v1/score", [(b"authorization", b"Bearer " + key)])
    assert status == 422 and reads == 1  # a valid key: read and parsed


def test_a_key_is_looked_up_once_per_request(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = make_app(model_dir, tmp_path, key_cache_s=0)  # every request asks the store
    lookups: list[str | None] = []
    real = KeyRepository.authenticate

    def counted(self: KeyRepository, plaintext: str | None, **kwargs: Any) -> Any:
        lookups.append(plaintext)
        return real(self, plaintext, **kwargs)

    monkeypatch.setattr(KeyRepository, "authenticate", counted)
    with TestClient(app) as client:
        plaintext = store.keys.create("crm", ["read", "score"])[0]
        lookups.clear()
        assert client.get("/v1/leads", headers={"X-API-Key": plaintext}).status_code == 200
        body = lead_body("O1")
        scored = client.post("/v1/score", json=body, headers={"X-API-Key": plaintext})
        assert scored.status_code == 200
        assert lookups == [plaintext, plaintext]  # one per request: the route reuses it
    store.close()


def test_health_and_docs_stay_open(edge: Edge) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert edge.client.get(path).status_code == 200, path
    assert edge.client.get("/redoc").status_code == 404  # not served: it loads a remote logo


# ----------------------------------------------------------------------------- headers


def assert_secured(answer: Any, policy: bytes, *, no_store: bool = True) -> None:
    headers = answer.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == policy.decode()
    assert headers.get("cache-control") == ("no-store" if no_store else None)


def test_every_answer_has_the_security_headers(edge: Edge, monkeypatch: pytest.MonkeyPatch) -> None:
    body = lead_body()
    score = edge.headers("score")
    answers = {
        200: edge.client.post("/v1/score", json=body, headers=score),
        401: edge.client.post("/v1/score", json=body),
        403: edge.client.get("/v1/leads", headers=score),
        404: edge.client.get("/v1/leads/nobody", headers=edge.headers("read")),
        413: edge.client.post("/v1/score", content=b"x" * 20_000, headers=score),
        422: edge.client.post("/v1/score", json={"lead_id": "E1"}, headers=score),
    }
    for status, answer in answers.items():
        assert answer.status_code == status, answer.text
        assert_secured(answer, API_POLICY)
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert_secured(edge.client.get(path), API_POLICY)
    assert_secured(edge.client.get("/metrics", headers=edge.headers("read")), API_POLICY)
    # an unexpected error, answered by Starlette's outermost error middleware
    live = edge.app.state.live

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(live, "score_lead", broken)
    failed = edge.client.post("/v1/score", json=body, headers=score)
    assert failed.status_code == 500
    assert_secured(failed, API_POLICY)
    # the documentation: its own policy; its assets may be cached
    for path in ("/docs", "/docs/swagger-init.js", "/static-docs/swagger-ui.css"):
        assert_secured(edge.client.get(path), DOCS_POLICY, no_store=False)


# ----------------------------------------------------------------------------- docs


class Refs(HTMLParser):
    """The ``src`` and ``href`` of a page, and whether it has inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]
        self.refs += [v for k, v in attrs if k.startswith("data-") and v and "/" in v]
        self._in_script = tag == "script" and not values.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def test_docs_are_served_from_packaged_assets(edge: Edge) -> None:
    answer = edge.client.get("/docs")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "cdn" not in answer.text.lower() and "://" not in answer.text
    refs = Refs()
    refs.feed(answer.text)
    assert not refs.inline_script  # the policy allows scripts from this origin only
    needed = {"/static-docs/swagger-ui-bundle.js", "/static-docs/swagger-ui.css", "/openapi.json"}
    assert needed | {"/docs/swagger-init.js"} <= set(refs.refs)
    for ref in refs.refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref  # no other host
        asset = edge.client.get(ref)
        assert asset.status_code == 200, ref
        bundled = ref.startswith("/static-docs/") and ref.endswith((".js", ".css"))
        assert len(asset.content) > (10_000 if bundled else 100), ref
    assert "javascript" in edge.client.get("/docs/swagger-init.js").headers["content-type"]
    js = edge.client.get("/static-docs/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    # Swagger UI 5 (OpenAPI 3.1, what FastAPI writes), started by the served init script
    bundle = edge.client.get("/static-docs/swagger-ui-bundle.js").text
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.', bundle)
    assert version is not None and int(version.group(1)) >= 5
    assert edge.client.get("/openapi.json").json()["openapi"].startswith("3.1")
    init = edge.client.get("/docs/swagger-init.js").text
    assert "SwaggerUIBundle(" in init and "://" not in init


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_the_docs_page_renders_offline_in_a_browser(model_dir: Path, tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not found")
    from playwright.sync_api import sync_playwright

    app, store = make_app(model_dir, tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        elsewhere: list[str] = []
        problems: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM))
            page = browser.new_page()

            def only_here(route: Any) -> None:
                if route.request.url.startswith(base):
                    route.continue_()
                else:  # offline: nothing from another host
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_here)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            browser.close()
        # every operation is listed (Swagger UI may break a path with zero-width spaces)
        listed = {path.replace("\u200b", "") for path in paths}
        assert {"/v1/score", "/v1/score/batch", "/v1/events", "/v1/leads/{lead_id}"} <= listed
        assert elsewhere == []
        assert problems == []  # nothing refused by the policy, no script error
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
