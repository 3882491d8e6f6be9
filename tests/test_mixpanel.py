"""Tests for the Mixpanel raw export (leadscore.data.mixpanel) against a local HTTP server.

The server speaks the Export API's format: Basic auth (service account + project_id, or
the project API secret), newline-delimited JSON per day, gzip when asked, and the error
statuses the client must handle (401, 400, 429 with Retry-After, 5xx, cut-off bodies).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import SecretStr

from leadscore.config import Settings
from leadscore.data.ingest import ingest
from leadscore.data.mixpanel import (
    MixpanelSettings,
    export_mixpanel,
    flatten_mixpanel_record,
    iter_mixpanel_lines,
)
from leadscore.data.sources import parse_mixpanel_url, read_table, resolve_files
from leadscore.errors import DataError

PROJECT = 4242
SA_USER, SA_SECRET = "leadscore.sa", "sa-secret-value"
API_SECRET = "api-secret-value"
DAYS = ["2025-01-01", "2025-01-02", "2025-01-03"]


def _event(name: str, user: str, time: int, **extra: Any) -> dict[str, Any]:
    properties = {
        "time": time,
        "distinct_id": user,
        "$insert_id": f"{user}-{time}",
        "$browser": "Chrome",
        "$os": "Mac OS X",
        "$current_url": "https://example.com/pricing",
        "mp_country_code": "US",
        **extra,
    }
    return {"event": name, "properties": properties}


FIXTURE_EVENTS: dict[str, list[dict[str, Any]]] = {
    "2025-01-01": [
        _event("Page View", "u1", 1735700000, utm_source="google"),
        _event("Signed Up", "u1", 1735700500),
    ],
    "2025-01-02": [_event("Page View", "u2", 1735790000000)],  # a project sending ms
    "2025-01-03": [],  # a quiet day
}


@dataclass
class FakeMixpanel:
    """State of the fake export server; tests script failures through ``plan``."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: day → statuses to answer (in order) before serving the day normally
    plan: dict[str, list[int]] = field(default_factory=dict)
    #: days whose body is cut off mid-way on every request
    truncate: set[str] = field(default_factory=set)
    always: int | None = None
    gzip: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def days_requested(self) -> list[str]:
        return [r["from_date"] for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _credentials(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    def do_GET(self) -> None:
        fake: FakeMixpanel = self.server.fake
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        if parts.path != "/api/2.0/export":
            self._send(404, b'{"error": "not found"}')
            return
        credentials = self._credentials()
        service_account = credentials == (SA_USER, SA_SECRET)
        api_secret = credentials == (API_SECRET, "")
        if not (service_account and query.get("project_id") == str(PROJECT)) and not api_secret:
            self._send(401, b'{"error": "Unable to authenticate request", "status": 0}')
            return
        day = query.get("from_date", "")
        with fake.lock:
            fake.requests.append(
                {**query, "auth": "service account" if service_account else "api secret"}
            )
            planned = fake.plan.get(day, [])
            status = planned.pop(0) if planned else fake.always
        if status == 429:
            self._send(429, b'{"error": "rate limit exceeded"}', {"Retry-After": "0"})
            return
        if status is not None:
            self._send(status, b'{"error": "internal error"}')
            return
        try:
            start = dt.date.fromisoformat(day)
            end = dt.date.fromisoformat(query.get("to_date", ""))
        except ValueError:
            self._send(400, b'{"error": "\'from_date\' is invalid"}')
            return
        if start < dt.date(2020, 1, 1) or end != start:
            self._send(400, b'{"error": "from_date cannot be before the project was created"}')
            return
        wanted = json.loads(query["event"]) if "event" in query else None
        lines = [
            json.dumps(record)
            for record in fake.events.get(day, [])
            if wanted is None or record["event"] in wanted
        ]
        body = "".join(line + "\n" for line in lines).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if fake.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if day in fake.truncate:
            # promise the whole body, send half, hang up: an interrupted download
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self._send(200, body, headers)


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fake(server: ThreadingHTTPServer) -> FakeMixpanel:
    server.fake = FakeMixpanel(events={day: list(e) for day, e in FIXTURE_EVENTS.items()})  # type: ignore[attr-defined]
    return server.fake  # type: ignore[attr-defined]


@pytest.fixture
def settings(server: ThreadingHTTPServer, fake: FakeMixpanel) -> MixpanelSettings:
    host, port = server.server_address[:2]
    return MixpanelSettings(
        host=f"http://{host}:{port}",
        project_id=PROJECT,
        username=SA_USER,
        secret=SecretStr(SA_SECRET),
        max_attempts=3,
        retry_base_delay=0.001,
        retry_max_delay=0.01,
        timeout=10,
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- export ------------------------------------------------------------------------------------


def test_export_writes_one_file_per_day(
    fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path
) -> None:
    paths = export_mixpanel("2025-01-01", "2025-01-03", tmp_path, settings)
    assert [p.name for p in paths] == [f"mixpanel_{day}.jsonl" for day in DAYS]
    for day, path in zip(DAYS, paths, strict=True):
        assert _lines(path) == FIXTURE_EVENTS[day]  # decompressed from gzip on the wire
    assert paths[2].read_bytes() == b""
    assert fake.days_requested() == DAYS
    assert all(r["to_date"] == r["from_date"] for r in fake.requests)
    assert {r["project_id"] for r in fake.requests} == {str(PROJECT)}
    assert {r["auth"] for r in fake.requests} == {"service account"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]  # no .partial


def test_export_without_gzip(fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path):
    fake.gzip = False
    (path,) = export_mixpanel(dt.date(2025, 1, 1), dt.date(2025, 1, 1), tmp_path, settings)
    assert _lines(path) == FIXTURE_EVENTS["2025-01-01"]


def test_export_with_api_secret(fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path):
    secret_only = settings.model_copy(
        update={
            "username": None,
            "secret": None,
            "project_id": None,
            "api_secret": SecretStr(API_SECRET),
        }
    )
    export_mixpanel("2025-01-01", "2025-01-01", tmp_path, secret_only)
    assert fake.requests[0]["auth"] == "api secret"
    assert "project_id" not in fake.requests[0]


def test_export_filters_events(fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path):
    (path,) = export_mixpanel("2025-01-01", "2025-01-01", tmp_path, settings, events=["Signed Up"])
    assert json.loads(fake.requests[0]["event"]) == ["Signed Up"]
    assert [r["event"] for r in _lines(path)] == ["Signed Up"]


def test_export_resumes_after_complete_days(
    fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path
) -> None:
    done = tmp_path / "mixpanel_2025-01-01.jsonl"
    done.write_text('{"event": "kept", "properties": {}}\n')
    export_mixpanel("2025-01-01", "2025-01-03", tmp_path, settings)
    assert fake.days_requested() == ["2025-01-02", "2025-01-03"]
    assert done.read_text() == '{"event": "kept", "properties": {}}\n'


def test_recent_days_are_fetched_again(
    fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    (tmp_path / f"mixpanel_{today}.jsonl").write_text("")
    export_mixpanel(today, today, tmp_path, settings)
    assert fake.days_requested() == [today.isoformat()]  # Mixpanel may still add events


@pytest.mark.parametrize("compressed", [True, False])
def test_interrupted_export_leaves_no_partial_day(
    fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path, compressed: bool
) -> None:
    fake.gzip = compressed
    fake.truncate.add("2025-01-02")
    with pytest.raises(DataError, match="2025-01-02") as caught:
        export_mixpanel("2025-01-01", "2025-01-03", tmp_path, settings)
    assert "after 3 attempts" in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["mixpanel_2025-01-01.jsonl"]
    # the next run starts at the first incomplete day
    fake.truncate.clear()
    fake.requests.clear()
    paths = export_mixpanel("2025-01-01", "2025-01-03", tmp_path, settings)
    assert fake.days_requested() == ["2025-01-02", "2025-01-03"]
    assert _lines(paths[1]) == FIXTURE_EVENTS["2025-01-02"]


# --- retries and errors ------------------------------------------------------------------------


def test_429_is_retried_honouring_retry_after(
    fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path
) -> None:
    # A base delay of a minute: the test only finishes quickly if "Retry-After: 0" is obeyed.
    patient = settings.model_copy(update={"retry_base_delay": 60.0, "retry_max_delay": 60.0})
    fake.plan["2025-01-01"] = [429]
    (path,) = export_mixpanel("2025-01-01", "2025-01-01", tmp_path, patient)
    assert fake.days_requested() == ["2025-01-01", "2025-01-01"]
    assert _lines(path) == FIXTURE_EVENTS["2025-01-01"]


def test_500_is_retried(fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path) -> None:
    fake.plan["2025-01-02"] = [500, 503]
    export_mixpanel("2025-01-01", "2025-01-02", tmp_path, settings)
    assert fake.days_requested() == ["2025-01-01", "2025-01-02", "2025-01-02", "2025-01-02"]


def test_retries_are_bounded(fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path):
    fake.always = 500
    with pytest.raises(DataError, match="after 3 attempts"):
        export_mixpanel("2025-01-01", "2025-01-02", tmp_path, settings)
    assert fake.days_requested() == ["2025-01-01"] * 3
    assert list(tmp_path.iterdir()) == []


def test_wrong_secret(fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path) -> None:
    wrong = settings.model_copy(update={"secret": SecretStr("nope-not-it")})
    with pytest.raises(DataError, match="Mixpanel rejected the credentials") as caught:
        export_mixpanel("2025-01-01", "2025-01-01", tmp_path, wrong)
    message = str(caught.value)
    assert "401" in message and "nope-not-it" not in message
    assert "LEADSCORE_MIXPANEL__" in message
    assert list(tmp_path.iterdir()) == []


def test_bad_request_shows_mixpanels_message(
    fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="before the project was created"):
        export_mixpanel("2019-12-31", "2019-12-31", tmp_path, settings)
    assert len(fake.requests) == 1  # a 400 is not retried


def test_unreachable_host_is_named(settings: MixpanelSettings, tmp_path: Path) -> None:
    closed = settings.model_copy(update={"host": "http://127.0.0.1:9", "max_attempts": 2})
    with pytest.raises(DataError, match=r"127\.0\.0\.1:9") as caught:
        export_mixpanel("2025-01-01", "2025-01-01", tmp_path, closed)
    assert "after 2 attempts" in str(caught.value)


@pytest.mark.parametrize(
    ("start", "end", "match"),
    [("2025-01-05", "2025-01-01", "empty"), ("01/05/2025", "2025-01-06", "YYYY-MM-DD")],
)
def test_bad_dates_are_refused_before_any_request(
    start: str, end: str, match: str, fake: FakeMixpanel, settings: MixpanelSettings, tmp_path
) -> None:
    with pytest.raises(DataError, match=match):
        export_mixpanel(start, end, tmp_path, settings)
    assert fake.requests == []


def test_missing_credentials(settings: MixpanelSettings, tmp_path: Path) -> None:
    none = settings.model_copy(update={"username": None, "secret": None})
    with pytest.raises(DataError, match="LEADSCORE_MIXPANEL__API_SECRET"):
        export_mixpanel("2025-01-01", "2025-01-01", tmp_path, none)
    no_project = settings.model_copy(update={"project_id": None})
    with pytest.raises(DataError, match="LEADSCORE_MIXPANEL__PROJECT_ID"):
        export_mixpanel("2025-01-01", "2025-01-01", tmp_path, no_project)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADSCORE_MIXPANEL__PROJECT_ID", "77")
    monkeypatch.setenv("LEADSCORE_MIXPANEL__API_SECRET", "s3cr3t")
    monkeypatch.setenv("LEADSCORE_MIXPANEL__HOST", "https://data-eu.mixpanel.com")
    mixpanel = Settings().mixpanel
    assert mixpanel.project_id == 77
    assert mixpanel.host == "https://data-eu.mixpanel.com"
    assert mixpanel.api_secret is not None and "s3cr3t" not in repr(mixpanel)


# --- records and files -------------------------------------------------------------------------


def test_flatten_lifts_properties() -> None:
    record = _event("Signed Up", "u9", 1735700000123, utm_source="newsletter", event="shadow")
    flat = flatten_mixpanel_record(record)
    assert flat["event"] == "Signed Up"  # the event name wins over a property "event"
    assert flat["distinct_id"] == "u9"
    assert flat["time"] == 1735700000123  # milliseconds are left for the loader to read
    assert flat["$browser"] == "Chrome" and flat["utm_source"] == "newsletter"
    assert "properties" not in flat
    assert flatten_mixpanel_record({"event": "x", "a": 1}) == {"event": "x", "a": 1}
    with pytest.raises(DataError, match="JSON object"):
        flatten_mixpanel_record(["not", "a", "record"])  # type: ignore[arg-type]


@pytest.mark.parametrize("compressed", [False, True])
def test_iter_mixpanel_lines(tmp_path: Path, compressed: bool) -> None:
    text = '{"event": "a"}\n\n{"event": "b"}\r\n{broken\n'
    path = tmp_path / ("day.jsonl.gz" if compressed else "day.jsonl")
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    assert list(iter_mixpanel_lines(path)) == [
        (1, '{"event": "a"}'),
        (3, '{"event": "b"}'),
        (4, "{broken"),
    ]


def test_iter_mixpanel_lines_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="decompress"):
        list(iter_mixpanel_lines(path))


# --- mixpanel:// sources -----------------------------------------------------------------------


def test_parse_mixpanel_url() -> None:
    source = parse_mixpanel_url("mixpanel://99?from=2025-01-01&to=2025-01-31&event=A,B&event=C")
    assert (source.project_id, source.from_date, source.to_date) == (99, "2025-01-01", "2025-01-31")
    assert source.events == ("A", "B", "C")
    assert parse_mixpanel_url("mixpanel://?from=2025-01-01&to=2025-01-02").project_id is None


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mixpanel://?from=2025-01-01", "date range"),
        ("mixpanel://abc?from=2025-01-01&to=2025-01-02", "number"),
        ("mixpanel://?form=2025-01-01&to=2025-01-02", "unknown parameter"),
    ],
)
def test_bad_mixpanel_urls(url: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_mixpanel_url(url)


def test_read_table_from_mixpanel(
    fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path
) -> None:
    # the project in the URL overrides the one in the settings
    config = Settings(mixpanel=settings.model_copy(update={"project_id": 1}))
    url = f"mixpanel://{PROJECT}?from=2025-01-01&to=2025-01-03"
    frame = read_table(url, settings=config, cache_dir=tmp_path)
    assert frame["event"].tolist() == ["Page View", "Signed Up", "Page View"]
    assert frame["distinct_id"].tolist() == ["u1", "u1", "u2"]
    assert {"$browser", "$insert_id", "mp_country_code", "utm_source"} <= set(frame.columns)
    files = resolve_files(url, tmp_path, settings=config)  # cached: no new requests
    assert len(files) == 3 and len(fake.requests) == 3
    assert all(f.is_relative_to(tmp_path / "mixpanel" / str(PROJECT)) for f in files)


def test_ingest_mixpanel(fake: FakeMixpanel, settings: MixpanelSettings, tmp_path: Path) -> None:
    config = Settings(mixpanel=settings)
    url = "mixpanel://?from=2025-01-01&to=2025-01-02&event=Page%20View"
    out = ingest(url, tmp_path / "events.jsonl", settings=config, cache_dir=tmp_path / "cache")
    records = _lines(out)
    assert [r["distinct_id"] for r in records] == ["u1", "u2"]
    assert all("properties" not in r and r["event"] == "Page View" for r in records)
    parquet = ingest(
        url, tmp_path / "events.parquet", settings=config, cache_dir=tmp_path / "cache"
    )
    frame = pd.read_parquet(parquet)
    assert frame["distinct_id"].tolist() == ["u1", "u2"]
    assert frame["time"].tolist() == [1735700000, 1735790000000]
    assert len(fake.requests) == 2  # the second ingest reused the cached days
