"""Stopping without dropping requests: what the service does on SIGTERM.

``leadscore serve`` runs uvicorn with ``timeout_graceful_shutdown=service.drain_s``. On
SIGTERM (a deploy, ``systemctl stop``, Kubernetes deleting the pod):

1. :class:`Drain` turns on at once: ``/readyz`` answers 503 "draining" (a load balancer
   polling it stops sending here), and every answer from then on carries ``Connection:
   close``, so a keep-alive client opens its next connection elsewhere instead of sending
   it on one that is about to close.
2. After ``service.drain_delay_s`` (0 by default: at once) uvicorn stops accepting
   connections, closes the keep-alive connections that are idle, and lets the requests in
   progress finish — up to ``service.drain_s`` seconds, after which they are cancelled.
3. Only then does the application shut down (the webhook dispatcher, the background
   threads, the store): no request in progress finds the store closed.

A request a client sends on an idle keep-alive connection at the very moment the server
closes it cannot be helped (the connection is gone before its bytes are read): clients
retry such a request with the same ``Idempotency-Key`` (:mod:`leadscore.service.idempotency`),
which makes the retry safe.

:func:`install` sets it up in :func:`~leadscore.service.app.create_app`; the signal hook
is placed when the server starts the application (its lifespan), after uvicorn has set its
own handlers, in the main thread only (a test client's app is never hooked).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("leadscore.service")

Handler = Callable[[int, FrameType | None], Any]


class Drain:
    """Whether this process is draining (set once, on SIGTERM or SIGINT).

    Example
    -------
    >>> drain = Drain()
    >>> drain.active
    False
    >>> drain.begin()
    >>> drain.active
    True
    """

    def __init__(self) -> None:
        #: a plain attribute: read on every request
        self.active = False

    def begin(self) -> None:
        """Start draining: not ready any more, connections closed after their answer."""
        if not self.active:
            log.info("draining: not ready, closing connections after their answers")
        self.active = True


def watch_signals(drain: Drain, delay_s: float = 0.0) -> Callable[[], None]:
    """Put :meth:`Drain.begin` in front of the SIGTERM and SIGINT handlers the server
    installed; SIGTERM reaches the server's handler ``delay_s`` seconds later (a second
    SIGTERM, or SIGINT, at once). Returns what puts the server's handlers back. Does
    nothing outside the main thread, or where no handler of the server is installed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    hooked: dict[int, tuple[Handler, Handler]] = {}
    for number in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(number)
        if not callable(previous) or previous is signal.default_int_handler:
            continue  # not a server's handler: nothing to put the drain in front of
        hook = _hook(drain, previous, delay_s if number == signal.SIGTERM else 0.0)
        signal.signal(number, hook)
        hooked[number] = (previous, hook)

    def restore() -> None:
        for number, (previous, hook) in hooked.items():
            if signal.getsignal(number) is hook:
                signal.signal(number, previous)

    return restore


def _hook(drain: Drain, previous: Handler, delay_s: float) -> Handler:
    def on_signal(number: int, frame: FrameType | None) -> None:
        delayed = drain.active  # a second signal goes through at once
        drain.begin()
        if delay_s <= 0 or delayed:
            previous(number, frame)
            return
        timer = threading.Timer(delay_s, previous, (number, None))
        timer.daemon = True
        timer.start()

    return on_signal


class DrainMiddleware:
    """While draining, answers carry ``Connection: close``; at the application's start
    (its lifespan) the signal hook is placed (see :func:`watch_signals`). Costs one
    attribute read per request otherwise."""

    def __init__(self, app: ASGIApp, drain: Drain, delay_s: float = 0.0) -> None:
        self.app, self.drain, self.delay_s = app, drain, delay_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.drain.active and scope["type"] == "http":
            await self.app(scope, receive, send)
        elif scope["type"] == "lifespan":
            restore = watch_signals(self.drain, self.delay_s)
            try:
                await self.app(scope, receive, send)
            finally:
                restore()
        elif scope["type"] == "http":

            async def closing(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = [h for h in message.get("headers", []) if h[0] != b"connection"]
                    message["headers"] = [*headers, (b"connection", b"close")]
                await send(message)

            await self.app(scope, receive, closing)
        else:
            await self.app(scope, receive, send)


def install(app: Any, delay_s: float = 0.0) -> Drain:
    """Give ``app`` its :class:`Drain` (``app.state.drain``, which ``/readyz`` reads) and
    the middleware that acts on it; returns the drain."""
    drain = Drain()
    app.state.drain = drain
    app.add_middleware(DrainMiddleware, drain=drain, delay_s=delay_s)
    return drain
