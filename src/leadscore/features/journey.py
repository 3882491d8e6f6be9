"""The ordered path through the funnel: steps, and counts of step n-grams per lead.

A step is the page category of a page view (``/pricing`` → ``pricing``, ``/blog/x`` →
``blog``, ``/`` → ``home``) or the name of any other event (``signup``,
``demo_request``). Repeats in a row collapse (``blog > blog > pricing`` is ``blog >
pricing``), then each lead's path is cut into n-grams like ``ad > demo > pricing``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.features.vector import unique_map

OTHER = "other"


def page_category(urls: pd.Series) -> pd.Series:
    """First path segment of a URL, ``home`` for the root, lower case."""
    path = urls.astype("string").str.extract(r"^(?:[a-z][a-z0-9+.-]*://[^/?#]*)?([^?#]*)",
                                             expand=False)  # fmt: skip
    first = path.str.strip("/").str.split("/", n=1).str[0].str.lower()
    return first.mask(first.fillna("") == "", "home")


def event_step(events: pd.Series) -> pd.Series:
    """An event name as a step label: lower case, runs of other characters → ``_``."""
    return events.str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")


def step_ids(
    events: pd.Series, urls: pd.Series, is_page_view: np.ndarray
) -> tuple[np.ndarray, pd.Index]:
    """Step of every event as an id into the returned labels: the page category for page
    views, else the event name. Computed on distinct event names and URLs only."""
    event_codes, event_labels = unique_map(events, event_step)
    url_codes, url_labels = unique_map(urls, page_category)
    labels = pd.Index(pd.unique(np.concatenate([event_labels, url_labels]).astype(object)))
    labels = labels[pd.notna(labels)]
    event_ids = np.append(labels.get_indexer(event_labels), -1)[event_codes]
    url_ids = np.append(labels.get_indexer(url_labels), -1)[url_codes]
    ids = np.where(is_page_view & (url_ids >= 0), url_ids, event_ids)
    return ids, labels


def ngram_counts(
    lead_codes: np.ndarray,
    step_codes: np.ndarray,
    n_steps: int,
    sizes: tuple[int, ...] = (2, 3),
    only: list[int] | None = None,
) -> pd.DataFrame:
    """Counts of each step n-gram per lead, from events sorted by lead and time.

    Returns a long frame with columns ``lead`` (code), ``gram`` (an int64 key combining the
    step codes, see :func:`gram_name`) and ``count``; with ``only``, just those grams.
    """
    keep = np.ones(len(step_codes), dtype=bool)
    keep[1:] = (step_codes[1:] != step_codes[:-1]) | (lead_codes[1:] != lead_codes[:-1])
    leads, steps = lead_codes[keep], step_codes[keep].astype(np.int64)
    base = np.int64(n_steps + 1)
    frames = []
    for n in sizes:
        if len(steps) < n:
            continue
        same = np.ones(len(steps) - n + 1, dtype=bool)
        key = np.full(len(steps) - n + 1, n, dtype=np.int64)  # the size makes keys unique
        for offset in range(n):
            window = steps[offset : len(steps) - n + 1 + offset]
            key = key * base + window
            if offset:
                same &= leads[offset : len(leads) - n + 1 + offset] == leads[: len(leads) - n + 1]
        if only is not None:
            same &= np.isin(key, np.asarray(only, dtype=np.int64))
        frames.append(pd.DataFrame({"lead": leads[: len(leads) - n + 1][same], "gram": key[same]}))
    if not frames:
        return pd.DataFrame({"lead": [], "gram": [], "count": []})
    grams = pd.concat(frames, ignore_index=True)
    return grams.groupby(["lead", "gram"], sort=False).size().rename("count").reset_index()


def gram_name(key: int, vocabulary: list[str]) -> str:
    """``'pricing > signup'`` for an n-gram key built by :func:`ngram_counts`."""
    base = len(vocabulary) + 1
    parts = []
    while key >= base:
        key, code = divmod(key, base)
        parts.append(vocabulary[code])
    return " > ".join(reversed(parts))
