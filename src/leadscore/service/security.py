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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from leadscore.store import ApiKeyRecord

_bearer = HTTPBearer(auto_error=False, description="An API key from `leadscore keys create`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


#: what an operation guarded by :func:`require_direct` adds to its OpenAPI operation
#: (``openapi_extra``): the key schemes that :func:`require` shows through its dependencies
KEY_SECURITY: dict[str, Any] = {"security": [{_bearer.scheme_name: []}, {_header.scheme_name: []}]}


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
    if not plaintext:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an API key is required: Authorization: Bearer <key> or X-API-Key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    store = request.app.state.store
    ttl = request.app.state.settings.service.key_cache_s
    key = store.keys.cached(plaintext, ttl)
    if key is None:
        key = await run_in_threadpool(store.keys.authenticate, plaintext, cache_s=ttl)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if scope not in key.scopes and "admin" not in key.scopes:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this key lacks the {scope!r} scope (it has: {', '.join(key.scopes)})",
        )
    return key
