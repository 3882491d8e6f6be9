"""Store reads shaped into the tables the dashboard shows (no Streamlit here).

* the work queue: every lead's latest score with its attributes, filters, the top hot and
  warm leads, the CSV download;
* one lead: score history, reasons, events;
* monitoring: the score distribution by day, day-to-day movers, realised conversion by
  score band once outcomes are recorded.

Example
-------
>>> from leadscore.store import NewScore
>>> with store.scores.scoring(["L1", "L2", "L3"], {"L1": {"source": "google"}}) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
...                     NewScore("L2", "3", 0.4, 40, "warm", True),
...                     NewScore("L3", "3", 0.1, 10, "cold", False)])
>>> frame = queue_frame(store.scores.queue())
>>> frame["lead_id"].tolist(), segment_counts(frame)
(['L1', 'L2', 'L3'], {'hot': 1, 'warm': 1, 'cold': 1})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from leadscore.explain.rates import wilson_interval
from leadscore.store import EventRecord, OutcomeRecord, QueueEntry, ScorePoint, ScoreRecord

SEGMENTS = ("hot", "warm", "cold")
#: columns of :func:`queue_frame` before the leads' own attributes
QUEUE_COLUMNS = (
    "lead_id", "score_100", "score", "segment", "contact", "explored", "top_reasons",
    "reasons_down", "scored_at", "model_version", "stored_at",
)  # fmt: skip
#: names that say which attribute is a lead's source, country, device or creation time
KEY_PATTERNS: dict[str, re.Pattern[str]] = {
    "source": re.compile(r"(^|_| )(lead )?(source|channel|utm_source|referr)", re.IGNORECASE),
    "country": re.compile(r"country|region", re.IGNORECASE),
    "device": re.compile(r"device", re.IGNORECASE),
    "created": re.compile(r"created|first_seen|signup_date|date", re.IGNORECASE),
}


# ----------------------------------------------------------------------------- the queue


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def plain(text: object) -> str:
    r"""Text from the data, escaped for ``st.markdown`` (no links, emphasis or LaTeX).

    Example
    -------
    >>> print(plain("Source “medium” pays $5 *more*"))
    Source “medium” pays \$5 \*more\*
    """
    return _MARKDOWN.sub(r"\\\1", str(text))


def utc_text(times: Sequence[datetime | None]) -> list[str]:
    """Timestamps as ``2026-05-04 09:30 UTC`` text (empty for none), for tables.

    Example
    -------
    >>> utc_text([datetime(2026, 5, 4, 9, 30), None])
    ['2026-05-04 09:30 UTC', '']
    """
    return ["" if t is None else f"{t:%Y-%m-%d %H:%M} UTC" for t in times]


def _naive(times: Sequence[datetime]) -> pd.Series:
    """Aware timestamps as naive UTC (charts and tables label them UTC)."""
    return pd.Series(pd.to_datetime(list(times), utc=True)).dt.tz_convert(None)


def reason_texts(reasons: Sequence[Mapping[str, Any]] | None, direction: str, k: int) -> str:
    """The first ``k`` stored reasons of one direction (``up`` or ``down``), joined.

    Example
    -------
    >>> reason_texts([{"direction": "up", "text": "Device: desktop → +5"}], "up", 2)
    'Device: desktop → +5'
    """
    if not reasons:
        return ""
    texts = [
        str(r.get("text", ""))
        for r in reasons
        if isinstance(r, Mapping) and r.get("direction") == direction
    ]
    return "; ".join(t for t in texts[:k] if t)


def queue_frame(entries: Sequence[QueueEntry], reasons: int = 2) -> pd.DataFrame:
    """The work queue as a table, best first: the columns of :data:`QUEUE_COLUMNS`, then
    the leads' attributes (an attribute named like one of those gets `` (lead)`` added).

    ``stored_at`` is when the store first saw the lead; ``top_reasons`` and
    ``reasons_down`` hold the first ``reasons`` reasons each way.
    """
    base = pd.DataFrame(
        {
            "lead_id": [e.lead_id for e in entries],
            "score_100": np.array([e.score_100 for e in entries], dtype=np.int64),
            "score": np.array([e.score for e in entries], dtype=float),
            "segment": [e.segment for e in entries],
            "contact": np.array([e.contact for e in entries], dtype=bool),
            "explored": np.array([e.explored for e in entries], dtype=bool),
            "top_reasons": [reason_texts(e.reasons, "up", reasons) for e in entries],
            "reasons_down": [reason_texts(e.reasons, "down", reasons) for e in entries],
            "scored_at": pd.to_datetime([e.scored_at for e in entries], utc=True),
            "model_version": [e.model_version for e in entries],
            "stored_at": pd.to_datetime([e.lead_created_at for e in entries], utc=True),
        },
        columns=list(QUEUE_COLUMNS),
    )
    attributes = pd.DataFrame.from_records([e.attributes for e in entries], index=base.index)
    if attributes.shape[1] == 0:
        return base
    attributes.columns = [
        f"{c} (lead)" if c in QUEUE_COLUMNS else str(c) for c in attributes.columns
    ]
    return pd.concat([base, attributes], axis=1)


def key_columns(frame: pd.DataFrame, time_column: str | None = None) -> dict[str, str | None]:
    """Which attribute is the lead's source, country, device and creation time (by name;
    the model's time column wins for the creation time), ``None`` where there is none."""
    attributes = [c for c in frame.columns if c not in QUEUE_COLUMNS]
    found: dict[str, str | None] = {}
    for key, pattern in KEY_PATTERNS.items():
        found[key] = next((c for c in attributes if pattern.search(c)), None)
    if time_column and time_column in frame.columns:
        found["created"] = time_column
    return found


def lead_dates(frame: pd.DataFrame, column: str | None) -> pd.Series:
    """The leads' creation dates: from ``column`` where it holds one, else when the store
    first saw the lead (a lead scored through the API often has no creation date)."""
    seen = frame["stored_at"].dt.tz_convert(None).dt.normalize()
    if column and column in frame.columns:
        parsed = pd.to_datetime(frame[column], errors="coerce", utc=True, format="mixed")
        return parsed.dt.tz_convert(None).dt.normalize().fillna(seen)
    return seen


def level_options(frame: pd.DataFrame, column: str | None, limit: int = 200) -> list[str]:
    """The values a filter on ``column`` offers, most common first."""
    if not column or column not in frame.columns:
        return []
    counts = frame[column].astype("string").fillna("(missing)").value_counts()
    return [str(v) for v in counts.index[:limit]]


def filter_queue(
    frame: pd.DataFrame,
    *,
    segments: Iterable[str] | None = None,
    levels: Mapping[str, Iterable[str]] | None = None,
    date_column: str | None = None,
    start: date | None = None,
    end: date | None = None,
    search: str = "",
) -> pd.DataFrame:
    """The queue rows matching every filter given (an empty filter matches everything).

    ``levels`` maps a column to the values to keep (``"(missing)"`` keeps missing ones);
    ``start``/``end`` bound the creation date (inclusive); ``search`` keeps lead ids that
    contain it (case-insensitive).
    """
    keep = pd.Series(True, index=frame.index)
    chosen = list(segments or [])
    if chosen:
        keep &= frame["segment"].isin(chosen)
    for column, values in (levels or {}).items():
        wanted = [str(v) for v in values]
        if wanted and column in frame.columns:
            keep &= frame[column].astype("string").fillna("(missing)").isin(wanted)
    if start is not None or end is not None:
        dates = lead_dates(frame, date_column)
        if start is not None:
            keep &= dates >= pd.Timestamp(start)
        if end is not None:
            keep &= dates <= pd.Timestamp(end)
    text = search.strip()
    if text:
        keep &= frame["lead_id"].str.contains(text, case=False, regex=False)
    return frame.loc[keep]


def segment_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Leads per segment (hot, warm and cold always present).

    Example
    -------
    >>> segment_counts(pd.DataFrame({"segment": ["hot", "cold", "cold"]}))
    {'hot': 1, 'warm': 0, 'cold': 2}
    """
    counts = frame["segment"].value_counts()
    out = {s: int(counts.get(s, 0)) for s in SEGMENTS}
    out.update({str(s): int(n) for s, n in counts.items() if s not in out})
    return out


def segment_shares(counts: Mapping[str, int]) -> pd.DataFrame:
    """``segment, leads, share`` per segment (for the donut chart)."""
    total = max(sum(counts.values()), 1)
    return pd.DataFrame(
        {
            "segment": list(counts),
            "leads": [int(v) for v in counts.values()],
            "share": [v / total for v in counts.values()],
        }
    )


def top_leads(frame: pd.DataFrame, segment: str, n: int = 25) -> pd.DataFrame:
    """The ``n`` best-scored leads of a segment (the queue is already best first)."""
    return frame.loc[frame["segment"] == segment].head(n)


def explored_leads(frame: pd.DataFrame, n: int = 25) -> pd.DataFrame:
    """The ``n`` best-scored leads drawn for contact by exploration (below the cut-off)."""
    if "explored" not in frame.columns:
        return frame.iloc[0:0]
    return frame.loc[frame["explored"].astype(bool)].head(n)


#: what makes a spreadsheet read a cell as a formula (OWASP "CSV injection"): ``= + - @``,
#: and a tab or carriage return before them
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_safe(value: Any) -> Any:
    """``value`` as a spreadsheet shows it rather than runs it: text that starts like a
    formula gets a leading ``'``; numbers, and text that is just a number such as
    ``-12.5``, stay as they are.

    Example
    -------
    >>> [csv_safe(v) for v in ("=1+2", "@SUM(A1)", "-2+3", "google", "-12.5", -3)]
    ["'=1+2", "'@SUM(A1)", "'-2+3", 'google', '-12.5', -3]
    """
    formula = isinstance(value, str) and value.startswith(FORMULA_START)
    return "'" + value if formula and not _PLAIN_NUMBER.fullmatch(value) else value


def queue_csv(frame: pd.DataFrame) -> bytes:
    """The work queue as CSV: rank, everything shown (sales overrides too), the reasons
    both ways, attributes.

    Lead ids, attributes and their names come from outside: text cells and headers that a
    spreadsheet would run as a formula are neutralised (:func:`csv_safe`), and rows end in
    CRLF (RFC 4180), so a cell holding a line break of either kind is quoted."""
    out = frame.drop(columns=["score", "pin"], errors="ignore").copy()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    for column in ("scored_at", "stored_at", "override_until"):
        if column in out.columns:
            out[column] = out[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    for position in range(out.shape[1]):
        values = out.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            out.isetitem(position, _neutralised(values))
    out.columns = [csv_safe(str(c)) for c in out.columns]
    # CRLF rows (RFC 4180): a cell holding a carriage return is then quoted too
    return out.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def _neutralised(values: pd.Series) -> pd.Series:
    """:func:`csv_safe` on the cells of ``values`` that start like a formula (found at
    once for text columns; cell by cell for columns that mix kinds of values)."""
    try:
        risky = values.str.startswith(FORMULA_START, na=False).to_numpy(dtype=bool)
    except AttributeError:  # no text in the column, or not only text
        return values.map(csv_safe)
    if not risky.any():
        return values
    fixed = values.astype(object)
    fixed.iloc[risky] = [csv_safe(v) for v in values.iloc[risky]]
    return fixed


# ----------------------------------------------------------------------------- one lead


def history_frame(history: Sequence[ScoreRecord]) -> pd.DataFrame:
    """A lead's scores, oldest first: ``scored_at, score_100, segment, model_version``."""
    frame = pd.DataFrame(
        {
            # naive UTC: what charts and tables show (labelled "UTC")
            "scored_at": _naive([s.scored_at for s in history]),
            "score_100": [s.score_100 for s in history],
            "segment": [s.segment for s in history],
            "model_version": [s.model_version for s in history],
        }
    )
    return frame.sort_values("scored_at", kind="stable").reset_index(drop=True)


def reasons_frame(reasons: Sequence[Mapping[str, Any]] | None) -> pd.DataFrame:
    """Stored reasons as ``field, value, points, direction, text`` (strongest first)."""
    columns = ["field", "value", "points", "direction", "text"]
    rows = [{c: r.get(c) for c in columns} for r in reasons or [] if isinstance(r, Mapping)]
    frame = pd.DataFrame(rows, columns=columns)
    frame["points"] = pd.to_numeric(frame["points"], errors="coerce")
    return frame.sort_values("points", key=np.abs, ascending=False, kind="stable").reset_index(
        drop=True
    )


def events_table(events: Sequence[EventRecord]) -> pd.DataFrame:
    """A lead's events, newest first: time, event and its properties as text."""
    return (
        pd.DataFrame(
            {
                "time": _naive([e.time for e in events]),
                "event": [e.name for e in events],
                "properties": [
                    ", ".join(f"{k}={v}" for k, v in e.properties.items() if v is not None)
                    for e in events
                ],
            }
        )
        .iloc[::-1]
        .reset_index(drop=True)
    )


def attributes_table(attributes: Mapping[str, Any]) -> pd.DataFrame:
    """A lead's attributes as ``field, value`` rows (values as text)."""
    return pd.DataFrame(
        {
            "field": [str(k) for k in attributes],
            "value": ["" if v is None else str(v) for v in attributes.values()],
        }
    )


# ----------------------------------------------------------------------------- monitoring


def points_frame(points: Sequence[ScorePoint]) -> pd.DataFrame:
    """The score history: ``lead_id, score_100, segment, scored_at, day`` (UTC dates)."""
    frame = pd.DataFrame(
        {
            "lead_id": [p.lead_id for p in points],
            "score_100": np.array([p.score_100 for p in points], dtype=np.int64),
            "segment": [p.segment for p in points],
            "scored_at": pd.to_datetime([p.scored_at for p in points], utc=True),
            "model_version": [p.model_version for p in points],
        }
    )
    frame["day"] = frame["scored_at"].dt.tz_convert(None).dt.normalize()
    return frame


def _last_per_lead_and_day(points: pd.DataFrame) -> pd.DataFrame:
    ordered = points.sort_values("scored_at", kind="stable")
    return ordered.drop_duplicates(["lead_id", "day"], keep="last")


def daily_distribution(points: pd.DataFrame) -> pd.DataFrame:
    """Per day with scores: how many leads were scored, the quartiles and the 10th / 90th
    percentile of their (last that day) scores, and the share of each segment.

    Columns ``day, leads, p10, p25, median, p75, p90, hot, warm, cold``.
    """
    columns = ["day", "leads", "p10", "p25", "median", "p75", "p90", *SEGMENTS]
    if points.empty:
        return pd.DataFrame(columns=columns)
    last = _last_per_lead_and_day(points)
    grouped = last.groupby("day")["score_100"]
    out = pd.DataFrame({"leads": grouped.size()})
    for name, q in (("p10", 0.1), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p90", 0.9)):
        out[name] = grouped.quantile(q)
    shares = pd.crosstab(last["day"], last["segment"], normalize="index")
    for segment in SEGMENTS:
        out[segment] = shares[segment] if segment in shares.columns else 0.0
    return out.reset_index()[columns]


def segment_days(points: pd.DataFrame) -> pd.DataFrame:
    """``day, segment, leads``: the leads scored each day by their segment (long form)."""
    if points.empty:
        return pd.DataFrame(columns=["day", "segment", "leads"])
    last = _last_per_lead_and_day(points)
    counts = last.groupby(["day", "segment"]).size().rename("leads").reset_index()
    return counts


def movers(points: pd.DataFrame, min_jump: int = 10, limit: int = 50) -> pd.DataFrame:
    """Leads whose score moved by at least ``min_jump`` points from one day to the next.

    For every lead scored on the latest scoring day, its latest score against its last
    score of an earlier day. Columns ``lead_id, before, now, change, segment_before,
    segment_now, scored_at``, the largest moves (up or down) first.
    """
    columns = ["lead_id", "before", "now", "change", "segment_before", "segment_now", "scored_at"]
    if points.empty:
        return pd.DataFrame(columns=columns)
    last = _last_per_lead_and_day(points)
    latest_day = last["day"].max()
    today = last.loc[last["day"] == latest_day].set_index("lead_id")
    earlier = last.loc[last["day"] < latest_day].drop_duplicates("lead_id", keep="last")
    earlier = earlier.set_index("lead_id")
    both = today.add_suffix("_now").join(earlier.add_suffix("_before"), how="inner")
    if both.empty:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(
        {
            "lead_id": both.index,
            "before": both["score_100_before"].to_numpy(),
            "now": both["score_100_now"].to_numpy(),
            "segment_before": both["segment_before"].to_numpy(),
            "segment_now": both["segment_now"].to_numpy(),
            "scored_at": both["scored_at_now"].dt.tz_convert(None).to_numpy(),
        }
    )
    out["change"] = out["now"] - out["before"]
    out = out.loc[out["change"].abs() >= min_jump]
    out = out.reindex(out["change"].abs().sort_values(ascending=False, kind="stable").index)
    return out[columns].head(limit).reset_index(drop=True)


def band_conversion(
    points: pd.DataFrame, outcomes: Sequence[OutcomeRecord], width: int = 10
) -> pd.DataFrame:
    """Realised conversion by score band: each lead with a recorded outcome, at its last
    score *before* the outcome (a score given afterwards already knew it).

    Columns ``band, low, leads, converted, rate, ci_low, ci_high, expected`` (the mean score
    of the band as a probability: what the model promised). Bands are ``width`` points wide.
    """
    columns = ["band", "low", "leads", "converted", "rate", "ci_low", "ci_high", "expected"]
    if points.empty or not outcomes:
        return pd.DataFrame(columns=columns)
    done = pd.DataFrame(
        {
            "lead_id": [o.lead_id for o in outcomes],
            "converted": [int(o.converted) for o in outcomes],
            "occurred_at": pd.to_datetime([o.occurred_at for o in outcomes], utc=True),
        }
    ).sort_values("occurred_at", kind="stable")
    scores = points[["lead_id", "scored_at", "score_100"]].sort_values("scored_at", kind="stable")
    matched = pd.merge_asof(
        done,
        scores,
        left_on="occurred_at",
        right_on="scored_at",
        by="lead_id",
        allow_exact_matches=False,
        direction="backward",
    ).dropna(subset=["score_100"])
    if matched.empty:
        return pd.DataFrame(columns=columns)
    low = (np.minimum(matched["score_100"].to_numpy(dtype=int), 99) // width) * width
    matched = matched.assign(low=low)
    grouped = matched.groupby("low")
    out = pd.DataFrame(
        {
            "leads": grouped.size(),
            "converted": grouped["converted"].sum(),
            "expected": grouped["score_100"].mean() / 100,
        }
    ).reset_index()
    out["rate"] = out["converted"] / out["leads"]
    ci_low, ci_high = wilson_interval(out["converted"].to_numpy(), out["leads"].to_numpy())
    out["ci_low"], out["ci_high"] = ci_low, ci_high
    out["band"] = [
        f"{lo}–{min(lo + width - 1, 100) if lo + width < 100 else 100}" for lo in out["low"]
    ]
    return out[columns]


def as_of_text(value: datetime | pd.Timestamp | None) -> str:
    """A timestamp for captions: ``2026-05-04 09:30 UTC``."""
    if value is None or pd.isna(value):
        return "never"
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return f"{stamp:%Y-%m-%d %H:%M} UTC"
