"""A seeded, realistic demo lead table with known (planted) effects.

:func:`generate_leads` builds the kind of table a CRM exports for a software company's web
funnel: one row per lead, with acquisition channel, geography, device, on-site engagement,
form answers and the outcome. The outcome is drawn from a known logistic model, so the demo,
the tests and the feature-importance checks have ground truth (``DemoLeads.truth``).
:func:`write_demo` writes a labelled history, a batch of fresh unlabelled leads and the truth
as CSV files.

Planted effects (logit scale, strongest first)
-----------------------------------------------

==  =========================  ==================================================================
#   Column                     Effect on the logit
==  =========================  ==================================================================
1   ``time_on_site_s``         +1.1 per unit of ``log1p(minutes) - 1.3`` (0 s: −1.43; 20 min:
                               +1.92; 1 h: +3.09). A missing value is a tracking gap: the truth
                               uses the real, hidden time.
2   ``returned_same_day``      yes +1.2, no 0
3   ``source``                 medium +1.6, email +0.7, linkedin +0.5, referral +0.4,
                               google +0.2, direct 0, facebook −0.5, missing 0
4   ``device``                 desktop +0.6, tablet +0.1, mobile 0, smart_tv −0.8
5   ``created_at`` weekday     Saturday or Sunday −0.4
6   ``created_at`` hour        09:00–16:59 (business hours, local naive time) +0.2
7   ``company_size``           "201-1000" and "1000+" +0.3, other sizes and missing 0
==  =========================  ==================================================================

The intercept is ``-3.52`` (about 12 % positives) unless ``positive_rate`` is given, in which
case it is solved by bisection so that the mean true probability equals ``positive_rate``.

Everything else has **no direct effect**: ``country``, ``industry`` (including the web-form
placeholder ``"Select"``), ``newsletter`` (pure noise) and ``visits``/``pages_per_visit``
(which only correlate with the outcome through a shared engagement level that also drives
time on site and returning the same day). ``sales_status`` is filled in by the sales team
*after* contact and is derived from the outcome: a deliberate target leak for the audit to
catch (about 15 % empty, 4 % label noise; on its own it reaches AUC ≈ 0.95).

Example
-------
>>> demo = generate_leads(1000, seed=7)
>>> demo.table.shape
(1000, 14)
>>> list(demo.truth.columns)
['lead_id', 'true_probability']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.demo.common import (
    HOUR_WEIGHTS,
    check_count,
    check_flag,
    check_rate,
    check_seed,
    check_start,
    day_weights,
    sigmoid,
    solve_intercept,
)
from leadscore.errors import DataError

__all__ = ["FEATURE_COLUMNS", "TABLE_COLUMNS", "DemoLeads", "generate_leads", "write_demo"]

DEFAULT_START = "2026-01-05"
DEFAULT_DAYS = 120

FEATURE_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "created_at",
    "source",
    "country",
    "device",
    "visits",
    "time_on_site_s",
    "pages_per_visit",
    "returned_same_day",
    "industry",
    "company_size",
    "newsletter",
)
"""Columns of an unlabelled table (as fresh leads look before anyone called them)."""

TABLE_COLUMNS: tuple[str, ...] = (*FEATURE_COLUMNS, "sales_status", "converted")
"""Columns of a labelled table, in order."""

# --- category levels, shares and planted effects -------------------------------------------
# ``None`` marks the share left missing (NaN in the table).

_SOURCES: dict[str | None, tuple[float, float]] = {  # level: (share, logit effect)
    "google": (0.30, 0.2),
    "facebook": (0.22, -0.5),
    "direct": (0.18, 0.0),
    "email": (0.12, 0.7),
    "linkedin": (0.08, 0.5),
    "referral": (0.08, 0.4),
    "medium": (0.01, 1.6),
    None: (0.01, 0.0),
}

_DEVICES: dict[str, tuple[float, float, float]] = {  # level: (share, logit effect, log-time shift)
    "desktop": (0.45, 0.6, 0.25),
    "mobile": (0.45, 0.0, -0.20),
    "tablet": (0.09, 0.1, 0.0),
    "smart_tv": (0.01, -0.8, -0.6),
}

_COUNTRIES: dict[str | None, float] = {
    "India": 0.35,
    "United States": 0.20,
    "United Kingdom": 0.10,
    "Germany": 0.08,
    "Brazil": 0.07,
    "Canada": 0.05,
    "Australia": 0.05,
    "France": 0.012,
    "Singapore": 0.010,
    "United Arab Emirates": 0.008,
    "Netherlands": 0.008,
    "Spain": 0.007,
    "South Africa": 0.006,
    "Mexico": 0.006,
    "Nigeria": 0.005,
    "Japan": 0.004,
    "Italy": 0.004,
    None: 0.03,
}

_INDUSTRIES: dict[str | None, float] = {
    "Software": 0.15,
    "Finance": 0.11,
    "Healthcare": 0.09,
    "Retail": 0.10,
    "Education": 0.10,
    "Manufacturing": 0.08,
    "Real Estate": 0.06,
    "Media": 0.06,
    "Select": 0.20,  # untouched web-form default: "not chosen"
    None: 0.05,
}

_COMPANY_SIZES: dict[str | None, tuple[float, float]] = {  # level: (share, logit effect)
    "1-10": (0.30, 0.0),
    "11-50": (0.25, 0.0),
    "51-200": (0.18, 0.0),
    "201-1000": (0.10, 0.3),
    "1000+": (0.07, 0.3),
    None: (0.10, 0.0),
}

_WON_STATUSES: dict[str, float] = {"Closed - won": 0.6, "Contract sent": 0.4}
_LOST_STATUSES: dict[str, float] = {
    "Lost - no budget": 0.25,
    "Lost - competitor": 0.15,
    "Not interested": 0.35,
    "No answer": 0.25,
}

TIME_CENTRE = 1.3  # log1p(minutes) at which the time-on-site effect is zero (≈ 2.7 min)
TIME_EFFECT = 1.1
RETURNED_EFFECT = 1.2
WEEKEND_EFFECT = -0.4
BUSINESS_HOURS = (9, 17)  # [start, end) hour of the naive local timestamp
BUSINESS_HOURS_EFFECT = 0.2
DEFAULT_INTERCEPT = -3.52  # gives ≈ 12 % positives with the shares above

_UNWORKED_SHARE = 0.15  # sales_status empty: nobody has called yet
_STATUS_NOISE = 0.04  # sales_status drawn from the other outcome's statuses (AUC ≈ 0.95)


@dataclass(frozen=True, eq=False)  # eq=False: DataFrames cannot be compared with ==
class DemoLeads:
    """A generated lead table and its ground truth.

    Attributes
    ----------
    table:
        What a CRM export looks like (columns :data:`TABLE_COLUMNS`, or
        :data:`FEATURE_COLUMNS` when unlabelled).
    truth:
        ``lead_id`` and ``true_probability``, the probability the outcome was drawn with.
    """

    table: pd.DataFrame
    truth: pd.DataFrame


def generate_leads(
    rows: int = 5000,
    *,
    seed: int = 42,
    start: str | pd.Timestamp = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    labelled: bool = True,
    positive_rate: float | None = None,
) -> DemoLeads:
    """Generate a seeded demo lead table with the planted effects of the module docstring.

    The same arguments give identical output; features do not depend on ``labelled`` or
    ``positive_rate`` (only the probabilities and outcomes do).

    Parameters
    ----------
    rows:
        Number of leads (an integer >= 1).
    seed:
        Seed of :func:`numpy.random.default_rng` (a non-negative integer).
    start:
        First day of the period; leads are created over ``days`` days from its midnight.
    days:
        Length of the period in days (an integer >= 1).
    labelled:
        Include the post-contact ``sales_status`` and the outcome ``converted``.
    positive_rate:
        Expected share of converted leads, strictly between 0 and 1. ``None`` keeps the
        default intercept (about 12 %).

    Returns
    -------
    DemoLeads
        The table and the per-lead true probability.

    Example
    -------
    >>> demo = generate_leads(2000, seed=1, positive_rate=0.05)
    >>> round(float(demo.truth["true_probability"].mean()), 3)
    0.05
    """
    rows = check_count("rows", rows)
    days = check_count("days", days)
    seed = check_seed(seed)
    start_day = check_start(start)
    labelled = check_flag("labelled", labelled)
    positive_rate = check_rate(positive_rate)
    width = max(6, len(str(rows)))
    return _generate(rows, seed, start_day, days, labelled, positive_rate, 1, width)


def write_demo(
    directory: Path, rows: int = 5000, new_rows: int = 1000, seed: int = 42
) -> dict[str, Path]:
    """Write a labelled history, fresh unlabelled leads and the truth as CSV files.

    ``leads.csv`` holds ``rows`` labelled leads created over 120 days from 2026-01-05.
    ``new_leads.csv`` holds ``new_rows`` leads created right after the history (at the same
    daily volume), drawn with ``seed + 1`` and numbered after the history; it has neither
    ``converted`` nor the post-contact ``sales_status``. ``truth.csv`` holds ``lead_id`` and
    ``true_probability`` for both. The directory is created if needed; existing files with
    these names are overwritten.

    Parameters
    ----------
    directory:
        Where to write the files.
    rows:
        Number of labelled leads (an integer >= 1).
    new_rows:
        Number of fresh leads (an integer >= 1).
    seed:
        Seed of the history; the fresh leads use ``seed + 1``.

    Returns
    -------
    dict[str, Path]
        Paths by name: ``"leads"``, ``"new_leads"`` and ``"truth"``.

    Example
    -------
    >>> paths = write_demo(Path("demo"), rows=500, new_rows=100)
    >>> sorted(paths), len(pd.read_csv(paths["new_leads"]))
    (['leads', 'new_leads', 'truth'], 100)
    """
    rows = check_count("rows", rows)
    new_rows = check_count("new_rows", new_rows)
    seed = check_seed(seed)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise DataError(f"directory: {directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)

    start = check_start(DEFAULT_START)
    # One id width for both files so ids sort and compare consistently.
    width = max(6, len(str(rows + new_rows)))
    history = _generate(rows, seed, start, DEFAULT_DAYS, True, None, 1, width)
    # Same daily volume as the history, starting the day after it ends.
    new_days = max(1, round(DEFAULT_DAYS * new_rows / rows))
    new_start = start + pd.Timedelta(days=DEFAULT_DAYS)
    fresh = _generate(new_rows, seed + 1, new_start, new_days, False, None, rows + 1, width)

    paths = {
        "leads": directory / "leads.csv",
        "new_leads": directory / "new_leads.csv",
        "truth": directory / "truth.csv",
    }
    _write_csv(history.table, paths["leads"])
    _write_csv(fresh.table, paths["new_leads"])
    _write_csv(pd.concat([history.truth, fresh.truth], ignore_index=True), paths["truth"])
    return paths


# --- generation ----------------------------------------------------------------------------


def _generate(
    rows: int,
    seed: int,
    start: pd.Timestamp,
    days: int,
    labelled: bool,
    positive_rate: float | None,
    first_id: int,
    width: int,
) -> DemoLeads:
    """Draw all columns for already validated arguments (the stream order is part of the API:
    changing it changes every seeded output)."""
    rng = np.random.default_rng(seed)
    n = rows

    # Creation time: pick a day (weekdays busier, mild growth), an hour on the daily curve,
    # then a second within the hour. Sorted, so ids follow creation order as in a CRM.
    weekday = (start.day_of_week + np.arange(days)) % 7
    weights = day_weights(start, days)
    day = rng.choice(days, size=n, p=weights / weights.sum())
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    offset = np.sort(day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, size=n))
    hour = offset % 86_400 // 3_600
    weekend = weekday[offset // 86_400] >= 5
    business = (hour >= BUSINESS_HOURS[0]) & (hour < BUSINESS_HOURS[1])
    created_at = np.datetime64(start.to_datetime64(), "s") + offset.astype("timedelta64[s]")

    # A hidden engagement level drives visits, time on site, pages and same-day returns, so
    # those columns correlate with one another (only time and returns act on the outcome).
    engagement = rng.standard_normal(n)
    source = _draw_codes(rng, n, [share for share, _ in _SOURCES.values()])
    country = _draw_codes(rng, n, list(_COUNTRIES.values()))
    device = _draw_codes(rng, n, [share for share, _, _ in _DEVICES.values()])

    # Geometric with a random mean: 1 + 2 * E[exp(0.5 z - 0.125)] = 3 visits on average.
    visits = rng.geometric(1.0 / (1.0 + 2.0 * np.exp(0.5 * engagement - 0.125)))

    # Seconds per visit are lognormal (desktop sessions longer); zeros are bounces or
    # tracking failures, more common for single-visit leads.
    time_shift = np.array([shift for _, _, shift in _DEVICES.values()])[device]
    log_seconds = math.log(70.0) + 0.45 * engagement + time_shift + 0.8 * rng.standard_normal(n)
    seconds = np.clip(np.rint(np.exp(log_seconds) * visits**0.9), 1, 6 * 3_600)
    zero = rng.random(n) < np.where(visits == 1, 0.11, 0.02)
    seconds = np.where(zero, 0.0, seconds)
    seconds_seen = np.where(rng.random(n) < 0.01, np.nan, seconds)

    pages = 1.0 + rng.gamma(2.0, 0.6, size=n) * np.exp(0.2 * engagement) * (
        1.0 + 0.15 * np.log(visits)
    )
    pages = np.where(zero, 1.0, np.round(pages, 2))  # a zero-second visit saw one page

    # Returning the same day needs a second visit; more visits make it likelier.
    returned_logit = -1.25 + 0.9 * np.log(np.maximum(visits - 1, 1)) + 0.3 * engagement
    returned = (visits >= 2) & (rng.random(n) < sigmoid(returned_logit))

    industry = _draw_codes(rng, n, list(_INDUSTRIES.values()))
    size = _draw_codes(rng, n, [share for share, _ in _COMPANY_SIZES.values()])
    newsletter = rng.random(n) < 0.35

    logit = (
        TIME_EFFECT * (np.log1p(seconds / 60.0) - TIME_CENTRE)
        + RETURNED_EFFECT * returned
        + np.array([effect for _, effect in _SOURCES.values()])[source]
        + np.array([effect for _, effect, _ in _DEVICES.values()])[device]
        + WEEKEND_EFFECT * weekend
        + BUSINESS_HOURS_EFFECT * business
        + np.array([effect for _, effect in _COMPANY_SIZES.values()])[size]
    )
    intercept = (
        DEFAULT_INTERCEPT if positive_rate is None else solve_intercept(logit, positive_rate)
    )
    probability = sigmoid(intercept + logit)
    # Drawn even when unlabelled so features and probabilities do not depend on ``labelled``.
    converted = rng.random(n) < probability

    ids = _lead_ids(first_id, n, width)
    table = pd.DataFrame(
        {
            "lead_id": ids,
            "created_at": pd.Series(created_at.astype("datetime64[us]")),
            "source": _labels(source, _SOURCES),
            "country": _labels(country, _COUNTRIES),
            "device": _labels(device, _DEVICES),
            "visits": visits.astype(np.int64),
            # float64 because of the missing values, as pandas reads it back from CSV.
            "time_on_site_s": seconds_seen,
            "pages_per_visit": pages,
            "returned_same_day": _yes_no(returned),
            "industry": _labels(industry, _INDUSTRIES),
            "company_size": _labels(size, _COMPANY_SIZES),
            "newsletter": _yes_no(newsletter),
        }
    )
    if labelled:
        table["sales_status"] = _sales_status(rng, converted)
        table["converted"] = _yes_no(converted)
    truth = pd.DataFrame({"lead_id": ids, "true_probability": probability})
    return DemoLeads(table=table, truth=truth)


def _sales_status(rng: np.random.Generator, converted: np.ndarray) -> pd.Series:
    """Post-contact status derived from the outcome: the leak the audit should flag."""
    n = converted.size
    levels = [*_WON_STATUSES, *_LOST_STATUSES]
    won = _draw_codes(rng, n, list(_WON_STATUSES.values()))
    lost = len(_WON_STATUSES) + _draw_codes(rng, n, list(_LOST_STATUSES.values()))
    looks_won = converted ^ (rng.random(n) < _STATUS_NOISE)
    codes = np.where(looks_won, won, lost)
    codes = np.where(rng.random(n) < _UNWORKED_SHARE, -1, codes)
    return _from_codes(codes, levels)


def _draw_codes(rng: np.random.Generator, n: int, shares: list[float]) -> np.ndarray:
    """Category codes 0..k-1 by share; the level at the position of ``None`` becomes -1 later."""
    p = np.asarray(shares, dtype=float)
    return rng.choice(p.size, size=n, p=p / p.sum())


def _labels(codes: np.ndarray, levels: Mapping[str | None, object]) -> pd.Series:
    """String column from codes; the ``None`` level (if any) becomes NaN."""
    names = list(levels)
    if None in names:
        missing = names.index(None)
        codes = np.where(codes == missing, -1, codes - (codes > missing))
        names.remove(None)
    return _from_codes(codes, names)


def _from_codes(codes: np.ndarray, names: list[str]) -> pd.Series:
    """String column of ``names[code]`` (code -1: NaN)."""
    # A take from an object lookup table (NaN last, so code -1 picks it) is the fastest
    # vectorised way to a pandas string column.
    lookup = np.array([*names, np.nan], dtype=object)
    return pd.Series(lookup[codes], dtype="str")


def _yes_no(flags: np.ndarray) -> pd.Series:
    """``"yes"``/``"no"`` column from booleans."""
    return _from_codes(flags.astype(np.int8), ["no", "yes"])


def _lead_ids(first: int, n: int, width: int) -> pd.Series:
    """Ids ``L000001`` … numbered from ``first``, zero-padded to ``width`` digits."""
    numbers = pd.Series(np.arange(first, first + n), dtype=np.int64).astype("str")
    return "L" + numbers.str.zfill(width)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV as a CRM exports it: whole seconds, times without a ``T``, Unix line ends."""
    out = frame.copy()
    if "time_on_site_s" in out:
        # Whole seconds print as "125", not "125.0"; missing stays empty.
        out["time_on_site_s"] = out["time_on_site_s"].astype("Int64")
    out.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S", lineterminator="\n")
