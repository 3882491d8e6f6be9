"""Field names → the words people use: labels, units, and what yes and no say.

Part of the phrase builder (:mod:`leadscore.scoring.phrases`): ``time_on_site_s`` →
"Time on site" in seconds, ``hours_to_return`` → "Time to return" in hours (and "No
return yet" when empty), ``os`` → "OS", ``returned_same_day`` → "Returned the same day" /
"Did not return the same day", ``first_visit_business_hours`` → "First visit in business
hours".
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

#: unit words → the unit shown
UNITS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s", "ms": "ms",
    "min": "min", "mins": "min", "minute": "min", "minutes": "min", "h": "h", "hr": "h",
    "hrs": "h", "hour": "h", "hours": "h", "d": "days", "day": "days", "days": "days",
    "pct": "%", "percent": "%", "%": "%",
}  # fmt: skip
#: name suffixes that are units (``time_on_site_s``); not ``day``: ``returned_same_day``
NAME_UNITS = {
    "s", "sec", "secs", "seconds", "ms", "min", "mins", "minutes", "h", "hours", "days", "pct",
    "percent",
}  # fmt: skip
#: name words written in capitals
ACRONYMS = {
    "os": "OS", "url": "URL", "urls": "URLs", "ip": "IP", "utm": "UTM", "crm": "CRM",
    "id": "ID", "api": "API", "seo": "SEO", "sem": "SEM", "cta": "CTA", "roi": "ROI",
    "b2b": "B2B", "b2c": "B2C", "sms": "SMS", "pdf": "PDF", "faq": "FAQ", "ceo": "CEO",
    "cto": "CTO", "cfo": "CFO", "cmo": "CMO", "vp": "VP", "hr": "HR", "ux": "UX", "ui": "UI",
    "kpi": "KPI", "nps": "NPS", "gdpr": "GDPR", "tv": "TV", "pc": "PC", "ppc": "PPC",
}  # fmt: skip
#: past-tense verbs a yes/no name can start with, and their base form ("did not …")
PAST = {
    "accepted": "accept", "agreed": "agree", "answered": "answer", "applied": "apply",
    "arrived": "arrive", "asked": "ask", "attended": "attend", "booked": "book",
    "bought": "buy", "called": "call", "came": "come", "chatted": "chat", "clicked": "click",
    "closed": "close", "completed": "complete", "contacted": "contact", "converted": "convert",
    "created": "create", "declined": "decline", "downloaded": "download", "emailed": "email",
    "engaged": "engage", "filled": "fill", "invited": "invite", "joined": "join",
    "liked": "like", "logged": "log", "opened": "open", "opted": "opt", "paid": "pay",
    "purchased": "purchase", "read": "read", "received": "receive", "referred": "refer",
    "registered": "register", "replied": "reply", "requested": "request",
    "responded": "respond", "returned": "return", "saved": "save", "scheduled": "schedule",
    "shared": "share", "signed": "sign", "started": "start", "submitted": "submit",
    "subscribed": "subscribe", "tried": "try", "unsubscribed": "unsubscribe",
    "upgraded": "upgrade", "used": "use", "viewed": "view", "visited": "visit",
    "watched": "watch",
}  # fmt: skip
#: how "<auxiliary> …" statements are denied
DENIED = {
    "is": "Is not", "was": "Was not", "are": "Are not", "were": "Were not", "has": "Does not have",
    "had": "Did not have", "can": "Cannot", "will": "Will not", "does": "Does not",
    "did": "Did not",
}  # fmt: skip
#: a flag's last words → what they mean as a condition ("First visit in business hours")
CONDITIONS = {
    "business hours": "in business hours", "office hours": "in office hours",
    "working hours": "in working hours", "weekend": "on a weekend", "weekday": "on a weekday",
    "night": "at night", "mobile": "on mobile", "desktop": "on desktop",
}  # fmt: skip
#: ``views: blog`` → "Blog views": count prefixes that read after their subject
_COUNTED = {"views", "visits", "clicks", "events", "downloads", "opens"}
_TRUE = {"yes", "y", "true", "t", "1", "1.0"}
_FALSE = {"no", "n", "false", "f", "0", "0.0"}

# ----------------------------------------------------------------------------- names


def name_words(name: str) -> list[str]:
    """A name's words, lower case: ``Do Not Email`` → ``["do", "not", "email"]``."""
    return [w for w in re.split(r"[^0-9a-zA-Z]+", name.lower()) if w]


#: ``hours_to_return``: the first word is the unit of a gap until an event
_GAPS = ("to", "until", "since", "before")
#: words before ``hours`` that make it a noun: business hours are not a duration
_NOT_UNITS = {
    "business", "office", "working", "opening", "peak", "school", "after", "happy", "per", "same",
}  # fmt: skip


def unit_of(name: str) -> str:
    """The unit a field's name carries: its last word (``time_on_site_s`` → ``s``) or, in
    ``hours_to_return``, its first; ``""`` for none (``first_visit_business_hours``: a
    compound noun, not a unit).

    Example
    -------
    >>> unit_of("time_on_site_s"), unit_of("hours_to_return"), unit_of("business_hours")
    ('s', 'h', '')
    """
    words = str(name).split("_") if str(name).islower() else []
    if len(words) >= 3 and words[1] in _GAPS and words[0] in NAME_UNITS:
        return UNITS[words[0]]
    if len(words) >= 2 and words[-1] in NAME_UNITS and words[-2] not in _NOT_UNITS:
        return UNITS[words[-1]]
    return ""


def humanise(name: str) -> str:
    """A field name as a person reads it: ``time_on_site_s`` → ``Time on site``,
    ``hours_to_return`` → ``Time to return``, ``os`` → ``OS``, ``views: blog`` → ``Blog
    views``, ``TotalVisits`` → ``Total Visits``; names written for people (``Lead
    Source``) stay as they are.

    Example
    -------
    >>> humanise("time_on_site_s"), humanise("os"), humanise("Lead Source")
    ('Time on site', 'OS', 'Lead Source')
    """
    name = str(name)
    if re.fullmatch(r"[A-Za-z][a-z0-9]*(?:[A-Z][a-z0-9]+)+", name):  # TotalVisits
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    if not (name.islower() or "_" in name):
        return name
    unit = unit_of(name)
    words = name.split("_")
    if unit and words[1:2] and words[1] in _GAPS:
        words = ["time", *words[1:]]
    elif unit:
        words = words[:-1]
    text = " ".join(w for w in words if w).strip()
    text = " ".join(ACRONYMS.get(w, w) for w in text.split(" "))
    counted = re.fullmatch(r"(\w+): (.+)", text)
    if counted:
        prefix, rest = counted.groups()
        text = f"{rest} {prefix}" if prefix in _COUNTED else f"{prefix} {rest}"
    text = text.replace(" > ", " → ")
    return text[:1].upper() + text[1:]


def _with_the(text: str) -> str:
    return re.sub(r"(?<!the )\bsame (day|week|month|visit|session)\b", r"the same \1", text)


def flag_label(label: str) -> str:
    """A yes/no field's label with its meaning spelt out: ``First visit business hours`` →
    ``First visit in business hours``."""
    lowered = label.lower()
    for ending, condition in CONDITIONS.items():
        if lowered.endswith(" " + ending) and not re.search(
            r"\b(in|on|at|during|outside)\s+(a\s+)?" + ending + "$", lowered
        ):
            return label[: -len(ending)] + condition
    return label


def flag_statements(label: str) -> tuple[str, str]:
    """What yes and no say for a yes/no field: a verb's statement and its denial, else the
    label named with yes / no.

    Example
    -------
    >>> flag_statements("Returned same day")
    ('Returned the same day', 'Did not return the same day')
    >>> flag_statements("First visit business hours")
    ('First visit in business hours: yes', 'First visit in business hours: no')
    """
    words = label.split(" ")
    first, rest = words[0].lower(), " ".join(words[1:])
    if first in PAST:
        said = _with_the(label)
        return said, _with_the(f"Did not {PAST[first]} {rest}".strip())
    if first in DENIED and rest:
        return label, f"{DENIED[first]} {rest}"
    named = flag_label(label)
    return f"{named}: yes", f"{named}: no"


def missing_words(name: str) -> str:
    """What an empty ``hours_to_<event>`` means: the event has not happened yet."""
    words = str(name).split("_") if str(name).islower() else []
    if len(words) >= 3 and words[0] in NAME_UNITS and words[1] in ("to", "until"):
        return "No " + " ".join(words[2:]) + " yet"
    return ""


def truth(value: Any) -> bool | None:
    """A yes/no value as True / False; ``None`` when it is neither.

    Example
    -------
    >>> truth("Yes"), truth(0.0), truth(2), truth("mobile")
    (True, False, None, None)
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


__all__ = [
    "ACRONYMS",
    "NAME_UNITS",
    "UNITS",
    "flag_label",
    "flag_statements",
    "humanise",
    "missing_words",
    "name_words",
    "truth",
    "unit_of",
]
