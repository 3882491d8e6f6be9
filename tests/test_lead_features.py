"""Tests for lead features built from raw events (leadscore.features.build and helpers).

Every expectation below is worked out by hand from the small event set in ``ROWS``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from leadscore.data.event_schema import EVENT_COLUMNS, TEXT_COLUMNS, as_text_category
from leadscore.data.events import load_events
from leadscore.errors import DataError
from leadscore.features import geo, useragent
from leadscore.features.build import FeatureSettings, LeadFeatureBuilder
from leadscore.features.traffic import classify_traffic

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36"
)
TIZEN_TV = (
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 "
    "(KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GB_IP = "81.2.69.160"  # a public address in the United Kingdom
US_IP = "8.8.8.8"
S = "https://acme.com"

# lead, time (UTC), event, url, referrer, other columns
ROWS: list[tuple[str, str, str, str, str | None, dict[str, Any]]] = [
    # a: client UTC offset -300. Sunday 18:00 local. Gaps 20, 29, 31 and 100 minutes.
    ("a", "2026-07-05 23:00", "page_view", f"{S}/", "https://www.google.com/search?q=crm",
     {"tz_offset_minutes": -300, "user_agent": IPHONE}),
    ("a", "2026-07-05 23:20", "page_view", f"{S}/pricing", f"{S}/",
     {"tz_offset_minutes": -300, "user_agent": IPHONE}),
    ("a", "2026-07-05 23:49", "page_view", f"{S}/pricing", f"{S}/pricing",
     {"tz_offset_minutes": -300, "user_agent": IPHONE}),
    ("a", "2026-07-06 00:20", "signup", f"{S}/signup", f"{S}/pricing",
     {"tz_offset_minutes": -300, "user_agent": IPHONE}),
    ("a", "2026-07-06 02:00", "page_view", f"{S}/blog/crm-guide", f"{S}/pricing",
     {"tz_offset_minutes": -300, "user_agent": IPHONE}),
    # b: British IP (BST, UTC+1 in July), Windows Chrome; gclid, then direct, then newsletter
    ("b", "2026-07-07 10:00", "page_view", f"{S}/pricing?gclid=abc", "",
     {"ip": GB_IP, "user_agent": WINDOWS}),
    ("b", "2026-07-07 10:10", "page_view", f"{S}/features", f"{S}/pricing",
     {"ip": GB_IP, "user_agent": WINDOWS}),
    ("b", "2026-07-07 13:10", "page_view", f"{S}/pricing", "",
     {"ip": GB_IP, "user_agent": WINDOWS}),
    ("b", "2026-07-07 13:15", "signup", f"{S}/signup", f"{S}/pricing",
     {"ip": GB_IP, "user_agent": WINDOWS}),
    ("b", "2026-07-07 13:20", "demo_request", f"{S}/demo", f"{S}/signup",
     {"ip": GB_IP, "user_agent": WINDOWS}),
    ("b", "2026-07-08 09:00", "page_view", f"{S}/pricing?utm_source=newsletter&utm_medium=email",
     "", {"ip": GB_IP, "user_agent": WINDOWS}),
    ("b", "2026-07-08 09:05", "signup", f"{S}/signup", f"{S}/pricing",
     {"ip": GB_IP, "user_agent": WINDOWS}),
    # c: nothing about place or time zone (UTC); iPad; facebook, returns the next day
    ("c", "2026-07-08 23:30", "page_view", f"{S}/blog/crm-guide", "https://l.facebook.com/",
     {"user_agent": IPAD}),
    ("c", "2026-07-08 23:40", "page_view", f"{S}/blog/lead-scoring", f"{S}/blog/crm-guide",
     {"user_agent": IPAD}),
    ("c", "2026-07-09 01:00", "page_view", f"{S}/blog/crm-guide", "", {"user_agent": IPAD}),
    # d: the source names the country (DE) and the device (iPhone); a British IP and a
    # Windows user agent must not override them
    ("d", "2026-07-10 14:00", "page_view", f"{S}/docs/api", "https://news.example.org/post",
     {"country": "de", "ip": GB_IP, "device_type": "iPhone", "user_agent": WINDOWS}),
    ("d", "2026-07-10 14:05", "page_view", f"{S}/docs/webhooks", f"{S}/docs/api",
     {"country": "de", "device_type": "iPhone", "user_agent": WINDOWS}),
    ("d", "2026-07-10 14:06", "demo_request", f"{S}/demo", f"{S}/docs/webhooks", {"country": "de"}),
    ("d", "2026-07-10 14:30", "page_view", f"{S}/pricing", f"{S}/demo", {"country": "de"}),
    ("d", "2026-07-10 14:31", "signup", f"{S}/signup", f"{S}/pricing", {"country": "de"}),
]  # fmt: skip

CUTOFFS = pd.Series(
    pd.to_datetime(
        ["2026-07-06 00:20", "2026-07-07 13:15", "2026-07-09 01:00", "2026-07-10 14:06"]
    ),
    index=["a", "b", "c", "d"],
)
RECENCY = ["events_last_7d", "days_since_last_event", "events_per_day"]


def make_events(rows: list[tuple] = ROWS, categorical: bool = True) -> pd.DataFrame:
    """Rows onto the event schema, typed as ``load_events`` returns them."""
    records = []
    for lead, time, event, url, referrer, other in rows:
        record: dict[str, Any] = dict.fromkeys(EVENT_COLUMNS)
        record.update(
            lead_id=lead, timestamp=pd.Timestamp(time), event=event, url=url, referrer=referrer
        )
        record.update(other)
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=list(EVENT_COLUMNS))
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns]")
    frame["tz_offset_minutes"] = pd.to_numeric(frame["tz_offset_minutes"]).astype(float)
    if categorical:
        for column in TEXT_COLUMNS:
            if column == "referrer":  # "" is a recorded empty referrer (direct), keep it
                frame[column] = frame[column].astype("category")
            else:
                frame[column] = as_text_category(frame[column])
    return frame


def as_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as a Python object, any missing marker as None."""
    return frame.astype(object).where(frame.notna(), None)


@pytest.fixture
def events() -> pd.DataFrame:
    return make_events()


@pytest.fixture
def features(events: pd.DataFrame) -> pd.DataFrame:
    return LeadFeatureBuilder().fit_transform(events).set_index("lead_id")


def after_cutoffs(cutoffs: pd.Series) -> list[tuple]:
    """Events at and after each lead's cutoff that differ in every way that matters."""
    rows: list[tuple] = []
    for lead, cutoff in cutoffs.items():
        rows += [
            (lead, str(cutoff), "purchase", "https://shop.other.io/checkout?gclid=zz",
             "https://www.bing.com/", {"tz_offset_minutes": 540, "ip": US_IP, "country": "JP",
             "user_agent": GOOGLEBOT, "utm_source": "x", "utm_medium": "cpc"}),
            (lead, str(cutoff + pd.Timedelta("1us")), "page_view", f"{S}/pricing", "", {}),
            (lead, str(cutoff + pd.Timedelta("1h")), "demo_request", f"{S}/demo", "",
             {"device_type": "tv"}),
            (lead, str(cutoff + pd.Timedelta("40D")), "signup", f"{S}/enterprise/signup",
             "https://l.facebook.com/", {"page_title": "Enterprise plans"}),
        ]  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- activity


def test_one_row_per_lead(features: pd.DataFrame) -> None:
    assert features.index.tolist() == ["a", "b", "c", "d"]
    assert features["first_seen"].tolist() == list(
        pd.to_datetime(
            ["2026-07-05 23:00", "2026-07-07 10:00", "2026-07-08 23:30", "2026-07-10 14:00"]
        )
    )


def test_counts(features: pd.DataFrame) -> None:
    assert features["events"].tolist() == [5, 7, 3, 5]
    assert features["page_views"].tolist() == [4, 4, 3, 3]
    # a: /, /pricing, /blog/crm-guide; b: /pricing?gclid, /features, /pricing, /pricing?utm…
    assert features["distinct_pages"].tolist() == [3, 4, 2, 3]


def test_sessions_with_the_30_minute_rule(features: pd.DataFrame) -> None:
    # a: 23:00 23:20 23:49 (29 min: same) | 00:20 (31 min: new) | 02:00
    # b: 10:00 10:10 | 13:10 13:15 13:20 | next day 09:00 09:05;  c: 23:30 23:40 | 01:00
    # d: 14:00 14:05 14:06 14:30 14:31 (24 min gap: one session)
    assert features["sessions"].tolist() == [3, 3, 2, 1]
    assert features["time_on_site_min"].tolist() == [49, 10 + 10 + 5, 10, 31]
    assert features["pages_per_session"].tolist() == pytest.approx([4 / 3, 4 / 3, 3 / 2, 3])


def test_session_gap_setting(events: pd.DataFrame) -> None:
    table = LeadFeatureBuilder(FeatureSettings(session_gap_minutes=10)).fit_transform(events)
    table = table.set_index("lead_id")
    # a: every gap (20, 29, 31, 100) exceeds 10 minutes; b: gaps of exactly 10 and 5 do not
    # d: 5, 1, 24, 1 → the 24-minute gap starts a second session
    assert table["sessions"].tolist() == [5, 3, 2, 2]
    assert table["time_on_site_min"].tolist() == [0, 25, 10, 6 + 1]


def test_session_gap_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FeatureSettings(session_gap_minutes=0)


# ----------------------------------------------------------------------------- time


def test_returns(features: pd.DataFrame) -> None:
    assert features["returned"].tolist() == [1, 1, 1, 0]
    # a: second session 80 min after the first visit; b: 3 h 10 min; c: 1 h 30 min
    hours = features["hours_to_return"]
    assert hours.iloc[:3].tolist() == pytest.approx([80 / 60, 3 + 10 / 60, 1.5])
    assert np.isnan(hours.loc["d"])


def test_returned_same_day_uses_local_dates(features: pd.DataFrame) -> None:
    # a: 23:00 and 00:20 UTC are different UTC days, but 18:00 and 19:20 of the same day in
    #    UTC-5 → same day. b: 11:00 and 14:10 British time → same day.
    # c: UTC (nothing known): 23:30 and 01:00 → the next day. d: never returned.
    assert features["returned_same_day"].tolist() == [1, 1, 0, 0]


def test_active_days_use_local_dates(features: pd.DataFrame) -> None:
    # a: every event falls on 5 July in UTC-5 (18:00 … 21:00), although UTC spans two days
    assert features["active_days"].tolist() == [1, 2, 2, 1]


def test_first_visit_in_local_time(features: pd.DataFrame) -> None:
    assert features["local_time_from"].tolist() == ["client", "ip_country", "utc", "ip_country"]
    # a: 23:00 UTC - 5 h = 18:00 Sunday; b: 10:00 UTC in London (BST) = 11:00 Tuesday
    # c: 23:30 UTC Wednesday; d: 14:00 UTC in Germany (CEST, +2) = 16:00 Friday
    assert features["first_visit_hour"].tolist() == [18, 11, 23, 16]
    assert features["first_visit_weekday"].tolist() == [6, 1, 2, 4]
    assert features["first_visit_weekend"].tolist() == [1, 0, 0, 0]
    assert features["first_visit_business_hours"].tolist() == [0, 1, 0, 1]


def test_time_zone_name_from_the_client() -> None:
    rows = [
        ("z", "2026-01-05 23:30", "page_view", f"{S}/", "", {"timezone": "Asia/Tokyo"}),
        ("z", "2026-01-05 23:35", "page_view", f"{S}/x", "", {"timezone": "Asia/Tokyo"}),
    ]
    table = LeadFeatureBuilder().fit_transform(make_events(rows))
    # 23:30 UTC on Monday is 08:30 on Tuesday in Tokyo (UTC+9)
    assert table["local_time_from"].tolist() == ["client"]
    assert table["first_visit_hour"].tolist() == [8]
    assert table["first_visit_weekday"].tolist() == [1]


def test_country_time_zone_helpers() -> None:
    assert geo.country_timezone("GB") == "Europe/London"
    assert geo.country_timezone("gb") == "Europe/London"
    assert geo.country_timezone("ZZ") is None
    times = pd.Series(pd.to_datetime(["2026-01-15 12:00", "2026-07-15 12:00", "2026-07-15 12:00"]))
    zones = pd.Series(["Europe/London", "Europe/London", None])
    offsets = geo.utc_offset_minutes(times, zones)
    assert offsets.iloc[:2].tolist() == [0, 60]
    assert np.isnan(offsets.iloc[2])


# ----------------------------------------------------------------------------- milestones


def test_milestones(features: pd.DataFrame) -> None:
    assert features["signup_count"].tolist() == [1, 2, 0, 1]
    assert features["demo_request_count"].tolist() == [0, 1, 0, 1]
    signup = features["hours_to_signup"]
    # a: 23:00 → 00:20; b: 10:00 → 13:15 (the first of two); d: 14:00 → 14:31
    assert signup[["a", "b", "d"]].tolist() == pytest.approx([80 / 60, 3.25, 31 / 60])
    assert np.isnan(signup["c"])
    demo = features["hours_to_demo_request"]
    assert demo[["b", "d"]].tolist() == pytest.approx([3 + 20 / 60, 6 / 60])
    assert demo[["a", "c"]].isna().all()
    assert "page_view_count" not in features.columns  # page views are no milestone


def test_milestones_given_in_settings(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder(FeatureSettings(milestones=["Demo_Request"]))
    table = builder.fit_transform(events).set_index("lead_id")
    assert "signup_count" not in table.columns
    assert table["demo_request_count"].tolist() == [0, 1, 0, 1]


# ----------------------------------------------------------------------------- device, place


def test_device_from_user_agents_and_given_device(features: pd.DataFrame) -> None:
    assert features["device_type"].tolist() == ["mobile", "desktop", "tablet", "mobile"]
    assert features["os"].tolist() == ["iOS", "Windows", "iOS", "Windows"]
    assert features["browser"].tolist() == ["Mobile Safari", "Chrome", "Mobile Safari", "Chrome"]
    assert features["device_types"].tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize(
    ("agent", "kind"),
    [(IPHONE, "mobile"), (IPAD, "tablet"), (WINDOWS, "desktop"), (TIZEN_TV, "tv"),
     (GOOGLEBOT, "bot"), ("", "unknown")],
)  # fmt: skip
def test_classify_user_agent(agent: str, kind: str) -> None:
    assert useragent.classify(agent)[0] == kind


def test_device_types_in_the_builder() -> None:
    agents = {"p": IPHONE, "t": IPAD, "w": WINDOWS, "tv": TIZEN_TV, "bot": GOOGLEBOT}
    rows = [(lead, "2026-07-01 12:00", "page_view", f"{S}/", "", {"user_agent": ua})
            for lead, ua in agents.items()]  # fmt: skip
    rows.append(
        ("given", "2026-07-01 12:00", "page_view", f"{S}/", "",
         {"user_agent": WINDOWS, "device_type": "iPhone"})
    )  # fmt: skip
    table = LeadFeatureBuilder().fit_transform(make_events(rows)).set_index("lead_id")
    assert table["device_type"].to_dict() == {
        "p": "mobile", "t": "tablet", "w": "desktop", "tv": "tv", "bot": "bot", "given": "mobile",
    }  # fmt: skip
    assert table.loc["w", "os"] == "Windows" and table.loc["w", "browser"] == "Chrome"


def test_device_and_country_from_a_mixpanel_export(tmp_path: Path) -> None:
    path = tmp_path / "mixpanel.jsonl"
    props = {"distinct_id": "m", "time": 1782900000, "$current_url": f"{S}/",
             "$device": "iPhone", "$os": "iOS", "$browser": "Mobile Safari",
             "mp_country_code": "gb", "$user_agent": WINDOWS}  # fmt: skip
    path.write_text(json.dumps({"event": "page_view", "properties": props}) + "\n")
    table = LeadFeatureBuilder().fit_transform(load_events(path).events)
    row = table.iloc[0]
    assert (row["device_type"], row["os"], row["browser"]) == ("mobile", "iOS", "Mobile Safari")
    assert row["country"] == "GB"
    assert row["local_time_from"] == "ip_country"


def test_normalise_device_names() -> None:
    names = pd.Series(["iPhone", "Android", "iPad", "Desktop", "Smart TV", None])
    assert useragent.normalise_device(names).tolist()[:5] == [
        "mobile", "mobile", "tablet", "desktop", "tv",
    ]  # fmt: skip


def test_two_devices_are_counted() -> None:
    rows = [
        ("x", "2026-07-01 12:00", "page_view", f"{S}/", "", {"user_agent": IPHONE}),
        ("x", "2026-07-02 12:00", "page_view", f"{S}/", "", {"user_agent": WINDOWS}),
    ]
    table = LeadFeatureBuilder().fit_transform(make_events(rows))
    assert table["device_types"].tolist() == [2]
    assert table["device_type"].tolist() == ["mobile"]  # the first device seen


def test_country_from_ip_and_given_country_wins(features: pd.DataFrame) -> None:
    assert features.loc["b", "country"] == "GB"  # from the IP address
    assert features.loc["d", "country"] == "DE"  # given (upper-cased), not the IP's GB
    assert pd.isna(features.loc["a", "country"]) and pd.isna(features.loc["c", "country"])


def test_ip_lookup() -> None:
    lookup = geo.CountryLookup()
    found = lookup.lookup(pd.Series([GB_IP, US_IP, "not an ip", None]))
    assert found.iloc[:2].tolist() == ["GB", "US"]
    assert found.iloc[2:].isna().all()


# ----------------------------------------------------------------------------- traffic


def test_first_and_last_touch(features: pd.DataFrame) -> None:
    # a: google organic; its later sessions start from its own pages → no new touch
    # b: gclid → google/paid; an empty referrer → direct; the newsletter UTM → email/email
    # c: facebook, then direct; d: an unknown site → referral
    assert features["first_touch_source"].tolist() == [
        "google", "google", "facebook", "news.example.org",
    ]  # fmt: skip
    assert features["first_touch_medium"].tolist() == ["organic", "paid", "social", "referral"]
    assert features["last_touch_source"].tolist() == [
        "google", "email", "direct", "news.example.org",
    ]  # fmt: skip
    assert features["last_touch_medium"].tolist() == ["organic", "email", "direct", "referral"]
    assert features["sources"].tolist() == [1, 3, 2, 1]


def test_unrecorded_referrer_is_unknown_not_direct() -> None:
    rows = [("u", "2026-07-01 12:00", "page_view", f"{S}/", None, {}),
            ("e", "2026-07-01 12:00", "page_view", f"{S}/", "", {})]  # fmt: skip
    table = LeadFeatureBuilder().fit_transform(make_events(rows)).set_index("lead_id")
    assert table.loc["u", "first_touch_source"] == "unknown"
    assert table.loc["u", "first_touch_medium"] == "unknown"
    assert table.loc["e", "first_touch_source"] == "direct"


def test_classify_traffic() -> None:
    cases = [  # referrer, url, expected
        ("https://www.google.com/", f"{S}/", ("google", "organic")),
        ("https://www.google.co.uk/search", f"{S}/", ("google", "organic")),
        ("", f"{S}/?gclid=abc", ("google", "paid")),
        ("https://www.google.com/", f"{S}/?gclid=abc", ("google", "paid")),
        ("", f"{S}/?utm_source=newsletter&utm_medium=email", ("email", "email")),
        ("https://l.facebook.com/", f"{S}/", ("facebook", "social")),
        ("https://m.facebook.com/", f"{S}/?fbclid=1", ("facebook", "paid")),
        ("", f"{S}/", ("direct", "direct")),
        (None, f"{S}/", ("unknown", "unknown")),
        (f"{S}/pricing", f"{S}/signup", ("internal", "internal")),
        ("https://www.acme.com/pricing", f"{S}/signup", ("internal", "internal")),
        ("https://news.example.org/a", f"{S}/", ("news.example.org", "referral")),
        ("https://t.co/xyz", f"{S}/", ("twitter", "social")),
        ("https://www.microsoft.com/", f"{S}/", ("microsoft.com", "referral")),
    ]
    referrers = pd.Series([c[0] for c in cases], dtype=object)
    urls = pd.Series([c[1] for c in cases])
    empty = pd.Series([None] * len(cases), dtype=object)
    result = classify_traffic(referrers, urls, empty, empty, frozenset({"acme.com"}))
    got = list(zip(result["source"], result["medium"], strict=True))
    assert got == [c[2] for c in cases]


def test_utm_columns_are_used() -> None:
    result = classify_traffic(
        pd.Series([""]), pd.Series([f"{S}/"]), pd.Series(["fb"]), pd.Series(["cpc"])
    )
    assert result.to_numpy().tolist() == [["facebook", "paid"]]


def test_own_domains_setting(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder(FeatureSettings(own_domains=["www.acme.com"])).fit(events)
    assert builder.own_domains_ == frozenset({"acme.com"})
    inferred = LeadFeatureBuilder().fit(events)
    assert inferred.own_domains_ == frozenset({"acme.com"})


# ----------------------------------------------------------------------------- journey


def test_journey_ngrams(features: pd.DataFrame) -> None:
    # steps — a: home pricing signup blog; b: pricing features pricing signup demo_request
    # pricing signup; c: blog; d: docs demo_request pricing signup
    assert features["journey: pricing > signup"].tolist() == [1, 2, 0, 1]
    assert features["journey: demo_request > pricing"].tolist() == [0, 1, 0, 1]
    assert features["journey: demo_request > pricing > signup"].tolist() == [0, 1, 0, 1]
    grams = {c for c in features.columns if c.startswith("journey: ")}
    # n-grams of a single lead are not columns
    assert grams == {
        "journey: pricing > signup",
        "journey: demo_request > pricing",
        "journey: demo_request > pricing > signup",
    }
    assert features["landing_step"].tolist() == ["home", "pricing", "blog", "docs"]
    assert features["distinct_steps"].tolist() == [4, 4, 1, 4]


def test_journey_ngram_limit(events: pd.DataFrame) -> None:
    table = LeadFeatureBuilder(FeatureSettings(max_ngrams=1)).fit_transform(events)
    grams = [c for c in table.columns if c.startswith("journey: ")]
    assert grams == ["journey: pricing > signup"]  # the one most leads share


# ----------------------------------------------------------------------------- content


def test_content_topics(features: pd.DataFrame) -> None:
    topics = [c for c in features.columns if c.startswith("content_topic_")]
    assert topics == [f"content_topic_{k}" for k in range(1, 6)]
    values = features[topics]
    assert np.isfinite(values.to_numpy()).all()
    # c read blog posts only, d API docs and pricing: different topic scores
    assert np.abs(values.loc["c"] - values.loc["d"]).max() > 0.1


def test_same_pages_give_the_same_topics(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder().fit(events)
    twin = events[events["lead_id"] == "c"].assign(lead_id="c2")
    both = pd.concat([events, twin], ignore_index=True)
    table = builder.transform(both, as_of="2026-07-20").set_index("lead_id")
    pd.testing.assert_series_equal(table.loc["c"], table.loc["c2"], check_names=False)


def test_no_topics_when_disabled(events: pd.DataFrame) -> None:
    table = LeadFeatureBuilder(FeatureSettings(text_components=0)).fit_transform(events)
    assert not any(c.startswith("content_topic_") for c in table.columns)


# ----------------------------------------------------------------------------- point in time


def test_events_at_or_after_the_cutoff_change_nothing(events: pd.DataFrame) -> None:
    more = make_events(ROWS + after_cutoffs(CUTOFFS))
    assert len(more) == len(events) + 16
    plain = LeadFeatureBuilder().fit_transform(events, CUTOFFS)
    padded = LeadFeatureBuilder().fit_transform(more, CUTOFFS)
    pd.testing.assert_frame_equal(plain, padded)
    fitted = LeadFeatureBuilder().fit(events, CUTOFFS)
    pd.testing.assert_frame_equal(
        fitted.transform(events, CUTOFFS), fitted.transform(more, CUTOFFS)
    )


def test_features_before_the_cutoff(events: pd.DataFrame) -> None:
    table = LeadFeatureBuilder().fit_transform(events, CUTOFFS).set_index("lead_id")
    # a: 23:00 23:20 23:49 (the sign-up at the cutoff is left out); b: 10:00 10:10 13:10
    # c: 23:30 23:40; d: 14:00 14:05 (the demo request at the cutoff is left out)
    assert table["events"].tolist() == [3, 3, 2, 2]
    assert table["sessions"].tolist() == [1, 2, 1, 1]
    assert table["returned"].tolist() == [0, 1, 0, 0]
    assert not any(c.endswith("_count") for c in table.columns)  # no milestone before cutoffs
    assert table["last_touch_source"].tolist() == [
        "google",
        "direct",
        "facebook",
        "news.example.org",
    ]


def test_recency_is_left_out_with_per_lead_cutoffs(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder()
    table = builder.fit_transform(events, CUTOFFS)
    assert builder.as_of_features_ is False
    for column in RECENCY:
        assert column not in table.columns
    assert not builder.transform(events, as_of="2026-07-20").columns.isin(RECENCY).any()


def test_recency_against_as_of(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder().fit(events)
    assert builder.as_of_features_ is True
    table = builder.transform(events, as_of="2026-07-14 12:00").set_index("lead_id")
    # seven days back is 2026-07-07 12:00
    assert table["events_last_7d"].tolist() == [0, 5, 3, 5]
    day = 24 * 60
    assert table["days_since_last_event"].tolist() == pytest.approx(
        [8 + 10 / 24, 6 + 175 / day, 5 + 11 / 24, 3 + 1289 / day]
    )
    spans = [8 + 13 / 24, 7 + 2 / 24, 5 + 12.5 / 24, 3 + 22 / 24]  # as_of - first visit
    assert table["events_per_day"].tolist() == pytest.approx(
        [n / s for n, s in zip([5, 7, 3, 5], spans, strict=True)]
    )


def test_as_of_leaves_later_events_out(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder().fit(events)
    table = builder.transform(events, as_of="2026-07-07 13:12").set_index("lead_id")
    assert table.index.tolist() == ["a", "b"]  # c and d had not arrived yet
    assert table.loc["b", "events"] == 3
    assert table.loc["b", "days_since_last_event"] == pytest.approx(2 / (24 * 60))


def test_one_global_cutoff_keeps_recency(events: pd.DataFrame) -> None:
    cutoff = pd.Series(pd.Timestamp("2026-07-09 00:00"), index=CUTOFFS.index)
    builder = LeadFeatureBuilder()
    table = builder.fit_transform(events, cutoff).set_index("lead_id")
    assert builder.as_of_features_ is True
    assert table.index.tolist() == ["a", "b", "c"]  # d starts on 10 July
    assert table["events"].tolist() == [5, 7, 2]
    assert table["days_since_last_event"].tolist() == pytest.approx(
        [2 + 22 / 24, 14 / 24 + 55 / (24 * 60), 20 / (24 * 60)]
    )


@pytest.mark.parametrize("lead", ["a", "b", "c", "d"])
def test_a_single_lead_gives_the_same_row_as_the_batch(events: pd.DataFrame, lead: str) -> None:
    builder = LeadFeatureBuilder().fit(events)
    batch = builder.transform(events, as_of="2026-07-20")
    alone = builder.transform(events[events["lead_id"] == lead], as_of="2026-07-20")
    expected = batch[batch["lead_id"] == lead].reset_index(drop=True)
    # values only (missing as missing): the dtype of a text column is the next test's business
    pd.testing.assert_frame_equal(as_values(alone), as_values(expected), check_dtype=False)


def test_column_types_do_not_depend_on_the_batch(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder().fit(events)
    batch = builder.transform(events, as_of="2026-07-20")
    for lead in ["a", "b", "c", "d"]:
        alone = builder.transform(events[events["lead_id"] == lead], as_of="2026-07-20")
        differ = {
            c: (str(alone[c].dtype), str(batch[c].dtype))
            for c in batch.columns
            if alone[c].dtype != batch[c].dtype
        }
        assert not differ, f"lead {lead}: column types (alone, batch) differ: {differ}"


def test_a_single_lead_with_cutoffs(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder().fit(events, CUTOFFS)
    batch = builder.transform(events, CUTOFFS)
    alone = builder.transform(events[events["lead_id"] == "b"], CUTOFFS)
    pd.testing.assert_frame_equal(alone, batch[batch["lead_id"] == "b"].reset_index(drop=True))


def test_plain_text_columns_give_the_same_features(events: pd.DataFrame) -> None:
    plain = make_events(categorical=False)
    pd.testing.assert_frame_equal(
        LeadFeatureBuilder().fit_transform(events), LeadFeatureBuilder().fit_transform(plain)
    )


def test_only_the_required_columns(events: pd.DataFrame) -> None:
    slim = events[["lead_id", "timestamp", "event", "url"]]
    table = LeadFeatureBuilder().fit_transform(slim).set_index("lead_id")
    assert table["events"].tolist() == [5, 7, 3, 5]
    # no referrer column: unknown, except b whose landing URL carries a gclid
    assert table["first_touch_source"].tolist() == ["unknown", "google", "unknown", "unknown"]
    assert table["local_time_from"].tolist() == ["utc"] * 4


# ----------------------------------------------------------------------------- the builder


def test_pickled_builder_transforms_identically(events: pd.DataFrame, tmp_path: Path) -> None:
    builder = LeadFeatureBuilder().fit(events)
    expected = builder.transform(events, as_of="2026-07-20")
    path = tmp_path / "builder.joblib"
    joblib.dump(builder, path)
    loaded = joblib.load(path)
    assert isinstance(loaded, LeadFeatureBuilder)
    pd.testing.assert_frame_equal(loaded.transform(events, as_of="2026-07-20"), expected)
    assert loaded.transform(events, as_of="2026-07-20")["country"].tolist()[1] == "GB"


def test_unfitted_transform_raises(events: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="not fitted"):
        LeadFeatureBuilder().transform(events)


def test_events_without_required_columns(events: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="timestamp"):
        LeadFeatureBuilder().fit(events.drop(columns=["timestamp"]))


def test_no_events_before_the_cutoffs(events: pd.DataFrame) -> None:
    early = pd.Series(pd.Timestamp("2026-01-01"), index=CUTOFFS.index)
    with pytest.raises(DataError, match="no events before the cutoffs"):
        LeadFeatureBuilder().fit(events, early)


def test_transform_of_no_events(events: pd.DataFrame) -> None:
    builder = LeadFeatureBuilder().fit(events)
    table = builder.transform(events.iloc[:0])
    assert len(table) == 0
    assert "lead_id" in table.columns


def test_a_leads_topics_do_not_depend_on_the_other_leads_at_hand(tmp_path: Path) -> None:
    """Pages are numbered as they appear in the events at hand (a batch, a bucket): a
    lead's topic scores are still the same to the bit."""
    from leadscore.demo import write_demo_events

    demo = write_demo_events(tmp_path / "demo", leads=400, new_leads=50)
    events = load_events(demo["events"]).events
    builder = LeadFeatureBuilder().fit(events)
    whole = builder.transform(events).set_index("lead_id")
    topics = [c for c in whole.columns if c.startswith("content_topic_")]
    assert topics and whole[topics].abs().to_numpy().sum() > 0
    leads = whole.index[::-3]  # another set of leads, their events in another order
    part = events[events["lead_id"].isin(leads)].iloc[::-1].reset_index(drop=True)
    alone = builder.transform(part).set_index("lead_id")
    np.testing.assert_array_equal(alone.loc[leads, topics], whole.loc[leads, topics])
