"""Input drift: how far this window's leads have moved from the leads the model learned on.

Each column's values are cut into bins on the *reference* (the training leads, or last
month's), and the population stability index compares the share of leads in each bin:

    PSI = Σ (current share − reference share) · ln(current share / reference share)

By the industry's convention (credit scoring, where PSI comes from) a PSI below 0.1 is
stable, 0.1–0.25 is worth watching, and 0.25 or more is a real shift. The score itself is
compared the same way when both windows' scores are given: a score that drifts while no
input does points at the model or its calibration, not at the leads.

Why not Evidently or NannyML (both on PyPI, both do this and more): PSI is a few lines of
NumPy, its thresholds are a convention rather than a library's choice, and either library
brings its own reporting stack (Plotly and many more transitive packages) into every
service install for one number per column. Should the project want their wider statistics
(Wasserstein, Jensen–Shannon, performance estimation without outcomes), they are the place
to look.

Example
-------
>>> reference = pd.DataFrame({"source": ["google"] * 6 + ["email"] * 4, "visits": range(10)})
>>> current = pd.DataFrame({"source": ["google"] * 2 + ["email"] * 8, "visits": range(10)})
>>> report = drift_report(reference, current)
>>> report.to_frame()[["feature", "psi", "status", "moved"]].round(3)
  feature    psi  status                   moved
0  source  0.717   drift  email: 40.0 % → 80.0 %
1  visits  0.000  stable      0: 10.0 % → 10.0 %
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadscore.explain.wording import format_number, percent

#: the share given to a bin that is empty on one side. ln(0) is infinite, so an empty bin
#: needs some share; 1e-4 (one lead in 10,000) is far below any real bin's share (10 % for
#: ten quantile bins), so a bin that fills up from nothing still counts heavily (5 % of the
#: current leads in a bin the reference never saw adds 0.05 · ln(500) ≈ 0.31, a drift
#: alone) while the sum stays finite.
EPSILON = 1e-4
#: the bin of missing values (numeric and categorical)
MISSING = "(missing)"
#: the bin of values the reference never had (categorical levels; numeric columns with few
#: distinct values)
OTHER = "(other)"
#: the bin of a number none of the training leads had (a field with few distinct values)
UNSEEN_NUMBER = "(a value not seen in training)"
#: the conventional thresholds: below WATCH stable, from ALERT on drift
#: the smallest share a reference level needs for a bin of its own (rarer ones pooled)
MIN_LEVEL_SHARE = 0.05
WATCH = 0.1
ALERT = 0.25
#: bins of the score (0–1), as for a numeric column
SCORE_BINS = 10

Kind = Literal["numeric", "categorical"]
Status = Literal["stable", "watch", "drift"]


@dataclass(frozen=True)
class FeatureDrift:
    """The drift of one column.

    Parameters
    ----------
    feature:
        The column's name (``"score"`` for the model's score).
    kind:
        ``"numeric"`` (quantile bins of the reference) or ``"categorical"`` (one bin per
        reference level).
    psi:
        The population stability index, 0 or more.
    status:
        ``"stable"`` (below ``watch``), ``"watch"`` or ``"drift"`` (``alert`` or more).
    moved:
        The bin whose share moved most, e.g. ``"google: 40.0 % → 12.0 %"``.

    Example
    -------
    >>> FeatureDrift("device", "categorical", 0.02, "stable", "mobile: 50.0 % → 53.0 %").status
    'stable'
    """

    feature: str
    kind: Kind
    psi: float
    status: Status
    moved: str

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON values (a non-finite PSI, which cannot happen, as ``None``)."""
        return {
            "feature": self.feature,
            "kind": self.kind,
            "psi": float(self.psi) if np.isfinite(self.psi) else None,
            "status": self.status,
            "moved": self.moved,
        }


@dataclass(frozen=True)
class DriftReport:
    """The drift of every column two windows of leads share, and of their scores.

    Parameters
    ----------
    features:
        One :class:`FeatureDrift` per compared column, in the reference's column order.
    score:
        The score's drift, ``None`` when no scores were given.
    skipped:
        Columns not compared, with the reason (only in one window, a date, an identifier).
    reference_rows, current_rows:
        The number of leads in each window.
    watch, alert:
        The thresholds the statuses were given by.

    Example
    -------
    >>> report = drift_report(leads.iloc[:150], leads.iloc[150:], alert=0.3)
    >>> report.reference_rows, report.current_rows, report.skipped["lead_id"]
    (150, 150, 'identifier or free text: most values distinct')
    """

    features: tuple[FeatureDrift, ...]
    score: FeatureDrift | None
    skipped: dict[str, str] = field(default_factory=dict)
    reference_rows: int = 0
    current_rows: int = 0
    watch: float = WATCH
    alert: float = ALERT

    @property
    def alerts(self) -> tuple[FeatureDrift, ...]:
        """The columns whose status is ``"drift"``, worst first (the score is separate)."""
        drifted = [f for f in self.features if f.status == "drift"]
        return tuple(sorted(drifted, key=lambda f: -f.psi))

    def to_frame(self) -> pd.DataFrame:
        """``feature, kind, psi, status, moved`` per compared column, highest PSI first."""
        columns = ["feature", "kind", "psi", "status", "moved"]
        frame = pd.DataFrame([f.to_dict() for f in self.features], columns=columns)
        frame["psi"] = frame["psi"].astype(float)
        return frame.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe values: plain floats and text, ``None`` for no value."""
        return {
            "reference_rows": int(self.reference_rows),
            "current_rows": int(self.current_rows),
            "watch": float(self.watch),
            "alert": float(self.alert),
            "features": [f.to_dict() for f in self.features],
            "score": None if self.score is None else self.score.to_dict(),
            "alerts": [f.feature for f in self.alerts],
            "skipped": {str(k): str(v) for k, v in self.skipped.items()},
        }


# ----------------------------------------------------------------------------- binning


def _kind(values: pd.Series) -> Kind | None:
    """How a column is binned (``None``: a date, not compared)."""
    if pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype):
        return None
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    return "categorical"


def _numbers(values: pd.Series) -> np.ndarray:
    """The values as floats; text that is no number and infinities become NaN (missing)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(numbers), numbers, np.nan)


def _numeric_codes(
    reference: pd.Series, current: pd.Series, bins: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin labels and each value's bin: quantile bins of the reference, or one bin per
    distinct value when it has at most ``bins`` of them. Missing values get the bin after
    the labelled ones, values outside the distinct ones the bin after that."""
    ref, cur = _numbers(reference), _numbers(current)
    distinct = np.unique(ref[~np.isnan(ref)])
    if len(distinct) <= bins:
        labels = [format_number(v) for v in distinct]

        def codes(x: np.ndarray) -> np.ndarray:
            at = np.minimum(np.searchsorted(distinct, x), max(len(distinct) - 1, 0))
            seen = distinct[at] == x if len(distinct) else np.zeros(len(x), dtype=bool)
            return np.where(seen, at, len(labels) + 1)

    else:
        # inner edges only: the outer bins are open, so current values beyond the
        # reference's range land in the end bins; a value that alone holds a quantile's
        # worth of leads (0 seconds on site) gets a bin of its own
        inner = np.unique(np.quantile(ref[~np.isnan(ref)], np.linspace(0, 1, bins + 1))[1:-1])
        text = [format_number(e) for e in inner]
        labels = [f"≤ {text[0]}"]
        labels += [f"{low} – {high}" for low, high in pairwise(text)]
        labels += [f"> {text[-1]}"]

        def codes(x: np.ndarray) -> np.ndarray:
            return np.searchsorted(inner, x, side="left")

    def coded(x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), len(labels), codes(np.nan_to_num(x)))

    # a number the training leads never had (of a field with few distinct values) says so,
    # rather than "(other)", which reads as a category
    return [*labels, MISSING, UNSEEN_NUMBER], coded(ref), coded(cur)


def _text(values: pd.Series) -> pd.Series:
    """Every value as text, missing ones as NaN."""
    objects = values.astype(object)
    return objects.where(objects.isna(), objects.astype(str))


def _categorical_codes(
    reference: pd.Series, current: pd.Series
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One bin per reference level of at least :data:`MIN_LEVEL_SHARE` (most common
    first), then missing, then the rarer and the unseen levels pooled."""
    ref, cur = _text(reference), _text(current)
    shares = ref.value_counts(sort=True, normalize=True)
    # rare levels pooled: with a few hundred reference leads, a level seen twice there and
    # five times in the current window would read as drift by itself
    levels = [str(level) for level, share in shares.items() if share >= MIN_LEVEL_SHARE]
    # a real level spelt like a pooled bin's label would be mistaken for it: pool it too
    levels = [level for level in levels if level not in (MISSING, OTHER)]

    def coded(text: pd.Series) -> np.ndarray:
        codes = pd.Index(levels, dtype=object).get_indexer(text.to_numpy()).astype(np.int64)
        codes = np.where(codes < 0, len(levels) + 1, codes)
        return np.where(text.isna().to_numpy(), len(levels), codes)

    return [*levels, MISSING, OTHER], coded(ref), coded(cur)


def _shares(codes: np.ndarray, n_bins: int) -> np.ndarray:
    return np.bincount(codes, minlength=n_bins)[:n_bins] / max(len(codes), 1)


def _index(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    ref = np.maximum(reference_shares, EPSILON)
    cur = np.maximum(current_shares, EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _check_series(values: Any, name: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise ValueError(f"{name} must be a pandas Series, got {type(values).__name__}")
    if values.empty:
        raise ValueError(f"{name} is empty: there are no values to compare")
    return values


def _compare(reference: pd.Series, current: pd.Series, bins: int, kind: Kind) -> tuple[float, str]:
    """The PSI of one column and the text of the bin that moved most."""
    if kind == "numeric":
        labels, ref_codes, cur_codes = _numeric_codes(reference, current, bins)
    else:
        labels, ref_codes, cur_codes = _categorical_codes(reference, current)
    ref, cur = _shares(ref_codes, len(labels)), _shares(cur_codes, len(labels))
    worst = int(np.argmax(np.abs(cur - ref)))
    return _index(ref, cur), f"{labels[worst]}: {percent(ref[worst])} → {percent(cur[worst])}"


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be a whole number of at least 2, got {bins!r}")


def psi(reference: pd.Series, current: pd.Series, bins: int = 10) -> float:
    """The population stability index of one column between two windows of leads.

    Numeric columns are cut at the reference's quantiles (``bins`` of them; edges that
    coincide merge; a column with at most ``bins`` distinct values gets one bin per value,
    other values pooled). Booleans, text and categories get one bin per reference level,
    levels the reference never had pooled as ``"(other)"``. Missing values form a bin of
    their own, and empty bins get a share of :data:`EPSILON` so the sum stays finite.

    Parameters
    ----------
    reference:
        The column in the window compared against (e.g. the training leads).
    current:
        The same column in the window under watch.
    bins:
        The number of quantile bins of a numeric column.

    Example
    -------
    >>> psi(leads["visits"], leads["visits"])
    0.0
    >>> round(psi(pd.Series(["a"] * 5 + ["b"] * 5), pd.Series(["a"] * 8 + ["b"] * 2)), 4)
    0.4159
    """
    reference = _check_series(reference, "reference")
    current = _check_series(current, "current")
    _check_bins(bins)
    kind = _kind(reference)
    if kind is None:
        raise ValueError(f"column {reference.name!r} holds dates: PSI compares numbers and levels")
    return _compare(reference, current, bins, kind)[0]


def _status(value: float, watch: float, alert: float) -> Status:
    if value >= alert:
        return "drift"
    return "watch" if value >= watch else "stable"


def _identifier(values: pd.Series, bins: int) -> bool:
    """A text column where most values are distinct (ids, names, notes): every new lead
    would be an unseen level, a drift that means nothing."""
    present = values.dropna()
    distinct = present.nunique()
    return distinct > bins and distinct > len(present) / 2


def _scores(values: Any, name: str) -> pd.Series:
    scores = _check_series(values, name)
    numbers = pd.to_numeric(scores, errors="coerce")
    bad = numbers.isna() | (numbers < 0) | (numbers > 1)
    if bad.any():
        raise ValueError(
            f"{name} must hold probabilities between 0 and 1; {int(bad.sum())} values do not"
        )
    return numbers.astype(float)


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    reference_scores: pd.Series | None = None,
    current_scores: pd.Series | None = None,
    watch: float = WATCH,
    alert: float = ALERT,
    bins: int = 10,
) -> DriftReport:
    """The PSI of every column both windows have, and of the score when it is given.

    Columns in only one window, dates and identifier-like text (most values distinct) are
    listed in ``skipped`` rather than compared.

    Parameters
    ----------
    reference:
        The leads compared against, one row per lead (e.g. the training table).
    current:
        The leads under watch (e.g. the last week's).
    reference_scores, current_scores:
        The model's scores (0–1) of each window's leads; both or neither.
    watch, alert:
        PSI thresholds: below ``watch`` a column is ``"stable"``, from ``alert`` on it has
        ``"drift"``, in between ``"watch"``.
    bins:
        The number of quantile bins of a numeric column.

    Example
    -------
    >>> report = drift_report(
    ...     leads.iloc[:150], leads.iloc[150:],
    ...     reference_scores=pd.Series(np.linspace(0, 1, 150)),
    ...     current_scores=pd.Series(np.linspace(0, 0.5, 150)),
    ... )
    >>> report.score.status, report.score.moved
    ('drift', '≤ 0.1: 10.0 % → 20.0 %')
    """
    for frame, window in ((reference, "reference"), (current, "current")):
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"the {window} leads must be a pandas DataFrame")
        if len(frame) == 0:  # rows without columns are leads (e.g. scores only)
            raise ValueError(f"no leads in the {window} window")
    if not 0 < watch < alert:
        raise ValueError(
            f"the thresholds must satisfy 0 < watch < alert, got watch={watch!r}, alert={alert!r}"
        )
    _check_bins(bins)
    if (reference_scores is None) != (current_scores is None):
        raise ValueError("give both reference_scores and current_scores, or neither")

    features: list[FeatureDrift] = []
    skipped: dict[str, str] = {}
    for column in reference.columns:
        name = str(column)
        if column not in current.columns:
            skipped[name] = "only in the reference window"
            continue
        kind = _kind(reference[column])
        if kind is None:
            skipped[name] = "date: not compared"
            continue
        if kind == "categorical" and _identifier(reference[column], bins):
            skipped[name] = "identifier or free text: most values distinct"
            continue
        value, moved = _compare(reference[column], current[column], bins, kind)
        features.append(FeatureDrift(name, kind, value, _status(value, watch, alert), moved))
    for column in current.columns:
        if column not in reference.columns:
            skipped[str(column)] = "only in the current window"

    score = None
    if reference_scores is not None and current_scores is not None:
        ref_scores = _scores(reference_scores, "reference_scores")
        cur_scores = _scores(current_scores, "current_scores")
        value, moved = _compare(ref_scores, cur_scores, SCORE_BINS, "numeric")
        score = FeatureDrift("score", "numeric", value, _status(value, watch, alert), moved)
    return DriftReport(
        features=tuple(features),
        score=score,
        skipped=skipped,
        reference_rows=len(reference),
        current_rows=len(current),
        watch=float(watch),
        alert=float(alert),
    )
