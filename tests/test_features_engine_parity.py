"""Feature groups rewritten for speed give exactly what the previous pandas code gave.

Each rewritten group keeps its previous implementation here, word for word, as the
reference. The builder runs twice on the same events — once as it is, once with the
reference patched in — and the two tables must be identical (rows, columns, values,
dtypes): on the demo's events, at per-lead cutoffs (point in time), with a fixed ``as_of``,
for a lead with a single event, for leads whose events lack most optional columns, and
for events all of one lead (a batch a Spark partition may get).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from leadscore.data.events import load_events
from leadscore.demo import write_demo_events
from leadscore.features import geo, text, traffic
from leadscore.features.build import LeadFeatureBuilder
from leadscore.features.prepare import Prepared, distinct_per_lead, first_present, firsts
from leadscore.features.sessions import Sessions
from leadscore.features.vector import by_unique

# ----------------------------------------------------------------------------- references


def reference_classify_traffic(
    referrers: pd.Series,
    urls: pd.Series,
    utm_source: pd.Series,
    utm_medium: pd.Series,
    own_domains: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """traffic.classify_traffic before it classified integer codes."""

    def from_url(func: object) -> pd.Series:
        return pd.Series(by_unique(urls, func), index=urls.index, dtype=object)

    utm_s = pd.Series(utm_source.astype(object), index=urls.index).fillna(
        from_url(lambda u: traffic.query_param(u, "utm_source"))
    )
    utm_m = pd.Series(utm_medium.astype(object), index=urls.index).fillna(
        from_url(lambda u: traffic.query_param(u, "utm_medium"))
    )
    keys = pd.DataFrame(
        {
            "host": by_unique(referrers, traffic.host_of),
            "utm_s": utm_s.to_numpy(),
            "utm_m": utm_m.to_numpy(),
            "click": from_url(traffic.click_source).to_numpy(),
            "recorded": referrers.notna().to_numpy(),
        },
        index=referrers.index,
    ).astype(object)
    key = np.zeros(len(keys), dtype=np.int64)
    levels = []
    for column in keys.columns:
        codes, uniques = pd.factorize(keys[column], use_na_sentinel=True)
        values = np.append(np.asarray(uniques, dtype=object), [None])
        key = key * len(values) + np.where(codes < 0, len(values) - 1, codes)
        levels.append(values)
    row_codes, distinct = pd.factorize(key)
    combos = []
    for k in distinct:
        parts = []
        for values in reversed(levels):
            k, code = divmod(int(k), len(values))
            parts.append(values[code])
        host, utm_s, utm_m, clicked, recorded = reversed(parts)
        combos.append(traffic._classify(host, utm_s, utm_m, clicked, bool(recorded), own_domains))
    labels = np.array(combos, dtype=object).reshape(-1, 2)
    return pd.DataFrame(labels[row_codes], index=referrers.index, columns=["source", "medium"])


def reference_touch_features(
    prep: Prepared, sessions: Sessions, own: frozenset[str]
) -> dict[str, np.ndarray]:
    """traffic.touch_features before it worked on codes."""
    n = len(prep.leads)
    entries = prep.events.subset(sessions.entry, ("referrer", "url", "utm_source", "utm_medium"))
    touches = reference_classify_traffic(
        entries["referrer"], entries["url"], entries["utm_source"], entries["utm_medium"], own
    )
    external = (touches["source"] != "internal").to_numpy()
    t_lead = sessions.lead[external]
    t_source = touches["source"].to_numpy()[external]
    t_medium = touches["medium"].to_numpy()[external]
    out: dict[str, np.ndarray] = {}
    first_rows = firsts(t_lead)
    last_rows = np.r_[first_rows[1:], len(t_lead)] - 1
    for name, values in (("source", t_source), ("medium", t_medium)):
        first = np.full(n, "internal", dtype=object)
        last = first.copy()
        first[t_lead[first_rows]] = values[first_rows]
        last[t_lead[last_rows]] = values[last_rows]
        out[f"first_touch_{name}"] = first
        out[f"last_touch_{name}"] = last
    out["sources"] = distinct_per_lead(t_lead, pd.factorize(t_source)[0], n)
    return out


def reference_lead_countries(prep: Prepared, lookup: Callable[[], geo.CountryLookup]) -> np.ndarray:
    """geo.lead_countries before it upper-cased distinct codes only."""
    if prep.countries is not None:
        return prep.countries
    n = len(prep.leads)
    given = pd.Series(first_present(prep.g, prep.events["country"], n), dtype=object).map(
        lambda code: code.upper() if isinstance(code, str) else None
    )
    ips = pd.Series(first_present(prep.g, prep.events["ip"], n), dtype=object)
    need = given.isna() & ips.notna()
    if need.any():
        given[need] = lookup().lookup(ips[need]).to_numpy()
    prep.countries = given.to_numpy(dtype=object)
    return prep.countries


def reference_lead_pages(prep: Prepared) -> tuple[pd.Series, sp.csr_matrix]:
    """text.lead_pages before it counted the pages viewed instead of sorting them."""
    if prep.pages is not None:
        return prep.pages
    pv = prep.is_page_view
    frame = prep.events
    ids, docs = text.page_ids(frame["url"], frame["page_title"])
    used, page_codes = np.unique(ids[pv], return_inverse=True)
    matrix = sp.coo_matrix(
        (np.ones(len(page_codes)), (prep.g[pv], page_codes)),
        shape=(len(prep.leads), len(used)),
    ).tocsr()
    prep.pages = docs.iloc[used].reset_index(drop=True), matrix
    return prep.pages


#: (module, name, previous implementation) of every rewritten group
REFERENCES: list[tuple[object, str, Callable]] = [
    (traffic, "touch_features", reference_touch_features),
    (geo, "lead_countries", reference_lead_countries),
    (text, "lead_pages", reference_lead_pages),
]

# ----------------------------------------------------------------------------- events


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo_events(folder, leads=300, new_leads=40, seed=23)
    events = load_events(paths["events"]).events
    outcomes = pd.read_csv(paths["outcomes"])
    return {"events": events, "outcomes": outcomes, "new": load_events(paths["new_events"]).events}


TIMES = ["2026-03-01 10:00", "2026-03-01 09:00", "2026-03-01 09:50", "2026-03-02 09:00",
         "2026-03-03 12:00", "2026-03-03 12:05"]  # fmt: skip


def sparse_events() -> pd.DataFrame:
    """A lead with one event, and leads whose events have only the required columns and a
    few optional ones (the rest missing): what a bare server log gives."""
    frame = pd.DataFrame(
        {
            "lead_id": ["solo", "bare", "bare", "bare", "half", "half"],
            "timestamp": pd.to_datetime(TIMES),
            "event": ["page_view", "page_view", "signup", "page_view", "page_view", "demo"],
            "url": [None, None, None, None, "https://acme.com/p?utm_source=fb&gclid=1", None],
            "referrer": [None, "", None, "https://www.bing.com/", None, ""],
            "country": [None, None, "de", None, None, "Gb"],
            "ip": [None, "8.8.8.8", None, None, "not an ip", None],
        }
    )
    for column in ("lead_id", "event", "url", "referrer", "country", "ip"):
        frame[column] = frame[column].astype("category")
    return frame


def both(
    monkeypatch: pytest.MonkeyPatch, run: Callable[[], pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``run()`` with the current groups, then with the references patched in."""
    current = run()
    with monkeypatch.context() as patch:
        for module, name, reference in REFERENCES:
            patch.setattr(module, name, reference)
        previous = run()
    return current, previous


def identical(current: pd.DataFrame, previous: pd.DataFrame) -> None:
    assert len(current) > 0
    pd.testing.assert_frame_equal(current, previous, check_exact=True)


# ----------------------------------------------------------------------------- parity


def test_demo_events(demo: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    events = demo["events"]
    builder = LeadFeatureBuilder().fit(events)
    identical(*both(monkeypatch, lambda: builder.transform(events)))
    # fitted under the references, then transforming: the same table (topics included)
    identical(*both(monkeypatch, lambda: LeadFeatureBuilder().fit_transform(events)))
    identical(*both(monkeypatch, lambda: builder.transform(demo["new"])))


def test_point_in_time_cutoffs(demo: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    events, outcomes = demo["events"], demo["outcomes"]
    cutoffs = pd.Series(
        pd.to_datetime(outcomes["outcome_at"], utc=True).dt.tz_localize(None).to_numpy(),
        index=outcomes["lead_id"].astype(str),
    )
    builder = LeadFeatureBuilder().fit(events, cutoffs)
    leads = pd.Index(outcomes["lead_id"].astype(str))
    identical(*both(monkeypatch, lambda: builder.transform(events, cutoffs, leads=leads)))
    when = pd.Timestamp(events["timestamp"].quantile(0.5))
    identical(*both(monkeypatch, lambda: builder.transform(events, as_of=when)))


def test_one_lead_and_missing_fields(demo: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    builder = LeadFeatureBuilder().fit(demo["events"])
    sparse = sparse_events()
    current, previous = both(monkeypatch, lambda: builder.transform(sparse))
    identical(current, previous)
    assert set(current["lead_id"]) == {"solo", "bare", "half"}
    by_lead = current.set_index("lead_id")
    assert by_lead.loc["bare", "country"] == "DE" and by_lead.loc["half", "country"] == "GB"
    assert by_lead.loc["half", "first_touch_medium"] == "paid"  # the gclid on its landing
    one = demo["events"][demo["events"]["lead_id"] == demo["events"]["lead_id"].iloc[0]]
    identical(*both(monkeypatch, lambda: builder.transform(one)))


def test_a_builder_fitted_on_sparse_events(monkeypatch: pytest.MonkeyPatch) -> None:
    sparse = sparse_events()
    builder = LeadFeatureBuilder().fit(sparse)
    identical(*both(monkeypatch, lambda: builder.transform(sparse)))


def test_no_events_give_no_rows(demo: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    builder = LeadFeatureBuilder().fit(demo["events"])
    none = demo["events"].iloc[:0]
    current, previous = both(monkeypatch, lambda: builder.transform(none))
    pd.testing.assert_frame_equal(current, previous)
    assert len(current) == 0


def test_classify_traffic_on_codes_and_text(demo: dict) -> None:
    events = demo["events"].head(3000)
    columns = ("referrer", "url", "utm_source", "utm_medium")
    for frame in (events, events.astype({c: object for c in columns})):
        args = [frame[c].reset_index(drop=True) for c in columns]
        expected = reference_classify_traffic(*args, frozenset({"acme.com"}))
        got = traffic.classify_traffic(*args, frozenset({"acme.com"}))
        pd.testing.assert_frame_equal(got, expected)


def test_demo_is_rich_enough(demo: dict) -> None:
    """The demo and the sparse events exercise what the rewritten groups branch on."""
    events = demo["events"]
    urls = events["url"].astype(str)
    assert urls.str.contains("gclid=").any() and urls.str.contains("utm_source=").any()
    assert (events["referrer"] == "").any() and events["utm_source"].notna().any()
    sparse = sparse_events()
    assert sparse["referrer"].isna().any() and sparse["country"].str.islower().any()


def test_references_are_complete() -> None:
    for module, name, _ in REFERENCES:
        assert callable(getattr(module, name))
    assert Path(__file__).name.startswith("test_features")
