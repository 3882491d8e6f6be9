"""Raw events → one row of features per lead, point-in-time correct.

:class:`LeadFeatureBuilder` learns a little from training events (the site's own
domains, the funnel steps and n-grams worth counting, the milestone events, the content
topics) and then turns any events into lead features with exactly the same code, for
training and for scoring. Every lead may have a cutoff: only events strictly before it are
used, so nothing recorded after a lead's outcome can leak into its training row.

The features (see :data:`FEATURE_GROUPS`):

* activity: events, page views, distinct pages, sessions (30-minute inactivity rule),
  active days, time on site, pages per session, events in the last 7 days, days since the
  last event, events per day since the first visit;
* time: hour and weekday of the first visit in the lead's local time (from the client's
  UTC offset or time zone when sent, else the IP country's time zone, else UTC, recorded
  in ``local_time_from``), weekend, business hours; hours from the first visit to the
  first return and whether the lead returned the same (local) day;
* milestones: for each milestone event (sign-up, demo request, …), its count and the hours
  from the first visit to its first occurrence;
* device: device type, operating system and browser (from the user agent unless the
  source names them), number of device types;
* place: country (from the source, else from the IP with an offline database);
* traffic: first- and last-touch source and medium (click ids, UTM, referrer), number of
  distinct sources;
* journey: landing step, number of distinct steps, counts of the most common step
  n-grams (``journey: pricing > signup``);
* content: a few TF-IDF/SVD topic scores of the words in the pages viewed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
from pydantic import BaseModel, Field

from leadscore.data.events import EVENT_COLUMNS
from leadscore.errors import DataError
from leadscore.features import geo, journey, text, traffic, useragent
from leadscore.features.vector import by_unique, codes_and_uniques

NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR

DEFAULT_PAGE_VIEW_EVENTS = (
    "page_view", "page_viewed", "pageview", "page", "$mp_web_page_view", "$pageview",
    "page view", "page viewed", "loaded a page", "viewed page", "screen", "screen_view",
)  # fmt: skip


class FeatureSettings(BaseModel):
    """How raw events become lead features."""

    session_gap_minutes: float = Field(default=30.0, gt=0)
    page_view_events: list[str] = Field(default_factory=lambda: list(DEFAULT_PAGE_VIEW_EVENTS))
    #: milestone events; by default the most common non-page-view events
    milestones: list[str] | None = None
    max_milestones: int = Field(default=10, ge=0)
    ngram_sizes: list[int] = Field(default_factory=lambda: [2, 3])
    max_ngrams: int = Field(default=30, ge=0)
    max_steps: int = Field(default=40, ge=2)
    #: site sections (first path segment) whose page views are counted per lead
    max_sections: int = Field(default=12, ge=0)
    text_components: int = Field(default=5, ge=0)
    recent_days: float = Field(default=7.0, gt=0)
    #: the site's own domains (referrers from them are internal); inferred when empty
    own_domains: list[str] = Field(default_factory=list)
    #: a MaxMind .mmdb country database to use instead of the bundled one
    mmdb_path: str | None = None


class _Rows:
    """The events in lead and time order, without copying them: a column is taken (in
    that order) only when a feature group asks for it, and dropped when it is done."""

    def __init__(self, source: pd.DataFrame, rows: np.ndarray) -> None:
        self.source = source
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, column: str) -> pd.Series:
        return self.source[column].take(self.rows).reset_index(drop=True)

    def subset(self, positions: np.ndarray) -> pd.DataFrame:
        """The given positions (in lead and time order) of every column, as a frame."""
        return self.source.take(self.rows[positions]).reset_index(drop=True)


@dataclass
class _Prepared:
    """Events filtered to the point in time, sorted by lead and time, as arrays."""

    leads: pd.Index  # lead ids, position = lead code
    g: np.ndarray  # lead code per event
    ts: np.ndarray  # int64 ns per event
    starts: np.ndarray  # first event position per lead
    ref: np.ndarray  # int64 ns "as of" per lead (cutoff, or as_of, or the last event)
    events: _Rows  # the rows, in the same order
    is_page_view: np.ndarray
    # computed once per preparation, shared by fit and transform in fit_transform
    step_ids: np.ndarray | None = None  # ids into step_labels
    step_labels: pd.Index | None = None
    countries: np.ndarray | None = None
    grams: pd.DataFrame | None = None
    pages: tuple[pd.Series, sp.csr_matrix] | None = None
    topics: np.ndarray | None = None


_NO_LIMIT = np.iinfo(np.int64).max


def _keyed(cutoffs: pd.Series) -> pd.Series:
    """Cutoffs indexed by lead id as plain text, so they match the events' ids."""
    return pd.Series(cutoffs.to_numpy(), index=cutoffs.index.astype(str))


def _as_ns(times: pd.Series) -> np.ndarray:
    """Times as int64 nanoseconds; missing → no limit."""
    values = pd.to_datetime(times)
    out = values.to_numpy("datetime64[ns]").view(np.int64).copy()
    out[values.isna().to_numpy()] = _NO_LIMIT
    return out


@dataclass
class _Sessions:
    """Sessions in lead and time order: a new one after ``gap`` minutes of inactivity."""

    entry: np.ndarray  # position of each session's first event
    lead: np.ndarray  # lead code of each session (sorted)
    start: np.ndarray  # int64 ns
    minutes: np.ndarray  # from first to last event

    @classmethod
    def of(cls, prep: _Prepared, gap_minutes: float) -> _Sessions:
        g, ts = prep.g, prep.ts
        gap = np.int64(gap_minutes * 60 * 1e9)
        new = np.r_[True, (g[1:] != g[:-1]) | (np.diff(ts) > gap)]
        entry = np.flatnonzero(new)
        last = np.r_[entry[1:], len(ts)] - 1
        return cls(entry, g[entry], ts[entry], (ts[last] - ts[entry]) / 6e10)


#: leads the vocabularies (steps, milestones, n-grams, topics) are learned from, at most
FIT_SAMPLE = 200_000


def _leads_per_value(g: np.ndarray, values: np.ndarray, n_values: int) -> np.ndarray:
    """For each value code, how many distinct leads have it (codes < 0 are ignored)."""
    valid = values >= 0
    pairs = pd.unique(g[valid].astype(np.int64) * n_values + values[valid])
    return np.bincount(pairs % n_values, minlength=n_values)


def _ranked(support: np.ndarray, labels: Sequence[object]) -> list[int]:
    """Codes by support, most first; ties by label, so the order never depends on the
    order in which values happened to appear in the events."""
    return sorted(range(len(support)), key=lambda i: (-support[i], str(labels[i])))


def _distinct_per_lead(g: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """For each lead code, how many distinct values (codes ≥ 0) it has."""
    valid = values >= 0
    width = int(values.max()) + 1 if valid.any() else 1
    pairs = pd.unique(g[valid].astype(np.int64) * width + values[valid])  # hashing, no sort
    return np.bincount(pairs // width, minlength=n).astype(float)


def _firsts(g: np.ndarray) -> np.ndarray:
    """Positions where a new lead starts, in events sorted by lead code."""
    return np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.array([], dtype=int)


def _first_present(g: np.ndarray, values: pd.Series, n: int) -> np.ndarray:
    """The first non-missing value per lead code (events are sorted by lead, then time)."""
    out = np.full(n, None, dtype=object)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        present = np.flatnonzero(codes >= 0)
        first = present[_firsts(g[present])]
        categories = np.asarray(values.cat.categories, dtype=object)
        out[g[first]] = categories[codes[first]]
        return out
    present = np.flatnonzero(values.notna().to_numpy())
    first = present[_firsts(g[present])]
    out[g[first]] = values.to_numpy()[first]
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(name).lower()).strip("_")


class LeadFeatureBuilder:
    """Learn what to count from training events, then build lead features from any events.

    Parameters
    ----------
    settings:
        Session gap, page-view event names, milestones, n-gram and topic sizes, …

    Example
    -------
    >>> from leadscore.data.events import load_events
    >>> events = load_events("events.jsonl").events  # doctest: +SKIP
    >>> builder = LeadFeatureBuilder().fit(events)  # doctest: +SKIP
    >>> features = builder.transform(events)  # doctest: +SKIP
    """

    def __init__(self, settings: FeatureSettings | None = None) -> None:
        self.settings = settings or FeatureSettings()

    # ------------------------------------------------------------------ preparation

    def _prepare(
        self,
        events: pd.DataFrame,
        cutoffs: pd.Series | None,
        as_of: pd.Timestamp | None,
        leads: pd.Index | None = None,
    ) -> _Prepared:
        missing = [c for c in ("lead_id", "timestamp", "event") if c not in events.columns]
        if missing:
            raise DataError(f"events lack the columns {missing}; load them with load_events")
        frame = events
        for column in EVENT_COLUMNS:
            if column not in frame.columns:
                frame = frame.assign(
                    **{column: pd.Series(pd.NA, index=frame.index, dtype="string")}
                )
        ts_all = pd.to_datetime(frame["timestamp"]).to_numpy("datetime64[ns]").view(np.int64)
        lead_codes, lead_names = codes_and_uniques(frame["lead_id"])
        keep = lead_codes >= 0
        if leads is not None:
            wanted = lead_names.isin(pd.Index(leads).astype(str)).to_numpy()
            keep &= np.append(wanted, [False])[lead_codes]
        if cutoffs is not None:
            # one cutoff per distinct lead, spread to its events by code (no per-event map)
            limits = _as_ns(pd.Series(lead_names.to_numpy(dtype=object)).map(_keyed(cutoffs)))
            event_limit = np.append(limits, [_NO_LIMIT])[lead_codes]
            keep &= ts_all < event_limit
        if as_of is not None:
            keep &= ts_all <= pd.Timestamp(as_of).value
        positions = np.flatnonzero(keep)
        used, codes = np.unique(lead_codes[positions], return_inverse=True)
        order = np.lexsort((ts_all[positions], codes))
        # no copy of the events: columns are taken in lead and time order when used
        frame = _Rows(frame, positions[order])
        g, ts = codes[order].astype(np.int64), ts_all[positions][order]
        leads = pd.Index(lead_names.to_numpy(dtype=object)[used], dtype=object)
        starts = _firsts(g)
        n = len(leads)
        if as_of is not None:
            default_ref = pd.Timestamp(as_of).value
        else:
            default_ref = int(ts.max()) if len(ts) else 0
        ref = np.full(n, default_ref, dtype=np.int64)
        if cutoffs is not None and n:
            lead_limits = _as_ns(pd.Series(leads).map(_keyed(cutoffs)))
            known = lead_limits != _NO_LIMIT
            ref[known] = lead_limits[known]
        page_views = {e.lower() for e in self.settings.page_view_events}
        is_pv = by_unique(frame["event"], lambda u: u.str.lower().isin(page_views).to_numpy())
        is_pv = is_pv.astype(bool) & frame["event"].notna().to_numpy()
        return _Prepared(leads, g, ts, starts, ref, frame, is_pv)

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        events: pd.DataFrame,
        cutoffs: pd.Series | None = None,
        leads: pd.Index | None = None,
    ) -> LeadFeatureBuilder:
        """Learn domains, steps, milestones, n-grams and topics from (training) events.

        With a different cutoff per lead (each lead's outcome time), "as of" features —
        days since the last event, recent events, events per day — are left out: measured
        at the outcome they tell converted leads (just active) from lost ones (marked lost
        after going quiet), which no lead being scored can know yet.
        """
        self._fit(self._prepare(events, cutoffs, None, leads), cutoffs)
        return self

    def _fit(self, prep: _Prepared, cutoffs: pd.Series | None) -> None:
        s = self.settings
        self.as_of_features_ = cutoffs is None or pd.to_datetime(cutoffs).nunique() <= 1
        frame = prep.events
        if len(frame) == 0:
            raise DataError("no events before the cutoffs: nothing to learn features from")
        if s.own_domains:
            self.own_domains_ = frozenset(d.lower().removeprefix("www.") for d in s.own_domains)
        else:
            hosts = pd.Series(by_unique(frame["url"], traffic.host_of)).value_counts()
            # the site's own hosts: those carrying at least 5 % of page URLs
            self.own_domains_ = frozenset(hosts[hosts >= 0.05 * hosts.sum()].index)
        # What to count is learned on at most FIT_SAMPLE leads: the vocabularies settle long
        # before that, and fitting stays fast on millions of leads.
        n = len(prep.leads)
        chosen = np.ones(n, dtype=bool)
        if n > FIT_SAMPLE:
            chosen[:] = False
            chosen[np.random.default_rng(0).choice(n, FIT_SAMPLE, replace=False)] = True
        rows = chosen[prep.g]
        g = prep.g[rows]
        n_fit = int(chosen.sum())
        ids, labels = self._step_ids(prep)
        step_support = _leads_per_value(g, ids[rows], len(labels))
        ranked = _ranked(step_support, labels)
        names = [str(labels[i]) for i in ranked if step_support[i] > 0]
        self.steps_ = [x for x in names if x != journey.OTHER][: s.max_steps - 1]
        self.steps_.append(journey.OTHER)
        # the site sections leads view most (pricing, blog, docs …), counted per lead
        viewed = rows & prep.is_page_view
        section_support = _leads_per_value(prep.g[viewed], ids[viewed], len(labels))
        ranked = _ranked(section_support, labels)
        self.sections_ = [
            str(labels[i]) for i in ranked[: s.max_sections] if section_support[i] > 0
        ]
        if s.milestones is not None:
            self.milestones_ = list(s.milestones)
        else:
            codes, event_names = codes_and_uniques(frame["event"])
            other = rows & ~prep.is_page_view & (codes >= 0)
            support = _leads_per_value(prep.g[other], codes[other], len(event_names))
            ranked = _ranked(support, event_names)
            keep = [i for i in ranked if support[i] >= max(1, 0.005 * n_fit)]
            self.milestones_ = [str(event_names.iloc[i]) for i in keep[: s.max_milestones]]
        step_codes = self._step_codes(prep)[rows]
        grams = journey.ngram_counts(g, step_codes, len(self.steps_), tuple(s.ngram_sizes))
        if len(grams):
            support = grams.groupby("gram").size()  # rows are distinct (lead, gram) pairs
            support = support[support >= max(2, 0.01 * n_fit)].sort_index()
            support = support.sort_values(ascending=False, kind="stable")
            self.ngrams_ = [int(k) for k in support.index[: s.max_ngrams]]
        else:
            self.ngrams_ = []
        self.topics_ = None
        if s.text_components:
            docs, lead_pages = self._pages(prep)
            self.topics_ = text.ContentTopics(s.text_components).fit(docs, lead_pages[chosen])
        self._geo = None

    def _step_ids(self, prep: _Prepared) -> tuple[np.ndarray, pd.Index]:
        if prep.step_ids is None:
            prep.step_ids, prep.step_labels = journey.step_ids(
                prep.events["event"], prep.events["url"], prep.is_page_view
            )
        assert prep.step_labels is not None
        return prep.step_ids, prep.step_labels

    def _step_codes(self, prep: _Prepared) -> np.ndarray:
        """Steps as codes into the fitted vocabulary ``steps_`` (rare ones → other)."""
        ids, labels = self._step_ids(prep)
        vocabulary = pd.Index(self.steps_)
        other = vocabulary.get_loc(journey.OTHER)
        lookup = vocabulary.get_indexer(labels)
        lookup = np.append(np.where(lookup < 0, other, lookup), other)
        return lookup[ids].astype(np.int64)

    def _grams(self, prep: _Prepared) -> pd.DataFrame:
        """Counts per lead of the fitted n-grams."""
        if prep.grams is None:
            prep.grams = journey.ngram_counts(
                prep.g, self._step_codes(prep), len(self.steps_),
                tuple(self.settings.ngram_sizes), only=self.ngrams_,
            )  # fmt: skip
        return prep.grams

    def _pages(self, prep: _Prepared) -> tuple[pd.Series, sp.csr_matrix]:
        """Text of each distinct page viewed, and page views as a leads × pages matrix."""
        if prep.pages is not None:
            return prep.pages
        pv = prep.is_page_view
        frame = prep.events
        ids, docs = text.page_ids(frame["url"], frame["page_title"])
        used, page_codes = np.unique(ids[pv], return_inverse=True)
        matrix = sp.coo_matrix(
            (np.ones(len(page_codes)), (prep.g[pv], page_codes)),
            shape=(len(prep.leads), len(used)),
        ).tocsr()
        prep.pages = docs.iloc[used].reset_index(drop=True), matrix
        return prep.pages

    # ------------------------------------------------------------------ transforming

    def transform(
        self,
        events: pd.DataFrame,
        cutoffs: pd.Series | None = None,
        as_of: pd.Timestamp | str | None = None,
        leads: pd.Index | None = None,
    ) -> pd.DataFrame:
        """One row per lead with events (before its cutoff, and not after ``as_of``).

        ``cutoffs`` maps lead id → time (exclusive); ``as_of`` is the scoring time for
        recency (default: each lead's cutoff, else the latest event); ``leads`` limits the
        output to these lead ids.
        """
        if not hasattr(self, "steps_"):
            raise DataError("the feature builder is not fitted: call fit() on training events")
        when = pd.Timestamp(as_of) if as_of is not None else None
        prep = self._prepare(events, cutoffs, when, leads)
        return self._transform(prep)

    def fit_transform(
        self,
        events: pd.DataFrame,
        cutoffs: pd.Series | None = None,
        leads: pd.Index | None = None,
    ) -> pd.DataFrame:
        """:meth:`fit` then :meth:`transform` on the same events, computing shared parts once."""
        prep = self._prepare(events, cutoffs, None, leads)
        self._fit(prep, cutoffs)
        return self._transform(prep)

    def _geo_lookup(self) -> geo.CountryLookup:
        if getattr(self, "_geo", None) is None:
            self._geo = geo.CountryLookup(self.settings.mmdb_path)
        return self._geo

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_geo"] = None  # the IP database is reopened where the builder is loaded
        return state

    def _transform(self, prep: _Prepared) -> pd.DataFrame:
        n = len(prep.leads)
        if n == 0:
            return pd.DataFrame({"lead_id": pd.Series(dtype="str")})
        # Each feature group is its own method, so its large per-event temporaries are
        # freed before the next group starts.
        first_ts = prep.ts[prep.starts]
        sessions = _Sessions.of(prep, self.settings.session_gap_minutes)
        offset, source = self._local_offsets(prep, first_ts)
        out: dict[str, np.ndarray] = {"country": self._countries(prep)}
        groups = (
            lambda: self._activity(prep, sessions, first_ts),
            lambda: self._timing(prep, sessions, first_ts, offset, source),
            lambda: self._milestones(prep, first_ts),
            lambda: self._device(prep),
            lambda: self._traffic(prep, sessions),
            lambda: self._journey(prep),
            lambda: self._content(prep),
        )
        for group in groups:
            out.update(group())
            # pandas' text columns live in Arrow's memory pool: hand freed blocks back
            pa.default_memory_pool().release_unused()
        out = {name: out[name] for name in self._column_order(out)}
        for column, values in out.items():
            if values.dtype == object:  # text features: one dtype whatever the batch holds
                out[column] = pd.array(values, dtype="str")
        result = pd.DataFrame(out)
        del out
        result.insert(0, "first_seen", pd.to_datetime(first_ts))
        result.insert(0, "lead_id", prep.leads.astype("str"))
        return result

    @staticmethod
    def _column_order(out: dict[str, np.ndarray]) -> list[str]:
        """Country sits with the place features, after the device ones."""
        names = [n for n in out if n != "country"]
        at = names.index("device_types") + 1 if "device_types" in names else len(names)
        return [*names[:at], "country", *names[at:]]

    def _activity(
        self, prep: _Prepared, sessions: _Sessions, first_ts: np.ndarray
    ) -> dict[str, np.ndarray]:
        s, g, ts, n = self.settings, prep.g, prep.ts, len(prep.leads)
        out: dict[str, np.ndarray] = {}
        n_events = np.bincount(g, minlength=n)
        page_views = np.bincount(g, weights=prep.is_page_view, minlength=n)
        count = np.bincount(sessions.lead, minlength=n)
        out["events"] = n_events.astype(float)
        out["page_views"] = page_views
        url_codes, _ = codes_and_uniques(prep.events["url"])
        out["distinct_pages"] = _distinct_per_lead(g, np.where(prep.is_page_view, url_codes, -1), n)
        out["sessions"] = count.astype(float)
        out["time_on_site_min"] = np.bincount(sessions.lead, weights=sessions.minutes, minlength=n)
        out["pages_per_session"] = page_views / np.maximum(count, 1)
        if self.as_of_features_:
            last_ts = ts[np.r_[prep.starts[1:], len(ts)] - 1]
            recent = ts >= (prep.ref[g] - np.int64(s.recent_days * NS_PER_DAY))
            out[f"events_last_{s.recent_days:g}d"] = np.bincount(g, weights=recent, minlength=n)
            out["days_since_last_event"] = (prep.ref - last_ts) / NS_PER_DAY
            span_days = np.maximum((prep.ref - first_ts) / NS_PER_DAY, 1.0)
            out["events_per_day"] = n_events / span_days
        return out

    def _timing(
        self,
        prep: _Prepared,
        sessions: _Sessions,
        first_ts: np.ndarray,
        offset: np.ndarray,
        source: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Local time of the first visit, active days and the first return."""
        g, n = prep.g, len(prep.leads)
        out: dict[str, np.ndarray] = {}
        offset_ns = (offset * 6e10).astype(np.int64)
        local_first = pd.to_datetime(first_ts + offset_ns)
        weekday = local_first.day_of_week.to_numpy()
        hour = local_first.hour.to_numpy()
        out["first_visit_hour"] = hour.astype(float)
        out["first_visit_weekday"] = weekday.astype(float)
        out["first_visit_weekend"] = (weekday >= 5).astype(float)
        business = (weekday < 5) & (hour >= 9) & (hour < 18)
        out["first_visit_business_hours"] = business.astype(float)
        out["local_time_from"] = source
        local_day = (prep.ts + offset_ns[g]) // NS_PER_DAY
        # events are sorted by lead and time, so a lead's local days only ever increase
        new_day = np.r_[True, (g[1:] != g[:-1]) | (local_day[1:] != local_day[:-1])]
        out["active_days"] = np.bincount(g[new_day], minlength=n).astype(float)
        # a lead's second session starts right after its first one in the session list
        firsts = _firsts(sessions.lead)
        has_second = np.r_[firsts[1:], len(sessions.lead)] - firsts > 1
        second = np.full(n, np.nan)
        second[sessions.lead[firsts[has_second]]] = sessions.start[firsts[has_second] + 1]
        returned = ~np.isnan(second)
        out["returned"] = returned.astype(float)
        out["hours_to_return"] = np.where(returned, (second - first_ts) / NS_PER_HOUR, np.nan)
        first_day = (first_ts + offset_ns) // NS_PER_DAY
        second_day = np.floor((np.nan_to_num(second) + offset_ns) / NS_PER_DAY)
        out["returned_same_day"] = (returned & (second_day == first_day)).astype(float)
        return out

    def _milestones(self, prep: _Prepared, first_ts: np.ndarray) -> dict[str, np.ndarray]:
        g, n = prep.g, len(prep.leads)
        out: dict[str, np.ndarray] = {}
        event_codes, event_names = codes_and_uniques(prep.events["event"])
        lower_names = event_names.str.lower().to_numpy(dtype=object)
        for name in self.milestones_:
            hit = np.flatnonzero(np.isin(event_codes, np.flatnonzero(lower_names == name.lower())))
            key = _safe(name)
            out[f"{key}_count"] = np.bincount(g[hit], minlength=n).astype(float)
            first_hit = np.full(n, np.nan)
            first = hit[_firsts(g[hit])]  # events are sorted: the first hit of each lead
            first_hit[g[first]] = prep.ts[first]
            out[f"hours_to_{key}"] = (first_hit - first_ts) / NS_PER_HOUR
        return out

    def _device(self, prep: _Prepared) -> dict[str, np.ndarray]:
        """Device type, OS and browser of the lead's first event that tells; device types.

        Names sent by the source win over what the user agent says. Everything is worked
        out per distinct user agent and spread by code, never per event.
        """
        g, n, frame = prep.g, len(prep.leads), prep.events
        ua_codes, user_agents = codes_and_uniques(frame["user_agent"])
        parsed = pd.DataFrame(
            [useragent.classify(str(ua)) for ua in user_agents],
            columns=["device_type", "os", "browser"],
        )
        out: dict[str, np.ndarray] = {}
        device_codes = np.full(len(g), -1)
        for column in ("device_type", "os", "browser"):
            values = parsed[column].mask(parsed[column] == "unknown")
            codes, names = pd.factorize(values, use_na_sentinel=True)
            per_event = np.append(codes, -1)[ua_codes]
            from_ua = pd.Series(pd.Categorical.from_codes(per_event, names))
            first = _first_present(g, from_ua, n)
            given = frame[column]
            if given.notna().any():
                if column == "device_type":
                    given = pd.Series(by_unique(given, useragent.normalise_device), dtype=object)
                stated = _first_present(g, given, n)
                first = np.where(pd.isna(stated), first, stated)
            out[column] = first
            if column == "device_type":
                device_codes = per_event
        out["device_types"] = _distinct_per_lead(g, device_codes, n)
        return out

    def _traffic(self, prep: _Prepared, sessions: _Sessions) -> dict[str, np.ndarray]:
        """First and last touch: the entry event of every session is a touch."""
        n = len(prep.leads)
        entries = prep.events.subset(sessions.entry)
        touches = traffic.classify_traffic(
            entries["referrer"], entries["url"], entries["utm_source"], entries["utm_medium"],
            self.own_domains_,
        )  # fmt: skip
        external = (touches["source"] != "internal").to_numpy()
        t_lead = sessions.lead[external]
        t_source = touches["source"].to_numpy()[external]
        t_medium = touches["medium"].to_numpy()[external]
        out: dict[str, np.ndarray] = {}
        firsts = _firsts(t_lead)
        lasts = np.r_[firsts[1:], len(t_lead)] - 1
        for name, values in (("source", t_source), ("medium", t_medium)):
            first = np.full(n, "internal", dtype=object)
            last = first.copy()
            first[t_lead[firsts]] = values[firsts]
            last[t_lead[lasts]] = values[lasts]
            out[f"first_touch_{name}"] = first
            out[f"last_touch_{name}"] = last
        out["sources"] = _distinct_per_lead(t_lead, pd.factorize(t_source)[0], n)
        return out

    def _journey(self, prep: _Prepared) -> dict[str, np.ndarray]:
        n = len(prep.leads)
        step_codes = self._step_codes(prep)
        out: dict[str, np.ndarray] = {
            "landing_step": np.asarray(self.steps_, dtype=object)[step_codes[prep.starts]],
            "distinct_steps": _distinct_per_lead(prep.g, step_codes, n),
        }
        vocabulary = {name: i for i, name in enumerate(self.steps_)}
        for section in getattr(self, "sections_", []):
            code = vocabulary.get(section)
            if code is None:
                continue
            hit = prep.is_page_view & (step_codes == code)
            out[f"views: {section}"] = np.bincount(prep.g[hit], minlength=n).astype(float)
        grams = self._grams(prep)
        wanted = {key: i for i, key in enumerate(self.ngrams_)}
        matrix = np.zeros((n, len(self.ngrams_)))
        if len(grams):
            columns = grams["gram"].map(wanted).to_numpy()
            matrix[grams["lead"].to_numpy(), columns] = grams["count"].to_numpy()
        for key, i in wanted.items():
            out[f"journey: {journey.gram_name(key, self.steps_)}"] = matrix[:, i]
        return out

    def _content(self, prep: _Prepared) -> dict[str, np.ndarray]:
        if self.topics_ is None:
            return {}
        topics = prep.topics if prep.topics is not None else None
        if topics is None:
            topics = self.topics_.transform(*self._pages(prep))
        return {f"content_topic_{k + 1}": topics[:, k] for k in range(topics.shape[1])}

    # ------------------------------------------------------------------ helpers

    def _local_offsets(
        self, prep: _Prepared, first_ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """UTC offset (minutes) at the first visit and where it came from, per lead."""
        n = len(prep.leads)
        frame = prep.events
        offset = np.full(n, np.nan)
        source = np.full(n, "utc", dtype=object)
        client = _first_present(prep.g, frame["tz_offset_minutes"], n).astype(float)
        have = ~np.isnan(client)
        offset[have] = client[have]
        source[have] = "client"
        firsts = pd.Series(pd.to_datetime(first_ts))
        zones = pd.Series(_first_present(prep.g, frame["timezone"], n), dtype=object)
        from_zone = geo.utc_offset_minutes(firsts, zones.where(~have))
        use = np.isnan(offset) & from_zone.notna().to_numpy()
        offset[use] = from_zone.to_numpy()[use]
        source[use] = "client"
        countries = pd.Series(self._countries(prep), dtype=object)
        country_zones = countries.map(lambda c: geo.country_timezone(c) if c else None)
        from_country = geo.utc_offset_minutes(firsts, country_zones.where(np.isnan(offset)))
        use = np.isnan(offset) & from_country.notna().to_numpy()
        offset[use] = from_country.to_numpy()[use]
        source[use] = "ip_country"
        return np.nan_to_num(offset), source

    def _countries(self, prep: _Prepared) -> np.ndarray:
        if prep.countries is not None:
            return prep.countries
        n = len(prep.leads)
        given = pd.Series(_first_present(prep.g, prep.events["country"], n), dtype=object).map(
            lambda code: code.upper() if isinstance(code, str) else None
        )
        ips = pd.Series(_first_present(prep.g, prep.events["ip"], n), dtype=object)
        need = given.isna() & ips.notna()
        if need.any():
            given[need] = self._geo_lookup().lookup(ips[need]).to_numpy()
        prep.countries = given.to_numpy(dtype=object)
        return prep.countries


FEATURE_GROUPS = ("activity", "time", "milestones", "device", "place", "traffic", "journey",
                  "content")  # fmt: skip
