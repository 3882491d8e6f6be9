"""Conversion insights as one self-contained HTML page, a JSON file and PNG charts.

:func:`write_insights` puts together what marketing and sales act on: the findings in plain
sentences, the ideal customer and how far hot / warm / cold leads are from it, what drives
the score (when given) and, for the most informative fields, the share of leads and the
conversion rate (with its 95 % Wilson interval) of every level. ``insights.json`` holds all
the numbers. The HTML has its CSS inline and every chart embedded as a base64 PNG, so it can
be mailed and opened anywhere; everything taken from the data is HTML-escaped.

Charts are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas: pyplot and
its global state are never touched.

Example
-------
>>> model, table = load_for_insights("model/", "leads.csv")  # doctest: +SKIP
>>> paths = write_insights(model, table, "insights/")  # doctest: +SKIP
>>> paths["html"]  # doctest: +SKIP
PosixPath('insights/insights.html')
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from leadscore.config import Roles, Settings
from leadscore.data.schema import LeadTable, missing_column_error, prepare_table
from leadscore.data.sources import read_table
from leadscore.errors import DataError, SchemaError
from leadscore.explain.analytics import (
    conversion_tables,
    field_label,
    findings,
    format_number,
    percent,
    rank_fields,
)
from leadscore.explain.ideal import ideal_profile, segment_profiles
from leadscore.jsonutil import jsonable
from leadscore.modeling.model import LeadModel
from leadscore.modeling.report import (
    BLUE,
    CSS,
    DPI,
    GREY,
    LABEL_SIZE,
    LEGEND_SIZE,
    RED,
    TICK_SIZE,
    TITLE_SIZE,
    render_png,
)

HTML_FILE = "insights.html"
JSON_FILE = "insights.json"
#: conversion charts drawn for at most this many fields, the most informative first
TOP_FIELDS = 8
#: a categorical chart shows at most this many levels (the most frequent)
MAX_CHART_LEVELS = 12
#: drivers shown in the drivers chart
TOP_DRIVERS = 15
#: level names longer than this are shortened on charts (never in tables)
MAX_LABEL = 32
DRIVERS_FIGURE = "drivers"

EXTRA_CSS = """
ul.findings li { margin: .35em 0; } tr.small td { color: #777; }
details { margin: .6em 0; } summary { cursor: pointer; font-weight: 600; }
"""


# ----------------------------------------------------------------------------- text helpers


def _e(value: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(value), quote=True)


def _mpl(text: Any, limit: int | None = None) -> str:
    """Text safe for matplotlib (``$`` starts math mode), optionally shortened."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _slug(name: str) -> str:
    """A file and HTML-id safe form of a name: ``"Lead Source"`` → ``"lead-source"``."""
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")


def _value(value: Any) -> str:
    """An ideal or typical value for a table cell."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return format_number(float(value))
    return str(value)


def _table_html(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    classes: Sequence[str] = (),
    text_columns: Sequence[int] = (0,),
) -> str:
    """An HTML table from unescaped cells; ``classes`` per row; text columns left-aligned."""

    def cell(tag: str, i: int, value: Any) -> str:
        css = ' class="t"' if i in text_columns else ""
        return f"<{tag}{css}>{_e(value)}</{tag}>"

    head = "".join(cell("th", i, v) for i, v in enumerate(header))
    body = []
    for n, row in enumerate(rows):
        css = f' class="{_e(classes[n])}"' if n < len(classes) and classes[n] else ""
        body.append(f"<tr{css}>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# ----------------------------------------------------------------------------- charts


def plot_conversion(table: pd.DataFrame, name: str, overall_rate: float) -> Figure:
    """Share of leads (bars, left) and conversion rate with its interval (right) per level.

    Levels flagged ``too_small`` are drawn as hollow grey points; the dashed red line is the
    overall rate. Categorical fields show their :data:`MAX_CHART_LEVELS` most frequent
    levels; ranges, weekdays and hours keep their natural order.

    Parameters
    ----------
    table:
        A conversion table (:func:`leadscore.explain.analytics.conversion_by_level` …).
    name:
        The table's name (the field), for the title.
    overall_rate:
        The conversion rate of all leads.

    Example
    -------
    >>> fig = plot_conversion(tables["source"], "source", 0.12)  # doctest: +SKIP
    >>> render_png(fig)[:4]  # doctest: +SKIP
    b'\\x89PNG'
    """
    shown = table
    if table.attrs.get("kind", "categorical") == "categorical" and len(table) > MAX_CHART_LEVELS:
        shown = table.head(MAX_CHART_LEVELS)
    n = len(shown)
    fig = Figure(figsize=(8.0, max(3.2, 1.7 + 0.34 * n)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    share_ax, rate_ax = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1.5]})
    pos = np.arange(n)
    share_ax.barh(pos, shown["share"], color=GREY, alpha=0.55)
    share_ax.set_yticks(pos, [_mpl(level, MAX_LABEL) for level in shown["level"]])
    share_ax.invert_yaxis()
    small = shown["too_small"].to_numpy(dtype=bool)
    rate = shown["rate"].to_numpy(dtype=float)
    # clipped: at a rate of 0 or 1 the interval edge may miss the rate by a rounding error
    error = np.clip(np.vstack([rate - shown["ci_low"], shown["ci_high"] - rate]), 0, None)
    for mask, style in (
        (~small, {"color": BLUE, "label": "conversion rate, 95 % interval"}),
        (small, {"color": GREY, "mfc": "white", "label": "too few leads: uncertain"}),
    ):
        if mask.any():
            rate_ax.errorbar(rate[mask], pos[mask], xerr=error[:, mask], fmt="o", ms=7,
                             capsize=3, lw=1.5, **style)  # fmt: skip
    average = f"all leads: {percent(overall_rate)}"
    rate_ax.axvline(overall_rate, color=RED, ls="--", lw=1.5, label=average)
    for ax, xlabel in ((share_ax, "Share of leads (%)"), (rate_ax, "Conversion rate (%)")):
        ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
        ax.tick_params(labelsize=TICK_SIZE)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(left=0)
    share_ax.set_ylabel(_mpl(field_label(name), 60), fontsize=LABEL_SIZE)
    rate_ax.legend(fontsize=LEGEND_SIZE, loc="best", framealpha=0.9)
    hidden = len(table) - n
    suffix = f" (top {n} of {len(table)} levels)" if hidden else ""
    fig.suptitle(_mpl(f"{field_label(name)}: leads and conversion by level{suffix}", 110),
                 fontsize=TITLE_SIZE)  # fmt: skip
    return fig


def plot_drivers(drivers: pd.DataFrame, top: int = TOP_DRIVERS) -> Figure:
    """Horizontal bars of the ``top`` fields by importance, the most important on top.

    Parameters
    ----------
    drivers:
        Columns ``field`` and ``importance`` (e.g. ``global_drivers`` in score points).
    top:
        How many fields to show.

    Example
    -------
    >>> drivers = pd.DataFrame({"field": ["a", "b"], "importance": [2.0, 1.0]})
    >>> render_png(plot_drivers(drivers))[:4]
    b'\\x89PNG'
    """
    shown = drivers.sort_values("importance", ascending=False, kind="stable").head(top)
    shown = shown.iloc[::-1]
    fig = Figure(figsize=(7.0, max(3.0, 1.5 + 0.32 * len(shown))), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.barh([_mpl(field_label(f), MAX_LABEL) for f in shown["field"]], shown["importance"],
            color=BLUE, alpha=0.85)  # fmt: skip
    ax.set_title("What moves the score most", fontsize=TITLE_SIZE)
    ax.set_xlabel("Importance (average effect on the score)", fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(axis="x", alpha=0.3)
    return fig


# ----------------------------------------------------------------------------- numbers


def _model_inputs(model: LeadModel, table: LeadTable) -> tuple[pd.DataFrame, dict[str, str]]:
    """The model's input columns of the table and their kinds (the table's, else the model's)."""
    names = model.schema_.names
    missing = [c for c in names if c not in table.features.columns]
    if missing:
        raise SchemaError(
            missing_column_error(missing, list(table.features.columns), "model input")
        )
    schema_kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    kinds = {c: str(table.kinds.get(c, schema_kinds[c])) for c in names}
    return table.features[names], kinds


def compute_insights(model: LeadModel, table: LeadTable) -> dict[str, Any]:
    """Every number of the insights: tables, findings, ideal profile, segment profiles.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel`.
    table:
        Labelled leads with the model's input columns (see :func:`load_for_insights`).

    Returns
    -------
    dict
        ``overall_rate``, ``leads``, ``converted``, ``tables`` (name → conversion table),
        ``ranked`` (table names, most informative first), ``findings``, ``ideal_profile``,
        ``segment_profiles``, ``segments`` (leads per segment) and ``scored`` (what
        ``model.score`` returned).

    Example
    -------
    >>> numbers = compute_insights(model, table)  # doctest: +SKIP
    >>> numbers["findings"][0]  # doctest: +SKIP
    """
    if table.y is None:
        raise DataError("insights need labelled leads: the table has no outcome column")
    features, kinds = _model_inputs(model, table)
    y = np.asarray(table.y, dtype=np.int64)
    overall = float(y.mean())
    scored = model.score_leads(features)
    tables = conversion_tables(features, y, kinds)
    ideal = ideal_profile(features, y, scored["score"].to_numpy(), kinds)
    segments = scored["segment"].astype(str)
    return {
        "leads": len(y),
        "converted": int(y.sum()),
        "overall_rate": overall,
        "tables": tables,
        "ranked": rank_fields(tables, overall),
        "findings": findings(tables, overall),
        "ideal_profile": ideal,
        "segment_profiles": segment_profiles(features, segments, ideal, kinds),
        "segments": {str(k): int(v) for k, v in segments.value_counts(sort=False).items()},
        "scored": scored,
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
         for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]  # fmt: skip


def insights_json(
    model: LeadModel,
    numbers: Mapping[str, Any],
    figures: Mapping[str, str],
    drivers: pd.DataFrame | None,
) -> dict[str, Any]:
    """The content of ``insights.json`` (plain JSON types; NaN as ``null``)."""
    tables = numbers["tables"]
    return jsonable(
        {
            "model": model.metadata_.get("model_label") or model.metadata_.get("model"),
            "leads": numbers["leads"],
            "converted": numbers["converted"],
            "overall_rate": numbers["overall_rate"],
            "segments": numbers["segments"],
            "findings": list(numbers["findings"]),
            "fields_ranked": list(numbers["ranked"]),
            "table_kinds": {name: t.attrs.get("kind") for name, t in tables.items()},
            "conversion_tables": {name: _records(t) for name, t in tables.items()},
            "ideal_profile": dict(numbers["ideal_profile"]),
            "segment_profiles": _records(numbers["segment_profiles"]),
            "drivers": None if drivers is None else _records(drivers),
            "figures": dict(figures),
        }
    )


# ----------------------------------------------------------------------------- HTML


def _figure_html(figure_id: str, title: str, caption: str, png: bytes) -> str:
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="{_e(figure_id)}"><img alt="{_e(title)}" src="{src}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _conversion_table_html(table: pd.DataFrame) -> str:
    rows, classes = [], []
    for row in table.itertuples(index=False):
        rows.append((
            row.level, f"{row.leads:,}", percent(row.share), f"{row.converted:,}",
            percent(row.rate), f"{percent(row.ci_low)} – {percent(row.ci_high)}",
            "–" if np.isnan(row.lift) else f"{row.lift:.2f}×",
            "few leads: uncertain" if row.too_small else "",
        ))  # fmt: skip
        classes.append("small" if row.too_small else "")
    header = ("Level", "Leads", "Share", "Converted", "Rate", "95 % interval", "Lift", "Note")
    return _table_html(header, rows, classes, text_columns=(0, 7))


def _segments_html(profiles: pd.DataFrame, segment_sizes: Mapping[str, int]) -> str:
    if profiles.empty:
        return '<p class="note">No field has an ideal value to compare with.</p>'
    order = list(dict.fromkeys(profiles["segment"]))
    header = ["Field", "Ideal", *[f"{s} ({segment_sizes.get(s, 0):,} leads)" for s in order]]
    rows = []
    for field, group in profiles.groupby("field", sort=False):
        by_segment = group.set_index("segment")
        cells = [
            f"{_value(by_segment.at[s, 'typical'])} · {percent(by_segment.at[s, 'match_share'])}"
            for s in order
        ]
        rows.append([field_label(str(field)), _value(group["ideal"].iloc[0]), *cells])
    distance = profiles.groupby("segment", sort=False)["distance_from_ideal"].first()
    rows.append(["Distance from ideal", "0.0 %", *[percent(distance[s]) for s in order]])
    classes = [""] * (len(rows) - 1) + ["chosen"]
    return _table_html(header, rows, classes, text_columns=(0, 1))


def _header_html(title: str, model: LeadModel, numbers: Mapping[str, Any]) -> str:
    segments = ", ".join(f"{k}: {v:,}" for k, v in numbers["segments"].items())
    facts = [
        ("Leads", f"{numbers['leads']:,}"),
        ("Converted", f"{numbers['converted']:,} ({percent(numbers['overall_rate'])})"),
        ("Model", model.metadata_.get("model_label") or model.metadata_.get("model") or "–"),
        ("Segments", segments or "–"),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return f'<h1>{_e(title)}</h1><dl class="meta">{items}</dl>'


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
        What :func:`compute_insights` returns.
    charts:
        Figure id → (table name, title, caption, PNG bytes) of the conversion charts.
    extra:
        Figure id → (caption, PNG bytes) embedded as given.
    drivers_png:
        The drivers chart, or ``None``.
    """
    tables = numbers["tables"]
    parts = [_header_html(title, model, numbers), '<h2>Findings</h2><ul class="findings">']
    parts += [f"<li>{_e(sentence)}</li>" for sentence in numbers["findings"]]
    parts.append(
        '</ul><p class="note">Rates are observed in these leads, not predicted. A level '
        "counts as better or worse than average only when its whole 95 % interval lies above "
        "or below the average; levels with fewer than 30 leads or an interval wider than "
        "±15 points are marked as too uncertain.</p>"
    )
    parts.append(
        "<h2>The ideal customer</h2><p>The ideal is the most common value (median for "
        "numbers) among the converted leads the model scores highest (the top quarter). Each "
        "segment cell shows the segment's typical value and the share of its leads that "
        "match the ideal (numbers: in the same quarter of all leads' values as the ideal). "
        "Distance from ideal is the share of field values that differ, for the average "
        "lead of the segment.</p>"
    )
    parts.append(_segments_html(numbers["segment_profiles"], numbers["segments"]))
    if drivers_png is not None or extra:
        parts.append("<h2>What drives the score</h2>")
        if drivers_png is not None:
            parts.append(_figure_html(
                DRIVERS_FIGURE, "Drivers of the score",
                "How much each field moves the model's score on average: longer bars matter "
                "more.", drivers_png,
            ))  # fmt: skip
        parts += [_figure_html(fid, caption, caption, png) for fid, (caption, png) in extra.items()]
    parts.append("<h2>Conversion by field</h2>")
    for fid, (name, chart_title, caption, png) in charts.items():
        parts.append(f"<h3>{_e(field_label(name))}</h3>")
        parts.append(_figure_html(fid, chart_title, caption, png))
        parts.append(_conversion_table_html(tables[name]))
    charted = {name for name, *_ in charts.values()}
    rest = [name for name in numbers["ranked"] if name not in charted]
    if rest:
        parts.append("<h2>Other fields</h2>")
        parts += [
            f"<details><summary>{_e(field_label(name))}</summary>"
            f"{_conversion_table_html(tables[name])}</details>"
            for name in rest
        ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}{EXTRA_CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>\n"
    )


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


def _caption(name: str, table: pd.DataFrame) -> str:
    kind = table.attrs.get("kind", "categorical")
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
        A fitted :class:`LeadModel`; scores and segments come from ``model.score``.
    table:
        Labelled leads holding the model's input columns (see :func:`load_for_insights`);
        only those columns are analysed.
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
    >>> model, table = load_for_insights("model/", "leads.csv")  # doctest: +SKIP
    >>> write_insights(model, table, "insights/")["html"]  # doctest: +SKIP
    PosixPath('insights/insights.html')
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
        drivers_png = render_png(plot_drivers(drivers))
        save(DRIVERS_FIGURE, drivers_png)
    charts = {}
    for name, fid in chart_ids.items():
        png = render_png(plot_conversion(tables[name], name, numbers["overall_rate"]))
        charts[fid] = (
            name,
            f"Conversion by {field_label(name)}",
            _caption(name, tables[name]),
            png,
        )
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


def load_for_insights(
    model_dir_or_model: str | Path | LeadModel,
    data_path: str | Path | pd.DataFrame,
    *,
    settings: Settings | None = None,
) -> tuple[LeadModel, LeadTable]:
    """A model and its labelled leads, prepared the way the model was trained.

    The table is read with :func:`prepare_table` and the model's own roles
    (``metadata_["roles"]``), so the id and target columns match; the model's input
    columns are kept even when constant in this data, other columns are set apart, and
    types are conformed to the model's schema.

    Parameters
    ----------
    model_dir_or_model:
        A saved model directory or a fitted :class:`LeadModel`.
    data_path:
        CSV / Parquet file (or DataFrame) of labelled leads.
    settings:
        Project settings; default: ``Settings()`` with the model's placeholder values.

    Raises
    ------
    SchemaError
        When a model input, the target or another role column is missing.

    Example
    -------
    >>> model, table = load_for_insights("model/", "leads.csv")  # doctest: +SKIP
    >>> table.features.columns.tolist() == model.schema_.names  # doctest: +SKIP
    True
    """
    model = (
        model_dir_or_model
        if isinstance(model_dir_or_model, LeadModel)
        else LeadModel.load(model_dir_or_model)
    )
    if settings is None:
        settings = Settings(
            missing_values=model.schema_.missing_values or Settings().missing_values
        )
    saved = model.metadata_.get("roles")
    roles = (
        Roles(**saved)
        if isinstance(saved, dict)
        else Roles(id=model.id_column_, time=model.time_column_)
    )
    frame = read_table(data_path).copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    inputs = model.schema_.names
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise SchemaError(missing_column_error(missing, list(frame.columns), "model input"))
    roles = roles.model_copy(
        update={
            "exclude": [c for c in roles.exclude if c in frame.columns and c not in inputs],
            "keep": list(dict.fromkeys([*roles.keep, *inputs])),
        }
    )
    table = prepare_table(frame, roles, settings)
    table = table.without({c: "not a model input" for c in table.features if c not in inputs})
    features = model.schema_.conform(table.features)
    kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    return model, dataclasses.replace(table, features=features, kinds=kinds)


__all__ = [
    "HTML_FILE",
    "JSON_FILE",
    "TOP_FIELDS",
    "compute_insights",
    "insights_json",
    "load_for_insights",
    "plot_conversion",
    "plot_drivers",
    "render_html",
    "write_insights",
]
