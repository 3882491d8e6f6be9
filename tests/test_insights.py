"""Tests for conversion analytics (leadscore.explain.conversion), the ideal customer
(leadscore.explain.ideal), their numbers (leadscore.explain.insights) and the insights page
(leadscore.reporting.insights, ``leadscore insights``).

The analytics tables are checked against counts and rates computed independently with plain
pandas on the public X Education leads (skipped when ``../shared/datasets`` is absent) and
their Wilson intervals against SciPy and the textbook formula.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.stats import binomtest
from typer.testing import CliRunner

from leadscore import LeadModel
from leadscore.cli import app
from leadscore.demo import DemoLeads
from leadscore.errors import DataError, SchemaError
from leadscore.explain.conversion import (
    COLUMNS,
    MAX_HALF_WIDTH,
    MISSING,
    OTHER,
    conversion_by_bins,
    conversion_by_level,
    conversion_tables,
)
from leadscore.explain.drivers import explain_sample, global_drivers
from leadscore.explain.ideal import (
    ideal_profile,
    lead_deviations,
    segment_profiles,
    typical_value,
)
from leadscore.explain.insights import compute_insights, load_for_insights
from leadscore.explain.rates import wilson_interval
from leadscore.reporting.insights import write_insights

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "xeducation"
LEADS_CSV = DATA / "Leads.csv"
NOT_FEATURES = ["lead_id", "converted", "sales_status"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Z95 = 1.959963984540054

needs_xeducation = pytest.mark.skipif(
    not LEADS_CSV.is_file(), reason=f"{LEADS_CSV} not present (../shared)"
)
runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def _valid_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    Image.open(io.BytesIO(data)).verify()  # checks the chunks and their CRCs
    return Image.open(io.BytesIO(data)).size


# ============================================================================= analytics


@pytest.fixture(scope="module")
def xeducation() -> pd.DataFrame:
    if not LEADS_CSV.is_file():
        pytest.skip(f"{LEADS_CSV} not present (../shared)")
    return pd.read_csv(LEADS_CSV)


def _by_pandas(values: pd.Series, y: pd.Series) -> pd.DataFrame:
    """Leads, converted and rate per level, the plain pandas way (NaN as "(missing)")."""
    frame = pd.DataFrame({"level": values.fillna(MISSING).astype(str), "y": y})
    grouped = frame.groupby("level")["y"].agg(leads="size", converted="sum", rate="mean")
    grouped["share"] = grouped["leads"] / len(frame)
    return grouped


@needs_xeducation
@pytest.mark.parametrize(
    "column",
    ["Lead Source", "Country", "Lead Origin", "What is your current occupation", "Do Not Email",
     "City"],
)  # fmt: skip
def test_conversion_by_level_matches_pandas(xeducation: pd.DataFrame, column: str) -> None:
    y = xeducation["Converted"]
    table = conversion_by_level(xeducation[column], y)
    expected = _by_pandas(xeducation[column], y)

    assert list(table.columns) == list(COLUMNS)
    assert sorted(table["level"]) == sorted(expected.index)
    mine = table.set_index("level").loc[expected.index]
    np.testing.assert_array_equal(mine["leads"], expected["leads"])
    np.testing.assert_array_equal(mine["converted"], expected["converted"])
    np.testing.assert_allclose(mine["rate"], expected["rate"], rtol=1e-12)
    np.testing.assert_allclose(mine["share"], expected["share"], rtol=1e-12)
    np.testing.assert_allclose(mine["lift"], expected["rate"] / y.mean(), rtol=1e-12)
    assert table["leads"].sum() == len(xeducation) == 9240
    # most leads first, ties by level
    keys = list(zip(-table["leads"], table["level"], strict=True))
    assert keys == sorted(keys)


@needs_xeducation
def test_conversion_by_level_known_figures(xeducation: pd.DataFrame) -> None:
    """A few numbers read off the raw file by hand (spellings are kept apart)."""
    table = conversion_by_level(xeducation["Lead Source"], xeducation["Converted"])
    rows = table.set_index("level")
    assert rows.loc["Google", "leads"] == 2868
    assert rows.loc["google", "leads"] == 5  # another level than "Google"
    assert rows.loc[MISSING, "leads"] == 36
    assert table["level"].iloc[0] == "Google"
    welingak = xeducation[xeducation["Lead Source"] == "Welingak Website"]["Converted"]
    assert rows.loc["Welingak Website", "rate"] == pytest.approx(welingak.mean())
    assert rows.loc["Welingak Website", "rate"] > 0.9


@needs_xeducation
def test_conversion_by_level_caps_levels_into_other(xeducation: pd.DataFrame) -> None:
    y = xeducation["Converted"]
    table = conversion_by_level(xeducation["Country"], y, max_levels=5)
    assert len(table) == 6 and table["level"].iloc[-1] == OTHER
    counts = xeducation["Country"].fillna(MISSING).value_counts()
    kept = list(counts.index[:5])
    assert list(table["level"].iloc[:5]) == kept
    rest = ~xeducation["Country"].fillna(MISSING).isin(kept)
    other = table.iloc[-1]
    assert other["leads"] == rest.sum() == 9240 - counts.iloc[:5].sum()
    assert other["converted"] == y[rest].sum()
    assert other["rate"] == pytest.approx(y[rest].mean())


def _range_of(level: str) -> tuple[float, float]:
    """``"1,303 – 2,272"`` → (1303, 2272); ``"0"`` → (0, 0)."""
    parts = [float(p.replace(",", "")) for p in level.split(" – ")]
    return parts[0], parts[-1]


@needs_xeducation
@pytest.mark.parametrize("column", ["TotalVisits", "Total Time Spent on Website"])
def test_conversion_by_bins_matches_pandas(xeducation: pd.DataFrame, column: str) -> None:
    """Each row names the smallest and largest value in its range (whole numbers here), so
    the leads of a row are exactly those between the two, counted with pandas."""
    values, y = xeducation[column], xeducation["Converted"]
    table = conversion_by_bins(values, y, bins=8)
    assert list(table.columns) == list(COLUMNS)
    assert table["leads"].sum() == len(values)
    ranges = table[table["level"] != MISSING]
    bounds = [_range_of(level) for level in ranges["level"]]
    lows, highs = zip(*bounds, strict=True)
    assert all(low <= high for low, high in bounds)
    assert all(h < nxt for h, nxt in zip(highs, lows[1:], strict=False))  # ordered, disjoint
    assert lows[0] == values.min() and highs[-1] == values.max()
    for (low, high), row in zip(bounds, ranges.itertuples(), strict=True):
        inside = values.between(low, high)
        assert row.leads == inside.sum(), row.level
        assert row.converted == y[inside].sum(), row.level
        assert row.rate == pytest.approx(y[inside].mean(), rel=1e-12)
        assert row.share == pytest.approx(inside.mean(), rel=1e-12)
    missing = values.isna()
    if missing.any():
        last = table.iloc[-1]
        assert last["level"] == MISSING and last["leads"] == missing.sum()
        assert last["rate"] == pytest.approx(y[missing].mean())
    else:
        assert MISSING not in set(table["level"])
    # a quarter of the leads have 0: zero gets a row of its own, as documented
    assert (values == 0).mean() > 1 / 8
    assert table["level"].iloc[0] == "0"
    assert table["leads"].iloc[0] == (values == 0).sum()


@needs_xeducation
def test_wilson_intervals_match_scipy_and_the_formula(xeducation: pd.DataFrame) -> None:
    table = conversion_by_level(xeducation["Lead Source"], xeducation["Converted"])
    for row in table.itertuples():
        ci = binomtest(int(row.converted), int(row.leads)).proportion_ci(0.95, method="wilson")
        assert row.ci_low == pytest.approx(ci.low, abs=1e-12), row.level
        assert row.ci_high == pytest.approx(ci.high, abs=1e-12), row.level
        assert row.ci_low - 1e-12 <= row.rate <= row.ci_high + 1e-12
    for level in ("Google", "Welingak Website", "Facebook"):
        k, n = table.set_index("level").loc[level, ["converted", "leads"]]
        p = k / n
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
        low, high = table.set_index("level").loc[level, ["ci_low", "ci_high"]]
        assert low == pytest.approx(centre - half, abs=1e-12)
        assert high == pytest.approx(centre + half, abs=1e-12)
    # a level that never converted still has an honest upper bound: 1 − (1 / (1 + z²/n))
    google = table.set_index("level").loc["google"]
    assert google["rate"] == 0 and google["ci_low"] == pytest.approx(0, abs=1e-12)
    assert google["ci_high"] == pytest.approx(Z95**2 / (5 + Z95**2))


@pytest.mark.parametrize("n", [5, 10, 1000])
def test_wilson_interval_contains_a_zero_rate(n: int) -> None:
    low, high = wilson_interval(0, n)
    assert low == 0.0 < high


def test_wilson_interval_other_confidence_and_empty_groups() -> None:
    low, high = wilson_interval([3, 0], [10, 0], confidence=0.9)
    ci = binomtest(3, 10).proportion_ci(0.9, method="wilson")
    assert (low[0], high[0]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert np.isnan(low[1]) and np.isnan(high[1])
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.0)


@needs_xeducation
@pytest.mark.parametrize("min_leads", [30, 200])
def test_small_levels_are_flagged(xeducation: pd.DataFrame, min_leads: int) -> None:
    table = conversion_by_level(
        xeducation["Lead Source"], xeducation["Converted"], min_leads=min_leads
    )
    half_width = (table["ci_high"] - table["ci_low"]) / 2
    expected = (table["leads"] < min_leads) | (half_width > MAX_HALF_WIDTH)
    np.testing.assert_array_equal(table["too_small"], expected)
    assert table.loc[table["leads"] < min_leads, "too_small"].all()
    assert not table.loc[table["leads"] >= 1000, "too_small"].any()
    small = set(table.loc[table["too_small"], "level"])
    if min_leads == 30:
        assert small == set(table.loc[table["leads"] < 30, "level"])
        assert "Facebook" not in small  # 55 leads
    else:
        assert {"Facebook", "Welingak Website", "Referral Sites"} <= small


@needs_xeducation
def test_conversion_tables_cover_every_kind(xeducation: pd.DataFrame) -> None:
    kinds = {"Lead Source": "categorical", "TotalVisits": "numeric", "Prospect ID": "id"}
    tables = conversion_tables(xeducation, xeducation["Converted"], kinds)
    assert list(tables) == ["Lead Source", "TotalVisits"]
    assert tables["Lead Source"].attrs == {"field": "Lead Source", "kind": "categorical"}
    assert tables["TotalVisits"].attrs == {"field": "TotalVisits", "kind": "numeric"}
    pd.testing.assert_frame_equal(
        tables["TotalVisits"],
        conversion_by_bins(xeducation["TotalVisits"], xeducation["Converted"]),
        check_like=False,
    )


def test_conversion_by_bins_small_and_odd_inputs() -> None:
    values = pd.Series([1, 1, 2, 2, 2, 3, None, np.inf, "x"])
    table = conversion_by_bins(values, [1, 0, 1, 1, 0, 0, 1, 0, 0], bins=5, min_leads=1)
    assert table["level"].tolist() == ["1", "2", "3", MISSING]  # one row per value
    assert table["leads"].tolist() == [2, 3, 1, 3]  # inf and text count as missing
    assert table["converted"].tolist() == [1, 2, 0, 1]
    with pytest.raises(DataError):
        conversion_by_level(pd.Series(["a", "b"]), [1, 2])
    with pytest.raises(DataError):
        conversion_by_level(pd.Series(["a", "b"]), [1])


# ============================================================================= ideal customer


def test_ideal_profile_is_the_typical_converted_top_scorer() -> None:
    rng = np.random.default_rng(3)
    n = 200
    frame = pd.DataFrame(
        {
            "source": rng.choice(["a", "b", "c", None], n),
            "time": rng.exponential(300, n).round(),
            "created": pd.date_range("2026-01-01", periods=n, freq="h"),
            "note": rng.choice(["x", "y"], n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "time"] = np.nan
    y = (rng.random(n) < 0.3).astype(int)
    scores = rng.random(n)
    kinds = {"source": "categorical", "time": "numeric", "created": "datetime"}
    ideal = ideal_profile(frame, y, scores, kinds, top_share=0.25)
    assert list(ideal) == ["source", "time"]  # dates and fields without a kind are skipped

    converted = frame[y == 1].assign(score=scores[y == 1])
    top = converted.sort_values("score", ascending=False).head(math.ceil(0.25 * (y == 1).sum()))
    counts = top["source"].value_counts()
    assert ideal["source"] == min(counts.index[counts == counts.max()])
    assert ideal["time"] == pytest.approx(top["time"].median())  # NaN ignored

    everyone = ideal_profile(frame, y, scores, kinds, top_share=1.0)
    assert everyone["time"] == pytest.approx(frame.loc[y == 1, "time"].median())
    best_only = ideal_profile(frame, y, scores, kinds, top_share=1e-9)  # at least one lead
    best = frame.iloc[int(np.flatnonzero(y == 1)[np.argmax(scores[y == 1])])]
    assert best_only["time"] == (None if pd.isna(best["time"]) else best["time"])
    assert best_only["source"] == (None if pd.isna(best["source"]) else best["source"])


def test_typical_value_ties_and_empty_fields() -> None:
    assert typical_value(pd.Series(["b", "a", "b", "a", None]), "categorical") == "a"
    assert typical_value(pd.Series([None, None], dtype=object), "categorical") is None
    assert typical_value(pd.Series([1.0, 4.0, np.nan]), "numeric") == 2.5


def test_ideal_profile_refuses_bad_input() -> None:
    frame = pd.DataFrame({"a": ["x", "y"]})
    with pytest.raises(DataError, match="no lead converted"):
        ideal_profile(frame, [0, 0], [0.1, 0.2], {"a": "categorical"})
    with pytest.raises(DataError, match="scores"):
        ideal_profile(frame, [0, 1], [0.1], {"a": "categorical"})
    with pytest.raises(DataError):
        ideal_profile(frame, [0, 2], [0.1, 0.2], {"a": "categorical"})


@pytest.fixture(scope="module")
def model(demo_leads: DemoLeads) -> LeadModel:
    table = demo_leads.table
    X = table.drop(columns=NOT_FEATURES)
    return LeadModel("logreg_l2", cv=2).fit(X, table["converted"], id_column="lead_id")


@pytest.fixture(scope="module")
def typed(model: LeadModel, demo_leads: DemoLeads) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """The model's inputs as the model reads them ("Select" is missing), outcome, kinds."""
    features = model.schema_.conform(demo_leads.table)
    y = (demo_leads.table["converted"] == "yes").astype(int).to_numpy()
    kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    return features, y, kinds


@pytest.fixture(scope="module")
def ideal(model: LeadModel, typed) -> dict:
    features, y, kinds = typed
    return ideal_profile(features, y, model.predict_proba(features)[:, 1], kinds)


def test_ideal_customer_of_the_demo_has_the_planted_traits(ideal: dict) -> None:
    assert ideal["returned_same_day"] == "yes"
    assert ideal["device"] == "desktop"
    assert ideal["time_on_site_s"] > 600  # planted: the longer the better
    assert "created_at" not in ideal


def _ideal_lead(features: pd.DataFrame, ideal: dict) -> pd.DataFrame:
    lead = features.head(1).reset_index(drop=True).copy()
    for field, value in ideal.items():
        lead[field] = [value]
    return lead


@pytest.mark.parametrize(
    ("field", "value"),
    [("source", "facebook"), ("time_on_site_s", 30.0), ("device", "smart_tv"),
     ("returned_same_day", "no")],
)  # fmt: skip
def test_one_difference_from_the_ideal_costs_what_the_model_says(
    model: LeadModel, typed, ideal: dict, field: str, value: object
) -> None:
    features, _, _ = typed
    perfect = _ideal_lead(features, ideal)
    assert lead_deviations(model, perfect, ideal).empty
    lead = perfect.assign(**{field: value})
    deviations = lead_deviations(model, lead, ideal)
    assert list(deviations.columns) == ["field", "value", "ideal", "cost_points"]
    assert deviations["field"].tolist() == [field]
    row = deviations.iloc[0]
    assert row["value"] == value and row["ideal"] == ideal[field]
    p = model.predict_proba(pd.concat([perfect, lead], ignore_index=True))[:, 1]
    assert row["cost_points"] == pytest.approx(100 * (p[0] - p[1]), abs=1e-9)
    assert row["cost_points"] > 1  # every one of these is a planted handicap


def test_deviations_list_missing_values_and_sort_by_cost(
    model: LeadModel, typed, ideal: dict
) -> None:
    features, _, _ = typed
    lead = _ideal_lead(features, ideal).assign(
        time_on_site_s=np.nan, returned_same_day="no", newsletter="yes"
    )
    deviations = lead_deviations(model, lead, ideal)
    assert set(deviations["field"]) == {"time_on_site_s", "returned_same_day", "newsletter"}
    assert pd.isna(deviations.set_index("field").at["time_on_site_s", "value"])
    assert (np.diff(deviations["cost_points"]) <= 0).all()
    for row in deviations.itertuples():
        fixed = lead.assign(**{row.field: ideal[row.field]})
        expected = 100 * (model.predict_proba(fixed)[0, 1] - model.predict_proba(lead)[0, 1])
        assert row.cost_points == pytest.approx(expected, abs=1e-9)
    with pytest.raises(DataError, match="one-row"):
        lead_deviations(model, pd.concat([lead, lead]), ideal)


def test_a_missing_value_deviates_as_none(model: LeadModel, typed, ideal: dict) -> None:
    features, _, _ = typed
    lead = _ideal_lead(features, ideal).assign(time_on_site_s=np.nan, returned_same_day="no")
    deviations = lead_deviations(model, lead, ideal).set_index("field")
    assert deviations.at["time_on_site_s", "value"] is None


def test_segment_profiles_compare_hot_warm_cold_with_the_ideal(
    model: LeadModel, typed, ideal: dict
) -> None:
    features, _, kinds = typed
    segments = model.score_leads(features)["segment"]
    profiles = segment_profiles(features, segments, ideal, kinds)
    assert list(profiles.columns) == [
        "segment", "leads", "field", "ideal", "typical", "match_share", "distance_from_ideal",
    ]  # fmt: skip
    assert list(dict.fromkeys(profiles["segment"])) == ["hot", "warm", "cold"]
    sizes = profiles.groupby("segment", sort=False)["leads"].first()
    assert sizes.to_dict() == segments.value_counts().to_dict()
    assert profiles.groupby("segment").size().eq(len(ideal)).all()
    distance = profiles.groupby("segment", sort=False)["distance_from_ideal"].first()
    mean_match = profiles.groupby("segment", sort=False)["match_share"].mean()
    np.testing.assert_allclose(distance, 1 - mean_match, rtol=1e-12)
    assert distance["hot"] < distance["warm"] < distance["cold"]
    rows = profiles.set_index(["segment", "field"])
    for segment in ("hot", "cold"):
        inside = features[(segments == segment).to_numpy()]
        share = (inside["device"] == ideal["device"]).mean()
        assert rows.at[(segment, "device"), "match_share"] == pytest.approx(share)
        counts = inside["source"].value_counts()
        assert rows.at[(segment, "source"), "typical"] == min(counts.index[counts == counts.max()])
        median = inside["time_on_site_s"].median()
        assert rows.at[(segment, "time_on_site_s"), "typical"] == pytest.approx(median)


# ============================================================================= insights


@pytest.fixture(scope="module")
def written(
    model: LeadModel, demo_leads: DemoLeads, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, dict, object]:
    _, table = load_for_insights(model, demo_leads.table)
    _, explained = explain_sample(model, table.features, sample=500)
    drivers = global_drivers(explained)
    paths = write_insights(model, table, tmp_path_factory.mktemp("insights"), drivers=drivers)
    return paths, compute_insights(model, table), table


def test_load_for_insights_prepares_the_models_inputs(
    model: LeadModel, demo_leads: DemoLeads
) -> None:
    _, table = load_for_insights(model, demo_leads.table)
    assert list(table.features.columns) == model.schema_.names
    np.testing.assert_array_equal(table.y, (demo_leads.table["converted"] == "yes").astype(int))
    assert table.features["industry"].isna().sum() > 0.15 * len(table.features)  # "Select"
    assert "sales_status" not in table.features


def test_insights_writes_html_json_and_pngs(written) -> None:
    paths, numbers, _ = written
    out = paths["html"].parent
    assert paths["html"] == out / "insights.html" and paths["json"] == out / "insights.json"
    pngs = {key: path for key, path in paths.items() if key not in ("html", "json")}
    assert "drivers" in pngs and len(pngs) >= 8
    assert sorted(p.name for p in out.glob("*.png")) == sorted(p.name for p in pngs.values())
    for path in pngs.values():
        width, height = _valid_png(path.read_bytes())
        assert width >= 400 and height >= 250
    content = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert content["figures"] == {key: path.name for key, path in pngs.items()}
    assert numbers["leads"] == content["leads"] == 1500


def test_insights_json_numbers_equal_compute_insights(written) -> None:
    paths, numbers, _ = written
    content = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert content["overall_rate"] == pytest.approx(numbers["overall_rate"], rel=1e-15)
    assert content["converted"] == numbers["converted"]
    assert content["findings"] == numbers["findings"]
    assert content["fields_ranked"] == numbers["ranked"]
    assert content["segments"] == numbers["segments"]
    assert set(content["conversion_tables"]) == set(numbers["tables"])
    for name, table in numbers["tables"].items():
        records = pd.DataFrame(content["conversion_tables"][name])
        assert list(records.columns) == list(COLUMNS)
        assert records["level"].tolist() == table["level"].tolist()
        for column in ("leads", "converted", "too_small"):
            assert records[column].tolist() == table[column].tolist(), (name, column)
        for column in ("share", "rate", "ci_low", "ci_high", "lift"):
            np.testing.assert_allclose(records[column].astype(float), table[column], rtol=1e-15)
        assert content["table_kinds"][name] == table.attrs["kind"]
    assert list(content["ideal_profile"]) == list(numbers["ideal_profile"])
    for field, value in numbers["ideal_profile"].items():
        expected = pytest.approx(value) if isinstance(value, float) else value
        assert content["ideal_profile"][field] == expected, field
    assert len(content["segment_profiles"]) == len(numbers["segment_profiles"])
    drivers = pd.DataFrame(content["drivers"])
    assert drivers["field"].iloc[0] == "time_on_site_s"


def test_insights_tables_match_the_analytics_functions(written, demo_leads: DemoLeads) -> None:
    _, numbers, table = written
    y = (demo_leads.table["converted"] == "yes").astype(int)
    source = numbers["tables"]["source"]
    pd.testing.assert_frame_equal(
        source.reset_index(drop=True), conversion_by_level(table.features["source"], y)
    )
    expected = _by_pandas(table.features["device"], y)
    device = numbers["tables"]["device"].set_index("level").loc[expected.index]
    np.testing.assert_array_equal(device["leads"], expected["leads"])
    np.testing.assert_allclose(device["rate"], expected["rate"])
    assert {"created_at (weekday)", "created_at (hour)", "time_on_site_s"} <= set(numbers["tables"])


def test_insights_html_embeds_figures_and_names_the_findings(written) -> None:
    paths, numbers, _ = written
    page = paths["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    pngs = [p for key, p in paths.items() if key not in ("html", "json")]
    assert len(images) == len(pngs)
    embedded = {base64.b64decode(data) for data in images}
    assert embedded == {p.read_bytes() for p in pngs}
    assert numbers["findings"]
    for sentence in numbers["findings"]:
        assert html.escape(sentence, quote=True) in page
    headings = ["Findings", "The ideal customer", "What drives the score", "Conversion by field"]
    for heading in headings:
        assert f"<h2>{heading}</h2>" in page
    assert "Time on site (s)" in page and "Returned same day" in page
    assert "<script" not in page


def test_insights_refuse_a_missing_input_column(model: LeadModel, demo_leads: DemoLeads) -> None:
    with pytest.raises(SchemaError, match="'device'"):
        load_for_insights(model, demo_leads.table.drop(columns=["device"]))
    _, table = load_for_insights(model, demo_leads.table)
    without = dataclasses.replace(table, features=table.features.drop(columns=["source"]))
    with pytest.raises(SchemaError, match="'source'"):
        compute_insights(model, without)


def test_insights_refuse_unlabelled_leads(
    model: LeadModel, demo_leads: DemoLeads, tmp_path: Path
) -> None:
    _, table = load_for_insights(model, demo_leads.table)
    unlabelled = dataclasses.replace(table, y=None)
    with pytest.raises(DataError, match="labelled"):
        write_insights(model, unlabelled, tmp_path / "out")
    assert not (tmp_path / "out" / "insights.html").exists()
    # a file without the outcome column cannot even be read as labelled leads
    with pytest.raises(SchemaError, match="target"):
        load_for_insights(model, demo_leads.table.drop(columns=["converted"]))


def test_cli_insights(model: LeadModel, demo_leads: DemoLeads, tmp_path: Path) -> None:
    model_dir = model.save(tmp_path / "model")
    data = tmp_path / "leads.csv"
    demo_leads.table.to_csv(data, index=False)
    out = tmp_path / "insights"
    result = runner.invoke(app, ["insights", str(model_dir), str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    content = json.loads((out / "insights.json").read_text(encoding="utf-8"))
    files = {p.name for p in out.iterdir()}
    assert {"insights.html", "insights.json", "drivers.png", "beeswarm.png"} <= files
    assert set(content["figures"].values()) == {f for f in files if f.endswith(".png")}
    for name in files - {"insights.html", "insights.json"}:
        _valid_png((out / name).read_bytes())
    assert f"• {content['findings'][0]}" in result.output
    assert "What moves the score" in result.output
    assert "time_on_site_s" in result.output

    unlabelled = tmp_path / "new.csv"
    demo_leads.table.drop(columns=["converted"]).to_csv(unlabelled, index=False)
    failed = runner.invoke(app, ["insights", str(model_dir), str(unlabelled), "--out", str(out)])
    assert failed.exit_code == 2
    assert "target" in failed.output and "Traceback" not in failed.output


def test_training_records_the_global_drivers_the_dashboard_shows(demo_leads) -> None:
    from leadscore.config import Settings
    from leadscore.lifecycle.train import train
    from leadscore.ui.model_insights import insights as dashboard_insights

    table = demo_leads.table
    model = train(
        table, model="lightgbm", cv=2, track=False, show_progress=False, target="converted",
        id="lead_id",
    )  # fmt: skip
    drivers = model.drivers_
    assert list(drivers["field"][:2]) == ["time_on_site_s", "returned_same_day"]
    assert set(drivers["field"]) == set(model.schema_.names)
    from leadscore.explain import drivers as explain_drivers

    computed: list[object] = []
    original = explain_drivers.global_drivers

    def counted(*args: object, **kwargs: object) -> object:
        computed.append(args)
        return original(*args, **kwargs)

    explain_drivers.global_drivers = counted  # type: ignore[assignment]
    try:
        shown = dashboard_insights(model, table, Settings(tracking=False), "converted")
    finally:
        explain_drivers.global_drivers = original  # type: ignore[assignment]
    # read, not recomputed on the page's first visit; the held-out AUC drop beside them
    assert computed == []
    pd.testing.assert_frame_equal(shown["drivers"][list(drivers.columns)], drivers)
    assert shown["drivers"]["auc_drop"].notna().all()
