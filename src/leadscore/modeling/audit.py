"""Data quality and leakage audit of a lead table.

The most expensive mistake in lead scoring is a column that is filled in *after* the
outcome: a sales status, a tag written after the call, a "closed" date. It makes the model
look near-perfect in validation and useless on new leads, which do not have it yet. The
audit flags such columns with the evidence, and training leaves them out unless the user
keeps one on purpose.

Leakage suspects are columns that

* predict the outcome almost perfectly on their own (cross-validated single-column AUC);
* are filled in mostly for one outcome (whether the value is missing predicts it);
* are named like something the sales team records after contact (status, tags, quality,
  stage, last activity, …) and carry real signal;
* hold values that read like sales notes or outcomes ("Closed by …", "Lost to …",
  "switched off", "Had a phone conversation").
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from leadscore.config import Roles, Settings
from leadscore.data.schema import LeadTable, normalise_name, prepare_table, sidecar_roles
from leadscore.data.sources import TableLike, read_table
from leadscore.jsonutil import write_json

NEAR_PERFECT_AUC = 0.90
MISSINGNESS_AUC = 0.85
NAMED_POST_CONTACT_AUC = 0.65
VALUES_POST_CONTACT_AUC = 0.60

_POST_CONTACT_NAME = re.compile(
    r"(^|_)(tags?|status|stage|quality|disposition|outcome|result|reason|notes?|comments?|"
    r"remarks?|feedback|owner|assigned|rating|grade|closed?|won|lost|converted|deal|"
    r"opportunity|contacted|called|followup|follow_up|score)(_|$)|^last_"
)
_POST_CONTACT_VALUE = re.compile(
    r"\b(closed|lost to|won|converted to (customer|client)|not interested|interested in|"
    r"ringing|switched off|wrong number|invalid number|no answer|not reachable|unreachable|"
    r"busy|call ?back|called|phone conversation|sms sent|contract sent|will revert|"
    r"already a student|hang ?up|hangup|dnc|do not call)\b",
    re.IGNORECASE,
)


@dataclass
class ColumnReport:
    """What the audit found about one column."""

    name: str
    kind: str
    status: str  # "feature", "lead id", "target", or why it is left out
    missing_share: float
    cardinality: int
    top_share: float
    auc: float | None = None
    missing_auc: float | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class LeakageSuspect:
    """A column suspected of being recorded after the outcome, with the evidence."""

    column: str
    reason: str
    check: str
    auc: float | None
    evidence: list[str] = field(default_factory=list)
    kept: bool = False


@dataclass
class AuditReport:
    """The audit's findings; render to the terminal, JSON or HTML."""

    source: str
    rows: int
    n_positive: int
    positive_rate: float
    target: str | None
    id: str | None
    time: str | None
    columns: list[ColumnReport]
    leakage_suspects: list[LeakageSuspect]
    warnings: list[str]
    notes: list[str]

    @property
    def leakage_columns(self) -> list[str]:
        """Suspects that modelling will leave out (those not kept on purpose)."""
        return [s.column for s in self.leakage_suspects if not s.kept]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "n_positive": self.n_positive,
            "positive_rate": self.positive_rate,
            "target": self.target,
            "id": self.id,
            "time": self.time,
            "leakage_suspects": [asdict(s) for s in self.leakage_suspects],
            "warnings": self.warnings,
            "notes": self.notes,
            "columns": [asdict(c) for c in self.columns],
        }

    def to_json(self, path: str | Path) -> Path:
        return write_json(self.to_dict(), path)

    def to_html(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_render_html(self))
        return out

    def render(self, console: Console) -> None:
        """Print the report as rich tables."""
        console.print(
            f"[bold]{self.source}[/]: {self.rows:,} leads, {self.n_positive:,} converted "
            f"({self.positive_rate:.1%}); target [cyan]{self.target}[/], id [cyan]{self.id}[/]"
            + (f", time [cyan]{self.time}[/]" if self.time else "")
        )
        table = Table(title="Columns", show_lines=False, header_style="bold")
        for name in ("column", "type", "status", "missing", "distinct", "top value",
                     "AUC alone", "flags"):  # fmt: skip
            table.add_column(name, justify="right" if name in ("missing", "distinct") else "left")
        for c in self.columns:
            auc = "" if c.auc is None else f"{c.auc:.3f}"
            style = "red" if any(s.column == c.name for s in self.leakage_suspects) else None
            table.add_row(
                c.name, c.kind, c.status, f"{c.missing_share:.0%}", f"{c.cardinality:,}",
                f"{c.top_share:.0%}", auc, ", ".join(c.flags), style=style,
            )  # fmt: skip
        console.print(table)
        if self.leakage_suspects:
            leak = Table(title="Leakage suspects", header_style="bold red")
            leak.add_column("column", style="red")
            leak.add_column("why")
            leak.add_column("modelling")
            for s in self.leakage_suspects:
                action = "kept (--keep)" if s.kept else "left out"
                leak.add_row(s.column, s.reason, action)
            console.print(leak)
        for warning in self.warnings:
            console.print(f"[yellow]warning:[/] {warning}")
        for note in self.notes:
            console.print(f"[dim]note: {note}[/]")


# ----------------------------------------------------------------------------- single columns


def _encode_for_auc(series: pd.Series, kind: str) -> pd.Series:
    """Group a column into levels: categories as is, numbers and dates into 20 quantile bins."""
    if kind == "categorical":
        return series.astype(object).where(series.notna(), "__missing__").astype(str)
    values = series
    if kind == "datetime":
        values = pd.to_datetime(series).astype("int64").where(series.notna())
    values = values.astype(float)
    if values.nunique() > 20:
        binned = pd.qcut(values.rank(method="first"), 20, labels=False)
    else:
        binned = values
    return binned.astype(object).where(values.notna(), "__missing__").astype(str)


def single_column_auc(
    series: pd.Series, y: np.ndarray, kind: str, folds: int = 5, seed: int = 0
) -> float:
    """Cross-validated AUC of one column on its own.

    Each level's conversion rate (smoothed toward the overall rate) is learned on the other
    folds, so a column that merely memorises rows (an id, a free-text field) scores about
    0.5 instead of looking perfect.
    """
    levels = _encode_for_auc(series, kind).to_numpy()
    y = np.asarray(y)
    n_splits = int(min(folds, np.bincount(y).min()))
    if n_splits < 2:
        return float("nan")
    oof = np.zeros(len(y))
    smoothing = 20.0
    for train, test in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(levels, y):
        prior = y[train].mean()
        stats = pd.DataFrame({"level": levels[train], "y": y[train]}).groupby("level")["y"]
        rate = (stats.sum() + smoothing * prior) / (stats.count() + smoothing)
        oof[test] = pd.Series(levels[test]).map(rate).fillna(prior).to_numpy()
    return float(roc_auc_score(y, oof))


def missingness_auc(series: pd.Series, y: np.ndarray) -> float | None:
    """How well "is this column filled in?" alone separates the outcomes (0.5–1)."""
    missing = series.isna().to_numpy()
    if not 0 < missing.mean() < 1:
        return None
    auc = float(roc_auc_score(y, missing))
    return max(auc, 1 - auc)


def _post_contact_values(series: pd.Series) -> list[str]:
    levels = series.dropna().astype(str).value_counts()
    return [lvl for lvl in levels.index[:200] if _POST_CONTACT_VALUE.search(lvl)]


def detect_leakage(
    table: LeadTable, aucs: dict[str, float], keep: list[str] | None = None
) -> list[LeakageSuspect]:
    """Leakage suspects among the table's feature columns (see the module docstring)."""
    assert table.y is not None
    keep = keep if keep is not None else list(table.roles.keep)
    trusted = set(table.roles.point_in_time)
    suspects: list[LeakageSuspect] = []
    for name in table.features.columns:
        if name in trusted:
            continue  # built only from events before the outcome: strong, not leaked
        series = table.features[name]
        auc = aucs.get(name)
        check, reason, evidence = None, "", []
        miss_auc = missingness_auc(series, table.y)
        named = bool(_POST_CONTACT_NAME.search(normalise_name(name)))
        valued = _post_contact_values(series) if table.kinds[name] == "categorical" else []
        # Missingness first: when being filled in is what predicts, that is the clearer story.
        if miss_auc is not None and miss_auc >= MISSINGNESS_AUC and miss_auc >= (auc or 0) - 0.02:
            check = "missingness"
            reason = (
                f"whether it is filled in predicts the outcome (AUC {miss_auc:.2f}): it is "
                "probably recorded after the lead converted or was lost"
            )
        elif auc is not None and auc >= NEAR_PERFECT_AUC:
            check = "near_perfect"
            reason = (
                f"predicts the outcome almost perfectly on its own (cross-validated AUC "
                f"{auc:.2f}); such columns are usually filled in after the outcome"
            )
        elif named and auc is not None and auc >= NAMED_POST_CONTACT_AUC:
            check = "post_contact_name"
            reason = (
                f"its name suggests the sales team records it after contact, and it carries "
                f"strong signal (AUC {auc:.2f})"
            )
        elif len(valued) >= 2 and auc is not None and auc >= VALUES_POST_CONTACT_AUC:
            check = "post_contact_values"
            examples = ", ".join(repr(v) for v in valued[:3])
            reason = (
                f"its values read like sales notes or outcomes ({examples}), and it carries "
                f"signal (AUC {auc:.2f})"
            )
        if check is None:
            continue
        if valued:
            evidence.append("values like " + ", ".join(repr(v) for v in valued[:5]))
        if table.kinds[name] == "categorical":
            rates = (
                pd.DataFrame({"v": series, "y": table.y}).groupby("v")["y"].agg(["mean", "size"])
            )
            pure = rates[
                (rates["size"] >= 20) & ((rates["mean"] >= 0.97) | (rates["mean"] <= 0.01))
            ]
            for level, row in pure.sort_values("size", ascending=False).head(4).iterrows():
                evidence.append(f"{level!r}: {row['mean']:.0%} converted of {int(row['size'])}")
        suspects.append(LeakageSuspect(name, reason, check, auc, evidence, kept=name in keep))
    return suspects


def column_aucs(table: LeadTable, seed: int = 0) -> dict[str, float]:
    """Single-column cross-validated AUC for every feature column."""
    assert table.y is not None
    return {
        name: single_column_auc(table.features[name], table.y, table.kinds[name], seed=seed)
        for name in table.features.columns
    }


def leakage_exclusions(
    table: LeadTable, seed: int = 0
) -> tuple[dict[str, str], list[LeakageSuspect]]:
    """Suspects to leave out of modelling (name → reason) and all suspects found."""
    suspects = detect_leakage(table, column_aucs(table, seed))
    drop = {s.column: f"leakage suspect: {s.reason}" for s in suspects if not s.kept}
    return drop, suspects


# ----------------------------------------------------------------------------- the report


def audit_table(table: LeadTable, raw: pd.DataFrame, source: str, seed: int = 0) -> AuditReport:
    """Audit a prepared table; ``raw`` is the table as read, for the left-out columns."""
    assert table.y is not None
    aucs = column_aucs(table, seed)
    suspects = detect_leakage(table, aucs)
    columns: list[ColumnReport] = []
    warnings: list[str] = []
    n = table.n_rows
    for name in table.raw_columns:
        if name in table.features.columns:
            series, kind, status = table.features[name], table.kinds[name], "feature"
        else:
            series, status = raw[name], table.excluded.get(name, "left out")
            kind = "numeric" if pd.api.types.is_numeric_dtype(series.dtype) else "text"
        present = series.dropna()
        counts = present.astype(str).value_counts()
        report = ColumnReport(
            name=name,
            kind=kind,
            status=status,
            missing_share=float(series.isna().mean()) if len(series) else 0.0,
            cardinality=len(counts),
            top_share=float(counts.iloc[0] / len(series)) if len(counts) else 0.0,
        )
        if status == "feature":
            report.auc = aucs[name]
            report.missing_auc = missingness_auc(series, table.y)
            if report.missing_share >= 0.95:
                report.flags.append("mostly missing")
            if report.top_share >= 0.99:
                report.flags.append("nearly constant")
            if kind == "categorical" and report.cardinality > max(50, 0.5 * n):
                report.flags.append("very many levels")
        elif status.startswith("constant"):
            report.flags.append("constant")
        elif status.startswith("identifier") or status == "lead id":
            report.flags.append("id-like")
        if any(s.column == name for s in suspects):
            report.flags.append("leakage suspect")
        columns.append(report)

    nearly_constant = [c.name for c in columns if "nearly constant" in c.flags]
    if nearly_constant:
        warnings.append(
            f"{len(nearly_constant)} columns have one value in at least 99% of rows and add "
            f"little: {', '.join(nearly_constant)}"
        )
    duplicates = int(table.ids.duplicated().sum())
    if duplicates:
        warnings.append(f"{duplicates:,} lead ids appear more than once")
    n_pos = int(table.y.sum())
    if n_pos < 40 or n - n_pos < 40:
        warnings.append(
            f"only {min(n_pos, n - n_pos)} leads in the smaller outcome class: scores will be "
            "rough; the leaderboard reports how much the folds disagree"
        )
    elif table.positive_rate < 0.05:
        warnings.append(
            f"imbalanced outcome ({table.positive_rate:.1%} converted): judge models by PR-AUC, "
            "lift and profit rather than accuracy"
        )
    return AuditReport(
        source=source,
        rows=n,
        n_positive=n_pos,
        positive_rate=table.positive_rate,
        target=table.roles.target,
        id=table.roles.id,
        time=table.roles.time,
        columns=columns,
        leakage_suspects=suspects,
        warnings=warnings,
        notes=list(table.notes),
    )


def audit(
    data: TableLike,
    roles: Roles | None = None,
    settings: Settings | None = None,
    **role_overrides: Any,
) -> AuditReport:
    """Audit a lead table for quality problems and leakage.

    Parameters
    ----------
    data:
        Path of a CSV/Parquet file, or a DataFrame.
    roles:
        Column roles (default: from settings, then inferred).
    settings:
        Project settings.
    **role_overrides:
        ``target=``, ``id=``, ``time=``, ``exclude=[...]``, ``keep=[...]``.

    Example
    -------
    >>> report = audit("leads.csv", target="Converted")  # doctest: +SKIP
    >>> [s.column for s in report.leakage_suspects]  # doctest: +SKIP
    ['Tags']
    """
    settings = settings or Settings()
    roles = (roles or settings.roles).merged(**role_overrides)
    if isinstance(data, (str, Path)):
        described = sidecar_roles(Path(data))  # written by `leadscore features`
        if described is not None:
            roles = described.merged(**roles.model_dump())
    raw = read_table(data)
    table = prepare_table(raw, roles, settings)
    source = str(data) if not isinstance(data, pd.DataFrame) else "DataFrame"
    return audit_table(table, raw, source, seed=settings.random_state)


# ----------------------------------------------------------------------------- html


def _render_html(report: AuditReport) -> str:
    esc = html.escape
    rows = "".join(
        "<tr{cls}><td>{}</td><td>{}</td><td>{}</td><td>{:.0%}</td><td>{:,}</td><td>{}</td>"
        "<td>{}</td></tr>".format(
            esc(c.name),
            esc(c.kind),
            esc(c.status),
            c.missing_share,
            c.cardinality,
            "" if c.auc is None else f"{c.auc:.3f}",
            esc(", ".join(c.flags)),
            cls=' class="leak"' if "leakage suspect" in c.flags else "",
        )
        for c in report.columns
    )
    suspects = "".join(
        f"<li><b>{esc(s.column)}</b>: {esc(s.reason)}"
        f"{' (kept on purpose)' if s.kept else ' (left out of modelling)'}"
        + (f"<br><small>{esc('; '.join(s.evidence))}</small>" if s.evidence else "")
        + "</li>"
        for s in report.leakage_suspects
    )
    warnings = "".join(f"<li>{esc(w)}</li>" for w in report.warnings)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>leadscore audit: {esc(report.source)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}
table{{border-collapse:collapse}}
td,th{{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}}
tr.leak td{{background:#fde8e8}}h2{{margin-top:2rem}}</style></head><body>
<h1>Data audit</h1>
<p><b>{esc(report.source)}</b>: {report.rows:,} leads, {report.n_positive:,} converted
({report.positive_rate:.1%}). Target <code>{esc(str(report.target))}</code>,
id <code>{esc(str(report.id))}</code>.</p>
<h2>Leakage suspects</h2><ul>{suspects or "<li>none found</li>"}</ul>
<h2>Warnings</h2><ul>{warnings or "<li>none</li>"}</ul>
<h2>Columns</h2><table><tr><th>column</th><th>type</th><th>status</th><th>missing</th>
<th>distinct</th><th>AUC alone</th><th>flags</th></tr>{rows}</table>
</body></html>"""
