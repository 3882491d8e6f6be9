"""Real data: 14 days of raw web events of an e-commerce site (``puffy_events``).

Skipped when ``../shared/datasets`` is absent. Every expectation is checked against an
independent computation with plain pandas on the raw CSV files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leadscore.data.events import EventLoad, load_events
from leadscore.features.table import LeadTableResult, build_lead_table
from leadscore.features.traffic import classify_traffic

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "puffy_events"
LEAD_EVENT = "email_filled_on_popup"
CONVERSION = "checkout_completed"
NO_REFERRER_FROM = pd.Timestamp("2025-03-04")

pytestmark = pytest.mark.skipif(
    not (DATA.is_dir() and any(DATA.glob("events_*.csv"))), reason=f"{DATA} not present (../shared)"
)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """Every row of every file, as text, with the file and its line number."""
    parts = []
    for path in sorted(DATA.glob("events_*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        frame = frame.rename(columns={"clientId": "client_id"})
        frame["file"] = str(path)
        frame["line"] = frame.index + 2
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    out["ts"] = pd.to_datetime(out["timestamp"], utc=True).dt.tz_localize(None)
    return out


@pytest.fixture(scope="module")
def usable(raw: pd.DataFrame) -> pd.DataFrame:
    """Rows with a client id, without repeated rows."""
    data_columns = [c for c in raw.columns if c not in ("file", "line")]
    return raw[raw["client_id"].notna()].drop_duplicates(subset=data_columns)


@pytest.fixture(scope="module")
def loaded() -> EventLoad:
    return load_events(DATA)


@pytest.fixture(scope="module")
def leads(loaded: EventLoad) -> LeadTableResult:
    return build_lead_table(loaded, lead_event=LEAD_EVENT, conversion_event=CONVERSION)


@pytest.fixture(scope="module")
def expected(usable: pd.DataFrame) -> pd.DataFrame:
    """Per lead, worked out with pandas: when it became a lead, its first checkout after
    that, and how many of its events came strictly before it."""
    became = usable[usable["event_name"] == LEAD_EVENT].groupby("client_id")["ts"].min()
    checkouts = usable[usable["event_name"] == CONVERSION][["client_id", "ts"]]
    checkouts = checkouts[checkouts["client_id"].isin(became.index)]
    checkouts = checkouts[checkouts["ts"] >= checkouts["client_id"].map(became)]
    converted_at = checkouts.groupby("client_id")["ts"].min()
    own = usable[usable["client_id"].isin(became.index)]
    limit = own["client_id"].map(converted_at)
    before = own[limit.isna() | (own["ts"] < limit)].groupby("client_id").size()
    out = pd.DataFrame({"lead_at": became})
    out["converted_at"] = converted_at
    out["events"] = before
    return out


# ----------------------------------------------------------------------------- loading


def test_reads_the_folder_as_it_is(loaded: EventLoad, raw: pd.DataFrame) -> None:
    assert len(loaded.files) == 14
    assert Path(loaded.files[0]).name == "events_20250223.csv"
    # nothing is silently dropped
    assert len(loaded.events) + len(loaded.quarantine) + loaded.duplicates == len(raw)
    assert len(raw) == 49_963


def test_renamed_id_column(loaded: EventLoad, usable: pd.DataFrame) -> None:
    per_day = loaded.events.groupby(loaded.events["timestamp"].dt.date).size()
    assert len(per_day) == 14  # the days after the rename to clientId have events too
    expected = usable.groupby(usable["ts"].dt.date).size()
    assert per_day.tolist() == expected.tolist()
    assert loaded.events["lead_id"].nunique() == usable["client_id"].nunique() == 35_273


def test_events_without_a_client_id_are_set_aside(loaded: EventLoad, raw: pd.DataFrame) -> None:
    q = loaded.quarantine
    missing = raw[raw["client_id"].isna()]
    assert len(q) == len(missing)
    assert 2_850 <= len(q) <= 2_950  # about 2,908
    assert set(q["reason"]) == {"no lead id"}
    assert loaded.counts["quarantined: no lead id"] == len(missing)
    # the same file and line as pandas finds them
    got = sorted(zip(q["file"], q["line"].astype(int), strict=True))
    assert got == sorted(zip(missing["file"], missing["line"], strict=True))
    assert f"{len(missing):,} no lead id" in loaded.summary()


def test_the_duplicate_row_is_removed(loaded: EventLoad, raw: pd.DataFrame) -> None:
    with_id = raw[raw["client_id"].notna()].drop(columns=["file", "line"])
    repeated = int(with_id.duplicated().sum())
    assert repeated >= 1
    assert loaded.duplicates == repeated
    assert "duplicates removed" in loaded.summary()


def test_referrer_is_missing_from_the_fourth_of_march(loaded: EventLoad) -> None:
    events = loaded.events
    late = (events["timestamp"] >= NO_REFERRER_FROM).to_numpy()
    assert late.any() and (~late).any()
    assert events["referrer"][late].isna().all()  # not recorded: unknown
    assert events["referrer"][~late].notna().all()  # recorded ("" when empty)
    assert (events["referrer"][~late] == "").any()


# ----------------------------------------------------------------------------- the lead table


def test_leads_and_conversions(leads: LeadTableResult, expected: pd.DataFrame) -> None:
    table = leads.table
    assert 540 <= len(table) <= 560  # about 549
    assert table["lead_id"].is_unique
    assert set(table["lead_id"]) == set(expected.index)
    rate = (table["converted"] == "yes").mean()
    assert 0.07 <= rate <= 0.09  # about 8 %
    converted = set(table.loc[table["converted"] == "yes", "lead_id"])
    assert converted == set(expected.index[expected["converted_at"].notna()])


def test_no_event_at_or_after_the_conversion_is_used(
    leads: LeadTableResult, expected: pd.DataFrame
) -> None:
    table = leads.table.set_index("lead_id")
    counts = table["events"].astype(int)
    wanted = expected["events"].reindex(counts.index)
    assert wanted.notna().all()
    converted = expected.index[expected["converted_at"].notna()]
    assert (counts[converted] == wanted[converted]).all()
    assert (counts == wanted).all()


def test_the_conversion_event_is_no_feature(leads: LeadTableResult) -> None:
    table = leads.table
    if "checkout_completed_count" in table.columns:
        assert (table["checkout_completed_count"].fillna(0) == 0).all()
    journeys = [c for c in table.columns if c.startswith("journey: ")]
    assert not any(CONVERSION in c for c in journeys)


def test_recency_features_are_left_out(leads: LeadTableResult) -> None:
    for column in ("events_last_7d", "days_since_last_event", "events_per_day"):
        assert column not in leads.table.columns


def test_devices_come_from_user_agents(leads: LeadTableResult) -> None:
    devices = set(leads.table["device_type"].dropna())
    assert {"mobile", "desktop"} <= devices
    assert leads.table["device_type"].notna().mean() > 0.95


def test_referrer_less_days_give_unknown_traffic(leads: LeadTableResult) -> None:
    table = leads.table
    late = table["first_seen"] >= NO_REFERRER_FROM
    assert late.any() and (~late).any()
    assert not (table.loc[late, "first_touch_medium"] == "direct").any()
    assert (table.loc[late, "first_touch_source"] == "unknown").any()
    assert not (table.loc[~late, "first_touch_source"] == "unknown").any()
    assert (table.loc[~late, "first_touch_source"] == "direct").any()


def test_referrer_less_events_are_never_direct(loaded: EventLoad) -> None:
    events = loaded.events
    late = events[events["timestamp"] >= NO_REFERRER_FROM]
    touches = classify_traffic(
        late["referrer"], late["url"], late["utm_source"], late["utm_medium"]
    )
    assert "direct" not in set(touches["source"])
    assert "unknown" in set(touches["source"])
