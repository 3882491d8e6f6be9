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

This module holds the settings and the builder, which learns and assembles the row; each
feature group lives in its own module: :mod:`~leadscore.features.prepare` (the events in
lead and time order), :mod:`~leadscore.features.sessions` (activity and time),
:mod:`~leadscore.features.milestones`, :mod:`~leadscore.features.useragent` (device),
:mod:`~leadscore.features.geo` (place, local time), :mod:`~leadscore.features.traffic`,
:mod:`~leadscore.features.journey` and :mod:`~leadscore.features.text` (content).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, Field

from leadscore.errors import DataError
from leadscore.features import geo, journey, milestones, text, traffic, useragent
from leadscore.features.prepare import Prepared, as_times, prepare
from leadscore.features.sessions import Sessions, activity, timing

DEFAULT_PAGE_VIEW_EVENTS = (
    "page_view", "page_viewed", "pageview", "page", "$mp_web_page_view", "$pageview",
    "page view", "page viewed", "loaded a page", "viewed page", "screen", "screen_view",
)  # fmt: skip

#: leads the vocabularies (steps, milestones, n-grams, topics) are learned from, at most
FIT_SAMPLE = 200_000
#: the event columns the fit reads (a streamed fit's sample carries these alone, so its
#: events take a third of the memory; any other column would read as missing there)
FIT_COLUMNS = ("lead_id", "timestamp", "event", "url", "page_title")
#: what a fit says when no event is left to learn from
NOTHING_TO_FIT = "no events before the cutoffs: nothing to learn features from"


def lead_hashes(ids: pd.Index | np.ndarray) -> np.ndarray:
    """A stable 64-bit hash of each lead id (SipHash with pandas' fixed key): the same on
    every machine and in every process, so a lead falls in the same bucket and the same
    fit sample wherever its events are read."""
    return pd.util.hash_array(np.asarray(ids, dtype=object), categorize=False)


def fit_sample(ids: pd.Index, most: int | None = None) -> pd.Index:
    """The leads the builder learns from: all of ``ids`` when there are at most ``most``
    (default :data:`FIT_SAMPLE`), else the ``most`` whose :func:`lead_hashes` are lowest
    (ties by id) — a random sample that does not depend on the order of the events, so a
    streamed pass can pick it bucket by bucket.

    Example
    -------
    >>> fit_sample(pd.Index(["a", "b", "c"]), most=2).tolist()
    ['b', 'c']
    """
    most = FIT_SAMPLE if most is None else most
    ids = pd.Index(np.asarray(ids, dtype=object))
    if len(ids) <= most:
        return ids
    order = np.lexsort((ids.to_numpy(), lead_hashes(ids)))
    return ids[np.sort(order[:most])]


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


class LeadFeatureBuilder:
    """Learn what to count from training events, then build lead features from any events.

    Parameters
    ----------
    settings:
        Session gap, page-view event names, milestones, n-gram and topic sizes, …

    Example
    -------
    >>> from pathlib import Path
    >>> from leadscore.data.events import load_events
    >>> from leadscore.demo import write_demo_events
    >>> _ = write_demo_events(Path("demo"), leads=200, new_leads=50)
    >>> events = load_events("demo/events.jsonl").events
    >>> builder = LeadFeatureBuilder().fit(events)
    >>> features = builder.transform(events)
    >>> features.shape
    (200, 91)
    """

    def __init__(self, settings: FeatureSettings | None = None) -> None:
        self.settings = settings or FeatureSettings()

    def _prepare(
        self,
        events: pd.DataFrame,
        cutoffs: pd.Series | None,
        as_of: pd.Timestamp | None,
        leads: pd.Index | None = None,
    ) -> Prepared:
        return prepare(events, cutoffs, as_of, leads, self.settings.page_view_events)

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        events: pd.DataFrame,
        cutoffs: pd.Series | None = None,
        leads: pd.Index | None = None,
        *,
        as_of_features: bool | None = None,
    ) -> LeadFeatureBuilder:
        """Learn domains, steps, milestones, n-grams and topics from (training) events.

        With a different cutoff per lead (each lead's outcome time), "as of" features —
        days since the last event, recent events, events per day — are left out: measured
        at the outcome they tell converted leads (just active) from lost ones (marked lost
        after going quiet), which no lead being scored can know yet. ``as_of_features``
        decides it instead of ``cutoffs`` (a streamed fit sees the cutoffs of its sample
        only).
        """
        if as_of_features is None:
            as_of_features = varying_cutoffs(cutoffs) is False
        self._fit(self._prepare(events, cutoffs, None, leads), as_of_features)
        return self

    def _fit(self, prep: Prepared, as_of_features: bool) -> None:
        s = self.settings
        self.as_of_features_ = as_of_features
        if len(prep.events) == 0:
            raise DataError(NOTHING_TO_FIT)
        # What to count is learned on at most FIT_SAMPLE leads (fit_sample): the
        # vocabularies settle long before that, and fitting stays fast on millions of leads.
        chosen = prep.leads.isin(fit_sample(prep.candidates))
        rows = chosen[prep.g]
        n_fit = int(chosen.sum())
        self.own_domains_ = traffic.own_domains(prep.events["url"][rows], s.own_domains)
        self.steps_ = journey.learn_steps(prep, rows, s.max_steps)
        # the site sections leads view most (pricing, blog, docs …), counted per lead
        self.sections_ = journey.learn_sections(prep, rows, s.max_sections)
        if s.milestones is not None:
            self.milestones_ = list(s.milestones)
        else:
            self.milestones_ = milestones.learn_milestones(prep, rows, n_fit, s.max_milestones)
        sizes = tuple(s.ngram_sizes)
        self.ngrams_ = journey.learn_ngrams(prep, rows, self.steps_, sizes, n_fit, s.max_ngrams)
        self.topics_ = None
        if s.text_components:
            docs, lead_pages = text.lead_pages(prep)
            # the sample's rows in id order: the randomised SVD then sees the same matrix
            # whatever order the events came in (streamed or not), to the last digit
            rows_in = np.flatnonzero(chosen)
            rows_in = rows_in[np.argsort(prep.leads.to_numpy(dtype=object)[rows_in])]
            pages = lead_pages[rows_in]
            viewed = np.flatnonzero(pages.getnnz(axis=0) > 0)  # the pages the sample saw
            docs = docs.iloc[viewed].reset_index(drop=True)
            self.topics_ = text.ContentTopics(s.text_components).fit(docs, pages[:, viewed])
        self._geo = None

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
        self._fit(prep, varying_cutoffs(cutoffs) is False)
        return self._transform(prep)

    def _geo_lookup(self) -> geo.CountryLookup:
        if getattr(self, "_geo", None) is None:
            self._geo = geo.CountryLookup(self.settings.mmdb_path)
        return self._geo

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_geo"] = None  # the IP database is reopened where the builder is loaded
        return state

    def _transform(self, prep: Prepared) -> pd.DataFrame:
        n = len(prep.leads)
        if n == 0:
            return pd.DataFrame({"lead_id": pd.Series(dtype="str")})
        # Each feature group is its own function, so its large per-event temporaries are
        # freed before the next group starts.
        s = self.settings
        first_ts = prep.ts[prep.starts]
        sessions = Sessions.of(prep, s.session_gap_minutes)
        countries = geo.lead_countries(prep, self._geo_lookup)
        offset, source = geo.local_offsets(prep, first_ts, countries)
        out: dict[str, np.ndarray] = {"country": countries}
        sizes = tuple(s.ngram_sizes)
        sections = getattr(self, "sections_", [])  # builders saved before sections had none
        groups = (
            lambda: activity(prep, sessions, first_ts, s.recent_days, self.as_of_features_),
            lambda: timing(prep, sessions, first_ts, offset, source),
            lambda: milestones.milestone_features(prep, self.milestones_, first_ts),
            lambda: useragent.device_features(prep),
            lambda: traffic.touch_features(prep, sessions, self.own_domains_),
            lambda: journey.journey_features(prep, self.steps_, sections, self.ngrams_, sizes),
            lambda: text.content_features(prep, self.topics_),
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
        result.insert(0, "first_seen", as_times(first_ts))
        result.insert(0, "lead_id", prep.leads.astype("str"))
        return result

    @staticmethod
    def _column_order(out: dict[str, np.ndarray]) -> list[str]:
        """Country sits with the place features, after the device ones."""
        names = [n for n in out if n != "country"]
        at = names.index("device_types") + 1 if "device_types" in names else len(names)
        return [*names[:at], "country", *names[at:]]


FEATURE_GROUPS = ("activity", "time", "milestones", "device", "place", "traffic", "journey",
                  "content")  # fmt: skip


def varying_cutoffs(cutoffs: pd.Series | None) -> bool:
    """Whether the leads' cutoffs differ (more than one distinct time): then the builder
    leaves the "as of" features out."""
    return cutoffs is not None and pd.to_datetime(cutoffs).nunique() > 1
