"""The demo's data dictionary: what each column of the demo lead table means.

``dictionary.csv`` is written beside the demo events (:func:`write_dictionary`) in the
format ``leadscore train --dictionary FILE`` reads (see
:mod:`leadscore.modeling.dictionary`): the column, its description, and the optional
label, unit, whether sales can act on it, level labels and what an empty value means. The
model keeps what it says of its inputs, so the API, the dashboard and batch scoring word
reasons by it ("Came back the same day", "Time to demo request: 2.7 hours", "No return
visit yet"). Journey columns (``journey: pricing > signup``) depend on the data and are
worded by their names.
"""

from __future__ import annotations

import csv
from pathlib import Path

#: the columns of ``dictionary.csv``
HEADER = ("Variable", "Description", "Label", "Unit", "Actionable", "Levels", "Missing")
#: the site sections whose page views the lead table counts (``views: pricing``)
SECTIONS = (
    "signup", "blog", "home", "product", "features", "pricing", "docs", "customers", "demo",
    "integrations", "resources", "webinars",
)  # fmt: skip

_FIELDS: tuple[tuple[str, ...], ...] = (
    ("lead_id", "The visitor's id (a first-party cookie)", "Lead", "", "no"),
    ("first_seen", "When the lead first visited the site", "First visit", "", "no"),
    ("events", "Tracking events recorded for the lead", "Events", "", "yes"),
    ("page_views", "Pages viewed, all visits together", "Page views", "", "yes"),
    ("distinct_pages", "Different pages viewed", "Different pages viewed", "", "yes"),
    ("sessions", "Visits to the site (sessions)", "Visits", "", "yes"),
    ("time_on_site_min", "Time spent on the site, all visits together", "Time on site", "min",
     "yes"),
    ("pages_per_session", "Pages viewed per visit, on average", "Pages per visit", "", "yes"),
    ("first_visit_hour", "Hour of day of the first visit, in the lead's local time",
     "Hour of the first visit", "", "no"),
    ("first_visit_weekday", "Weekday of the first visit (0 = Monday)",
     "Weekday of the first visit", "", "no"),
    ("first_visit_weekend", "Whether the first visit fell on a Saturday or Sunday",
     "First visit on a weekend", "", "no",
     "1=First visit on a weekend; 0=First visit on a weekday"),
    ("first_visit_business_hours",
     "Whether the first visit was on a weekday between 9:00 and 17:00 local time",
     "First visit in business hours", "", "no",
     "1=First visit in business hours; 0=First visit outside business hours"),
    ("local_time_from", "Where the local time comes from: the browser or the IP address",
     "Local time taken from", "", "no", "client=the browser; ip_country=the IP address"),
    ("active_days", "Days with at least one visit", "Days active", "", "yes"),
    ("returned", "Whether the lead came back for another visit", "Came back", "", "yes",
     "1=Came back for another visit; 0=Has not come back yet"),
    ("hours_to_return", "Hours from the first visit to the next one", "Time to come back", "h",
     "yes", "", "No return visit yet"),
    ("returned_same_day", "Whether the lead came back on the day of its first visit",
     "Came back the same day", "", "yes",
     "1=Came back the same day; 0=Did not come back the same day"),
    ("signup_count", "Sign-up forms filled in", "Sign-ups", "", "no"),
    ("hours_to_signup", "Hours from the first visit to the sign-up", "Time to sign-up", "h",
     "no", "", "No sign-up yet"),
    ("demo_request_count", "Demo requests", "Demo requests", "", "yes"),
    ("hours_to_demo_request", "Hours from the first visit to the first demo request",
     "Time to demo request", "h", "yes", "", "No demo request yet"),
    ("download_whitepaper_count", "Whitepapers downloaded", "Whitepaper downloads", "", "yes"),
    ("hours_to_download_whitepaper", "Hours from the first visit to the first download",
     "Time to whitepaper download", "h", "yes", "", "No whitepaper download yet"),
    ("webinar_registered_count", "Webinar registrations", "Webinar registrations", "", "yes"),
    ("hours_to_webinar_registered", "Hours from the first visit to the first registration",
     "Time to webinar registration", "h", "yes", "", "No webinar registration yet"),
    ("device_type", "Device of the first visit", "Device", "", "no"),
    ("os", "Operating system of the first visit", "Operating system", "", "no"),
    ("browser", "Browser of the first visit", "Browser", "", "no"),
    ("device_types", "Different kinds of device used (desktop, mobile …)", "Device kinds used",
     "", "no"),
    ("country", "Country of the IP address", "Country (from the IP address)", "", "no"),
    ("first_touch_source", "Where the first visit came from (referrer or campaign)",
     "First visit came from", "", "no"),
    ("last_touch_source", "Where the newest visit came from (referrer or campaign)",
     "Latest visit came from", "", "no"),
    ("first_touch_medium", "Channel of the first visit: organic, paid, referral, email …",
     "First visit channel", "", "no"),
    ("last_touch_medium", "Channel of the newest visit", "Latest visit channel", "", "no"),
    ("sources", "Different traffic sources the lead came from", "Traffic sources", "", "no"),
    ("landing_step", "Site section of the first page viewed", "Landing page", "", "no"),
    ("distinct_steps", "Different site sections viewed", "Site sections viewed", "", "yes"),
    *(
        (f"views: {section}", f"Pages viewed in the {section} section",
         f"{section.capitalize()} page views", "", "yes")
        for section in SECTIONS
    ),
    *(
        (f"content_topic_{n}", f"How much of what the lead read is about topic {n} (from the "
         "words of the pages viewed)", f"Reading on topic {n}", "", "yes")
        for n in range(1, 6)
    ),
    ("industry", "Industry of the lead's company (sign-up form)", "Industry", "", "no"),
    ("company_size", "Employees of the lead's company (sign-up form)", "Company size", "", "no"),
    ("job_title", "Job title (sign-up form)", "Job title", "", "no"),
    ("seniority", "Seniority of the job title", "Seniority", "", "no"),
    ("lead_source", "Lead source as the CRM records it", "Lead source (CRM)", "", "no"),
    ("crm_country", "Country typed in the sign-up form", "Country (sign-up form)", "", "no"),
    ("status", "Deal stage in the CRM: Open until the deal is closed won or lost", "Deal stage",
     "", "no"),
    ("converted", "Whether the lead became a paying customer: what the model predicts",
     "Became a customer", "", "no"),
)  # fmt: skip


def dictionary_rows() -> list[tuple[str, ...]]:
    """The dictionary's rows, each as long as :data:`HEADER`.

    Example
    -------
    >>> rows = {row[0]: row for row in dictionary_rows()}
    >>> rows["returned_same_day"][2], rows["hours_to_return"][6]
    ('Came back the same day', 'No return visit yet')
    """
    return [row + ("",) * (len(HEADER) - len(row)) for row in _FIELDS]


def write_dictionary(path: str | Path) -> Path:
    """Write the demo's ``dictionary.csv`` to ``path``.

    Example
    -------
    >>> from leadscore.modeling.dictionary import read_data_dictionary
    >>> entries = read_data_dictionary(write_dictionary("dictionary.csv"))
    >>> entries["country"].actionable, entries["hours_to_demo_request"].unit
    (False, 'h')
    """
    target = Path(path)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(dictionary_rows())
    return target


__all__ = ["HEADER", "SECTIONS", "dictionary_rows", "write_dictionary"]
