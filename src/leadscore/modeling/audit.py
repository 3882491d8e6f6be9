"""Data quality and leakage audit of a lead table.

Per column: type, missing share, distinct values, the most common value's share, and its
predictive power alone as a cross-validated AUC. Leakage — columns recorded after the
outcome — is decided on evidence in :mod:`leadscore.modeling.leakage`; strong columns
without such evidence are kept and reported with a quick model's AUC with and without
them, so the user decides with numbers.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leadscore.config import Roles, Settings
from leadscore.data.lead_table import LeadTable, prepare_table
from leadscore.data.masking import mask_source
from leadscore.data.roles import sidecar_roles
from leadscore.data.sources import TableLike, read_table
from leadscore.jsonutil import write_json
from leadscore.modeling.dictionary import read_dictionary
from leadscore.modeling.leakage import (
    LeakageSuspect,
    column_aucs,
    detect_leakage,
    measure_strength,
    missingness_auc,
)
from leadscore.terminal import Column, fitted_table


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

    @property
    def strong_columns(self) -> list[str]:
        """Strong columns without evidence of leakage: kept, to be confirmed by a person."""
        return [s.column for s in self.leakage_suspects if s.verdict == "strong"]

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
        # the column's name keeps its width; in a narrow terminal the minor columns go
        columns = [
            Column("column", 0, justify="left"), Column("type", 2, justify="left"),
            Column("status", 1, justify="left"), Column("missing", 0),
            Column("distinct", 2), Column("top value", 3), Column("AUC alone", 1),
            Column("flags", 0, wrap=True, justify="left"),
        ]  # fmt: skip
        rows, styles = [], []
        for c in self.columns:
            auc = "" if c.auc is None else f"{c.auc:.3f}"
            style = "red" if c.name in self.leakage_columns else None
            styles.append("yellow" if style is None and "strong: confirm" in c.flags else style)
            rows.append(
                [escape(c.name), c.kind, c.status, f"{c.missing_share:.0%}", f"{c.cardinality:,}",
                 f"{c.top_share:.0%}", auc, ", ".join(c.flags)]
            )  # fmt: skip
        table, left_out = fitted_table(
            columns, rows, console.width, title="Columns", header_style="bold"
        )
        for row, style in zip(table.rows, styles, strict=True):
            row.style = style
        if left_out:
            table.caption = f"left out at this width: {', '.join(left_out)} (--json has them)"
        console.print(table)
        leaks = [s for s in self.leakage_suspects if s.verdict == "leak"]
        if leaks:
            leak = Table(title="Leakage suspects", header_style="bold red")
            leak.add_column("column", style="red")
            leak.add_column("why")
            leak.add_column("modelling")
            for s in leaks:
                leak.add_row(s.column, s.reason, s.action)
            console.print(leak)
        strong = [s for s in self.leakage_suspects if s.verdict == "strong"]
        if strong:
            sure = Table(
                title="Strong columns: confirm each is known before the outcome",
                header_style="bold yellow",
            )
            for name in ("column", "AUC alone", "model AUC with", "without", "modelling"):
                sure.add_column(name, style="yellow" if name == "column" else None)
            for s in strong:
                sure.add_row(s.column, _fmt(s.auc), _fmt(s.auc_with), _fmt(s.auc_without), s.action)
            console.print(sure)
            console.print(
                "[dim]Nothing shows these were recorded after the outcome, so they are kept. "
                "If one is filled in later (by sales, after a purchase), leave it out with "
                "--exclude COLUMN; --strict-leakage leaves out every strong column.[/]"
            )
        for warning in self.warnings:
            console.print(f"[yellow]warning:[/] {warning}")
        for note in self.notes:
            console.print(f"[dim]note: {note}[/]")


# ----------------------------------------------------------------------------- the report


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def audit_table(
    table: LeadTable,
    raw: pd.DataFrame,
    source: str,
    seed: int = 0,
    *,
    dictionary: dict[str, str] | None = None,
    strict: bool = False,
) -> AuditReport:
    """Audit a prepared table; ``raw`` is the table as read, for the left-out columns.

    ``dictionary`` (column → description) and ``strict`` are as for
    :func:`leadscore.modeling.leakage.detect_leakage`.
    """
    assert table.y is not None
    aucs = column_aucs(table, seed)
    suspects = detect_leakage(table, aucs, dictionary=dictionary, strict=strict)
    measure_strength(table, suspects, seed)
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
        for suspect in suspects:
            if suspect.column == name:
                report.flags.append(
                    "leakage suspect" if suspect.verdict == "leak" else "strong: confirm"
                )
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
        Project settings; ``settings.leakage`` holds the data dictionary and strictness.
    **role_overrides:
        ``target=``, ``id=``, ``time=``, ``exclude=[...]``, ``keep=[...]``.

    Example
    -------
    >>> leads.to_csv("leads.csv", index=False)
    >>> report = audit("leads.csv", target="converted")
    >>> [s.column for s in report.leakage_suspects]
    ['time_on_site_s', 'sales_status']
    """
    settings = settings or Settings()
    roles = (roles or settings.roles).merged(**role_overrides)
    if isinstance(data, (str, Path)):
        described = sidecar_roles(Path(data))  # written by `leadscore features`
        if described is not None:
            roles = described.merged(**roles.model_dump())
    raw = read_table(data)
    table = prepare_table(raw, roles, settings)
    # the report is shown and saved: a password in a source URL never goes with it
    source = mask_source(data) if not isinstance(data, pd.DataFrame) else "DataFrame"
    dictionary = (
        read_dictionary(settings.leakage.dictionary) if settings.leakage.dictionary else None
    )
    return audit_table(
        table, raw, source, seed=settings.random_state, dictionary=dictionary,
        strict=settings.leakage.strict,
    )  # fmt: skip


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
            cls=' class="leak"' if c.name in report.leakage_columns else "",
        )
        for c in report.columns
    )

    def item(s: LeakageSuspect) -> str:
        return (
            f"<li><b>{esc(s.column)}</b>: {esc(s.reason)} ({esc(s.action)})"
            + (f"<br><small>{esc('; '.join(s.evidence))}</small>" if s.evidence else "")
            + "</li>"
        )

    suspects = "".join(item(s) for s in report.leakage_suspects if s.verdict == "leak")
    strong = "".join(item(s) for s in report.leakage_suspects if s.verdict == "strong")
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
<h2>Strong columns: confirm each is known before the outcome</h2>
<ul>{strong or "<li>none</li>"}</ul>
<h2>Warnings</h2><ul>{warnings or "<li>none</li>"}</ul>
<h2>Columns</h2><table><tr><th>column</th><th>type</th><th>status</th><th>missing</th>
<th>distinct</th><th>AUC alone</th><th>flags</th></tr>{rows}</table>
</body></html>"""
