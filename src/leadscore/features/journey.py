"""The ordered path through the funnel: steps, and counts of step n-grams per lead.

A step is the page category of a page view (``/pricing`` → ``pricing``, ``/blog/x`` →
``blog``, ``/`` → ``home``) or the name of any other event (``signup``,
``demo_request``). Repeats in a row collapse (``blog > blog > pricing`` is ``blog >
pricing``), then each lead's path is cut into n-grams like ``ad > demo > pricing``.

From training events the builder learns the vocabulary: the steps most leads take (the
rest become ``other``), the site sections whose page views are counted per lead, and the
n-grams worth counting. The journey features are the landing step, the number of distinct
steps, views per section (``views: pricing``) and n-gram counts (``journey: pricing >
signup``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from leadscore.features.prepare import (
    Prepared,
    distinct_per_lead,
    leads_per_value,
    ranked,
    rows_of,
)
from leadscore.features.vector import arrow_text, as_series, extracted, lowered, unique_map

OTHER = "other"


def page_category(urls: pd.Series) -> pd.Series:
    """First path segment of a URL, ``home`` for the root, lower case."""
    path = extracted(arrow_text(urls), r"^(?:[a-z][a-z0-9+.-]*://[^/?#]*)?(?P<path>[^?#]*)")
    segments = pc.split_pattern(pc.utf8_trim(path, characters="/"), "/", max_splits=1)
    first = lowered(pc.list_element(segments, 0))
    empty = pc.fill_null(pc.equal(first, ""), True)
    return as_series(pc.if_else(empty, "home", first), urls.index)


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


def gram_keys(
    lead_codes: np.ndarray,
    step_codes: np.ndarray,
    n_steps: int,
    sizes: tuple[int, ...] = (2, 3),
    only: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every step n-gram each lead took, from events sorted by lead and time: the lead
    code and the gram's int64 key (its size and step codes, see :func:`gram_name`) of
    each occurrence; with ``only``, just those grams.

    Example
    -------
    >>> steps = ["home", "pricing", "other"]
    >>> leads, keys = gram_keys(np.array([0, 0, 0, 1]), np.array([1, 1, 2, 1]), 3, (2,))
    >>> leads.tolist(), [gram_name(k, steps) for k in keys]
    ([0], ['pricing > other'])
    """
    keep = np.ones(len(step_codes), dtype=bool)
    keep[1:] = (step_codes[1:] != step_codes[:-1]) | (lead_codes[1:] != lead_codes[:-1])
    leads, steps = lead_codes[keep], step_codes[keep].astype(np.int64)
    base = np.int64(n_steps + 1)
    found_leads, found_keys = [], []
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
            same &= np.isin(key, only)
        found_leads.append(leads[: len(leads) - n + 1][same])
        found_keys.append(key[same])
    if not found_leads:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_leads).astype(np.int64, copy=False), np.concatenate(found_keys)


def gram_support(leads: np.ndarray, keys: np.ndarray) -> pd.Series:
    """How many distinct leads took each gram (of :func:`gram_keys`' occurrences), by
    gram key: counted over distinct (lead, gram) pairs, found by hashing one integer per
    occurrence (a group-by of the pairs took three times as long on a fit sample).

    Example
    -------
    >>> gram_support(np.array([0, 0, 1]), np.array([7, 7, 7])).to_dict()
    {7: 2}
    """
    ids, grams = pd.factorize(keys)
    pairs = pd.unique(leads * np.int64(max(len(grams), 1)) + ids)
    counts = np.bincount(pairs % max(len(grams), 1), minlength=len(grams))
    return pd.Series(counts, index=pd.Index(grams, dtype=np.int64))


def gram_name(key: int, vocabulary: list[str]) -> str:
    """``'pricing > signup'`` for an n-gram key built by :func:`ngram_counts`."""
    base = len(vocabulary) + 1
    parts = []
    while key >= base:
        key, code = divmod(key, base)
        parts.append(vocabulary[code])
    return " > ".join(reversed(parts))


# ----------------------------------------------------------------------------- per lead


def event_steps(prep: Prepared) -> tuple[np.ndarray, pd.Index]:
    """The step id of every prepared event and the step labels (computed once per
    preparation)."""
    if prep.step_ids is None:
        prep.step_ids, prep.step_labels = step_ids(
            prep.events["event"], prep.events["url"], prep.is_page_view
        )
    assert prep.step_labels is not None
    return prep.step_ids, prep.step_labels


def step_codes(prep: Prepared, steps: list[str]) -> np.ndarray:
    """Steps as codes into the fitted vocabulary ``steps`` (rare ones → other)."""
    ids, labels = event_steps(prep)
    vocabulary = pd.Index(steps)
    other = vocabulary.get_loc(OTHER)
    lookup = vocabulary.get_indexer(labels)
    lookup = np.append(np.where(lookup < 0, other, lookup), other)
    return lookup[ids].astype(np.int64)


def learn_steps(prep: Prepared, rows: np.ndarray, most: int) -> list[str]:
    """The ``most - 1`` steps most leads take among the events ``rows``, then ``other``."""
    ids, labels = event_steps(prep)
    support = leads_per_value(rows_of(prep.g, rows), rows_of(ids, rows), len(labels))
    names = [str(labels[i]) for i in ranked(support, labels) if support[i] > 0]
    return [*[x for x in names if x != OTHER][: most - 1], OTHER]


def learn_sections(prep: Prepared, rows: np.ndarray, most: int) -> list[str]:
    """The ``most`` site sections most leads view (pricing, blog, docs …)."""
    ids, labels = event_steps(prep)
    viewed = rows & prep.is_page_view
    support = leads_per_value(prep.g[viewed], ids[viewed], len(labels))
    return [str(labels[i]) for i in ranked(support, labels)[:most] if support[i] > 0]


def learn_ngrams(
    prep: Prepared,
    rows: np.ndarray,
    steps: list[str],
    sizes: tuple[int, ...],
    n_fit: int,
    most: int,
) -> list[int]:
    """The ``most`` n-grams taken by the most of the ``n_fit`` leads of the events
    ``rows`` (at least two leads and 1 % of them); ties by key."""
    leads, codes = rows_of(prep.g, rows), rows_of(step_codes(prep, steps), rows)
    # a size at a time (their keys differ by size): the occurrences of all sizes at once,
    # and the pairs hashed to count them, were the largest step of a fit in memory
    parts = [gram_support(*gram_keys(leads, codes, len(steps), (n,))) for n in sizes]
    parts = [part for part in parts if len(part)]
    if not parts:
        return []
    support = pd.concat(parts)
    support = support[support >= max(2, 0.01 * n_fit)].sort_index()
    support = support.sort_values(ascending=False, kind="stable")
    return [int(k) for k in support.index[:most]]


def fitted_grams(
    prep: Prepared, steps: list[str], sizes: tuple[int, ...], ngrams: list[int]
) -> np.ndarray:
    """How often each lead took each of the fitted n-grams, leads × ``ngrams`` (computed
    once per preparation)."""
    if prep.grams is None:
        wanted = np.asarray(ngrams, dtype=np.int64)
        leads, keys = gram_keys(prep.g, step_codes(prep, steps), len(steps), sizes, wanted)
        column = pd.Index(wanted).get_indexer(keys)
        cells = np.bincount(leads * len(wanted) + column, minlength=len(prep.leads) * len(wanted))
        prep.grams = cells.reshape(len(prep.leads), len(wanted))
    return prep.grams


def journey_features(
    prep: Prepared,
    steps: list[str],
    sections: list[str],
    ngrams: list[int],
    sizes: tuple[int, ...],
) -> dict[str, np.ndarray]:
    """Landing step, distinct steps, page views per section and fitted n-gram counts."""
    n = len(prep.leads)
    codes = step_codes(prep, steps)
    out: dict[str, np.ndarray] = {
        "landing_step": np.asarray(steps, dtype=object)[codes[prep.starts]],
        "distinct_steps": distinct_per_lead(prep.g, codes, n),
    }
    vocabulary = {name: i for i, name in enumerate(steps)}
    for section in sections:
        code = vocabulary.get(section)
        if code is None:
            continue
        hit = prep.is_page_view & (codes == code)
        out[f"views: {section}"] = np.bincount(prep.g[hit], minlength=n).astype(float)
    matrix = fitted_grams(prep, steps, sizes, ngrams)
    for i, key in enumerate(ngrams):
        out[f"journey: {gram_name(key, steps)}"] = matrix[:, i].astype(float)
    return out
