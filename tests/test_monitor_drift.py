"""Input drift by the population stability index (monitor/drift.py): the formula on hand
examples, planted drift in one column of the demo leads found and named, no alert between
two samples of the same population, and the edges (unseen levels, missing values, bad
input, JSON)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from leadscore.demo import generate_leads
from leadscore.monitor.drift import EPSILON, DriftReport, drift_report, psi

ROWS = 3000


@pytest.fixture(scope="module")
def windows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two samples of the same demo population (different seeds): no drift planted."""
    return generate_leads(ROWS, seed=1).table, generate_leads(ROWS, seed=2).table


def _by_hand(reference: list[float], current: list[float]) -> float:
    return sum(
        (max(c, EPSILON) - max(r, EPSILON)) * math.log(max(c, EPSILON) / max(r, EPSILON))
        for r, c in zip(reference, current, strict=True)
    )


def _only_alert(report: DriftReport, column: str) -> None:
    """``column`` is the one alert, above 0.25; every other compared column is stable."""
    assert [f.feature for f in report.alerts] == [column]
    assert report.alerts[0].psi > 0.25
    others = {f.feature: f.psi for f in report.features if f.feature != column}
    assert others, "no other column was compared"
    assert all(value < 0.1 for value in others.values()), others


# ----------------------------------------------------------------------------- the formula


def test_identical_samples_have_no_drift(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, _ = windows
    for column in ("visits", "time_on_site_s", "source", "returned_same_day"):
        assert psi(reference[column], reference[column].copy()) == pytest.approx(0.0, abs=1e-12)


def test_two_levels_match_the_formula() -> None:
    reference = pd.Series(["a"] * 5 + ["b"] * 5)
    current = pd.Series(["a"] * 8 + ["b"] * 2)
    expected = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert psi(reference, current) == pytest.approx(expected, rel=1e-12)
    assert psi(reference, current) == pytest.approx(0.41589, abs=1e-5)


def test_two_numeric_values_are_two_bins() -> None:
    """A column with few distinct values is binned by its values."""
    reference = pd.Series([0, 0, 0, 1] * 25)
    current = pd.Series([0, 1, 1, 1] * 25)
    assert psi(reference, current) == pytest.approx(_by_hand([0.75, 0.25], [0.25, 0.75]))


def test_numeric_bins_are_the_references_quantiles() -> None:
    """Ten equal bins on 0–99; the current window puts everything in the top two."""
    reference = pd.Series(np.arange(100, dtype=float))
    current = pd.Series(np.r_[np.full(25, 85.0), np.full(25, 95.0)])
    expected = _by_hand([0.1] * 10, [0.0] * 8 + [0.5, 0.5])
    assert psi(reference, current) == pytest.approx(expected, rel=1e-9)


def test_values_beyond_the_references_range_land_in_the_end_bins() -> None:
    reference = pd.Series(np.arange(100, dtype=float))
    far = pd.Series(np.full(100, 10_000.0))
    near = pd.Series(np.full(100, 99.0))
    assert psi(reference, far) == pytest.approx(psi(reference, near))
    assert psi(reference, far) == pytest.approx(_by_hand([0.1] * 10, [0.0] * 9 + [1.0]))


def test_unseen_levels_are_pooled_and_missing_values_have_their_own_bin() -> None:
    reference = pd.Series(["a", "b"] * 50)
    current = pd.Series(["a"] * 40 + ["b"] * 40 + ["c"] * 5 + ["d"] * 5 + [None] * 10)
    expected = _by_hand([0.5, 0.5, 0.0, 0.0], [0.4, 0.4, 0.1, 0.1])
    assert psi(reference, current) == pytest.approx(expected, rel=1e-9)
    report = drift_report(reference.to_frame("source"), current.to_frame("source"))
    assert report.features[0].moved in {"(missing): 0.0 % → 10.0 %", "(other): 0.0 % → 10.0 %"}
    assert report.features[0].status == "drift"


def test_missing_numbers_have_their_own_bin() -> None:
    reference = pd.Series([1.0, 2.0] * 45 + [np.nan] * 10)
    current = pd.Series([1.0, 2.0] * 35 + [np.nan] * 30)
    expected = _by_hand([0.45, 0.45, 0.1], [0.35, 0.35, 0.3])
    assert psi(reference, current) == pytest.approx(expected, rel=1e-9)
    report = drift_report(reference.to_frame("visits"), current.to_frame("visits"))
    assert report.features[0].kind == "numeric"
    assert report.features[0].moved == "(missing): 10.0 % → 30.0 %"


def test_booleans_are_levels() -> None:
    reference = pd.Series([True] * 50 + [False] * 50)
    current = pd.Series([True] * 90 + [False] * 10)
    report = drift_report(reference.to_frame("newsletter"), current.to_frame("newsletter"))
    assert report.features[0].kind == "categorical"
    assert report.features[0].psi == pytest.approx(_by_hand([0.5, 0.5], [0.9, 0.1]))


# ----------------------------------------------------------------------------- the demo leads


def test_a_shifted_number_is_named_and_nothing_else(
    windows: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = windows
    current = current.assign(time_on_site_s=current["time_on_site_s"] * 3)
    report = drift_report(reference, current)
    _only_alert(report, "time_on_site_s")
    row = report.to_frame().iloc[0]
    assert (row["feature"], row["kind"], row["status"]) == ("time_on_site_s", "numeric", "drift")


def test_reshuffled_levels_are_named_and_nothing_else(
    windows: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = windows
    levels = current["source"].value_counts().index.tolist()
    shuffled = dict(zip(levels, levels[::-1], strict=True))
    current = current.assign(source=current["source"].map(shuffled))
    report = drift_report(reference, current)
    _only_alert(report, "source")
    moved = report.alerts[0].moved
    assert moved.startswith(f"{levels[0]}: ") or moved.startswith(f"{levels[-1]}: ")


def test_two_samples_of_one_population_raise_no_alert(
    windows: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = windows
    report = drift_report(reference, current)
    assert report.alerts == ()
    assert {f.feature for f in report.features} >= {"visits", "source", "country", "device"}
    assert all(f.status == "stable" for f in report.features), report.to_frame()
    assert report.skipped["created_at"] == "date: not compared"
    assert report.skipped["lead_id"].startswith("identifier")


def test_the_score_is_compared_apart_from_the_features(
    windows: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = windows
    rng = np.random.default_rng(3)
    same = drift_report(
        reference,
        current,
        reference_scores=pd.Series(rng.beta(2, 8, ROWS)),
        current_scores=pd.Series(rng.beta(2, 8, ROWS)),
    )
    assert same.score is not None and same.score.status == "stable"
    higher = drift_report(
        reference,
        current,
        reference_scores=pd.Series(rng.beta(2, 8, ROWS)),
        current_scores=pd.Series(rng.beta(4, 6, ROWS)),
    )
    assert higher.score is not None and higher.score.status == "drift"
    assert higher.alerts == ()  # the score is not a feature
    assert drift_report(reference, current).score is None


def test_statuses_follow_the_thresholds() -> None:
    reference = pd.DataFrame({"x": ["a"] * 5 + ["b"] * 5})
    current = pd.DataFrame({"x": ["a"] * 8 + ["b"] * 2})  # PSI 0.416
    assert drift_report(reference, current).features[0].status == "drift"
    assert drift_report(reference, current, alert=0.5).features[0].status == "watch"
    assert drift_report(reference, current, watch=0.45, alert=0.5).features[0].status == "stable"


def test_the_frame_is_sorted_worst_first(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = windows
    report = drift_report(reference, current.assign(visits=current["visits"] + 5))
    frame = report.to_frame()
    assert frame.columns.tolist() == ["feature", "kind", "psi", "status", "moved"]
    assert frame["psi"].is_monotonic_decreasing
    assert frame["feature"].iloc[0] == "visits"
    assert len(frame) == len(report.features)


# ----------------------------------------------------------------------------- edges


def test_columns_in_one_window_only_are_skipped_not_refused() -> None:
    reference = pd.DataFrame({"a": [1, 2, 3], "old": ["x", "y", "x"]})
    current = pd.DataFrame({"a": [1, 2, 3], "new": [0.1, 0.2, 0.3]})
    report = drift_report(reference, current)
    assert [f.feature for f in report.features] == ["a"]
    assert report.skipped == {
        "old": "only in the reference window",
        "new": "only in the current window",
    }


def test_empty_windows_are_refused() -> None:
    leads = pd.DataFrame({"visits": [1, 2]})
    with pytest.raises(ValueError, match="no leads in the current window"):
        drift_report(leads, leads.iloc[:0])
    with pytest.raises(ValueError, match="no leads in the reference window"):
        drift_report(leads.iloc[:0], leads)
    with pytest.raises(ValueError, match="current is empty"):
        psi(leads["visits"], pd.Series([], dtype=float))


def test_bad_arguments_are_named() -> None:
    leads = pd.DataFrame({"visits": [1, 2, 3]})
    with pytest.raises(ValueError, match="watch < alert"):
        drift_report(leads, leads, watch=0.3, alert=0.2)
    with pytest.raises(ValueError, match="bins"):
        psi(leads["visits"], leads["visits"], bins=1)
    with pytest.raises(ValueError, match="both reference_scores and current_scores"):
        drift_report(leads, leads, reference_scores=pd.Series([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="current_scores must hold probabilities"):
        drift_report(
            leads,
            leads,
            reference_scores=pd.Series([0.1, 0.2, 0.3]),
            current_scores=pd.Series([0.1, 2.0, 0.3]),
        )
    with pytest.raises(ValueError, match="reference must be a pandas Series"):
        psi([1, 2, 3], leads["visits"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="holds dates"):
        psi(pd.Series(pd.to_datetime(["2026-01-01"])), pd.Series(pd.to_datetime(["2026-01-02"])))


def test_the_dict_is_plain_json(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = windows
    report = drift_report(
        reference,
        current.assign(device=current["device"].where(current["device"] != "mobile")),
        reference_scores=pd.Series(np.linspace(0, 1, ROWS)),
        current_scores=pd.Series(np.linspace(0, 0.5, ROWS)),
    )
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["alerts"] == ["device"]
    assert data["score"]["status"] == "drift"
    assert {row["feature"] for row in data["features"]} == {f.feature for f in report.features}
    assert all(isinstance(row["psi"], float) for row in data["features"])
    assert data["current_rows"] == ROWS and data["skipped"]["created_at"] == "date: not compared"
