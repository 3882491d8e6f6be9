"""Tests for the per-family preprocessing (leadscore.modeling.preprocess, features.dates)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.features.dates import DateParts, gap_name, part_names
from leadscore.modeling.preprocess import (
    MISSING,
    OTHER,
    CategoryCoder,
    ColumnPlan,
    QuantileBins,
    SkewedLog,
    auto_bins,
    build_preprocessor,
    min_level_count,
    plan_columns,
)

FAMILIES = ("linear", "tree", "native", "catboost", "binned")
N = 600
KINDS = {
    "score": "numeric",
    "visits": "numeric",
    "source": "categorical",
    "city": "categorical",
    "created": "datetime",
}


def _training_frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    score = rng.normal(10, 3, N)
    score[rng.random(N) < 0.1] = np.nan
    visits = rng.geometric(0.2, N).astype(float)  # skewed counts
    # a low-cardinality column with missing values and a level seen only twice
    source = np.array(["google", "facebook", "direct"], dtype=object)[rng.integers(0, 3, N)]
    source[rng.random(N) < 0.05] = None
    source[[7, 400]] = "rare"
    # 30 levels of about 20 leads each: more than 20 frequent levels → target encoding
    city = np.array([f"city{i:02d}" for i in range(30)], dtype=object)[np.arange(N) % 30]
    city = city[rng.permutation(N)]
    city[rng.random(N) < 0.03] = None
    created = pd.Timestamp("2026-01-05") + pd.to_timedelta(
        rng.integers(0, 90 * 86_400, N), unit="s"
    )
    frame = pd.DataFrame(
        {
            "score": score,
            "visits": visits,
            "source": pd.Series(source, dtype="str"),
            "city": pd.Series(city, dtype="str"),
            "created": pd.Series(created).astype("datetime64[ns]"),
        }
    )
    logit = -1 + 0.1 * (score - 10) + (source == "google") + 0.05 * (np.arange(N) % 30 - 15)
    y = (rng.random(N) < 1 / (1 + np.exp(-np.nan_to_num(logit)))).astype(int)
    return frame, y


def _new_frame() -> pd.DataFrame:
    """Rows a model may see at scoring time: unseen levels, all-missing, ordinary."""
    return pd.DataFrame(
        {
            "score": [np.nan, 5.0, 12.0, 10.0],
            "visits": [np.nan, 3.0, 1.0, 40.0],
            "source": pd.array([None, "tiktok", "google", "rare"], dtype="str"),
            "city": pd.array([None, "atlantis", "city03", "city29"], dtype="str"),
            "created": pd.to_datetime([None, "2026-05-01 13:00", "2026-02-01 08:00", None]),
        },
        index=[100, 101, 102, 103],
    )


@pytest.fixture(scope="module")
def training() -> tuple[pd.DataFrame, np.ndarray]:
    return _training_frame()


@pytest.fixture(scope="module")
def plan(training) -> ColumnPlan:
    frame, _ = training
    return plan_columns(frame, KINDS)


# --- plan ------------------------------------------------------------------------------------


def test_plan_columns_splits_by_kind_and_cardinality(plan: ColumnPlan) -> None:
    assert plan.numeric == ["score", "visits"]
    assert plan.dates == ["created"]
    assert plan.low_card == ["source"]
    assert plan.high_card == ["city"]
    assert plan.categorical == ["source", "city"]
    assert plan.numeric_after_dates() == ["score", "visits", *part_names("created")]


def test_many_rare_levels_stay_one_hot() -> None:
    # 40 levels but each seen only 3 times (< min_level_count): few *frequent* levels
    levels = [f"l{i}" for i in range(40)] * 3 + ["common"] * 100
    frame = pd.DataFrame({"c": levels})
    assert min_level_count(len(frame)) == 5
    plan = plan_columns(frame, {"c": "categorical"})
    assert plan.low_card == ["c"] and plan.high_card == []


def test_max_onehot_levels_boundary() -> None:
    frame = pd.DataFrame({"c": [f"l{i}" for i in range(21)] * 5})  # 21 levels × 5 rows
    assert plan_columns(frame, {"c": "categorical"}).high_card == ["c"]
    assert plan_columns(frame, {"c": "categorical"}, max_onehot_levels=21).low_card == ["c"]


@pytest.mark.parametrize(("rows", "expected"), [(10, 5), (1_000, 5), (4_000, 20), (10**6, 50)])
def test_min_level_count(rows: int, expected: int) -> None:
    assert min_level_count(rows) == expected


# --- every family ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_fit_transform_shape_and_missing_values(training, plan: ColumnPlan, family: str) -> None:
    frame, y = training
    out = build_preprocessor(plan, family).fit_transform(frame, y)
    assert isinstance(out, pd.DataFrame)
    assert len(out) == N
    assert out.index.equals(frame.index)
    if family in ("linear", "tree"):
        assert all(out[c].dtype == np.float64 for c in out.columns)
        assert not out.isna().any().any()
        assert "target__city" in out.columns  # high-cardinality: one target-encoded column
        assert "num__missingindicator_score" in out.columns
        assert not any(c.startswith("onehot__city") for c in out.columns)
        onehot = [c for c in out.columns if c.startswith("onehot__source")]
        assert "onehot__source_infrequent_sklearn" in onehot  # "rare" grouped away
        assert "onehot__source_rare" not in onehot
        assert out[onehot].sum(axis=1).eq(1).all()
    elif family == "binned":
        numbers = ["score", "visits", *part_names("created")]
        assert list(out.columns) == [*(f"num__{c}" for c in numbers), "cat__source", "cat__city"]
        assert all(out[c].dtype == np.float64 for c in out.columns)
        codes = out.to_numpy()
        assert not np.isnan(codes).any() and (codes == np.round(codes)).all() and codes.min() == 0
        bins = auto_bins(int(np.bincount(y).min()))  # from the rarer outcome's leads
        # a missing number has its own bin, after the quantile bins
        missing = frame["score"].isna().to_numpy()
        assert set(out["num__score"][missing]) == {bins}
        assert out["num__score"][~missing].max() == bins - 1
        assert len(set(out["num__score"])) == bins + 1
        # every level keeps its own code, rare ones and missing values too: smoothing, not
        # grouping, keeps their evidence small
        levels = sorted({*frame["source"].dropna(), MISSING})
        assert sorted(set(out["cat__source"])) == list(range(len(levels)))
        assert out["cat__source"][frame["source"].isna()].eq(levels.index(MISSING)).all()
        assert out["cat__source"][frame["source"] == "rare"].eq(levels.index("rare")).all()
    else:
        assert list(out.columns) == [
            "score", "visits", "source", "city", *part_names("created"),
        ]  # fmt: skip
        # the booster handles missing numbers itself
        assert out["score"].isna().sum() == frame["score"].isna().sum()
        for column in ("source", "city"):
            assert not out[column].isna().any()
            assert set(out[column]) <= {*frame[column].dropna(), MISSING, OTHER}
        if family == "native":
            assert isinstance(out["source"].dtype, pd.CategoricalDtype)
            # "rare" (2 rows) is below the coder's min_count of 3
            assert "rare" not in out["source"].cat.categories
        else:
            assert out["source"].dtype == object
            assert all(isinstance(v, str) for v in out["city"])
        assert (out["source"] == OTHER).sum() == 2


def test_linear_family_scales_and_logs(training, plan: ColumnPlan) -> None:
    frame, y = training
    out = build_preprocessor(plan, "linear").fit_transform(frame, y)
    for column in ("num__score", "num__visits", "target__city"):
        assert out[column].mean() == pytest.approx(0.0, abs=1e-9)
        assert out[column].std(ddof=0) == pytest.approx(1.0, abs=1e-6)
    tree = build_preprocessor(plan, "tree").fit_transform(frame, y)
    assert tree["num__visits"].tolist() == frame["visits"].tolist()  # untouched for trees
    # the log makes the skewed counts far less skewed for the linear family
    assert abs(out["num__visits"].skew()) < abs(tree["num__visits"].skew()) / 2


@pytest.mark.parametrize("family", FAMILIES)
def test_transform_unseen_and_missing_rows(training, plan: ColumnPlan, family: str) -> None:
    frame, y = training
    prep = build_preprocessor(plan, family).fit(frame, y)
    train_columns = list(prep.transform(frame.head(3)).columns)
    new = _new_frame()
    out = prep.transform(new)
    assert list(out.columns) == train_columns
    assert out.index.tolist() == new.index.tolist()
    if family in ("linear", "tree"):
        assert not out.isna().any().any()
        # unseen and rare levels both fall into the infrequent column
        assert out.loc[101, "onehot__source_infrequent_sklearn"] == 1.0
        assert out.loc[103, "onehot__source_infrequent_sklearn"] == 1.0
        assert out.loc[100, "onehot__source___missing__"] == 1.0
    elif family == "binned":
        assert not out.isna().any().any()
        # an unseen level is −1 (naive Bayes: no information); a missing one has its code
        assert out.loc[101, "cat__source"] == -1 and out.loc[101, "cat__city"] == -1
        assert out.loc[100, "cat__source"] == sorted({*frame["source"].dropna(), MISSING}).index(
            MISSING
        )
        assert out.loc[103, "cat__source"] >= 0  # "rare" was seen in training
        # missing numbers and date parts go to the bin after the quantile bins
        bins = prep.named_steps["encode"].named_transformers_["num"].named_steps["bins"]
        for column, cuts in zip(bins.feature_names_in_, bins.cuts_, strict=True):
            assert out.loc[100, f"num__{column}"] == len(cuts) + 1
        assert out.loc[101, "num__created__hour"] == np.searchsorted(
            bins.cuts_[list(bins.feature_names_in_).index("created__hour")], 13.0, side="right"
        )
    else:
        assert out.loc[101, "source"] == OTHER
        assert out.loc[101, "city"] == OTHER
        assert out.loc[100, "source"] == MISSING and out.loc[100, "city"] == MISSING
        assert out.loc[102, "city"] == "city03"
        assert np.isnan(out.loc[100, "created__hour"])
        assert out.loc[101, "created__hour"] == 13.0


@pytest.mark.parametrize("text_dtype", ["str", object])
@pytest.mark.parametrize("family", FAMILIES)
def test_row_alone_equals_row_in_batch(
    training, plan: ColumnPlan, family: str, text_dtype: object
) -> None:
    """Scoring one lead must give what scoring it among others gives.

    ``object`` is what InputSchema.conform hands over at scoring time; "str" is what
    pandas reads from a file.
    """
    frame, y = training
    prep = build_preprocessor(plan, family).fit(frame, y)
    new = pd.concat([_new_frame(), frame.iloc[:6]])
    new = new.astype({"source": text_dtype, "city": text_dtype})
    bulk = prep.transform(new)
    numeric = [c for c in bulk.columns if pd.api.types.is_numeric_dtype(bulk[c].dtype)]
    other = [c for c in bulk.columns if c not in numeric]
    for i in range(len(new)):
        alone = prep.transform(new.iloc[[i]])
        assert list(alone.columns) == list(bulk.columns)
        np.testing.assert_allclose(
            alone[numeric].to_numpy(dtype=float),
            bulk[numeric].iloc[[i]].to_numpy(dtype=float),
            rtol=1e-12,
            atol=1e-12,
            err_msg=f"{family}: row {i} differs alone vs in batch",
        )
        assert alone[other].astype(str).to_numpy().tolist() == (
            bulk[other].iloc[[i]].astype(str).to_numpy().tolist()
        )
        for column in other:
            assert alone[column].dtype == bulk[column].dtype


def test_transform_is_deterministic(training, plan: ColumnPlan) -> None:
    frame, y = training
    prep = build_preprocessor(plan, "linear").fit(frame, y)
    pd.testing.assert_frame_equal(prep.transform(_new_frame()), prep.transform(_new_frame()))


# --- CategoryCoder -----------------------------------------------------------------------------


def test_category_coder_unseen_missing_and_rare() -> None:
    train = pd.DataFrame({"src": ["a", "a", "a", "b", "b", "c", None], "n": [1, 2, 3, 4, 5, 6, 7]})
    coder = CategoryCoder(["src"], min_count=2).fit(train)
    assert coder.levels_ == {"src": sorted(["a", "b", MISSING, OTHER])}
    new = pd.DataFrame({"src": ["a", "b", "c", "zzz", None], "n": [1, 2, 3, 4, 5]})
    out = coder.transform(new)
    assert out["src"].tolist() == ["a", "b", OTHER, OTHER, MISSING]
    assert list(out["src"].cat.categories) == coder.levels_["src"]
    assert out["n"].dtype == np.float64


def test_category_coder_max_levels_and_string_output() -> None:
    train = pd.DataFrame({"src": ["a"] * 5 + ["b"] * 4 + ["c"] * 3})
    coder = CategoryCoder(["src"], min_count=1, max_levels=2, output="string").fit(train)
    out = coder.transform(pd.DataFrame({"src": pd.Series(["a", "b", "c", None], dtype="str")}))
    assert out["src"].tolist() == ["a", "b", OTHER, MISSING]
    assert all(isinstance(v, str) for v in out["src"])


def test_category_coder_all_missing_input() -> None:
    coder = CategoryCoder(["src"], min_count=1).fit(pd.DataFrame({"src": ["a", "b"]}))
    out = coder.transform(pd.DataFrame({"src": [None, None]}))
    assert out["src"].tolist() == [MISSING, MISSING]


# --- DateParts -----------------------------------------------------------------------------------


def test_date_parts_and_gap() -> None:
    frame = pd.DataFrame(
        {
            "created": pd.to_datetime(["2026-01-03 14:05", "2026-01-05 09:00", None]),
            "called": pd.to_datetime(["2026-01-04 14:05", "2026-01-05 21:00", "2026-03-06 00:00"]),
            "visits": [1, 2, 3],
        }
    )
    parts = DateParts(["created", "called"], reference="created").fit(frame)
    out = parts.transform(frame)
    expected_columns = [
        "visits", *part_names("created"), *part_names("called"), gap_name("called", "created"),
    ]  # fmt: skip
    assert list(out.columns) == expected_columns
    assert list(parts.get_feature_names_out()) == expected_columns
    # 2026-01-03 is a Saturday, 2026-01-05 a Monday, 2026-01-04 a Sunday
    assert out["created__hour"].tolist()[:2] == [14.0, 9.0]
    assert out["created__weekday"].tolist()[:2] == [5.0, 0.0]
    assert out["created__weekend"].tolist()[:2] == [1.0, 0.0]
    assert out["created__month"].tolist()[:2] == [1.0, 1.0]
    assert out.loc[2, part_names("created")].isna().all()  # a missing date gives missing parts
    assert out["called__weekday"].tolist() == [6.0, 0.0, 4.0]
    assert out["called__weekend"].tolist() == [1.0, 0.0, 0.0]
    assert out["called__month"].tolist() == [1.0, 1.0, 3.0]
    gap = out[gap_name("called", "created")]
    assert gap.iloc[0] == pytest.approx(1.0)
    assert gap.iloc[1] == pytest.approx(0.5)
    assert np.isnan(gap.iloc[2])
    assert "created__days_after__created" not in out.columns
    assert all(out[c].dtype == np.float64 for c in out.columns)


def test_date_parts_without_reference_has_no_gap() -> None:
    frame = pd.DataFrame({"created": pd.to_datetime(["2026-07-04 23:59"])})
    out = DateParts(["created"]).fit_transform(frame)
    assert out.iloc[0].to_dict() == {
        "created__hour": 23.0, "created__weekday": 5.0, "created__weekend": 1.0,
        "created__month": 7.0,
    }  # fmt: skip


def test_skewed_log_only_touches_skewed_non_negative_columns() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "counts": rng.geometric(0.05, 500).astype(float) ** 2,
            "normal": rng.normal(0, 1, 500),
            "negative": -(rng.geometric(0.05, 500).astype(float) ** 2),
        }
    )
    log = SkewedLog().fit(frame)
    assert log.log_columns_ == ["counts"]
    out = log.transform(frame)
    np.testing.assert_allclose(out["counts"], np.log1p(frame["counts"]))
    pd.testing.assert_series_equal(out["normal"], frame["normal"])
    pd.testing.assert_series_equal(out["negative"], frame["negative"])


# --- QuantileBins ------------------------------------------------------------------------------


def test_quantile_bins_keep_ties_and_point_masses_apart() -> None:
    """Cuts fall between distinct values: a value with more than a bin's share of the leads
    (zero visits) gets a bin of its own, a 0/1 flag two bins, and no value straddles a cut."""
    rng = np.random.default_rng(3)
    visits = np.concatenate([np.zeros(550), rng.integers(1, 40, 450)]).astype(float)
    flag = (rng.random(1000) < 0.3).astype(float)
    frame = pd.DataFrame({"visits": visits, "flag": flag})
    bins = QuantileBins(n_bins=10).fit(frame)
    codes = bins.transform(frame)
    assert set(codes["visits"][visits == 0]) == {0.0}
    assert (codes["visits"][visits > 0] > 0).all()
    assert codes.groupby(frame["visits"])["visits"].nunique().eq(1).all()  # ties stay together
    assert len(bins.cuts_[0]) <= 9
    assert bins.cuts_[1].tolist() == [0.5]
    assert codes["flag"].tolist() == flag.tolist()


def test_quantile_bins_are_about_equal_and_ignore_skew_and_outliers() -> None:
    rng = np.random.default_rng(4)
    seconds = rng.lognormal(5, 2, 2000)
    seconds[:5] = 1e12  # outliers move no cut
    bins = QuantileBins(n_bins=8).fit(pd.DataFrame({"s": seconds}))
    counts = np.bincount(bins.transform(pd.DataFrame({"s": seconds}))["s"].astype(int))
    assert len(counts) == 8 and counts.min() == 250 and counts.max() == 250
    rank = QuantileBins(n_bins=8).fit(pd.DataFrame({"s": np.log(seconds)}))
    np.testing.assert_allclose(np.log(bins.cuts_[0]), rank.cuts_[0], rtol=1e-6)


def test_quantile_bins_missing_unseen_and_empty_columns() -> None:
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, np.nan], "b": [np.nan] * 5})
    bins = QuantileBins(n_bins=2).fit(train)
    assert bins.cuts_[0].tolist() == [2.5] and bins.cuts_[1].size == 0
    new = pd.DataFrame({"a": [-100.0, 2.5, 1e9, np.nan], "b": [7.0, np.nan, 0.0, 1.0]})
    out = bins.transform(new)
    assert out["a"].tolist() == [0.0, 1.0, 1.0, 2.0]  # below, at a cut, above, missing
    assert out["b"].tolist() == [0.0, 1.0, 0.0, 0.0]  # all-missing column: one bin + missing
    assert list(out.index) == list(new.index)
    with pytest.raises(ValueError, match="at least 2"):
        QuantileBins(n_bins=1).fit(train)


@pytest.mark.parametrize(("fewest", "expected"), [(3, 5), (100, 10), (190, 14), (10**6, 32)])
def test_auto_bins_grow_with_the_square_root_of_the_rarer_outcome(
    fewest: int, expected: int
) -> None:
    assert auto_bins(fewest) == expected
    frame = pd.DataFrame({"x": np.arange(1000.0)})
    converted = min(fewest, 500)  # the rarer outcome of 1,000 rows
    y = (np.arange(1000) < converted).astype(int)
    assert QuantileBins().fit(frame, y).n_bins_ == auto_bins(converted)
    assert QuantileBins().fit(frame).n_bins_ == auto_bins(1000)  # no outcomes: all rows


def test_without_a_time_column_the_earliest_date_is_the_reference() -> None:
    from leadscore.modeling.preprocess import earliest_date

    frame = pd.DataFrame(
        {
            "trip": pd.to_datetime(["2026-03-10", "2026-04-02", "2026-05-01", None]),
            "booked": pd.to_datetime(["2026-03-01", "2026-03-30", "2026-05-02", "2026-01-01"]),
            "visits": [1.0, 2.0, 3.0, 4.0],
        }
    )
    kinds = {"trip": "datetime", "booked": "datetime", "visits": "numeric"}
    assert earliest_date(frame[["trip", "booked"]]) == "booked"  # first for 2 of 3 leads
    plan = plan_columns(frame, kinds)
    assert plan.reference_time == "booked"
    out = build_preprocessor(plan, "tree").fit_transform(frame, [0, 1, 0, 1])
    gap = next(c for c in out.columns if "trip__days_after__booked" in c)
    assert out[gap].tolist()[:3] == pytest.approx([9.0, 3.0, -1.0])
    # a time column given by the user wins; one date alone has nothing to be measured from
    assert plan_columns(frame, kinds, reference_time="trip").reference_time == "trip"
    one = frame[["trip", "visits"]]
    assert plan_columns(one, {"trip": "datetime", "visits": "numeric"}).reference_time is None
    # a date filled in for under half of the leads is no reference
    sparse = frame.assign(booked=pd.to_datetime([None, None, None, "2026-01-01"]))
    assert earliest_date(sparse[["trip", "booked"]]) == "trip"
