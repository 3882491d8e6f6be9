"""The ``Idempotency-Key`` header: write requests a client may retry safely.

A client sends ``Idempotency-Key: <1–200 printable ASCII characters>`` (a UUID, an order
id) with ``POST /v1/score``, ``/v1/score/batch``, ``/v1/events`` or ``/v1/outcomes``.
The first request with a key does its work and stores its answer with the key, in the
store's ``idempotency_keys`` (:mod:`leadscore.store.idempotency`); retrying it — after a
timeout, a dropped connection, a server restarting — answers the stored answer (the same
score, the same ``scored_at``) with ``Idempotent-Replayed: true`` and writes nothing.

* Keys are per client: the claim is stored under the API key's id, so two clients never
  see each other's answers.
* The same key with another request (method, path or body) answers 422.
* The same key while its first request is still in progress answers 409 with
  ``Retry-After: 1``, rather than waiting: the first request may itself wait for the store
  (up to its bound), and a second one parked on it would hold a worker thread and the
  client's timeout meanwhile; the retry after the 409 gets the stored answer.
* Only successes are stored: a request that failed wrote nothing (its transaction rolled
  back), so its claim is released and a retry does the work.
* Scores (``/v1/score``, ``/v1/score/batch``, the re-score of ``/v1/events``) store their
  answer in the scoring transaction itself, so a crash leaves either both or neither.
  ``/v1/outcomes`` and events that do not re-score store it just after their write: a
  crash in between leaves the claim pending, and a retry after its lease
  (:data:`~leadscore.store.idempotency.DEFAULT_LEASE_S`) records the outcome once more —
  harmless, as the latest outcome wins and a re-posted event is dropped.
* Answers are kept ``service.idempotency_ttl_s`` seconds (a day by default).

A request without the header takes the path it always took: the routes check for the
header once (a lookup in headers already parsed) and nothing else.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar

from fastapi import HTTPException, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Connection

from leadscore.service.security import KEY_STATE, key_from_headers
from leadscore.store import ApiKeyRecord, Store, StoreError
from leadscore.store.idempotency import check_key

log = logging.getLogger("leadscore.service")

T = TypeVar("T")

#: the request header (lower case, as ASGI gives header names)
IDEMPOTENCY_KEY = "idempotency-key"
#: the answer header of a replayed answer
REPLAYED = "Idempotent-Replayed"


def fingerprint(method: str, path: str, body: BaseModel) -> str:
    """What tells a retry from another request with the same key: SHA-256 of the method,
    the path and the validated body (so spacing and key order do not matter).

    Example
    -------
    >>> from leadscore.service.schemas import OutcomeIn
    >>> a = fingerprint("POST", "/v1/outcomes", OutcomeIn(lead_id="L1", converted=True))
    >>> b = fingerprint("POST", "/v1/outcomes", OutcomeIn(lead_id="L1", converted=False))
    >>> len(a), a == b
    (64, False)
    """
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body.model_dump_json(by_alias=True).encode())
    return digest.hexdigest()


def client_key(request: Request) -> ApiKeyRecord:
    """The record of the API key the request was admitted with: the one
    :class:`~leadscore.service.edge.KeyFirst` verified, else (an app without it) looked up
    again, from the key cache or the store. Blocking: call it from a worker thread."""
    known: ApiKeyRecord | None = request.scope.get("state", {}).get(KEY_STATE)
    if known is not None:
        return known
    plaintext = key_from_headers(request.scope["headers"])
    store: Store = request.app.state.store
    ttl = request.app.state.settings.service.key_cache_s
    key = store.keys.cached(plaintext, ttl) if plaintext else None
    if key is None and plaintext:
        key = store.keys.authenticate(plaintext, cache_s=ttl)
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
    return key


class Answer:
    """Stores the answer of the request that holds an idempotency key, once: inside the
    request's write transaction (``conn``) when it has one, else in its own."""

    def __init__(self, store: Store, api_key_id: int, key: str) -> None:
        self._store, self.api_key_id, self.key = store, api_key_id, key
        #: the JSON answer stored, once it is
        self.body: str | None = None

    def __call__(self, conn: Connection | None, body: str, status_code: int = 200) -> str:
        """Store ``body`` (JSON text) as the answer; returns it."""
        self._store.idempotency.complete(self.api_key_id, self.key, status_code, body, conn)
        self.body = body
        return body


def once(request: Request, body: BaseModel, work: Callable[[Answer], str]) -> Response:
    """Answer a write request that carries an ``Idempotency-Key``: the stored answer of a
    retry, 422 for a key used for another request, 409 while the key's first request is
    in progress; otherwise ``work(answer)`` runs, returning the JSON answer, and the answer
    is stored — by ``work`` on its transaction's connection (``answer(conn, json)``), or
    here right after it. Blocking: call it from a worker thread."""
    key = request.headers[IDEMPOTENCY_KEY]
    try:
        check_key(key)
    except StoreError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Idempotency-Key: {exc}") from None
    store: Store = request.app.state.store
    client = client_key(request)
    request_hash = fingerprint(request.method, request.url.path, body)
    ttl_s = request.app.state.settings.service.idempotency_ttl_s
    found = store.idempotency.claim(client.id, key, request_hash, ttl_s=ttl_s)
    if found is not None:
        if found.request_hash != request_hash:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "this Idempotency-Key was used for another request (a different method, "
                "path or body); use a new key for a new request",
            )
        if found.pending or found.body is None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "a request with this Idempotency-Key is in progress; retry shortly for its answer",
                headers={"Retry-After": "1"},
            )
        return Response(
            found.body,
            status_code=found.status or 200,
            media_type="application/json",
            headers={REPLAYED: "true"},
        )
    answer = Answer(store, client.id, key)
    try:
        text = work(answer)
    except BaseException:
        try:
            store.idempotency.release(client.id, key)
        except Exception:  # the claim then lapses after its lease
            log.exception("could not release idempotency key %r", key)
        raise
    if answer.body is None:
        try:
            answer(None, text)
        except Exception:  # the work is done: answer it; a retry waits out the lease
            log.exception("could not store the answer of idempotency key %r", key)
    return Response(text, media_type="application/json")


def answering(answer: Answer, render: Callable[[T], str]) -> Callable[[Connection, T], None]:
    """The ``then`` of a scoring call (:meth:`LiveScoring.score_leads
    <leadscore.live.scorer.LiveScoring.score_leads>`) that stores ``render(result)`` as
    the answer in the scoring transaction."""

    def store(conn: Connection, result: T) -> None:
        answer(conn, render(result))

    return store
