"""API keys: ``Authorization: Bearer <key>`` (or ``X-API-Key``), checked against the store.

Scopes: ``score`` (POST scores), ``ingest`` (events and outcomes), ``read`` (leads, work
queue, models), ``admin`` (everything, including model reload). No key → 401, a key
without the scope → 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from leadscore.store import ApiKeyRecord

_bearer = HTTPBearer(auto_error=False, description="An API key from `leadscore keys create`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def require(scope: str) -> Callable[..., ApiKeyRecord]:
    """A dependency admitting keys with ``scope`` (or ``admin``)."""

    def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> ApiKeyRecord:
        plaintext = bearer.credentials if bearer is not None else header
        if not plaintext:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "an API key is required: Authorization: Bearer <key> or X-API-Key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = request.app.state.store.authenticate(plaintext)
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

    return check
