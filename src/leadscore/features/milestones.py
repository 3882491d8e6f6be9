"""Milestones: the events that mark progress (sign-up, demo request, …), per lead.

Unless named in the settings, the milestones are learned from training events: the most
common events other than page views, each done by at least 0.5 % of the leads. Each
gives two features: how often the lead did it, and the hours from its first visit to the
first time.
"""

from __future__ import annotations

import numpy as np

from leadscore.features.prepare import NS_PER_HOUR, Prepared, firsts, leads_per_value, ranked
from leadscore.features.vector import codes_and_uniques


def learn_milestones(prep: Prepared, rows: np.ndarray, n_fit: int, most: int) -> list[str]:
    """The ``most`` events (page views aside) done by the most leads among the events
    ``rows`` of ``n_fit`` leads; ties by name."""
    codes, event_names = codes_and_uniques(prep.events["event"])
    other = rows & ~prep.is_page_view & (codes >= 0)
    support = leads_per_value(prep.g[other], codes[other], len(event_names))
    order = ranked(support, event_names)
    keep = [i for i in order if support[i] >= max(1, 0.005 * n_fit)]
    return [str(event_names.iloc[i]) for i in keep[:most]]


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(name).lower()).strip("_")


def milestone_features(
    prep: Prepared, milestones: list[str], first_ts: np.ndarray
) -> dict[str, np.ndarray]:
    """``<name>_count`` and ``hours_to_<name>`` for every milestone (names match in any case)."""
    g, n = prep.g, len(prep.leads)
    out: dict[str, np.ndarray] = {}
    event_codes, event_names = codes_and_uniques(prep.events["event"])
    lower_names = event_names.str.lower().to_numpy(dtype=object)
    for name in milestones:
        hit = np.flatnonzero(np.isin(event_codes, np.flatnonzero(lower_names == name.lower())))
        key = _safe(name)
        out[f"{key}_count"] = np.bincount(g[hit], minlength=n).astype(float)
        first_hit = np.full(n, np.nan)
        first = hit[firsts(g[hit])]  # events are sorted: the first hit of each lead
        first_hit[g[first]] = prep.ts[first]
        out[f"hours_to_{key}"] = (first_hit - first_ts) / NS_PER_HOUR
    return out
