"""Sliding-window retraining: a challenger on recent leads, promoted only if it wins.

The most recent ``holdout`` of the data is set aside. A challenger is trained on the
``window`` before it; champion and challenger are scored on the same holdout (time-based,
never random) and judged on the configured metric (profit by default). The challenger
becomes champion only when it beats the champion by the margin; otherwise the champion
keeps serving and the reason is recorded. Nothing touches the champion until the single,
final alias move, so a failed or interrupted retraining leaves it serving.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from leadscore.config import Roles, Settings
from leadscore.data.lead_table import LeadTable, prepare_table
from leadscore.data.masking import mask_text
from leadscore.data.sources import TableLike
from leadscore.errors import ConfigError, LeadscoreError
from leadscore.lifecycle.train import train
from leadscore.modeling.metrics import HIGHER_IS_BETTER, evaluate
from leadscore.modeling.model import LeadModel

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhw])\s*$")


def parse_span(text: str | pd.Timedelta) -> pd.Timedelta:
    """``"90d"``, ``"12h"``, ``"2w"`` → a Timedelta.

    Example
    -------
    >>> parse_span("2w")
    Timedelta('14 days 00:00:00')
    """
    if isinstance(text, pd.Timedelta):
        return text
    match = _SPAN.match(str(text))
    if not match:
        raise ConfigError(f"cannot read the time span {text!r}: write e.g. 90d, 12h or 2w")
    value, unit = float(match.group(1)), match.group(2)
    days = {"d": 1.0, "h": 1 / 24, "w": 7.0}[unit] * value
    if days <= 0:
        raise ConfigError(f"the time span {text!r} must be positive")
    return pd.Timedelta(days=days)


@dataclass
class RetrainDecision:
    """What a retraining did and why."""

    promoted: bool
    reason: str
    metric: str
    champion_version: int | None
    challenger_version: int | None
    champion: dict[str, float] = field(default_factory=dict)
    challenger: dict[str, float] = field(default_factory=dict)
    train_window: tuple[str, str] = ("", "")
    holdout_window: tuple[str, str] = ("", "")
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _holdout_metrics(model: LeadModel, table: LeadTable) -> dict[str, float]:
    assert table.y is not None
    p = model.predict_proba(table.features)[:, 1]
    return evaluate(table.y, p, model.cutoffs_.contact, model.business_)


def _improves(challenger: float, champion: float, metric: str, margin: float) -> bool:
    """Better by more than ``margin`` relative to the champion's value (either direction)."""
    gain = challenger - champion if metric in HIGHER_IS_BETTER else champion - challenger
    return gain > margin * max(abs(champion), 1e-9)


def retrain(
    data: TableLike,
    *,
    window: str | pd.Timedelta = "90d",
    holdout: str | pd.Timedelta | None = None,
    metric: str = "profit",
    margin: float = 0.01,
    settings: Settings | None = None,
    roles: Roles | None = None,
    console: Console | None = None,
    show_progress: bool = False,
    **role_overrides: Any,
) -> RetrainDecision:
    """Train a challenger on the recent window and promote it only if it beats the champion.

    Parameters
    ----------
    data:
        The lead table with outcomes and a time column (``--time``).
    window:
        How far back the challenger learns from, ending where the holdout starts.
    holdout:
        The most recent span both models are judged on (default: a fifth of the window).
    metric:
        ``profit`` (default), ``auc``, ``pr_auc``, … measured on the holdout, each model at
        its own contact threshold.
    margin:
        Relative improvement the challenger needs (0.01 = 1 % better than the champion).

    Example (it trains a challenger and reads the registry's champion: seconds, and
    MLflow)::

        decision = retrain("leads.csv", time="created_at", window="90d")
        decision.promoted, decision.reason
    """
    from leadscore.lifecycle.registry import CHAMPION, Registry

    settings = settings or Settings()
    if not settings.tracking:
        raise ConfigError("retraining needs the model registry: switch tracking on")
    if metric not in HIGHER_IS_BETTER and metric not in ("log_loss", "brier", "ece"):
        raise ConfigError(f"cannot judge models by {metric!r}: use profit, auc, pr_auc, …")
    if margin < 0:
        raise ConfigError(f"the margin must be zero or positive, not {margin}")
    span = parse_span(window)
    roles = (roles or settings.roles).merged(**role_overrides)
    table = prepare_table(data, roles, settings)
    if table.time is None:
        raise LeadscoreError(
            "retraining on a sliding window needs the time each lead was created: pass "
            "--time COLUMN (or roles.time in leadscore.toml)"
        )
    test_span = parse_span(holdout) if holdout is not None else span / 5
    end = table.time.max()
    test_start = end - test_span
    train_start = test_start - span
    times = table.time.to_numpy()
    recent = np.flatnonzero(times > np.datetime64(test_start))
    learn = np.flatnonzero(
        (times > np.datetime64(train_start)) & (times <= np.datetime64(test_start))
    )
    test_table, learn_table = table.subset(recent), table.subset(learn)
    for name, part in (("holdout", test_table), ("training window", learn_table)):
        assert part.y is not None
        if len(np.unique(part.y)) < 2:
            raise LeadscoreError(
                f"the {name} ({len(part.y):,} leads) does not hold both outcomes: widen "
                "--window / --holdout"
            )
    console = console or Console(stderr=True)
    registry = Registry(settings)
    champion_version = registry._alias_version(CHAMPION)
    console.print(
        f"training a challenger on {learn_table.n_rows:,} leads from {train_start:%Y-%m-%d} "
        f"to {test_start:%Y-%m-%d}; judging on {test_table.n_rows:,} leads after that"
    )
    challenger = train(
        learn_table, settings=settings, track=True, show_progress=show_progress, console=None
    )
    decision = RetrainDecision(
        promoted=False,
        reason="",
        metric=metric,
        champion_version=champion_version,
        challenger_version=getattr(challenger, "registered_version_", None),
        challenger=_holdout_metrics(challenger, test_table),
        train_window=(str(train_start), str(test_start)),
        holdout_window=(str(test_start), str(end)),
    )
    if champion_version is None or champion_version == decision.challenger_version:
        decision.promoted = True
        decision.reason = "there was no champion: the challenger becomes the first one"
    else:
        champion = registry.load_model(champion_version)
        try:
            decision.champion = _holdout_metrics(champion, test_table)
        except LeadscoreError as exc:
            decision.champion = {}
            decision.promoted = True
            decision.reason = f"the champion cannot score the current data ({mask_text(str(exc))})"
        if decision.champion:
            new, old = decision.challenger[metric], decision.champion[metric]
            if _improves(new, old, metric, margin):
                decision.promoted = True
                decision.reason = (
                    f"challenger {metric} {new:,.4g} beats champion {old:,.4g} by more than "
                    f"{margin:.0%} on the holdout"
                )
            else:
                decision.reason = (
                    f"champion kept: challenger {metric} {new:,.4g} against champion "
                    f"{old:,.4g} on the holdout is not {margin:.0%} better"
                )
    decision.run_id = registry.log_decision(decision)
    if decision.promoted and decision.challenger_version is not None:
        registry.promote(decision.challenger_version, reason=decision.reason)
    return decision


def retrain_every(interval: str, job: Any, console: Console) -> None:  # pragma: no cover
    """Run ``job`` now and then every ``interval`` (blocking; stop with Ctrl-C)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    every = parse_span(interval)
    scheduler = BlockingScheduler()
    scheduler.add_job(
        job, "interval", seconds=every.total_seconds(), next_run_time=pd.Timestamp.now()
    )
    console.print(f"retraining every {interval}; Ctrl-C stops")
    scheduler.start()
