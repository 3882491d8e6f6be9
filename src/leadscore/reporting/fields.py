"""The insights' chart data, computed once: the drivers of the score and conversion by level.

Plain functions from the explain package's tables (global drivers, conversion tables) to the
frames a chart shows: which fields and levels, in which order, with which labels and
interval ends. Both renderers read them — :mod:`leadscore.reporting.insight_plots`
(matplotlib, for ``leadscore insights``) and :mod:`leadscore.reporting.charts` (Altair, for
the dashboard's Insights page). The evaluation's chart data is in
:mod:`leadscore.reporting.curves`.

Example
-------
>>> import pandas as pd
>>> drivers = pd.DataFrame({"field": ["visits", "time_on_site_s"], "importance": [1.0, 3.0]})
>>> drivers_data(drivers, top=1)["label"].tolist()
['Time on site (s)']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.explain.wording import field_label

#: a categorical conversion chart shows at most this many levels (the most frequent)
MAX_CHART_LEVELS = 12


def drivers_data(drivers: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` fields by importance, most important first, with a ``label`` to show.

    Example
    -------
    >>> drivers = pd.DataFrame({"field": ["visits", "time_on_site_s"], "importance": [1.0, 3.0]})
    >>> drivers_data(drivers, 5)["label"].tolist()
    ['Time on site (s)', 'Visits']
    """
    shown = drivers.sort_values("importance", ascending=False, kind="stable").head(top)
    return shown.assign(label=[field_label(f) for f in shown["field"]])


@dataclass(frozen=True)
class ConversionChartData:
    """The levels of a conversion table a chart shows and how many it leaves out.

    ``frame`` holds the table's columns (``level`` as text) and ``err_low`` / ``err_high``,
    the distances from the rate to its interval's ends (never negative).
    """

    frame: pd.DataFrame
    levels: int

    @property
    def hidden(self) -> int:
        """Levels of the table not shown."""
        return self.levels - len(self.frame)


def conversion_chart_data(
    table: pd.DataFrame, max_levels: int | None = MAX_CHART_LEVELS
) -> ConversionChartData:
    """A conversion table ready to chart: a categorical field's ``max_levels`` most frequent
    levels (ranges, weekdays and hours all, in their order; ``None``: every level).

    Example
    -------
    >>> from leadscore.explain.conversion import conversion_by_level
    >>> table = conversion_by_level(pd.Series(["a", "b", "a", "c"]), np.array([1, 0, 0, 1]))
    >>> data = conversion_chart_data(table, max_levels=2)
    >>> data.frame["level"].tolist(), data.hidden
    (['a', 'b'], 1)
    """
    shown = table
    categorical = table.attrs.get("kind", "categorical") == "categorical"
    if categorical and max_levels is not None and len(table) > max_levels:
        shown = table.head(max_levels)
    rate = shown["rate"].to_numpy(dtype=float)
    # clipped: at a rate of 0 or 1 the interval edge may miss the rate by a rounding error
    frame = shown.assign(
        level=[str(v) for v in shown["level"]],
        err_low=np.clip(rate - shown["ci_low"].to_numpy(dtype=float), 0, None),
        err_high=np.clip(shown["ci_high"].to_numpy(dtype=float) - rate, 0, None),
    )
    return ConversionChartData(frame=frame, levels=len(table))


__all__ = ["MAX_CHART_LEVELS", "ConversionChartData", "conversion_chart_data", "drivers_data"]
