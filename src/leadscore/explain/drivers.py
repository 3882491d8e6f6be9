"""What moves conversion overall: global drivers from the per-lead contributions.

The importance of a field is its mean absolute contribution in score points over a sample
of leads; the summary (beeswarm) plot shows, field by field, every lead's contribution
coloured by how high the field's value was.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from leadscore.modeling.model import LeadModel
from leadscore.scoring.contributions import Contributions, contributions, is_exact
from leadscore.scoring.labels import humanise

SAMPLE = 2000
#: one prediction per field and lead: enough leads for stable averages, in seconds
FALLBACK_SAMPLE = 500
TOP = 12


def explain_sample(
    model: LeadModel, X: pd.DataFrame, sample: int = SAMPLE, seed: int = 0
) -> tuple[pd.DataFrame, Contributions]:
    """A random sample of at most ``sample`` leads and their contributions (at most
    :data:`FALLBACK_SAMPLE` for models explained by the slower model-agnostic fallback)."""
    if not is_exact(model):
        sample = min(sample, FALLBACK_SAMPLE)
    rows = X if len(X) <= sample else X.sample(sample, random_state=seed)
    rows = rows.reset_index(drop=True)
    return rows, contributions(model, rows)


def global_drivers(explained: Contributions) -> pd.DataFrame:
    """Fields by mean absolute contribution (score points), with the mean signed push.

    Example
    -------
    >>> rows, explained = explain_sample(model, leads, sample=100)
    >>> drivers = global_drivers(explained)
    >>> len(rows), drivers.columns.tolist(), drivers["field"].head(3).tolist()
    (100, ['field', 'importance', 'mean_points'], ['visits', 'time_on_site_s', 'returned_same_day'])
    """
    points = explained.points()
    table = pd.DataFrame(
        {
            "field": explained.fields,
            "importance": np.abs(points).mean(axis=0),
            "mean_points": points.mean(axis=0),
        }
    )
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return buffer.getvalue()


def drivers_bar_png(drivers: pd.DataFrame, top: int = TOP) -> bytes:
    """Bar chart: mean absolute contribution per field, largest on top."""
    shown = drivers.head(top).iloc[::-1]
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    axes.barh([humanise(f) for f in shown["field"]], shown["importance"], color="#2a6f97")
    axes.set_title("What moves the score most", fontsize=14)
    axes.set_xlabel("Average effect on a lead's score (points, 0–100 scale)", fontsize=11)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return _png(figure)


def _value_colour(values: pd.Series) -> np.ndarray:
    """0–1 per lead: the value's rank for numbers (and dates); NaN for categories."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = values.dt.hour.astype(float)
    if not pd.api.types.is_numeric_dtype(values.dtype):
        return np.full(len(values), np.nan)
    return values.rank(pct=True).to_numpy(dtype=float)


def beeswarm_png(rows: pd.DataFrame, explained: Contributions, top: int = TOP) -> bytes:
    """SHAP-style summary: one row per field, one dot per lead at its contribution,
    coloured from low (blue) to high (red) value; categories in grey."""
    drivers = global_drivers(explained)
    fields = list(drivers["field"].head(top))[::-1]
    points = explained.frame(points=True)
    rng = np.random.default_rng(0)
    figure = Figure(figsize=(7.5, 5))
    axes = figure.add_subplot()
    scatter = None
    for y, field in enumerate(fields):
        x = points[field].to_numpy()
        jitter = rng.uniform(-0.3, 0.3, len(x)) * np.minimum(1, 40 / (np.abs(x).std() * 40 + 1))
        colour = _value_colour(rows[field])
        grey = np.isnan(colour)
        axes.scatter(x[grey], y + jitter[grey], s=6, color="#999999", alpha=0.5)
        scatter = axes.scatter(
            x[~grey], y + jitter[~grey], s=6, c=colour[~grey], cmap="coolwarm", vmin=0, vmax=1,
            alpha=0.7,
        )  # fmt: skip
    axes.set_yticks(range(len(fields)), [humanise(f) for f in fields])
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_title("How each field pushes individual leads", fontsize=14)
    axes.set_xlabel("Effect on the lead's score (points); right = raises it", fontsize=11)
    if scatter is not None:
        bar = figure.colorbar(scatter, ax=axes, pad=0.01)
        bar.set_label("value of the field (low → high)")
    figure.tight_layout()
    return _png(figure)
