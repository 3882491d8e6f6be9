"""Tests for LeadModel (leadscore.modeling.model): estimator API, scoring, persistence."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from leadscore import LeadModel
from leadscore.config import Business
from leadscore.demo import FEATURE_COLUMNS, DemoLeads, generate_leads
from leadscore.errors import ArtifactError, LeadscoreError, SchemaError
from leadscore.lifecycle.artifacts import save_model
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.folder import write_metadata
from leadscore.modeling.metrics import METRICS, expected_calibration_error
from leadscore.scoring.batch import score as score_batch

#: the id, the outcome and the post-contact leak are not model inputs
NOT_FEATURES = ["lead_id", "converted", "sales_status"]
SCORE_COLUMNS = ["score", "score_100", "segment", "rank", "contact"]


def _xy(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return table.drop(columns=NOT_FEATURES), table["converted"]


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    """200 unlabelled leads the models have never seen (with a lead_id column)."""
    return generate_leads(200, seed=2, labelled=False).table


@pytest.fixture(scope="module")
def logreg(demo_leads: DemoLeads) -> LeadModel:
    X, y = _xy(demo_leads.table)
    return LeadModel("logreg_l2", cv=3).fit(X, y, id_column="lead_id")


@pytest.fixture(scope="module")
def lightgbm(demo_leads: DemoLeads) -> LeadModel:
    X, y = _xy(demo_leads.table)
    return LeadModel("lightgbm", cv=3).fit(X, y)


@pytest.fixture(scope="module")
def catboost() -> LeadModel:
    # 1,000 rows rather than 600: below 1,000 rows (or 100 conversions) the data counts as
    # small and the final model bags 3 repeats x 3 folds = 9 CatBoost members, which is
    # slower to fit *and* to score row by row than the 3 members of this table.
    X, y = _xy(generate_leads(1000, seed=4, positive_rate=0.15).table)
    assert (y == "yes").sum() >= 100
    return LeadModel("catboost", cv=3).fit(X, y, id_column="lead_id")


@pytest.fixture(scope="module", params=["logreg_l2", "lightgbm", "catboost"])
def any_model(request: pytest.FixtureRequest) -> LeadModel:
    return request.getfixturevalue({"logreg_l2": "logreg"}.get(request.param, request.param))


@pytest.fixture(scope="module")
def saved(logreg: LeadModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(logreg, tmp_path_factory.mktemp("model") / "m")


def _copy(saved: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(saved, target)
    return target


def _edit_metadata(directory: Path, edit) -> None:
    """Change a saved folder's metadata and sign it again (as someone holding the signing
    key would): the checks that follow the signature's are what is tested."""
    path = directory / "metadata.json"
    meta = json.loads(path.read_text())
    edit(meta)
    meta.pop("signature", None)
    write_metadata(directory, meta)


# ----------------------------------------------------------------------------- estimator API


def test_fit_on_raw_frame_with_yes_no_target(logreg: LeadModel, demo_leads: DemoLeads) -> None:
    X, _ = _xy(demo_leads.table)
    assert demo_leads.table["converted"].isin(["yes", "no"]).all()
    assert list(logreg.classes_) == [0, 1]
    assert logreg.n_features_in_ == X.shape[1]
    assert list(logreg.feature_names_in_) == list(X.columns)


def test_predict_proba_shape_and_rows_sum_to_one(logreg: LeadModel, fresh: pd.DataFrame) -> None:
    proba = logreg.predict_proba(fresh)
    assert proba.shape == (len(fresh), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert proba[:, 1].std() > 0.01  # not a constant


def test_predict_is_zero_one_at_the_contact_threshold(
    logreg: LeadModel, fresh: pd.DataFrame
) -> None:
    pred = logreg.predict(fresh)
    p = logreg.predict_proba(fresh)[:, 1]
    assert set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (p >= logreg.cutoffs_.contact).astype(int))
    assert 0 < pred.sum() < len(pred)


def test_clone_and_get_params_round_trip(logreg: LeadModel) -> None:
    params = logreg.get_params()
    assert params == {
        "model": "logreg_l2",
        "business": None,
        "segments": None,
        "cv": 3,
        "random_state": 0,
        "params": None,
    }
    copy = clone(logreg)
    assert copy is not logreg
    assert copy.get_params() == params
    assert not hasattr(copy, "pipeline_")
    assert LeadModel().set_params(**params).get_params() == params

    custom = LeadModel("lightgbm", business=Business(cost_per_contact=3.0), cv=4)
    assert clone(custom).get_params() == custom.get_params()


def test_refit_of_a_clone_is_deterministic(
    logreg: LeadModel, demo_leads: DemoLeads, fresh: pd.DataFrame
) -> None:
    X, y = _xy(demo_leads.table)
    again = clone(logreg).fit(X, y, id_column="lead_id")
    np.testing.assert_allclose(again.predict_proba(fresh), logreg.predict_proba(fresh), rtol=1e-9)
    assert again.cutoffs_ == logreg.cutoffs_


def test_unfitted_model_refuses_to_score(fresh: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        LeadModel("logreg_l2").predict_proba(fresh)


def test_fit_rejects_one_class_and_non_frames(demo_leads: DemoLeads) -> None:
    X, _ = _xy(demo_leads.table)
    with pytest.raises(SchemaError, match="one class"):
        LeadModel("logreg_l2", cv=3).fit(X, ["no"] * len(X))
    with pytest.raises(SchemaError, match="DataFrame"):
        LeadModel("logreg_l2", cv=3).fit(X.to_numpy(), demo_leads.table["converted"])


# ----------------------------------------------------------------------------- score()


def test_score_columns_and_types(logreg: LeadModel, fresh: pd.DataFrame) -> None:
    scores = logreg.score_leads(fresh)
    assert list(scores.columns) == ["lead_id", *SCORE_COLUMNS]
    assert len(scores) == len(fresh)
    assert scores["lead_id"].tolist() == fresh["lead_id"].astype(str).tolist()
    assert pd.api.types.is_float_dtype(scores["score"])
    assert scores["score"].between(0, 1).all()
    assert pd.api.types.is_integer_dtype(scores["score_100"])
    assert scores["score_100"].between(0, 100).all()
    np.testing.assert_array_equal(scores["score_100"], np.rint(scores["score"] * 100))
    assert scores["contact"].dtype == bool


def test_score_without_id_column_numbers_the_leads(
    lightgbm: LeadModel, fresh: pd.DataFrame
) -> None:
    scores = lightgbm.score_leads(fresh.head(5))
    assert list(scores.columns) == ["lead", *SCORE_COLUMNS]
    assert scores["lead"].tolist() == ["1", "2", "3", "4", "5"]


def test_segments_follow_the_cutoffs(any_model: LeadModel, fresh: pd.DataFrame) -> None:
    scores = any_model.score_leads(fresh)
    cut = any_model.cutoffs_
    assert cut.warm <= cut.hot
    p = scores["score"]
    expected = np.where(p >= cut.hot, "hot", np.where(p >= cut.warm, "warm", "cold"))
    np.testing.assert_array_equal(scores["segment"], expected)
    assert set(scores["segment"]) <= {"hot", "warm", "cold"}
    # default segments: cold is exactly "below the contact threshold"
    np.testing.assert_array_equal(scores["contact"], p >= cut.contact)
    np.testing.assert_array_equal(scores["segment"] == "cold", ~scores["contact"])


def test_rank_is_one_to_n_best_first(logreg: LeadModel, fresh: pd.DataFrame) -> None:
    scores = logreg.score_leads(fresh)
    assert sorted(scores["rank"]) == list(range(1, len(fresh) + 1))
    assert scores.loc[scores["rank"] == 1, "score"].item() == scores["score"].max()
    by_rank = scores.sort_values("rank")["score"].to_numpy()
    assert (np.diff(by_rank) <= 0).all()


@pytest.mark.parametrize("capacity", [1, 7, 500])
def test_capacity_contacts_exactly_the_best(
    logreg: LeadModel, fresh: pd.DataFrame, capacity: int
) -> None:
    scores = logreg.score_leads(fresh, capacity=capacity)
    expected = min(capacity, len(fresh))
    assert int(scores["contact"].sum()) == expected
    assert set(scores.loc[scores["contact"], "rank"]) == set(range(1, expected + 1))


def test_capacity_zero_contacts_no_one_or_is_refused(
    logreg: LeadModel, fresh: pd.DataFrame
) -> None:
    try:
        scores = logreg.score_leads(fresh, capacity=0)
    except LeadscoreError as exc:
        assert "capacity" in str(exc)
    else:
        assert int(scores["contact"].sum()) == 0


def test_scoring_function_sorts_and_writes(
    logreg: LeadModel, fresh: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    result = score_batch(logreg, fresh, out=out, capacity=5)
    assert result["rank"].tolist() == list(range(1, len(fresh) + 1))
    assert int(result["contact"].sum()) == 5
    back = pd.read_csv(out)
    assert back["lead_id"].tolist() == result["lead_id"].tolist()
    np.testing.assert_allclose(back["score"], result["score"], rtol=1e-12)


def test_one_row_at_a_time_equals_the_batch(any_model: LeadModel, fresh: pd.DataFrame) -> None:
    """The contract: nothing is fitted at scoring time, so a lead's score is its own."""
    batch = fresh.head(40)  # each single-row call costs ~0.1 s (3 bagged pipelines)
    together = any_model.score_leads(batch)["score"].to_numpy()
    alone = [any_model.predict_proba(batch.iloc[[i]])[0, 1] for i in range(len(batch))]
    np.testing.assert_allclose(alone, together, rtol=1e-9, atol=0)
    # ... and neither does the order of the batch
    shuffled = batch.sample(frac=1.0, random_state=0)
    again = any_model.predict_proba(shuffled)[:, 1]
    np.testing.assert_allclose(again, together[batch.index.get_indexer(shuffled.index)], rtol=1e-9)


def test_unseen_categories_score(any_model: LeadModel, fresh: pd.DataFrame) -> None:
    odd = fresh.head(5).copy()
    odd["source"] = "tiktok"
    odd["device"] = "vr_headset"
    odd["country"] = "Atlantis"
    odd["industry"] = "Space mining"
    odd["company_size"] = "5000+"
    odd["returned_same_day"] = "maybe"
    odd["newsletter"] = "unsure"
    p = any_model.predict_proba(odd)[:, 1]
    assert np.isfinite(p).all()
    assert ((p > 0) & (p < 1)).all()


def test_all_missing_rows_score(any_model: LeadModel) -> None:
    blank = pd.DataFrame({c: [np.nan, None, ""] for c in FEATURE_COLUMNS if c != "lead_id"})
    blank["industry"] = ["Select", None, "(not set)"]
    scores = any_model.score_leads(blank)
    assert len(scores) == 3
    assert np.isfinite(scores["score"]).all()
    assert scores["score"].between(0, 1).all()
    # "" and placeholders are missing values, so the three rows are the same lead
    assert scores["score"].nunique() == 1


def test_missing_required_column_names_it(logreg: LeadModel, fresh: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="time_on_site_s") as info:
        logreg.score_leads(fresh.drop(columns=["time_on_site_s"]))
    assert "device" not in str(info.value).split("Columns in the data")[0]
    with pytest.raises(SchemaError, match=r"'device'.*'source'|'source'.*'device'"):
        logreg.score_leads(fresh.drop(columns=["device", "source"]))


def test_text_in_a_numeric_column_names_column_and_value(
    logreg: LeadModel, fresh: pd.DataFrame
) -> None:
    bad = fresh.head(10).copy()
    bad["visits"] = bad["visits"].astype(object)
    bad.loc[bad.index[3], "visits"] = "abc"
    with pytest.raises(SchemaError, match="visits") as info:
        logreg.score_leads(bad)
    assert "abc" in str(info.value)


def test_numbers_stored_as_text_score_like_numbers(logreg: LeadModel, fresh: pd.DataFrame) -> None:
    as_text = fresh.astype({"visits": str, "pages_per_visit": str})
    np.testing.assert_allclose(
        logreg.predict_proba(as_text), logreg.predict_proba(fresh), rtol=1e-12
    )


def test_extra_columns_and_column_order_are_ignored(logreg: LeadModel, fresh: pd.DataFrame) -> None:
    expected = logreg.score_leads(fresh)
    extra = fresh.assign(sales_status="Closed - won", converted="yes", unrelated=np.arange(200))
    reordered = extra[list(reversed(extra.columns))]
    pd.testing.assert_frame_equal(logreg.score_leads(reordered), expected)


# ----------------------------------------------------------------------------- persistence


def test_save_load_round_trip_gives_identical_scores(
    logreg: LeadModel, saved: Path, fresh: pd.DataFrame
) -> None:
    assert sorted(p.name for p in saved.iterdir()) == [
        "evaluation.parquet", "metadata.json", "model.joblib", "scorer.bin",
    ]  # fmt: skip
    loaded = LeadModel.load(saved)
    assert isinstance(loaded, LeadModel)
    pd.testing.assert_frame_equal(loaded.score_leads(fresh), logreg.score_leads(fresh))
    assert loaded.cutoffs_ == logreg.cutoffs_
    assert loaded.get_params() == logreg.get_params()


@pytest.mark.parametrize("how", ["flip", "append"])
def test_load_refuses_a_tampered_model_file(saved: Path, tmp_path: Path, how: str) -> None:
    directory = _copy(saved, tmp_path)
    path = directory / "model.joblib"
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data += b"\x00"
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        LeadModel.load(directory)


def test_load_refuses_another_artifact_format(saved: Path, tmp_path: Path) -> None:
    directory = _copy(saved, tmp_path)
    _edit_metadata(directory, lambda meta: meta.update(format=99))
    with pytest.raises(ArtifactError, match="format"):
        LeadModel.load(directory)


def test_load_refuses_other_library_versions(saved: Path, tmp_path: Path) -> None:
    directory = _copy(saved, tmp_path)
    _edit_metadata(directory, lambda meta: meta["libraries"].update({"scikit-learn": "0.1.0"}))
    with pytest.raises(ArtifactError, match="scikit-learn") as info:
        LeadModel.load(directory)
    assert "0.1.0" in str(info.value)


def test_xgboost_counts_as_installed_under_its_cpu_only_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``xgboost-cpu`` installs the package ``xgboost``: a model saved with either build
    loads with the other (before, a CPU-only install read as "xgboost not installed")."""
    from importlib import metadata

    from leadscore.modeling import folder

    def version(name: str) -> str:
        if name == "xgboost":
            raise metadata.PackageNotFoundError(name)
        return {"xgboost-cpu": "3.2.0"}.get(name, "1.0.0")

    monkeypatch.setattr(folder.importlib_metadata, "version", version)
    folder.library_versions.cache_clear()
    try:
        assert folder.library_versions()["xgboost"] == "3.2.0"
        assert folder.installed_distribution("xgboost") == ("xgboost-cpu", "3.2.0")
    finally:
        folder.library_versions.cache_clear()


def test_load_refuses_missing_or_incomplete_directories(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        LeadModel.load(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match=r"metadata\.json"):
        LeadModel.load(empty)
    only_meta = _copy(saved, tmp_path)
    (only_meta / "model.joblib").unlink()
    with pytest.raises(ArtifactError, match=r"model\.joblib"):
        LeadModel.load(only_meta)


def test_load_refuses_broken_metadata_and_foreign_pickles(saved: Path, tmp_path: Path) -> None:
    broken = _copy(saved, tmp_path)
    (broken / "metadata.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="JSON"):
        LeadModel.load(broken)

    foreign = tmp_path / "foreign"
    shutil.copytree(saved, foreign)
    joblib.dump({"not": "a model"}, foreign / "model.joblib")
    digest = hashlib.sha256((foreign / "model.joblib").read_bytes()).hexdigest()
    _edit_metadata(foreign, lambda meta: meta.update(sha256=digest))
    with pytest.raises(ArtifactError, match="LeadModel"):
        LeadModel.load(foreign)


def test_metadata_json_content(logreg: LeadModel, saved: Path, demo_leads: DemoLeads) -> None:
    meta = json.loads((saved / "metadata.json").read_text())
    X, y = _xy(demo_leads.table)
    assert meta["format"] == 1
    assert meta["sha256"] == hashlib.sha256((saved / "model.joblib").read_bytes()).hexdigest()
    assert meta["model"] == "logreg_l2"
    assert meta["rows"] == len(X)
    assert meta["positive_rate"] == pytest.approx(float((y == "yes").mean()))
    assert re.fullmatch(r"[0-9a-f]{16}", meta["data_fingerprint"])
    assert set(METRICS) <= set(meta["cv_metrics"])
    assert 0.7 < meta["cv_metrics"]["auc"] <= 1.0
    assert meta["cutoffs"] == pytest.approx(logreg.cutoffs_.to_dict())
    assert set(meta["cutoffs"]) == {"contact", "hot", "warm"}
    assert meta["business"] == Business().model_dump()
    assert meta["id_column"] == "lead_id"

    columns = {c["name"]: c for c in meta["schema"]["columns"]}
    assert list(columns) == list(X.columns)
    assert columns["visits"]["kind"] == "numeric"
    assert columns["time_on_site_s"]["kind"] == "numeric"
    assert columns["created_at"]["kind"] == "datetime"
    assert columns["source"]["kind"] == "categorical"
    assert {"google", "facebook", "email", "medium"} <= set(columns["source"]["categories"])
    assert set(columns["returned_same_day"]["categories"]) == {"no", "yes"}
    assert "Select" not in columns["industry"]["categories"]  # a placeholder, not a level
    assert columns["visits"]["categories"] == []

    libraries = meta["libraries"]
    assert libraries["scikit-learn"] == sklearn.__version__
    assert libraries["numpy"] == np.__version__
    assert libraries["pandas"] == pd.__version__
    assert {"python", "leadscore", "lightgbm", "catboost"} <= set(libraries)


def test_fingerprint_depends_on_the_data_only(
    logreg: LeadModel, lightgbm: LeadModel, catboost: LeadModel
) -> None:
    assert logreg.metadata_["data_fingerprint"] == lightgbm.metadata_["data_fingerprint"]
    assert logreg.metadata_["data_fingerprint"] != catboost.metadata_["data_fingerprint"]


# ----------------------------------------------------------------------------- final model


def test_without_time_column_the_final_model_bags_the_folds(
    logreg: LeadModel, lightgbm: LeadModel
) -> None:
    for model in (logreg, lightgbm):
        assert isinstance(model.pipeline_, FoldEnsemble)
        assert len(model.pipeline_.members_) == 3
        assert model.metadata_["time_column"] is None


def test_with_time_column_the_final_model_is_refitted(
    demo_leads: DemoLeads, fresh: pd.DataFrame
) -> None:
    X, y = _xy(demo_leads.table)
    model = LeadModel("logreg_l2", cv=3).fit(X, y, time_column="created_at")
    assert isinstance(model.pipeline_, Pipeline)
    assert not isinstance(model.pipeline_, FoldEnsemble)
    assert model.metadata_["time_column"] == "created_at"
    window = model.metadata_["time_window"]
    assert pd.Timestamp(window["start"]) == X["created_at"].min()
    assert pd.Timestamp(window["end"]) == X["created_at"].max()
    batch = fresh.head(10)
    together = model.predict_proba(batch)[:, 1]
    alone = [model.predict_proba(batch.iloc[[i]])[0, 1] for i in range(len(batch))]
    np.testing.assert_allclose(alone, together, rtol=1e-9)


def test_scores_are_calibrated_on_fresh_leads() -> None:
    X, y = _xy(generate_leads(20_000, seed=21).table)
    model = LeadModel("logreg_l2", cv=3).fit(X, y)
    new = generate_leads(10_000, seed=22).table
    p = model.predict_proba(new)[:, 1]
    converted = (new["converted"] == "yes").to_numpy()
    assert expected_calibration_error(converted, p) < 0.03
    assert p.mean() == pytest.approx(converted.mean(), abs=0.01)


def test_age_days_reports_lead_age_at_scoring_time_when_trained_with_a_time_column() -> None:
    from leadscore.demo import generate_leads

    table = generate_leads(1200, seed=21).table
    X = table.drop(columns=["lead_id", "converted", "sales_status"])
    model = LeadModel("logreg_l2", cv=3).fit(X, table["converted"], time_column="created_at")
    as_of = pd.Timestamp("2026-06-01")
    scored = model.score_leads(X.head(3), as_of=as_of)
    expected = ((as_of - X["created_at"].head(3)) / pd.Timedelta(days=1)).round(1).to_numpy()
    np.testing.assert_allclose(scored["age_days"].to_numpy(), expected)
    untimed = LeadModel("logreg_l2", cv=3).fit(X.drop(columns=["created_at"]), table["converted"])
    assert "age_days" not in untimed.score_leads(X.head(3)).columns


def test_a_lead_model_is_a_plain_scikit_learn_classifier(demo_leads: DemoLeads) -> None:
    from sklearn.model_selection import cross_val_score

    table = demo_leads.table
    X = table.drop(columns=["lead_id", "converted", "sales_status"])
    y = (table["converted"] == "yes").astype(int)
    # score(X, y) is scikit-learn's own (accuracy of the contact decision), so the default
    # scoring of cross_val_score and GridSearchCV works
    scores = cross_val_score(LeadModel("logreg_l2", cv=3), X, y, cv=3)
    assert scores.shape == (3,) and ((scores > 0) & (scores <= 1)).all()
    fitted = LeadModel("logreg_l2", cv=3).fit(X, y)
    assert fitted.score(X, y) == pytest.approx((fitted.predict(X) == y).mean())
    auc = cross_val_score(LeadModel("logreg_l2", cv=3), X, y, cv=3, scoring="roc_auc")
    assert (auc > 0.7).all()
