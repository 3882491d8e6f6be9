"""Sends the webhook deliveries queued in the score store: signed, retried, at least once.

The store's ``webhook_deliveries`` table is an outbox: :meth:`Store.add_score
<leadscore.store.Store.add_score>` writes a ``pending`` row in the transaction of the score
that triggers it. :class:`WebhookDispatcher` POSTs each due row and records the outcome:

* a 2xx answer marks it ``delivered`` — and nothing else does, so a crash between sending
  and recording means a second send, never a lost one (at-least-once; receivers
  de-duplicate on the ``X-Leadscore-Delivery`` / ``Idempotency-Key`` header);
* any other answer, a timeout or a network error schedules a retry with exponential
  backoff and jitter, until ``max_attempts`` sends (by default 16 over about a day, see
  :class:`~leadscore.config.settings.WebhookSettings`), then ``failed`` — until
  ``leadscore webhooks redeliver`` queues it again;
* what the receiver answered is not read, nor kept: only the status code, or a short
  error category (``HTTP 503``, ``ReadTimeout``, ``ConnectError: …``, a refused address);
* each receiver is served by its own lane (a thread, at most ``workers`` at once) sending
  its deliveries one at a time, each send bounded by ``timeout_s``: a slow or hanging
  receiver delays only its own deliveries, never another's;
* the dispatcher's own client connects only to addresses the settings allow, checked when
  it connects (:mod:`leadscore.webhooks.transport`);
* before sending, the dispatcher *claims* the row (moves its next attempt a lease into the
  future in one conditional UPDATE), so a second dispatcher — another service worker —
  skips it; a dispatcher that dies mid-send leaves the row due again when the lease ends;
* pending rows from before a restart are simply due: a new dispatcher sends them.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from leadscore.store.egress import AddressRefused, EgressPolicy
from leadscore.store.errors import UNAVAILABLE
from leadscore.webhooks.signing import SIGNATURE_HEADER, signature_header
from leadscore.webhooks.transport import guarded_transport

if TYPE_CHECKING:
    from leadscore.config.settings import WebhookSettings
    from leadscore.store.records import DeliveryRecord, WebhookRecord
    from leadscore.store.repository import Store

log = logging.getLogger(__name__)

DELIVERY_HEADER = "X-Leadscore-Delivery"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Leadscore-Event"
ATTEMPT_HEADER = "X-Leadscore-Attempt"
#: errors raised before any answer, whose (local) message is kept after their name
_EXPLAINED = (httpx.ConnectError, httpx.TimeoutException)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive datetime is taken to be UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        return f"leadscore-webhooks/{version('leadscore')}"
    except Exception:  # not installed as a distribution (e.g. run from a source tree)
        return "leadscore-webhooks"


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The request body of a delivery: compact JSON, keys sorted (stable bytes to sign).

    Example
    -------
    >>> encode_payload({"lead_id": "L1", "event": "lead.hot"})
    b'{"event":"lead.hot","lead_id":"L1"}'
    """
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookDispatcher:
    """Delivers due webhook deliveries from ``store``; one pass with :meth:`deliver_due`,
    or continuously on a daemon thread with :meth:`start` / :meth:`stop`.

    Parameters
    ----------
    store:
        The score store holding the outbox.
    client:
        An ``httpx.Client`` to send with (tests, proxies), used as it is: the address
        check is the dispatcher's own client's. By default the dispatcher makes (and
        closes) its own.
    settings:
        The ``webhooks`` settings; default: the store's (``store.webhooks.settings``). The
        arguments below, when given, win over them.
    max_attempts:
        Sends per delivery before it is marked ``failed``.
    base_delay_s, max_delay_s, jitter:
        The wait after the n-th failed send is ``base_delay_s · 2^(n−1)``, capped at
        ``max_delay_s``, less up to ``jitter`` of it at random (so receivers recovering
        from an outage are not hit by every retry at once). A ``Retry-After`` answer is
        honoured up to ``max_delay_s``.
    timeout_s:
        Connect / read / write timeout of one send.
    workers:
        Receivers served at once (one lane, one send at a time, per receiver).
    batch_size:
        Deliveries fetched per pass.

    Example
    -------
    >>> import httpx
    >>> from leadscore.live import add_score
    >>> _ = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
    >>> _ = add_score(store, "L1", "3", 0.91, 91, "hot", True)   # queues a lead.hot delivery
    >>> crm = httpx.MockTransport(lambda request: httpx.Response(200))  # stands in for the CRM
    >>> dispatcher = WebhookDispatcher(store, client=httpx.Client(transport=crm))
    >>> dispatcher.deliver_due()      # one pass; returns how many were delivered
    1
    >>> dispatcher.start(interval_s=1.0)   # or keep delivering in the background
    >>> dispatcher.stop()
    """

    def __init__(
        self,
        store: Store,
        *,
        client: httpx.Client | None = None,
        settings: WebhookSettings | None = None,
        max_attempts: int | None = None,
        base_delay_s: float | None = None,
        max_delay_s: float | None = None,
        jitter: float | None = None,
        timeout_s: float | None = None,
        workers: int | None = None,
        batch_size: int = 50,
        rng: random.Random | None = None,
    ) -> None:
        config = settings if settings is not None else store.webhooks.settings

        def chosen(given: float | None, name: str) -> float:
            return float(getattr(config, name) if given is None else given)

        self.store = store
        self.max_attempts = int(chosen(max_attempts, "max_attempts"))
        self.base_delay_s = chosen(base_delay_s, "base_delay_s")
        self.max_delay_s = chosen(max_delay_s, "max_delay_s")
        self.jitter = chosen(jitter, "jitter")
        self.timeout_s = chosen(timeout_s, "timeout_s")
        self.workers = int(chosen(workers, "workers"))
        self.batch_size = int(batch_size)
        if self.max_attempts < 1 or self.workers < 1:
            raise ValueError("max_attempts and workers must be at least 1")
        if min(self.base_delay_s, self.max_delay_s) < 0 or self.timeout_s <= 0:
            raise ValueError("delays must be zero or positive and the timeout positive")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a share of the wait, from 0 to 1")
        self.policy = EgressPolicy.of(config)
        # a claimed delivery is invisible to other dispatchers this long: longer than one
        # send can take (connect + write + read timeouts), with room to record the result
        self.lease_s = max(60.0, 4 * self.timeout_s)
        self._rng = rng or random.Random()
        self._own_client = client is None
        self._client = client
        self._user_agent = _user_agent()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._lanes: dict[int, threading.Thread] = {}  # webhook id → its lane
        self._lane_ended = threading.Condition()

    # ------------------------------------------------------------------ one pass

    def deliver_due(self, now: datetime | None = None) -> int:
        """Send every delivery due at ``now`` (default: the current time) once; returns
        how many were delivered (answered 2xx). A failing endpoint never raises: its
        deliveries are rescheduled or given up. Pass ``now`` to act as if at that time
        (tests: no waiting for backoff).

        Example
        -------
        >>> WebhookDispatcher(store).deliver_due()
        0
        """
        return self._pass(now)[1]

    def _pass(self, now: datetime | None, wait: bool = True) -> tuple[int, int]:
        """One pass: the due deliveries of receivers without a lane in flight, handed to
        a lane per receiver. ``wait``: serve every receiver of the batch (at most
        ``workers`` at once) and wait for them: ``(attempted, delivered)``. Else open
        the lanes there is room for and return ``(lanes opened, due)`` at once."""
        clock: Callable[[], datetime] = (lambda: as_utc(now)) if now is not None else utcnow
        with self._lane_ended:
            busy = set(self._lanes)
        due = self.store.webhooks.due(clock(), limit=self.batch_size, skip=busy)
        if not due:
            return 0, 0
        hooks: dict[int, WebhookRecord] = {
            hook.id: hook for hook in self.store.webhooks.all(include_inactive=True)
        }
        by_hook: dict[int, list[DeliveryRecord]] = {}
        for delivery in due:
            by_hook.setdefault(delivery.webhook_id, []).append(delivery)
        lanes: list[_Lane] = []
        for webhook_id, deliveries in by_hook.items():
            lane = _Lane(webhook_id, hooks.get(webhook_id), deliveries, clock)
            with self._lane_ended:
                while wait and len(self._lanes) >= self.workers and not self._stopping.is_set():
                    self._lane_ended.wait(1.0)
                if self._stopping.is_set() or len(self._lanes) >= self.workers:
                    break
                if webhook_id in self._lanes:  # opened by a concurrent pass meanwhile
                    continue
                lane.thread = threading.Thread(
                    target=self._serve, args=(lane,), name=f"leadscore-webhook-{webhook_id}",
                    daemon=True,
                )  # fmt: skip
                self._lanes[webhook_id] = lane.thread
                lane.thread.start()
            lanes.append(lane)
        if not wait:
            return len(lanes), len(due)
        for lane in lanes:
            if lane.thread is not None:
                lane.thread.join()
        return sum(lane.attempted for lane in lanes), sum(lane.delivered for lane in lanes)

    def _serve(self, lane: _Lane) -> None:
        """A receiver's lane: its deliveries one at a time, each claimed first."""
        try:
            for candidate in lane.deliveries:
                if self._stopping.is_set():
                    break
                delivery = self.store.webhooks.claim(
                    candidate.id, now=lane.clock(), lease_s=self.lease_s
                )
                if delivery is None:  # another dispatcher took it, or it changed meanwhile
                    continue
                lane.attempted += 1
                lane.delivered += self._send(delivery, lane.hook, lane.clock)
        except UNAVAILABLE as exc:  # the database busy or away: the rows stay due, or leased
            log.warning("webhook %s: store unavailable, retried later: %s", lane.webhook_id, exc)
        except Exception:
            log.exception("webhook %s: delivery lane failed", lane.webhook_id)
        finally:
            with self._lane_ended:
                self._lanes.pop(lane.webhook_id, None)
                self._lane_ended.notify_all()
            self._wake.set()  # room for a waiting receiver: the loop looks again

    def _send(
        self,
        delivery: DeliveryRecord,
        hook: WebhookRecord | None,
        clock: Callable[[], datetime],
    ) -> bool:
        if hook is None or not hook.active:
            self.store.webhooks.mark_failed(delivery.id, None, "webhook removed", None)
            return False
        body = encode_payload(delivery.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            # signed with the wall clock: receivers compare it with theirs
            SIGNATURE_HEADER: signature_header(hook.secret, body),
            DELIVERY_HEADER: str(delivery.id),
            IDEMPOTENCY_HEADER: str(delivery.id),
            EVENT_HEADER: str(delivery.payload.get("event", delivery.kind)),
            ATTEMPT_HEADER: str(delivery.attempts + 1),
        }
        status: int | None = None
        retry_after: float | None = None
        try:
            # the answer's body is never read: its status (and Retry-After) is all we keep
            with self.client.stream("POST", hook.url, content=body, headers=headers) as answer:
                status = answer.status_code
                retry_after = _retry_after(answer, clock())
            if answer.is_success:
                self.store.webhooks.mark_delivered(delivery.id, status, now=clock())
                log.info("webhook %s: delivery %s delivered (%s)", hook.id, delivery.id, status)
                return True
            error = f"HTTP {status}"
        except AddressRefused as exc:  # names the address, never reached
            error = str(exc)
        except _EXPLAINED as exc:  # before any answer: the message is our own system's
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")[:200]
        except Exception as exc:  # a protocol error, a malformed URL…: never kill the loop
            error = type(exc).__name__
        sent = delivery.attempts + 1
        if sent >= self.max_attempts:
            next_attempt = None
            log.warning(
                "webhook %s: delivery %s failed after %s attempts (%s); giving up",
                hook.id, delivery.id, sent, error,
            )  # fmt: skip
        else:
            delay = self.backoff(sent)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.max_delay_s))
            next_attempt = clock() + timedelta(seconds=delay)
            log.info(
                "webhook %s: delivery %s attempt %s failed (%s); retry in %.1f s",
                hook.id, delivery.id, sent, error, delay,
            )  # fmt: skip
        self.store.webhooks.mark_failed(delivery.id, status, error, next_attempt)
        return False

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed send: exponential, capped,
        less up to ``jitter`` of it at random.

        Example
        -------
        >>> d = WebhookDispatcher(store, base_delay_s=2.0, max_delay_s=3600, jitter=0.5)
        >>> 4.0 <= d.backoff(3) <= 8.0  # 2 · 2² = 8 s, of which half is random
        True
        """
        exponent = min(max(attempts, 1) - 1, 60)  # 2**60 s is beyond any cap
        delay = min(self.max_delay_s, self.base_delay_s * 2.0**exponent)
        return delay * (1.0 - self.jitter * self._rng.random())

    def retry_span_s(self) -> tuple[float, float]:
        """The shortest and longest time from a delivery's first send to its last
        (``Retry-After`` aside).

        Example
        -------
        >>> shortest, longest = WebhookDispatcher(store).retry_span_s()  # the defaults
        >>> round(shortest / 3600, 1), round(longest / 3600, 1)
        (22.6, 28.3)
        """
        exponent = (min(n, 60) for n in range(self.max_attempts - 1))
        total = sum(min(self.max_delay_s, self.base_delay_s * 2.0**n) for n in exponent)
        return total * (1.0 - self.jitter), total

    @property
    def client(self) -> httpx.Client:
        """The HTTP client used for sending (created on first use unless one was given)."""
        with self._lock:
            if self._client is None:
                # redirects are not followed: a webhook URL that moved should be fixed
                self._client = httpx.Client(
                    transport=guarded_transport(self.policy, max(10, 2 * self.workers)),
                    timeout=self.timeout_s,
                    follow_redirects=False,
                )
            return self._client

    # ------------------------------------------------------------------ background

    def start(self, interval_s: float = 1.0) -> None:
        """Deliver in a daemon thread: a pass every ``interval_s`` seconds (at once again
        while a pass finds a full batch, or after :meth:`wake`). Errors of a pass (e.g. the
        database briefly unreachable) are logged and the next pass runs as usual.

        Example
        -------
        >>> dispatcher = WebhookDispatcher(store)
        >>> dispatcher.start(interval_s=0.5)
        >>> dispatcher.stop()
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the webhook dispatcher is already running")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, args=(float(interval_s),), name="leadscore-webhooks", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Run the next pass now instead of at the end of the interval (e.g. right after a
        score queued deliveries)."""
        self._wake.set()

    def stop(self, timeout_s: float | None = 30.0) -> None:
        """Stop the background thread and the lanes after the sends in progress (each
        bounded by ``timeout_s`` of a send); closes the HTTP client if the dispatcher made
        it. Undelivered rows stay pending (or leased) for the next start."""
        self._stopping.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
        with self._lane_ended:
            self._lane_ended.notify_all()
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.join(timeout_s)
        self.close()

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Close the HTTP client if the dispatcher made it (a given client stays open)."""
        with self._lock:
            if self._own_client and self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> WebhookDispatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, interval_s: float) -> None:
        while not self._stopping.is_set():
            try:
                # lanes run on their own: the loop looks for the other receivers' deliveries
                opened, due = self._pass(None, wait=False)
                busy = opened > 0 and due >= self.batch_size
            except UNAVAILABLE as exc:  # a one-line warning each pass, not a traceback
                log.warning("webhook dispatch: store unavailable (%s); retrying", exc)
                busy = False
            except Exception:
                log.exception("webhook dispatch pass failed; retrying in %.1f s", interval_s)
                busy = False
            if not busy:
                self._wake.wait(interval_s)
            self._wake.clear()


class _Lane:
    """One receiver's deliveries of a pass, and what came of them."""

    def __init__(
        self,
        webhook_id: int,
        hook: WebhookRecord | None,
        deliveries: list[DeliveryRecord],
        clock: Callable[[], datetime],
    ) -> None:
        self.webhook_id, self.hook, self.deliveries, self.clock = (
            webhook_id,
            hook,
            deliveries,
            clock,
        )
        self.thread: threading.Thread | None = None
        self.attempted = self.delivered = 0


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (as_utc(parsedate_to_datetime(value)) - now).total_seconds())
    except (TypeError, ValueError):
        return None
