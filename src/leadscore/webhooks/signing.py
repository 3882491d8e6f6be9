"""HMAC-SHA256 signatures of webhook payloads, for senders and receivers.

Each delivery carries the header ``X-Leadscore-Signature: t=<unix time>,v1=<hex>`` where
``<hex>`` is HMAC-SHA256, keyed with the webhook's secret, over ``f"{t}.".encode() + body``
(the raw request body, byte for byte). Signing the time too lets a receiver refuse
replays of old requests.

A receiver checks a request like this (Flask shown; any framework works the same way —
use the *raw* body, not re-serialised JSON)::

    from leadscore.webhooks.signing import SIGNATURE_HEADER, verify

    @app.post("/hooks/leadscore")
    def leadscore_hook():
        if not verify(SECRET, request.get_data(), request.headers.get(SIGNATURE_HEADER, "")):
            abort(401)
        event = request.get_json()
        # de-duplicate on the X-Leadscore-Delivery header: delivery is at-least-once
        ...

Without leadscore installed the check is a few lines of any language: split the header
at commas into ``t`` and ``v1``, compute the HMAC of ``t + "." + body`` and compare in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

#: the request header holding ``t=<timestamp>,v1=<signature>``
SIGNATURE_HEADER = "X-Leadscore-Signature"
#: default tolerance between the signed time and the receiver's clock
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` keyed with ``secret``.

    Example
    -------
    >>> sign("s3cret", b'{"event":"lead.hot"}', 1700000000)[:16]
    '66413a79c94a2eda'
    """
    message = f"{int(timestamp)}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The value of the ``X-Leadscore-Signature`` header (``timestamp`` default: now).

    Example
    -------
    >>> signature_header("s3cret", b"{}", 1700000000).startswith("t=1700000000,v1=")
    True
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={sign(secret, body, ts)}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """Whether ``header`` is a valid signature of ``body`` made with ``secret`` within
    ``tolerance_s`` seconds of ``now`` (default: the current time). Several ``v1=`` values
    are accepted (one matching is enough), which allows rotating secrets. Never raises.

    Example
    -------
    >>> body = b'{"event":"lead.hot","lead_id":"L1"}'
    >>> header = signature_header("s3cret", body)
    >>> verify("s3cret", body, header), verify("other", body, header)
    (True, False)
    >>> verify("s3cret", body + b" ", header)
    False
    """
    if not isinstance(header, str) or not isinstance(body, bytes | bytearray):
        return False
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, bytes(body), timestamp)
    # compare against every candidate so timing does not tell which one matched
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    return any(matches)
