"""The look both renderers share: the colour palette, and the sizes of the PNG figures.

Colours are the Okabe–Ito palette, distinguishable with the common colour-vision
deficiencies; hot, warm and cold always have the same colours, in the report's PNGs and in
the dashboard's Altair charts alike.

Example
-------
>>> from leadscore.reporting.style import BLUE, SEGMENT_COLOURS
>>> BLUE, SEGMENT_COLOURS["hot"]
('#0072B2', '#D55E00')
"""

from __future__ import annotations

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#7F7F7F", "#CC79A7",
)  # fmt: skip
#: the colour of each segment, in the order hot, warm, cold
SEGMENT_COLOURS = {"hot": RED, "warm": ORANGE, "cold": BLUE}
#: the colour of levels with too few leads to trust (conversion charts)
FEW_LEADS = "#BBBBBB"

#: size of a report figure in inches, and its resolution: 840 × 540 pixels
FIGSIZE = (7.0, 4.5)
DPI = 120
TITLE_SIZE = 14
LABEL_SIZE = 12
TICK_SIZE = 11
LEGEND_SIZE = 10

__all__ = [
    "BLUE",
    "DPI",
    "FEW_LEADS",
    "FIGSIZE",
    "GREEN",
    "GREY",
    "LABEL_SIZE",
    "LEGEND_SIZE",
    "ORANGE",
    "PURPLE",
    "RED",
    "SEGMENT_COLOURS",
    "TICK_SIZE",
    "TITLE_SIZE",
]
