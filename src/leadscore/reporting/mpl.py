"""Matplotlib basics of the PNG renderer: a figure on its own canvas, axes style, PNG bytes.

Figures are :class:`matplotlib.figure.Figure` objects with the Agg canvas: pyplot and its
global state (backend, rcParams, open figures) are never touched, so a report can be drawn
inside a web server or a test without side effects.

Example
-------
>>> from leadscore.reporting.mpl import new_figure, render_png
>>> fig, (ax,) = new_figure()
>>> render_png(fig)[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from leadscore.reporting.style import DPI, FIGSIZE, LABEL_SIZE, LEGEND_SIZE, TICK_SIZE, TITLE_SIZE


def new_figure(
    ncols: int = 1, figsize: tuple[float, float] = FIGSIZE, **subplots: Any
) -> tuple[Figure, list[Axes]]:
    """A new figure on its own Agg canvas (no pyplot) with ``ncols`` side-by-side axes.

    ``subplots`` goes to :meth:`Figure.subplots` (e.g. ``sharey=True``).

    Example
    -------
    >>> fig, axes = new_figure(2)
    >>> len(axes), fig.get_size_inches().tolist()
    (2, [7.0, 4.5])
    """
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False, **subplots)[0]
    return fig, list(axes)


def style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    """Title, axis labels and tick labels in sizes a slide or a mail can carry.

    Example
    -------
    >>> fig, (ax,) = new_figure()
    >>> style(ax, "Title", "x", "y"); ax.get_title()
    'Title'
    """
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(alpha=0.3)


def legend(ax: Axes, loc: str = "best") -> None:
    """The legend in the report's size, on a nearly opaque box."""
    ax.legend(fontsize=LEGEND_SIZE, loc=loc, framealpha=0.9)


def thousands(ax: Axes, axis: str = "y") -> None:
    """Show large numbers on an axis with thousands separators (12,500)."""
    formatter = FuncFormatter(lambda value, _: f"{value:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def percent_axes(ax: Axes, x: bool = True, y: bool = True) -> None:
    """Label 0–1 shares on the axes as 0–100 %."""
    if x:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if y:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def text(value: Any, limit: int | None = None) -> str:
    """Text safe for matplotlib (``$`` starts math mode), optionally shortened to ``limit``.

    Example
    -------
    >>> text("Costs $5"), text("a very long level name", 8)
    ('Costs \\\\$5', 'a very …')
    """
    value = str(value)
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value.replace("$", r"\$")


def render_png(fig: Figure) -> bytes:
    """PNG bytes of a figure at the report resolution (120 dpi), on white.

    Example
    -------
    >>> render_png(new_figure()[0])[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


__all__ = ["legend", "new_figure", "percent_axes", "render_png", "style", "text", "thousands"]
