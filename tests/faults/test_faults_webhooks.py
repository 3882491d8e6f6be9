"""A webhook receiver down for an hour (issue 19, row 6), in scaled time.

The retry settings are the defaults (16 sends, 30 s base, 4 h cap, 20 % jitter) divided
by :data:`SCALE`: one hour of simulated time is :data:`OUTAGE_S` seconds of real time. The
receiver is a real local HTTP server, stopped (its port refuses connections) while hot
leads are scored, started again on the same port an "hour" later: every notification
arrives, exactly once by delivery id, each after several refused sends.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from faults.conftest import Demo, Server, cli, free_port, score, sqlite_rows

pytestmark = pytest.mark.faults

#: simulated seconds per real second
SCALE = 900.0
HOUR_S = 3600.0
OUTAGE_S = HOUR_S / SCALE  # 4 s
NOTIFICATIONS = 3


class Receiver:
    """A CRM endpoint on ``port``: records each delivery (id, attempt, event, lead) and
    answers 200; :meth:`start` and :meth:`stop` as often as needed, on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                payload = json.loads(body)
                received.append({
                    "delivery": self.headers["X-Leadscore-Delivery"],
                    "attempt": int(self.headers["X-Leadscore-Attempt"]),
                    "event": payload.get("event"),
                    "lead_id": payload.get("lead_id"),
                    "at": time.monotonic(),
                })  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def test_receiver_down_for_an_hour_gets_every_notification_once(
    demo: Demo, serve: Callable[..., Server], tmp_path: Path
) -> None:
    db = tmp_path / "leadscore.db"
    url = f"sqlite:///{db}"
    private = {"LEADSCORE_WEBHOOKS__ALLOW_PRIVATE": "true"}
    receiver = Receiver(free_port())  # not started: the port refuses connections
    cli("webhooks", "add", f"http://127.0.0.1:{receiver.port}/hook", "--secret", "s3cret",
        "--kind", "hot", "--database", url, env=private)  # fmt: skip
    server = serve(url, env={
        **private,
        "LEADSCORE_SERVICE__WEBHOOK_INTERVAL_S": "0.1",
        "LEADSCORE_WEBHOOKS__BASE_DELAY_S": str(30.0 / SCALE),
        "LEADSCORE_WEBHOOKS__MAX_DELAY_S": str(4 * HOUR_S / SCALE),
    })  # fmt: skip
    try:
        queued = 0
        with server.client() as client:
            for i, attributes in enumerate(demo.leads):
                answer = score(client, f"hook-{i}", attributes)
                assert answer.status == 200, answer
                queued += answer.json()["notifications"]
                if queued >= NOTIFICATIONS:
                    break
        assert queued >= NOTIFICATIONS, f"only {queued} notifications from the demo leads"
        down_since = time.monotonic()
        time.sleep(OUTAGE_S)  # an hour, scaled
        tried = sqlite_rows(db, "SELECT id, status, attempts FROM webhook_deliveries")
        receiver.start()
        back_at = time.monotonic()
        # the next send of each is at most one (scaled) doubling away: about another hour
        deadline = back_at + 2 * OUTAGE_S + 10
        while len({r["delivery"] for r in receiver.received}) < queued:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        time.sleep(1.5)  # room for a duplicate to show
    finally:
        receiver.stop()
    rows = sqlite_rows(db, "SELECT id, status, attempts FROM webhook_deliveries ORDER BY id")
    got: dict[str, list[dict[str, Any]]] = {}
    for item in receiver.received:
        got.setdefault(item["delivery"], []).append(item)
    report = (
        f"{queued} queued; during the outage (id, status, sends): {tried}; after: {rows}; "
        f"received: {[(d, [i['attempt'] for i in items]) for d, items in got.items()]}; "
        f"outage {back_at - down_since:.1f} s real = {(back_at - down_since) * SCALE / 60:.0f}"
        " min simulated"
    )
    assert len(rows) == queued, report
    assert all(status == "pending" and sends >= 2 for _, status, sends in tried), (
        "each delivery refused several times while the receiver was down: " + report
    )
    assert set(got) == {str(i) for i, _, _ in rows}, "every notification arrives: " + report
    assert all(len(items) == 1 for items in got.values()), "each exactly once: " + report
    assert all(status == "delivered" for _, status, _ in rows), report
    # an hour of refusals, not a few seconds: each arrived on a late retry
    assert all(items[0]["attempt"] >= 5 for items in got.values()), report
