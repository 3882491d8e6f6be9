"""Leakage: which columns are recorded after the outcome, decided on evidence.

The most expensive mistake in lead scoring is a column filled in *after* the outcome: a
sales status, a tag written after the call, a "closed" date. It makes the model look
near-perfect in validation and useless on new leads, which do not have it yet. But
strength alone is not evidence: the best behaviour columns (time on site, the value of
the pages a visitor saw, a credit balance) are strong *and* known before the outcome, and
leaving them out throws away the model. So a column is left out by default only on
specific evidence that it is written after the outcome:

``missingness``  whether it is filled in tracks the outcome (AUC ≥ 0.85) and explains its
                 signal: filled in when a deal closed, or after someone called;
``determined``   its levels (or ranges) that hold only converted leads and those that
                 hold only lost leads together cover ≥ 90 % of the table: the column
                 restates the outcome (a copy of it, the amount spent, a gift size);
``dictionary``   the data dictionary you supplied describes it as assigned, updated or
                 recorded by the team, after contact, or as a status or last activity;
``post_contact_values``  its values read like sales notes or outcomes ("Closed by …",
                 "Lost to …", "switched off") and it carries signal;
``pure_levels``  a category has levels with real support that are (almost) purely
                 converted *and* levels that are purely lost, together ≥ 10 % of the leads:
                 the signature of a status ("Closed by …", "Lost to …"). Behaviour has
                 levels that never convert (no time on site) but not both kinds;
``post_contact_name``  it is named like something sales records after contact (status,
                 tags, quality, stage, last activity, …) and carries signal.

A column that is strong on its own (single-column AUC ≥ 0.85) without any such evidence
is *kept* and reported as ``strong``: confirm it is known before the outcome. The report
gives a quick model's cross-validated AUC with and without it, so the decision rests on
numbers; ``--exclude`` leaves it out, ``--strict-leakage`` leaves out every strong column
too, ``--keep`` keeps a suspect on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from leadscore.data.columns import normalise_name
from leadscore.data.lead_table import LeadTable
from leadscore.modeling.dictionary import described_after_outcome
from leadscore.modeling.quick import quick_auc

MISSINGNESS_AUC = 0.85
#: a column at least this strong on its own, without evidence, is reported as strong
STRONG_AUC = 0.85
#: signal a column needs before its name or its values count against it
NAMED_POST_CONTACT_AUC = 0.65
VALUES_POST_CONTACT_AUC = 0.60
PURE_LEVELS_AUC = 0.60
#: a level is "pure" when at least this share converted …
PURE_CONVERTED = 0.97
#: … or at most this share did (and a tenth of the overall rate at most)
PURE_LOST = 0.01
#: pure levels must cover this share of the leads to count as evidence …
PURE_COVERAGE = 0.10
#: … and this share to say the column restates the outcome
DETERMINED_COVERAGE = 0.90
#: leads a level needs before its purity means anything
MIN_LEVEL_SUPPORT = 20
#: rows the with/without check of strong columns trains on (a stratified sample)
STRENGTH_SAMPLE = 10_000

Verdict = Literal["leak", "strong"]

_POST_CONTACT_NAME = re.compile(
    r"(^|_)(tags?|status|stage|quality|disposition|outcome|result|reason|notes?|comments?|"
    r"remarks?|feedback|owner|assigned|rating|grade|closed?|won|lost|converted|deal|"
    r"opportunity|contacted|called|followup|follow_up|score)(_|$)|^last_"
)
_POST_CONTACT_VALUE = re.compile(
    r"\b(closed|lost to|won|converted to (customer|client)|not interested|interested in|"
    r"ringing|switched off|wrong number|invalid number|no answer|not reachable|unreachable|"
    r"busy|call ?back|called|phone conversation|sms sent|contract sent|will revert|"
    r"already a student|hang ?up|hangup|dnc|do not call)\b",
    re.IGNORECASE,
)


@dataclass
class LeakageSuspect:
    """A column that may be recorded after the outcome, with the evidence.

    ``verdict`` is ``"leak"`` (specific evidence: left out unless kept on purpose) or
    ``"strong"`` (strong on its own, no evidence: kept unless leakage checks are strict).
    ``kept`` says what modelling does with it.
    """

    column: str
    reason: str
    check: str
    auc: float | None
    evidence: list[str] = field(default_factory=list)
    kept: bool = False
    verdict: Verdict = "leak"
    #: every kind of evidence found (see the module docstring)
    checks: list[str] = field(default_factory=list)
    #: a quick model's cross-validated AUC with and without the column (strong columns)
    auc_with: float | None = None
    auc_without: float | None = None

    @property
    def action(self) -> str:
        """What modelling does with the column, in words."""
        if self.verdict == "strong":
            if self.kept:
                return "kept: confirm it is known before the outcome"
            return "left out (strict leakage checks)"
        return "kept on purpose (--keep)" if self.kept else "left out of modelling"


# ----------------------------------------------------------------------------- single columns


def encode_levels(series: pd.Series, kind: str) -> pd.Series:
    """Group a column into levels: categories as is, numbers and dates into 20 quantile bins."""
    if kind == "categorical":
        return series.astype(object).where(series.notna(), "__missing__").astype(str)
    values = series
    if kind == "datetime":
        values = pd.to_datetime(series).astype("int64").where(series.notna())
    values = values.astype(float)
    if values.nunique() > 20:
        binned = pd.qcut(values.rank(method="first"), 20, labels=False)
    else:
        binned = values
    return binned.astype(object).where(values.notna(), "__missing__").astype(str)


def single_column_auc(
    series: pd.Series, y: np.ndarray, kind: str, folds: int = 5, seed: int = 0
) -> float:
    """Cross-validated AUC of one column on its own.

    Each level's conversion rate (smoothed toward the overall rate) is learned on the other
    folds, so a column that merely memorises rows (an id, a free-text field) scores about
    0.5 instead of looking perfect.
    """
    levels = encode_levels(series, kind).to_numpy()
    y = np.asarray(y)
    n_splits = int(min(folds, np.bincount(y).min()))
    if n_splits < 2:
        return float("nan")
    oof = np.zeros(len(y))
    smoothing = 20.0
    for train, test in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(levels, y):
        prior = y[train].mean()
        stats = pd.DataFrame({"level": levels[train], "y": y[train]}).groupby("level")["y"]
        rate = (stats.sum() + smoothing * prior) / (stats.count() + smoothing)
        oof[test] = pd.Series(levels[test]).map(rate).fillna(prior).to_numpy()
    return float(roc_auc_score(y, oof))


def missingness_auc(series: pd.Series, y: np.ndarray) -> float | None:
    """How well "is this column filled in?" alone separates the outcomes (0.5–1)."""
    missing = series.isna().to_numpy()
    if not 0 < missing.mean() < 1:
        return None
    auc = float(roc_auc_score(y, missing))
    return max(auc, 1 - auc)


@dataclass(frozen=True)
class PureLevels:
    """Levels of a column that hold (almost) only converted or only lost leads."""

    converted: list[tuple[str, float, int]]
    lost: list[tuple[str, float, int]]
    rows: int = 1

    @property
    def coverage(self) -> float:
        """Share of the leads in pure levels, when there are pure levels of both kinds."""
        if not self.converted or not self.lost:
            return 0.0
        return sum(size for *_, size in self.converted + self.lost) / self.rows

    def describe(self, limit: int = 4) -> list[str]:
        pure = sorted(self.converted + self.lost, key=lambda level: -level[2])
        return [f"{name!r}: {rate:.0%} converted of {size:,}" for name, rate, size in pure[:limit]]


def pure_levels(series: pd.Series, y: np.ndarray, kind: str) -> PureLevels:
    """Levels (ranges, for numbers) with real support that are purely converted or lost.

    "Purely lost" needs a base rate high enough for it to mean something: with 2 % of
    leads converting, most levels convert at 1 % or less.
    """
    base = float(np.mean(y))
    levels = encode_levels(series, kind) if kind == "categorical" else _ranges(series, kind)
    stats = pd.DataFrame({"level": levels.to_numpy(), "y": y}).groupby("level")["y"]
    rates = stats.agg(["mean", "size"])
    supported = rates[rates["size"] >= MIN_LEVEL_SUPPORT]
    converted = supported[(supported["mean"] >= PURE_CONVERTED) & (base <= 0.8)]
    lost = supported[(supported["mean"] <= min(PURE_LOST, base / 10))]
    return PureLevels(
        converted=[(str(i), float(r["mean"]), int(r["size"])) for i, r in converted.iterrows()],
        lost=[(str(i), float(r["mean"]), int(r["size"])) for i, r in lost.iterrows()],
        rows=max(len(y), 1),
    )


def _ranges(series: pd.Series, kind: str) -> pd.Series:
    """A number or date as levels: each common value (≥ 5 % of the rows: a zero, a cap) on
    its own, the rest cut into up to 20 quantile ranges named by the values they hold."""
    values = pd.to_datetime(series) if kind == "datetime" else series.astype(float)
    numbers = values.astype("int64").where(values.notna()) if kind == "datetime" else values

    def label(low: object, high: object) -> str:
        if kind == "datetime":
            low, high = pd.Timestamp(low).date(), pd.Timestamp(high).date()
            return str(low) if low == high else f"{low} – {high}"
        return f"{low:g}" if low == high else f"{low:g} – {high:g}"

    levels = pd.Series("missing", index=series.index, dtype=object)
    counts = numbers.value_counts()
    common = counts.index[counts >= 0.05 * len(numbers)]
    for value in common:
        at = numbers == value
        levels[at] = label(values[at].iloc[0], values[at].iloc[0])
    rest = numbers.notna() & ~numbers.isin(common)
    if rest.any():
        part = numbers[rest]
        # ranges of at least twice the support a level needs, so purity can show
        bins = int(min(20, len(part) // (2 * MIN_LEVEL_SUPPORT)))
        if part.nunique() > bins > 1:
            codes = pd.qcut(part, bins, labels=False, duplicates="drop")
        else:
            codes = part
        frame = pd.DataFrame({"code": codes, "value": values[rest]})
        bounds = frame.groupby("code")["value"].agg(["min", "max"])
        names = {code: label(row["min"], row["max"]) for code, row in bounds.iterrows()}
        levels[rest] = codes.map(names)
    return levels


def _post_contact_values(series: pd.Series) -> list[str]:
    levels = series.dropna().astype(str).value_counts()
    return [lvl for lvl in levels.index[:200] if _POST_CONTACT_VALUE.search(lvl)]


# ----------------------------------------------------------------------------- the decision


def detect_leakage(
    table: LeadTable,
    aucs: dict[str, float],
    keep: list[str] | None = None,
    *,
    dictionary: dict[str, str] | None = None,
    strict: bool = False,
) -> list[LeakageSuspect]:
    """Leakage suspects (evidence) and strong columns (no evidence) among the features.

    Parameters
    ----------
    table:
        A labelled lead table.
    aucs:
        Single-column cross-validated AUC per feature (:func:`column_aucs`).
    keep:
        Columns kept on purpose (default: the table's ``keep`` role).
    dictionary:
        Column descriptions (:func:`read_dictionary`).
    strict:
        Leave out strong columns without evidence too.
    """
    assert table.y is not None
    keep = keep if keep is not None else list(table.roles.keep)
    trusted = set(table.roles.point_in_time)
    described = {normalise_name(k): v for k, v in (dictionary or {}).items()}
    suspects: list[LeakageSuspect] = []
    for name in table.features.columns:
        if name in trusted:
            continue  # built only from events before the outcome: strong, not leaked
        suspect = _judge(table, name, aucs.get(name), described.get(normalise_name(name)))
        if suspect is None:
            continue
        if suspect.verdict == "leak":
            suspect.kept = name in keep
        else:
            suspect.kept = name in keep or not strict
        suspects.append(suspect)
    return suspects


def _judge(
    table: LeadTable, name: str, auc: float | None, description: str | None
) -> LeakageSuspect | None:
    """The evidence against one column, or ``None`` when there is nothing to report."""
    assert table.y is not None
    series, kind, y = table.features[name], table.kinds[name], table.y
    signal = auc if auc is not None and np.isfinite(auc) else 0.5
    found: dict[str, str] = {}
    evidence: list[str] = []

    miss_auc = missingness_auc(series, y)
    if miss_auc is not None and miss_auc >= MISSINGNESS_AUC and miss_auc >= signal - 0.02:
        found["missingness"] = (
            f"whether it is filled in predicts the outcome (AUC {miss_auc:.2f}): it is "
            "probably recorded after the lead converted or was lost"
        )
    pure = pure_levels(series, y, kind)
    if pure.coverage >= DETERMINED_COVERAGE:
        found["determined"] = (
            f"levels (or ranges) that hold only converted leads and those that hold only lost "
            f"ones cover {pure.coverage:.0%} of the table: it restates the outcome"
        )
    words = described_after_outcome(description) if description else None
    if words:
        found["dictionary"] = (
            f"the data dictionary describes it as filled in after the lead came in "
            f"(“{words}”: {description!r})"
        )
    valued = _post_contact_values(series) if kind == "categorical" else []
    if len(valued) >= 2 and signal >= VALUES_POST_CONTACT_AUC:
        examples = ", ".join(repr(v) for v in valued[:3])
        found["post_contact_values"] = (
            f"its values read like sales notes or outcomes ({examples}), and it carries "
            f"signal (AUC {signal:.2f})"
        )
    categorical = kind == "categorical"
    if (
        categorical
        and pure.coverage >= PURE_COVERAGE
        and signal >= PURE_LEVELS_AUC
        and "determined" not in found
    ):
        found["pure_levels"] = (
            f"it has levels that are (almost) only converted and levels that are only lost, "
            f"{pure.coverage:.0%} of the leads between them, like a status (AUC {signal:.2f})"
        )
    if _POST_CONTACT_NAME.search(normalise_name(name)) and signal >= NAMED_POST_CONTACT_AUC:
        found["post_contact_name"] = (
            f"its name suggests the sales team records it after contact, and it carries "
            f"signal (AUC {signal:.2f})"
        )

    if valued:
        evidence.append("values like " + ", ".join(repr(v) for v in valued[:5]))
    if pure.coverage:
        evidence += pure.describe()
    if found:
        check = next(iter(found))
        reason = found[check]
        if len(found) > 1:
            reason += "; also " + "; ".join(found[c] for c in list(found)[1:])
        return LeakageSuspect(
            name, reason, check, auc, evidence, verdict="leak", checks=list(found)
        )
    if signal >= STRONG_AUC:
        reason = (
            f"strong on its own (cross-validated AUC {signal:.2f}) but nothing says it is "
            "recorded after the outcome: kept — confirm it is known before the outcome"
        )
        return LeakageSuspect(
            name, reason, "strong", auc, evidence, verdict="strong", checks=["strong"]
        )
    return None


def column_aucs(table: LeadTable, seed: int = 0) -> dict[str, float]:
    """Single-column cross-validated AUC for every feature column."""
    assert table.y is not None
    return {
        name: single_column_auc(table.features[name], table.y, table.kinds[name], seed=seed)
        for name in table.features.columns
    }


def measure_strength(table: LeadTable, suspects: list[LeakageSuspect], seed: int = 0) -> None:
    """Fill in a quick model's cross-validated AUC with and without each strong column.

    :func:`~leadscore.modeling.quick.quick_auc` on a stratified sample of at most
    :data:`STRENGTH_SAMPLE` leads: seconds, and enough to tell "the model falls apart
    without it" from "it adds a little".
    """
    strong = [s for s in suspects if s.verdict == "strong"]
    if not strong or table.y is None:
        return
    left_out = {s.column for s in suspects if not s.kept and s.verdict == "leak"}
    columns = [c for c in table.features.columns if c not in left_out]
    rows = _sample(np.asarray(table.y).astype(int), STRENGTH_SAMPLE, seed)
    features, y = table.features.iloc[rows].reset_index(drop=True), table.y[rows].astype(int)
    baseline = quick_auc(features[columns], y, table.kinds, seed=seed)
    for suspect in strong:
        suspect.auc_with = baseline
        rest = [c for c in columns if c != suspect.column]
        suspect.auc_without = quick_auc(features[rest], y, table.kinds, seed=seed) if rest else 0.5
        suspect.evidence.append(
            f"a quick model's cross-validated AUC: {baseline:.3f} with it, "
            f"{suspect.auc_without:.3f} without"
        )


def _sample(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    if len(y) <= size:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(rows, size=max(1, round(size * len(rows) / len(y))), replace=False)
        for rows in (np.flatnonzero(y == value) for value in (0, 1))
    ]
    return np.sort(np.concatenate(chosen))


def leakage_exclusions(
    table: LeadTable,
    seed: int = 0,
    *,
    dictionary: dict[str, str] | None = None,
    strict: bool = False,
) -> tuple[dict[str, str], list[LeakageSuspect]]:
    """Suspects to leave out of modelling (name → reason) and all suspects found."""
    suspects = detect_leakage(table, column_aucs(table, seed), dictionary=dictionary, strict=strict)
    drop = {
        s.column: f"leakage suspect: {s.reason}"
        if s.verdict == "leak"
        else f"strong column left out by strict leakage checks: {s.reason}"
        for s in suspects
        if not s.kept
    }
    return drop, suspects
