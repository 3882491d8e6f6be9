"""The service's edge: the API key checked before a body is read, and the security
headers of every answer. Both are pure ASGI middleware (a few microseconds a request:
no ``BaseHTTPMiddleware``, headers made once).

* :class:`KeyFirst`: a ``/v1/`` request without a valid key answers 401 before its body
  is read or parsed (FastAPI parses the body before it solves a route's dependencies, so
  without it a keyless malformed request got a detailed 422). The verified key's record
  is kept in the request's state, where the route's dependency
  (:func:`~leadscore.service.security.require`) takes it and checks only the scope (403).
* :class:`SecurityHeaders`: ``X-Content-Type-Options``, ``X-Frame-Options``,
  ``Referrer-Policy`` and a ``Content-Security-Policy`` on every answer (the API's
  ``default-src 'none'``, or one that lets ``/docs`` load its packaged script and
  styles); ``Cache-Control: no-store`` on all but the documentation.
  :func:`around_everything` puts it outside Starlette's error middleware, so that a 500
  has them too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from leadscore.service.docs import DOCS_PATHS
from leadscore.service.security import KEY_STATE, NO_KEY, UNKNOWN_KEY, identify, key_from_headers

log = logging.getLogger("leadscore.service")

Header = tuple[bytes, bytes]

#: the paths whose requests need a key before their body is read
API_PREFIX = "/v1/"


def _refusal(detail: str) -> tuple[list[Header], bytes]:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b"Bearer"),
    ]
    return headers, body


def route_path(scope: Scope) -> str:
    """The request's path without the app's ``root_path`` (what the routes match).

    Example
    -------
    >>> route_path({"path": "/api/v1/score", "root_path": "/api"})
    '/v1/score'
    >>> route_path({"path": "/v1/score"})
    '/v1/score'
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :]
    return path


class KeyFirst:
    """ASGI middleware: a ``/v1/`` request answers 401 unless it sends an active API key,
    before its body is read; the key's record goes to ``scope["state"]`` under
    :data:`~leadscore.service.security.KEY_STATE`.

    The key is found as the routes find it: the key cache, else the store in a worker
    thread. Should the store fail, the request goes on without a verified key, and the
    route's dependency looks it up again, so that the failure answers as the app's error
    handlers say (503 for a store that is away), not as a bare 500 here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.no_key = _refusal(NO_KEY)
        self.unknown_key = _refusal(UNKNOWN_KEY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not route_path(scope).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        plaintext = key_from_headers(scope["headers"])
        if not plaintext:
            await self._refuse(send, self.no_key)
            return
        try:
            key = await identify(scope["app"], plaintext)
        except Exception:  # the route's own check meets it again, under the app's handlers
            log.debug("key check before the body failed; left to the route", exc_info=True)
            await self.app(scope, receive, send)
            return
        if key is None:
            await self._refuse(send, self.unknown_key)
            return
        scope.setdefault("state", {})[KEY_STATE] = key
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(send: Send, answer: tuple[list[Header], bytes]) -> None:
        headers, body = answer
        await send({"type": "http.response.start", "status": 401, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})


#: the headers of every answer
COMMON: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
#: the API's answers (JSON, Prometheus text): nothing to load, to frame, or to keep
API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
#: ``/docs``: its own packaged script and styles (Swagger UI sets some styles inline and
#: draws icons from data: URLs), the OpenAPI document and "Try it out" requests to this
#: origin; nothing from elsewhere
DOCS_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class SecurityHeaders:
    """ASGI middleware adding the security headers to every answer: :data:`COMMON`, the
    API's policy and ``Cache-Control: no-store``; the documentation's policy on
    ``/docs`` and its assets (which may be cached). The headers are added,
    not merged: no route of this app sets them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.api: tuple[Header, ...] = (
            *COMMON,
            (b"content-security-policy", API_POLICY),
            (b"cache-control", b"no-store"),
        )
        self.docs: tuple[Header, ...] = (*COMMON, (b"content-security-policy", DOCS_POLICY))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs if route_path(scope).startswith(DOCS_PATHS) else self.api

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def around_everything(app: Any, middleware: Callable[[ASGIApp], ASGIApp]) -> None:
    """Wrap ``app``'s whole middleware stack in ``middleware``: outside Starlette's
    ``ServerErrorMiddleware`` too, which ``add_middleware`` cannot reach, so that an
    unhandled error's 500 passes through it as well. Call before the first request."""
    build = app.build_middleware_stack

    def built() -> ASGIApp:
        return middleware(build())

    app.build_middleware_stack = built
