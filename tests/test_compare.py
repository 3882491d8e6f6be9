"""Tests for the cross-validated model comparison (leadscore.modeling.compare)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore import Leaderboard, Settings, compare, train
from leadscore.demo import DemoLeads, generate_leads
from leadscore.errors import LeadscoreError
from leadscore.modeling.folds import make_folds

MODELS = ["logreg_l2", "lightgbm"]
METRIC_COLUMNS = [
    "auc", "auc_std", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier",
    "lift_top10", "recall_top10", "profit", "ece", "fit_seconds",
]  # fmt: skip


def _compare(data, **kwargs) -> Leaderboard:
    kwargs.setdefault("models", MODELS)
    kwargs.setdefault("cv", 3)
    return compare(data, show_progress=False, **kwargs)


@pytest.fixture(scope="module")
def board(demo_leads: DemoLeads) -> Leaderboard:
    return _compare(demo_leads.table)


# ----------------------------------------------------------------------------- the leaderboard


def test_one_row_per_requested_model_with_all_metrics(board: Leaderboard) -> None:
    table = board.table
    assert sorted(table["model"]) == sorted(MODELS)
    assert len(table) == len(MODELS)
    assert set(METRIC_COLUMNS) <= set(table.columns)
    assert table[METRIC_COLUMNS].notna().all().all()
    assert table["auc"].between(0.7, 1.0).all()
    assert (table["fit_seconds"] > 0).all()
    assert table["ece"].between(0, 0.2).all()
    assert (
        table["label"].tolist()
        == table["model"]
        .map({"logreg_l2": "Logistic regression (L2)", "lightgbm": "LightGBM"})
        .tolist()
    )


def test_best_is_the_top_row_and_every_row_was_validated(board: Leaderboard) -> None:
    assert board.sort == "auc"
    assert board.n_folds == 3
    assert not board.profile.small
    assert board.best == board.table["model"].iloc[0]
    assert board.selection_note == "best auc across the folds"
    for name in MODELS:
        result = board.results[name]
        assert not np.isnan(result.oof).any()
        assert len(result.fold_auc) == 3
    assert board.validated.all()


@pytest.mark.parametrize("sort", ["auc", "profit", "log_loss"])
def test_sorted_by_the_sort_key(demo_leads: DemoLeads, board: Leaderboard, sort: str) -> None:
    ranked = board if sort == "auc" else _compare(demo_leads.table, sort=sort)
    values = ranked.table[sort].to_numpy()
    if sort == "log_loss":
        assert (np.diff(values) >= 0).all()
    else:
        assert (np.diff(values) <= 0).all()
    assert ranked.sort == sort
    assert ranked.best == ranked.table["model"].iloc[0]


def test_sales_status_is_left_out_as_a_leakage_suspect(board: Leaderboard) -> None:
    excluded = board.lead_table.excluded
    assert excluded["sales_status"].startswith("leakage suspect")
    assert "sales_status" not in board.lead_table.features.columns
    assert [s.column for s in board.suspects] == ["sales_status"]
    assert excluded["converted"] == "target"
    assert excluded["lead_id"] == "lead id"


def test_keep_puts_a_suspect_back(demo_leads: DemoLeads, board: Leaderboard) -> None:
    kept = _compare(demo_leads.table, models=["logreg_l2"], keep=["sales_status"])
    assert "sales_status" in kept.lead_table.features.columns
    assert "sales_status" not in kept.lead_table.excluded
    (suspect,) = kept.suspects
    assert suspect.column == "sales_status"
    assert suspect.kept
    # the leak makes validation look far better than the honest model
    honest = board.table.set_index("model").loc["logreg_l2", "auc"]
    assert kept.table["auc"].iloc[0] > honest + 0.05


def test_unknown_model_or_sort_key_is_an_error(demo_leads: DemoLeads) -> None:
    with pytest.raises(LeadscoreError, match="nonsense") as info:
        _compare(demo_leads.table, models=["logreg_l2", "nonsense"])
    assert "logreg_l2" in str(info.value)  # lists the valid choices
    with pytest.raises(LeadscoreError, match="cannot sort by 'nonsense'") as info:
        _compare(demo_leads.table, sort="nonsense")
    assert "profit" in str(info.value)


def test_leaderboard_files_round_trip(board: Leaderboard, tmp_path: Path) -> None:
    csv = board.write(tmp_path / "out" / "board.csv")
    back = pd.read_csv(csv)
    assert list(back.columns) == list(board.table.columns)
    assert back["model"].tolist() == board.table["model"].tolist()
    np.testing.assert_allclose(back[METRIC_COLUMNS], board.table[METRIC_COLUMNS], rtol=1e-9)

    path = board.write(tmp_path / "board.json")
    data = json.loads(path.read_text())
    assert data["sort"] == "auc"
    assert data["best"] == board.best
    assert data["selection_note"] == board.selection_note
    assert data["folds"] == 3
    assert data["rows"] == 1500
    assert data["positive_rate"] == pytest.approx(board.lead_table.positive_rate)
    assert data["excluded"]["sales_status"].startswith("leakage suspect")
    assert [m["model"] for m in data["models"]] == board.table["model"].tolist()
    for record, (_, row) in zip(data["models"], board.table.iterrows(), strict=True):
        for metric in METRIC_COLUMNS:
            # JSON keeps 10 decimals
            assert record[metric] == pytest.approx(row[metric], rel=1e-6, abs=1e-9)
    assert set(data["baselines"]) >= {"threshold", "profit", "contact_all_profit"}

    with pytest.raises(LeadscoreError, match=r"\.csv or \.json"):
        board.write(tmp_path / "board.xlsx")


def test_large_tables_are_compared_on_a_sample_and_trained_on_all(
    demo_leads: DemoLeads,
) -> None:
    settings = Settings(max_compare_rows=1000)
    board = _compare(demo_leads.table, models=["logreg_l2"], settings=settings)
    assert board.full_table is not None
    assert board.full_table.n_rows == 1500
    assert board.lead_table.n_rows == pytest.approx(1000, abs=1)
    rate = board.full_table.positive_rate
    assert board.lead_table.positive_rate == pytest.approx(rate, abs=0.005)
    model = train(
        demo_leads.table, models=["logreg_l2"], cv=3, settings=settings, show_progress=False
    )
    assert model.metadata_["rows"] == 1500


# ----------------------------------------------------------------------------- folds


def test_time_ordered_folds_validate_on_the_future() -> None:
    rng = np.random.default_rng(0)
    n = 300
    hours = rng.permutation(n)  # unique times in shuffled row order
    times = pd.Series(pd.Timestamp("2026-01-01") + pd.to_timedelta(hours, unit="h"))
    y = (rng.random(n) < 0.3).astype(int)
    folds = make_folds(y, times, n_splits=4)
    assert len(folds) == 4
    validated = np.concatenate([val for _, val in folds])
    assert len(validated) == len(set(validated))  # each row validated at most once
    oldest = np.argsort(hours)[: n // 5]
    assert not set(oldest) & set(validated)  # the oldest block only ever trains
    for train_idx, val_idx in folds:
        assert not set(train_idx) & set(val_idx)
        assert times.iloc[val_idx].min() > times.iloc[train_idx].max()


def test_compare_with_a_time_column_uses_time_ordered_folds(demo_leads: DemoLeads) -> None:
    board = _compare(demo_leads.table, models=["logreg_l2"], time="created_at")
    assert board.lead_table.time is not None
    assert board.n_folds == 3
    # four time blocks: the oldest one is never validated
    assert board.validated.sum() == pytest.approx(0.75 * 1500, abs=2)
    never = ~board.validated
    assert board.lead_table.time[never].max() < board.lead_table.time[~never].min()


def test_stratified_folds_cover_every_row_once_per_repeat() -> None:
    y = np.array([1] * 20 + [0] * 80)
    folds = make_folds(y, None, n_splits=5, repeats=3, seed=7)
    assert len(folds) == 15
    for r in range(3):
        repeat = folds[5 * r : 5 * r + 5]
        validated = np.sort(np.concatenate([val for _, val in repeat]))
        np.testing.assert_array_equal(validated, np.arange(100))
        for train_idx, val_idx in repeat:
            assert len(set(train_idx) | set(val_idx)) == 100
            assert not set(train_idx) & set(val_idx)
            assert y[val_idx].sum() == 4  # stratified: a fifth of the positives
    # the repeats are different shuffles
    assert not np.array_equal(folds[0][1], folds[5][1])


def test_stratified_folds_shrink_to_the_smaller_class() -> None:
    y = np.array([1] * 12 + [0] * 50)
    assert len(make_folds(y, None, n_splits=20)) == 12
    with pytest.raises(LeadscoreError, match="only 3 converted lead"):
        make_folds(np.array([1] * 3 + [0] * 50), None, n_splits=5)


# ----------------------------------------------------------------------------- hard data


def test_small_data_uses_repeated_cv_and_the_one_standard_error_rule() -> None:
    table = generate_leads(120, seed=5, positive_rate=0.2).table
    assert 15 <= (table["converted"] == "yes").sum() <= 35
    board = _compare(table)
    assert board.profile.small
    assert board.n_folds == 3
    for name in MODELS:
        assert len(board.results[name].fold_auc) == 9  # 3 repeats x 3 folds
    assert "small data" in board.selection_note or "no simpler model" in board.selection_note
    ranked = board.table.set_index("model")
    top = board.table.iloc[0]
    chosen = ranked.loc[board.best]
    se = top["auc_std"] / np.sqrt(board.n_folds)
    assert chosen["auc"] >= top["auc"] - se - 1e-12
    assert chosen["complexity"] == ranked.loc[ranked["auc"] >= top["auc"] - se, "complexity"].min()


def test_imbalanced_data() -> None:
    table = generate_leads(20_000, positive_rate=0.01).table
    rate = (table["converted"] == "yes").mean()
    board = _compare(table)
    assert sorted(board.table["model"]) == sorted(MODELS)
    for _, row in board.table.iterrows():
        assert row["auc"] > 0.75
        assert np.isfinite(row["pr_auc"]) and row["pr_auc"] > 2 * rate
        assert np.isfinite(row["lift_top10"]) and row["lift_top10"] > 2
        assert np.isfinite(row["recall_top10"])


def _with_positives(n_positive: int) -> pd.DataFrame:
    table = generate_leads(400, seed=8).table
    positives = table.index[table["converted"] == "yes"]
    table.loc[positives[n_positive:], "converted"] = "no"
    assert (table["converted"] == "yes").sum() == n_positive
    return table


def test_too_few_conversions_is_a_clear_error() -> None:
    with pytest.raises(LeadscoreError, match=r"(?i)converted|conversion|positive"):
        _compare(_with_positives(3))


def test_a_single_conversion_is_a_clear_error() -> None:
    with pytest.raises(LeadscoreError, match=r"(?i)converted|conversion|positive"):
        _compare(_with_positives(1))


# ----------------------------------------------------------------------------- planted effects


def test_trained_model_gets_close_to_the_oracle_on_fresh_leads() -> None:
    model = train(
        generate_leads(8000, seed=11).table, models=["logreg_l2"], cv=3, show_progress=False
    )
    fresh = generate_leads(4000, seed=12)
    y = (fresh.table["converted"] == "yes").to_numpy()
    oracle = roc_auc_score(y, fresh.truth["true_probability"])
    achieved = roc_auc_score(y, model.predict_proba(fresh.table)[:, 1])
    assert achieved <= oracle + 0.01
    assert achieved >= oracle - 0.03


# ----------------------------------------------------------------------------- racing


def test_race_survivors_are_the_leaders_and_the_close() -> None:
    from leadscore.modeling.compare import race_survivors

    first = {"a": 0.90, "b": 0.895, "c": 0.85, "d": 0.84, "e": 0.83, "f": 0.82, "g": 0.70}
    assert race_survivors(first) == {"a", "b", "c", "d", "e"}
    close = {"a": 0.90, "b": 0.899, "c": 0.898, "d": 0.897, "e": 0.896, "f": 0.8905, "g": 0.80}
    assert race_survivors(close) == {"a", "b", "c", "d", "e", "f"}


def test_race_folds_only_where_a_race_is_fair() -> None:
    from leadscore.modeling.compare import race_folds

    folds = make_folds(np.array([0, 1] * 100), None, n_splits=5)
    assert race_folds(folds, forward=False, small=False, n_candidates=11) == [0, 1]
    assert race_folds(folds, forward=True, small=False, n_candidates=11) == [3, 4]
    assert race_folds(folds, forward=False, small=True, n_candidates=11) is None
    assert race_folds(folds, forward=False, small=False, n_candidates=4) is None


def test_the_whole_zoo_races_and_the_chosen_model_ran_every_fold(
    demo_leads: DemoLeads,
) -> None:
    board = _compare(demo_leads.table.drop(columns=["sales_status"]), models=None, cv=5)
    table = board.table.set_index("model")
    assert table["complete"].sum() >= 5
    assert table.loc[board.best, "complete"] and table.loc[board.best, "folds_run"] == 5
    stopped = table[~table["complete"]]
    assert len(stopped) >= 1  # the decision tree, at least, trails by more than 0.01
    assert (stopped["folds_run"] == 2).all()
    for name in stopped.index:
        result = board.results[name]
        assert result.n_folds == 2 and len(result.fold_auc) == 2
        # its figures come from the rows of the two folds it ran
        assert np.isfinite(result.oof).sum() == sum(len(board.folds[f][1]) for f in (0, 1))
