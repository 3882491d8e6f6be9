"""Tests for the data-quality and leakage audit (leadscore.modeling.audit)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore.demo import generate_leads
from leadscore.modeling.audit import AuditReport, audit
from leadscore.modeling.leakage import missingness_auc, single_column_auc

NEUTRAL = ("Webinar", "Brochure", "Website visit")


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return generate_leads(3000, seed=3).table


@pytest.fixture(scope="module")
def converted(demo: pd.DataFrame) -> np.ndarray:
    return demo["converted"].eq("yes").to_numpy().astype(int)


@pytest.fixture(scope="module")
def report(demo: pd.DataFrame) -> AuditReport:
    return audit(demo)


def _suspect(report: AuditReport, column: str):
    matches = [s for s in report.leakage_suspects if s.column == column]
    return matches[0] if matches else None


def _flagged(report: AuditReport) -> list[str]:
    return [s.column for s in report.leakage_suspects]


def _with_date_filled(y: np.ndarray, share_pos: float, share_neg: float, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    n = len(y)
    dates = pd.Timestamp("2026-05-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    filled = np.where(y == 1, rng.random(n) < share_pos, rng.random(n) < share_neg)
    return pd.Series(dates.strftime("%Y-%m-%d"), dtype=object).where(filled, None)


def _moderate_two_level(y: np.ndarray, seed: int) -> np.ndarray:
    """Mark "Active" for 70 % of converted and 30 % of other leads: AUC about 0.7."""
    rng = np.random.default_rng(seed)
    active = np.where(y == 1, rng.random(len(y)) < 0.7, rng.random(len(y)) < 0.3)
    return np.where(active, "Active", "Dormant")


def _sales_notes(y: np.ndarray, seed: int) -> np.ndarray:
    """Sales-note values for some leads, neutral values for the rest: AUC about 0.65."""
    rng = np.random.default_rng(seed)
    n = len(y)
    positive = np.where(rng.random(n) < 0.5, "Closed by Bob", "Ringing")
    negative = np.where(rng.random(n) < 0.5, "Lost to competitor", "switched off")
    either = np.where(rng.random(n) < 0.5, positive, negative)
    neutral = rng.choice(NEUTRAL, n)
    return np.where(
        y == 1,
        np.where(rng.random(n) < 0.40, positive, neutral),
        np.where(rng.random(n) < 0.30, either, neutral),
    )


# --- the demo table ----------------------------------------------------------------------------


def test_demo_roles_and_counts(report: AuditReport, converted: np.ndarray) -> None:
    assert report.source == "DataFrame"
    assert report.rows == 3000
    assert report.target == "converted"
    assert report.id == "lead_id"
    assert report.n_positive == int(converted.sum())
    assert report.positive_rate == pytest.approx(converted.mean())


def test_sales_status_is_left_out_on_evidence_not_on_strength(report: AuditReport) -> None:
    suspect = _suspect(report, "sales_status")
    assert suspect is not None
    assert suspect.verdict == "leak"
    # values like "Closed - won", a name like a status: evidence, not only its AUC
    assert suspect.check == "post_contact_values"
    assert {"post_contact_values", "post_contact_name"} <= set(suspect.checks)
    assert suspect.auc >= 0.9
    assert not suspect.kept
    assert report.leakage_columns == ["sales_status"]
    assert any("Closed - won" in e or "Not interested" in e for e in suspect.evidence)
    column = next(c for c in report.columns if c.name == "sales_status")
    assert "leakage suspect" in column.flags


def test_honest_columns_are_not_flagged(report: AuditReport) -> None:
    flagged = _flagged(report)
    for column in ("source", "device", "time_on_site_s", "newsletter", "visits", "created_at"):
        assert column not in flagged
    assert flagged == ["sales_status"]
    by_name = {c.name: c for c in report.columns}
    assert by_name["time_on_site_s"].auc > 0.7  # real signal, but not a leak
    assert by_name["newsletter"].auc == pytest.approx(0.5, abs=0.05)  # pure noise
    assert by_name["lead_id"].status == "lead id"
    assert by_name["converted"].status == "target"


def test_keep_marks_the_suspect_kept(demo: pd.DataFrame) -> None:
    report = audit(demo, keep=["sales_status"])
    suspect = _suspect(report, "sales_status")
    assert suspect is not None and suspect.kept
    assert report.leakage_columns == []


# --- planted leaks -----------------------------------------------------------------------------


def test_date_filled_only_for_converted_leads_is_flagged(
    demo: pd.DataFrame, converted: np.ndarray
) -> None:
    frame = demo.assign(closed_date=_with_date_filled(converted, 1.0, 0.0, seed=0))
    report = audit(frame)
    suspect = _suspect(report, "closed_date")
    assert suspect is not None
    assert suspect.check in ("near_perfect", "missingness")
    column = next(c for c in report.columns if c.name == "closed_date")
    assert column.kind == "datetime"
    assert column.missing_auc == pytest.approx(1.0)


def test_date_filled_mostly_for_converted_leads_is_flagged_by_missingness(
    demo: pd.DataFrame, converted: np.ndarray
) -> None:
    # Filled for 84 % of converted and 8 % of other leads: not near-perfect on its own, but
    # whether it is filled in gives the outcome away.
    closed = _with_date_filled(converted, 0.84, 0.08, seed=1)
    assert 0.85 <= missingness_auc(closed, converted) < 0.9
    report = audit(demo.assign(closed_date=closed))
    suspect = _suspect(report, "closed_date")
    assert suspect is not None
    assert suspect.check == "missingness"
    assert "filled in" in suspect.reason


def test_flag_filled_only_for_converted_leads_is_flagged(
    demo: pd.DataFrame, converted: np.ndarray
) -> None:
    # One value, present only when the lead converted: not a constant column but the
    # strongest possible leak (whether it is filled in *is* the outcome).
    closed = pd.Series(np.where(converted == 1, "yes", None), dtype=object)
    report = audit(demo.assign(deal_closed=closed))
    status = next(c.status for c in report.columns if c.name == "deal_closed")
    assert "deal_closed" in _flagged(report), f"deal_closed: {status}"


def test_post_contact_name_with_moderate_signal(demo: pd.DataFrame, converted: np.ndarray) -> None:
    values = _moderate_two_level(converted, seed=2)
    frame = demo.assign(lead_status=values, engagement_band=values)
    report = audit(frame)
    suspect = _suspect(report, "lead_status")
    assert suspect is not None
    assert suspect.check == "post_contact_name"
    assert suspect.auc == pytest.approx(0.7, abs=0.05)
    # the same values under a neutral name are not suspicious
    assert "engagement_band" not in _flagged(report)


def test_sales_note_values_with_some_signal(demo: pd.DataFrame, converted: np.ndarray) -> None:
    notes = _sales_notes(converted, seed=3)
    neutral_names = {
        "Closed by Bob": "Trade fair",
        "Ringing": "Newsletter",
        "Lost to competitor": "Blog",
        "switched off": "Podcast",
    }
    control = pd.Series(notes).replace(neutral_names).to_numpy()
    report = audit(demo.assign(activity=notes, channel_detail=control))
    suspect = _suspect(report, "activity")
    assert suspect is not None
    assert suspect.check == "post_contact_values"
    assert suspect.auc == pytest.approx(0.65, abs=0.05)
    assert "values like" in " ".join(suspect.evidence)
    assert "channel_detail" not in _flagged(report)


# --- single-column AUC ---------------------------------------------------------------------------


def test_unique_strings_do_not_memorise(converted: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    unique = pd.Series([f"x{v:012x}" for v in rng.integers(0, 2**48, len(converted))])
    assert unique.is_unique
    assert single_column_auc(unique, converted, "categorical") == pytest.approx(0.5, abs=0.03)


def test_predictive_columns_score_high(converted: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    numeric = pd.Series(converted + rng.normal(0, 0.3, len(converted)))
    assert single_column_auc(numeric, converted, "numeric") > 0.95
    labels = pd.Series(np.where(converted == 1, "won", "lost"))
    assert single_column_auc(labels, converted, "categorical") == pytest.approx(1.0)


def test_single_column_auc_with_too_few_positives_is_nan() -> None:
    y = np.array([0, 0, 0, 0, 1])
    assert np.isnan(single_column_auc(pd.Series(list("abcde")), y, "categorical"))


def test_missingness_auc() -> None:
    y = np.array([1, 1, 0, 0])
    assert missingness_auc(pd.Series([1.0, 2.0, np.nan, np.nan]), y) == 1.0
    assert missingness_auc(pd.Series([np.nan, np.nan, 1.0, 2.0]), y) == 1.0  # either way round
    assert missingness_auc(pd.Series([1.0, 2.0, 3.0, 4.0]), y) is None


# --- outputs -------------------------------------------------------------------------------------


def test_to_json(report: AuditReport, tmp_path: Path) -> None:
    out = report.to_json(tmp_path / "reports" / "audit.json")
    data = json.loads(out.read_text())
    assert isinstance(data["leakage_suspects"], list)
    assert [s["column"] for s in data["leakage_suspects"]] == ["sales_status"]
    first = data["leakage_suspects"][0]
    assert isinstance(first["reason"], str) and first["reason"]
    assert first["check"] == "post_contact_values"
    assert first["verdict"] == "leak" and "post_contact_name" in first["checks"]
    assert data["rows"] == 3000 and data["target"] == "converted"
    assert [c["name"] for c in data["columns"]] == [c.name for c in report.columns]


def test_to_html(report: AuditReport, tmp_path: Path) -> None:
    out = report.to_html(tmp_path / "audit.html")
    text = out.read_text()
    assert text.startswith("<!doctype html>")
    assert "<b>sales_status</b>" in text
    assert "left out of modelling" in text
    assert 'class="leak"' in text


def test_html_escapes_column_names(demo: pd.DataFrame, tmp_path: Path) -> None:
    frame = demo.rename(columns={"sales_status": "status <b>&"})
    report = audit(frame)
    text = report.to_html(tmp_path / "a.html").read_text()
    assert "status &lt;b&gt;&amp;" in text
    assert "status <b>&" not in text
