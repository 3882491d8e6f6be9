"""Tables that stay readable in any terminal width.

rich squeezes a table wider than the terminal by cutting every cell, numbers included,
until a leaderboard reads ``0.…`` in each column of an 80-column terminal or a pipe. A
:func:`fitted_table` instead keeps each number whole: it leaves out the columns that
matter least until the rest fit (saying which were left out), and lets only text columns
wrap.

Example
-------
>>> from rich.console import Console
>>> columns = [Column("model", priority=0, wrap=True), Column("AUC", priority=0),
...            Column("log loss", priority=2), Column("Brier", priority=1)]
>>> table, left_out = fitted_table(columns, [["LightGBM", "0.8123", "0.412", "0.131"]], 30)
>>> [c.header for c in table.columns], left_out
(['model', 'AUC', 'Brier'], ['log loss'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.table import Table
from rich.text import Text

#: the narrowest a wrapping text column is squeezed to before columns are left out
MIN_TEXT_WIDTH = 12
#: a cell's padding and its border on one side: what each column adds to a boxed table
_COLUMN_FRAME = 3


@dataclass(frozen=True)
class Column:
    """One column of a :func:`fitted_table`.

    Parameters
    ----------
    header:
        Its heading.
    priority:
        0: always shown; higher numbers are left out first when the table is too wide.
    wrap:
        Text that may wrap onto more lines (a model's name, a reason); numbers never wrap.
    justify:
        ``"right"`` for numbers (the default), ``"left"`` for text.
    """

    header: str
    priority: int = 1
    wrap: bool = False
    justify: Literal["left", "right", "center"] = "right"


def fitted_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int, **table: Any
) -> tuple[Table, list[str]]:
    """A rich :class:`~rich.table.Table` of ``rows`` (cells as text, in the order of
    ``columns``) that fits ``width`` characters, and the headers of the columns left out.

    Columns are left out from the highest ``priority`` down (the rightmost first among
    equals) until the whole numbers of the rest fit beside text columns at least
    :data:`MIN_TEXT_WIDTH` wide; priority-0 columns always stay. ``table`` goes to
    :class:`~rich.table.Table` (``title``, ``header_style``, …).

    Parameters
    ----------
    columns:
        The columns, in the order shown.
    rows:
        One sequence of cells per row; cells may hold rich markup.
    width:
        The width to fit, usually ``console.width``.
    """
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"every row needs {len(columns)} cells, one per column")
    natural = [
        max([len(c.header), *(_width(row[i]) for row in rows)]) for i, c in enumerate(columns)
    ]
    needed = [
        min(n, MIN_TEXT_WIDTH) if c.wrap else n for c, n in zip(columns, natural, strict=True)
    ]
    shown = list(range(len(columns)))
    # rightmost first among equals: a table reads left to right, the key columns first
    droppable = sorted(
        (i for i, c in enumerate(columns) if c.priority > 0),
        key=lambda i: (columns[i].priority, i),
    )
    while droppable and 1 + sum(needed[i] + _COLUMN_FRAME for i in shown) > width:
        shown.remove(droppable.pop())
    out = Table(**table)
    for i in shown:
        column = columns[i]
        out.add_column(
            column.header,
            justify=column.justify,
            no_wrap=not column.wrap,
            min_width=None if column.wrap else natural[i],
            overflow="fold" if column.wrap else "ellipsis",
        )
    for row in rows:
        out.add_row(*(row[i] for i in shown))
    left_out = [columns[i].header for i in range(len(columns)) if i not in shown]
    return out, left_out


def _width(cell: str) -> int:
    """The width a cell takes on screen: its markup left out, wide characters counted."""
    return Text.from_markup(str(cell)).cell_len
