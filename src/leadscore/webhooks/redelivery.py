"""Sending deliveries again: ``leadscore webhooks redeliver``.

A delivery is given up (``failed``) after its last retry (by default about a day after the
first send); a receiver may also have lost one it answered 2xx to. Redelivery queues such
deliveries again, due at once with a fresh run of retries, by id or as every failed
delivery of a webhook since a time (:meth:`WebhookRepository.redeliver
<leadscore.store.webhooks.WebhookRepository.redeliver>`); the running service's dispatcher
sends them on its next pass. They keep their id, so receivers that de-duplicate on the
``X-Leadscore-Delivery`` header see a redelivery of one they have as a duplicate.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from leadscore.errors import LeadscoreError

_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """A time given as ISO 8601 (UTC unless it says otherwise) or as a duration ago
    (``90s``, ``30m``, ``6h``, ``2d``, ``1w``).

    Example
    -------
    >>> now = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)
    >>> parse_since("6h", now), parse_since("2025-03-01T10:00", now)
    (datetime.datetime(2025, 3, 2, 6, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 1, 10, 0, tzinfo=datetime.timezone.utc))
    """  # noqa: E501
    if text is None or not text.strip():
        return None
    ago = _AGO.fullmatch(text.strip())
    if ago:
        seconds = float(ago.group(1)) * _UNITS[ago.group(2).lower()]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise LeadscoreError(
            f"--since must be a time (2025-03-01T10:00) or a duration ago (30m, 6h, 2d), "
            f"not {text!r}"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
