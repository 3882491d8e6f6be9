"""The HTML helpers of the report and the insights page: escaping, tables, figures, the page.

Pages are self-contained: the style sheet is inline and every figure is embedded as a
base64 PNG, so a page can be mailed or attached to a ticket and opened anywhere, without
scripts or anything fetched from elsewhere. Every value taken from data or metadata goes
through :func:`escape`.

Example
-------
>>> from leadscore.reporting.page import escape, html_page, table
>>> page = html_page("Q3 <leads>", table(("Field", "Leads"), [("source", "1,200")]))
>>> page.startswith("<!DOCTYPE html>") and "<title>Q3 &lt;leads&gt;</title>" in page
True
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 960px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom:
     1px solid #ddd; padding-bottom: .2em; }
.meta { color: #555; } .meta dt { font-weight: 600; float: left; clear: left;
        width: 11em; } .meta dd { margin-left: 11em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .95em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: right;
         white-space: nowrap; vertical-align: top; }
th { background: #f3f5f8; } .t { text-align: left; white-space: normal; }
tr.chosen td { background: #fff4d6; font-weight: 600; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; display: block;
         border: 1px solid #eee; } figcaption { color: #444; font-size: .95em;
         margin-top: .4em; }
.note { background: #f7f7f7; border-left: 4px solid #bbb; padding: .5em 1em; }
.warning { background: #fff4e5; border-left: 4px solid #E69F00; padding: .5em 1em; }
"""


def escape(value: Any) -> str:
    """HTML-escape any value (quotes included).

    Example
    -------
    >>> escape('"><img src=x>')
    '&quot;&gt;&lt;img src=x&gt;'
    """
    return html.escape(str(value), quote=True)


def fmt(value: Any, kind: str = "num") -> str:
    """A value for a table cell: missing → "–", shares as %, money with commas.

    ``kind`` is ``"num"`` (three decimals), ``"pct"``, ``"money"``, ``"int"``, ``"x"`` (a
    multiple) or ``"sec"``; anything not a number is shown as text.

    Example
    -------
    >>> fmt(0.1234, "pct"), fmt(12500.4, "money"), fmt(None), fmt(4.113, "x"), fmt("logreg")
    ('12.3 %', '12,500', '–', '4.11×', 'logreg')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    if kind == "pct":
        return f"{100 * float(value):.1f} %"
    if kind == "money":
        return f"{float(value):,.0f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "x":
        return f"{float(value):.2f}×"
    if kind == "sec":
        return f"{float(value):.1f} s"
    return f"{float(value):.3f}"


def table(
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    classes: Sequence[str] = (),
    text_columns: Sequence[int] = (0,),
) -> str:
    """An HTML table from formatted (not yet escaped) cells; ``classes`` per row.

    Columns in ``text_columns`` are left-aligned and may wrap; the others are numbers,
    right-aligned on one line.

    Example
    -------
    >>> table(("Model", "AUC"), [("<b>", "0.830")], classes=("chosen",))
    '<table><thead><tr><th class="t">Model</th><th>AUC</th></tr></thead><tbody><tr class="chosen"><td class="t">&lt;b&gt;</td><td>0.830</td></tr></tbody></table>'
    """  # noqa: E501

    def cell(tag: str, i: int, value: Any) -> str:
        css = ' class="t"' if i in text_columns else ""
        return f"<{tag}{css}>{escape(value)}</{tag}>"

    head = "".join(cell("th", i, value) for i, value in enumerate(header))
    body = []
    for n, row in enumerate(rows):
        css = f' class="{escape(classes[n])}"' if n < len(classes) and classes[n] else ""
        cells = "".join(cell("td", i, value) for i, value in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def facts(title: str, items: Iterable[tuple[str, Any]]) -> str:
    """The page heading and a list of facts under it (model, leads, …).

    Example
    -------
    >>> facts("Report", [("Leads", "1,500")])
    '<h1>Report</h1><dl class="meta"><dt>Leads</dt><dd>1,500</dd></dl>'
    """
    listed = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return f'<h1>{escape(title)}</h1><dl class="meta">{listed}</dl>'


def figure(figure_id: str, title: str, caption: str, png: bytes) -> str:
    """A figure embedded as a base64 PNG, with ``title`` as its alt text and a caption.

    Example
    -------
    >>> figure("roc", "ROC curve", "How well the score ranks.", b"png")[:48]
    '<figure id="roc"><img alt="ROC curve" src="data:'
    """
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="{escape(figure_id)}"><img alt="{escape(title)}" src="{src}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def html_page(title: str, body: str, extra_css: str = "") -> str:
    """A complete page: ``title``, the shared style sheet (plus ``extra_css``) and ``body``.

    Example
    -------
    >>> html_page("Insights", "<p>…</p>").endswith("<p>…</p></body></html>\\n")
    True
    """
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}{extra_css}</style></head><body>"
        + body
        + "</body></html>\n"
    )


__all__ = ["CSS", "escape", "facts", "figure", "fmt", "html_page", "table"]
