"""Real data: the public X Education leads (PyCaret's lead-scoring tutorial dataset).

Skipped when ``../shared/datasets`` is absent. The split is PyCaret's (``session_id=123``),
so the figures compare with the anchors in the README and ``bench/xeducation.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from leadscore import Settings, audit, score, train
from leadscore.config import LeakageSettings
from leadscore.modeling.metrics import expected_calibration_error, profit

DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "xeducation" / "Leads.csv"
)
POST_CONTACT = [
    "Tags", "Lead Quality", "Lead Profile", "Last Activity", "Last Notable Activity",
    "Asymmetrique Activity Index", "Asymmetrique Profile Index",
    "Asymmetrique Activity Score", "Asymmetrique Profile Score",
]  # fmt: skip

pytestmark = pytest.mark.skipif(not DATA.is_file(), reason=f"{DATA} not present (../shared)")


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    return pd.read_csv(DATA)


def test_audit_flags_tags_as_leakage_and_the_ids(leads: pd.DataFrame) -> None:
    report = audit(leads)
    suspects = {s.column: s for s in report.leakage_suspects}
    assert "Tags" in suspects
    assert 0.90 <= suspects["Tags"].auc <= 0.95
    # recorded by the sales team after contact, flagged by name and signal
    assert {"Lead Quality", "Last Activity", "Last Notable Activity"} <= set(suspects)
    # genuine pre-contact behaviour is not a suspect
    assert not {"Total Time Spent on Website", "Lead Origin", "Lead Source"} & set(suspects)
    status = {c.name: c.status for c in report.columns}
    assert status["Prospect ID"] == "lead id"
    assert status["Lead Number"].startswith("identifier")
    assert report.target == "Converted"
    assert report.rows == 9240
    # "Select" is the form's untouched default: it counts as missing
    specialization = next(c for c in report.columns if c.name == "Specialization")
    assert specialization.missing_share == pytest.approx(
        (leads["Specialization"].isna() | (leads["Specialization"] == "Select")).mean()
    )


def test_with_the_data_dictionary_the_audit_leaves_out_all_nine(leads: pd.DataFrame) -> None:
    dictionary = DATA.with_name("Leads_Data_Dictionary.csv")
    settings = Settings(tracking=False, leakage=LeakageSettings(dictionary=dictionary))
    report = audit(leads, settings=settings)
    assert set(POST_CONTACT) <= set(report.leakage_columns)
    # nothing a lead brings along before contact is taken for a leak
    before = {"Total Time Spent on Website", "Lead Origin", "Lead Source", "TotalVisits",
              "What is your current occupation", "Specialization", "City"}  # fmt: skip
    assert not before & set(report.leakage_columns)
    # the description is the evidence for the columns nothing else gives away
    profile = next(s for s in report.leakage_suspects if s.column == "Lead Profile")
    assert profile.check == "dictionary" and "assigned" in profile.reason
    # without the dictionary: the five caught by name and values alone
    plain = set(audit(leads).leakage_columns)
    assert {"Tags", "Lead Quality", "Last Activity", "Last Notable Activity"} <= plain
    assert "Asymmetrique Activity Score" in plain


@pytest.mark.slow
def test_default_training_beats_the_anchors_on_the_pycaret_split(
    leads: pd.DataFrame, tmp_path: Path
) -> None:
    train_part, holdout = train_test_split(
        leads, test_size=0.3, stratify=leads["Converted"], random_state=123, shuffle=True
    )
    model = train(train_part, exclude=POST_CONTACT, out=tmp_path / "model", show_progress=False)
    scores = score(tmp_path / "model", holdout.drop(columns=["Converted"]))
    truth = holdout.set_index("Prospect ID")["Converted"]
    y = truth.loc[scores["Prospect ID"]].to_numpy()
    p = scores["score"].to_numpy()

    auc = roc_auc_score(y, p)
    assert auc >= 0.879, f"holdout AUC {auc:.4f} below FLAML's 0.8786 anchor"
    assert expected_calibration_error(y, p) <= 0.03

    business = Settings().business
    at_threshold = profit(y, scores["contact"].to_numpy(), business)
    everyone = profit(y, np.ones(len(y), dtype=bool), business)
    at_half = profit(y, p >= 0.5, business)
    assert at_threshold > everyone > at_half
    assert model.metadata_["cv_metrics"]["auc"] >= 0.8655  # PyCaret's best, holdout
