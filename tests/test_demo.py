"""Tests for the seeded demo lead generator (leadscore.demo.leads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.demo import (
    FEATURE_COLUMNS,
    TABLE_COLUMNS,
    DemoLeads,
    generate_leads,
    write_demo,
)
from leadscore.errors import DataError

BIG = 100_000


@pytest.fixture(scope="module")
def big() -> DemoLeads:
    """100k labelled leads with the default seed (shared: generating them takes ~0.2 s)."""
    return generate_leads(BIG)


@pytest.fixture(scope="module")
def big_converted(big: DemoLeads) -> pd.Series:
    return big.table["converted"].eq("yes")


def _rates(demo: DemoLeads, column: str) -> pd.Series:
    table = demo.table
    return table["converted"].eq("yes").groupby(table[column]).mean()


# --- determinism and shape ------------------------------------------------------------------


def test_same_seed_gives_identical_output() -> None:
    first = generate_leads(2000, seed=3)
    second = generate_leads(2000, seed=3)
    pd.testing.assert_frame_equal(first.table, second.table)
    pd.testing.assert_frame_equal(first.truth, second.truth)


def test_different_seeds_differ() -> None:
    first = generate_leads(2000, seed=3)
    second = generate_leads(2000, seed=4)
    assert not first.table.equals(second.table)
    assert not np.allclose(first.truth["true_probability"], second.truth["true_probability"])


def test_columns_order_and_types() -> None:
    table = generate_leads(3000).table
    assert tuple(table.columns) == TABLE_COLUMNS
    assert table.shape == (3000, 14)
    assert table["created_at"].dtype.kind == "M"
    assert table["created_at"].dt.tz is None
    assert table["visits"].dtype.kind == "i"
    assert (table["visits"] >= 1).all()
    assert (table["pages_per_visit"] >= 1).all()
    assert (table["pages_per_visit"].round(2) == table["pages_per_visit"]).all()
    seconds = table["time_on_site_s"].dropna()
    assert (seconds >= 0).all() and (seconds == seconds.round()).all()
    for column in ("returned_same_day", "newsletter", "converted"):
        assert set(table[column]) == {"yes", "no"}


def test_unlabelled_table_is_labelled_table_without_outcome_columns() -> None:
    labelled = generate_leads(2000, seed=5)
    unlabelled = generate_leads(2000, seed=5, labelled=False)
    assert tuple(unlabelled.table.columns) == FEATURE_COLUMNS
    pd.testing.assert_frame_equal(unlabelled.table, labelled.table[list(FEATURE_COLUMNS)])
    pd.testing.assert_frame_equal(unlabelled.truth, labelled.truth)


def test_ids_unique_padded_and_in_creation_order() -> None:
    table = generate_leads(5000).table
    assert table["lead_id"].is_unique
    assert table["lead_id"].iloc[0] == "L000001"
    assert table["lead_id"].iloc[-1] == "L005000"
    assert table["created_at"].is_monotonic_increasing


def test_id_width_grows_beyond_six_digits() -> None:
    from leadscore.demo.leads import _lead_ids  # the public path needs 1M rows

    ids = _lead_ids(999_999, 3, 7)
    assert ids.tolist() == ["L0999999", "L1000000", "L1000001"]


def test_created_at_spans_period_with_weekday_and_daytime_pattern(big: DemoLeads) -> None:
    created = big.table["created_at"]
    assert created.min() >= pd.Timestamp("2026-01-05")
    assert created.max() < pd.Timestamp("2026-01-05") + pd.Timedelta(days=120)
    weekend_share = (created.dt.day_of_week >= 5).mean()
    assert 0.10 < weekend_share < 2 / 7  # fewer leads per weekend day than per weekday
    hours = created.dt.hour
    assert hours.between(0, 5).mean() < 0.06  # few at night
    assert hours.between(9, 16).mean() > 0.45


def test_category_shares_are_plausible(big: DemoLeads) -> None:
    table = big.table
    source = table["source"].value_counts(normalize=True, dropna=False)
    assert source["google"] == pytest.approx(0.30, abs=0.01)
    assert source["facebook"] == pytest.approx(0.22, abs=0.01)
    assert source["medium"] == pytest.approx(0.01, abs=0.003)
    assert table["source"].isna().mean() == pytest.approx(0.01, abs=0.003)
    assert table["country"].value_counts(normalize=True)["India"] > 0.3
    assert table["country"].isna().mean() == pytest.approx(0.03, abs=0.005)
    assert table["device"].value_counts(normalize=True)["smart_tv"] == pytest.approx(
        0.01, abs=0.003
    )
    assert (table["industry"] == "Select").mean() == pytest.approx(0.20, abs=0.01)
    assert table["industry"].isna().mean() == pytest.approx(0.05, abs=0.005)
    assert table["company_size"].isna().mean() == pytest.approx(0.10, abs=0.01)
    assert table["time_on_site_s"].isna().mean() == pytest.approx(0.01, abs=0.003)
    assert (table["time_on_site_s"] == 0).mean() == pytest.approx(0.05, abs=0.01)
    assert table["visits"].mean() == pytest.approx(3.0, abs=0.1)
    assert table["returned_same_day"].eq("yes").mean() == pytest.approx(0.25, abs=0.02)
    assert set(table["sales_status"].dropna()) == {
        "Closed - won",
        "Contract sent",
        "Lost - no budget",
        "Lost - competitor",
        "Not interested",
        "No answer",
    }
    assert table["sales_status"].isna().mean() == pytest.approx(0.15, abs=0.01)


def test_returning_is_likelier_with_more_visits(big: DemoLeads) -> None:
    table = big.table
    returned = table["returned_same_day"].eq("yes")
    assert not returned[table["visits"] == 1].any()  # returning needs a second visit
    assert returned[table["visits"] >= 5].mean() > returned[table["visits"] == 2].mean()


def test_desktop_sessions_are_longer(big: DemoLeads) -> None:
    medians = big.table.groupby("device")["time_on_site_s"].median()
    assert medians["desktop"] > medians["mobile"]


# --- outcome and planted effects ------------------------------------------------------------


def test_default_positive_rate_is_about_twelve_percent(
    big: DemoLeads, big_converted: pd.Series
) -> None:
    # SE at 100k is 0.001; the intercept itself is calibrated to within ~0.002.
    assert big_converted.mean() == pytest.approx(0.12, abs=0.006)


def test_true_probability_matches_realised_rate(big: DemoLeads, big_converted: pd.Series) -> None:
    truth = big.truth
    assert list(truth.columns) == ["lead_id", "true_probability"]
    assert truth["lead_id"].equals(big.table["lead_id"])
    probability = truth["true_probability"]
    assert ((probability > 0) & (probability < 1)).all()
    assert big_converted.mean() == pytest.approx(probability.mean(), abs=0.005)  # ~5 SE
    # Calibrated per decile too, not only on average.
    decile = pd.qcut(probability, 10, labels=False)
    realised = big_converted.groupby(decile).mean()
    expected = probability.groupby(decile).mean()
    assert np.abs(realised - expected).max() < 0.03


def test_positive_rate_argument_sets_the_expected_rate() -> None:
    demo = generate_leads(50_000, positive_rate=0.01)
    converted = demo.table["converted"].eq("yes")
    assert demo.truth["true_probability"].mean() == pytest.approx(0.01, abs=1e-6)
    assert converted.mean() == pytest.approx(0.01, abs=0.002)  # SE 0.00045


def test_positive_rate_does_not_change_features() -> None:
    default = generate_leads(2000, seed=9)
    rare = generate_leads(2000, seed=9, positive_rate=0.3)
    columns = list(FEATURE_COLUMNS)
    pd.testing.assert_frame_equal(default.table[columns], rare.table[columns])
    assert rare.truth["true_probability"].mean() == pytest.approx(0.3, abs=1e-6)


def test_source_effects_are_recoverable(big: DemoLeads) -> None:
    rates = _rates(big, "source")
    assert rates["medium"] > rates["email"] > rates["google"] > rates["direct"]
    assert rates["direct"] > rates["facebook"]
    assert rates["linkedin"] > rates["direct"]


def test_device_effects_are_recoverable(big: DemoLeads) -> None:
    rates = _rates(big, "device")
    assert rates["desktop"] > rates["tablet"] > rates["mobile"] > rates["smart_tv"]


def test_returned_same_day_effect(big: DemoLeads) -> None:
    rates = _rates(big, "returned_same_day")
    assert rates["yes"] > 2 * rates["no"]


def test_time_on_site_effect_is_monotone(big: DemoLeads, big_converted: pd.Series) -> None:
    bands = pd.cut(big.table["time_on_site_s"], [-1, 0, 60, 300, 1200, np.inf])
    rates = big_converted.groupby(bands, observed=True).mean()
    assert rates.is_monotonic_increasing
    assert rates.iloc[-1] > 10 * rates.iloc[0]  # 0 s vs 20+ min


def test_weekend_and_business_hour_effects(big: DemoLeads, big_converted: pd.Series) -> None:
    created = big.table["created_at"]
    weekend = created.dt.day_of_week >= 5
    assert big_converted[weekend].mean() < big_converted[~weekend].mean() - 0.01
    business = created.dt.hour.between(9, 16)
    assert big_converted[business].mean() > big_converted[~business].mean()


def test_large_companies_convert_more(big: DemoLeads) -> None:
    rates = _rates(big, "company_size")
    assert min(rates["201-1000"], rates["1000+"]) > max(rates["1-10"], rates["11-50"])


def test_noise_columns_have_no_effect(big: DemoLeads, big_converted: pd.Series) -> None:
    newsletter = _rates(big, "newsletter")
    assert abs(newsletter["yes"] - newsletter["no"]) < 0.01
    industry = big_converted.groupby(big.table["industry"].fillna("<missing>")).mean()
    assert industry.max() - industry.min() < 0.02


def test_sales_status_leaks_the_outcome(big: DemoLeads, big_converted: pd.Series) -> None:
    status = big.table["sales_status"].fillna("<empty>")
    order = np.random.default_rng(0).permutation(len(status))
    fit, held_out = order[: len(order) // 2], order[len(order) // 2 :]
    encoding = big_converted.iloc[fit].groupby(status.iloc[fit]).mean()  # per-level rate
    score = status.iloc[held_out].map(encoding)
    auc = roc_auc_score(big_converted.iloc[held_out], score)
    assert 0.9 < auc < 0.99


# --- write_demo -----------------------------------------------------------------------------


def test_write_demo_writes_three_files(tmp_path: Path) -> None:
    paths = write_demo(tmp_path / "demo", rows=800, new_rows=200, seed=11)
    assert set(paths) == {"leads", "new_leads", "truth"}
    assert all(path.is_file() and path.parent == tmp_path / "demo" for path in paths.values())

    leads = pd.read_csv(paths["leads"])
    new_leads = pd.read_csv(paths["new_leads"])
    truth = pd.read_csv(paths["truth"])
    assert tuple(leads.columns) == TABLE_COLUMNS
    assert tuple(new_leads.columns) == FEATURE_COLUMNS
    assert "converted" not in new_leads and "sales_status" not in new_leads
    assert (len(leads), len(new_leads), len(truth)) == (800, 200, 1000)

    assert not set(leads["lead_id"]) & set(new_leads["lead_id"])
    assert new_leads["lead_id"].iloc[0] == "L000801"
    assert truth["lead_id"].tolist() == [*leads["lead_id"], *new_leads["lead_id"]]
    assert truth["true_probability"].between(0, 1, inclusive="neither").all()

    history_end = pd.to_datetime(leads["created_at"]).max()
    assert pd.to_datetime(new_leads["created_at"]).min() > history_end


def test_write_demo_file_format(tmp_path: Path) -> None:
    paths = write_demo(tmp_path, rows=300, new_rows=50)
    lines = paths["leads"].read_text().splitlines()
    first = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert pd.Timestamp(first["created_at"]).strftime("%Y-%m-%d %H:%M:%S") == first["created_at"]
    # Whole seconds are written as integers ("125", not "125.0"); missing values stay empty.
    seconds = [line.split(",")[6] for line in lines[1:]]
    assert all(value == "" or value.isdigit() for value in seconds)


def test_write_demo_matches_generator_and_is_deterministic(tmp_path: Path) -> None:
    first = write_demo(tmp_path / "a", rows=500, new_rows=100, seed=5)
    second = write_demo(tmp_path / "b", rows=500, new_rows=100, seed=5)
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes()
    leads = pd.read_csv(first["leads"], parse_dates=["created_at"])
    expected = generate_leads(500, seed=5).table
    pd.testing.assert_frame_equal(leads, expected, check_dtype=False)
    # The fresh leads use another random stream, so they are not a copy of the history.
    new_leads = pd.read_csv(first["new_leads"])
    assert not np.array_equal(new_leads["visits"], leads["visits"].iloc[:100])


# --- argument validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"rows": 0}, "rows"),
        ({"rows": -5}, "rows"),
        ({"rows": 2.5}, "rows"),
        ({"rows": "100"}, "rows"),
        ({"rows": True}, "rows"),
        ({"days": 0}, "days"),
        ({"days": 1.5}, "days"),
        ({"positive_rate": 0.0}, "positive_rate"),
        ({"positive_rate": 1.0}, "positive_rate"),
        ({"positive_rate": -0.2}, "positive_rate"),
        ({"positive_rate": float("nan")}, "positive_rate"),
        ({"positive_rate": "0.1"}, "positive_rate"),
        ({"seed": -1}, "seed"),
        ({"start": "not a date"}, "start"),
    ],
)
def test_bad_arguments_raise_data_error(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(DataError, match=name) as caught:
        generate_leads(**kwargs)  # type: ignore[arg-type]
    assert repr(next(iter(kwargs.values()))) in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"rows": 0}, "rows"), ({"new_rows": -1}, "new_rows")]
)
def test_write_demo_bad_arguments(tmp_path: Path, kwargs: dict[str, int], name: str) -> None:
    with pytest.raises(DataError, match=name):
        write_demo(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())  # nothing written


def test_write_demo_refuses_a_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "leads.csv"
    target.write_text("x\n")
    with pytest.raises(DataError, match="directory"):
        write_demo(target, rows=10, new_rows=5)


def test_small_inputs_work() -> None:
    demo = generate_leads(1, days=1, start=pd.Timestamp("2026-03-07 15:30"))
    assert demo.table.shape == (1, 14)
    assert demo.table["created_at"].iloc[0].normalize() == pd.Timestamp("2026-03-07")
    assert generate_leads(5, positive_rate=0.5).truth["true_probability"].mean() == pytest.approx(
        0.5
    )
