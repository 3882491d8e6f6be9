"""Raw behaviour events: one schema, loaded from JSONL, CSV or Parquet, with quarantine.

Tracking exports name the same things differently (``distinct_id``, ``client_id``,
``clientId``, ``anonymousId`` …; epoch seconds, milliseconds or ISO 8601). Every file is
read on its own, its columns are mapped onto :data:`EVENT_COLUMNS`, and the rows that
cannot be used (a broken JSON line, no lead id, a time that cannot be read) are set aside
in a quarantine table with the file, line number and reason — never a crash, never a
silent drop. Duplicates (the same event id, or the same row twice) are removed and
counted.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
from pandas.api.types import union_categoricals

from leadscore.data.sources import read_table, resolve_files, source_kind
from leadscore.errors import DataError

#: The event schema every source is mapped onto. ``timestamp`` is UTC (tz-naive).
EVENT_COLUMNS: tuple[str, ...] = (
    "lead_id", "timestamp", "event", "event_id", "url", "page_title", "referrer",
    "utm_source", "utm_medium", "utm_campaign", "user_agent", "ip", "tz_offset_minutes",
    "timezone", "device_type", "os", "browser", "country",
)  # fmt: skip

#: Names used by common trackers (Mixpanel, Segment, GA exports, server logs), normalised
#: to lower case without punctuation, for each schema column.
ALIASES: dict[str, tuple[str, ...]] = {
    "lead_id": (
        "lead_id", "leadid", "distinct_id", "distinctid", "client_id", "clientid", "user_id",
        "userid", "anonymous_id", "anonymousid", "visitor_id", "visitorid", "cookie_id",
        "device_id", "person_id", "contact_id",
    ),
    "timestamp": (
        "timestamp", "time", "ts", "event_time", "eventtime", "event_timestamp", "occurred_at",
        "received_at", "sent_at", "datetime", "date",
    ),
    "event": ("event", "event_name", "eventname", "name", "type", "action", "event_type"),
    "event_id": ("event_id", "eventid", "insert_id", "insertid", "message_id", "messageid", "uuid"),
    "url": (
        "url", "page_url", "pageurl", "current_url", "currenturl", "page_location", "page",
        "location", "href",
    ),
    "page_title": ("page_title", "pagetitle", "title"),
    "referrer": ("referrer", "referer", "page_referrer", "document_referrer", "initial_referrer"),
    "utm_source": ("utm_source", "utmsource", "campaign_source"),
    "utm_medium": ("utm_medium", "utmmedium", "campaign_medium"),
    "utm_campaign": ("utm_campaign", "utmcampaign", "campaign_name", "campaign"),
    "user_agent": ("user_agent", "useragent", "ua", "http_user_agent"),
    "ip": ("ip", "ip_address", "ipaddress", "client_ip", "clientip", "remote_addr", "context_ip"),
    "tz_offset_minutes": (
        "tz_offset_minutes", "tz_offset", "timezone_offset", "utc_offset", "utcoffset",
    ),
    "timezone": ("timezone", "time_zone", "tz"),
    "device_type": ("device_type", "devicetype", "device", "device_category"),
    "os": ("os", "operating_system", "platform"),
    "browser": ("browser", "browser_name"),
    "country": ("country", "country_code", "countrycode", "mp_country_code", "geo_country"),
}  # fmt: skip

REQUIRED = ("lead_id", "timestamp", "event")
EVENT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".pq")
# Epoch numbers: the unit is read off the magnitude of a time between 2000 and 2100.
_EPOCH_UNITS = (("s", 9.4e8, 4.2e9), ("ms", 9.4e11, 4.2e12), ("us", 9.4e14, 4.2e15))
_LATEST = pd.Timestamp("2100-01-01")
_EARLIEST = pd.Timestamp("2000-01-01")


def _key(name: str) -> str:
    # "$current_url" → "current_url", "properties.distinct_id" → "distinct_id"
    name = str(name).split(".")[-1]
    return re.sub(r"[^0-9a-z_]+", "", name.lower().replace(" ", "_").replace("-", "_"))


_LOOKUP = {alias: column for column, names in ALIASES.items() for alias in names}


@dataclass
class EventLoad:
    """Events read from one or more files, with what was set aside and why."""

    events: pd.DataFrame
    quarantine: pd.DataFrame
    duplicates: int = 0
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        reasons = self.quarantine["reason"].value_counts() if len(self.quarantine) else {}
        return {
            "events": len(self.events),
            "leads": int(self.events["lead_id"].nunique()) if len(self.events) else 0,
            "duplicates_removed": self.duplicates,
            "quarantined": len(self.quarantine),
            **{f"quarantined: {k}": int(v) for k, v in dict(reasons).items()},
        }

    def summary(self) -> str:
        """One paragraph a person can read: what was loaded and what was set aside."""
        c = self.counts
        text = (
            f"{c['events']:,} events of {c['leads']:,} leads from {len(self.files)} file(s); "
            f"{c['duplicates_removed']:,} duplicates removed; {c['quarantined']:,} set aside"
        )
        if c["quarantined"]:
            reasons = self.quarantine["reason"].value_counts()
            text += " (" + ", ".join(f"{n:,} {r}" for r, n in reasons.items()) + ")"
        return text

    def write_quarantine(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.quarantine.to_csv(out, index=False)
        return out


_QUARANTINE_COLUMNS = ["file", "line", "reason", "raw"]


def _quarantine(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=_QUARANTINE_COLUMNS)


# ----------------------------------------------------------------------------- reading files


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace", newline="")


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]], np.ndarray]:
    """Rows, quarantined lines, and the file line number of every row."""
    if path.suffix != ".gz":
        try:
            table = pa_json.read_json(path, read_options=pa_json.ReadOptions(block_size=1 << 24))
            frame = _flatten(table)
            return frame, [], _non_blank_lines(path, len(frame))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # a malformed line or mixed types: fall back to line by line
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    bad: list[dict[str, Any]] = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                bad.append(_bad(path, number, f"broken JSON ({exc.msg})", text))
                continue
            if not isinstance(record, dict):
                bad.append(_bad(path, number, "a JSON line that is not an object", text))
                continue
            records.append(_flatten_record(record))
            lines.append(number)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    return frame, bad, np.asarray(lines, dtype=np.int64)


def _non_blank_lines(path: Path, expected: int) -> np.ndarray:
    """File line numbers of the non-blank lines (the fast JSON reader skips blank ones)."""
    data = path.read_bytes()
    if not re.search(rb"(^|\n)[ \t\r]*(\n|$)", data.rstrip(b"\r\n")):
        return np.arange(1, expected + 1)  # no blank line: the common case, no scan
    numbers = [i for i, line in enumerate(data.split(b"\n"), start=1) if line.strip()]
    return np.asarray(numbers[:expected], dtype=np.int64)


def _flatten_record(record: dict[str, Any]) -> dict[str, Any]:
    """Nested ``properties`` / ``context`` objects (Mixpanel, Segment) lifted to the top."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for inner, inner_value in _flatten_record(value).items():
                flat.setdefault(inner, inner_value)
        else:
            flat[key] = value
    return flat


def _flatten(table: pa.Table) -> pd.DataFrame:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    frame = _to_pandas(table)
    frame.columns = [str(c).split(".")[-1] for c in frame.columns]
    return frame.loc[:, ~frame.columns.duplicated()]


def _bad(path: Path, line: int, reason: str, raw: str) -> dict[str, Any]:
    return {"file": str(path), "line": line, "reason": reason, "raw": raw[:500]}


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]], np.ndarray]:
    from leadscore.data.sources import sniff_delimiter

    with _open_text(path) as handle:
        header = handle.readline()
    if not header.strip():
        raise DataError(f"event file is empty: {path}")
    delimiter = "\t" if _base_suffix(path) == ".tsv" else sniff_delimiter(header)
    bad: list[dict[str, Any]] = []

    def invalid(row: pa_csv.InvalidRow) -> str:
        bad.append(
            _bad(
                path, row.number or 0,
                f"{row.actual_columns} fields where the header has {row.expected_columns}",
                row.text or "",
            )
        )  # fmt: skip
        return "skip"

    def read(encoding: str) -> pa.Table:
        bad.clear()
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(encoding=encoding),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=invalid
            ),
            convert_options=pa_csv.ConvertOptions(strings_can_be_null=True),
        )

    try:
        table = read("utf8")
        if any(pa.types.is_binary(f.type) for f in table.schema):
            table = read("latin1")  # not valid UTF-8: a spreadsheet export, most likely
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot parse {path} as CSV: {exc}") from None
    if any(not b["line"] for b in bad):
        _locate_lines(path, bad)
    frame = _to_pandas(table)
    skipped = sorted(b["line"] for b in bad)
    # Line numbers of kept rows: data rows start on line 2, minus skipped lines before them.
    lines = np.arange(2, len(frame) + 2 + len(skipped), dtype=np.int64)
    if skipped:
        lines = lines[~np.isin(lines, skipped)][: len(frame)]
    return frame, bad, lines


def _locate_lines(path: Path, bad: list[dict[str, Any]]) -> None:
    """Fill in line numbers the CSV parser did not report, by finding each row's text."""
    with _open_text(path) as handle:
        lines = [line.rstrip("\r\n") for line in handle]
    taken: set[int] = {b["line"] for b in bad if b["line"]}
    for item in bad:
        if item["line"]:
            continue
        for number, text in enumerate(lines, start=1):
            if number not in taken and text == item["raw"]:
                item["line"] = number
                taken.add(number)
                break


def _dictionary_columns(names: list[str], types: list[pa.DataType]) -> list[str]:
    """Text columns to read dictionary-encoded (categorical): all but the event id, whose
    values are unique per event and would only make a dictionary as large as the data."""
    event_ids = {c for c, target in map_columns(names).items() if target == "event_id"}
    return [
        name
        for name, kind in zip(names, types, strict=True)
        if (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and name not in event_ids
    ]


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with repetitive text as categoricals (built in Arrow, not Python)."""
    names = [str(n).split(".")[-1] for n in table.column_names]
    encode = set(_dictionary_columns(names, table.schema.types))
    for i, name in enumerate(names):
        if name in encode:
            table = table.set_column(i, table.field(i).name, pc.dictionary_encode(table.column(i)))
    return table.to_pandas()


def _read_file(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]], np.ndarray]:
    if not path.exists():
        raise DataError(f"event file not found: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"event file is empty: {path}")
    suffix = _base_suffix(path)
    if suffix in (".parquet", ".pq"):
        try:
            schema = pq.read_schema(path)
            table = pq.read_table(
                path, read_dictionary=_dictionary_columns(schema.names, schema.types)
            )
            # hand Arrow's memory over column by column instead of holding both copies
            frame = table.to_pandas(split_blocks=True, self_destruct=True)
            del table
        except Exception as exc:  # pyarrow raises many types; all mean "not readable"
            raise DataError(f"cannot read {path} as Parquet: {exc}") from None
        return frame, [], np.arange(1, len(frame) + 1)
    if suffix in (".csv", ".tsv"):
        return _read_csv(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path)
    raise DataError(
        f"cannot tell the format of {path}: events come as .jsonl, .csv or .parquet "
        "(optionally .gz)"
    )


# ----------------------------------------------------------------------------- normalising


def map_columns(columns: Iterable[str]) -> dict[str, str]:
    """Source column → schema column, first match wins per schema column."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        target = _LOOKUP.get(_key(column))
        if target is not None and target not in taken:
            mapping[column] = target
            taken.add(target)
    return mapping


def parse_timestamps(values: pd.Series, where: str) -> pd.Series:
    """Read epoch seconds / milliseconds / microseconds or ISO 8601 as naive UTC.

    Unreadable values become NaT (the caller quarantines them). Numbers whose magnitude
    fits no epoch unit between 2000 and 2100 raise :class:`DataError` naming the column.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values, utc=True)
        return parsed.dt.tz_localize(None).astype("datetime64[ns]")
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().mean() > 0.5:
        typical = float(numbers.median())
        for unit, low, high in _EPOCH_UNITS:
            if low <= typical <= high:
                parsed = pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")
                return parsed.dt.tz_localize(None).astype("datetime64[ns]")
        raise DataError(
            f"{where} holds numbers like {typical:.0f} that are not a time: as epoch seconds, "
            "milliseconds or microseconds they fall outside 2000–2100. Give times as epoch "
            "seconds/milliseconds or ISO 8601 text (2026-01-31T14:05:00Z)."
        )
    text = values.astype("string")
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().mean() > 0.5 * text.notna().mean():
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def normalise(
    frame: pd.DataFrame, path: str, lines: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map one file's columns onto the schema; split off unusable rows with reasons."""
    mapping = map_columns(frame.columns)
    missing = [c for c in REQUIRED if c not in mapping.values()]
    if missing:
        looked = "; ".join(f"{m}: {', '.join(ALIASES[m][:6])}, …" for m in missing)
        raise DataError(
            f"unknown column layout in {path}: no column for {', '.join(missing)} "
            f"(looked for {looked}). Columns found: {list(frame.columns)[:20]}"
        )
    out = pd.DataFrame(index=frame.index)
    for source, target in mapping.items():
        out[target] = frame[source]
    for column in EVENT_COLUMNS:
        if column not in out.columns:
            out[column] = _empty_column(column, len(out), out.index)
    out = out[list(EVENT_COLUMNS)]
    out["timestamp"] = parse_timestamps(out["timestamp"], f"time column of {path}")
    for column in TEXT_COLUMNS:
        out[column] = as_text_category(out[column])
    event_id = out["event_id"]
    if event_id.dtype != "str":
        out["event_id"] = event_id.astype("str").where(event_id.notna())
    out["tz_offset_minutes"] = pd.to_numeric(out["tz_offset_minutes"], errors="coerce")
    if "referrer" in mapping.values():
        # The file records referrers: an empty one means a direct visit. Where the column is
        # absent altogether, the source stays unknown rather than looking "direct".
        referrer = out["referrer"]
        if "" not in referrer.cat.categories:
            referrer = referrer.cat.add_categories([""])
        out["referrer"] = referrer.fillna("")

    reasons = pd.Series(pd.NA, index=out.index, dtype="object")
    reasons[out["event"].isna()] = "no event name"
    reasons[out["timestamp"].isna()] = "time not readable"
    too_late = out["timestamp"].notna() & (
        (out["timestamp"] < _EARLIEST) | (out["timestamp"] >= _LATEST)
    )
    reasons[too_late] = "time outside 2000–2100"
    reasons[out["lead_id"].isna()] = "no lead id"
    bad = reasons.notna().to_numpy()
    raw = _raw_rows(frame.loc[bad]) if bad.any() else []
    quarantined = pd.DataFrame(
        {
            "file": path,
            "line": lines[bad],
            "reason": reasons[bad].to_numpy(),
            "raw": raw,
        }
    )
    if not bad.any():
        return out.reset_index(drop=True), quarantined  # the common case: no copy
    return out.loc[~bad].reset_index(drop=True), quarantined


def _empty_column(column: str, n: int, index: pd.Index) -> pd.Series:
    """An all-missing schema column, built cheaply in its final type."""
    if column == "tz_offset_minutes":
        return pd.Series(np.full(n, np.nan), index=index)
    if column == "timestamp":
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    empty = pd.Categorical.from_codes(
        np.full(n, -1, np.int8), categories=pd.Index([], dtype=object)
    )
    return pd.Series(empty, index=index)


def _duplicates(events: pd.DataFrame) -> np.ndarray:
    """Repeated events, all but the first marked: the same event id again (a tracker's
    retry), or, for rows without an id, the same row twice.

    Ids are hashed by Arrow (one pass, usually proving them all distinct); rows without an
    id are compared in full only where lead and time coincide.
    """
    marked = np.zeros(len(events), dtype=bool)
    has_id = events["event_id"].notna().to_numpy()
    if has_id.any():
        try:
            ids = pa.array(events["event_id"].array, from_pandas=True)
            distinct = len(pc.drop_null(pc.unique(ids)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            distinct = -1  # unknown: compare in full
        if distinct != int(has_id.sum()):
            codes, _ = pd.factorize(events["event_id"], use_na_sentinel=True)
            marked |= has_id & pd.Series(codes).duplicated().to_numpy()
    if not has_id.all():
        lead_codes = events["lead_id"].cat.codes.to_numpy()
        times = events["timestamp"].to_numpy("datetime64[ns]").view(np.int64)
        pairs = pd.DataFrame({"lead": lead_codes, "time": times})
        candidates = np.flatnonzero(~has_id & pairs.duplicated(keep=False).to_numpy())
        if len(candidates):
            subset = events.iloc[candidates]
            marked[candidates] = subset.duplicated().to_numpy()
    return marked


def as_text_category(values: pd.Series) -> pd.Series:
    """Text as a pandas categorical: stripped, empty → missing, numbers → text.

    Event columns repeat a few thousand distinct values millions of times; as categories
    they take a fraction of the memory and every string operation runs once per value.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("category")
    categories = values.cat.categories
    text = pd.Index(categories.astype(str)).str.strip()
    if categories.dtype.kind in "fc":  # 12345.0 read from JSON numbers → "12345"
        text = pd.Index([t[:-2] if t.endswith(".0") else t for t in text])
    codes, uniques = pd.factorize(text)
    uniques = pd.Index(uniques, dtype=object)
    remap = np.append(codes, -1)[values.cat.codes.to_numpy()]
    empty = np.flatnonzero(uniques == "")
    if len(empty):
        remap[remap == empty[0]] = -1
    result = pd.Categorical.from_codes(remap, categories=uniques)
    if len(empty):
        result = result.remove_categories([""])
    return pd.Series(result, index=values.index)


#: text columns kept as categoricals (the event id, unique per event, stays plain text)
TEXT_COLUMNS = tuple(
    c for c in EVENT_COLUMNS if c not in ("timestamp", "tz_offset_minutes", "event_id")
)


def _object_categories(values: pd.Series) -> pd.Categorical:
    # pandas may infer "str" categories after edits; union needs one dtype for all parts
    categories = pd.Index(values.cat.categories, dtype=object)
    return pd.Categorical.from_codes(values.cat.codes.to_numpy(), categories=categories)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate event frames, keeping text columns categorical (union of categories)."""
    if len(parts) == 1:
        return parts[0]
    combined = {}
    for column in EVENT_COLUMNS:
        if column in TEXT_COLUMNS:
            combined[column] = pd.Series(
                union_categoricals(
                    [_object_categories(p[column]) for p in parts], ignore_order=True
                )
            )
        else:
            combined[column] = pd.concat([p[column] for p in parts], ignore_index=True)
    return pd.DataFrame(combined)


def _raw_rows(frame: pd.DataFrame) -> list[str]:
    return [json.dumps(r, default=str)[:500] for r in frame.to_dict("records")]


def load_events(paths: str | Path | Iterable[str | Path]) -> EventLoad:
    """Load events from files, directories or glob patterns onto the event schema.

    Parameters
    ----------
    paths:
        One or more JSONL / CSV / Parquet files (optionally gzip-compressed), folders of
        them, glob patterns, ``s3://`` prefixes, ``mixpanel://?from=…&to=…`` exports or
        database URLs with ``?table=`` / ``?query=``. Each may name its columns differently.

    Example
    -------
    >>> loaded = load_events("events/")  # doctest: +SKIP
    >>> print(loaded.summary())  # doctest: +SKIP
    49,962 events of 35,273 leads from 14 file(s); 1 duplicates removed; 2,908 set aside …
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    inputs: list[tuple[str, Path | pd.DataFrame]] = []
    for item in paths:
        if source_kind(item) == "sql":
            inputs.append((str(item), read_table(item)))
        else:
            inputs.extend((str(f), f) for f in resolve_files(item))
    if not inputs:
        raise DataError("no event files given")
    parts: list[pd.DataFrame] = []
    quarantined: list[pd.DataFrame] = []
    notes: list[str] = []
    for name, item in inputs:
        if isinstance(item, pd.DataFrame):
            frame, bad, lines = item, [], np.arange(1, len(item) + 1)
        elif len(inputs) > 1 and item.stat().st_size == 0:
            notes.append(f"{name} is empty")  # e.g. a day without events
            continue
        else:
            frame, bad, lines = _read_file(item)
        if bad:
            quarantined.append(_quarantine(bad))
        if frame.empty:
            if not bad:
                raise DataError(f"event file has no events: {name}")
            continue
        path = name
        good, rejected = normalise(frame, path, lines)
        del frame  # the raw columns: freed before the next file is read
        parts.append(good)
        if len(rejected):
            quarantined.append(rejected)
    if sum(len(p) for p in parts) == 0:
        shown = ", ".join(name for name, _ in inputs[:3])
        raise DataError(f"no usable events in {shown}: every event was set aside")
    events = _concat(parts)
    before = len(events)
    repeated = _duplicates(events)
    if repeated.any():
        events = events.loc[~repeated]
    duplicates = before - len(events)
    times = events["timestamp"].to_numpy()
    if len(times) > 1 and not bool((times[1:] >= times[:-1]).all()):
        events = events.iloc[np.argsort(times, kind="stable")]
    events = events.reset_index(drop=True)
    pa.default_memory_pool().release_unused()  # give Arrow's read buffers back now
    quarantine = pd.concat(quarantined, ignore_index=True) if quarantined else _quarantine([])
    return EventLoad(events, quarantine, duplicates, [name for name, _ in inputs], notes)
