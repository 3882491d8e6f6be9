"""X Education benchmark: leadscore against the published anchors, on PyCaret's split.

Reproduces the split of PyCaret's lead-scoring tutorial (``setup(session_id=123)``:
stratified 70/30, ``random_state=123``), leaves out the nine post-contact columns, then
runs the real command line: ``leadscore compare`` and ``leadscore train`` on the 70 %,
``leadscore score`` on the 30 %. Prints holdout ROC-AUC, calibration error, profit next
to the naive policies, and timings, beside the anchors measured on this machine kind.
Then trains again with no column removed by hand and the shared data dictionary given
(``--dictionary``), and prints which post-contact columns the audit left out and the
holdout AUC of that model.

Run: ``make bench`` or ``.venv/bin/python bench/xeducation.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from leadscore.config import Business
from leadscore.modeling.metrics import expected_calibration_error, profit

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "xeducation" / "Leads.csv"
DICTIONARY = DATA.with_name("Leads_Data_Dictionary.csv")
POST_CONTACT = [
    "Tags", "Lead Quality", "Lead Profile", "Last Activity", "Last Notable Activity",
    "Asymmetrique Activity Index", "Asymmetrique Profile Index",
    "Asymmetrique Activity Score", "Asymmetrique Profile Score",
]  # fmt: skip
ANCHORS = {
    "PyCaret 3.3.2 compare_models (CatBoost), holdout AUC": 0.8655,
    "FLAML 60 s (XGBoost), holdout AUC": 0.8786,
    "LightGBM defaults, holdout AUC": 0.8744,
}
PYCARET_COMPARE_SECONDS = 88.0


def pycaret_split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 70/30 split of PyCaret's ``setup(session_id=123)`` (stratified on the target)."""
    return train_test_split(
        frame, test_size=0.3, stratify=frame["Converted"], random_state=123, shuffle=True
    )


def leadscore_cli(*args: str, store: Path | None = None) -> float:
    """Run the installed command line; return its wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("leadscore")), *args],
        capture_output=True,
        text=True,
        env={
            "COLUMNS": "160",
            "PATH": "/usr/bin:/bin",
            # runs are tracked as a user's would be, into a throwaway store
            **({"LEADSCORE_MLFLOW_URI": f"sqlite:///{store}"} if store else {}),
        },
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"leadscore {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    if not DATA.is_file():
        raise SystemExit(f"X Education data not found at {DATA} (../shared is absent)")
    frame = pd.read_csv(DATA)
    train_part, holdout = pycaret_split(frame)
    exclude = [arg for column in POST_CONTACT for arg in ("--exclude", column)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train_part.to_csv(work / "train.csv", index=False)
        holdout.drop(columns=["Converted"]).to_csv(work / "holdout.csv", index=False)

        audit_s = leadscore_cli("audit", str(DATA), "--json", str(work / "audit.json"))
        suspects = json.loads((work / "audit.json").read_text())["leakage_suspects"]
        tags = next((s for s in suspects if s["column"] == "Tags"), None)

        store = work / "mlflow.db"
        compare_s = leadscore_cli(
            "compare", str(work / "train.csv"), *exclude, "--out", str(work / "board.json"),
            "--quiet", store=store,
        )  # fmt: skip
        board = json.loads((work / "board.json").read_text())
        best_cv = max(m["auc"] for m in board["models"])

        train_s = leadscore_cli(
            "train", str(work / "train.csv"), *exclude, "--out", str(work / "model"), "--quiet",
            store=store,
        )  # fmt: skip
        score_s = leadscore_cli(
            "score", str(work / "model"), str(work / "holdout.csv"), "--out",
            str(work / "scores.csv"), store=store,
        )  # fmt: skip
        meta = json.loads((work / "model" / "metadata.json").read_text())
        scores = pd.read_csv(work / "scores.csv", dtype={"Prospect ID": str})

        # No column removed by hand: the audit, given the shared data dictionary, decides.
        by_audit_s = leadscore_cli(
            "train", str(work / "train.csv"), "--dictionary", str(DICTIONARY), "--out",
            str(work / "model-audit"), "--quiet", store=store,
        )  # fmt: skip
        leadscore_cli(
            "score", str(work / "model-audit"), str(work / "holdout.csv"), "--out",
            str(work / "scores-audit.csv"), store=store,
        )  # fmt: skip
        audited = json.loads((work / "model-audit" / "metadata.json").read_text())
        by_audit = pd.read_csv(work / "scores-audit.csv", dtype={"Prospect ID": str})

    truth = holdout.set_index("Prospect ID")["Converted"]
    y = truth.loc[scores["Prospect ID"]].to_numpy()
    p = scores["score"].to_numpy()
    contact = scores["contact"].to_numpy()
    business = Business()
    auc = roc_auc_score(y, p)
    print("X Education, PyCaret split (6,468 train / 2,772 holdout), 9 post-contact columns out")
    print(f"  audit: {audit_s:.1f} s; Tags flagged: {tags is not None}"
          + (f" (single-column AUC {tags['auc']:.3f})" if tags else ""))  # fmt: skip
    print(f"  compare (whole zoo, {len(board['models'])} models, 5-fold CV): {compare_s:.1f} s "
          f"(PyCaret compare_models: {PYCARET_COMPARE_SECONDS:.0f} s); "
          f"best CV AUC {best_cv:.4f} ({board['best']})")  # fmt: skip
    print(f"  train: {train_s:.1f} s, chose {meta['model']}; score: {score_s:.1f} s")
    print(f"  holdout ROC-AUC: {auc:.4f}   (target >= 0.879, goal 0.885)")
    for name, value in ANCHORS.items():
        print(f"    vs {name}: {value:.4f} ({auc - value:+.4f})")
    print(f"  holdout calibration error (ECE): {expected_calibration_error(y, p):.4f} (<= 0.03)")
    model_profit = profit(y, contact, business)
    everyone = profit(y, np.ones_like(contact, dtype=bool), business)
    no_one = profit(y, np.zeros_like(contact, dtype=bool), business)
    at_half = profit(y, p >= 0.5, business)
    print(f"  holdout profit at the model's threshold {meta['cutoffs']['contact']:.3f}: "
          f"{model_profit:,.0f}; contact everyone {everyone:,.0f} "
          f"({(model_profit / everyone - 1):+.1%}); contact no one {no_one:,.0f}; "
          f"threshold 0.5 {at_half:,.0f}")  # fmt: skip
    left_out = [c for c, why in audited["excluded"].items() if why.startswith("leakage")]
    caught = [c for c in POST_CONTACT if c in left_out]
    y_audit = truth.loc[by_audit["Prospect ID"]].to_numpy()
    auc_audit = roc_auc_score(y_audit, by_audit["score"].to_numpy())
    print(f"  no column removed by hand, --dictionary {DICTIONARY.name}: train {by_audit_s:.1f} s, "
          f"the audit left out {len(caught)} of the 9 post-contact columns"
          + (f" (missed: {', '.join(c for c in POST_CONTACT if c not in caught)})"
             if len(caught) < len(POST_CONTACT) else "")
          + (f" and {', '.join(c for c in left_out if c not in POST_CONTACT)}"
             if set(left_out) - set(POST_CONTACT) else "")
          + f"; holdout ROC-AUC {auc_audit:.4f} ({auc_audit - auc:+.4f} against the nine "
          f"removed by hand)")  # fmt: skip


if __name__ == "__main__":
    main()
