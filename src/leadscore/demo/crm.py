"""The demo web funnel's CRM table: what sales and enrichment record about each lead.

Every demo lead has a CRM row created when it fills in the sign-up form (``updated_at`` is
its ``signup`` event): industry, company size, job title and its seniority, the lead
source as the CRM's picklist records it and the country the lead typed in (which may
differ from the country of its IP address). A share of the closed (history) leads have a
second row written *after* their outcome: the sales rep closed the deal (``status``
``Closed won`` / ``Closed lost``) and, for a won deal, recorded the buyer's seniority —
the trap a join that is not point in time falls into.

The fields are drawn from a random stream of their own (:func:`draw_crm`), so adding the
CRM left every behaviour event as it was; only which leads convert changed, because some
fields carry planted effects on the outcome's logit (``Crm.logit``):

==================  ====================================================================
Field               Effect on the logit
==================  ====================================================================
``seniority``       Student −1.2, Individual contributor −0.3, Manager +0.2, Director
                    +0.6, VP +0.9, C-level +0.5 (blank: 0)
``company_size``    1-10 −0.6, 11-50 0, 51-200 +0.4, 201-1000 +0.7, 1001+ +0.3 (blank: 0)
``industry``        Software +0.5, Financial services +0.3, Marketing agency +0.2,
                    Healthcare +0.1, Manufacturing 0, Retail −0.3, Public sector −0.4,
                    Education −0.6 (blank: 0)
``lead_source``     Event +0.8 (met at a trade show), Sales outreach −0.4; the web
                    sources follow the first touch (no effect of their own)
==================  ====================================================================

``job_title`` follows the seniority (no effect of its own); ``country`` and ``status``
(``Open`` on every row written before the outcome) have none.

Each lead also has who it is — ``name``, ``company`` (named after its industry), an
``email`` at the company's ``.example`` domain and its ``owner``, the sales rep it is
assigned to — from its id alone (:func:`identity_frame`), so every row of a lead agrees
and no random stream moves. They are for people reading the work queue: column roles set
them apart as identity (:func:`leadscore.data.roles.identity_kind`), never model inputs.

Example
-------
>>> rng = np.random.default_rng(0)
>>> drawn = draw_crm(rng, 4, country=np.zeros(4, dtype=int), source=np.zeros(4, dtype=int))
>>> drawn.logit.shape
(4,)
>>> list(crm_frame(drawn, pd.Series(["a", "b", "c", "d"]), np.zeros(4, dtype=np.int64))) == list(
...     CRM_COLUMNS)
True
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.demo.common import MS_DAY, MS_HOUR, draw, utc
from leadscore.demo.population import COUNTRIES

__all__ = [
    "CHANGE_SHARE",
    "COMPANY_SIZES",
    "CRM_COLUMNS",
    "INDUSTRIES",
    "SENIORITIES",
    "Crm",
    "crm_changes",
    "crm_frame",
    "draw_crm",
    "identity_frame",
]

CRM_COLUMNS: tuple[str, ...] = (
    "lead_id", "updated_at", "name", "company", "email", "owner", "industry", "company_size",
    "job_title", "seniority", "lead_source", "country", "status",
)  # fmt: skip
"""Columns of ``DemoEvents.crm`` (and ``crm.csv``)."""

# --- the fields: level: (share, logit effect); "" is a blank field -------------------------------

INDUSTRIES: dict[str, tuple[float, float]] = {
    "Software": (0.20, 0.5),
    "Financial services": (0.12, 0.3),
    "Healthcare": (0.10, 0.1),
    "Manufacturing": (0.12, 0.0),
    "Retail": (0.13, -0.3),
    "Marketing agency": (0.10, 0.2),
    "Education": (0.10, -0.6),
    "Public sector": (0.08, -0.4),
    "": (0.05, 0.0),
}
COMPANY_SIZES: dict[str, tuple[float, float]] = {
    "1-10": (0.26, -0.6),
    "11-50": (0.26, 0.0),
    "51-200": (0.20, 0.4),
    "201-1000": (0.14, 0.7),
    "1001+": (0.08, 0.3),
    "": (0.06, 0.0),
}
SENIORITIES: dict[str, tuple[float, float]] = {
    "Student": (0.07, -1.2),
    "Individual contributor": (0.31, -0.3),
    "Manager": (0.28, 0.2),
    "Director": (0.17, 0.6),
    "VP": (0.08, 0.9),
    "C-level": (0.05, 0.5),
    "": (0.04, 0.0),
}
_FUNCTIONS = ("Marketing", "Sales", "Operations", "Engineering", "Finance", "IT")
_TITLES: dict[str, tuple[str, str]] = {  # seniority: two title patterns ({} is the function)
    "Student": ("Student", "Intern"),
    "Individual contributor": ("{} Specialist", "{} Analyst"),
    "Manager": ("{} Manager", "{} Team Lead"),
    "Director": ("Director of {}", "Head of {}"),
    "VP": ("VP {}", "VP of {}"),
    "C-level": ("CEO", "Founder"),
    "": ("", ""),
}
# the CRM's lead source picklist for each first-touch source of the events
_WEB_SOURCE = {
    "google_organic": "Organic search",
    "google_ads": "Paid search",
    "facebook": "Paid social",
    "direct": "Direct",
    "email": "Email campaign",
    "linkedin": "Social",
    "partner": "Partner referral",
    "medium": "Content",
}
_OFFLINE = {"Event": (0.05, 0.8), "Sales outreach": (0.04, -0.4)}  # (share, logit effect)
_SOURCE_NOISE = 0.08  # the rep picked another web source than the first touch
_COUNTRY_NAMES = {
    "IN": "India", "US": "United States", "GB": "United Kingdom", "DE": "Germany",
    "BR": "Brazil", "CA": "Canada", "AU": "Australia", "FR": "France", "NL": "Netherlands",
    "SG": "Singapore", "JP": "Japan",
}  # fmt: skip
_OTHER_COUNTRY = 0.10  # the country typed in is not the IP address's (travel, VPN, HQ)
CHANGE_SHARE = 0.35
"""Share of closed leads whose CRM row is changed after the outcome."""
_PROMOTED = ("Director", "VP")  # the seniority a rep records for the buyer of a won deal

# --- who each lead is: from its id, never from a random stream --------------------------------

_FIRST_NAMES = (
    "Maria", "James", "Aisha", "Lukas", "Priya", "Tom", "Sofia", "Kenji", "Fatima", "Noah",
    "Elena", "Omar", "Hannah", "Mateo", "Chloé", "Ravi", "Ingrid", "Diego", "Mei", "Samuel",
    "Amara", "Jonas", "Lucía", "Arjun", "Emma", "Yusuf", "Clara", "Daniel", "Nora", "Wei",
)  # fmt: skip
_LAST_NAMES = (
    "Rossi", "Smith", "Khan", "Müller", "Sharma", "Brown", "García", "Tanaka", "Ali", "Johnson",
    "Petrova", "Haddad", "Schneider", "Silva", "Dubois", "Patel", "Larsen", "López", "Chen",
    "Okafor", "Weber", "Santos", "Kowalski", "Murphy", "Nakamura", "Yilmaz", "Jensen", "Costa",
)  # fmt: skip
_COMPANY_STEMS = (
    "Northwind", "Bluepeak", "Brightline", "Cedar", "Harbor", "Ironwood", "Lumen", "Meridian",
    "Oakridge", "Pioneer", "Quartz", "Redstone", "Silverline", "Summit", "Tidal", "Vertex",
    "Willow", "Aurora", "Beacon", "Crescent",
)  # fmt: skip
_INDUSTRY_WORDS = {  # what a company of each industry calls itself
    "Software": ("Labs", "Software"), "Financial services": ("Capital", "Finance"),
    "Healthcare": ("Health", "Clinics"), "Manufacturing": ("Industries", "Manufacturing"),
    "Retail": ("Stores", "Retail"), "Marketing agency": ("Media", "Agency"),
    "Education": ("Academy", "Learning"), "Public sector": ("Council", "Services"),
    "": ("Group", "Partners"),
}  # fmt: skip
OWNERS = ("Ana Lima", "Ben Carter", "Chloé Martin", "Dev Patel", "Emma Schulz", "Kenji Sato")
"""The demo's sales reps: each lead is assigned to one of them."""
_ASCII = str.maketrans("éüíóáñ", "euioan")


@dataclass(frozen=True, eq=False)
class Crm:
    """Each lead's CRM fields as codes into the tables above, and their logit effect."""

    industry: np.ndarray
    company_size: np.ndarray
    seniority: np.ndarray
    function: np.ndarray
    title_variant: np.ndarray
    lead_source: np.ndarray  # index into lead_source_levels()
    country: np.ndarray  # index into COUNTRIES
    logit: np.ndarray


def lead_source_levels() -> list[str]:
    """The CRM's lead source picklist: the web sources, then the offline ones."""
    return [*_WEB_SOURCE.values(), *_OFFLINE]


def _effects(table: dict[str, tuple[float, float]]) -> np.ndarray:
    return np.array([effect for _, effect in table.values()])


def _shares(table: dict[str, tuple[float, float]]) -> list[float]:
    return [share for share, _ in table.values()]


def draw_crm(rng: np.random.Generator, n: int, *, country: np.ndarray, source: np.ndarray) -> Crm:
    """Draw the CRM fields of ``n`` leads from ``rng`` (the CRM's own stream), given each
    lead's IP country and first-touch source (codes into ``COUNTRIES`` and ``SOURCES``)."""
    industry = draw(rng, n, _shares(INDUSTRIES))
    size = draw(rng, n, _shares(COMPANY_SIZES))
    seniority = draw(rng, n, _shares(SENIORITIES))
    function = rng.integers(0, len(_FUNCTIONS), n)
    variant = rng.integers(0, 2, n)
    n_web = len(_WEB_SOURCE)
    lead_source = source.astype(np.int64).copy()  # SOURCES and _WEB_SOURCE share their order
    u = rng.random(n)
    other = rng.integers(0, n_web, n)
    lead_source[u < _SOURCE_NOISE] = other[u < _SOURCE_NOISE]
    offline_cut = np.cumsum(_shares(_OFFLINE))
    v = rng.random(n)
    for k, cut in reversed(list(enumerate(offline_cut))):
        lead_source[v < cut] = n_web + k
    typed = country.astype(np.int64).copy()
    moved = rng.random(n) < _OTHER_COUNTRY
    typed[moved] = draw(rng, int(moved.sum()), [share for share, *_ in COUNTRIES.values()])
    logit = (
        _effects(INDUSTRIES)[industry]
        + _effects(COMPANY_SIZES)[size]
        + _effects(SENIORITIES)[seniority]
        + np.r_[np.zeros(n_web), _effects(_OFFLINE)][lead_source]
    )
    return Crm(industry, size, seniority, function, variant, lead_source, typed, logit)


def _text(levels: list[str], codes: np.ndarray) -> pd.Series:
    """Codes as text, a blank level as missing."""
    values = pd.Series(np.array(levels, dtype=object)[codes], dtype="str")
    return values.mask(values == "")


def _titles(seniority: np.ndarray, function: np.ndarray, variant: np.ndarray) -> pd.Series:
    table = np.array(
        [[[p.format(f) for p in _TITLES[s]] for f in _FUNCTIONS] for s in SENIORITIES],
        dtype=object,
    )
    return _text(list(table.ravel()), (seniority * len(_FUNCTIONS) + function) * 2 + variant)


def identity_frame(ids: pd.Series, industry: np.ndarray) -> pd.DataFrame:
    """Who each lead is — ``name``, ``company``, ``email``, ``owner`` — drawn from a hash
    of its id (the same lead always gets the same), the company named after its industry
    (codes into :data:`INDUSTRIES`).

    Parameters
    ----------
    ids:
        The leads' ids.
    industry:
        Each lead's industry, a code into :data:`INDUSTRIES`.

    Example
    -------
    >>> identity_frame(pd.Series(["u_000001"]), np.array([0])).iloc[0].tolist()
    ['Chloé Costa', 'Meridian Software', 'chloe.costa@meridian-software.example', 'Ben Carter']
    """
    hashes = np.array([zlib.crc32(str(i).encode("utf-8")) for i in ids], dtype=np.int64)
    first = np.array(_FIRST_NAMES, dtype=object)[hashes % len(_FIRST_NAMES)]
    rest = hashes // len(_FIRST_NAMES)
    last = np.array(_LAST_NAMES, dtype=object)[rest % len(_LAST_NAMES)]
    rest = rest // len(_LAST_NAMES)
    stem = np.array(_COMPANY_STEMS, dtype=object)[rest % len(_COMPANY_STEMS)]
    rest = rest // len(_COMPANY_STEMS)
    words = [_INDUSTRY_WORDS[level] for level in np.array(list(INDUSTRIES))[industry]]
    word = [pair[int(r % 2)] for pair, r in zip(words, rest, strict=True)]
    owner = np.array(OWNERS, dtype=object)[(rest // 2) % len(OWNERS)]
    company = [f"{s} {w}" for s, w in zip(stem, word, strict=True)]
    email = [
        f"{f}.{la}@{s}-{w}.example".lower().translate(_ASCII).replace(" ", "")
        for f, la, s, w in zip(first, last, stem, word, strict=True)
    ]
    return pd.DataFrame(
        {
            "name": [f"{f} {la}" for f, la in zip(first, last, strict=True)],
            "company": company,
            "email": email,
            "owner": owner,
        }
    )


def crm_frame(
    crm: Crm,
    ids: pd.Series,
    updated_at: np.ndarray,
    *,
    seniority: np.ndarray | None = None,
    status: np.ndarray | None = None,
) -> pd.DataFrame:
    """One CRM row per lead (:data:`CRM_COLUMNS`) as of ``updated_at`` (UTC milliseconds);
    ``seniority`` (codes) and ``status`` (text) replace the drawn ones when given."""
    level = crm.seniority if seniority is None else seniority
    countries = [_COUNTRY_NAMES[code] for code in COUNTRIES]
    who = identity_frame(ids, crm.industry)
    return pd.DataFrame(
        {
            "lead_id": ids.to_numpy(),
            "updated_at": utc(updated_at),
            **{column: who[column].to_numpy() for column in who.columns},
            "industry": _text(list(INDUSTRIES), crm.industry),
            "company_size": _text(list(COMPANY_SIZES), crm.company_size),
            "job_title": _titles(crm.seniority, crm.function, crm.title_variant),
            "seniority": _text(list(SENIORITIES), level),
            "lead_source": _text(lead_source_levels(), crm.lead_source),
            "country": _text(countries, crm.country),
            "status": pd.Series(["Open"] * len(ids) if status is None else status, dtype="str"),
        }
    )


def crm_changes(
    rng: np.random.Generator,
    crm: Crm,
    ids: pd.Series,
    converted: np.ndarray,
    outcome_at: np.ndarray,
) -> pd.DataFrame:
    """The rows written after the outcome for a share (:data:`CHANGE_SHARE`) of closed
    leads: ``status`` closed won or lost, and for won deals below Director the buyer's
    seniority (Director or VP), 1 hour to 10 days after ``outcome_at`` (UTC milliseconds).
    Draws a fixed number of values per lead, whatever the outcomes."""
    n = converted.size
    changed = rng.random(n) < CHANGE_SHARE
    delay = rng.integers(MS_HOUR, 10 * MS_DAY, n)
    promoted = np.array([list(SENIORITIES).index(s) for s in _PROMOTED])[rng.integers(0, 2, n)]
    levels = list(SENIORITIES)
    junior = (crm.seniority < levels.index("Director")) | (crm.seniority == levels.index(""))
    seniority = np.where(converted & junior, promoted, crm.seniority)
    status = np.where(converted, "Closed won", "Closed lost")
    rows = np.flatnonzero(changed)
    picked = Crm(*(getattr(crm, f)[rows] for f in Crm.__dataclass_fields__))
    return crm_frame(
        picked,
        ids.iloc[rows].reset_index(drop=True),
        outcome_at[rows] + delay[rows],
        seniority=seniority[rows],
        status=status[rows],
    )
