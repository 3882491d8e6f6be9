"""Tests for leakage decided on evidence (leadscore.modeling.leakage) and its faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.config import LeakageSettings, Settings
from leadscore.demo import generate_leads
from leadscore.errors import DataError
from leadscore.lifecycle.compare import compare
from leadscore.modeling.audit import audit
from leadscore.modeling.dictionary import described_after_outcome, read_dictionary
from leadscore.modeling.leakage import pure_levels


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    # no sales_status: only the columns planted below can be suspects
    return generate_leads(3000, seed=11).table.drop(columns=["sales_status"])


@pytest.fixture(scope="module")
def converted(demo: pd.DataFrame) -> np.ndarray:
    return demo["converted"].eq("yes").to_numpy().astype(int)


def _engagement(y: np.ndarray, seed: int) -> np.ndarray:
    """A legitimate behaviour score: strong (AUC ≈ 0.9) but not a restatement of y."""
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(0, 1, len(y)) + 1.9 * y, 3)


def _suspect(report, column: str):
    return next((s for s in report.leakage_suspects if s.column == column), None)


def test_a_strong_column_without_evidence_is_kept_and_measured(
    demo: pd.DataFrame, converted: np.ndarray
) -> None:
    report = audit(demo.assign(engagement_index=_engagement(converted, 0)))
    suspect = _suspect(report, "engagement_index")
    assert suspect is not None, "a column this strong is reported"
    assert suspect.verdict == "strong" and suspect.kept
    assert suspect.auc >= 0.85
    assert report.leakage_columns == []
    assert report.strong_columns == ["engagement_index"]
    # the numbers a person decides with: the model leans on it
    assert suspect.auc_with is not None and suspect.auc_without is not None
    assert suspect.auc_with > suspect.auc_without + 0.05
    flags = next(c.flags for c in report.columns if c.name == "engagement_index")
    assert "strong: confirm" in flags and "leakage suspect" not in flags


def test_strict_leakage_leaves_strong_columns_out(
    demo: pd.DataFrame, converted: np.ndarray
) -> None:
    frame = demo.assign(engagement_index=_engagement(converted, 0))
    strict = Settings(tracking=False, leakage=LeakageSettings(strict=True))
    report = audit(frame, settings=strict)
    suspect = _suspect(report, "engagement_index")
    assert suspect.verdict == "strong" and not suspect.kept
    assert report.leakage_columns == ["engagement_index"]
    board = compare(frame, settings=strict, models=["logreg_l2"], show_progress=False, track=False)
    assert "engagement_index" not in board.lead_table.features.columns
    assert "strict" in board.lead_table.excluded["engagement_index"]
    default = compare(frame, models=["logreg_l2"], show_progress=False, track=False)
    assert "engagement_index" in default.lead_table.features.columns


def test_a_number_that_restates_the_outcome_is_determined(
    demo: pd.DataFrame, converted: np.ndarray
) -> None:
    # the amount spent: zero for every lost lead, positive for every converted one
    rng = np.random.default_rng(1)
    spent = np.where(converted == 1, np.round(rng.gamma(2.0, 80.0, len(converted)), 2) + 1, 0.0)
    report = audit(demo.assign(amount_spent=spent))
    suspect = _suspect(report, "amount_spent")
    assert suspect is not None and suspect.verdict == "leak" and not suspect.kept
    assert suspect.check == "determined"
    assert "restates the outcome" in suspect.reason


def test_levels_that_never_convert_alone_are_not_evidence(
    demo: pd.DataFrame, converted: np.ndarray
) -> None:
    # a behaviour category where one common level never converts (e.g. "bounced"): pure on
    # one side only, as behaviour often is; a status has both won-like and lost-like levels
    rng = np.random.default_rng(2)
    path = np.where(
        converted == 1,
        rng.choice(["pricing", "docs", "blog"], len(converted)),
        rng.choice(["pricing", "docs", "blog", "bounced"], len(converted), p=[0.2, 0.2, 0.2, 0.4]),
    )
    pure = pure_levels(pd.Series(path), converted, "categorical")
    assert [level for level, *_ in pure.lost] == ["bounced"]
    assert pure.converted == [] and pure.coverage == 0.0
    report = audit(demo.assign(landing_path=path))
    assert "landing_path" not in report.leakage_columns


def test_status_like_levels_of_both_kinds_are_evidence(
    demo: pd.DataFrame, converted: np.ndarray
) -> None:
    # codes that say nothing by name, but some levels are all won and some all lost
    rng = np.random.default_rng(3)
    n = len(converted)
    code = np.where(
        converted == 1,
        np.where(rng.random(n) < 0.6, "K7", rng.choice(["A1", "B2"], n)),
        np.where(rng.random(n) < 0.25, "Z9", rng.choice(["A1", "B2"], n)),
    )
    report = audit(demo.assign(code=code))
    suspect = _suspect(report, "code")
    assert suspect is not None and suspect.verdict == "leak"
    assert "pure_levels" in suspect.checks
    assert any("'K7'" in e for e in suspect.evidence) and any("'Z9'" in e for e in suspect.evidence)


# ----------------------------------------------------------------------------- dictionary


def test_read_dictionary_continues_merged_cells_and_finds_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "dictionary.csv"
    path.write_text(
        "Notes,Variable,Description\n"
        "x,source,Where the lead came from\n"
        ",owner_rating,A rating assigned to each lead by the sales rep\n"
        ",owner_rating_2,\n"
        ",visits,Number of visits\n",
        encoding="latin-1",
    )
    described = read_dictionary(path)
    assert described["source"] == "Where the lead came from"
    assert described["owner_rating_2"] == described["owner_rating"]  # merged cell
    assert described_after_outcome(described["owner_rating"]) == "assigned"
    assert described_after_outcome(described["visits"]) is None
    assert described_after_outcome("Where the lead came from") is None
    assert described_after_outcome("The current status of the lead") == "current status"
    assert described_after_outcome("Last activity performed by the customer") is not None


def test_read_dictionary_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_dictionary(tmp_path / "missing.csv")
    one = tmp_path / "one.csv"
    one.write_text("column\nsource\n")
    with pytest.raises(DataError, match="two columns"):
        read_dictionary(one)


def test_a_described_column_is_left_out_whatever_its_strength(
    demo: pd.DataFrame, converted: np.ndarray, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    # weak signal (AUC ≈ 0.58) and a neutral name: only the description gives it away
    band = np.where(rng.random(len(converted)) < 0.35 + 0.25 * converted, "A", "B")
    frame = demo.assign(lead_band=band)
    assert _suspect(audit(frame), "lead_band") is None
    path = tmp_path / "dictionary.csv"
    path.write_text(
        "Column,Description\n"
        "lead_band,A lead level assigned to each customer by the account team\n"
        "source,The source of the lead\n"
    )
    settings = Settings(tracking=False, leakage=LeakageSettings(dictionary=path))
    report = audit(frame, settings=settings)
    suspect = _suspect(report, "lead_band")
    assert suspect is not None and suspect.check == "dictionary" and not suspect.kept
    assert "assigned" in suspect.reason
    assert report.leakage_columns == ["lead_band"]


def test_cli_dictionary_and_strict_leakage(
    demo: pd.DataFrame, converted: np.ndarray, tmp_path: Path
) -> None:
    frame = demo.assign(
        engagement_index=_engagement(converted, 5),
        lead_band=np.where(converted == 1, "A", "B"),
    )
    data = tmp_path / "leads.csv"
    frame.to_csv(data, index=False)
    dictionary = tmp_path / "dictionary.csv"
    dictionary.write_text("Column,Description\nlead_band,Tagged by the sales team\n")
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["audit", str(data), "--dictionary", str(dictionary), "--json", str(tmp_path / "a.json")],
    )
    assert result.exit_code == 0, result.output
    assert "Strong columns" in result.output and "engagement_index" in result.output
    report = pd.read_json(tmp_path / "a.json", typ="series")
    verdicts = {s["column"]: (s["verdict"], s["kept"]) for s in report["leakage_suspects"]}
    assert verdicts["lead_band"] == ("leak", False)
    assert verdicts["engagement_index"] == ("strong", True)
    strict = runner.invoke(
        app, ["audit", str(data), "--strict-leakage", "--json", str(tmp_path / "s.json")]
    )
    assert strict.exit_code == 0, strict.output
    report = pd.read_json(tmp_path / "s.json", typ="series")
    verdicts = {s["column"]: (s["verdict"], s["kept"]) for s in report["leakage_suspects"]}
    assert verdicts["engagement_index"] == ("strong", False)
    missing = runner.invoke(app, ["audit", str(data), "--dictionary", str(tmp_path / "no.csv")])
    assert missing.exit_code == 2
    assert "no.csv" in missing.output
