"""The monitoring report's reads asked of the database (store/score_reads.py, read through
monitor/data.py) give exactly what the pandas path over every score gave: the same rows in
the same order, on SQLite and PostgreSQL, with the cases that trip a "last score before
the outcome" query up. The report's column reads (``judged_scores``, ``period_scores``,
``cohort_leads``: packed on PostgreSQL) give the same rows as the row reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import case, select

from leadscore.config import Business
from leadscore.monitor.cohorts import cohorts, lead_cohorts
from leadscore.monitor.data import (
    cohort_frames,
    cohort_leads,
    judged_frame,
    judged_scores,
    leads_frame,
    outcomes_frame,
    period_frame,
    period_scores,
    scores_frame,
)
from leadscore.monitor.estimate import estimated_over_time
from leadscore.monitor.exploration import leads_performance, population_performance
from leadscore.monitor.performance import MATCHED_COLUMNS, match_outcomes
from leadscore.monitor.performance import over_time as realised_over_time
from leadscore.monitor.report import build_report
from leadscore.store import NewScore, Store
from leadscore.store.packing import MISSING_INT, packed_columns
from leadscore.store.tables import Outcome, Score

#: a Monday noon, so the weeks of the period split inside it
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
END = T0 + timedelta(days=20)
START = T0 + timedelta(days=6)


def _score(
    store: Store, lead_id: str, at: datetime, p: float, explore: bool = False, chance: float = 1.0
) -> None:
    segment = "hot" if p > 0.5 else "cold"
    explored = explore and p <= 0.3  # below the cut-off, contacted by exploration
    new = NewScore(lead_id, "1", p, round(100 * p), segment, p > 0.3 or explored, scored_at=at,
                   explored=explored, propensity=chance)  # fmt: skip
    with store.scores.scoring([lead_id]) as writer:
        writer.add([new])


@pytest.fixture
def store(db_url: str) -> Store:
    """A small store with every awkward case of matching outcomes with scores."""
    store = Store(db_url)
    hours = [T0 + timedelta(hours=h) for h in range(0, 24 * 30, 7)]
    # ordinary leads: scored every few days, some with an outcome after their last score
    for i in range(30):
        lead = f"N{i:02d}"
        for k in range(4):
            when = hours[(i * 5 + k * 17) % len(hours)] - timedelta(days=2)
            _score(store, lead, when, (i * 7 + k * 3) % 97 / 100, k % 2 == 1, 0.5 + k / 10)
        if i % 2:
            _ = store.outcomes.add(lead, i % 4 == 1, END - timedelta(days=i % 9), contacted=None)
    # an outcome at the very instant of a score: the score before it counts, not that one
    _score(store, "SAME", T0 + timedelta(days=7), 0.2)
    _score(store, "SAME", T0 + timedelta(days=9), 0.8)
    store.outcomes.add("SAME", True, T0 + timedelta(days=9))
    # scored again after its outcome (in the period): the score before the outcome counts
    _score(store, "AFTER", T0 + timedelta(days=8), 0.4)
    store.outcomes.add("AFTER", False, T0 + timedelta(days=10), contacted=True)
    _score(store, "AFTER", T0 + timedelta(days=12), 0.9)
    # its outcome before the period and scored in it only after: left out of the period's
    _score(store, "EARLY", T0 + timedelta(days=1), 0.35)
    store.outcomes.add("EARLY", True, T0 + timedelta(days=2))
    _score(store, "EARLY", T0 + timedelta(days=11), 0.7)
    # no score at all, an outcome nonetheless
    store.outcomes.add("NONE", True, T0 + timedelta(days=5))
    store.leads.upsert("QUIET", {"source": "fair"})
    # several outcomes: the latest recorded counts, even when it occurred earlier
    _score(store, "MANY", T0 + timedelta(days=7), 0.6)
    store.outcomes.add("MANY", True, T0 + timedelta(days=15))
    store.outcomes.add("MANY", False, T0 + timedelta(days=13), contacted=False)
    # two scores at one instant: the one stored later is the latest
    _score(store, "TIE", T0 + timedelta(days=14), 0.1)
    _score(store, "TIE", T0 + timedelta(days=14), 0.65)
    store.outcomes.add("TIE", True, T0 + timedelta(days=16))
    # scored after the report's end: only a period ending now may use the latest scores
    _score(store, "LATE", T0 + timedelta(days=8), 0.5)
    _score(store, "LATE", END + timedelta(days=1), 0.95)
    store.leads.backdate(
        {f"N{i:02d}": T0 - timedelta(days=3 * i) for i in range(30)}
        | {"SAME": T0 + timedelta(days=6), "AFTER": T0}
    )
    return store


def _window(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    every = scores_frame(store, until=end)
    return every.loc[every["scored_at"] >= pd.Timestamp(start)]


@pytest.mark.parametrize("end", [END, END + timedelta(days=5)], ids=["past", "reaching-now"])
def test_each_outcome_meets_the_same_score_as_in_pandas(store: Store, end: datetime) -> None:
    expected = match_outcomes(scores_frame(store, until=end), outcomes_frame(store))
    read = judged_frame(store, end)
    assert_frame_equal(read[list(MATCHED_COLUMNS)], expected)
    by_lead = read.set_index("lead_id")
    assert by_lead.loc["SAME", "score_100"] == 20  # not the score at the outcome's instant
    assert by_lead.loc["AFTER", "score_100"] == 40  # not the one given after it
    assert by_lead.loc["MANY", "converted"] == 0  # the latest recorded outcome
    assert by_lead.loc["TIE", "score_100"] == 65  # of two at one instant, the later stored
    assert "NONE" not in by_lead.index
    columns = ["converted", "score", "score_100", "contact", "scored_at"]
    assert_frame_equal(judged_scores(store, end), read[columns])


@pytest.mark.parametrize("end", [END, END + timedelta(days=5)], ids=["past", "reaching-now"])
def test_the_periods_leads_are_read_as_pandas_found_them(store: Store, end: datetime) -> None:
    start = end - timedelta(days=14)
    window = _window(store, start, end)
    read = period_frame(store, start, end)
    expected = window.drop_duplicates("lead_id", keep="last").reset_index(drop=True)
    assert_frame_equal(read[list(expected.columns)], expected)
    reads = store.scores.reads
    assert reads.score_count(start, end) == len(window)
    assert reads.period_leads(start, end) == sorted(window["lead_id"].unique())
    # the report's one pass over the period: its leads' last scores, by model version
    cuts = [T0 + timedelta(days=d) for d in (7, 14, 21) if start < T0 + timedelta(days=d) < end]
    period = period_scores(store, start, end, cuts, version="1")
    assert_frame_equal(period.latest[["score", "contact"]], expected[["score", "contact"]])
    assert period.latest["own"].all()
    assert not period_scores(store, start, end, cuts, version="2").latest["own"].any()
    # the leads the corrected estimate weighs: each at its last score there strictly before
    # its latest outcome (EARLY's outcome came before its only score in the period)
    outcomes = outcomes_frame(store).set_index("lead_id")
    joined = window.join(outcomes, on="lead_id")
    known = joined.loc[~(joined["scored_at"] >= joined["occurred_at"])]  # no outcome: NaT
    want = known.drop_duplicates("lead_id", keep="last").reset_index(drop=True)
    want = want.assign(converted=want["converted"].astype(float))
    columns = ["score", "contact", "explored", "propensity", "converted", "contacted"]
    assert_frame_equal(period.before, want[columns], check_dtype=False)
    assert "EARLY" not in set(want["lead_id"]) and "EARLY" in set(expected["lead_id"])
    business = Business()
    old, old_notes = population_performance(window, outcomes_frame(store), business)
    new, new_notes = leads_performance(period.before, business)
    assert new == old and new_notes == old_notes


@pytest.mark.parametrize("end", [END, END + timedelta(days=5)], ids=["past", "reaching-now"])
def test_the_periods_last_scores_are_each_leads_last_of_its_week(
    store: Store, end: datetime
) -> None:
    start = end - timedelta(days=14)
    window = _window(store, start, end)
    period = pd.Series(window["scored_at"].dt.tz_convert(None).dt.to_period("W"))
    firsts = sorted(period.unique())
    cuts = [p.start_time.tz_localize("UTC").to_pydatetime() for p in firsts[1:]]
    expected = (
        window.assign(period=period.map({p: i for i, p in enumerate(firsts)}))
        .drop_duplicates(["lead_id", "period"], keep="last")
        .reset_index(drop=True)
    )
    last = period_scores(store, start, end, cuts).last
    assert len(firsts) > 1
    assert_frame_equal(last, expected[["period", "score", "contact"]].astype({"period": "int64"}))


@pytest.mark.parametrize("end", [END, END + timedelta(days=5)], ids=["past", "reaching-now"])
def test_cohorts_from_a_row_per_lead_equal_those_from_every_score(
    store: Store, end: datetime
) -> None:
    expected = cohorts(leads_frame(store), scores_frame(store, until=end), outcomes_frame(store))
    assert_frame_equal(cohorts(*cohort_frames(store, end)), expected)
    # the report's: one row per lead with no more columns than the table reads
    assert_frame_equal(lead_cohorts(cohort_leads(store, end)), expected)
    monthly = cohorts(leads_frame(store), scores_frame(store, until=end), outcomes_frame(store),
                      freq="month")  # fmt: skip
    assert_frame_equal(lead_cohorts(cohort_leads(store, end), freq="month"), monthly)


@pytest.mark.parametrize("freq", ["week", "month"])
def test_the_report_gives_the_numbers_of_the_pandas_path(store: Store, freq: str) -> None:
    business = Business()
    start, end = START, END
    report = build_report(store, None, business, start=start, end=end, freq=freq)
    window = _window(store, start, end)
    outcomes = outcomes_frame(store)
    estimated = estimated_over_time(window, business, freq=freq)
    actual = realised_over_time(window, outcomes, freq=freq)
    expected = estimated.merge(
        actual[["period", "n", "converted", "rate", "auc"]].rename(
            columns={"n": "with_outcome", "rate": "realised_rate", "auc": "realised_auc"}
        ),
        on="period",
        how="left",
    )
    assert len(expected) > (1 if freq != "month" else 0)
    assert_frame_equal(report.over_time, expected)
    assert report.scores == len(window)
    assert report.leads == window["lead_id"].nunique()
    latest = window.drop_duplicates("lead_id", keep="last")
    assert report.estimated is not None and report.estimated.n == len(latest)
    assert report.estimated.expected_rate == latest["score"].mean()


def test_packed_columns_read_every_kind_and_missing_value_alike(store: Store) -> None:
    s, o = Score.__table__.c, Outcome.__table__.c
    flags = {f"flag{i}": (s.score_100 + i, "flag") for i in range(9)}  # two words of flags
    columns = {
        "id": (s.id, "int"),
        "score": (s.score, "float"),
        "propensity": (case((s.score > 0.5, None), else_=s.propensity), "float"),
        "scored_at": (s.scored_at, "time"),
        "missing_time": (case((s.score > 0.5, None), else_=s.scored_at), "time"),
        "contact": (s.contact, "flag"),
        "nothing": (case((s.score > 0.5, None), else_=s.contact), "flag"),
        **flags,
    }
    with store.db.engine.connect() as conn:
        by_database = packed_columns(conn, columns, order_by=[s.scored_at, s.id])
        by_numpy = packed_columns(conn, columns, sort_by=["scored_at", "id"])
        nothing = select(o.id, o.occurred_at).where(o.id < 0).subquery()
        empty = packed_columns(
            conn, {"id": (nothing.c.id, "int"), "at": (nothing.c.occurred_at, "time")}, ["id"]
        )
    expected = scores_frame(store).reset_index(drop=True)
    for found in (by_database, by_numpy):
        assert found["score"].tolist() == expected["score"].tolist()
        micros = expected["scored_at"].astype("int64") // 1000
        assert found["scored_at"].tolist() == micros.tolist()
        high = expected["score"].to_numpy() > 0.5
        assert np.isnan(found["propensity"][high]).all()
        assert found["propensity"][~high].tolist() == expected["propensity"][~high].tolist()
        assert (found["missing_time"][high] == MISSING_INT).all()
        assert found["missing_time"][~high].tolist() == micros[~high].tolist()
        assert found["contact"].tolist() == expected["contact"].astype(int).tolist()
        assert (found["nothing"][high] == -1).all()
        assert found["flag8"].tolist() == (expected["score_100"] + 8).tolist()
    assert {k: v.tolist() for k, v in empty.items()} == {"id": [], "at": []}
