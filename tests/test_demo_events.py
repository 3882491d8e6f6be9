"""Tests for the seeded event-level funnel generator (leadscore.demo.events).

The planted effects are checked the way a feature pipeline would see them: derived from the
events (cut at each lead's outcome time) and the outcomes with pandas, not read off the
truth table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytz
from sklearn.linear_model import LogisticRegression

from leadscore.demo import (
    EVENT_COLUMNS,
    EVENT_NAMES,
    POST_OUTCOME_EVENTS,
    SITE,
    TRUTH_COLUMNS,
    DemoEvents,
    generate_events,
    write_demo_events,
)
from leadscore.errors import DataError

BIG = 200_000
GAP = pd.Timedelta(minutes=30)
PLANTED = {  # derived feature: planted logit effect
    "returned_same_day": 1.3,
    "demo_request": 1.2,
    "pricing_twice": 0.5,
    "desktop": 0.6,
    "tv": -0.8,
    "weekend": -0.4,
    "business_hours": 0.2,
    "src_medium": 1.6,
    "src_email": 0.7,
    "src_linkedin": 0.5,
    "src_partner": 0.4,
    "src_google_ads": 0.3,
    "src_google_organic": 0.2,
    "src_facebook": -0.5,
}


@pytest.fixture(scope="module")
def big() -> DemoEvents:
    """200k leads (about two million events): also shows generation stays vectorised."""
    return generate_events(BIG, seed=11)


@pytest.fixture(scope="module")
def derived(big: DemoEvents) -> pd.DataFrame:
    return _derive(big)


@pytest.fixture(scope="module")
def small() -> DemoEvents:
    return generate_events(3000, seed=5)


def _source_of(first: pd.DataFrame) -> pd.Series:
    """First-touch source from the landing page view's URL, UTM parameters and referrer."""
    url = first["url"].astype("str")
    ref = first["referrer"].astype("str")
    utm = first["utm_source"].astype("str")
    rules = [
        ("google_ads", url.str.contains("gclid=")),
        ("facebook", url.str.contains("fbclid=") | ref.str.contains("facebook.com")),
        ("email", utm.eq("newsletter") | ref.str.contains("mail.google|outlook")),
        ("linkedin", ref.str.contains("linkedin.com")),
        ("medium", ref.str.contains("medium.com")),
        ("partner", ref.str.contains("g2.com|capterra|zapier|hubspot|salesforce")),
        ("google_organic", ref.str.contains(r"www\.google\.")),
    ]
    out = pd.Series("direct", index=first.index)
    for name, hit in reversed(rules):
        out[hit.to_numpy()] = name
    return out


def _device_of(user_agents: pd.Series) -> pd.Series:
    """Device type of each user agent from ua_parser's device / OS families."""
    from ua_parser import parse

    kinds = {}
    for ua in user_agents.dropna().unique():
        result = parse(str(ua))
        device = result.device.family if result.device else ""
        brand = result.device.brand if result.device and result.device.brand else ""
        os_name = result.os.family if result.os else ""
        if os_name in {"Tizen", "Web0S", "Roku", "ATV OS X", "Chromecast Linux"} or re.search(
            "TV|Roku|Chromecast", device
        ):
            kinds[ua] = "tv"
        elif device == "iPad" or "Tablet" in brand:
            kinds[ua] = "tablet"
        elif os_name in {"iOS", "Android"}:
            kinds[ua] = "mobile"
        elif os_name in {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS"}:
            kinds[ua] = "desktop"
        else:
            kinds[ua] = "unknown"
    return user_agents.astype("str").map(kinds)


def _derive(demo: DemoEvents) -> pd.DataFrame:
    """Per-lead features from the events before each lead's outcome time, plus the label."""
    outcomes = demo.outcomes.set_index("lead_id")
    ev = demo.events
    ev = ev[ev["timestamp"] < ev["lead_id"].map(outcomes["outcome_at"])]
    ev = ev.sort_values(["lead_id", "timestamp"], kind="stable")
    lead = ev["lead_id"].to_numpy()
    new_lead = np.r_[True, lead[1:] != lead[:-1]]
    gap = ev["timestamp"].diff().to_numpy() > GAP.to_timedelta64()
    session = np.cumsum(new_lead | gap)
    session -= session[np.flatnonzero(new_lead)][np.cumsum(new_lead) - 1]
    local = ev["timestamp"].dt.tz_localize(None) + pd.to_timedelta(
        ev["tz_offset_minutes"], unit="min"
    )
    frame = pd.DataFrame(
        {"lead_id": lead, "session": session, "local_day": local.dt.floor("D").to_numpy()}
    )
    first = ev[new_lead]
    first_local = local[new_lead]
    second_day = frame[frame["session"] == 1].groupby("lead_id")["local_day"].first()
    page_views = ev[ev["event"] == "page_view"]
    pricing = page_views["url"].astype("str").str.startswith(SITE + "/pricing")
    out = pd.DataFrame(
        {
            "lead_id": first["lead_id"].to_numpy(),
            "has_offset": first["tz_offset_minutes"].notna().to_numpy(),
            "source": _source_of(first).to_numpy(),
            "device": _device_of(first["user_agent"]).to_numpy(),
            "weekend": (first_local.dt.day_of_week >= 5).to_numpy(),
            "business_hours": first_local.dt.hour.between(9, 16).to_numpy(),
        }
    ).set_index("lead_id")
    first_day = pd.Series(first_local.dt.floor("D").to_numpy(), index=out.index)
    out["returned_same_day"] = second_day.reindex(out.index).eq(first_day)
    out["sessions"] = frame.groupby("lead_id")["session"].max().reindex(out.index) + 1
    out["demo_request"] = out.index.isin(ev.loc[ev["event"] == "demo_request", "lead_id"])
    out["pricing_views"] = (
        pricing.groupby(page_views["lead_id"]).sum().reindex(out.index, fill_value=0)
    )
    out["pricing_twice"] = out["pricing_views"] >= 2
    out["converted"] = outcomes["converted"].reindex(out.index).eq("yes")
    return out


def _rates(derived: pd.DataFrame, column: str) -> pd.Series:
    return derived["converted"].groupby(derived[column]).mean()


# --- determinism, shape and ids ------------------------------------------------------------------


def test_same_seed_gives_identical_output() -> None:
    first = generate_events(800, seed=3)
    second = generate_events(800, seed=3)
    pd.testing.assert_frame_equal(first.events, second.events)
    pd.testing.assert_frame_equal(first.outcomes, second.outcomes)
    pd.testing.assert_frame_equal(first.truth, second.truth)


def test_different_seeds_differ() -> None:
    first = generate_events(800, seed=3)
    second = generate_events(800, seed=4)
    assert not first.events["event_id"].isin(second.events["event_id"]).any()
    assert not first.events["timestamp"].equals(second.events["timestamp"])
    assert not np.allclose(first.truth["true_probability"], second.truth["true_probability"])


def test_columns_types_and_ids(small: DemoEvents) -> None:
    ev = small.events
    assert tuple(ev.columns) == EVENT_COLUMNS
    assert str(ev["timestamp"].dt.tz) == "UTC"
    assert set(ev["event"].unique()) <= set(EVENT_NAMES)
    assert ev["event_id"].is_unique
    assert (
        ev["event_id"]
        .str.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
            r"[0-9a-f]{12}"
        )
        .all()
    )
    assert ev["lead_id"].str.fullmatch(r"u_\d{6}").all()
    assert ev["lead_id"].nunique() == 3000
    assert tuple(small.truth.columns) == TRUTH_COLUMNS
    assert list(small.outcomes.columns) == ["lead_id", "converted", "outcome_at"]
    assert small.outcomes["lead_id"].equals(small.truth["lead_id"])
    assert 8 <= small.events_per_lead <= 12


def test_events_sorted_and_one_signup_per_lead(small: DemoEvents) -> None:
    ev = small.events
    assert ev["timestamp"].is_monotonic_increasing
    signups = ev.loc[ev["event"] == "signup", "lead_id"]
    assert signups.is_unique and signups.size == 3000
    first = ev.groupby("lead_id").head(1)
    assert first["event"].eq("page_view").all()  # everyone lands on a page first
    # The signup follows a view of /signup with the same URL.
    assert ev.loc[ev["event"] == "signup", "url"].astype("str").eq(SITE + "/signup").all()


def test_urls_titles_referrers_and_campaigns(small: DemoEvents) -> None:
    ev = small.events
    views = ev[ev["event"] == "page_view"]
    assert views["url"].astype("str").str.startswith(SITE + "/").all()
    assert views["page_title"].notna().all()
    blog = views[views["url"].astype("str").str.contains("/blog/")]
    assert blog["page_title"].astype("str").str.endswith("Acme Analytics Blog").all()
    # UTM columns are filled exactly where the URL carries the parameters.
    tagged = views["url"].astype("str").str.contains("utm_source=")
    assert views["utm_source"].notna().eq(tagged).all()
    assert (
        views.loc[tagged, "url"].astype("str").str.extract(r"utm_source=([^&]+)")[0]
        == views.loc[tagged, "utm_source"].astype("str")
    ).all()
    ads = small.truth.loc[small.truth["source"] == "google_ads", "lead_id"]
    first = ev.groupby("lead_id").head(1).set_index("lead_id")
    assert first.loc[ads, "url"].astype("str").str.contains("gclid=").all()
    # Within a session the referrer is the previous page of the site.
    same_lead = ev["lead_id"].eq(ev["lead_id"].shift())
    close = ev["timestamp"].diff() < pd.Timedelta(minutes=25)
    follow = views.index[(same_lead & close).reindex(views.index)]
    assert ev.loc[follow, "referrer"].astype("str").str.startswith(SITE).mean() > 0.99


def test_outcome_timing_and_post_outcome_events(small: DemoEvents) -> None:
    ev = small.events
    outcome = ev["lead_id"].map(small.outcomes.set_index("lead_id")["outcome_at"])
    converted = ev["lead_id"].map(small.outcomes.set_index("lead_id")["converted"]).eq("yes")
    post = ev["event"].isin(POST_OUTCOME_EVENTS) | ev["url"].astype("str").str.contains("/app/")
    assert (ev.loc[~post, "timestamp"] < outcome[~post]).all()
    assert (ev.loc[post, "timestamp"] > outcome[post]).all()
    assert converted[post].all()
    won = small.outcomes.loc[small.outcomes["converted"] == "yes", "lead_id"]
    assert set(ev.loc[ev["event"] == "invoice_paid", "lead_id"]) == set(won)
    assert ev.loc[ev["event"] == "invoice_paid", ["url", "user_agent", "ip"]].isna().all().all()
    plain = generate_events(3000, seed=5, post_outcome_events=False)
    assert not plain.events["event"].isin(POST_OUTCOME_EVENTS).any()
    assert len(plain.events) == (~post).sum()


def test_positive_rate() -> None:
    demo = generate_events(20_000, seed=2)
    assert demo.outcomes["converted"].eq("yes").mean() == pytest.approx(0.12, abs=0.012)
    assert demo.truth["true_probability"].mean() == pytest.approx(0.12, abs=0.01)
    rare = generate_events(20_000, seed=2, positive_rate=0.05)
    assert rare.truth["true_probability"].mean() == pytest.approx(0.05, abs=1e-6)
    # Only the outcomes depend on the rate; behaviour events are the same.
    pd.testing.assert_series_equal(rare.truth["returned_same_day"], demo.truth["returned_same_day"])


# --- the planted effects, recovered from the events ----------------------------------------------


def test_big_generation_completes(big: DemoEvents) -> None:
    assert big.truth.shape[0] == BIG
    assert 8 <= big.events_per_lead <= 12
    assert big.events["event"].eq("signup").sum() == BIG


def test_derived_features_match_truth(big: DemoEvents, derived: pd.DataFrame) -> None:
    truth = big.truth.set_index("lead_id").loc[derived.index]
    assert (derived["sessions"] == truth["sessions"]).all()
    assert (derived["demo_request"] == truth["demo_request"]).all()
    assert (derived["pricing_views"] == truth["pricing_views"]).all()
    with_offset = derived["has_offset"]
    for column, truth_column in [
        ("returned_same_day", "returned_same_day"),
        ("weekend", "weekend_first_visit"),
        ("business_hours", "business_hours_first_visit"),
    ]:
        assert (derived.loc[with_offset, column] == truth.loc[with_offset, truth_column]).all()
    assert (derived["source"] == truth["source"]).mean() > 0.97
    assert (derived["device"] == truth["device"]).mean() > 0.99
    assert with_offset.mean() == pytest.approx(0.70, abs=0.01)


def test_planted_effects_visible_in_rates(derived: pd.DataFrame) -> None:
    returned = _rates(derived, "returned_same_day")
    assert returned[True] > 2.0 * returned[False]
    demo = _rates(derived, "demo_request")
    assert demo[True] > 2.0 * demo[False]
    device = _rates(derived, "device")
    assert device["desktop"] > 1.4 * device["mobile"] > 1.4 * device["tv"]
    source = _rates(derived, "source")
    assert source.idxmax() == "medium"
    assert source.idxmin() == "facebook"
    assert source["email"] > source["linkedin"] > source["direct"]
    pricing = _rates(derived, "pricing_twice")
    assert pricing[True] > 1.3 * pricing[False]
    timed = derived[derived["has_offset"]]
    assert _rates(timed, "weekend")[True] < 0.85 * _rates(timed, "weekend")[False]
    assert _rates(timed, "business_hours")[True] > _rates(timed, "business_hours")[False]


def test_planted_effects_recovered_by_logistic_regression(derived: pd.DataFrame) -> None:
    data = derived[derived["has_offset"]]
    x = pd.DataFrame(
        {
            "returned_same_day": data["returned_same_day"],
            "demo_request": data["demo_request"],
            "pricing_twice": data["pricing_twice"],
            "weekend": data["weekend"],
            "business_hours": data["business_hours"],
            **{d: data["device"].eq(d) for d in ("desktop", "tablet", "tv")},
            **{
                f"src_{s}": data["source"].eq(s)
                for s in (
                    "medium",
                    "email",
                    "linkedin",
                    "partner",
                    "google_ads",
                    "google_organic",
                    "facebook",
                )
            },
        }
    ).astype(float)
    model = LogisticRegression(C=1e6, max_iter=1000).fit(x, data["converted"])
    fitted = dict(zip(x.columns, model.coef_[0], strict=True))
    for name, planted in PLANTED.items():
        tolerance = 0.4 if name in ("src_medium", "tv") else 0.2
        assert fitted[name] == pytest.approx(planted, abs=tolerance), name
    assert abs(fitted["tablet"]) < 0.2


# --- geography, devices, time zones --------------------------------------------------------------


def test_ips_map_to_the_country(big: DemoEvents) -> None:
    from geoip2fast import GeoIP2Fast

    geo = GeoIP2Fast(verbose=False)
    first = big.events.groupby("lead_id").head(1).set_index("lead_id").iloc[::80]
    found = [geo.lookup(str(ip)).country_code for ip in first["ip"]]
    truth = big.truth.set_index("lead_id").loc[first.index, "country"]
    assert np.mean(np.array(found) == truth.to_numpy()) >= 0.98
    assert truth.nunique() >= 10


def test_user_agents_parse_to_the_device(big: DemoEvents) -> None:
    views = big.events[big.events["event"] == "page_view"].iloc[::10]
    device = _device_of(views["user_agent"])
    truth = views["lead_id"].map(big.truth.set_index("lead_id")["device"])
    assert (device == truth).mean() >= 0.95
    assert set(device.unique()) == {"desktop", "mobile", "tablet", "tv"}
    # A lead keeps its device, except for the rare second device.
    per_lead = big.events.groupby("lead_id")["user_agent"].nunique()
    assert (per_lead > 1).mean() < 0.05


def test_tz_offsets_consistent_with_country(big: DemoEvents) -> None:
    ev = big.events[big.events["tz_offset_minutes"].notna()]
    # Offsets change on quarter hours only: check each (country, quarter hour, offset) once.
    checks = pd.DataFrame(
        {
            "country": ev["lead_id"].map(big.truth.set_index("lead_id")["country"]),
            "time": ev["timestamp"].dt.floor("15min"),
            "offset": ev["tz_offset_minutes"],
        }
    ).drop_duplicates()
    ok = np.zeros(len(checks), dtype=bool)
    for code in checks["country"].unique():
        rows = np.flatnonzero(checks["country"].to_numpy() == code)
        times = pd.DatetimeIndex(checks["time"].iloc[rows])
        for zone in pytz.country_timezones[code]:
            local = times.tz_convert(zone).tz_localize(None)
            offset = (local - times.tz_localize(None)).total_seconds() / 60
            ok[rows] |= offset.to_numpy() == checks["offset"].to_numpy()[rows]
    assert ok.all()
    # Missing for about 30 % of leads, present or missing for all client events of a lead
    # (server-side invoice_paid events never carry it).
    client = big.events[big.events["event"] != "invoice_paid"]
    has = client["tz_offset_minutes"].notna().groupby(client["lead_id"]).agg(["any", "all"])
    assert (has["any"] == has["all"]).all()
    assert has["any"].mean() == pytest.approx(0.70, abs=0.01)


def test_arrivals_follow_local_weekly_and_daily_curves(big: DemoEvents) -> None:
    local = big.truth["first_visit_local"]
    weekend = local.dt.day_of_week >= 5
    assert weekend.mean() < 0.7 * 2 / 7
    hour = local.dt.hour.value_counts(normalize=True)
    assert hour.loc[10:16].mean() > 3 * hour.loc[1:5].mean()
    start = pd.Timestamp("2026-01-05")
    assert local.min() >= start and local.max() < start + pd.Timedelta(days=60)


# --- files ---------------------------------------------------------------------------------------


def test_write_demo_events_jsonl(tmp_path: Path) -> None:
    paths = write_demo_events(tmp_path / "demo", leads=3000, new_leads=600, seed=8)
    assert sorted(paths) == [
        "crm", "dictionary", "events", "manifest", "new_crm", "new_events", "outcomes", "truth",
    ]  # fmt: skip
    assert all(p.exists() for p in paths.values())
    manifest = json.loads(paths["manifest"].read_text())
    malformed = manifest["malformed"]
    assert sum(malformed.values()) >= 5 and all(v >= 1 for v in malformed.values())

    lines = paths["events"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == manifest["lines"] == manifest["events"] + sum(malformed.values())
    records, broken = [], 0
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            broken += 1
    assert broken == malformed["broken_json"]
    frame = pd.DataFrame(records)
    no_lead = frame["lead_id"].isna()
    bad_time = frame["timestamp"].eq("yesterday-ish")
    assert no_lead.sum() == malformed["missing_lead_id"]
    assert bad_time.sum() == malformed["unreadable_timestamp"]
    clean = frame[~no_lead & ~bad_time]
    assert clean["event_id"].duplicated().sum() == malformed["duplicate_event"]
    clean = clean.drop_duplicates("event_id")
    assert list(clean.columns) == list(EVENT_COLUMNS)
    assert clean["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()

    # Without the malformed lines the file holds exactly the generated events.
    expected = generate_events(3000, seed=8).events
    assert clean["event_id"].tolist() == expected["event_id"].tolist()
    parsed = pd.to_datetime(clean["timestamp"], utc=True).dt.as_unit("ns")
    assert (parsed.to_numpy() == expected["timestamp"].to_numpy()).all()
    for column in ("lead_id", "event", "url", "referrer", "user_agent", "ip", "utm_source"):
        written = clean[column].fillna("~").to_numpy()
        generated = expected[column].astype(object).fillna("~").to_numpy()
        assert (written == generated).all(), column
    assert np.allclose(
        clean["tz_offset_minutes"].astype(float), expected["tz_offset_minutes"], equal_nan=True
    )

    outcomes = pd.read_csv(paths["outcomes"])
    assert len(outcomes) == 3000 and set(outcomes["converted"]) == {"yes", "no"}
    assert outcomes["outcome_at"].str.endswith("Z").all()
    new = pd.read_json(paths["new_events"], lines=True, dtype={"lead_id": str})
    assert len(new) == manifest["new_events"]
    assert not new["event"].isin(POST_OUTCOME_EVENTS).any()
    assert not new["url"].str.contains("/app/", na=False).any()
    assert set(new["lead_id"]).isdisjoint(set(outcomes["lead_id"]))
    assert new["lead_id"].nunique() == 600
    assert not set(new["event_id"]) & set(clean["event_id"])
    assert pd.to_datetime(new["timestamp"]).min() >= pd.Timestamp("2026-03-06", tz="UTC") - (
        pd.Timedelta(hours=14)
    )
    truth = pd.read_csv(paths["truth"])
    assert len(truth) == 3600 and truth["lead_id"].is_unique


def test_write_demo_events_parquet_and_clean(tmp_path: Path) -> None:
    paths = write_demo_events(tmp_path, leads=800, new_leads=100, fmt="parquet")
    assert paths["events"].suffix == ".parquet"
    events = pd.read_parquet(paths["events"])
    expected = generate_events(800, seed=42).events
    pd.testing.assert_frame_equal(events, expected.astype({c: "str" for c in EVENT_COLUMNS[3:12]}))
    assert json.loads(paths["manifest"].read_text())["malformed_total"] == 0
    clean = write_demo_events(tmp_path / "clean", leads=800, new_leads=100, messy=False)
    assert sum(1 for _ in clean["events"].open()) == len(expected)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"leads": 0}, "leads"),
        ({"leads": 2.5}, "leads"),
        ({"days": 0}, "days"),
        ({"seed": -1}, "seed"),
        ({"start": "not a date"}, "start"),
        ({"positive_rate": 1.0}, "positive_rate"),
        ({"post_outcome_events": "yes"}, "post_outcome_events"),
    ],
)
def test_bad_arguments_raise_data_error(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(DataError, match=name):
        generate_events(**{"leads": 10, **kwargs})  # type: ignore[arg-type]


def test_bad_write_arguments(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="new_leads"):
        write_demo_events(tmp_path, leads=10, new_leads=0)
    with pytest.raises(DataError, match="fmt"):
        write_demo_events(tmp_path, leads=10, fmt="csv")
    with pytest.raises(DataError, match="messy"):
        write_demo_events(tmp_path, leads=10, messy=1)  # type: ignore[arg-type]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="directory"):
        write_demo_events(blocker, leads=10)
