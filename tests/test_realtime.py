"""Real-time scoring (leadscore.scoring.realtime): one lead as a dict, the batch's scores."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore import LeadModel
from leadscore.demo import DemoLeads, generate_leads
from leadscore.errors import LeadscoreError, SchemaError
from leadscore.scoring import dense
from leadscore.scoring.contributions import contributions
from leadscore.scoring.occlusion import CompiledTrees
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.scoring.reasons import reasons

NOT_FEATURES = ["lead_id", "converted", "sales_status"]
#: family → the path FastScorer compiles it to
FAMILIES = {
    "lightgbm": "booster",
    "xgboost": "booster",
    "logreg_l2": "linear",
    "extra_trees": "trees",
    "decision_tree": "trees",
    "naive_bayes": "linear",
    "mlp": "dense",
    "hist_gb": "trees",
    "catboost": "booster",
}


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    """Unlabelled leads the models have never seen, with placeholders and gaps in them."""
    table = generate_leads(120, seed=12, labelled=False).table
    table.loc[0, "source"] = "Select"  # a CRM placeholder: missing
    table.loc[1, "source"] = "a source never seen in training"
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    table.loc[2, numeric[0]] = np.nan
    return table


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def fitted(request: pytest.FixtureRequest, demo_leads: DemoLeads) -> LeadModel:
    table = demo_leads.table
    return LeadModel(request.param, cv=3).fit(
        table.drop(columns=NOT_FEATURES), table["converted"], id_column="lead_id"
    )


def test_compiles_to_the_fast_path_of_its_family(fitted: LeadModel) -> None:
    assert FastScorer(fitted).mode == FAMILIES[fitted.model]


def test_single_leads_score_exactly_as_the_batch(fitted: LeadModel, fresh: pd.DataFrame) -> None:
    scorer = FastScorer(fitted)
    batch = fitted.score_leads(fresh)
    results = scorer.score_many(fresh.to_dict("records"))
    np.testing.assert_allclose([r.score for r in results], batch["score"], rtol=0, atol=1e-6)
    assert [r.segment for r in results] == batch["segment"].tolist()
    assert [r.contact for r in results] == batch["contact"].tolist()
    assert [r.score_100 for r in results] == batch["score_100"].tolist()
    one = scorer.score(fresh.iloc[5].to_dict())
    assert one.score == pytest.approx(batch["score"].iloc[5], abs=1e-6)


def test_reasons_are_the_batch_reasons(
    fitted: LeadModel, fresh: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dense, "SWAP_CHUNK", 4)  # swapped rows in several calls
    scorer = FastScorer(fitted)
    rows = fresh.head(15)
    fast = scorer._contributions([scorer.clean(r) for r in rows.to_dict("records")])
    batch = contributions(fitted, rows)
    np.testing.assert_allclose(fast.values, batch.values, atol=1e-9)
    np.testing.assert_allclose(fast.base, batch.base, atol=1e-9)
    expected = reasons(fitted, rows, 3)
    found = scorer.score_many(rows.to_dict("records"), 3)
    for result, (up, down) in zip(found, expected, strict=True):
        assert [r.field for r in result.reasons_up] == [r.field for r in up]
        assert [r.field for r in result.reasons_down] == [r.field for r in down]
        assert [r.text for r in result.reasons_up] == [r.text for r in up]


def test_a_level_spelling_another_fields_name_is_credited_to_its_own_field(
    demo_leads: DemoLeads,
) -> None:
    """Level 'medium' of 'source' is encoded as ``source_medium``, the name of the field
    beside it: the real-time linear terms credit each one-hot column by the encoder."""
    table = demo_leads.table.drop(columns=NOT_FEATURES)
    rng = np.random.default_rng(0)
    X = table.assign(source_medium=rng.choice(["cpc", "organic"], len(table)))
    X.loc[X.index[::10], "source"] = "medium"
    model = LeadModel("logreg_l2", cv=2).fit(X, demo_leads.table["converted"])
    scorer = FastScorer(model)
    lead = X.iloc[[1]].assign(source="google")
    rows = pd.concat([lead, lead.assign(source="medium")], ignore_index=True)
    fast = scorer._contributions([scorer.clean(r) for r in rows.to_dict("records")])
    np.testing.assert_allclose(fast.values, contributions(model, rows).values, atol=1e-9)
    change = pd.Series(fast.values[1] - fast.values[0], index=fast.fields)
    assert change["source"] != 0
    assert change.drop("source").abs().max() < 1e-12


@pytest.mark.parametrize(
    ("family", "mode"),
    [("logreg_l2", "linear"), ("mlp", "dense"), ("extra_trees", "trees")],
)
def test_a_target_encoded_field_scores_and_explains_as_the_batch(
    demo_leads: DemoLeads, family: str, mode: str
) -> None:
    """A field of many levels is target encoded (then scaled, for the linear encoding):
    the real-time scorers read its levels off the fitted target encoder."""
    table = demo_leads.table
    rng = np.random.default_rng(1)
    cities = rng.choice([f"city {i}" for i in range(300)], len(table))
    X = table.drop(columns=NOT_FEATURES).assign(city=cities)
    model = LeadModel(family, cv=2).fit(X, table["converted"])
    encode = model.pipeline_.members_[0].named_steps["prep"].named_steps["encode"]
    assert [c for name, _, c in encode.transformers_ if name == "target"] == [["city"]]
    scorer = FastScorer(model)
    assert scorer.mode == mode
    rows = pd.concat([X.head(10), X.head(2).assign(city="a city never seen")], ignore_index=True)
    results = scorer.score_many(rows.to_dict("records"))
    np.testing.assert_allclose(
        [r.score for r in results], model.score_leads(rows)["score"], rtol=0, atol=1e-6
    )
    fast = scorer._contributions([scorer.clean(r) for r in rows.to_dict("records")])
    np.testing.assert_allclose(fast.values, contributions(model, rows).values, atol=1e-9)


@pytest.mark.parametrize("fitted", ["logreg_l2"], indirect=True)
def test_a_logistic_regressions_folds_are_averaged_into_one_set_of_terms(
    fitted: LeadModel, fresh: pd.DataFrame
) -> None:
    ensemble = FastScorer(fitted).terms
    assert ensemble is not None and ensemble.averaged is not None
    assert len(ensemble.members) > 1
    rows = [FastScorer(fitted).clean(r) for r in fresh.to_dict("records")]
    averaged = ensemble.explain(rows)
    ensemble.averaged = None  # each fold model in turn, as the definition says
    one_by_one = ensemble.explain(rows)
    for fast, slow in zip(averaged, one_by_one, strict=True):
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_missing_and_placeholder_fields_score_like_missing(demo_leads: DemoLeads) -> None:
    table = demo_leads.table
    model = LeadModel("lightgbm", cv=3).fit(table.drop(columns=NOT_FEATURES), table["converted"])
    scorer = FastScorer(model)
    row = generate_leads(1, seed=3, labelled=False).table.iloc[0].to_dict()
    absent = {k: v for k, v in row.items() if k != "source"}
    placeholder = {**row, "source": "Select"}
    none = {**row, "source": None}
    scores = {scorer.score(r).score for r in (absent, placeholder, none)}
    assert len(scores) == 1
    assert scores.pop() == pytest.approx(
        model.score_leads(pd.DataFrame([none]))["score"].iloc[0], abs=1e-9
    )


def test_a_value_of_the_wrong_type_names_the_field(demo_leads: DemoLeads) -> None:
    table = demo_leads.table
    model = LeadModel("logreg_l2", cv=3).fit(table.drop(columns=NOT_FEATURES), table["converted"])
    numeric = next(c.name for c in model.schema_.columns if c.kind == "numeric")
    row = generate_leads(1, seed=3, labelled=False).table.iloc[0].to_dict()
    with pytest.raises(SchemaError, match=numeric):
        FastScorer(model).score({**row, numeric: "lots"})
    assert math.isfinite(FastScorer(model).score({**row, numeric: "12"}).score)


@pytest.mark.parametrize("fitted", ["lightgbm"], indirect=True)
def test_a_saved_lightgbm_model_loads_with_its_trees_parsed(
    fitted: LeadModel, fresh: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service compiles a reloaded model without parsing LightGBM's text model again
    (what held the interpreter longest during a reload), and scores the same."""
    from leadscore.scoring.treeshap import parse

    loaded = LeadModel.load(fitted.save(tmp_path / "model"))
    parses: list[int] = []
    monkeypatch.setattr(parse, "_parse_model", lambda text: parses.append(1))
    scorer = FastScorer(loaded)
    assert parses == [] and scorer.forest is not None
    rows = fresh.drop(columns=["lead_id"]).head(20).to_dict("records")
    assert [r.score for r in scorer.score_many(rows, 3)] == [
        r.score for r in FastScorer(fitted).score_many(rows, 3)
    ]


def test_a_detached_scorer_travels_by_pickle_and_scores_the_same(
    fitted: LeadModel, fresh: pd.DataFrame
) -> None:
    """What the loader process sends the service: the scorer without the estimators it
    does not call, which scores and explains exactly as the scorer it came from."""
    scorer = FastScorer(fitted)
    needs = FAMILIES[fitted.model] == "batch" or fitted.model in ("xgboost", "catboost")
    assert scorer.needs_estimators is needs
    detached = scorer.detached()
    travelled = pickle.loads(pickle.dumps(detached, protocol=pickle.HIGHEST_PROTOCOL))
    travelled.warm()
    rows = fresh.head(30).to_dict("records")
    assert travelled.score_many(rows, 3) == scorer.score_many(rows, 3)
    assert travelled.score(rows[0], 3) == scorer.score(rows[0], 3)
    if needs:  # nothing to leave out: the scorer itself, with its model
        assert detached is scorer
        return
    light = travelled.model
    assert light.schema_.names == fitted.schema_.names and light.cutoffs_ == fitted.cutoffs_
    with pytest.raises(LeadscoreError, match="without its fitted estimators"):
        light.predict_proba(fresh.head(2))
    with pytest.raises(LeadscoreError, match="without its fitted estimators"):
        light.save(Path("never-written"))
    assert not Path("never-written").exists()
    pipeline = fitted.pipeline_
    estimator = getattr(pipeline, "members_", [pipeline])[0].named_steps["model"]
    if FAMILIES[fitted.model] == "dense":  # called on numpy rows: the scorer's own copies
        assert travelled.dense is not None and len(travelled.dense.estimators) == 3
        return
    assert type(estimator).__name__.encode() not in pickle.dumps(detached)  # none left in it


def test_compiled_trees_that_disagree_with_the_pipeline_are_not_used(
    demo_leads: DemoLeads, fresh: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trees are read off fitted attributes: if what is read gives other probabilities
    than the pipeline on the reference leads, the scorer keeps to the batch path."""
    table = demo_leads.table
    X, y = table.drop(columns=NOT_FEATURES), table["converted"]
    model = LeadModel("decision_tree", cv=2).fit(X, y)
    assert FastScorer(model).mode == "trees"
    compile_trees = CompiledTrees.from_sklearn

    def misread(cls: type, *args: object) -> CompiledTrees:
        trees = compile_trees(*args)
        trees.nodes.value[:] = trees.nodes.value * 0.9  # every leaf read 10 % low
        return trees

    monkeypatch.setattr(CompiledTrees, "from_sklearn", classmethod(misread))
    scorer = FastScorer(model)
    assert scorer.mode == "batch"
    rows = fresh.head(5)
    np.testing.assert_allclose(
        [r.score for r in scorer.score_many(rows.to_dict("records"))],
        model.score_leads(rows)["score"],
    )
