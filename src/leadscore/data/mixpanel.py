"""Raw events from Mixpanel's Export API, one newline-delimited JSON file per day.

``GET {host}/api/2.0/export?from_date=D&to_date=D[&event=[...]][&project_id=N]`` returns
one JSON object per line: ``{"event": "Signed Up", "properties": {"time": …,
"distinct_id": …, "$browser": …, …}}``. :func:`export_mixpanel` fetches a date range one
day at a time into ``mixpanel_YYYY-MM-DD.jsonl`` files, so an interrupted export resumes
at the first day that is missing; :func:`flatten_mixpanel_record` lifts the properties to
the top level for the events loader.

Authentication (from :class:`MixpanelSettings`, i.e. ``LEADSCORE_MIXPANEL__*``):

* a service account — ``USERNAME`` and ``SECRET``, plus ``PROJECT_ID``;
* or the project's API secret — ``API_SECRET`` (legacy, but still accepted by Mixpanel).

EU and India data residency projects set ``HOST`` to ``https://data-eu.mixpanel.com`` or
``https://data-in.mixpanel.com``.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import gzip
import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from leadscore.config import MixpanelSettings
from leadscore.errors import DataError

EXPORT_PATH = "/api/2.0/export"
_CHUNK = 64 * 1024
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _Retryable(Exception):
    """A failure worth another attempt; ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _as_date(value: str | dt.date, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DataError(f"{name} {value!r} is not a date: use YYYY-MM-DD") from None


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def day_file(dest_dir: str | Path, day: dt.date) -> Path:
    """The file that holds the events of ``day`` in ``dest_dir``."""
    return Path(dest_dir) / f"mixpanel_{day.isoformat()}.jsonl"


def _host(settings: MixpanelSettings) -> str:
    host = settings.host.strip().rstrip("/")
    return host if "://" in host else f"https://{host}"


def _auth_header(settings: MixpanelSettings) -> str:
    if settings.username and settings.secret:
        if settings.project_id is None:
            raise DataError(
                "a Mixpanel service account needs the project id: set "
                "LEADSCORE_MIXPANEL__PROJECT_ID (or use mixpanel://PROJECT_ID?…)"
            )
        user, password = settings.username, settings.secret.get_secret_value()
    elif settings.api_secret:
        user, password = settings.api_secret.get_secret_value(), ""
    else:
        raise DataError(
            "no Mixpanel credentials: set LEADSCORE_MIXPANEL__USERNAME and "
            "LEADSCORE_MIXPANEL__SECRET (service account) and LEADSCORE_MIXPANEL__PROJECT_ID, "
            "or LEADSCORE_MIXPANEL__API_SECRET"
        )
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _export_url(settings: MixpanelSettings, day: dt.date, events: list[str] | None) -> str:
    params: dict[str, str] = {"from_date": day.isoformat(), "to_date": day.isoformat()}
    if events:
        params["event"] = json.dumps(list(events))
    if settings.project_id is not None:
        params["project_id"] = str(settings.project_id)
    return f"{_host(settings)}{EXPORT_PATH}?{urllib.parse.urlencode(params)}"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date), or ``None``."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _backoff(attempt: int, settings: MixpanelSettings, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): ``Retry-After`` when the
    server sent one (capped at ``retry_max_delay``), else exponential with jitter."""
    cap = min(settings.retry_max_delay, settings.retry_base_delay * 2 ** (attempt - 1))
    # "equal jitter": half fixed, half random, so concurrent exports do not retry in step
    delay = cap / 2 + random.uniform(0, cap / 2)
    if retry_after is not None:  # the server knows best, within our patience
        return min(retry_after, settings.retry_max_delay)
    return delay


def _error_text(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "(no message)"
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return text[:500]


def _stream_to(response: Any, partial: Path) -> None:
    """Copy the (possibly gzip-encoded) body to ``partial`` chunk by chunk."""
    encoding = (response.headers.get("Content-Encoding") or "").lower()
    # wbits=31 expects a gzip header; a streaming decompressor keeps memory flat
    inflater = zlib.decompressobj(wbits=31) if encoding in ("gzip", "x-gzip") else None
    with partial.open("wb") as out:
        while chunk := response.read(_CHUNK):
            out.write(inflater.decompress(chunk) if inflater else chunk)
        # http.client's read(n) returns b"" on a dropped connection instead of raising,
        # so compare with the announced length ourselves
        if getattr(response, "length", None):
            raise _Retryable(f"the response ended {response.length} bytes early")
        if inflater is not None:
            out.write(inflater.flush())
            if not inflater.eof:
                raise _Retryable("the gzip-compressed response ended early")


def _fetch_day(url: str, auth: str, partial: Path, settings: MixpanelSettings) -> None:
    """One attempt: write the day to ``partial`` or raise :class:`_Retryable`/``DataError``."""
    request = urllib.request.Request(
        url,
        headers={"Authorization": auth, "Accept-Encoding": "gzip", "Accept": "text/plain"},
    )
    host = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]  # never a user:password@
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            _stream_to(response, partial)
    except urllib.error.HTTPError as exc:
        body = exc.read() if exc.fp is not None else b""
        message = _error_text(body)
        if exc.code in _RETRY_STATUSES:
            raise _Retryable(
                f"HTTP {exc.code} from {host}: {message}",
                _retry_after(exc.headers.get("Retry-After")),
            ) from None
        if exc.code in (401, 403):
            raise DataError(
                f"Mixpanel rejected the credentials (HTTP {exc.code} from {host}: {message}); "
                "check LEADSCORE_MIXPANEL__USERNAME / __SECRET / __PROJECT_ID or __API_SECRET, "
                "and that the project lives on this host (EU projects use "
                "https://data-eu.mixpanel.com)"
            ) from None
        raise DataError(f"Mixpanel refused the export (HTTP {exc.code}): {message}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, zlib.error) as exc:
        # connection refused/reset, DNS failure, timeout (TimeoutError is an OSError), a
        # truncated body (IncompleteRead is an HTTPException): all worth another try
        reason = getattr(exc, "reason", None) or exc
        raise _Retryable(f"network error talking to {host}: {reason}") from None


def _export_day(
    day: dt.date, dest: Path, auth: str, settings: MixpanelSettings, events: list[str] | None
) -> Path:
    target = day_file(dest, day)
    partial = target.with_name(target.name + ".partial")
    url = _export_url(settings, day, events)
    last: _Retryable | None = None
    for attempt in range(1, settings.max_attempts + 1):
        try:
            _fetch_day(url, auth, partial, settings)
        except _Retryable as exc:
            last = exc
            partial.unlink(missing_ok=True)
            if attempt < settings.max_attempts:
                time.sleep(_backoff(attempt, settings, exc.retry_after))
            continue
        except BaseException:
            partial.unlink(missing_ok=True)  # never leave half a day behind
            raise
        partial.replace(target)  # the rename is what marks the day complete
        return target
    raise DataError(
        f"Mixpanel export of {day.isoformat()} failed after {settings.max_attempts} "
        f"attempts: {last}"
    )


def _is_final(day: dt.date) -> bool:
    # Mixpanel keeps adding late events to recent days (and projects keep their own time
    # zone), so only days at least two days old count as finished once downloaded.
    return day <= dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)


def export_mixpanel(
    from_date: str | dt.date,
    to_date: str | dt.date,
    dest_dir: str | Path,
    settings: MixpanelSettings | Any | None = None,
    events: Iterable[str] | None = None,
) -> list[Path]:
    """Download raw events day by day into ``dest_dir/mixpanel_YYYY-MM-DD.jsonl``.

    Each day is streamed to a ``.partial`` file and renamed when complete, so a file with
    the final name is always a whole day: running the export again skips those days (apart
    from the last two days before today, which Mixpanel may still fill). 429 and 5xx
    answers and network errors are retried with exponential backoff and jitter, honouring
    ``Retry-After``, up to ``settings.max_attempts`` attempts per day.

    Parameters
    ----------
    from_date, to_date:
        First and last day (inclusive), ``YYYY-MM-DD`` or :class:`datetime.date`, in the
        project's time zone as Mixpanel defines it.
    dest_dir:
        Folder for the day files; created if needed.
    settings:
        :class:`MixpanelSettings`, or the whole :class:`~leadscore.config.Settings`;
        ``None`` reads ``LEADSCORE_MIXPANEL__*`` from the environment.
    events:
        Only these event names (default: all events).

    Returns
    -------
    The day files in date order (empty files for days without events).

    For example, ``export_mixpanel("2025-01-01", "2025-01-31", "raw/mixpanel")`` gives
    ``[PosixPath('raw/mixpanel/mixpanel_2025-01-01.jsonl'), …]``, one file per day.
    """
    config = _resolve_settings(settings)
    start, end = _as_date(from_date, "from date"), _as_date(to_date, "to date")
    if end < start:
        raise DataError(f"the Mixpanel export range is empty: {end} is before {start}")
    event_list = sorted(set(events)) if events else None
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    auth = _auth_header(config)
    paths: list[Path] = []
    for day in _days(start, end):
        target = day_file(dest, day)
        if not (target.is_file() and _is_final(day)):
            _export_day(day, dest, auth, config, event_list)
        paths.append(target)
    return paths


def _resolve_settings(settings: MixpanelSettings | Any | None) -> MixpanelSettings:
    if isinstance(settings, MixpanelSettings):
        return settings
    if settings is None:
        from leadscore.config import load_settings

        return load_settings().mixpanel
    return settings.mixpanel  # the whole Settings


def flatten_mixpanel_record(record: dict[str, Any]) -> dict[str, Any]:
    """``{"event": e, "properties": {...}}`` → ``{"event": e, **properties}``.

    The event name wins over a property that happens to be called ``event``. A record
    without ``properties`` (already flat) is returned as a copy.

    Example
    -------
    >>> flatten_mixpanel_record({"event": "Signed Up", "properties": {"distinct_id": "u1"}})
    {'event': 'Signed Up', 'distinct_id': 'u1'}
    """
    if not isinstance(record, dict):
        raise DataError(f"a Mixpanel record must be a JSON object, not {type(record).__name__}")
    properties = record.get("properties")
    if not isinstance(properties, dict):
        return dict(record)
    flat: dict[str, Any] = {"event": record.get("event")}
    flat.update((key, value) for key, value in properties.items() if key != "event")
    for key, value in record.items():  # keep any other top-level field
        if key not in ("event", "properties"):
            flat.setdefault(key, value)
    return flat


def iter_mixpanel_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for the non-blank lines of a JSONL file (1-based,
    newline stripped); ``.gz`` files are decompressed on the fly.

    Example
    -------
    >>> _ = Path("day.jsonl").write_text('{"event": "Signed Up"}\\n\\n{"event": "Paid"}\\n')
    >>> [(number, json.loads(line)["event"]) for number, line in iter_mixpanel_lines("day.jsonl")]
    [(1, 'Signed Up'), (3, 'Paid')]
    """
    path = Path(path)
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
            for number, line in enumerate(handle, start=1):
                stripped = line.rstrip("\r\n")
                if stripped.strip():
                    yield number, stripped
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"cannot decompress {path}: {exc}") from None
