"""Tests for hyperparameter search inside the comparison (leadscore.modeling.tuning)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.config import Settings
from leadscore.demo import generate_leads
from leadscore.errors import ConfigError
from leadscore.lifecycle.compare import compare
from leadscore.lifecycle.train import train
from leadscore.modeling import tuning as tuning_module
from leadscore.modeling.families import FAMILIES, DataProfile, get_families
from leadscore.modeling.folds import make_folds
from leadscore.modeling.leaderboard import summarise
from leadscore.modeling.model import LeadModel
from leadscore.modeling.preprocess import plan_columns
from leadscore.modeling.tuning import auto_budget, parse_budget, tune

QUIET = {"show_progress": False, "track": False}


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    return generate_leads(1200, seed=21).table.drop(columns=["sales_status"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("2m", 120.0), ("1.5min", 90.0), ("45", 45.0), ("0", 0.0), (30, 30.0)],
)
def test_parse_budget(text: str | int, seconds: float) -> None:
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["fast", "-5s", "10 parsecs"])
def test_parse_budget_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ConfigError, match="budget"):
        parse_budget(text)


def test_auto_budget_follows_the_comparison_within_bounds() -> None:
    assert auto_budget(1.0) == 8.0
    assert auto_budget(30.0) == 15.0
    assert auto_budget(500.0) == 60.0
    large = DataProfile(70_000, 1_050)
    assert auto_budget(30.0, large) == 15.0
    # small tables keep their defaults: a search there mostly fits noise
    assert auto_budget(30.0, DataProfile(6_468, 2_493)) == 0.0
    assert auto_budget(30.0, DataProfile(50_000, 150)) == 0.0


def test_tune_searches_the_space_on_the_given_folds(leads: pd.DataFrame) -> None:
    board = compare(leads, models=["logreg_l2"], **QUIET)
    table, y = board.lead_table, board.lead_table.y.astype(int)
    (candidate,) = get_families(["logreg_l2"])
    folds = make_folds(y, None, 3, 1, 0)
    plan = plan_columns(table.features, table.kinds)
    profile = DataProfile(table.n_rows, int(y.sum()))
    result = tune(
        candidate, table.features, y, folds=folds, plan=plan, profile=profile,
        business=Settings().business, default_value=0.0, budget_s=4.0, keep_models=True,
    )  # fmt: skip
    assert result.trials >= 2
    assert 1e-3 <= result.params["C"] <= 30.0
    assert result.improved  # against a default of 0
    assert result.result is not None and len(result.result.models) == len(folds)
    assert result.seconds < 4.0 + 5.0  # stops at the budget (a running fold may finish)
    # the value is the leaderboard's own metric on the best trial's out-of-fold scores
    row = summarise({"logreg_l2": result.result}, y, Settings().business).iloc[0]
    assert row["auc"] == pytest.approx(result.value)
    model = result.result.models[0].named_steps["model"]
    assert pytest.approx(result.params["C"]) == model.C


def test_train_uses_the_tuned_settings_when_they_win(
    leads: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the search itself is under test, not whether this machine's load leaves time for it
    monkeypatch.setattr(tuning_module, "worth_searching", lambda names, trial_s, budget_s: names)
    model = train(leads, models=["lightgbm"], budget="6s", out=tmp_path / "m", **QUIET)
    (tuning,) = model.metadata_["tuning"]
    assert tuning["model"] == "lightgbm" and tuning["trials"] >= 1
    if tuning["improved"]:
        assert model.params == tuning["params"] == model.metadata_["params"]
        member = model.pipeline_.members_[0].named_steps["model"]
        assert member.num_leaves == tuning["params"]["num_leaves"]
    else:
        assert not model.params and model.metadata_["params"] == {}
    again = LeadModel.load(tmp_path / "m")
    np.testing.assert_allclose(
        again.predict_proba(leads.head(20))[:, 1], model.predict_proba(leads.head(20))[:, 1]
    )


def test_compare_without_a_budget_searches_nothing(leads: pd.DataFrame) -> None:
    board = compare(leads, models=["logreg_l2", "lightgbm"], **QUIET)
    assert board.tuning == {} and board.params == {}
    assert not board.table["tuned"].any()


def test_every_space_gives_settings_its_estimator_accepts() -> None:
    import optuna

    profile = DataProfile(5000, 600)
    tuned = [f for f in FAMILIES.values() if f.space is not None]
    assert {f.name for f in tuned} >= {"lightgbm", "xgboost", "catboost", "logreg_l2"}
    for family in tuned:
        assert family.space is not None
        params = family.space(optuna.trial.FixedTrial(_lowest(family.space, profile)), profile)
        estimator = family.make(profile, [], 0)
        estimator.set_params(**params)  # raises on a name the estimator does not have


def _lowest(space, profile: DataProfile) -> dict[str, float]:
    """Each parameter at the low end of its range, read off a recording trial."""
    import optuna

    study = optuna.create_study()
    trial = study.ask()
    space(trial, profile)
    return {k: d.low for k, d in trial.distributions.items()}


def test_cli_budget(leads: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    leads.to_csv(data, index=False)
    runner = CliRunner()
    bad = runner.invoke(app, ["compare", str(data), "--budget", "soon"])
    assert bad.exit_code == 2 and "budget" in bad.output
    done = runner.invoke(
        app,
        ["compare", str(data), "--models", "logreg_l2", "--budget", "5s", "--quiet",
         "--out", str(tmp_path / "board.json")],
        env={"LEADSCORE_TRACKING": "false"},
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "tuned logreg_l2" in done.output
    board = pd.read_json(tmp_path / "board.json", typ="series")
    assert board["tuning"][0]["model"] == "logreg_l2"
