"""Tests for per-lead explanations (leadscore.scoring.contributions, .reasons, .drivers) and
the ``leadscore score --reasons`` / ``leadscore explain`` commands.

Every model is fitted once per module on the 1,500 seeded demo leads with 2 folds (a
bagged ensemble of two fold models: exercises the log-odds averaging, and fits in well under
a second per booster). The planted effects of :mod:`leadscore.data.demo` are the ground
truth for the driver and one-field-difference tests.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from leadscore import LeadModel
from leadscore.cli import app
from leadscore.demo import DemoLeads, generate_leads
from leadscore.demo import leads as demo
from leadscore.errors import LeadscoreError
from leadscore.explain.drivers import (
    beeswarm_png,
    drivers_bar_png,
    explain_sample,
    global_drivers,
)
from leadscore.modeling.calibration import logit
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.scoring import contributions as ce
from leadscore.scoring.batch import score as score_batch
from leadscore.scoring.contributions import Contributions, contributions, field_of, raw_logit
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.scoring.reasons import (
    describe_value,
    humanise,
    quartiles_of,
    reasons,
    unit_of,
    with_reasons,
)

NOT_FEATURES = ["lead_id", "converted", "sales_status"]
#: the model families with an exact explainer, and one that uses the fallback
EXACT = ["logreg_l2", "lightgbm", "xgboost", "catboost", "naive_bayes"]
FALLBACK = "random_forest"
BOOSTERS = ["lightgbm", "xgboost", "catboost"]
#: XGBoost computes its contributions in float32: the sum is exact to ~1e-6 relative
LOGIT_TOL = {"xgboost": 1e-5}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: "Time on site: 26 min (high) → +18", "Returned the same day → +9"
REASON = re.compile(r"^(?P<said>.+?) → (?P<sign>[+−])(?P<points>\d+)$")
#: the duration units reasons use, in seconds
SECONDS = {"s": 1, "min": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def _xy(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return table.drop(columns=NOT_FEATURES), table["converted"]


def _members(model: LeadModel) -> list:
    pipeline = model.pipeline_
    return list(pipeline.members_) if isinstance(pipeline, FoldEnsemble) else [pipeline]


def _valid_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    Image.open(io.BytesIO(data)).verify()  # checks the chunks and their CRCs
    return Image.open(io.BytesIO(data)).size


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fit(demo_leads: DemoLeads):
    """``fit(name)``: the zoo candidate ``name`` fitted on the demo leads (once per module)."""
    X, y = _xy(demo_leads.table)
    fitted: dict[str, LeadModel] = {}

    def get(name: str) -> LeadModel:
        if name not in fitted:
            fitted[name] = LeadModel(name, cv=2).fit(X, y, id_column="lead_id")
        return fitted[name]

    return get


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    """200 unlabelled leads the models have never seen (with a lead_id column)."""
    return generate_leads(200, seed=2, labelled=False).table


@pytest.fixture(scope="module")
def odd(fresh: pd.DataFrame) -> pd.DataFrame:
    """Leads with missing values, placeholders and categories never seen in training."""
    rows = fresh.head(6).copy()
    rows.loc[rows.index[0], ["source", "device", "country"]] = ["tiktok", "vr_headset", "Atlantis"]
    rows.loc[rows.index[1], ["time_on_site_s", "visits", "pages_per_visit"]] = np.nan
    rows.loc[rows.index[2], "industry"] = "Select"
    rows.loc[rows.index[3], ["source", "company_size", "created_at"]] = [None, None, pd.NaT]
    return rows


# ----------------------------------------------------------------------------- additivity


@pytest.mark.parametrize("name", [*EXACT, FALLBACK])
def test_contributions_add_up_to_the_calibrated_and_raw_log_odds(
    fit, name: str, fresh: pd.DataFrame, odd: pd.DataFrame
) -> None:
    model = fit(name)
    leads = pd.concat([fresh.head(40), odd], ignore_index=True)
    explained = contributions(model, leads)
    tol = LOGIT_TOL.get(name, 1e-6)

    p = model.predict_proba(leads)[:, 1]
    np.testing.assert_allclose(explained.logit, logit(p), rtol=0, atol=tol)
    np.testing.assert_allclose(explained.base + explained.values.sum(axis=1), logit(p), atol=tol)
    np.testing.assert_allclose(explained.score, p, rtol=0, atol=tol / 4)
    np.testing.assert_allclose(
        explained.score, model.score_leads(leads)["score"], rtol=0, atol=tol / 4
    )

    # before calibration (a·z + b): the members' own log-odds, averaged
    a, b = model.calibrator_.slope_, model.calibrator_.intercept_
    raw = (explained.base - b) / a + explained.values.sum(axis=1) / a
    np.testing.assert_allclose(raw, raw_logit(model, leads), rtol=0, atol=tol)
    np.testing.assert_allclose(raw, logit(model.predict_raw(leads)), rtol=0, atol=tol)

    # the reference is the same for every lead and sits between the leads' log-odds
    assert np.ptp(explained.base) < 1e-9
    assert explained.logit.min() < explained.base[0] < explained.logit.max()
    assert 0 < explained.base_score[0] < 1


@pytest.mark.parametrize("name", ["logreg_l2", "lightgbm"])
def test_contributions_add_up_for_a_refitted_single_pipeline(
    demo_leads: DemoLeads, fresh: pd.DataFrame, name: str
) -> None:
    """With a time column the final model is one pipeline refitted on all rows."""
    X, y = _xy(demo_leads.table)
    model = LeadModel(name, cv=2).fit(X, y, time_column="created_at")
    assert not isinstance(model.pipeline_, FoldEnsemble)
    explained = contributions(model, fresh.head(30))
    np.testing.assert_allclose(
        explained.logit, logit(model.predict_proba(fresh.head(30))[:, 1]), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("name", [*EXACT, FALLBACK])
def test_one_column_per_model_input_in_input_order(fit, name: str, fresh: pd.DataFrame) -> None:
    model = fit(name)
    explained = contributions(model, fresh.head(7))
    assert explained.fields == list(model.feature_names_in_) == model.schema_.names
    assert explained.values.shape == (7, model.n_features_in_)
    assert explained.base.shape == (7,)
    assert np.isfinite(explained.values).all()
    assert list(explained.frame(points=False).columns) == explained.fields
    np.testing.assert_array_equal(explained.frame(points=False).to_numpy(), explained.values)


def test_a_lead_is_explained_the_same_alone_as_in_a_batch(fit, fresh: pd.DataFrame) -> None:
    model = fit("lightgbm")
    batch = contributions(model, fresh.head(10))
    alone = contributions(model, fresh.iloc[[7]])
    np.testing.assert_allclose(alone.values[0], batch.values[7], rtol=0, atol=1e-12)
    # extra columns and their order do not matter
    shuffled = fresh.head(10).assign(converted="yes")[list(reversed(fresh.columns))]
    np.testing.assert_allclose(contributions(model, shuffled).values, batch.values, atol=1e-12)


# ----------------------------------------------------------------------------- grouping


def _pieces(field: str, encoded: list[str]) -> list[str]:
    """The encoded columns of one demo field, by how the preprocessors name them."""
    own = {f"num__{field}", f"num__missingindicator_{field}", f"target__{field}", field}
    prefixes = (f"num__{field}__", f"onehot__{field}_", f"{field}__")
    return [c for c in encoded if c in own or c.startswith(prefixes)]


def _partition(fields: list[str], encoded: list[str]) -> dict[str, list[str]]:
    """Encoded columns per field; every encoded column belongs to exactly one field."""
    pieces = {f: _pieces(f, encoded) for f in fields}
    claimed = [c for cols in pieces.values() for c in cols]
    assert sorted(claimed) == sorted(encoded), "encoded columns not partitioned by field"
    return pieces


def test_linear_grouping_sums_one_hot_and_target_encoded_pieces(
    demo_leads: DemoLeads, fresh: pd.DataFrame
) -> None:
    """coefficient × (value − background mean) per encoded column, summed per field,
    averaged over the fold models and scaled by the calibration slope."""
    X, y = _xy(demo_leads.table)
    rng = np.random.default_rng(5)
    # 40 frequent levels: too many for one-hot, so the field is target-encoded
    X = X.assign(campaign=[f"c{i:02d}" for i in rng.integers(0, 40, len(X))])
    model = LeadModel("logreg_l2", cv=2).fit(X, y)
    leads = fresh.head(25).assign(campaign=[f"c{i:02d}" for i in rng.integers(0, 45, 25)])
    explained = contributions(model, leads)

    conformed = model.schema_.conform(leads)
    grouped, bases = [], []
    for member in _members(model):
        prep, estimator = member.named_steps["prep"], member.named_steps["model"]
        encoded = prep.transform(conformed)
        columns = [str(c) for c in encoded.columns]
        pieces = _partition(explained.fields, columns)
        assert pieces["campaign"] == ["target__campaign"]
        assert len(pieces["source"]) > 3 and all(c.startswith("onehot__") for c in pieces["source"])
        assert len(pieces["created_at"]) == 4  # hour, weekday, weekend, month
        assert "num__missingindicator_time_on_site_s" in pieces["time_on_site_s"]
        reference = prep.transform(model.background_).mean(axis=0)
        coef = pd.Series(estimator.coef_.ravel(), index=columns)
        per_column = (encoded - reference) * coef
        grouped.append(np.column_stack([per_column[pieces[f]].sum(axis=1) for f in pieces]))
        bases.append(estimator.intercept_[0] + float(coef @ reference))
    a, b = model.calibrator_.slope_, model.calibrator_.intercept_
    np.testing.assert_allclose(explained.values, a * np.mean(grouped, axis=0), atol=1e-10)
    np.testing.assert_allclose(explained.base, a * np.mean(bases) + b, atol=1e-10)


def _native_contributions(estimator, encoded: pd.DataFrame) -> np.ndarray:
    """The boosters' own per-column SHAP values (last column: the expected value)."""
    name = type(estimator).__name__
    if name == "LGBMClassifier":
        return estimator.predict(encoded, pred_contrib=True)
    if name == "XGBClassifier":
        import xgboost as xgb

        matrix = xgb.DMatrix(encoded, enable_categorical=True)
        return estimator.get_booster().predict(matrix, pred_contribs=True)
    from catboost import Pool

    cats = [c for c in encoded.columns if encoded[c].dtype == object]
    return estimator.model_.get_feature_importance(Pool(encoded, cat_features=cats), "ShapValues")


@pytest.mark.parametrize("name", BOOSTERS)
def test_booster_grouping_sums_the_date_parts_into_their_field(
    fit, name: str, fresh: pd.DataFrame, odd: pd.DataFrame
) -> None:
    model = fit(name)
    leads = pd.concat([fresh.head(30), odd], ignore_index=True)
    explained = contributions(model, leads)
    conformed = model.schema_.conform(leads)
    grouped, bases = [], []
    for member in _members(model):
        encoded = member.named_steps["prep"].transform(conformed)
        shap = np.asarray(_native_contributions(member.named_steps["model"], encoded), float)
        columns = [str(c) for c in encoded.columns]
        pieces = _partition(explained.fields, columns)
        date_parts = ["hour", "weekday", "weekend", "month"]
        assert pieces["created_at"] == [f"created_at__{part}" for part in date_parts]
        frame = pd.DataFrame(shap[:, :-1], columns=columns)
        grouped.append(np.column_stack([frame[pieces[f]].sum(axis=1) for f in pieces]))
        bases.append(shap[:, -1])
    a, b = model.calibrator_.slope_, model.calibrator_.intercept_
    np.testing.assert_allclose(explained.values, a * np.mean(grouped, axis=0), atol=1e-9)
    np.testing.assert_allclose(explained.base, a * np.mean(bases, axis=0) + b, atol=1e-9)
    # the pieces of a field are summed, not just one of them kept
    date_part_spread = np.abs(np.mean(grouped, axis=0)[:, explained.fields.index("created_at")])
    assert date_part_spread.max() > 0


def test_field_of_maps_encoded_columns_to_business_fields() -> None:
    fields = ["time", "time_on_site_s", "source", "created_at", "Lead Source", "visits"]
    assert field_of("onehot__source_google", fields) == "source"
    assert field_of("onehot__source___missing__", fields) == "source"
    assert field_of("onehot__source_infrequent_sklearn", fields) == "source"
    assert field_of("num__missingindicator_visits", fields) == "visits"
    assert field_of("created_at__hour", fields) == "created_at"
    assert field_of("num__created_at__weekend", fields) == "created_at"
    assert field_of("target__Lead Source", fields) == "Lead Source"
    assert field_of("onehot__Lead Source_Olark Chat", fields) == "Lead Source"
    # longest matching field wins: "time_on_site_s" is not a level of "time"
    assert field_of("num__time_on_site_s", fields) == "time_on_site_s"
    assert field_of("num__time", fields) == "time"
    with pytest.raises(LeadscoreError, match="unknown_column"):
        field_of("num__unknown_column", fields)


def test_grouping_is_exact_when_a_level_spells_another_fields_name(
    demo_leads: DemoLeads,
) -> None:
    """The one-hot column of level 'medium' of 'source' is named ``source_medium``, like
    the field beside it: columns are credited by the encoders, not by their names."""
    X, y = _xy(demo_leads.table)
    rng = np.random.default_rng(0)
    X = X.assign(source_medium=rng.choice(["cpc", "organic"], len(X)))
    X.loc[X.index[::10], "source"] = "medium"  # a frequent level: its own one-hot column
    model = LeadModel("logreg_l2", cv=2).fit(X, y)
    lead = X.iloc[[1]].assign(source="google")
    explained = contributions(model, pd.concat([lead, lead.assign(source="medium")]))
    change = pd.Series(explained.values[1] - explained.values[0], index=explained.fields)
    # only "source" changed, and a linear model's other contributions cannot move
    assert change.drop("source").abs().max() < 1e-12


# ----------------------------------------------------------------------------- points


@pytest.mark.parametrize("name", [*EXACT, FALLBACK])
def test_points_add_up_to_the_score_on_the_0_100_scale(
    fit, name: str, fresh: pd.DataFrame, odd: pd.DataFrame
) -> None:
    model = fit(name)
    leads = pd.concat([fresh, odd], ignore_index=True)
    explained = contributions(model, leads)
    points = explained.points()
    scores = model.score_leads(leads)
    assert points.shape == explained.values.shape
    total = 100 * explained.base_score + points.sum(axis=1)
    tol = 100 * LOGIT_TOL.get(name, 1e-8)  # points move at most 25 per unit of log-odds
    np.testing.assert_allclose(total, 100 * scores["score"], rtol=0, atol=tol)
    assert np.abs(total - scores["score_100"]).max() <= 0.5 + tol
    # points keep each contribution's direction and are shared out in proportion
    assert (np.sign(points) == np.sign(explained.values)).all()
    ratio = points / np.where(explained.values == 0, np.nan, explained.values)
    assert np.nanmax(np.abs(ratio - np.nanmean(ratio, axis=1, keepdims=True))) < 1e-9
    np.testing.assert_array_equal(explained.frame().to_numpy(), points)


@pytest.mark.parametrize("name", EXACT)
def test_points_are_on_the_0_100_scale(fit, name: str, fresh: pd.DataFrame) -> None:
    points = contributions(fit(name), fresh).points()
    assert np.abs(points).max() <= 100
    assert np.abs(points).max() > 5  # the strong planted effects show


def test_points_of_a_lead_with_no_net_push_use_the_local_slope() -> None:
    explained = Contributions(["a", "b"], np.array([[0.5, -0.5], [0.0, 0.0]]), np.zeros(2))
    points = explained.points()
    np.testing.assert_allclose(points, [[12.5, -12.5], [0.0, 0.0]])  # 100·σ'(0) = 25
    np.testing.assert_allclose(100 * explained.base_score + points.sum(axis=1), [50, 50])


def test_fallback_points_are_on_the_0_100_scale(fit, fresh: pd.DataFrame) -> None:
    points = contributions(fit(FALLBACK), fresh).points()
    assert np.abs(points).max() <= 100


@pytest.mark.parametrize(
    "name", ["random_forest", "extra_trees", "decision_tree", "hist_gb", "mlp"]
)
def test_occlusion_on_encoded_rows_is_the_pipelines_occlusion(
    fit, name: str, fresh: pd.DataFrame, odd: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Occlusion swaps a field's encoded columns rather than the field (one transform, not
    one per field), and scikit-learn's tree ensembles walk only the trees a swap can
    change: the same numbers as swapping each field and predicting with the pipeline, for
    leads with gaps, placeholders and unseen categories too."""
    model = fit(name)
    assert all(ce._swappable(m) for m in _members(model))
    leads = pd.concat([fresh.head(70), odd], ignore_index=True)  # ≥ 64: split over threads
    monkeypatch.setattr(ce, "SWAP_CHUNK", 32)  # several chunks
    compiled = contributions(model, leads)
    monkeypatch.setattr(ce, "_swappable", lambda member: False)
    by_pipeline = contributions(model, leads)
    np.testing.assert_allclose(compiled.values, by_pipeline.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(compiled.base, by_pipeline.base, rtol=0, atol=1e-12)
    assert np.abs(compiled.values).max() > 0.05  # the fields do move these scores


def test_occlusion_of_a_date_gap_to_the_reference_time_stays_on_the_pipeline(
    demo_leads: DemoLeads,
) -> None:
    """A date's gap to the lead's creation time is computed from two fields, which the
    compiled kernel cannot swap one at a time: the pipeline occludes, and adds up."""
    table = demo_leads.table.copy()
    table["last_seen"] = table["created_at"] + pd.to_timedelta(np.arange(len(table)) % 9, unit="D")
    X, y = _xy(table)
    model = LeadModel("extra_trees", cv=2).fit(X, y, time_column="created_at")
    assert not any(ce._swappable(m) for m in _members(model))
    scorer = FastScorer(model)
    assert scorer.mode == "batch"  # nor does the real-time scorer compile it: it falls back
    leads = X.head(20)
    fast = scorer.score_many(leads.to_dict("records"), 3)
    np.testing.assert_allclose(
        [r.score for r in fast], model.score_leads(leads)["score"], atol=1e-9
    )
    assert all(r.reasons_up or r.reasons_down for r in fast)
    explained = contributions(model, leads)
    np.testing.assert_allclose(
        explained.logit, logit(model.predict_proba(leads)[:, 1]), rtol=0, atol=1e-6
    )


# ----------------------------------------------------------------------------- one field


#: field → (a value the demo truth rates low, one it rates high); see leadscore.data.demo
CHANGES = {
    "time_on_site_s": (30.0, 1800.0),
    "returned_same_day": ("no", "yes"),
    "device": ("mobile", "desktop"),
    "source": ("facebook", "email"),
}
ONE_FIELD_CASES = [
    (name, field)
    for name in EXACT
    for field in CHANGES
    # CatBoost's pair features (source × another category) share a source change with the
    # partner field, so for a few leads the partner moves more: checked on 3 fields only
    if not (name == "catboost" and field == "source")
]


def _one_field_change(
    model: LeadModel, leads: pd.DataFrame, field: str
) -> tuple[pd.DataFrame, Contributions, Contributions]:
    low, high = CHANGES[field]
    lo, hi = leads.assign(**{field: low}), leads.assign(**{field: high})
    return hi, contributions(model, lo), contributions(model, hi)


@pytest.mark.parametrize(("name", "field"), ONE_FIELD_CASES)
def test_leads_differing_in_one_field_are_told_apart_by_that_field(
    fit, name: str, field: str, fresh: pd.DataFrame
) -> None:
    model = fit(name)
    leads = fresh.head(30)
    _, low, high = _one_field_change(model, leads, field)
    change = high.points() - low.points()
    j = low.fields.index(field)
    biggest = [low.fields[i] for i in np.argmax(np.abs(change), axis=1)]
    assert biggest == [field] * len(leads)
    assert (change[:, j] > 0).all()  # the planted better value raises the lead's score
    if name in ("logreg_l2", "naive_bayes"):  # additive: no other field's log-odds move
        moved = np.delete(high.values - low.values, j, axis=1)
        np.testing.assert_allclose(moved, 0, atol=1e-9)


def test_reasons_of_a_one_field_difference_name_that_field(fit, fresh: pd.DataFrame) -> None:
    model = fit("lightgbm")
    leads = fresh.head(20)
    hi, low, high = _one_field_change(model, leads, "time_on_site_s")
    up = reasons(model, hi, k=1, explained=high)
    down = reasons(model, leads.assign(time_on_site_s=30.0), k=1, explained=low)
    assert {r[0][0].field for r in up} == {"time_on_site_s"}
    assert {r[1][0].field for r in down} == {"time_on_site_s"}
    assert all(r[0][0].value == "30 min (high)" for r in up)
    assert all(r[1][0].value == "30 s (low)" for r in down)


def test_fallback_one_field_difference_points_to_that_field(fit, fresh: pd.DataFrame) -> None:
    model = fit(FALLBACK)
    _, low, high = _one_field_change(model, fresh.head(30), "device")
    change = high.points() - low.points()
    biggest = [low.fields[i] for i in np.argmax(np.abs(change), axis=1)]
    # an approximation with interactions (a forest): nearly always, not always, the field
    assert biggest.count("device") >= 27, biggest
    assert (np.abs(change).max(axis=1) < 100).all()  # no absurd points


# ----------------------------------------------------------------------------- drivers

PLANTED_TOP = ["time_on_site_s", "returned_same_day"]
PLANTED_NEXT = {"source", "device"}
NO_EFFECT = ["country", "industry", "newsletter"]


def _planted_importance(table: pd.DataFrame) -> pd.Series:
    """Mean absolute deviation of each planted logit term over the leads (demo truth)."""
    minutes = np.log1p(table["time_on_site_s"].fillna(0) / 60)
    source = {k: v for k, (_, v) in demo._SOURCES.items() if k is not None}
    device = {k: v for k, (_, v, _) in demo._DEVICES.items()}
    terms = {
        "time_on_site_s": demo.TIME_EFFECT * minutes,
        "returned_same_day": demo.RETURNED_EFFECT * (table["returned_same_day"] == "yes"),
        "source": table["source"].map(source).fillna(0.0),
        "device": table["device"].map(device),
    }
    return pd.Series({k: float((v - v.mean()).abs().mean()) for k, v in terms.items()})


def test_the_planted_order_of_the_demo_data(demo_leads: DemoLeads) -> None:
    """Ground truth: time on site, then returning the same day; source and device are a
    near tie (so the model's drivers are checked for that pair as a set, not an order)."""
    truth = _planted_importance(demo_leads.table).sort_values(ascending=False)
    assert list(truth.index[:2]) == PLANTED_TOP
    assert set(truth.index[2:]) == PLANTED_NEXT
    assert truth["source"] == pytest.approx(truth["device"], rel=0.25)


@pytest.mark.parametrize("name", EXACT)
def test_global_drivers_are_the_planted_effects_in_order(
    fit, name: str, demo_leads: DemoLeads
) -> None:
    model = fit(name)
    X, _ = _xy(demo_leads.table)
    rows, explained = explain_sample(model, X, sample=1000, seed=0)
    assert len(rows) == 1000
    drivers = global_drivers(explained)
    assert list(drivers.columns) == ["field", "importance", "mean_points"]
    assert sorted(drivers["field"]) == sorted(model.schema_.names)
    order = list(drivers["field"])
    if name == "naive_bayes":
        # Naive Bayes credits each field with all of its own evidence: visits and pages per
        # visit share the engagement behind time on site and returning the same day, and
        # rank among the planted effects. Still: time on site first, and every field
        # without an effect below every planted one.
        assert order[0] == PLANTED_TOP[0], drivers
        planted = [order.index(f) for f in [*PLANTED_TOP, *PLANTED_NEXT]]
        assert min(order.index(f) for f in NO_EFFECT) > max(planted), drivers
    else:
        assert order[:2] == PLANTED_TOP, drivers
        assert set(order[2:4]) == PLANTED_NEXT, drivers
        for field in NO_EFFECT:
            assert order.index(field) >= 4, drivers
    # importance is the mean absolute contribution in points, largest first
    points = explained.frame(points=True)
    expected = points.abs().mean().loc[order].to_numpy()
    np.testing.assert_allclose(drivers["importance"], expected, rtol=1e-12)
    np.testing.assert_allclose(drivers["mean_points"], points.mean().loc[order], atol=1e-12)
    assert (np.diff(drivers["importance"]) <= 0).all()


def test_explain_sample_is_seeded_and_small_tables_are_kept(fit, demo_leads: DemoLeads) -> None:
    model = fit("logreg_l2")
    X, _ = _xy(demo_leads.table)
    first, _ = explain_sample(model, X, sample=50, seed=3)
    again, _ = explain_sample(model, X, sample=50, seed=3)
    pd.testing.assert_frame_equal(first, again)
    whole, explained = explain_sample(model, X.head(30), sample=50)
    pd.testing.assert_frame_equal(whole, X.head(30).reset_index(drop=True))
    assert explained.values.shape[0] == 30


def test_driver_charts_are_valid_pngs(fit, demo_leads: DemoLeads) -> None:
    model = fit("lightgbm")
    X, _ = _xy(demo_leads.table)
    rows, explained = explain_sample(model, X, sample=300)
    width, height = _valid_png(drivers_bar_png(global_drivers(explained)))
    assert width > 400 and height > 300
    width, height = _valid_png(beeswarm_png(rows, explained))
    assert width > 400 and height > 300


# ----------------------------------------------------------------------------- reasons


def test_humanise_and_describe_value() -> None:
    assert humanise("time_on_site_s") == "Time on site"
    assert unit_of("time_on_site_s") == "s" and unit_of("visits") == ""
    assert humanise("returned_same_day") == "Returned same day"
    assert humanise("Total Time Spent on Website") == "Total Time Spent on Website"
    assert describe_value(1532.0, (43.0, 359.0)) == "1,532 (high)"
    assert describe_value(12, (43.0, 359.0)) == "12 (low)"
    # a duration in the unit a person would use, to meaningful figures
    assert describe_value(1532.0, (43.0, 359.0), "s") == "26 min (high)"
    assert describe_value(12.5, None, "%") == "13 %"
    assert describe_value(43.0, (43.0, 359.0)) == "43 (typical)"
    assert describe_value(2.345, None) == "2.3"
    assert describe_value(np.nan, (1.0, 2.0)) == "not given"
    assert describe_value(None, None) == "not given"
    assert describe_value("desktop", None) == "desktop"
    # what a model uses of a time: its weekday and hour, not the calendar date
    assert describe_value(pd.Timestamp("2026-01-05 09:30"), None) == "Monday at 09:00"


def _seconds(text: str) -> float:
    number, unit = text.rsplit(" ", 1)
    return float(number.replace(",", "")) * SECONDS[unit]


def _check_reason_text(reason, model: LeadModel, lead: pd.Series, quartiles: dict) -> None:
    match = REASON.match(reason.text)
    assert match, reason.text
    said = match["said"]
    assert match["points"] == f"{abs(reason.points):.0f}"
    assert match["sign"] == ("+" if reason.points > 0 else "−")
    value = lead[reason.field]
    label = humanise(reason.field)
    if pd.isna(value):
        assert said == f"{label}: not given"
    elif reason.field in quartiles:
        shown_label, shown = said.split(": ", 1)
        assert shown_label == label
        low, high = quartiles[reason.field]
        level = "low" if value < low else "high" if value > high else "typical"
        number, shown_level = shown.rsplit(" (", 1)
        assert shown_level == f"{level})"
        if unit_of(reason.field) == "s":
            assert _seconds(number) == pytest.approx(value, rel=0.05, abs=0.5)
        else:
            assert float(number.replace(",", "")) == pytest.approx(value, rel=0.05, abs=0.05)
    elif isinstance(value, pd.Timestamp):
        assert said == f"Created on a {WEEKDAYS[value.weekday()]} at {value.hour:02d}:00"
    elif reason.field == "returned_same_day":  # a yes/no field reads as a statement
        expected = "Returned the same day" if value == "yes" else "Did not return the same day"
        assert said == expected
    elif reason.field == "newsletter":
        assert said == f"Newsletter: {value}"
    else:
        assert said == f"{label}: {value}"


def test_reasons_are_the_strongest_pushes_phrased_for_a_salesperson(
    fit, fresh: pd.DataFrame, odd: pd.DataFrame
) -> None:
    model = fit("lightgbm")
    leads = pd.concat([fresh.head(40), odd], ignore_index=True)
    explained = contributions(model, leads)
    points = explained.points()
    quartiles = quartiles_of(model)
    assert set(quartiles) == {"visits", "time_on_site_s", "pages_per_visit"}
    conformed = model.schema_.conform(leads)
    found = reasons(model, leads, k=3)
    assert len(found) == len(leads)
    for row, (up, down) in enumerate(found):
        assert len(up) <= 3 and len(down) <= 3
        assert all(r.points > 0.5 for r in up) and all(r.points < -0.5 for r in down)
        assert [r.points for r in up] == sorted((r.points for r in up), reverse=True)
        assert [r.points for r in down] == sorted(r.points for r in down)
        # the strongest pushes each way, with the field's own points
        strongest = np.argsort(-points[row])[:3]
        expected_up = [explained.fields[i] for i in strongest if points[row, i] > 0.5]
        assert [r.field for r in up] == expected_up
        for reason in [*up, *down]:
            assert reason.points == pytest.approx(points[row, explained.fields.index(reason.field)])
            _check_reason_text(reason, model, conformed.iloc[row], quartiles)


def test_a_built_lead_reads_like_the_issue_example(fit, fresh: pd.DataFrame) -> None:
    model = fit("lightgbm")
    lead = fresh.head(1).assign(time_on_site_s=1532.0, returned_same_day="yes", source="email")
    ((up, _),) = reasons(model, lead, k=4)
    by_field = {r.field: r for r in up}
    text = by_field["time_on_site_s"].text
    assert re.fullmatch(r"Time on site: 26 min \(high\) → \+\d+", text), text
    assert by_field["time_on_site_s"].points >= 5
    assert re.fullmatch(r"Returned the same day → \+\d+", by_field["returned_same_day"].text)


def test_with_reasons_adds_two_text_columns_in_row_order(fit, fresh: pd.DataFrame) -> None:
    model = fit("lightgbm")
    leads = fresh.head(15)
    scores = model.score_leads(leads)
    out = with_reasons(model, leads, scores, 2)
    assert list(out.columns) == [*scores.columns, "reasons_up", "reasons_down"]
    pd.testing.assert_frame_equal(out[scores.columns], scores)
    for row, (up, down) in enumerate(reasons(model, leads, 2)):
        assert out.at[row, "reasons_up"] == "; ".join(r.text for r in up)
        assert out.at[row, "reasons_down"] == "; ".join(r.text for r in down)
    parts = out["reasons_up"].str.split("; ")
    assert parts.map(len).max() <= 2
    assert out["reasons_up"].str.len().gt(0).any() and out["reasons_down"].str.len().gt(0).any()


def test_batch_scoring_with_reasons_keeps_each_leads_reasons(fit, fresh: pd.DataFrame) -> None:
    model = fit("lightgbm")
    leads = fresh.head(25)
    result = score_batch(model, leads, reasons=3)
    assert result["rank"].tolist() == list(range(1, 26))  # sorted best first ...
    expected = with_reasons(model, leads, model.score_leads(leads), 3).set_index("lead_id")
    mine = result.set_index("lead_id")  # ... and the reasons travelled with their lead
    pd.testing.assert_series_equal(mine["reasons_up"], expected.loc[mine.index, "reasons_up"])
    pd.testing.assert_series_equal(mine["reasons_down"], expected.loc[mine.index, "reasons_down"])


def test_model_without_reference_leads_is_refused(fit, fresh: pd.DataFrame) -> None:
    model = fit("logreg_l2")
    old = object.__new__(LeadModel)
    old.__dict__.update({k: v for k, v in model.__dict__.items() if k != "background_"})
    with pytest.raises(LeadscoreError, match="retrain"):
        contributions(old, fresh.head(2))


# ----------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def saved(fit, fresh: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("explain")
    model_dir = fit("lightgbm").save(directory / "model")
    data = directory / "new_leads.csv"
    fresh.head(30).to_csv(data, index=False)
    return model_dir, data


def _run(*args: object) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    return result


def test_saved_model_explains_like_the_fitted_one(
    fit, saved: tuple[Path, Path], fresh: pd.DataFrame
) -> None:
    loaded = LeadModel.load(saved[0])
    np.testing.assert_allclose(
        contributions(loaded, fresh.head(10)).values,
        contributions(fit("lightgbm"), fresh.head(10)).values,
        rtol=0,
        atol=1e-12,
    )


def test_cli_score_with_reasons(saved: tuple[Path, Path], tmp_path: Path, fit) -> None:
    model_dir, data = saved
    out = tmp_path / "scores.csv"
    result = _run("score", model_dir, data, "--reasons", 3, "--out", out)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out, keep_default_na=False)
    assert {"reasons_up", "reasons_down"} <= set(written.columns)
    assert len(written) == 30
    leads = pd.read_csv(data)
    model = fit("lightgbm")
    expected = with_reasons(model, leads, model.score_leads(leads), 3).set_index("lead_id")
    for row in written.itertuples():
        assert row.reasons_up == expected.at[row.lead_id, "reasons_up"]
        assert row.reasons_down == expected.at[row.lead_id, "reasons_down"]
        for text in filter(None, row.reasons_up.split("; ")):
            assert REASON.match(text) and "→ +" in text


def test_cli_explain_one_lead(saved: tuple[Path, Path], fit) -> None:
    model_dir, data = saved
    leads = pd.read_csv(data)
    lead_id = leads["lead_id"].iloc[4]
    result = _run("explain", model_dir, data, "--lead", lead_id, "--reasons", 2)
    assert result.exit_code == 0, result.output
    model = fit("lightgbm")
    row = model.score_leads(leads).iloc[4]
    assert f"lead_id {lead_id}: score {row['score_100']} ({row['segment']})" in result.output
    ((up, down),) = reasons(model, leads.iloc[[4]], 2)
    for reason in [*up, *down]:
        assert reason.text in result.output
    lines = [line for line in result.output.splitlines() if "▲" in line or "▼" in line]
    assert len(lines) == len(up) + len(down)


def test_cli_explain_top_leads_and_unknown_lead(saved: tuple[Path, Path]) -> None:
    model_dir, data = saved
    result = _run("explain", model_dir, data, "--top", 3)
    assert result.exit_code == 0, result.output
    headers = re.findall(r"^lead_id L\d+: score \d+ \((?:hot|warm|cold)\)", result.output, re.M)
    assert len(headers) == 3
    missing = _run("explain", model_dir, data, "--lead", "NOPE")
    assert missing.exit_code == 2
    assert "NOPE" in missing.output and "Traceback" not in missing.output
