"""The figures of ``leadscore insights``, drawn with matplotlib: conversion by level, drivers.

Each takes the chart data of :mod:`leadscore.reporting.fields` (a conversion table's
levels, the top drivers) and returns a figure on its own Agg canvas; the dashboard draws the
same data with Altair (:mod:`leadscore.reporting.charts`).

Example
-------
>>> import pandas as pd
>>> from leadscore.reporting.mpl import render_png
>>> drivers = pd.DataFrame({"field": ["a", "b"], "importance": [2.0, 1.0]})
>>> render_png(drivers_figure(drivers))[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from leadscore.explain.wording import field_label, percent
from leadscore.reporting.fields import ConversionChartData, drivers_data
from leadscore.reporting.mpl import new_figure, text
from leadscore.reporting.style import (
    BLUE,
    GREY,
    LABEL_SIZE,
    LEGEND_SIZE,
    RED,
    TICK_SIZE,
    TITLE_SIZE,
)

#: drivers shown in the drivers chart
TOP_DRIVERS = 15
#: level names longer than this are shortened on charts (never in tables)
MAX_LABEL = 32


def conversion_figure(data: ConversionChartData, name: str, overall_rate: float) -> Figure:
    """Share of leads (bars, left) and conversion rate with its interval (right) per level.

    Levels flagged ``too_small`` are drawn as hollow grey points; the dashed red line is the
    overall rate. The title says how many levels are left out.

    Parameters
    ----------
    data:
        :func:`~leadscore.reporting.fields.conversion_chart_data` of a conversion table
        (:func:`leadscore.explain.conversion.conversion_by_level` …).
    name:
        The table's name (the field), for the title.
    overall_rate:
        The conversion rate of all leads.

    Example
    -------
    >>> from leadscore.explain.conversion import conversion_by_level
    >>> from leadscore.reporting.fields import conversion_chart_data
    >>> y = (leads["converted"] == "yes").to_numpy()
    >>> data = conversion_chart_data(conversion_by_level(leads["source"], y))
    >>> conversion_figure(data, "source", y.mean()).get_suptitle()
    'Source: leads and conversion by level'
    """
    shown = data.frame
    n = len(shown)
    fig, (share_ax, rate_ax) = new_figure(
        2, (8.0, max(3.2, 1.7 + 0.34 * n)), sharey=True, gridspec_kw={"width_ratios": [1, 1.5]}
    )
    pos = np.arange(n)
    share_ax.barh(pos, shown["share"], color=GREY, alpha=0.55)
    share_ax.set_yticks(pos, [text(level, MAX_LABEL) for level in shown["level"]])
    share_ax.invert_yaxis()
    small = shown["too_small"].to_numpy(dtype=bool)
    rate = shown["rate"].to_numpy(dtype=float)
    error = np.vstack([shown["err_low"].to_numpy(), shown["err_high"].to_numpy()])
    for mask, look in (
        (~small, {"color": BLUE, "label": "conversion rate, 95 % interval"}),
        (small, {"color": GREY, "mfc": "white", "label": "too few leads: uncertain"}),
    ):
        if mask.any():
            rate_ax.errorbar(rate[mask], pos[mask], xerr=error[:, mask], fmt="o", ms=7,
                             capsize=3, lw=1.5, **look)  # fmt: skip
    average = f"all leads: {percent(overall_rate)}"
    rate_ax.axvline(overall_rate, color=RED, ls="--", lw=1.5, label=average)
    for ax, xlabel in ((share_ax, "Share of leads (%)"), (rate_ax, "Conversion rate (%)")):
        ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
        ax.tick_params(labelsize=TICK_SIZE)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(left=0)
    share_ax.set_ylabel(text(field_label(name), 60), fontsize=LABEL_SIZE)
    rate_ax.legend(fontsize=LEGEND_SIZE, loc="best", framealpha=0.9)
    suffix = f" (top {n} of {data.levels} levels)" if data.hidden else ""
    fig.suptitle(text(f"{field_label(name)}: leads and conversion by level{suffix}", 110),
                 fontsize=TITLE_SIZE)  # fmt: skip
    return fig


def drivers_figure(drivers: pd.DataFrame, top: int = TOP_DRIVERS) -> Figure:
    """Horizontal bars of the ``top`` fields by importance, the most important on top.

    Parameters
    ----------
    drivers:
        Columns ``field`` and ``importance`` (e.g. ``global_drivers`` in score points).
    top:
        How many fields to show.

    Example
    -------
    >>> drivers_figure(pd.DataFrame({"field": ["a"], "importance": [1.0]})).get_axes()[0].get_title()
    'What moves the score most'
    """  # noqa: E501
    shown = drivers_data(drivers, top).iloc[::-1]
    fig, (ax,) = new_figure(figsize=(7.0, max(3.0, 1.5 + 0.32 * len(shown))))
    ax.barh([text(label, MAX_LABEL) for label in shown["label"]], shown["importance"],
            color=BLUE, alpha=0.85)  # fmt: skip
    ax.set_title("What moves the score most", fontsize=TITLE_SIZE)
    ax.set_xlabel("Importance (average effect on the score)", fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(axis="x", alpha=0.3)
    return fig


__all__ = ["MAX_LABEL", "TOP_DRIVERS", "conversion_figure", "drivers_figure"]
