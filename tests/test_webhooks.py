"""Webhooks: the trigger rule, signatures, the outbox in the store, and delivery to a real
HTTP receiver on 127.0.0.1 that checks signatures and can fail on purpose.

The receiver is on a loopback address, which webhooks may reach only when the settings
allow it: tests using it opt in (``LEADSCORE_WEBHOOKS__ALLOW_PRIVATE=true``), as an operator
with an internal CRM would; the tests of the address policy do not.

Store-backed tests run on a SQLite file and on PostgreSQL (a schema per test; skip without
a server except under ``CI=true``). Backoff is never waited for: passes take ``now=``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

import leadscore.live.outbox as outbox
from leadscore.cli import app as cli
from leadscore.config.settings import WebhookSettings
from leadscore.live import add_score, add_scores
from leadscore.store import NewScore, NotFoundError, Store, StoreError
from leadscore.store.egress import AddressRefused
from leadscore.webhooks import (
    SIGNATURE_HEADER,
    WebhookDispatcher,
    encode_payload,
    sign,
    signature_header,
    triggered_kinds,
    verify,
    webhook_payload,
)

SECRET = "whsec-test-1234"
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def _cli(*args: object) -> str:
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------------- trigger rule


def _fires(previous: tuple[str, int] | None, now: tuple[str, int], **kw: object) -> tuple:
    return triggered_kinds(
        previous_segment=previous[0] if previous else None,
        previous_score_100=previous[1] if previous else None,
        segment=now[0],
        score_100=now[1],
        **kw,  # type: ignore[arg-type]
    )


def test_crossing_into_hot_fires_once() -> None:
    assert _fires(("warm", 55), ("hot", 70)) == ("hot",)
    assert _fires(None, ("hot", 75)) == ("hot",)  # a first score that is hot
    assert _fires(("hot", 70), ("hot", 80)) == ()  # staying hot is no news
    assert _fires(("hot", 80), ("warm", 50)) == ()  # leaving hot is not notified
    assert _fires(("cold", 10), ("warm", 35)) == ()


def test_a_jump_of_at_least_min_jump_points_fires() -> None:
    assert _fires(("cold", 30), ("warm", 60)) == ("jump",)  # exactly 30
    assert _fires(("cold", 30), ("warm", 59)) == ()  # a small move
    assert _fires(("cold", 30), ("hot", 90)) == ("hot", "jump")  # 30 → 90 overnight
    assert _fires(("hot", 90), ("cold", 20)) == ()  # a fall is not a jump
    assert _fires(None, ("warm", 60)) == ()  # a first score is not a jump
    assert _fires(("cold", 30), ("warm", 45), min_jump=15) == ("jump",)
    assert _fires(("cold", 30), ("hot", 90), kinds=["jump"]) == ("jump",)
    assert _fires(("cold", 30), ("hot", 90), kinds=["hot"]) == ("hot",)


def test_payload() -> None:
    body = webhook_payload(
        ("jump", "hot"),
        lead_id="L1",
        score=0.9,
        score_100=90,
        segment="hot",
        previous_score_100=30,
        previous_segment="cold",
        model_version="4",
        scored_at=T0,
        reasons=[{"field": "pricing_views", "points": 12.5}],
        extra={"email": "a@example.com", "event": "not allowed to override"},
    )
    assert body == {
        "event": "lead.hot",
        "triggers": ["hot", "jump"],
        "lead_id": "L1",
        "score": 0.9,
        "score_100": 90,
        "segment": "hot",
        "previous_score_100": 30,
        "previous_segment": "cold",
        "model_version": "4",
        "scored_at": "2025-03-01T10:00:00+00:00",
        "reasons": [{"field": "pricing_views", "points": 12.5}],
        "email": "a@example.com",
    }
    jump = webhook_payload(
        ["jump"],
        lead_id="L1",
        score=0.6,
        score_100=60,
        segment="warm",
        previous_score_100=20,
        previous_segment="cold",
        model_version="4",
        scored_at=T0,
        reasons=None,
    )
    assert jump["event"] == "lead.jump" and jump["triggers"] == ["jump"]


# ---------------------------------------------------------------------- signatures


def test_sign_and_verify() -> None:
    body = encode_payload({"lead_id": "L1", "event": "lead.hot", "name": "Zoë"})
    assert body == '{"event":"lead.hot","lead_id":"L1","name":"Zoë"}'.encode()
    now = 1_750_000_000
    header = signature_header(SECRET, body, now)
    assert header == f"t={now},v1={sign(SECRET, body, now)}"
    assert verify(SECRET, body, header, now=now + 10)
    assert not verify("other-secret", body, header, now=now)
    assert not verify(SECRET, body.replace(b"L1", b"L2"), header, now=now)  # tampered
    assert not verify(SECRET, body, header, now=now + 301)  # a replay, too old
    assert verify(SECRET, body, header, tolerance_s=600, now=now + 301)
    rotated = f"t={now},v1={sign('old-secret', body, now)},v1={sign(SECRET, body, now)}"
    assert verify(SECRET, body, rotated, now=now)
    for broken in ["", "t=abc,v1=00", f"v1={sign(SECRET, body, now)}", f"t={now}", "garbage"]:
        assert not verify(SECRET, body, broken, now=now)
    # the signature covers timestamp and body: moving the time breaks it
    assert not verify(SECRET, body, header.replace(f"t={now}", f"t={now + 1}"), now=now)


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1: checks every signature, answers ``fail_status``
    to the first ``fail_first`` requests, records the rest."""

    url: str = ""
    secret: str = SECRET
    fail_first: int = 0
    fail_status: int = 500
    fail_headers: dict[str, str] = field(default_factory=dict)
    fail_body: bytes = b""
    #: answer requests only once this is set (or after 10 s): a hanging receiver
    release: threading.Event | None = None
    requests: list[dict] = field(default_factory=list)
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        valid = verify(self.secret, body, headers.get(SIGNATURE_HEADER.lower(), ""))
        if self.release is not None:
            self.release.wait(10)
        answer = b""
        with self.lock:
            if not valid:
                status, extra = 401, {}
            elif self.failed < self.fail_first:
                self.failed += 1
                status, extra, answer = self.fail_status, self.fail_headers, self.fail_body
            else:
                status, extra = 204, {}
            self.requests.append(
                {"status": status, "headers": headers, "body": body, "json": json.loads(body)}
            )
        try:
            handler.send_response(status)
            for name, value in extra.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except OSError:  # the dispatcher stopped waiting (a timeout)
            pass

    def delivered(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["status"] == 204]


def _serve(state: Receiver) -> Iterator[Receiver]:
    """Serve ``state`` on 127.0.0.1 (a free port) while the test runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/leadscore"
    try:
        yield state
    finally:
        if state.release is not None:
            state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhooks may reach the loopback receivers of these tests (the settings' opt-in)."""
    monkeypatch.setenv("LEADSCORE_WEBHOOKS__ALLOW_PRIVATE", "true")


@pytest.fixture
def receiver(allow_private: None) -> Iterator[Receiver]:
    yield from _serve(Receiver())


@pytest.fixture
def other_receiver(allow_private: None) -> Iterator[Receiver]:
    yield from _serve(Receiver())


def _closed_port_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def _make_hot(store: Store, lead: str = "L1") -> None:
    add_score(store, lead, "1", 0.30, 30, "cold", False, scored_at=T0)
    add_score(store, lead, "1", 0.90, 90, "hot", True, scored_at=T0 + timedelta(hours=8))


def _later(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


# ---------------------------------------------------------------------- the outbox


def test_webhook_validation(store: Store) -> None:
    for bad in ["ftp://crm.example.com/x", "crm.example.com/hook", "https://", "http://:80/x", ""]:
        with pytest.raises(StoreError, match="http:// or https:// URL"):
            store.webhooks.add(bad, SECRET)
    with pytest.raises(StoreError, match="non-empty secret"):
        store.webhooks.add("https://crm.example.com/hook", "  ")
    with pytest.raises(StoreError, match="kinds must be one or more of hot, jump"):
        store.webhooks.add("https://crm.example.com/hook", SECRET, kinds=["cold"])
    with pytest.raises(StoreError, match="kinds"):
        store.webhooks.add("https://crm.example.com/hook", SECRET, kinds=[])
    with pytest.raises(StoreError, match="min_jump"):
        store.webhooks.add("https://crm.example.com/hook", SECRET, min_jump=0)
    hook = store.webhooks.add("https://crm.example.com/hook", SECRET, kinds="jump", min_jump=40)
    assert (hook.kinds, hook.min_jump, hook.active) == (("jump",), 40, True)
    assert SECRET not in repr(hook)  # secrets stay out of logs
    assert store.webhooks.all() == [hook] and store.webhooks.get(hook.id) == hook


def test_scores_queue_deliveries_for_matching_webhooks(store: Store) -> None:
    hot_only = store.webhooks.add("https://a.example/hook", SECRET, kinds=["hot"])
    big_jumps = store.webhooks.add("https://b.example/hook", SECRET, kinds=["jump"], min_jump=50)
    both = store.webhooks.add("https://c.example/hook", SECRET)
    removed = store.webhooks.add("https://d.example/hook", SECRET)
    store.webhooks.remove(removed.id)

    assert add_score(store, "L1", "1", 0.30, 30, "cold", False, scored_at=T0)[1] == []
    score, queued = add_score(
        store,
        "L1",
        "2",
        0.90,
        90,
        "hot",
        True,
        reasons=[{"field": "demo_request_count", "points": 31.0}],
        scored_at=T0 + timedelta(hours=8),
        webhook_payload_extra={"email": "lead@example.com"},
    )
    assert sorted((d.webhook_id, d.kind) for d in queued) == [
        (hot_only.id, "hot"),
        (big_jumps.id, "jump"),
        (both.id, "hot"),
    ]
    payload = next(d.payload for d in queued if d.webhook_id == both.id)
    assert payload == {
        "event": "lead.hot",
        "triggers": ["hot", "jump"],
        "lead_id": "L1",
        "score": 0.9,
        "score_100": 90,
        "segment": "hot",
        "previous_score_100": 30,
        "previous_segment": "cold",
        "model_version": "2",
        "scored_at": score.scored_at.isoformat(),
        "reasons": [{"field": "demo_request_count", "points": 31.0}],
        "email": "lead@example.com",
    }
    assert all(d.status == "pending" and d.attempts == 0 for d in queued)
    # staying hot, a small move: nothing; a later 40-point jump only reaches `both`
    assert add_score(store, "L1", "2", 0.95, 95, "hot", True)[1] == []
    add_score(store, "L2", "2", 0.20, 20, "cold", False)
    (jump,) = add_score(store, "L2", "2", 0.60, 60, "warm", True)[1]
    assert (jump.webhook_id, jump.kind, jump.payload["event"]) == (both.id, "jump", "lead.jump")
    assert [d.id for d in store.webhooks.due()] == [*(d.id for d in queued), jump.id]
    assert len(store.webhooks.deliveries(webhook_id=both.id)) == 2
    assert store.webhooks.deliveries(webhook_id=removed.id) == []


def test_a_score_and_its_deliveries_commit_together(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.webhooks.add("https://crm.example.com/hook", SECRET)
    add_score(store, "L1", "1", 0.30, 30, "cold", False)

    def broken(*args: object, **kwargs: object) -> dict:
        raise RuntimeError("crash between the score and its delivery")

    monkeypatch.setattr(outbox, "webhook_payload", broken)
    with pytest.raises(RuntimeError):
        add_score(store, "L1", "1", 0.90, 90, "hot", True)
    assert [s.score_100 for s in store.scores.history("L1")] == [30]  # rolled back
    assert store.scores.latest("L1").score_100 == 30
    assert store.webhooks.deliveries() == []


def test_removing_a_webhook_cancels_its_pending_deliveries(store: Store) -> None:
    hook = store.webhooks.add("https://crm.example.com/hook", SECRET)
    _make_hot(store)
    (pending,) = store.webhooks.due()
    assert not store.webhooks.remove(hook.id).active
    assert store.webhooks.all() == [] and len(store.webhooks.all(include_inactive=True)) == 1
    cancelled = store.webhooks.delivery(pending.id)
    assert (cancelled.status, cancelled.last_error) == ("failed", "webhook removed")
    assert store.webhooks.due() == []


def test_claims_are_exclusive_until_the_lease_ends(store: Store) -> None:
    store.webhooks.add("https://crm.example.com/hook", SECRET)
    _make_hot(store)
    (due,) = store.webhooks.due()
    now = datetime.now(UTC)
    claimed = store.webhooks.claim(due.id, now=now, lease_s=60)
    assert claimed is not None and claimed.next_attempt_at == now + timedelta(seconds=60)
    assert store.webhooks.claim(due.id, now=now) is None  # a second dispatcher skips it
    assert store.webhooks.due(now=now) == []
    assert [d.id for d in store.webhooks.due(now=now + timedelta(seconds=61))] == [due.id]
    assert store.webhooks.claim(due.id, now=now + timedelta(seconds=61)) is not None


# ---------------------------------------------------------------------- delivery


def test_delivers_a_signed_payload(store: Store, receiver: Receiver) -> None:
    hook = store.webhooks.add(receiver.url, SECRET)
    _make_hot(store)
    (queued,) = store.webhooks.due()
    with WebhookDispatcher(store) as dispatcher:
        assert dispatcher.deliver_due() == 1
        assert dispatcher.deliver_due() == 0  # nothing is sent twice
    (request,) = receiver.requests
    assert request["status"] == 204  # the receiver verified the signature
    assert request["json"] == queued.payload
    assert request["body"] == encode_payload(queued.payload)
    headers = request["headers"]
    assert headers["x-leadscore-delivery"] == headers["idempotency-key"] == str(queued.id)
    assert headers["x-leadscore-event"] == "lead.hot"
    assert headers["content-type"] == "application/json"
    done = store.webhooks.delivery(queued.id)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 1, 204)
    assert done.delivered_at is not None and done.next_attempt_at is None
    assert store.webhooks.deliveries(webhook_id=hook.id, status="delivered") == [done]


def test_retries_with_backoff_until_the_receiver_recovers(store: Store, receiver: Receiver) -> None:
    receiver.fail_first = 2
    store.webhooks.add(receiver.url, SECRET)
    _make_hot(store)
    (queued,) = store.webhooks.due()
    dispatcher = WebhookDispatcher(store, base_delay_s=2.0, max_delay_s=3600)

    now = datetime.now(UTC)
    assert dispatcher.deliver_due(now=now) == 0
    first = store.webhooks.delivery(queued.id)
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    assert first.last_error.startswith("HTTP 500")
    # 2 s after the first failure, half of it jitter
    assert now + timedelta(seconds=1) <= first.next_attempt_at <= now + timedelta(seconds=2)
    assert dispatcher.deliver_due(now=now) == 0 and len(receiver.requests) == 1  # not yet due

    assert dispatcher.deliver_due(now=now + timedelta(seconds=2)) == 0
    second = store.webhooks.delivery(queued.id)
    assert second.attempts == 2
    later = now + timedelta(seconds=2)
    assert later + timedelta(seconds=2) <= second.next_attempt_at <= later + timedelta(seconds=4)

    assert dispatcher.deliver_due(now=now + timedelta(minutes=5)) == 1
    done = store.webhooks.delivery(queued.id)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 3, 204)
    assert [r["status"] for r in receiver.requests] == [500, 500, 204]
    assert {r["headers"]["x-leadscore-delivery"] for r in receiver.requests} == {str(queued.id)}
    assert [r["headers"]["x-leadscore-attempt"] for r in receiver.requests] == ["1", "2", "3"]
    dispatcher.close()


def test_gives_up_after_max_attempts(store: Store, receiver: Receiver) -> None:
    receiver.fail_first = 100
    store.webhooks.add(receiver.url, SECRET)
    _make_hot(store)
    (queued,) = store.webhooks.due()
    with WebhookDispatcher(store, max_attempts=3) as dispatcher:
        for hours in (0, 1, 2, 3, 4):
            dispatcher.deliver_due(now=_later(hours))
    failed = store.webhooks.delivery(queued.id)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("failed", 3, None)
    assert failed.last_status_code == 500
    assert len(receiver.requests) == 3
    assert store.webhooks.deliveries(status="failed") == [failed]


def test_retry_after_is_honoured(store: Store, receiver: Receiver) -> None:
    receiver.fail_first, receiver.fail_status = 1, 429
    receiver.fail_headers = {"Retry-After": "120"}
    store.webhooks.add(receiver.url, SECRET)
    _make_hot(store)
    (queued,) = store.webhooks.due()
    now = datetime.now(UTC)
    with WebhookDispatcher(store) as dispatcher:
        dispatcher.deliver_due(now=now)
    assert store.webhooks.delivery(queued.id).next_attempt_at >= now + timedelta(seconds=120)


def test_network_errors_are_retried_and_never_raise(store: Store, allow_private: None) -> None:
    store.webhooks.add(_closed_port_url(), SECRET)
    _make_hot(store)
    (queued,) = store.webhooks.due()
    with WebhookDispatcher(store, timeout_s=2) as dispatcher:
        assert dispatcher.deliver_due() == 0
    failed = store.webhooks.delivery(queued.id)
    assert (failed.status, failed.attempts, failed.last_status_code) == ("pending", 1, None)
    assert failed.last_error.startswith("ConnectError")


def test_a_restarted_service_delivers_what_was_queued_before(
    db_url: str, receiver: Receiver
) -> None:
    with Store(db_url) as before_restart:
        before_restart.webhooks.add(receiver.url, SECRET)
        _make_hot(before_restart)
        # the old process dies with the delivery claimed but unanswered
        (queued,) = before_restart.webhooks.due()
        assert before_restart.webhooks.claim(queued.id, lease_s=60) is not None
        _make_hot(before_restart, "L2")  # and one it never even looked at
    assert receiver.requests == []

    with Store(db_url) as after_restart, WebhookDispatcher(after_restart) as dispatcher:
        assert dispatcher.deliver_due() == 1  # L2 at once; L1 waits for the lease to end
        assert dispatcher.deliver_due(now=_later(hours=0.02)) == 1
        assert {d.lead_id for d in after_restart.webhooks.deliveries(status="delivered")} == {
            "L1",
            "L2",
        }
    assert sorted(r["json"]["lead_id"] for r in receiver.delivered()) == ["L1", "L2"]


def test_two_dispatchers_do_not_double_send(db_url: str, receiver: Receiver) -> None:
    with Store(db_url) as store:
        store.webhooks.add(receiver.url, SECRET)
        add_scores(store, [NewScore(f"L{i}", "1", 0.9, 90, "hot", True) for i in range(30)])
    stores = [Store(db_url), Store(db_url)]  # two service workers
    dispatchers = [WebhookDispatcher(s, batch_size=100) for s in stores]
    barrier = threading.Barrier(2)
    delivered: list[int] = []

    def run(dispatcher: WebhookDispatcher) -> None:
        barrier.wait()
        delivered.append(dispatcher.deliver_due())

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for dispatcher, opened in zip(dispatchers, stores, strict=True):
        dispatcher.close()
        opened.close()
    assert sum(delivered) == 30
    counts = Counter(r["headers"]["x-leadscore-delivery"] for r in receiver.requests)
    assert len(counts) == 30 and set(counts.values()) == {1}


def test_background_thread_delivers_and_stops(store: Store, receiver: Receiver) -> None:
    store.webhooks.add(receiver.url, SECRET)
    dispatcher = WebhookDispatcher(store)
    dispatcher.start(interval_s=30)  # long interval: wake() must trigger the pass
    try:
        assert dispatcher.running
        with pytest.raises(RuntimeError, match="already running"):
            dispatcher.start()
        time.sleep(0.05)  # let the first (empty) pass finish, so wake() is what sends
        _make_hot(store)
        dispatcher.wake()
        deadline = time.monotonic() + 10
        while not receiver.delivered() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        dispatcher.stop()
    assert not dispatcher.running
    assert len(receiver.delivered()) == 1
    assert store.webhooks.deliveries()[0].status == "delivered"


# ---------------------------------------------------------------------- outages, redelivery


def _deliver_until_settled(
    dispatcher: WebhookDispatcher, store: Store, delivery_id: int, receiver: Receiver, *,
    start: datetime, down_for: timedelta,
) -> datetime:  # fmt: skip
    """Run passes at each next attempt's time, the receiver answering 503 until
    ``start + down_for``; returns the time of the last pass."""
    now = start
    for _ in range(200):
        receiver.fail_first = 10_000 if now < start + down_for else 0
        dispatcher.deliver_due(now=now)
        current = store.webhooks.delivery(delivery_id)
        if current.status != "pending":
            return now
        now = current.next_attempt_at.replace(tzinfo=UTC)
    raise AssertionError("still pending after 200 passes")


def test_a_receiver_down_for_hours_still_gets_its_notification(
    store: Store, receiver: Receiver
) -> None:
    receiver.fail_status = 503
    store.webhooks.add(receiver.url, SECRET)
    _make_hot(store)
    (queued,) = store.webhooks.due()
    with WebhookDispatcher(store) as dispatcher:  # the default retries
        shortest, longest = dispatcher.retry_span_s()
        assert 20 * 3600 <= shortest <= longest <= 30 * 3600  # about a day
        start = datetime.now(UTC)
        end = _deliver_until_settled(
            dispatcher, store, queued.id, receiver, start=start, down_for=timedelta(hours=20)
        )
    done = store.webhooks.delivery(queued.id)
    assert (done.status, done.last_status_code) == ("delivered", 204)
    assert end - start >= timedelta(hours=20)
    assert done.attempts == len(receiver.requests) <= dispatcher.max_attempts
    # the waits grow, then stay at the cap (4 h, less up to a fifth of jitter)
    assert receiver.requests[-1]["status"] == 204


def test_retry_settings_come_from_the_webhooks_settings(store: Store) -> None:
    settings = WebhookSettings(max_attempts=3, base_delay_s=60, max_delay_s=90, jitter=0)
    dispatcher = WebhookDispatcher(store, settings=settings)
    assert [dispatcher.backoff(n) for n in (1, 2, 3)] == [60.0, 90.0, 90.0]
    assert dispatcher.retry_span_s() == (150.0, 150.0)
    assert WebhookDispatcher(store, settings=settings, max_attempts=5).max_attempts == 5
    with pytest.raises(ValueError):
        WebhookSettings(jitter=1.5)


def _failed_delivery(store: Store, receiver: Receiver, lead: str) -> int:
    with WebhookDispatcher(store, max_attempts=1) as dispatcher:
        receiver.fail_first = receiver.failed + 1
        _make_hot(store, lead)
        dispatcher.deliver_due(now=_later(1))
    return min(d.id for d in store.webhooks.deliveries(status="failed") if d.lead_id == lead)


def test_redeliver_by_id_queues_a_failed_delivery_again(store: Store, receiver: Receiver) -> None:
    hook = store.webhooks.add(receiver.url, SECRET)
    failed = _failed_delivery(store, receiver, "L1")
    assert store.webhooks.delivery(failed).attempts == 1
    (queued,) = store.webhooks.redeliver([failed])
    assert (queued.id, queued.status, queued.attempts) == (failed, "pending", 0)
    assert store.webhooks.redeliver([failed]) == []  # pending already: nothing to do
    with WebhookDispatcher(store) as dispatcher:
        assert dispatcher.deliver_due() == 1
    done = store.webhooks.delivery(failed)
    assert (done.status, done.attempts) == ("delivered", 1)
    # a delivered one can be sent again too (the receiver lost it)
    assert [d.id for d in store.webhooks.redeliver([failed])] == [failed]
    with pytest.raises(NotFoundError, match="no webhook delivery with id 999"):
        store.webhooks.redeliver([failed, 999])
    with pytest.raises(StoreError, match="delivery ids, or a webhook"):
        store.webhooks.redeliver()
    store.webhooks.remove(hook.id)
    with pytest.raises(StoreError, match=f"webhook {hook.id} was removed"):
        store.webhooks.redeliver([failed])


def test_redeliver_every_failed_delivery_of_a_webhook_since(
    store: Store, receiver: Receiver, other_receiver: Receiver
) -> None:
    hook = store.webhooks.add(receiver.url, SECRET, kinds=["hot"])
    first = _failed_delivery(store, receiver, "L1")
    time.sleep(0.05)
    cut = datetime.now(UTC)
    second = _failed_delivery(store, receiver, "L2")
    other = store.webhooks.add(other_receiver.url, SECRET, kinds=["hot"])
    other_receiver.fail_first = 1
    _failed_delivery(store, receiver, "L3")  # fails for both webhooks
    third = next(d.id for d in store.webhooks.deliveries(webhook_id=hook.id) if d.lead_id == "L3")
    assert store.webhooks.delivery(third).status == "failed"
    assert [d.id for d in store.webhooks.redeliver(webhook_id=hook.id, since=cut)] == [
        second,
        third,
    ]
    assert [d.id for d in store.webhooks.redeliver(webhook_id=hook.id)] == [first]
    assert store.webhooks.deliveries(webhook_id=hook.id, status="failed") == []
    assert len(store.webhooks.deliveries(webhook_id=other.id, status="failed")) == 1
    with pytest.raises(NotFoundError):
        store.webhooks.redeliver(webhook_id=999)


def test_leadscore_webhooks_redeliver(db_url: str, receiver: Receiver) -> None:
    with Store(db_url) as store:
        hook = store.webhooks.add(receiver.url, SECRET)
        one = _failed_delivery(store, receiver, "L1")
        two = _failed_delivery(store, receiver, "L2")
    out = _cli("webhooks", "redeliver", one, "--database", db_url)
    assert f"delivery {one} (webhook {hook.id}, L1, hot) queued again" in out
    out = _cli("webhooks", "redeliver", "--webhook", hook.id, "--since", "1h", "--database", db_url)
    assert f"delivery {two} " in out and f"delivery {one} " not in out
    assert "nothing to redeliver" in _cli(
        "webhooks", "redeliver", "--webhook", hook.id, "--database", db_url
    )
    bad = runner.invoke(cli, ["webhooks", "redeliver", "--webhook", "1", "--since", "yesterday",
                              "--database", db_url])  # fmt: skip
    assert bad.exit_code != 0 and "--since must be a time" in bad.output
    with Store(db_url) as store:
        assert {d.status for d in store.webhooks.deliveries()} == {"pending"}


def test_a_hanging_receiver_does_not_delay_the_others(
    store: Store, receiver: Receiver, other_receiver: Receiver
) -> None:
    slow = store.webhooks.add(receiver.url, SECRET)
    receiver.release = threading.Event()  # answers nothing until released
    # a backlog for the hanging receiver, larger than a pass's batch
    add_scores(store, [NewScore(f"S{i}", "1", 0.9, 90, "hot", True) for i in range(60)])
    fast = store.webhooks.add(other_receiver.url, SECRET)
    add_score(store, "F1", "1", 0.9, 90, "hot", True)
    dispatcher = WebhookDispatcher(store, timeout_s=2.0, batch_size=50)
    started = time.monotonic()
    dispatcher.start(interval_s=0.05)
    try:
        while not other_receiver.delivered() and time.monotonic() - started < 5:
            time.sleep(0.01)
        waited = time.monotonic() - started
        assert other_receiver.delivered(), "the fast receiver got nothing while one hung"
        assert waited < 1.5  # not behind even one timeout of the hanging receiver
        # the hanging receiver's sends time out after timeout_s, and are retried later
        deadline = time.monotonic() + 5
        while (
            time.monotonic() < deadline
            and not store.webhooks.deliveries(webhook_id=slow.id, status="pending")[-1].attempts
        ):
            time.sleep(0.05)
    finally:
        dispatcher.stop(timeout_s=5)
    timed_out = [d for d in store.webhooks.deliveries(webhook_id=slow.id, limit=100) if d.attempts]
    assert timed_out and timed_out[0].last_error.startswith("ReadTimeout")
    assert store.webhooks.deliveries(webhook_id=fast.id)[0].status == "delivered"
    assert not dispatcher.running


def test_each_receiver_gets_one_send_at_a_time(
    store: Store, receiver: Receiver, other_receiver: Receiver
) -> None:
    store.webhooks.add(receiver.url, SECRET)
    store.webhooks.add(other_receiver.url, SECRET)
    add_scores(store, [NewScore(f"L{i}", "1", 0.9, 90, "hot", True) for i in range(10)])
    with WebhookDispatcher(store, workers=1) as dispatcher:  # one receiver at a time
        assert dispatcher.deliver_due() == 20  # a pass serves every receiver of its batch
    assert len(receiver.delivered()) == len(other_receiver.delivered()) == 10


# ---------------------------------------------------------------------- where webhooks may send

PRIVATE_URLS = [
    ("http://127.0.0.1:8080/hook", "127.0.0.1", "loopback"),
    ("http://10.1.2.3/hook", "10.1.2.3", "private"),
    ("http://192.168.1.20/hook", "192.168.1.20", "private"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
    ("http://[::1]:8080/hook", "::1", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1", "loopback"),
    ("http://[fd00::5]/hook", "fd00::5", "private"),
    ("http://0.0.0.0/hook", "0.0.0.0", "unspecified"),
    ("http://100.64.0.1/hook", "100.64.0.1", "non-public"),
    ("http://localhost:8080/hook", "127.0.0.1", "loopback"),
]


@pytest.fixture
def no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEADSCORE_WEBHOOKS__ALLOW_PRIVATE", "LEADSCORE_WEBHOOKS__ALLOW_LIST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names ending in ``.test`` resolve to what this dict says (change it to rebind)."""
    answers: dict[str, str] = {}
    real = socket.getaddrinfo

    def fake(host: str, port: object, *args: object, **kwargs: object) -> list:
        if isinstance(host, str) and host.endswith(".test"):
            if host not in answers:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return real(answers[host], port, *args, **kwargs)  # type: ignore[arg-type]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


@pytest.mark.parametrize(("url", "address", "kind"), PRIVATE_URLS)
def test_private_addresses_are_refused_when_a_webhook_is_added(
    store: Store, no_opt_in: None, url: str, address: str, kind: str
) -> None:
    with pytest.raises(AddressRefused) as refused:
        store.webhooks.add(url, SECRET)
    message = str(refused.value)
    assert address in message and f"a {kind} address" in message
    assert "webhooks.allow_private" in message
    assert isinstance(refused.value, StoreError) and store.webhooks.all() == []


def test_a_name_is_checked_by_what_it_resolves_to(
    store: Store, no_opt_in: None, dns: dict[str, str]
) -> None:
    dns["crm.corp.test"] = "10.0.0.7"
    with pytest.raises(AddressRefused, match=r"crm\.corp\.test \(10\.0\.0\.7\) is a private"):
        store.webhooks.add("https://crm.corp.test/hook", SECRET)
    dns["crm.corp.test"] = "93.184.216.34"
    assert store.webhooks.add("https://crm.corp.test/hook", SECRET).url.endswith("test/hook")
    # a name that does not resolve (yet) is checked when it is delivered to
    assert store.webhooks.add("https://later.corp.test/hook", SECRET).active


def test_private_addresses_can_be_allowed_in_the_settings(
    store: Store, no_opt_in: None, dns: dict[str, str]
) -> None:
    dns["crm.corp.test"] = "10.0.0.7"
    dns["other.corp.test"] = "10.0.0.8"
    store.webhooks.configure(WebhookSettings(allow_list=["crm.corp.test", "192.168.0.0/16"]))
    store.webhooks.add("https://crm.corp.test/hook", SECRET)
    store.webhooks.add("http://192.168.4.4/hook", SECRET)
    for refused in ("https://other.corp.test/hook", "http://127.0.0.1/hook"):
        with pytest.raises(AddressRefused):
            store.webhooks.add(refused, SECRET)
    store.webhooks.configure(WebhookSettings(allow_private=True))
    assert store.webhooks.add("http://127.0.0.1/hook", SECRET).active
    with pytest.raises(ValueError, match="neither a host nor a network"):
        WebhookSettings(allow_list=["10.0.0.0/33"])


def test_the_opt_in_is_read_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch, no_opt_in: None
) -> None:
    with Store(db_url) as store, pytest.raises(AddressRefused):
        store.webhooks.add("http://127.0.0.1:9/hook", SECRET)
    monkeypatch.setenv("LEADSCORE_WEBHOOKS__ALLOW_LIST", '["127.0.0.0/8"]')
    with Store(db_url) as store:
        assert store.webhooks.add("http://127.0.0.1:9/hook", SECRET).active
    out = runner.invoke(cli, ["webhooks", "add", "http://[::1]:9/h", "--secret", "s",
                              "--database", db_url])  # fmt: skip
    assert out.exit_code != 0 and "webhook host ::1 is a loopback address" in out.output


def test_a_name_rebound_to_a_private_address_is_refused_at_delivery(
    store: Store, receiver: Receiver, dns: dict[str, str], no_opt_in: None
) -> None:
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    dns["hooks.crm.test"] = "93.184.216.34"  # public when the webhook is added…
    store.webhooks.add(f"http://hooks.crm.test:{port}/hooks/leadscore", SECRET)
    dns["hooks.crm.test"] = "127.0.0.1"  # …then it points at the service's own machine
    _make_hot(store)
    (queued,) = store.webhooks.due()
    with WebhookDispatcher(store) as dispatcher:
        assert dispatcher.deliver_due() == 0
    assert receiver.requests == []  # nothing reached the address
    refused = store.webhooks.delivery(queued.id)
    assert (refused.status, refused.attempts, refused.last_status_code) == ("pending", 1, None)
    assert refused.last_error.startswith("webhook host hooks.crm.test (127.0.0.1) is a loopback")
    # allowed in the settings, the dispatcher connects to the address it checked
    allowed = WebhookSettings(allow_list=["hooks.crm.test"])
    with WebhookDispatcher(store, settings=allowed) as dispatcher:
        assert dispatcher.deliver_due(now=_later(1)) == 1
    assert len(receiver.delivered()) == 1


@pytest.mark.parametrize(
    ("url", "address"),
    [("http://127.0.0.1:9/hook", "127.0.0.1"), ("http://10.255.0.1:9/hook", "10.255.0.1"),
     ("http://169.254.169.254/x", "169.254.169.254"), ("http://[::1]:9/hook", "::1")],
)  # fmt: skip
def test_private_addresses_are_refused_at_delivery(
    store: Store, no_opt_in: None, url: str, address: str
) -> None:
    store.webhooks.configure(WebhookSettings(allow_private=True))  # allowed when added…
    store.webhooks.add(url, SECRET)
    _make_hot(store)
    (queued,) = store.webhooks.due()
    started = time.monotonic()
    with WebhookDispatcher(store, settings=WebhookSettings()) as dispatcher:  # …not now
        assert dispatcher.deliver_due() == 0
    assert time.monotonic() - started < 5  # refused, not tried until a timeout
    refused = store.webhooks.delivery(queued.id)
    assert refused.last_error.startswith(f"webhook host {address} is a ")
    assert (refused.status, refused.attempts, refused.last_status_code) == ("pending", 1, None)


def test_the_receivers_answer_is_not_stored(db_url: str, receiver: Receiver) -> None:
    receiver.fail_first = 1
    receiver.fail_body = b"Internal error: db password hunter2 at 10.0.0.3 " * 20
    with Store(db_url) as store:
        store.webhooks.add(receiver.url, SECRET)
        _make_hot(store)
        (queued,) = store.webhooks.due()
        with WebhookDispatcher(store) as dispatcher:
            dispatcher.deliver_due()
        failed = store.webhooks.delivery(queued.id)
        assert (failed.last_status_code, failed.last_error) == (500, "HTTP 500")
        # what an earlier version kept is shown without the answer
        claimed = store.webhooks.claim(queued.id, now=_later(1))
        assert claimed is not None
        store.webhooks.mark_failed(queued.id, 502, "HTTP 502: Bad gateway hunter2", _later(2))
        assert store.webhooks.delivery(queued.id).last_error == "HTTP 502"
    shown = _cli("webhooks", "deliveries", "--database", db_url)
    assert "hunter2" not in shown and "HTTP 502" in shown
