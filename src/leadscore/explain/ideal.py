"""The ideal customer, and how far leads and segments are from it.

The *ideal profile* describes the leads that both converted and were scored highest: for
every categorical field its most common level, for every numeric field its median. A single
lead's *deviations* say what each difference from that profile costs it in score points
(the model rescoring the lead with just that field set to the ideal value); the *segment
profiles* show how typical hot, warm and cold leads look next to the ideal, and the *ideal
comparison* keeps the handful of fields that separate hot from cold leads, those sales can
act on first, worded by the phrase builder.

Example
-------
>>> y = (leads["converted"] == "yes").to_numpy()
>>> kinds = {"device": "categorical", "returned_same_day": "categorical"}
>>> ideal = ideal_profile(leads, y, model.predict_proba(leads)[:, 1], kinds)
>>> ideal["device"], ideal["returned_same_day"]
('mobile', 'yes')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from leadscore.errors import DataError
from leadscore.explain.rates import outcomes
from leadscore.modeling.model import LeadModel
from leadscore.scoring.phrases import Phrasebook, value_words

#: segments in the order they are reported; any other labels follow alphabetically
SEGMENT_ORDER = ("hot", "warm", "cold")
#: quartiles that split a numeric field into the four bands used to match the ideal
QUARTILES = (0.25, 0.5, 0.75)
#: the ideal comparison's fields: at most this many, each matched by at least this much
#: larger a share of hot leads than of cold leads
COMPARED_FIELDS = 8
MIN_SEPARATION = 0.1


# ----------------------------------------------------------------------------- typical values


def typical_value(values: pd.Series, kind: str) -> Any:
    """Most common level (ties: alphabetically first) or median; ``None`` when all missing.

    Example
    -------
    >>> typical_value(pd.Series(["b", "a", "b", None]), "categorical")
    'b'
    >>> typical_value(pd.Series([1.0, 5.0, None, 3.0]), "numeric")
    3.0
    """
    present = values.dropna()
    if present.empty:
        return None
    if kind == "numeric":
        return float(pd.to_numeric(present).median())
    counts = present.astype(str).value_counts()
    top = counts.max()
    return sorted(counts.index[counts == top])[0]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """A cell as a plain Python value (numpy scalars unwrapped, missing → ``None``)."""
    if isinstance(value, np.generic):
        value = value.item()
    return None if _missing(value) else value


def ideal_profile(
    features: pd.DataFrame,
    y: Any,
    scores: Any,
    kinds: Mapping[str, str],
    *,
    top_share: float = 0.25,
) -> dict[str, object]:
    """The typical best customer: among converted leads, the ``top_share`` scored highest.

    Parameters
    ----------
    features:
        One row per lead.
    y:
        Outcome per lead, 0/1.
    scores:
        The model's score per lead (any scale where higher is better), in row order.
    kinds:
        ``"categorical"``, ``"numeric"`` or ``"datetime"`` per column; datetime fields and
        columns without a kind are skipped.
    top_share:
        Share of the converted leads (best scored first, at least one lead) that defines
        the ideal.

    Returns
    -------
    dict
        Field → most common level (missing values ignored) or median; ``None`` when the
        field is empty for all of those leads. In the column order of ``features``.

    Example
    -------
    >>> y = (leads["converted"] == "yes").to_numpy()
    >>> kinds = {"source": "categorical", "device": "categorical", "time_on_site_s": "numeric"}
    >>> ideal_profile(leads, y, model.predict_proba(leads)[:, 1], kinds)
    {'source': 'google', 'device': 'mobile', 'time_on_site_s': 1534.0}
    """
    y_arr = outcomes(y, len(features))
    score = np.asarray(scores, dtype=float)
    if score.shape != (len(features),):
        raise DataError(
            f"scores must hold one number per lead ({len(features)}), got {score.shape}"
        )
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share must be in (0, 1], got {top_share!r}")
    converted = np.flatnonzero(y_arr == 1)
    if converted.size == 0:
        raise DataError("no lead converted, so there is no ideal customer to describe")
    best_first = converted[np.argsort(-score[converted], kind="stable")]
    top = best_first[: max(1, math.ceil(top_share * converted.size))]
    rows = features.iloc[top]
    return {
        column: typical_value(rows[column], kinds[column])
        for column in features.columns
        if kinds.get(column) in ("categorical", "numeric")
    }


# ----------------------------------------------------------------------------- one lead


def _differs(value: Any, ideal: Any, kind: str) -> bool:
    if _missing(value):
        return True
    if kind == "numeric":
        return not math.isclose(float(value), float(ideal), rel_tol=1e-12, abs_tol=0.0)
    return str(value) != str(ideal)


def lead_deviations(
    model: LeadModel, lead: pd.DataFrame, ideal: Mapping[str, object]
) -> pd.DataFrame:
    """What each difference from the ideal costs one lead, in score points (0–100).

    For every field of ``ideal`` where the lead differs (another level, another number, or
    missing), a copy of the lead gets just that field set to the ideal value; all copies are
    scored in one ``predict_proba`` call. ``cost_points`` is the copy's score minus the
    lead's, × 100: positive means the difference costs the lead that many points, negative
    that it helps the lead.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel`.
    lead:
        A one-row frame with the model's input columns (raw or typed).
    ideal:
        What :func:`ideal_profile` returns; fields that are ``None`` or not model inputs
        are skipped.

    Returns
    -------
    pandas.DataFrame
        Columns ``field, value, ideal, cost_points``, the costliest difference first (ties
        in field order); ``value`` is ``None`` where the lead's field is missing.

    Example
    -------
    >>> ideal = {"returned_same_day": "yes", "time_on_site_s": 900.0}
    >>> leads.loc[0, "returned_same_day"], float(leads.loc[0, "time_on_site_s"])  # one differs
    ('yes', 123.0)
    >>> lead_deviations(model, leads.iloc[[0]], ideal).round(1)
                field  value  ideal  cost_points
    0  time_on_site_s  123.0  900.0          3.1
    """
    if not isinstance(lead, pd.DataFrame) or len(lead) != 1:
        raise DataError("lead_deviations needs a one-row DataFrame (one lead)")
    typed = model.schema_.conform(lead).reset_index(drop=True)
    kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    rows = []
    for field, target in ideal.items():
        if _missing(target) or kinds.get(field) not in ("categorical", "numeric"):
            continue
        value = _plain(typed.at[0, field])
        if _differs(value, target, kinds[field]):
            rows.append((field, value, target))
    columns = ["field", "value", "ideal", "cost_points"]
    if not rows:
        return pd.DataFrame(columns=columns)
    copies = pd.concat([typed] * (len(rows) + 1), ignore_index=True)
    for i, (field, _, target) in enumerate(rows, start=1):
        copies.loc[i, field] = float(target) if kinds[field] == "numeric" else str(target)
    p = model.predict_proba(copies)[:, 1]
    # object dtype: a missing value stays None (pandas would infer text and make it NaN)
    result = pd.DataFrame(rows, columns=columns[:3], dtype=object)
    result["value"] = result["value"].astype(object)
    result["cost_points"] = 100 * (p[1:] - p[0])
    return result.sort_values("cost_points", ascending=False, kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- segments


def _band(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    # edges below the value: [min, q1], (q1, q2], (q2, q3], (q3, max]; with "right" a flag
    # whose quartiles are all 0 put its 0s and 1s in one band, and everyone matched
    return np.searchsorted(edges, values.to_numpy(dtype=float), side="left")


def matches_ideal(
    features: pd.DataFrame, ideal: Mapping[str, object], kinds: Mapping[str, str]
) -> pd.DataFrame:
    """Per lead and ideal field, whether the lead matches the ideal (missing never does).

    A categorical value matches when it is the ideal level. A number matches when it lies
    in the same quarter of all leads' values as the ideal median (the bands are split at
    the quartiles of ``features``, each band closed above): scale-free, unlike "within ±25 %
    of the median", which breaks down for medians near zero and for skewed fields such as
    time on site. Where quartiles coincide (many leads share a value) the bands merge, but a
    value above them never joins one at them: a flag's 1 does not match its 0s.

    Example
    -------
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "c": list("aabbaabb")})
    >>> matches_ideal(frame, {"x": 7.5, "c": "a"}, {"x": "numeric", "c": "categorical"}).sum()
    x    2
    c    4
    dtype: int64
    """
    out = {}
    for field, target in ideal.items():
        if _missing(target) or field not in features.columns:
            continue
        values = features[field]
        if kinds.get(field) == "numeric":
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
            present = numbers.dropna()
            if present.empty:
                out[field] = np.zeros(len(values), dtype=bool)
                continue
            edges = np.quantile(present, QUARTILES)
            band = np.searchsorted(edges, float(target), side="left")  # type: ignore[arg-type]
            out[field] = numbers.notna().to_numpy() & (_band(numbers, edges) == band)
        else:
            out[field] = (values.notna() & (values.astype(str) == str(target))).to_numpy()
    return pd.DataFrame(out, index=features.index)


def _segment_order(segments: pd.Series) -> list[str]:
    present = [str(s) for s in segments.dropna().unique()]
    known = [s for s in SEGMENT_ORDER if s in present]
    return known + sorted(s for s in present if s not in SEGMENT_ORDER)


def segment_profiles(
    features: pd.DataFrame,
    segments: pd.Series,
    ideal: Mapping[str, object],
    kinds: Mapping[str, str],
) -> pd.DataFrame:
    """How typical hot, warm and cold leads look next to the ideal customer.

    Parameters
    ----------
    features:
        One row per lead.
    segments:
        The segment of every lead (``"hot"`` / ``"warm"`` / ``"cold"``), in row order.
    ideal:
        What :func:`ideal_profile` returns.
    kinds:
        Column kinds, as for :func:`ideal_profile`.

    Returns
    -------
    pandas.DataFrame
        One row per segment (hot, warm, cold first) and ideal field: ``segment, leads,
        field, ideal, typical`` (the segment's most common level or median), ``match_share``
        (share of the segment's leads matching the ideal, see :func:`matches_ideal`) and
        ``distance_from_ideal``: 1 − the segment's mean ``match_share`` over the fields,
        i.e. the share of field values that differ from the ideal for the average lead
        (0 = every lead is the ideal customer; the same on all rows of a segment).

    Example
    -------
    >>> ideal = {"returned_same_day": "yes", "time_on_site_s": 900.0}
    >>> kinds = {"returned_same_day": "categorical", "time_on_site_s": "numeric"}
    >>> segments = model.score_leads(leads)["segment"]
    >>> profiles = segment_profiles(leads, segments, ideal, kinds)
    >>> profiles.groupby("segment", sort=False)["distance_from_ideal"].first().round(2)
    segment
    hot     0.24
    warm    0.65
    cold    0.91
    Name: distance_from_ideal, dtype: float64
    """
    if len(segments) != len(features):
        raise DataError(f"segments has {len(segments)} values for {len(features)} leads")
    labels = pd.Series(np.asarray(segments, dtype=object), index=features.index)
    match = matches_ideal(features, ideal, kinds)
    rows = []
    for segment in _segment_order(labels):
        inside = (labels.astype(str) == segment).to_numpy()
        shares = match[inside].mean()
        distance = float(1 - shares.mean()) if len(shares) else float("nan")
        for field in match.columns:
            rows.append(
                {
                    "segment": segment,
                    "leads": int(inside.sum()),
                    "field": field,
                    "ideal": ideal[field],
                    "typical": typical_value(features.loc[inside, field], kinds[field]),
                    "match_share": float(shares[field]),
                    "distance_from_ideal": distance,
                }
            )
    columns = ["segment", "leads", "field", "ideal", "typical", "match_share"]
    return pd.DataFrame(rows, columns=[*columns, "distance_from_ideal"])


def ideal_comparison(
    profiles: pd.DataFrame,
    book: Phrasebook | None = None,
    *,
    top: int = COMPARED_FIELDS,
    min_separation: float = MIN_SEPARATION,
) -> pd.DataFrame:
    """The handful of fields that separate hot from cold leads, those sales can act on first.

    A field's ``separation`` is the share of the best segment's leads (hot) that match the
    ideal minus the share of the worst segment's (cold). Fields separating by at least
    ``min_separation`` count; of those ``top`` are kept — the strongest half of them among
    the fields sales can act on (:class:`~leadscore.scoring.phrases.FieldFacts`), half among
    the others, any places left to the strongest remaining — ordered actionable first, then
    by separation. A field in which every segment looks alike (a journey step nobody takes)
    never shows.

    Parameters
    ----------
    profiles:
        What :func:`segment_profiles` returns.
    book:
        The model's :func:`~leadscore.scoring.field_facts.phrasebook` (labels, whether
        sales can act, how values read); default: what the field names say.
    top, min_separation:
        As above.

    Returns
    -------
    pandas.DataFrame
        The rows of ``profiles`` for the kept fields, in the order above, with ``label``,
        ``actionable``, ``separation`` and the ideal and typical values in words
        (``ideal_text``, ``typical_text``).

    Example
    -------
    >>> from leadscore.scoring.field_facts import phrasebook
    >>> ideal = {"country": "United States", "returned_same_day": "yes", "time_on_site_s": 900.0}
    >>> kinds = {"country": "categorical", "returned_same_day": "categorical",
    ...          "time_on_site_s": "numeric"}
    >>> profiles = segment_profiles(leads, model.score_leads(leads)["segment"], ideal, kinds)
    >>> compared = ideal_comparison(profiles, phrasebook(model))
    >>> compared.drop_duplicates("field")[["label", "actionable", "ideal_text"]]
                    label  actionable     ideal_text
    0        Time on site        True         15 min
    3   Returned same day        True            yes
    6             Country       False  United States
    """
    columns = [*profiles.columns, "label", "actionable", "separation", "ideal_text",
               "typical_text"]  # fmt: skip
    book = book if book is not None else Phrasebook()
    order = _segment_order(profiles["segment"]) if len(profiles) else []
    if len(order) < 2:
        return pd.DataFrame(columns=columns)
    share = profiles.pivot_table(
        index="field", columns="segment", values="match_share", sort=False, aggfunc="first"
    )
    separation = (share[order[0]] - share[order[-1]]).dropna()
    separation = separation[separation >= min_separation].sort_values(ascending=False)
    ranked = list(separation.index)
    acts = {f: book.facts(str(f)).actionable for f in ranked}
    # half the places for each side, so that neither crowds the other out; the rest to the
    # strongest left
    can, cannot = [f for f in ranked if acts[f]], [f for f in ranked if not acts[f]]
    kept = can[: top // 2] + cannot[: top // 2]
    kept += [f for f in ranked if f not in kept][: max(0, top - len(kept))]
    kept.sort(key=lambda f: (not acts[f], -separation[f]))
    rows = profiles[profiles["field"].isin(kept)].copy()
    rows["_at"] = rows["field"].map({f: i for i, f in enumerate(kept)})
    rows["_segment"] = rows["segment"].map({s: i for i, s in enumerate(order)})
    rows = rows.sort_values(["_at", "_segment"], kind="stable").drop(columns=["_at", "_segment"])
    facts = {f: book.facts(str(f)) for f in kept}
    rows["label"] = [facts[f].label for f in rows["field"]]
    rows["actionable"] = [facts[f].actionable for f in rows["field"]]
    rows["separation"] = [float(separation[f]) for f in rows["field"]]
    for column in ("ideal", "typical"):
        rows[f"{column}_text"] = [
            value_words(facts[f], v, compare=False)
            for f, v in zip(rows["field"], rows[column], strict=True)
        ]
    return rows.reset_index(drop=True)[columns]


__all__ = [
    "SEGMENT_ORDER",
    "ideal_comparison",
    "ideal_profile",
    "lead_deviations",
    "matches_ideal",
    "segment_profiles",
    "typical_value",
]
