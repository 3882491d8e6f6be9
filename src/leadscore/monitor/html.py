"""The monitoring report as one self-contained HTML page (``leadscore monitor report
--html``), in the style of the other reports.

Example
-------
>>> from leadscore.config import Business
>>> from leadscore.monitor.report import build_report
>>> page = report_html(build_report(store, None, Business()))
>>> "<h1>Monitoring" in page
True
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd

from leadscore.monitor.report import MonitoringReport
from leadscore.reporting.page import escape, facts, fmt, html_page, table

#: (column, heading, format) of each table
DRIFT = (
    ("feature", "Input", ""),
    ("psi", "PSI", "num"),
    ("status", "Status", ""),
    ("moved", "Moved most", ""),
)
BANDS = (
    ("band", "Score band", ""),
    ("leads", "Leads", "int"),
    ("rate", "Realised", "pct"),
    ("predicted", "Predicted", "pct"),
    ("ci_low", "95 % from", "pct"),
    ("ci_high", "95 % to", "pct"),
)
OVER_TIME = (
    ("period", "Period", ""),
    ("n", "Leads", "int"),
    ("expected_rate", "Expected rate", "pct"),
    ("expected_auc", "Expected AUC", "num"),
    ("realised_rate", "Realised rate", "pct"),
    ("realised_auc", "Realised AUC", "num"),
)
COHORTS = (
    ("cohort", "Created", ""),
    ("leads", "Leads", "int"),
    ("mean_score", "Mean score", "pct"),
    ("hot", "Hot", "pct"),
    ("conversion", "Converted", "pct"),
    ("median_days_to_convert", "Days to convert", "num"),
)


def _rows(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str]]) -> str:
    """``columns``: (column, heading, format) with format ``int``, ``pct``, ``num`` or text."""
    if frame.empty:
        return "<p>None yet.</p>"
    rows = [[_cell(r[c], kind) for c, _, kind in columns] for r in frame.to_dict("records")]
    return table([heading for _, heading, _ in columns], rows)


def _cell(value: Any, kind: str) -> str:
    if isinstance(value, pd.Timestamp | date) and not pd.isna(value):
        return f"{value:%Y-%m-%d}"
    return fmt(None if pd.isna(value) else value, kind or "text")


def report_html(report: MonitoringReport) -> str:
    """The whole report as an HTML page."""
    parts = [
        facts(
            "Monitoring",
            [
                ("Period", f"{report.start:%Y-%m-%d %H:%M} – {report.end:%Y-%m-%d %H:%M} UTC"),
                ("Scores", f"{report.scores:,} of {report.leads:,} leads"),
            ],
        )
    ]
    alerts = report.alerts or ["none"]
    parts.append("<h2>Alerts</h2><ul>" + "".join(f"<li>{escape(a)}</li>" for a in alerts))
    parts.append("</ul>" + "".join(f"<p>{escape(n)}</p>" for n in report.notes))
    parts.append("<h2>Movers</h2>")
    movers = [
        (
            m.lead_id,
            f"{m.before} → {m.after}",
            f"{m.change:+d}",
            ", ".join(m.causes),
            "; ".join(r.text for r in m.reasons),
        )
        for m in report.movers
    ]
    parts.append(
        table(("Lead", "Score", "Change", "Causes", "Reasons"), movers, text_columns=(0, 3, 4))
        if movers
        else "<p>No lead moved that much in the period.</p>"
    )
    parts.append("<h2>Drift (population stability index)</h2>")
    if report.drift is None:
        parts.append("<p>Not judged for this period.</p>")
    else:
        frame = report.drift.to_frame()
        parts.append(_rows(frame, DRIFT))
    parts.append("<h2>Outcomes against predictions</h2>")
    if report.realised is not None:
        r = report.realised
        auc = "–" if r.auc is None else f"{r.auc:.3f} ({r.auc_low:.3f}–{r.auc_high:.3f})"
        trained = "–" if r.training_auc is None else f"{r.training_auc:.3f}"
        parts.append(
            f"<p>{r.n:,} outcomes ({r.positives:,} converted): AUC {escape(auc)}, training "
            f"estimate {escape(trained)}.</p>"
        )
    parts.append(_rows(report.bands, BANDS))
    parts.append("<h2>Estimated before outcomes, and realised</h2>")
    parts.append(_rows(report.over_time, OVER_TIME))
    parts.append("<h2>Every lead, not only the contacted ones (exploration)</h2>")
    if report.exploration is None:
        parts.append("<p>No contacted lead of the period has an outcome yet.</p>")
    else:
        parts += [f"<p>{escape(line)}</p>" for line in report.exploration.summary()]
    parts.append("<h2>Cohorts</h2>")
    parts.append(_rows(report.cohorts, COHORTS))
    return html_page("leadscore monitoring", "".join(parts))
