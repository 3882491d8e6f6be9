"""The 95 % intervals of the realised AUC and top-10 % lift (:func:`.performance.realised`).

Up to :data:`DELONG_FROM` judged outcomes both come from one percentile bootstrap
(:func:`bootstrap_intervals`, :data:`RESAMPLES` resamples): its cost grows with resamples
× outcomes, about 2 s at 65,000 outcomes. From there on:

* the AUC's interval is DeLong's (:func:`delong_interval`): the AUC's variance from each
  lead's share of the other class ranked below (or above) it, one sort, O(n log n); on
  tens of thousands of outcomes the bootstrap's interval and DeLong's agree to a few
  thousandths;
* the lift's is still a percentile bootstrap of :data:`RESAMPLES` resamples, each drawn
  exactly as a resample of every lead would fall but without drawing every lead
  (:func:`lift_interval`): only the top 10 % of a resample counts, so a draw is the score
  rank where the top ends and how many converters fall below and above it.

Example
-------
>>> y = np.array([0, 0, 1, 0, 1, 1, 0, 1] * 5)
>>> p = np.array([0.1, 0.3, 0.35, 0.4, 0.8, 0.7, 0.2, 0.9] * 5)
>>> intervals(y, p)[1]
'percentile bootstrap, 1000 resamples'
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

#: bootstrap resamples behind the intervals (the AUC's too below :data:`DELONG_FROM`)
RESAMPLES = 1000
#: from this many judged outcomes the AUC's interval is DeLong's and the lift's bootstrap
#: draws only the top of each resample
DELONG_FROM = 10_000
#: how :func:`intervals` made them, as :class:`~.performance.RealisedPerformance` says
BOOTSTRAP_METHOD = f"percentile bootstrap, {RESAMPLES} resamples"
DELONG_METHOD = f"DeLong (AUC); percentile bootstrap, {RESAMPLES} resamples (lift)"
#: resample rows × leads held in memory at once by the bootstrap
_BOOTSTRAP_CELLS = 1_000_000
#: the normal quantile of a two-sided 95 % interval
_Z = NormalDist().inv_cdf(0.975)


def intervals(
    y: np.ndarray, p: np.ndarray, seed: int = 0
) -> tuple[dict[str, tuple[float, float]], str]:
    """The 95 % intervals of the AUC (``"auc"``) and the top-10 % lift (``"lift_top10"``),
    and how they were made: :func:`bootstrap_intervals` below :data:`DELONG_FROM`
    outcomes, else :func:`delong_interval` and :func:`lift_interval`.

    Parameters
    ----------
    y, p:
        Outcomes (0/1) and scores, one per lead.
    seed:
        The bootstrap's seed: the same data and seed give the same intervals.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(20_000)
    >>> y = (rng.random(20_000) < p).astype(int)
    >>> found, method = intervals(y, p)
    >>> method.startswith("DeLong"), bool(found["auc"][0] < 0.833 < found["auc"][1])
    (True, True)
    """
    method = interval_method(len(y))
    if method == BOOTSTRAP_METHOD:
        return bootstrap_intervals(y, p, seed=seed), method
    return {"auc": delong_interval(y, p), "lift_top10": lift_interval(y, p, seed=seed)}, method


def interval_method(n: int) -> str:
    """How :func:`intervals` makes the intervals of ``n`` outcomes.

    Example
    -------
    >>> interval_method(500)
    'percentile bootstrap, 1000 resamples'
    """
    return BOOTSTRAP_METHOD if n < DELONG_FROM else DELONG_METHOD


def delong_interval(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """DeLong's 95 % interval of the ROC-AUC (ties count half), kept within 0–1.

    Each converter's share of non-converters scored below it and each non-converter's
    share of converters scored above it (from mid-ranks: one sort) average to the AUC;
    their variances over the converters and over the others give the AUC's variance
    (DeLong, DeLong & Clarke-Pearson 1988; the mid-rank form of Sun & Xu 2014). NaN
    without two of each outcome.

    Parameters
    ----------
    y, p:
        Outcomes (0/1) and scores, one per lead.

    Example
    -------
    >>> y = np.array([0, 0, 1, 0, 1, 1, 0, 1] * 5)
    >>> p = np.array([0.1, 0.3, 0.35, 0.4, 0.8, 0.7, 0.2, 0.9] * 5)
    >>> low, high = delong_interval(y, p)
    >>> bool(low < 0.9375 < high), bool(high <= 1)
    (True, True)
    """
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=float)
    converted = y == 1
    m, k = int(converted.sum()), int((~converted).sum())
    if min(m, k) < 2:
        return (np.nan, np.nan)
    ranks = _midranks(p)
    # each converter: non-converters below it (ties half) = its rank among all − among converters
    below = (ranks[converted] - _midranks(p[converted])) / k
    above = 1 - (ranks[~converted] - _midranks(p[~converted])) / m
    auc = float(below.mean())
    spread = _Z * float(np.sqrt(below.var(ddof=1) / m + above.var(ddof=1) / k))
    return (max(0.0, auc - spread), min(1.0, auc + spread))


def _midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + 1 + ends) / 2, ends - starts)
    return ranks


def lift_interval(
    y: np.ndarray, p: np.ndarray, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap 95 % interval of the lift in the top 10 %, each resample drawn
    from the distribution of a resample of every lead at the cost of a few numbers.

    A resample is n draws of a lead at random; best first, lead j covers [j, j + 1) of
    [0, n) and a draw is a uniform point there. The top 10 % are the ``top`` lowest
    points: the ``top``-th lowest, t, is n × Beta(top, n − top + 1); the ``top`` − 1 below
    it are uniform on [0, t), each a converter with the converters' share of [0, t);
    the n − ``top`` above it uniform on (t, n). So a resample's converters in the top and
    in all follow from t and two binomial draws, exactly as drawing every lead would give
    them. Leads ordered as :func:`bootstrap_intervals` orders them (best first, ties in
    the given order); resamples without a converter are left out.

    Parameters
    ----------
    y, p:
        Outcomes (0/1) and scores, one per lead.
    resamples, seed:
        How many resamples, and their seed.

    Example
    -------
    >>> y = np.array([0, 0, 1, 0, 1, 1, 0, 1] * 50)
    >>> p = np.array([0.1, 0.3, 0.35, 0.4, 0.8, 0.7, 0.2, 0.9] * 50)
    >>> low, high = lift_interval(y, p)
    >>> bool(low <= 2.0 <= high)
    True
    """
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=float)
    n = len(p)
    if n == 0:
        return (np.nan, np.nan)
    y_desc = y[np.argsort(-p, kind="stable")]
    top = max(1, round(0.1 * n))
    rng = np.random.default_rng(seed)
    # converters among the first j leads (best first); the share of [0, t) they cover
    before = np.r_[0, np.cumsum(y_desc)]
    edge = n * rng.beta(top, n - top + 1, size=resamples)
    lead = np.minimum(edge.astype(np.int64), n - 1)
    below = before[lead] + y_desc[lead] * (edge - lead)
    in_top = y_desc[lead] + rng.binomial(top - 1, np.clip(below / edge, 0, 1))
    above = rng.binomial(n - top, np.clip((before[-1] - below) / (n - edge), 0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        lifts = (in_top / top) / ((in_top + above) / n)
    return _percentile_interval(lifts)


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    """The 2.5 and 97.5 percentiles of the finite values (NaN without any)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return (np.nan, np.nan)
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))


def bootstrap_intervals(
    y: np.ndarray, p: np.ndarray, resamples: int = RESAMPLES, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap 95 % intervals of the AUC and the lift in the top 10 %.

    Each resample is a vector of counts (how often each lead was drawn), so the AUC and the
    lift of all resamples come from one sort of the original scores: the AUC from weighted
    counts of non-converters ranked below each converter (ties count half), the lift from
    the weighted leads filling the top 10 %. Resamples without both outcomes are left out.
    The counts are whole numbers and every sum of them is exact, so the figures do not
    depend on the order of the sums: the work is done on integers, on the converters' columns
    only where no scores tie, and for the lift on the columns that fill the top.

    Parameters
    ----------
    y, p:
        Outcomes (0/1) and scores, one per lead.
    resamples, seed:
        How many resamples, and their seed: the same data and seed give the same intervals.

    Example
    -------
    >>> y = np.array([0, 0, 1, 0, 1, 1, 0, 1] * 5)
    >>> p = np.array([0.1, 0.3, 0.35, 0.4, 0.8, 0.7, 0.2, 0.9] * 5)
    >>> low, high = bootstrap_intervals(y, p)["auc"]
    >>> bool(low < 0.9375 < high), bool(high <= 1)
    (True, True)
    """
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=float)
    n = len(p)
    if n == 0:
        return {"auc": (np.nan, np.nan), "lift_top10": (np.nan, np.nan)}
    order = np.argsort(-p, kind="stable")  # best first
    p_desc, y_desc = p[order], y[order]
    starts = np.flatnonzero(np.r_[True, p_desc[1:] != p_desc[:-1]])  # tie groups
    place = np.empty(n, dtype=np.intp)
    place[order] = np.arange(n)  # each lead's column, best first
    top = max(1, round(0.1 * n))
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CELLS // n)
    auc_parts: list[np.ndarray] = []
    lift_parts: list[np.ndarray] = []
    for first in range(0, resamples, chunk):
        rows = min(chunk, resamples - first)
        drawn = rng.integers(0, n, size=(rows, n))
        offsets = (np.arange(rows) * n)[:, None]
        # how often each lead was drawn, in columns best first
        weights = np.bincount((place[drawn] + offsets).ravel(), minlength=rows * n)
        weights = weights.reshape(rows, n)
        cumulative = np.cumsum(weights, axis=1)
        auc, converted = _resampled_auc(weights, cumulative, y_desc, starts)
        auc_parts.append(auc)
        lift_parts.append(_resampled_lift(weights, cumulative, y_desc, top, converted))
    return {
        "auc": _percentile_interval(np.concatenate(auc_parts)),
        "lift_top10": _percentile_interval(np.concatenate(lift_parts)),
    }


def _resampled_auc(
    weights: np.ndarray, cumulative: np.ndarray, y_desc: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each resample's AUC (NaN without both outcomes) and its converters drawn, from the
    draw counts of the leads best first (``weights``, with their running sums)."""
    n = weights.shape[1]
    if len(starts) < n:  # tied scores: by tie group, ties counting half
        positive = np.add.reduceat(weights * y_desc, starts, axis=1)
        negative = np.add.reduceat(weights, starts, axis=1) - positive
        converted, lost = positive.sum(axis=1), negative.sum(axis=1)
        below = lost[:, None] - np.cumsum(negative, axis=1)  # non-converters ranked below
        twice = (positive * (2 * below + negative)).sum(axis=1)
    else:  # each converter is above every non-converter but those ranked above it
        columns = np.flatnonzero(y_desc == 1)
        drawn = weights[:, columns]
        running = np.cumsum(drawn, axis=1)
        converted = running[:, -1] if len(columns) else np.zeros(len(weights), np.int64)
        lost = cumulative[:, -1] - converted
        above = cumulative[:, columns] - running
        twice = 2 * (drawn * (lost[:, None] - above)).sum(axis=1)
    pairs = (converted * lost).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (twice.astype(float) / 2) / pairs, converted


def _resampled_lift(
    weights: np.ndarray,
    cumulative: np.ndarray,
    y_desc: np.ndarray,
    top: int,
    converted: np.ndarray,
) -> np.ndarray:
    """Each resample's lift in the top ``top`` leads (not finite without a converter)."""
    n = weights.shape[1]
    # only the columns up to the one that fills the top in some resample can count
    fill = max(int(np.searchsorted(row, top, side="left")) for row in cumulative)
    k = min(n, fill + 1)
    part = weights[:, :k]
    before = cumulative[:, :k] - part
    in_top = np.clip(top - before, 0, part)
    with np.errstate(invalid="ignore", divide="ignore"):
        top_rate = (in_top * y_desc[:k]).sum(axis=1) / top
        return top_rate / (converted / n)
