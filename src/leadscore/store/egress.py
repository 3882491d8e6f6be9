"""What a webhook may be: an http(s) URL with a host, and known trigger kinds."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from typing import Any

from leadscore.store.errors import StoreError
from leadscore.store.records import WEBHOOK_KINDS


def check_url(url: Any) -> str:
    """``url`` stripped, if it is an http(s) URL with a host; :class:`StoreError` if not."""
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urllib.parse.urlsplit(text)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        valid = False
    if not valid:
        raise StoreError(
            f"a webhook URL must be an http:// or https:// URL with a host, not {url!r}"
        )
    return text


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The trigger kinds, cleaned; :class:`StoreError` if unknown or none."""
    given = [kinds] if isinstance(kinds, str) else list(kinds)
    clean = tuple(dict.fromkeys(str(k).strip().lower() for k in given))
    unknown = [k for k in clean if k not in WEBHOOK_KINDS]
    if unknown or not clean:
        raise StoreError(
            f"webhook kinds must be one or more of {', '.join(WEBHOOK_KINDS)}, not {given!r}"
        )
    return clean
