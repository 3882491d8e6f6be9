"""How fields and numbers are written for people: field labels, range numbers, percentages.

The insights page, the dashboard and the findings' sentences all write a field, a number
and a share the same way (``time_on_site_s`` → ``Time on site (s)``, ``1,532``, ``6.8 %``).
"""

from __future__ import annotations


def field_label(name: str) -> str:
    """A field name as a person reads it: ``time_on_site_s`` → ``Time on site (s)``.

    Names already written for people (``Lead Source``) stay as they are.

    Example
    -------
    >>> field_label("returned_same_day"), field_label("Lead Source")
    ('Returned same day', 'Lead Source')
    """
    from leadscore.scoring.labels import humanise, unit_of

    name = str(name)
    unit = unit_of(name)
    return f"{humanise(name)} ({unit})" if unit else humanise(name)


def format_number(value: float) -> str:
    """A number for a range label: thousands separators, few decimals.

    Example
    -------
    >>> format_number(1532.0), format_number(2.456), format_number(0.01234)
    ('1,532', '2.46', '0.0123')
    """
    number = float(value)
    if number.is_integer() or abs(number) >= 100:
        return f"{number:,.0f}"
    if abs(number) >= 1:
        return f"{number:,.2f}".rstrip("0").rstrip(".")
    return f"{number:.3g}"


def percent(share: float) -> str:
    """A 0–1 share as ``"6.8 %"`` (``"<0.1 %"`` for tiny non-zero shares).

    Example
    -------
    >>> percent(0.0683), percent(0.0004)
    ('6.8 %', '<0.1 %')
    """
    if 0 < share < 0.0005:
        return "<0.1 %"
    return f"{100 * share:.1f} %"
