"""``leadscore insights``: conversion insights as one self-contained page, JSON and PNG charts.

:func:`write_insights` puts together what marketing and sales act on — the numbers come
from :func:`leadscore.explain.insights.compute_insights`: the findings in plain sentences,
the ideal customer and how far hot / warm / cold leads are from it, what drives the score
(when given) and, for the most informative fields, the share of leads and the conversion
rate (with its 95 % Wilson interval) of every level. ``insights.json`` holds all the
numbers. The page has its CSS inline and every chart embedded as a base64 PNG, so it can be
mailed and opened anywhere; everything taken from the data is HTML-escaped (see the
example of :func:`write_insights`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadscore.data.lead_table import LeadTable
from leadscore.explain.insights import compute_insights, insights_json
from leadscore.explain.wording import field_label, percent
from leadscore.modeling.model import LeadModel
from leadscore.reporting.fields import conversion_chart_data
from leadscore.reporting.insight_plots import conversion_figure, drivers_figure
from leadscore.reporting.mpl import render_png
from leadscore.reporting.page import escape, facts, figure, html_page, table

HTML_FILE = "insights.html"
JSON_FILE = "insights.json"
#: conversion charts drawn for at most this many fields, the most informative first
TOP_FIELDS = 8
DRIVERS_FIGURE = "drivers"

EXTRA_CSS = """
ul.findings li { margin: .35em 0; } tr.small td { color: #777; }
details { margin: .6em 0; } summary { cursor: pointer; font-weight: 600; }
"""


# ----------------------------------------------------------------------------- HTML


def _slug(name: str) -> str:
    """A file and HTML-id safe form of a name: ``"Lead Source"`` → ``"lead-source"``."""
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")


def _conversion_table_html(conversion: pd.DataFrame) -> str:
    rows, classes = [], []
    for row in conversion.itertuples(index=False):
        rows.append((
            row.level, f"{row.leads:,}", percent(row.share), f"{row.converted:,}",
            percent(row.rate), f"{percent(row.ci_low)} – {percent(row.ci_high)}",
            "–" if np.isnan(row.lift) else f"{row.lift:.2f}×",
            "few leads: uncertain" if row.too_small else "",
        ))  # fmt: skip
        classes.append("small" if row.too_small else "")
    header = ("Level", "Leads", "Share", "Converted", "Rate", "95 % interval", "Lift", "Note")
    return table(header, rows, classes, text_columns=(0, 7))


def _segments_html(
    compared: pd.DataFrame, profiles: pd.DataFrame, segment_sizes: Mapping[str, int]
) -> str:
    """The ideal-customer tables: the fields that separate hot from cold leads (what sales
    can act on, then who the lead is), then each segment's distance from the ideal."""
    if profiles.empty:
        return '<p class="note">No field has an ideal value to compare with.</p>'
    order = list(dict.fromkeys(profiles["segment"]))
    header = ["Field", "Ideal", *[f"{s} ({segment_sizes.get(s, 0):,} leads)" for s in order]]
    parts = []
    groups = (
        (True, "What sales can act on"),
        (False, "Who the lead is (sales cannot change it)"),
    )
    for actionable, heading in groups:
        rows = []
        chosen = compared[compared["actionable"].astype(bool) == actionable]
        for _, group in chosen.groupby("field", sort=False):
            by_segment = group.set_index("segment")
            cells = [
                f"{by_segment.at[s, 'typical_text']} · {percent(by_segment.at[s, 'match_share'])}"
                if s in by_segment.index
                else "–"
                for s in order
            ]
            rows.append([str(group["label"].iloc[0]), str(group["ideal_text"].iloc[0]), *cells])
        if rows:
            parts.append(f"<h3>{escape(heading)}</h3>")
            parts.append(table(header, rows, text_columns=(0, 1)))
    if not parts:
        parts.append(
            '<p class="note">No field separates hot from cold leads: each segment matches '
            "the ideal about as often.</p>"
        )
    distance = profiles.groupby("segment", sort=False)["distance_from_ideal"].first()
    parts.append(
        table(
            ["", *[f"{s}" for s in order]],
            [["Distance from ideal (all fields)", *[percent(distance[s]) for s in order]]],
            ["chosen"],
        )
    )
    return "".join(parts)


def _header_html(title: str, model: LeadModel, numbers: Mapping[str, Any]) -> str:
    segments = ", ".join(f"{k}: {v:,}" for k, v in numbers["segments"].items())
    return facts(title, [
        ("Leads", f"{numbers['leads']:,}"),
        ("Converted", f"{numbers['converted']:,} ({percent(numbers['overall_rate'])})"),
        ("Model", model.metadata_.get("model_label") or model.metadata_.get("model") or "–"),
        ("Segments", segments or "–"),
    ])  # fmt: skip


def render_html(
    title: str,
    model: LeadModel,
    numbers: Mapping[str, Any],
    charts: Mapping[str, tuple[str, str, str, bytes]],
    extra: Mapping[str, tuple[str, bytes]],
    drivers_png: bytes | None,
) -> str:
    """The insights page.

    Parameters
    ----------
    title:
        Page title and heading.
    model:
        The model the scores and segments come from.
    numbers:
        What :func:`~leadscore.explain.insights.compute_insights` returns.
    charts:
        Figure id → (table name, title, caption, PNG bytes) of the conversion charts.
    extra:
        Figure id → (caption, PNG bytes) embedded as given.
    drivers_png:
        The drivers chart, or ``None``.

    Example
    -------
    >>> from leadscore.explain.insights import load_for_insights
    >>> _, table = load_for_insights(model, leads)
    >>> page = render_html("Lead insights", model, compute_insights(model, table), {}, {}, None)
    >>> page.startswith("<!DOCTYPE html>"), "<h2>Findings</h2>" in page
    (True, True)
    """
    tables = numbers["tables"]
    parts = [_header_html(title, model, numbers), '<h2>Findings</h2><ul class="findings">']
    parts += [f"<li>{escape(sentence)}</li>" for sentence in numbers["findings"]]
    parts.append(
        '</ul><p class="note">Rates are observed in these leads, not predicted. A level '
        "counts as better or worse than average only when its whole 95 % interval lies above "
        "or below the average; levels with fewer than 30 leads or an interval wider than "
        "±15 points are marked as too uncertain.</p>"
    )
    parts.append(
        "<h2>The ideal customer</h2><p>The ideal is the most common value (median for "
        "numbers) among the converted leads the model scores highest (the top quarter). "
        "Shown are the fields that separate hot from cold leads most (a larger share of hot "
        "leads match the ideal), those sales can act on first. Each segment cell shows the "
        "segment's typical value and the share of its leads that match the ideal (numbers: "
        "in the same quarter of all leads' values as the ideal). Distance from ideal is the "
        "share of field values that differ, over all fields, for the average lead of the "
        "segment.</p>"
    )
    parts.append(
        _segments_html(
            numbers.get("ideal_comparison", pd.DataFrame(columns=["field", "actionable"])),
            numbers["segment_profiles"],
            numbers["segments"],
        )
    )
    if drivers_png is not None or extra:
        parts.append("<h2>What drives the score</h2>")
        if drivers_png is not None:
            parts.append(figure(
                DRIVERS_FIGURE, "Drivers of the score",
                "How much each field moves the model's score on average: longer bars matter "
                "more.", drivers_png,
            ))  # fmt: skip
        parts += [figure(fid, caption, caption, png) for fid, (caption, png) in extra.items()]
    parts.append("<h2>Conversion by field</h2>")
    for fid, (name, chart_title, caption, png) in charts.items():
        parts.append(f"<h3>{escape(field_label(name))}</h3>")
        parts.append(figure(fid, chart_title, caption, png))
        parts.append(_conversion_table_html(tables[name]))
    charted = {name for name, *_ in charts.values()}
    rest = [name for name in numbers["ranked"] if name not in charted]
    if rest:
        parts.append("<h2>Other fields</h2>")
        parts += [
            f"<details><summary>{escape(field_label(name))}</summary>"
            f"{_conversion_table_html(tables[name])}</details>"
            for name in rest
        ]
    return html_page(title, "".join(parts), EXTRA_CSS)


# ----------------------------------------------------------------------------- writing


def _chart_ids(names: Sequence[str], taken: set[str]) -> dict[str, str]:
    """A unique, HTML-id and file-name safe figure id per table name."""
    ids = {}
    for i, name in enumerate(names, start=1):
        base = f"field-{_slug(name) or i}"
        fid, n = base, 2
        while fid in taken:
            fid, n = f"{base}-{n}", n + 1
        taken.add(fid)
        ids[name] = fid
    return ids


def _caption(name: str, conversion: pd.DataFrame) -> str:
    kind = conversion.attrs.get("kind", "categorical")
    what = {
        "numeric": "each range of values (about equally many leads each)",
        "weekday": "each weekday the lead came in",
        "hour": "each hour of day the lead came in",
    }.get(kind, "each level")
    return (
        f"{field_label(name)}: the share of leads (grey bars) and the conversion rate with its "
        f"95 % interval (blue points) of {what}; hollow grey points rest on too few leads to "
        "trust, and the dashed red line is the rate of all leads."
    )


def write_insights(
    model: LeadModel,
    table: LeadTable,
    out_dir: str | Path,
    *,
    drivers: pd.DataFrame | None = None,
    extra_figures: dict[str, tuple[str, bytes]] | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """Write ``insights.html``, ``insights.json`` and one PNG per chart.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel`; scores and segments come from ``model.score_leads``.
    table:
        Labelled leads holding the model's input columns (see
        :func:`~leadscore.explain.insights.load_for_insights`); only those columns are
        analysed.
    out_dir:
        Where to write; created when missing.
    drivers:
        Columns ``field`` and ``importance`` (e.g. ``global_drivers``), drawn as a bar chart
        and saved in the JSON when given.
    extra_figures:
        Figure id → (caption, PNG bytes), embedded as given (e.g. a SHAP beeswarm) and
        saved as ``<id>.png``.
    title:
        Page heading; default ``"Lead insights"``.

    Returns
    -------
    dict[str, Path]
        ``"html"``, ``"json"`` and every figure id → its PNG file.

    Raises
    ------
    DataError
        When the table has no outcome.
    SchemaError
        When the table lacks a model input column.
    ValueError
        When an extra figure id is empty or clashes with a built-in figure.

    Example
    -------
    >>> from leadscore.explain.insights import load_for_insights
    >>> _, table = load_for_insights(model, leads)
    >>> files = write_insights(model, table, "insights/")
    >>> files["html"], files["json"], sum(name.startswith("field-") for name in files)
    (PosixPath('insights/insights.html'), PosixPath('insights/insights.json'), 8)
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    numbers = compute_insights(model, table)
    tables = numbers["tables"]
    taken = {DRIVERS_FIGURE} if drivers is not None else set()
    chart_ids = _chart_ids(numbers["ranked"][:TOP_FIELDS], taken)
    extra = dict(extra_figures or {})
    for fid in extra:
        if not str(fid).strip() or fid in taken or fid in (HTML_FILE, JSON_FILE):
            raise ValueError(f"extra figure id {fid!r} is empty or already used")
    paths: dict[str, Path] = {}
    files: dict[str, str] = {}

    def save(fid: str, png: bytes) -> None:
        name = f"{_slug(fid) or 'figure'}.png"
        stem, n = name[:-4], 2
        while name in files.values():
            name, n = f"{stem}-{n}.png", n + 1
        paths[fid] = out / name
        paths[fid].write_bytes(png)
        files[fid] = name

    drivers_png = None
    if drivers is not None:
        drivers_png = render_png(drivers_figure(drivers))
        save(DRIVERS_FIGURE, drivers_png)
    charts = {}
    for name, fid in chart_ids.items():
        chart = conversion_chart_data(tables[name])
        png = render_png(conversion_figure(chart, name, numbers["overall_rate"]))
        chart_title = f"Conversion by {field_label(name)}"
        charts[fid] = (name, chart_title, _caption(name, tables[name]), png)
        save(fid, png)
    for fid, (_, png) in extra.items():
        save(fid, png)

    page = render_html(title or "Lead insights", model, numbers, charts, extra, drivers_png)
    paths["html"] = out / HTML_FILE
    paths["html"].write_text(page, encoding="utf-8")
    content = insights_json(model, numbers, files, drivers)
    paths["json"] = out / JSON_FILE
    paths["json"].write_text(json.dumps(content, indent=2, allow_nan=False), encoding="utf-8")
    return paths


__all__ = ["HTML_FILE", "JSON_FILE", "TOP_FIELDS", "render_html", "write_insights"]
