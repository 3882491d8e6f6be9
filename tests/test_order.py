"""Tests for rows found in time order and forward validation (modeling.order, selection)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from leadscore.config import Roles, Settings
from leadscore.data.lead_table import prepare_table
from leadscore.demo import generate_leads
from leadscore.lifecycle.compare import compare
from leadscore.lifecycle.train import train
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.families import DataProfile
from leadscore.modeling.leaderboard import latest_rows
from leadscore.modeling.order import detect_row_order
from leadscore.modeling.selection import choose, paired_se

QUIET = {"show_progress": False, "track": False}


def _drifting(seed: int = 0) -> pd.DataFrame:
    """Two periods one after the other, the later converting three times as often, with
    the creation date left out: only the file order says when a lead came in."""
    early = generate_leads(1400, seed=seed, positive_rate=0.06).table
    late = generate_leads(600, seed=seed + 1, positive_rate=0.25).table
    frame = pd.concat([early, late], ignore_index=True)
    return frame.drop(columns=["created_at", "sales_status"])


def _table(frame: pd.DataFrame):
    return prepare_table(frame, Roles(target="converted", id="lead_id"), Settings())


def test_a_drifting_file_is_found_in_time_order() -> None:
    found = detect_row_order(_table(_drifting()))
    assert found.ordered
    assert "drifts along the file" in found.reason
    assert found.early_rate < 0.1 < 0.2 < found.late_rate
    assert found.drift_p < 1e-6


def test_the_same_rows_shuffled_are_not() -> None:
    shuffled = _drifting().sample(frac=1.0, random_state=3).reset_index(drop=True)
    found = detect_row_order(_table(shuffled))
    assert not found.ordered
    assert found.drift_p > 1e-6
    assert found.adversarial_auc < 0.6


def test_a_file_sorted_by_date_without_drift_keeps_shuffled_folds() -> None:
    # the demo export is sorted by created_at, and its leads behave the same all along
    table = _table(generate_leads(2000, seed=4).table.drop(columns=["sales_status"]))
    found = detect_row_order(table)
    assert found.sorted_by == "created_at"
    assert not found.ordered


def test_a_file_sorted_by_the_outcome_is_a_sort() -> None:
    frame = _drifting().sort_values("converted", kind="stable").reset_index(drop=True)
    found = detect_row_order(_table(frame))
    assert not found.ordered
    assert "sorted by the outcome" in found.reason


def test_the_user_says_what_the_order_is() -> None:
    table = _table(_drifting())
    assert not detect_row_order(table, "random").ordered
    shuffled = _table(_drifting().sample(frac=1.0, random_state=1))
    assert detect_row_order(shuffled, "time").ordered


def test_compare_and_train_validate_forward_on_a_drifting_file() -> None:
    frame = _drifting()
    board = compare(frame, models=["logreg_l2", "lightgbm"], **QUIET)
    assert board.row_order is not None and board.row_order.ordered
    assert board.validation.startswith("forward in file order")
    # forward-chaining blocks: the first never validates, every other row once
    n = board.lead_table.n_rows
    assert board.validated[: n // 6].sum() == 0
    assert board.validated[n // 6 + 1 :].all()
    for train_rows, test_rows in board.folds:
        assert train_rows.max() < test_rows.min()
    assert "auc_latest" in board.table.columns
    model = train(frame, models=["logreg_l2"], show_progress=False, track=False)
    # early folds saw only old leads: the final model is refitted on all of them
    assert not isinstance(model.pipeline_, FoldEnsemble)
    assert model.metadata_["validation"].startswith("forward in file order")
    shuffled = compare(frame, models=["logreg_l2"], settings=Settings(row_order="random"), **QUIET)
    assert shuffled.validation.startswith("shuffled")
    assert shuffled.validated.all()


def test_latest_rows_are_the_most_recent_fifth_of_the_validated() -> None:
    seen = np.array([False] * 10 + [True] * 90)
    latest = latest_rows(seen, np.arange(100))
    assert latest.sum() == 18 and latest[82:].all() and not latest[:82].any()
    # by a time that runs backwards through the file
    latest = latest_rows(np.ones(10, dtype=bool), np.arange(10)[::-1].astype(float))
    assert latest.tolist() == [True, True] + [False] * 8


@dataclass
class _Result:
    fold_auc: list[float]


def test_forward_choice_prefers_the_latest_leads_among_the_close() -> None:
    table = pd.DataFrame(
        {
            "model": ["catboost", "logreg_l2", "naive_bayes"],
            "auc": [0.700, 0.697, 0.640],
            "auc_std": [0.02, 0.02, 0.02],
            "auc_latest": [0.600, 0.650, 0.700],
            "complexity": [6, 1, 0],
        }
    )
    results = {
        "catboost": _Result([0.72, 0.70, 0.71, 0.68, 0.69]),
        "logreg_l2": _Result([0.71, 0.69, 0.71, 0.69, 0.685]),  # within noise of the best
        "naive_bayes": _Result([0.66, 0.63, 0.65, 0.62, 0.64]),  # clearly behind
    }
    gap, se = paired_se(results["catboost"].fold_auc, results["logreg_l2"].fold_auc)
    assert gap <= se
    profile = DataProfile(5000, 800)
    best, note = choose(table, "auc", profile, 5, results, forward=True)
    assert best == "logreg_l2"
    assert "most recent fifth" in note
    # shuffled folds: the best stays the best
    assert choose(table, "auc", profile, 5, results, forward=False)[0] == "catboost"


@pytest.mark.parametrize("setting", ["sideways", "TIME"])
def test_cli_refuses_an_unknown_row_order(setting: str, tmp_path) -> None:
    from typer.testing import CliRunner

    from leadscore.cli import app

    data = tmp_path / "leads.csv"
    _drifting().head(600).to_csv(data, index=False)
    result = CliRunner().invoke(app, ["compare", str(data), "--row-order", setting])
    assert result.exit_code == 2
    assert "--row-order" in result.output
