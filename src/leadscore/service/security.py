"""API keys: ``Authorization: Bearer <key>`` (or ``X-API-Key``), checked against the store.

Scopes: ``score`` (POST scores), ``ingest`` (events and outcomes), ``read`` (leads, work
queue, models), ``admin`` (everything, including model reload). No key → 401, a key
without the scope → 403.

A key verified within the last ``service.key_cache_s`` seconds (default 5) is accepted
from the process's memory without a database read; the scope is checked on every request
either way. A revoke through this process applies at once; a revoke from elsewhere (the
CLI, the dashboard, another worker) within ``key_cache_s`` seconds.

:func:`require` is the dependency of the routes, with the two ways of sending a key as
dependencies of their own (which is how they show in the OpenAPI document);
:func:`require_direct` is the same check in one dependency, for the route called most
(``POST /v1/score``: FastAPI solving the two schemes as dependencies costs ~25 µs of CPU
a request), with :data:`KEY_SECURITY` to show the same two ways in its OpenAPI operation.

A ``/v1/`` request has its key checked before its body is read, by
:class:`~leadscore.service.edge.KeyFirst` (:func:`key_from_headers`, :func:`identify`),
which keeps the key's record in the request's state (:data:`KEY_STATE`): the route's
dependency then checks only the scope. ``GET /metrics`` needs the ``read`` scope
(:func:`metrics_reader`) unless ``service.metrics_public`` is set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from leadscore.store import ApiKeyRecord

#: the ``detail`` of a 401 without a key, and with an unknown or revoked one
NO_KEY = "an API key is required: Authorization: Bearer <key> or X-API-Key"
UNKNOWN_KEY = "unknown or revoked API key"

_bearer = HTTPBearer(auto_error=False, description="An API key from `leadscore keys create`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


#: what an operation guarded by :func:`require_direct` adds to its OpenAPI operation
#: (``openapi_extra``): the key schemes that :func:`require` shows through its dependencies
KEY_SECURITY: dict[str, Any] = {"security": [{_bearer.scheme_name: []}, {_header.scheme_name: []}]}


#: where :class:`~leadscore.service.edge.KeyFirst` keeps the record of the request's key
#: (in ``scope["state"]``, which is ``request.state``), once it has verified it
KEY_STATE = "leadscore.api_key"


def key_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The API key a request sends, from its raw ASGI headers: ``Authorization: Bearer
    <key>`` if there is one, else ``X-API-Key``; read as :func:`require`'s two schemes
    read it.

    Example
    -------
    >>> key_from_headers([(b"x-api-key", b"lsk_b"), (b"authorization", b"Bearer lsk_a")])
    'lsk_a'
    >>> key_from_headers([(b"authorization", b"Basic dTpw"), (b"x-api-key", b"lsk_b")])
    'lsk_b'
    >>> key_from_headers([]) is None
    True
    """
    bearer = header = None
    for name, value in headers:
        if name == b"authorization" and bearer is None:
            bearer = value
        elif name == b"x-api-key" and header is None:
            header = value
    if bearer is not None:
        scheme, _, credentials = bearer.decode("latin-1").partition(" ")
        credentials = credentials.strip()
        if credentials and scheme.lower() == "bearer":
            return credentials
    return header.decode("latin-1") if header else None


async def identify(app: Any, plaintext: str) -> ApiKeyRecord | None:
    """The record of the active key ``plaintext`` for the app ``app``, or ``None``: from
    the key cache when it was verified within ``service.key_cache_s`` seconds, else from
    the store in a worker thread (so the event loop never waits on the database)."""
    store = app.state.store
    ttl = app.state.settings.service.key_cache_s
    key = store.keys.cached(plaintext, ttl)
    if key is None:
        key = await run_in_threadpool(store.keys.authenticate, plaintext, cache_s=ttl)
    return key


def require(scope: str) -> Callable[..., Awaitable[ApiKeyRecord]]:
    """A dependency admitting keys with ``scope`` (or ``admin``)."""

    async def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> ApiKeyRecord:
        return await authorise(request, scope, bearer.credentials if bearer is not None else header)

    return check


def require_direct(scope: str) -> Callable[..., Awaitable[ApiKeyRecord]]:
    """:func:`require` as a single dependency: it reads the key with the same scheme
    objects itself. Give its route ``openapi_extra=KEY_SECURITY``."""

    async def check(request: Request) -> ApiKeyRecord:
        known = request.scope.get("state", {}).get(KEY_STATE)
        if known is not None:  # verified before the body was read (KeyFirst)
            return permitted(known, scope)
        bearer = await _bearer(request)
        plaintext = bearer.credentials if bearer is not None else await _header(request)
        return await authorise(request, scope, plaintext)

    return check


async def authorise(request: Request, scope: str, plaintext: str | None) -> ApiKeyRecord:
    """The record of the key ``plaintext`` if it has ``scope`` (or ``admin``); else an
    HTTP error: 401 without a key or with an unknown or revoked one, 403 without the
    scope."""
    # async: a key found in the cache costs no thread-pool round trip; only a database
    # check (a miss) goes to a thread, so the event loop never waits on the store
    key = request.scope.get("state", {}).get(KEY_STATE)  # verified already by KeyFirst
    if key is None:
        if not plaintext:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, NO_KEY, headers={"WWW-Authenticate": "Bearer"}
            )
        key = await identify(request.app, plaintext)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, UNKNOWN_KEY, headers={"WWW-Authenticate": "Bearer"}
        )
    return permitted(key, scope)


def permitted(key: ApiKeyRecord, scope: str) -> ApiKeyRecord:
    """``key`` if it has ``scope`` (or ``admin``), else 403."""
    if scope not in key.scopes and "admin" not in key.scopes:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this key lacks the {scope!r} scope (it has: {', '.join(key.scopes)})",
        )
    return key


async def metrics_reader(request: Request) -> None:
    """The dependency of ``GET /metrics``: a key with the ``read`` scope (or ``admin``),
    unless ``service.metrics_public`` opens the endpoint to anyone who can reach it."""
    if request.app.state.settings.service.metrics_public:
        return
    await authorise(request, "read", key_from_headers(request.scope["headers"]))
