"""Answers for a store that cannot serve now: 503 JSON with ``Retry-After``, never 500.

The store raises :class:`~leadscore.store.StoreUnavailable` when a write waited longer
than ``service.store_wait_s`` for its turn, and the driver's operational errors when the
database is locked, unreachable or its file gone (:data:`leadscore.store.UNAVAILABLE`
lists them). Each means "retry shortly", which is what 503 with ``Retry-After`` says to
a client, a load balancer and an HTTP library's retry policy alike. Why not accept the
score and queue its write: the queue would live on the same disk or server that is
failing, and a caller that got 200 would believe a score is stored that may never be;
with ``Idempotency-Key`` the retry is safe.

Any other unexpected error answers a JSON 500 that names no internals (the traceback goes
to the log), so a client never has to parse a plain-text page.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from leadscore.data.masking import mask_text
from leadscore.store import UNAVAILABLE, StoreUnavailable

log = logging.getLogger("leadscore.service")

#: seconds a client is asked to wait before retrying
RETRY_AFTER_S = 1


def _cause(exc: Exception) -> str:
    if isinstance(exc, StoreUnavailable):
        return str(exc)
    # the driver's own words ("database is locked", "connection refused"), first line only,
    # any password in a connection string masked
    original = getattr(exc, "orig", None) or exc
    first = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return f"the score store is unavailable ({mask_text(first)[:200]}); retry shortly"


def store_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """503 with ``Retry-After`` for a store that is busy or unreachable."""
    log.warning("score store unavailable: %s", _cause(exc))
    return JSONResponse(
        {"detail": _cause(exc)},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """A JSON 500 for a bug: no internals in the answer, the traceback in the log."""
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        {"detail": "internal error: the service's log has the details"},
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def install(app: FastAPI) -> None:
    """Register the 503 answers for every error of :data:`~leadscore.store.UNAVAILABLE`
    and the JSON 500 for the rest."""
    for error in UNAVAILABLE:
        app.add_exception_handler(error, store_unavailable)
    app.add_exception_handler(Exception, internal_error)
