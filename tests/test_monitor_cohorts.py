"""Cohorts of leads by creation week or month (monitor/cohorts.py), on small frames built
by hand where every number is known: weeks start on Monday, a month boundary splits a
week, the latest score and the latest outcome count, a lead without a creation time is
left out and counted, and the earlier-cohort rate of a lead's score band."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from leadscore.explain.rates import wilson_interval
from leadscore.monitor.cohorts import COLUMNS, cohorts, earlier_cohorts_rate

MODEL = "3"


def _utc(*texts: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(texts), utc=True, format="mixed"))


def _scores(rows: list[tuple[str, float, str, str]]) -> pd.DataFrame:
    """Score rows from ``(lead_id, score, segment, scored_at)``."""
    return pd.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "score": [r[1] for r in rows],
            "score_100": [round(100 * r[1]) for r in rows],
            "segment": [r[2] for r in rows],
            "contact": [r[2] != "cold" for r in rows],
            "scored_at": _utc(*(r[3] for r in rows)),
            "model_version": MODEL,
        }
    )


def _outcomes(rows: list[tuple[str, bool, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "converted": [r[1] for r in rows],
            "occurred_at": _utc(*(r[2] for r in rows)),
        }
    )


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Six leads over March 2026 and the first of April (2 March is a Monday):

    * A (Mon 2 March) scored cold, then hot (latest); lost, then converted 3 days after it
      was created (latest);
    * B (Sun 8 March, the same week as A) warm, no outcome;
    * C (Mon 9 March) hot, lost;
    * D (Tue 31 March) never scored, no outcome; E (Wed 1 April, D's week, the next month)
      cold, converted after 2 days;
    * F has no creation time; X is scored and converted but is not a lead here.
    """
    leads = pd.DataFrame(
        {
            "lead_id": ["A", "B", "C", "D", "E", "F"],
            "created_at": _utc(
                "2026-03-02 10:00",
                "2026-03-08 23:00",
                "2026-03-09 00:00",
                "2026-03-31 08:00",
                "2026-04-01 00:00",
                None,
            ),
        }
    )
    scores = _scores(
        [
            ("A", 0.9, "hot", "2026-03-04 09:00"),
            ("A", 0.2, "cold", "2026-03-02 10:00"),
            ("B", 0.5, "warm", "2026-03-08 23:00"),
            ("C", 0.7, "hot", "2026-03-09 00:00"),
            ("E", 0.1, "cold", "2026-04-01 00:00"),
            ("F", 0.3, "warm", "2026-04-01 00:00"),
            ("X", 0.9, "hot", "2026-03-03 00:00"),
        ]
    )
    outcomes = _outcomes(
        [
            ("A", True, "2026-03-05 10:00"),
            ("A", False, "2026-03-03 10:00"),
            ("C", False, "2026-03-12 00:00"),
            ("E", True, "2026-04-03 00:00"),
            ("X", True, "2026-03-05 00:00"),
        ]
    )
    return leads, scores, outcomes


def _interval(converted: int, leads: int) -> tuple[float, float]:
    low, high = wilson_interval(converted, leads)
    return float(low), float(high)


def _check_row(row: pd.Series, expected: dict[str, object]) -> None:
    for column, value in expected.items():
        got = row[column]
        if isinstance(value, float) and math.isnan(value):
            assert pd.isna(got), (column, got)
        elif isinstance(value, float):
            assert got == pytest.approx(value), (column, got, value)
        else:
            assert got == value, (column, got, value)


def test_weeks_start_on_monday_and_count_every_column(
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    table = cohorts(*frames)
    assert table.columns.tolist() == list(COLUMNS)
    assert [d.isoformat() for d in table["cohort"]] == ["2026-03-02", "2026-03-09", "2026-03-30"]
    one_of_one = _interval(1, 1)
    none_of_one = _interval(0, 1)
    expected = [
        # A and B: A's latest score (0.9 hot) and latest outcome (converted after 3 days)
        {
            "leads": 2, "scored": 2, "mean_score": 0.7, "hot": 0.5, "warm": 0.5, "cold": 0.0,
            "with_outcome": 1, "converted": 1, "conversion": 1.0,
            "conversion_low": one_of_one[0], "conversion_high": one_of_one[1],
            "median_days_to_convert": 3.0,
        },
        {
            "leads": 1, "scored": 1, "mean_score": 0.7, "hot": 1.0, "warm": 0.0, "cold": 0.0,
            "with_outcome": 1, "converted": 0, "conversion": 0.0,
            "conversion_low": none_of_one[0], "conversion_high": none_of_one[1],
            "median_days_to_convert": float("nan"),
        },
        # D (unscored, no outcome) and E: the week across the month boundary
        {
            "leads": 2, "scored": 1, "mean_score": 0.1, "hot": 0.0, "warm": 0.0, "cold": 1.0,
            "with_outcome": 1, "converted": 1, "conversion": 1.0,
            "conversion_low": one_of_one[0], "conversion_high": one_of_one[1],
            "median_days_to_convert": 2.0,
        },
    ]  # fmt: skip
    for position, row in enumerate(expected):
        _check_row(table.iloc[position], row)
    assert table.attrs["without_created_at"] == 1


def test_months_split_at_the_boundary(
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    table = cohorts(*frames, freq="month")
    assert [d.isoformat() for d in table["cohort"]] == ["2026-03-01", "2026-04-01"]
    _check_row(
        table.iloc[0],
        {
            "leads": 4, "scored": 3, "mean_score": 0.7, "hot": 2 / 3, "warm": 1 / 3,
            "cold": 0.0, "with_outcome": 2, "converted": 1, "conversion": 0.5,
            "conversion_low": _interval(1, 2)[0], "conversion_high": _interval(1, 2)[1],
            "median_days_to_convert": 3.0,
        },
    )  # fmt: skip
    _check_row(
        table.iloc[1],
        {"leads": 1, "scored": 1, "mean_score": 0.1, "cold": 1.0, "converted": 1},
    )


def test_a_cohort_without_scores_or_outcomes_has_no_rates() -> None:
    leads = pd.DataFrame({"lead_id": ["A"], "created_at": _utc("2026-03-03")})
    table = cohorts(leads, _scores([]), _outcomes([]))
    row = table.iloc[0]
    assert (row["leads"], row["scored"], row["with_outcome"], row["converted"]) == (1, 0, 0, 0)
    for column in ("mean_score", "hot", "conversion", "conversion_low", "median_days_to_convert"):
        assert pd.isna(row[column]), column


def test_median_days_to_convert_is_the_median_of_the_converted_leads() -> None:
    leads = pd.DataFrame({"lead_id": ["A", "B", "C", "D"], "created_at": _utc(*["2026-03-02"] * 4)})
    outcomes = _outcomes(
        [
            ("A", True, "2026-03-03"),
            ("B", True, "2026-03-05"),
            ("C", True, "2026-03-12"),
            ("D", False, "2026-03-03"),  # lost: its delay does not count
        ]
    )
    table = cohorts(leads, _scores([]), outcomes)
    assert table["median_days_to_convert"].tolist() == [3.0]
    assert table["conversion"].tolist() == [0.75]


def test_no_leads_give_an_empty_table() -> None:
    leads = pd.DataFrame({"lead_id": pd.Series([], dtype=str), "created_at": _utc()})
    table = cohorts(leads, _scores([]), _outcomes([]))
    assert table.empty and table.columns.tolist() == list(COLUMNS)


# ----------------------------------------------------------------------------- earlier rate


@pytest.fixture
def banded() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Week of 2 March: P (30, then 72), Q (75), R (79), S (65), T (78, no outcome);
    week of 9 March: U (71) and the lead compared, V (74); W (100) in the week of 16 March."""
    ids = ["P", "Q", "R", "S", "T", "U", "V", "W"]
    created = ["2026-03-02"] * 5 + ["2026-03-10"] * 2 + ["2026-03-16"]
    leads = pd.DataFrame({"lead_id": ids, "created_at": _utc(*created)})
    rows = [("P", 0.30, "cold", "2026-03-02 00:00"), ("P", 0.72, "hot", "2026-03-03 00:00")]
    rows += [
        (lead, score, "hot", day)
        for lead, score, day in zip(
            ids[1:], [0.75, 0.79, 0.65, 0.78, 0.71, 0.74, 1.0], created[1:], strict=True
        )
    ]
    outcomes = _outcomes(
        [
            ("P", True, "2026-03-06"),
            ("Q", False, "2026-03-06"),
            ("R", True, "2026-03-06"),
            ("S", True, "2026-03-06"),
            ("U", True, "2026-03-12"),
        ]
    )
    return leads, _scores(rows), outcomes


def test_earlier_leads_in_the_same_band_with_an_outcome(
    banded: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    found = earlier_cohorts_rate(*banded, "V")
    assert found is not None
    # P (latest 72), Q, R: not S (65), T (no outcome) or U (V's own week)
    assert (found.band, found.leads, found.converted) == ("70–79", 3, 2)
    assert found.rate == pytest.approx(2 / 3)
    assert found.interval == pytest.approx(_interval(2, 3))
    assert found.text == "Leads scoring 70–79 in earlier weeks converted at 67 % (2 of 3)"


def test_an_earlier_lead_counts_at_its_score_before_its_outcome(
    banded: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    leads, scores, outcomes = banded
    # Q, re-scored at 95 after it was lost, knew its outcome: it still counts at 75
    later = _scores([("Q", 0.95, "hot", "2026-03-08 00:00")])
    found = earlier_cohorts_rate(leads, pd.concat([scores, later]), outcomes, "V")
    assert found is not None and (found.leads, found.converted) == (3, 2)
    # and S, scored 65 before its outcome and 72 after, is not in the 70s
    after = _scores([("S", 0.72, "hot", "2026-03-07 00:00")])
    found = earlier_cohorts_rate(leads, pd.concat([scores, after]), outcomes, "V")
    assert found is not None and (found.leads, found.converted) == (3, 2)


def test_the_band_width_and_the_top_band(
    banded: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    narrow = earlier_cohorts_rate(*banded, "V", width=5)
    assert narrow is not None
    assert (narrow.band, narrow.leads, narrow.converted) == ("70–74", 1, 1)  # P only
    # W scores 100: the top band 90–100, where no earlier lead is
    assert earlier_cohorts_rate(*banded, "W") is None
    leads, scores, outcomes = banded
    scores = scores.assign(score_100=scores["score_100"].where(scores["lead_id"] != "R", 95))
    top = earlier_cohorts_rate(leads, scores, outcomes, "W")
    assert top is not None and (top.band, top.leads, top.converted) == ("90–100", 1, 1)


def test_months_compare_with_earlier_months(
    banded: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    # every lead is created in March: no earlier month
    assert earlier_cohorts_rate(*banded, "V", freq="month") is None


def test_no_answer_for_unknown_unscored_or_first_cohort_leads(
    banded: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    leads, scores, outcomes = banded
    assert earlier_cohorts_rate(leads, scores, outcomes, "nobody") is None
    assert earlier_cohorts_rate(leads, scores, outcomes, "P") is None  # the first week
    unscored = scores.loc[scores["lead_id"] != "V"]
    assert earlier_cohorts_rate(leads, unscored, outcomes, "V") is None


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("frame", "column"),
    [(0, "created_at"), (1, "segment"), (1, "scored_at"), (2, "converted"), (2, "occurred_at")],
)
def test_a_missing_column_is_named(
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], frame: int, column: str
) -> None:
    given = list(frames)
    given[frame] = given[frame].drop(columns=[column])
    with pytest.raises(ValueError, match=f"missing column .{column}."):
        cohorts(*given)
    with pytest.raises(ValueError, match=column):
        earlier_cohorts_rate(*given, "A")


def test_bad_values_are_named(frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    leads, scores, outcomes = frames
    with pytest.raises(ValueError, match="freq"):
        cohorts(leads, scores, outcomes, freq="day")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"outcomes\.converted"):
        cohorts(leads, scores, outcomes.assign(converted=[True, None, False, True, True]))
    with pytest.raises(ValueError, match=r"scores\.scored_at"):
        cohorts(leads, scores.assign(scored_at="yesterday"), outcomes)
    with pytest.raises(ValueError, match="width"):
        earlier_cohorts_rate(leads, scores, outcomes, "A", width=0)


def test_inputs_are_left_unchanged(
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    copies = [frame.copy() for frame in frames]
    cohorts(*frames)
    earlier_cohorts_rate(*frames, "C")
    for before, after in zip(copies, frames, strict=True):
        pd.testing.assert_frame_equal(before, after)
    assert np.issubdtype(cohorts(*frames)["leads"].dtype, np.integer)
