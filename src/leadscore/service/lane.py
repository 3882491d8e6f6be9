"""A direct path for ``POST /v1/score``, the request the sales tools send most.

Through FastAPI a single-lead score costs ~0.5 ms of the server's CPU before the model
and the store do anything: routing, solving the dependencies, the response check, the
middleware chain (``bench/service_overhead.py`` measures it). :class:`ScoreLane` answers
the ordinary case itself with the very functions the route uses — the key cache, the
``LeadIn`` body model, :func:`~leadscore.service.inputs.check_attributes`,
:meth:`~leadscore.live.LiveScoring.score_lead`,
:func:`~leadscore.service.views.score_out` — and hands everything else on to the route
unchanged: a key not verified in the last ``key_cache_s`` seconds, a missing scope, a body
that is not JSON or does not validate, no model yet. Every error therefore keeps the one
shape and the one place it has (the route), and the lane needs no error handling of its
own beyond what scoring itself raises.

On the embedded SQLite store the lane scores on the event loop's own thread. The model
kernel releases the interpreter lock and the store write is a few hundred microseconds of
CPU, so a worker thread would add its round trip and nothing else; the price is that a
long write by another request (a 1,000-lead batch) holds the loop until it commits, as it
would hold this request's own write anyway. With PostgreSQL the lane uses the thread pool
like the route, so that network round trips never stop the loop.

Example
-------
>>> app.add_middleware(ScoreLane)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadscore.service.deps import attribute_model
from leadscore.service.inputs import check_attributes
from leadscore.service.metrics import ROUTE_KEY
from leadscore.service.schemas import LeadIn
from leadscore.service.views import score_out

PATH = "/v1/score"
_JSON = (b"application/json", b"application/json; charset=utf-8")


class _HandOn(Exception):
    """Not the lane's case: the route answers it."""


class ScoreLane:
    """ASGI middleware answering authorised, valid ``POST /v1/score`` requests directly.

    Parameters
    ----------
    app:
        The rest of the application (where everything else, and every error, goes).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        #: requests the lane answered itself (the tests check the lane is really taken)
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            await self._answer(scope, body, send)
        except _HandOn:
            await self.app(scope, _replay(body, receive), send)

    async def _answer(self, scope: Scope, body: bytes, send: Send) -> None:
        app = scope["app"]
        state = app.state
        headers = dict(scope["headers"])
        if headers.get(b"content-type", b"").lower() not in _JSON:
            raise _HandOn
        key = state.store.keys.cached(_plaintext(headers), state.settings.service.key_cache_s)
        if key is None or not ({"score", "admin"} & set(key.scopes)):
            raise _HandOn  # the route checks the key against the store, or refuses it
        scoring = state.live
        if not scoring.slot.ready:
            raise _HandOn
        model = scoring.slot.current
        try:  # json.loads, then the model, as FastAPI reads a body
            lead = LeadIn.model_validate(json.loads(body))
            attributes = check_attributes(
                attribute_model(model), lead.attributes, ("body", "attributes")
            )
        except (ValueError, RequestValidationError):  # pydantic's errors are ValueErrors
            raise _HandOn from None
        scope[ROUTE_KEY] = PATH  # the metrics count it under the route's name
        try:
            if state.store.dialect == "sqlite":
                # an embedded store: the write is CPU work like the model (which runs
                # without the interpreter lock): a hop to a worker thread and back would
                # only add ~0.3 ms (measured at 200 requests/s)
                scored = scoring.score_lead(lead.lead_id, attributes)
            else:  # a database over the network: its round trips must not stop the loop
                scored = await run_in_threadpool(scoring.score_lead, lead.lead_id, attributes)
        except Exception as exc:  # what scoring raises is answered as the route would
            handler = _handler(app, exc)
            if handler is None:
                raise
            response = handler(Request(scope), exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, _no_body, send)
            return
        state.metrics.scores.labels(scored.result.segment).inc()
        payload = score_out(scored).model_dump_json(by_alias=True).encode()
        self.answered += 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(payload)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _plaintext(headers: dict[bytes, bytes]) -> str | None:
    """The API key as :func:`~leadscore.service.security.require` reads it: a Bearer
    credential first, else ``X-API-Key``."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials
    header = headers.get(b"x-api-key")
    return header.decode("latin-1") if header else None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's body once more, for the route; then the connection's own messages."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _handler(app: Any, exc: Exception) -> Any:
    """The application's handler for ``exc`` (the nearest class in its MRO), if any."""
    for cls in type(exc).__mro__:
        if cls in app.exception_handlers:
            return app.exception_handlers[cls]
    return None
