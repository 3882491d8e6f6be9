"""The datasets of ``bench/suite.py``: loaders, fixed splits and the baselines' feature frame.

Every loader returns the whole table as a user would hand it to leadscore: a binary target,
obvious post-outcome columns already dropped, and — for a forward-in-time split — the rows
sorted by time (oldest first), so that the last 30 % are the most recent. What each
dataset tests (its trap) is written beside it and in ``bench/suite.py``'s docstring.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
XEDUCATION = ROOT.parent / "shared" / "datasets" / "xeducation" / "Leads.csv"
# The nine columns of the X Education table filled in after the sales team's contact
# (the same list as bench/xeducation.py).
POST_CONTACT = [
    "Tags", "Lead Quality", "Lead Profile", "Last Activity", "Last Notable Activity",
    "Asymmetrique Activity Index", "Asymmetrique Profile Index",
    "Asymmetrique Activity Score", "Asymmetrique Profile Score",
]  # fmt: skip
HOLDOUT_SHARE = 0.3
DEMO_ROWS = 6_000


class DatasetUnavailable(Exception):
    """The dataset's files are not on this machine (the suite skips it, saying why)."""


@dataclass(frozen=True)
class Dataset:
    """One benchmark dataset: where it comes from, its roles, its split and its trap."""

    name: str
    kind: Literal["real", "synthetic"]
    split: Literal["random", "forward"]
    target: str
    load: Callable[[], pd.DataFrame]
    trap: str
    #: the target value that counts as a conversion
    positive: object = 1
    id: str | None = None
    #: random splits: ``random_state`` of the stratified split
    seed: int = 0
    #: text columns holding dates (and their format): epoch seconds for the baselines
    dates: tuple[str, ...] = ()
    date_format: str | None = None
    #: columns only the baselines do not get (a planted leak leadscore should find itself)
    baseline_drop: tuple[str, ...] = ()
    #: columns leadscore should leave out / keep (checked, shown in the table)
    expect_left_out: tuple[str, ...] = ()
    expect_kept: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def split_label(self) -> str:
        """``random-<seed>`` or ``forward``: part of the baseline cache key."""
        return f"random-{self.seed}" if self.split == "random" else "forward"


# --------------------------------------------------------------------------- file access


def dmba_csv(name: str) -> pd.DataFrame:
    """A CSV shipped with the ``dmba`` package (located, not imported)."""
    path = Path(str(importlib.metadata.distribution("dmba").locate_file(f"dmba/csvFiles/{name}")))
    return pd.read_csv(path)


def islp_csv(name: str) -> pd.DataFrame:
    """A CSV shipped with ``ISLP`` (read from its files: importing ISLP needs torch)."""
    path = Path(str(importlib.metadata.distribution("ISLP").locate_file(f"ISLP/data/{name}")))
    return pd.read_csv(path)


def _forward(frame: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Rows in time order (a stable sort: ties keep their file order)."""
    order = np.argsort(key.to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- loaders


def load_xeducation() -> pd.DataFrame:
    if not XEDUCATION.is_file():
        raise DatasetUnavailable(f"X Education data not found at {XEDUCATION}")
    return pd.read_csv(XEDUCATION).drop(columns=POST_CONTACT)


def load_universal_bank() -> pd.DataFrame:
    return dmba_csv("UniversalBank.csv.gz")


def load_charles_book_club() -> pd.DataFrame:
    return dmba_csv("CharlesBookClub.csv.gz").drop(columns=["Seq#", "Yes_Florence", "No_Florence"])


def load_tayko() -> pd.DataFrame:
    return dmba_csv("Tayko.csv.gz").drop(columns=["Spending"])


def load_fundraising() -> pd.DataFrame:
    return dmba_csv("Fundraising.csv.gz").drop(columns=["TARGET_D", "Row Id."])


#: Voter-Persuasion's survey answers the outcome is computed from: with the party flags,
#: CAND1S x CAND2S decide MOVED_AD outright in 12 of 21 cells (e.g. S/L: every Democrat
#: "N", every other voter "Y"), and LightGBM reaches AUC 0.99 with them; the *_UND flags
#: are CAND1S == "U" and CAND2S == "U".
VOTER_SURVEY = ["CAND1S", "CAND2S", "CAND1_UND", "CAND2_UND"]


def load_voter_persuasion() -> pd.DataFrame:
    # MOVED_A is MOVED_AD as 0/1, opposite is 1 - MOVED_A; Partition is the book's split.
    frame = dmba_csv("Voter-Persuasion.csv.gz")
    return frame.drop(columns=["MOVED_A", "opposite", "Partition", *VOTER_SURVEY])


def load_german_credit() -> pd.DataFrame:
    return dmba_csv("GermanCredit.csv.gz")


def load_flight_delays() -> pd.DataFrame:
    frame = dmba_csv("FlightDelays.csv.gz").drop(columns=["DEP_TIME"])
    return _forward(frame, pd.to_datetime(frame["FL_DATE"], format="%m/%d/%Y"))


def load_taxi() -> pd.DataFrame:
    frame = dmba_csv("Taxi-cancellation-case.csv.gz")
    created = pd.to_datetime(frame["booking_created"], format="%m/%d/%y %H:%M")
    return _forward(frame, created)


def load_ebay() -> pd.DataFrame:
    return dmba_csv("eBayAuctions.csv.gz").drop(columns=["ClosePrice"])


def load_caravan() -> pd.DataFrame:
    return islp_csv("Caravan.csv")


def load_oj() -> pd.DataFrame:
    frame = islp_csv("OJ.csv")
    return _forward(frame, frame["WeekofPurchase"])


def load_default() -> pd.DataFrame:
    return islp_csv("Default.csv")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def load_demo_leak() -> pd.DataFrame:
    from leadscore.demo import generate_leads

    return generate_leads(DEMO_ROWS, seed=1).table


def load_demo_strong() -> pd.DataFrame:
    from leadscore.demo import generate_leads

    demo = generate_leads(DEMO_ROWS, seed=2)
    table = demo.table.drop(columns=["sales_status"])
    noise = np.random.default_rng(1002).normal(0.0, 0.5, len(table))
    truth = demo.truth.set_index("lead_id")["true_probability"].loc[table["lead_id"]]
    # A legitimate, strong, pre-outcome score (say, a product-usage index measured before
    # any call): the true log-odds plus noise.
    table.insert(len(table.columns) - 1, "engagement_index", _logit(truth.to_numpy()) + noise)
    return table


DRIFT_SHIFT = 1.2  # facebook's effect on the logit: −0.5 early, +0.7 late


def load_demo_drift() -> pd.DataFrame:
    from leadscore.demo import generate_leads

    early_rows = round(DEMO_ROWS * (1 - HOLDOUT_SHARE))
    late_rows = DEMO_ROWS - early_rows
    early = generate_leads(early_rows, seed=3, positive_rate=0.10, days=84).table
    late_demo = generate_leads(late_rows, seed=4, positive_rate=0.20, start="2026-03-30", days=36)
    late = late_demo.table.copy()
    # One effect shifts in the late period: facebook leads start converting (redrawn from
    # the generator's own probabilities with the facebook term moved by DRIFT_SHIFT).
    logit = _logit(late_demo.truth["true_probability"].to_numpy())
    logit = logit + DRIFT_SHIFT * (late["source"] == "facebook").to_numpy()
    p = 1.0 / (1.0 + np.exp(-logit))
    draw = np.random.default_rng(1004).random(len(late)) < p
    late["converted"] = np.where(draw, "yes", "no")
    # Both periods number their leads from 1: continue the early numbering.
    late["lead_id"] = [f"L{number:06d}" for number in range(early_rows + 1, DEMO_ROWS + 1)]
    table = pd.concat([early, late], ignore_index=True)
    return table.drop(columns=["sales_status", "created_at"])


# --------------------------------------------------------------------------- the list

DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "xeducation",
        "real",
        "random",
        "Converted",
        load_xeducation,
        id="Prospect ID",
        seed=123,
        trap="PyCaret's split (random_state=123); the nine post-contact columns are dropped; "
        "'Lead Number' is a sequential id (a time proxy) and 'Select' means not chosen",
    ),
    Dataset(
        "UniversalBank",
        "real",
        "random",
        "Personal Loan",
        load_universal_bank,
        id="ID",
        trap="Income alone reaches AUC 0.92: a strong legitimate column the leak check must "
        "keep; ZIP Code is a high-cardinality number",
    ),
    Dataset(
        "CharlesBookClub",
        "real",
        "random",
        "Florence",
        load_charles_book_club,
        id="ID#",
        trap="8 % positives; Yes_Florence / No_Florence (copies of the target) and Seq# dropped",
    ),
    Dataset(
        "Tayko",
        "real",
        "random",
        "Purchase",
        load_tayko,
        id="sequence_number",
        trap="Spending (> 0 exactly when Purchase = 1) dropped; a 50/50 sample, so "
        "calibration is to the sample's rate; 15 one-hot source flags",
    ),
    Dataset(
        "Fundraising",
        "real",
        "random",
        "TARGET_B",
        load_fundraising,
        id="Row Id",
        trap="TARGET_D (the gift, known after the outcome) and 'Row Id.' dropped; a weighted "
        "50/50 sample with a weak signal (AUC around 0.6)",
    ),
    Dataset(
        "Voter-Persuasion",
        "real",
        "random",
        "MOVED_AD",
        load_voter_persuasion,
        positive="Y",
        id="VOTER_ID",
        trap="Y/N target; MOVED_A and opposite (the target as 0/1 and reversed), Partition "
        "and the survey answers MOVED_AD is computed from (CAND1S, CAND2S and their *_UND "
        "flags: AUC 0.99 with them) dropped; MESSAGE_A is the treatment, MESSAGE_A_REV its "
        "mirror; the party flags are strong",
    ),
    Dataset(
        "GermanCredit",
        "real",
        "random",
        "RESPONSE",
        load_german_credit,
        id="OBS#",
        trap="small: 700 training rows, 70 % positives",
    ),
    Dataset(
        "FlightDelays",
        "real",
        "forward",
        "Flight Status",
        load_flight_delays,
        positive="delayed",
        dates=("FL_DATE",),
        date_format="%m/%d/%Y",
        trap="DEP_TIME (actual departure) dropped; forward split in January 2004 (holdout: "
        "22-31 January, DAY_OF_MONTH 23-31 never seen in training); 'Weather' is 1 only for "
        "delayed flights (a small post-outcome column, kept); target delayed/ontime",
    ),
    Dataset(
        "Taxi",
        "real",
        "forward",
        "Car_Cancellation",
        load_taxi,
        id="row#",
        dates=("from_date", "to_date", "booking_created"),
        date_format="%m/%d/%y %H:%M",
        trap="5 % cancellations in training, 13 % in the holdout; forward split by "
        "booking_created with the dates as text "
        "(m/d/yy h:mm); to_date is mostly empty; user_id and area ids are high-cardinality "
        "numbers",
    ),
    Dataset(
        "eBayAuctions",
        "real",
        "random",
        "Competitive?",
        load_ebay,
        trap="ClosePrice (known after the auction) dropped; 38 % of rows are exact duplicates "
        "of another row, so a random split puts copies on both sides; no id column",
    ),
    Dataset(
        "Caravan",
        "real",
        "random",
        "Purchase",
        load_caravan,
        positive="Yes",
        trap="6 % positives, 85 coded columns (CoIL 2000); Yes/No target",
    ),
    Dataset(
        "OJ",
        "real",
        "forward",
        "Purchase",
        load_oj,
        positive="MM",
        trap="small (1,070 rows); target CH/MM (MM counts as positive); forward split by "
        "WeekofPurchase; several exact functions of each other (PriceDiff, SalePrice*, STORE)",
    ),
    Dataset(
        "Default",
        "real",
        "random",
        "default",
        load_default,
        positive="Yes",
        trap="3 % positives, only three columns; balance alone does most of the work",
    ),
    Dataset(
        "demo-leak",
        "synthetic",
        "random",
        "converted",
        load_demo_leak,
        positive="yes",
        id="lead_id",
        dates=("created_at",),
        baseline_drop=("sales_status",),
        expect_left_out=("sales_status",),
        trap="sales_status is written by the sales team after the call (a planted leak, AUC "
        "0.95 alone); the baselines never get it, leadscore must leave it out itself",
    ),
    Dataset(
        "demo-strong",
        "synthetic",
        "random",
        "converted",
        load_demo_strong,
        positive="yes",
        id="lead_id",
        dates=("created_at",),
        expect_kept=("engagement_index",),
        trap="engagement_index (true log-odds + noise, sd 0.5) is strong but known before the "
        "outcome: leadscore must keep it",
    ),
    Dataset(
        "demo-drift",
        "synthetic",
        "forward",
        "converted",
        load_demo_drift,
        positive="yes",
        id="lead_id",
        trap="two periods: 10 % then 20 % positives, and facebook's effect moves from -0.5 to "
        "+0.7 in the late period (exactly the 30 % holdout: no drift inside the training "
        "part); no time column, only file order",
    ),
)

BY_NAME: dict[str, Dataset] = {d.name: d for d in DATASETS}


# --------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame
    y_train: np.ndarray
    y_holdout: np.ndarray

    @property
    def fingerprint(self) -> str:
        """A hash of both parts (the baseline cache is stale when the data changed)."""
        digest = hashlib.sha256()
        for part in (self.train, self.holdout):
            digest.update("\x1f".join(map(str, part.columns)).encode())
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        return digest.hexdigest()[:16]


def binary_target(dataset: Dataset, frame: pd.DataFrame) -> np.ndarray:
    """The target as 0/1, checking it has exactly two values and no missing ones."""
    column = frame[dataset.target]
    values = set(column.dropna().unique().tolist())
    if column.isna().any() or len(values) != 2 or dataset.positive not in values:
        raise ValueError(
            f"{dataset.name}: target {dataset.target!r} is not binary with positive "
            f"{dataset.positive!r}: values {sorted(map(str, values))}, "
            f"{int(column.isna().sum())} missing"
        )
    return (column == dataset.positive).to_numpy().astype(int)


def split(dataset: Dataset, frame: pd.DataFrame) -> Split:
    """The fixed 70/30 split: stratified random, or the last 30 % of the rows (time order)."""
    y = binary_target(dataset, frame)
    if dataset.split == "random":
        # For xeducation (seed 123) this is bench/xeducation.py's pycaret_split exactly.
        train, holdout = train_test_split(
            frame, test_size=HOLDOUT_SHARE, stratify=y, random_state=dataset.seed, shuffle=True
        )
    else:
        cut = round(len(frame) * (1 - HOLDOUT_SHARE))
        train, holdout = frame.iloc[:cut], frame.iloc[cut:]
    return Split(
        train=train,
        holdout=holdout,
        y_train=binary_target(dataset, train),
        y_holdout=binary_target(dataset, holdout),
    )


# --------------------------------------------------------------------------- baseline frame


def _epoch_seconds(values: pd.Series, date_format: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values
    else:
        stamps = pd.to_datetime(values, format=date_format, errors="coerce")
    seconds = (stamps - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return seconds.astype("int64") if seconds.notna().all() else seconds.astype("float64")


def baseline_frames(dataset: Dataset, parts: Split) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature frames the baselines fit on: the same columns leadscore gets, minus the
    target, the id and ``baseline_drop``; dates as epoch seconds; text as pandas categories
    whose levels come from the training part (a level unseen in training becomes NaN)."""
    drop = [dataset.target, *([dataset.id] if dataset.id else []), *dataset.baseline_drop]
    train = parts.train.drop(columns=drop).reset_index(drop=True)
    holdout = parts.holdout.drop(columns=drop).reset_index(drop=True)
    for column in train.columns:
        values = train[column]
        if column in dataset.dates or pd.api.types.is_datetime64_any_dtype(values):
            train[column] = _epoch_seconds(values, dataset.date_format)
            holdout[column] = _epoch_seconds(holdout[column], dataset.date_format)
        elif pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            levels = pd.Index(sorted(values.dropna().astype(str).unique()))
            train[column] = pd.Categorical(values, categories=levels)
            holdout[column] = pd.Categorical(holdout[column], categories=levels)
    return train, holdout
