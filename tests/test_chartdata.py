"""The reporting package's chart data (leadscore.reporting.curves, .fields) against
scikit-learn and by hand, both renderers drawing that same data, and the HTML helpers."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from leadscore.config import Business
from leadscore.explain.conversion import conversion_by_bins, conversion_by_level
from leadscore.modeling.metrics import expected_calibration_error, lift_at, recall_at
from leadscore.modeling.thresholds import Cutoffs, choose_threshold, profit_curve
from leadscore.reporting import charts, fields, insight_plots, plots
from leadscore.reporting import curves as cd
from leadscore.reporting.page import escape, figure, fmt, html_page, table


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray]:
    """5,000 leads: calibrated-ish scores with ties, and 0 and 1 on the bin edges."""
    rng = np.random.default_rng(7)
    score = np.round(1 / (1 + np.exp(-rng.normal(-2.0, 1.3, 5000))), 3)
    score[:4] = [0.0, 1.0, 0.2, 0.5]
    y = (rng.random(len(score)) < score).astype(int)
    return y, score


# ----------------------------------------------------------------------------- curves


def test_roc_data_is_scikit_learns_curve_with_the_threshold_point_on_it(scored) -> None:
    y, score = scored
    roc = cd.roc_data(y, score, threshold=0.15)
    fpr, tpr, cuts = roc_curve(y, score)
    np.testing.assert_array_equal(roc.curve["fpr"], fpr)
    np.testing.assert_array_equal(roc.curve["tpr"], tpr)
    np.testing.assert_array_equal(roc.curve["threshold"], cuts)
    assert roc.auc == pytest.approx(roc_auc_score(y, score), abs=1e-15)
    # the point where the threshold stands is scikit-learn's point at the lowest score ≥ 0.15
    all_fpr, all_tpr, all_cuts = roc_curve(y, score, drop_intermediate=False)
    at = int(np.flatnonzero(all_cuts >= 0.15)[-1])
    assert roc.at is not None
    assert roc.at.false_positive_rate == pytest.approx(all_fpr[at])
    assert roc.at.recall == pytest.approx(all_tpr[at])
    # a saved AUC is taken as given
    assert cd.roc_data(y, score, auc=0.5).auc == 0.5
    assert cd.roc_data(y, score).at is None


def test_precision_recall_data_is_scikit_learns_curve(scored) -> None:
    y, score = scored
    pr = cd.precision_recall_data(y, score, threshold=0.15)
    precision, recall, cuts = precision_recall_curve(y, score)
    np.testing.assert_array_equal(pr.curve["precision"], precision)
    np.testing.assert_array_equal(pr.curve["recall"], recall)
    np.testing.assert_array_equal(pr.curve["threshold"].iloc[:-1], cuts)
    assert math.isnan(pr.curve["threshold"].iloc[-1])
    assert pr.pr_auc == pytest.approx(average_precision_score(y, score), abs=1e-15)
    assert pr.base_rate == pytest.approx(y.mean())
    contact = score >= 0.15
    assert pr.at is not None
    assert pr.at.precision == pytest.approx(y[contact].mean())
    assert pr.at.recall == pytest.approx(y[contact].sum() / y.sum())


def test_curves_on_many_leads_use_a_seeded_sample() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(3000)
    y = (rng.random(3000) < score).astype(int)
    first = cd.roc_data(y, score, 0.5, max_rows=1000)
    again = cd.roc_data(y, score, 0.5, max_rows=1000)
    pd.testing.assert_frame_equal(first.curve, again.curve)
    ys, ps = cd.sample(y, score, 1000)
    np.testing.assert_array_equal(first.curve["fpr"], roc_curve(ys, ps)[0])
    # the AUC and the threshold point are still counted on every lead
    assert first.auc == pytest.approx(roc_auc_score(y, score))
    assert first.at is not None and first.at.tp + first.at.fn == y.sum()


def test_confusion_at_is_scikit_learns_confusion_matrix(scored) -> None:
    y, score = scored
    c = cd.confusion_at(y, score, 0.2)  # 0.2 itself is contacted ("at or above")
    tn, fp, fn, tp = confusion_matrix(y, score >= 0.2).ravel()
    assert (c.tp, c.fp, c.fn, c.tn) == (tp, fp, fn, tn)
    assert c.contacted == tp + fp
    assert math.isnan(cd.confusion_at(y, score, 2.0).precision)


def test_calibration_data_is_scikit_learns_calibration_curve_and_the_ece(scored) -> None:
    y, score = scored
    cal = cd.calibration_data(y, score)
    observed, predicted = calibration_curve(y, score, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(cal.used["observed"], observed, rtol=1e-12)
    np.testing.assert_allclose(cal.used["predicted"], predicted, rtol=1e-12)
    assert cal.bins["leads"].sum() == len(y) and len(cal.bins) == 10
    assert cal.ece == expected_calibration_error(y, score)
    # scores on the edges: 0 in the first bin, 1 in the last, 0.2 in (0.1, 0.2]
    edges = cd.calibration_data(np.array([0, 1, 1]), np.array([0.0, 1.0, 0.2]))
    assert edges.bins["leads"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert edges.bins["predicted"].isna().sum() == 7


def test_gains_and_lift_by_hand(scored) -> None:
    y, score = scored
    gains = cd.gains_data(y, score)
    curve = gains.curve
    assert len(curve) == len(y) + 1 and curve["found"].iloc[-1] == 1.0
    assert (np.diff(curve["found"]) >= 0).all()
    k = len(y) // 10
    assert curve["found"].iloc[k] == pytest.approx(recall_at(y, score, 0.1))
    assert curve["lift"].iloc[k] == pytest.approx(curve["found"].iloc[k] / 0.1)
    assert gains.lift_top10 == pytest.approx(lift_at(y, score, 0.1))
    assert curve["lift"].iloc[:50].isna().all() and curve["lift"].iloc[50:].notna().all()
    assert cd.gains_data(y, score, lift_top10=3.0).lift_top10 == 3.0


def test_profit_data_points_at_the_chosen_threshold(scored) -> None:
    y, score = scored
    business = Business()
    curve = profit_curve(y, score, business)
    choice = choose_threshold(y, score, business)
    profit = cd.profit_data(curve, choice)
    assert profit.profit == pytest.approx(curve["profit"].iloc[profit.best])
    assert profit.contacted == curve["contacted"].iloc[profit.best]
    assert profit.contact_none_profit == pytest.approx(curve["profit"].iloc[0])
    best = cd.profit_data(curve)
    assert (best.threshold, best.profit) == (profit.threshold, profit.profit)


def test_score_distribution_shares_add_up_per_outcome(scored) -> None:
    y, score = scored
    cut = Cutoffs(contact=0.1, hot=0.4, warm=0.1)
    dist = cd.score_distribution_data(y, score, cut)
    assert len(dist.edges) == cd.HISTOGRAM_BINS + 1 and dist.edges[0] == 0.0
    assert dist.leads == {0: int((y == 0).sum()), 1: int(y.sum())}
    for outcome in (0, 1):
        assert dist.shares[outcome].sum() == pytest.approx(1.0)


def test_thin_keeps_the_ends_and_the_points_asked_for() -> None:
    picked = cd.thin(10_000, 100, keep=[4321])
    assert picked[0] == 0 and picked[-1] == 9_999 and 4321 in picked
    assert len(picked) <= 101 and (np.diff(picked) > 0).all()
    assert cd.thin(50, 100).tolist() == list(range(50))


# ----------------------------------------------------------------------------- fields


def test_conversion_chart_data_caps_categories_not_ranges() -> None:
    rng = np.random.default_rng(1)
    levels = pd.Series(rng.choice([f"level {i}" for i in range(20)], 2000))
    y = rng.random(2000) < 0.2
    categorical = fields.conversion_chart_data(conversion_by_level(levels, y))
    assert len(categorical.frame) == fields.MAX_CHART_LEVELS and categorical.hidden == 8
    assert (categorical.frame[["err_low", "err_high"]] >= 0).all().all()
    rate = categorical.frame["rate"]
    np.testing.assert_allclose(rate - categorical.frame["err_low"],
                               np.minimum(categorical.frame["ci_low"], rate))  # fmt: skip
    ranges = conversion_by_bins(pd.Series(rng.random(2000)), y, bins=5)
    ranges.attrs = {"field": "x", "kind": "numeric"}  # as conversion_tables tags it
    assert fields.conversion_chart_data(ranges, max_levels=2).hidden == 0
    assert fields.conversion_chart_data(conversion_by_level(levels, y), None).hidden == 0


def test_drivers_data_sorts_and_labels() -> None:
    drivers = pd.DataFrame({"field": ["visits", "time_on_site_s", "device"],
                            "importance": [1.0, 3.0, 2.0]})  # fmt: skip
    shown = fields.drivers_data(drivers, top=2)
    assert shown["label"].tolist() == ["Time on site (s)", "Device"]


# ----------------------------------------------------------------------------- renderers


def _altair_values(chart, layer: int = 0) -> pd.DataFrame:
    spec = chart.to_dict()
    name = spec["layer"][layer]["data"]["name"]
    return pd.DataFrame(spec["datasets"][name])


def test_both_renderers_draw_the_same_roc_and_calibration(scored) -> None:
    y, score = scored
    roc = cd.roc_data(y, score, 0.15)
    drawn = plots.roc_figure(roc).axes[0].lines
    np.testing.assert_array_equal(drawn[0].get_xdata(), roc.curve["fpr"])
    assert drawn[2].get_xdata()[0] == roc.at.false_positive_rate  # the threshold point
    interactive = _altair_values(charts.roc_chart(y, score, 0.15), layer=1)
    np.testing.assert_allclose(interactive["fpr"], roc.curve["fpr"].iloc[cd.thin(len(roc.curve),
                               charts.MAX_POINTS)])  # fmt: skip
    marker = _altair_values(charts.roc_chart(y, score, 0.15), layer=2)
    assert marker["tpr"].iloc[0] == pytest.approx(roc.at.recall)

    cal = cd.calibration_data(y, score)
    line = plots.calibration_figure(cal).axes[0].lines[1]
    np.testing.assert_allclose(line.get_ydata(), cal.used["observed"])
    np.testing.assert_allclose(_altair_values(charts.calibration_chart(y, score), layer=1)[
        "observed"], cal.used["observed"])  # fmt: skip


def test_conversion_figure_and_chart_show_the_same_levels() -> None:
    rng = np.random.default_rng(2)
    table = conversion_by_level(pd.Series(rng.choice(list("abcde"), 500)), rng.random(500) < 0.3)
    data = fields.conversion_chart_data(table)
    fig = insight_plots.conversion_figure(data, "source", 0.3)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    spec = charts.conversion_chart(table, "source", 0.3).to_dict()
    values = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    assert labels == values["level"].tolist() == data.frame["level"].tolist()


# ----------------------------------------------------------------------------- HTML


def test_html_helpers_escape_everything_taken_from_data() -> None:
    hostile = '<script>alert(1)</script>"'
    page = html_page(hostile, table(("Field", hostile), [(hostile, "1")], classes=(hostile,))
                     + figure(hostile, hostile, hostile, b"\x89PNG"))  # fmt: skip
    assert "<script" not in page
    assert escape(hostile) in page and "&quot;" in page
    assert re.search(r'<img alt="[^"<]+" src="data:image/png;base64,iVBORw==">', page)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert fmt(float("nan")) == "–" and fmt(True) == "True" and fmt(3, "int") == "3"
