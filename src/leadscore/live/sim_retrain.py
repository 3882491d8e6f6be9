"""Retrainings a simulation runs on the store as it stands on the retraining day
(:data:`~leadscore.live.simulation.Retrainer`).

* :func:`registry_retrainer` — what ``leadscore retrain --from-store`` does: the store's
  training table (read with the champion's feature builder), a challenger on the recent
  window, promoted only if it beats the champion on leads neither has seen; a promotion
  moves the registry's champion, and the simulation serves it from then on.
* :func:`refit_retrainer` — without a registry: one model family refitted on the store's
  training table, always served (tests; a store without MLflow).

Example (trains a model: seconds)::

    summary = simulate_days(store, model, settings, retrainer=refit_retrainer(store))
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from rich.console import Console

from leadscore.config import Settings
from leadscore.features.table import TIME
from leadscore.lifecycle.store_dataset import save_store_dataset, store_dataset
from leadscore.live.simulation import Retrained, Retrainer
from leadscore.live.slot import ModelSlot
from leadscore.store import Store

__all__ = ["refit_retrainer", "registry_retrainer"]


def registry_retrainer(
    store: Store,
    settings: Settings,
    *,
    window: str = "60d",
    holdout: str = "28d",
    metric: str = "profit",
    models: list[str] | None = None,
    console: Console | None = None,
) -> Retrainer:
    """``leadscore retrain --from-store`` on the simulated day: the decision, and the new
    champion when it was promoted (the registry's ``champion`` then names it)."""
    from leadscore.lifecycle.registry import CHAMPION, load_lead_model
    from leadscore.lifecycle.retrain import retrain

    def run(at: datetime) -> Retrained:
        champion = load_lead_model(CHAMPION, settings)
        builder = getattr(champion, "feature_builder_", None)
        built = store_dataset(store, builder=builder)
        with tempfile.TemporaryDirectory(prefix="leadscore-simulation-") as tmp:
            table = save_store_dataset(built, Path(tmp) / "from_store.parquet")["table"]
            decision = retrain(
                str(table), window=window, holdout=holdout, metric=metric, settings=settings,
                roles=settings.roles.merged(time=TIME), models=models, store=store,
                console=console or Console(quiet=True),
            )  # fmt: skip
        verdict = "promoted" if decision.promoted else "kept the champion"
        text = f"{verdict}: {decision.reason.removeprefix('champion kept: ')}"
        if not decision.promoted:
            return Retrained(text)
        served = ModelSlot.load(CHAMPION, settings).current
        return Retrained(text, served.model, served.version)

    return run


def refit_retrainer(store: Store, *, family: str = "logreg_l2", cv: int = 3) -> Retrainer:
    """One model family refitted on the store's training table (no registry, no
    judging): the refit always serves, as version ``refit@<day>``."""
    from leadscore.lifecycle.train import train

    def run(at: datetime) -> Retrained:
        built = store_dataset(store)
        with tempfile.TemporaryDirectory(prefix="leadscore-simulation-") as tmp:
            table = save_store_dataset(built, Path(tmp) / "from_store.parquet")["table"]
            model = train(
                table, time=TIME, model=family, models=[family], cv=cv, track=False,
                show_progress=False, budget=0,
            )  # fmt: skip
        leads = len(built.table)
        return Retrained(
            f"refitted {family} on {leads:,} leads with outcomes", model, f"refit@{at:%Y-%m-%d}"
        )

    return run
