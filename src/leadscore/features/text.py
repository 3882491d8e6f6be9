"""Page and content terms: TF-IDF of the words in the URLs and titles a lead viewed,
reduced to a few dimensions (latent topics) with truncated SVD.

The topics are fitted on the training leads' page views (:class:`ContentTopics`); every
lead then gets ``content_topic_1`` … scores from the pages it viewed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from leadscore.features.prepare import Prepared
from leadscore.features.vector import unique_map

_BLOCK = 100_000  # leads per block when transforming
#: the modules the topics are fitted with (imported when fitting, or by unpickling a
#: fitted builder): a server that forks workers imports them once for all
TOPIC_MODULES = ("sklearn.decomposition", "sklearn.feature_extraction.text")

# Words, not ids: letters only, 3+ characters (hashes such as "f8a6d9" are left out).
TOKEN_PATTERN = r"(?u)\b[a-z]{3,}\b"
_STOP = ["www", "http", "https", "com", "html", "php", "index", "utm", "source", "medium",
         "campaign", "the", "and", "for", "with", "your", "you"]  # fmt: skip


def _path_words(urls: pd.Series) -> pd.Series:
    path = urls.str.extract(r"^(?:[a-z]+://[^/?#]*)?([^?#]*)", expand=False)
    return path.fillna("").str.replace(r"[/_\-.]+", " ", regex=True).str.lower()


def page_ids(urls: pd.Series, titles: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Page id of every event and the text of each distinct page (URL path words + title).

    Works on the distinct URLs and titles only; the query string is left out.
    """
    url_codes, url_words = unique_map(urls, _path_words)
    # many URLs differ only in their query string: one page per distinct path text
    path_ids, url_words = pd.factorize(url_words)
    url_codes = np.append(path_ids, [-1])[url_codes]
    title_codes, title_words = unique_map(titles, lambda t: t.fillna("").str.lower())
    n_titles = len(title_words) + 1
    key = url_codes.astype(np.int64) * n_titles + np.where(
        title_codes < 0, n_titles - 1, title_codes
    )
    ids, distinct = pd.factorize(key)
    url_part = np.append(url_words, [""])[distinct // n_titles]
    title_part = np.append(title_words, [""])[distinct % n_titles]
    docs = pd.Series(url_part, dtype="string") + " " + pd.Series(title_part, dtype="string")
    return ids, docs


class ContentTopics:
    """Fit on training pages and leads; give each lead ``n_components`` topic scores.

    Example
    -------
    >>> topics = ContentTopics(n_components=2)
    >>> docs = pd.Series(["pricing plans", "blog crm guide", "blog lead scoring"])
    >>> leads = sp.csr_matrix(np.array([[2, 0, 0], [0, 1, 1], [1, 1, 0]]))
    >>> topics.fit(docs, leads).transform(docs, leads).shape
    (3, 2)
    """

    def __init__(self, n_components: int = 5, min_leads: int = 5, random_state: int = 0) -> None:
        self.n_components = n_components
        self.min_leads = min_leads
        self.random_state = random_state

    def _lead_terms(self, docs: pd.Series, lead_pages: sp.csr_matrix) -> sp.csr_matrix:
        page_terms = self.vectorizer_.transform(docs.fillna(""))
        return _by_term(lead_pages @ page_terms)

    def fit(self, docs: pd.Series, lead_pages: sp.csr_matrix) -> ContentTopics:
        """``docs``: one text per page; ``lead_pages``: views, leads × pages."""
        self.fit_transform(docs, lead_pages)
        return self

    def fit_transform(self, docs: pd.Series, lead_pages: sp.csr_matrix) -> np.ndarray:
        """Fit, and return the training leads' topic scores without recomputing them."""
        # imported here: a process that only transforms gets them with the fitted objects
        # (unpickled), and the streamed job's own process, which fits nothing, never needs
        # them (70 MB and half a second)
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

        out = np.zeros((lead_pages.shape[0], self.n_components))
        self.vectorizer_ = CountVectorizer(
            token_pattern=TOKEN_PATTERN, stop_words=_STOP, max_features=5000
        )
        try:
            self.vectorizer_.fit(docs.fillna(""))
        except ValueError:  # no words at all on these pages
            self.vectorizer_ = None
            self.svd_ = None
            return out
        terms = self._lead_terms(docs, lead_pages)
        # Terms seen by too few leads are noise (and identify single leads).
        seen_by = np.asarray((terms > 0).sum(axis=0)).ravel()
        self.keep_ = np.flatnonzero(seen_by >= min(self.min_leads, max(1, terms.shape[0] // 20)))
        terms = terms[:, self.keep_]
        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(terms)
        k = min(self.n_components, max(terms.shape[1] - 1, 0))
        if k < 1:
            self.svd_ = None
            return out
        self.svd_ = TruncatedSVD(k, random_state=self.random_state)
        weighted = self.tfidf_.transform(terms)
        del terms  # the counts, once weighted: not held through the SVD
        reduced = self.svd_.fit_transform(weighted)
        out[:, : reduced.shape[1]] = reduced
        return out

    def transform(self, docs: pd.Series, lead_pages: sp.csr_matrix) -> np.ndarray:
        out = np.zeros((lead_pages.shape[0], self.n_components))
        if self.vectorizer_ is None or self.svd_ is None:
            return out
        page_terms = self.vectorizer_.transform(docs.fillna(""))[:, self.keep_].tocsc()
        # in blocks of leads, so the sparse term counts of millions of leads never coexist
        for start in range(0, lead_pages.shape[0], _BLOCK):
            block = _by_term(lead_pages[start : start + _BLOCK] @ page_terms)
            reduced = self.svd_.transform(self.tfidf_.transform(block))
            out[start : start + _BLOCK, : reduced.shape[1]] = reduced
        return out


def _by_term(terms: sp.spmatrix) -> sp.csr_matrix:
    """Term counts with each lead's terms in vocabulary order. A product's row holds its
    terms in the order of the lead's pages, which are numbered as they appear in the
    events at hand; the sums and products over a row that follow (the TF-IDF norm, the
    topics) would then round differently by the batch or bucket a lead came in."""
    out = terms.tocsr()
    out.sort_indices()
    return out


def lead_pages(prep: Prepared) -> tuple[pd.Series, sp.csr_matrix]:
    """Text of each distinct page viewed, and page views as a leads × pages matrix
    (computed once per preparation)."""
    if prep.pages is not None:
        return prep.pages
    pv = prep.is_page_view
    frame = prep.events
    ids, docs = page_ids(frame["url"], frame["page_title"])
    # np.unique(ids[pv], return_inverse=True) by counting: the ids are dense codes
    viewed = ids[pv]
    seen = np.bincount(viewed, minlength=len(docs)) > 0
    used = np.flatnonzero(seen)
    page_codes = (np.cumsum(seen) - 1)[viewed]
    matrix = sp.coo_matrix(
        (np.ones(len(page_codes)), (prep.g[pv], page_codes)),
        shape=(len(prep.leads), len(used)),
    ).tocsr()
    prep.pages = docs.iloc[used].reset_index(drop=True), matrix
    return prep.pages


def content_features(prep: Prepared, topics: ContentTopics | None) -> dict[str, np.ndarray]:
    """``content_topic_1`` … per lead from the fitted ``topics`` (none without them)."""
    if topics is None:
        return {}
    scores = topics.transform(*lead_pages(prep))
    return {f"content_topic_{k + 1}": scores[:, k] for k in range(scores.shape[1])}
