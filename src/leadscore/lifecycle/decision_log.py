"""Retraining decisions as MLflow runs (what :meth:`Registry.log_decision
<leadscore.lifecycle.registry.Registry.log_decision>` records).

A decision run holds the verdict and its reason as tags, the windows, the versions (the
champion, the challenger judged, the version served after a promotion), the judging leads
and the champion's cutoff as parameters, and both models' metrics on the judging leads.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from leadscore.data.masking import mask_text

#: decision fields recorded as run parameters, when the decision has them
PARAMS = ("metric", "champion_version", "challenger_version", "served_version",
          "champion_cutoff", "cutoff_source", "judged_leads", "judged_converted")  # fmt: skip
#: decision fields that are (start, end) pairs, recorded as "start – end"
WINDOWS = ("train_window", "holdout_window", "judging_window")


def log_decision(decision: Any, experiment: str) -> str:
    """Record a retraining decision as a run of ``experiment`` (MLflow's fluent API set to
    the registry's store); its run id.

    Example (it needs the MLflow store the registry set up)::

        with registry._active() as experiment:
            run_id = log_decision(decision, experiment)
    """
    import mlflow

    with mlflow.start_run(experiment_id=experiment, run_name="retrain decision") as run:
        reason = mask_text(decision.reason)
        mlflow.set_tags(
            {
                "leadscore.job": "retrain",
                "leadscore.verdict": "promoted" if decision.promoted else "kept champion",
                "leadscore.reason": reason if len(reason) <= 5000 else reason[:4999] + "…",
            }
        )
        params: dict[str, Any] = {
            name: getattr(decision, name) for name in PARAMS if hasattr(decision, name)
        }
        for name in WINDOWS:
            if hasattr(decision, name):
                params[name] = " – ".join(getattr(decision, name))
        mlflow.log_params(params)
        for role in ("champion", "challenger"):
            values = getattr(decision, role)
            mlflow.log_metrics({f"{role}_{k}": float(v) for k, v in values.items() if pd.notna(v)})
        return run.info.run_id
