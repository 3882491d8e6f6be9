"""Sliding-window retraining: a challenger on recent leads, promoted only if it wins.

The most recent ``holdout`` of the data is set aside. A challenger is trained on the
``window`` before it. Champion and challenger are judged on the same leads, and only on
leads neither has seen: the holdout's leads that arrived after the champion's own
training cutoff (the end of its ``data_window``; for an older model without one, its
training or registration time, and the decision says so). Too few such leads (the
``retrain`` settings: 200 leads, 20 of each outcome) keep the champion, and the decision
names the numbers. The challenger becomes champion only when it beats the champion on the
configured metric (profit by default) by the margin; before it serves it is refitted on
its window plus the holdout, registered as a version of its own, and a change report
(:mod:`leadscore.lifecycle.change_report`) says what moves for the open leads. Nothing
touches the champion until the single, final alias move, so a failed or interrupted
retraining leaves it serving.

``weighted`` (``--weight-by-propensity``): the table's weight column (the inverse
propensities of :func:`leadscore.lifecycle.store_dataset.store_dataset`) weights the
challenger's training and both models' metrics on the judging leads, so that the few
explored leads stand for every lead the champion did not call.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console

from leadscore.config import Roles, Settings
from leadscore.data.lead_table import LeadTable, prepare_table
from leadscore.data.masking import mask_text
from leadscore.data.sources import TableLike
from leadscore.errors import ConfigError, LeadscoreError
from leadscore.lifecycle.change_report import (
    ChangeReport,
    compare_scores,
    model_scores,
    save_change_report,
    store_report,
)
from leadscore.lifecycle.train import train
from leadscore.modeling.metrics import HIGHER_IS_BETTER, evaluate
from leadscore.modeling.model import LeadModel

if TYPE_CHECKING:
    from leadscore.lifecycle.registry import Registry
    from leadscore.store import Store

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
    """What a retraining did and why.

    ``challenger_version`` is the version judged; ``served_version`` the one that serves
    after a promotion (the challenger refitted on its window plus the holdout).
    ``champion`` and ``challenger`` hold both models' metrics on the judging leads: the
    ``judged_leads`` (``judged_converted`` of them converted) of ``judging_window``, after
    the champion's training cutoff ``champion_cutoff`` (``cutoff_source`` says where it
    comes from). ``change_report`` is the promotion's
    :class:`~leadscore.lifecycle.change_report.ChangeReport` as a dict.
    """

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
    served_version: int | None = None
    judging_window: tuple[str, str] = ("", "")
    judged_leads: int = 0
    judged_converted: int = 0
    champion_cutoff: str = ""
    cutoff_source: str = ""
    change_report: dict[str, Any] | None = None
    #: trained and judged with the table's sample weights (inverse propensities)
    weighted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return asdict(self)


def champion_cutoff(
    model: LeadModel, registered: pd.Timestamp | None = None
) -> tuple[pd.Timestamp | None, str]:
    """The time up to which ``model`` saw leads, and where that comes from: the end of its
    ``data_window`` (or of ``time_window``, its older name); for a model trained without a
    time column its training time, else ``registered`` (naive UTC, as lead times are).

    Example
    -------
    >>> cutoff, source = champion_cutoff(model)
    >>> source.startswith("its training time")
    True
    """
    meta = getattr(model, "metadata_", {}) or {}
    for key in ("data_window", "time_window"):
        end = (meta.get(key) or {}).get("end")
        if end and not pd.isna(pd.Timestamp(end)):
            return _naive_utc(pd.Timestamp(end)), f"the end of its training data ({key})"
    if meta.get("trained_at"):
        when = _naive_utc(pd.Timestamp(meta["trained_at"]))
        return when, "its training time (it records no data window)"
    if registered is not None:
        return _naive_utc(registered), "its registration time (it records no data window)"
    return None, "unknown (it records no data window nor training time)"


def _naive_utc(when: pd.Timestamp) -> pd.Timestamp:
    return when.tz_convert("UTC").tz_localize(None) if when.tzinfo is not None else when


def _holdout_metrics(model: LeadModel, table: LeadTable) -> dict[str, float]:
    """The model's metrics on ``table``, weighted by its sample weights when it has them."""
    assert table.y is not None
    p = model.predict_proba(table.features)[:, 1]
    return evaluate(table.y, p, model.cutoffs_.contact, model.business_, table.weights)


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
    models: list[str] | None = None,
    store: Store | None = None,
    weighted: bool = False,
    **role_overrides: Any,
) -> RetrainDecision:
    """Train a challenger on the recent window and promote it only if it beats the champion
    on leads neither has seen.

    Parameters
    ----------
    data:
        The lead table with outcomes and a time column (``--time``).
    window:
        How far back the challenger learns from, ending where the holdout starts.
    holdout:
        The most recent span the models are judged on (default: a fifth of the window);
        only its leads after the champion's training cutoff count.
    metric:
        ``profit`` (default), ``auc``, ``pr_auc``, … measured on the judging leads, each
        model at its own contact threshold.
    margin:
        Relative improvement the challenger needs (0.01 = 1 % better than the champion).
    models:
        The families the challenger is chosen from (default: the whole zoo).
    store:
        The score store whose open leads the change report of a promotion covers (default:
        the judging leads).
    weighted:
        Train the challenger with the table's weight column (its ``weight`` role, e.g.
        ``store_dataset(weight_by_propensity=True)``) and judge both models with the same
        weights (weighted metrics); the decision says so. Off: the column is ignored.

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
    if weighted and table.weights is None:
        raise LeadscoreError(
            "weighted retraining needs a weight column: retrain --from-store "
            "--weight-by-propensity builds one, or give the table a weight role (roles.weight)"
        )
    if not weighted:
        table.weights = None  # a weight column left unused: every lead counts once
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
    champion = None if champion_version is None else registry.load_model(champion_version)
    decision = RetrainDecision(
        promoted=False,
        reason="",
        metric=metric,
        champion_version=champion_version,
        challenger_version=None,
        train_window=(str(train_start), str(test_start)),
        holdout_window=(str(test_start), str(end)),
        weighted=weighted,
    )
    judge_start = test_start
    if champion is not None:
        cutoff, decision.cutoff_source = champion_cutoff(
            champion, _registered(registry, champion_version)
        )
        decision.champion_cutoff = "" if cutoff is None else str(cutoff)
        judge_start = test_start if cutoff is None else max(test_start, cutoff)
    judge_table = table.subset(np.flatnonzero(times > np.datetime64(judge_start)))
    assert judge_table.y is not None
    decision.judging_window = (str(judge_start), str(end))
    decision.judged_leads = judge_table.n_rows
    decision.judged_converted = int(judge_table.y.sum())
    if champion is not None and (short := _too_few(decision, settings)):
        decision.reason = short
        decision.run_id = registry.log_decision(decision)
        return decision
    console.print(
        f"training a challenger on {learn_table.n_rows:,} leads from {train_start:%Y-%m-%d} "
        f"to {test_start:%Y-%m-%d}; judging on {judge_table.n_rows:,} leads after "
        f"{judge_start:%Y-%m-%d %H:%M}"
    )
    challenger = train(
        learn_table, settings=settings, models=models, track=True,
        show_progress=show_progress, console=None, features_of=_table_file(data),
        weighted=weighted, dictionary=_dictionary_of(champion, settings),
    )  # fmt: skip
    decision.challenger_version = getattr(challenger, "registered_version_", None)
    decision.challenger = _holdout_metrics(challenger, judge_table)
    unseen = "on the leads neither model has seen" + (
        ", each weighted by 1 / its propensity (trained with the same weights)" if weighted else ""
    )
    if champion is None or champion_version == decision.challenger_version:
        decision.promoted = True
        decision.reason = "there was no champion: the challenger becomes the first one"
    else:
        try:
            decision.champion = _holdout_metrics(champion, judge_table)
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
                    f"{margin:.0%} {unseen} ({decision.judged_leads:,} leads after "
                    f"{judge_start:%Y-%m-%d %H:%M})"
                )
            else:
                decision.reason = (
                    f"champion kept: challenger {metric} {new:,.4g} against champion "
                    f"{old:,.4g} {unseen} ({decision.judged_leads:,} leads after "
                    f"{judge_start:%Y-%m-%d %H:%M}) is not {margin:.0%} better"
                )
    if weighted and "propensity" not in decision.reason:
        decision.reason += "; the challenger learnt with each lead weighted by 1 / its propensity"
    if decision.promoted:
        if decision.cutoff_source and not decision.cutoff_source.startswith("the end"):
            decision.reason += f"; the champion's cutoff is {decision.cutoff_source}"
        served = _refit(
            challenger,
            table.subset(np.flatnonzero(times > np.datetime64(train_start))),
            settings,
            show_progress,
            console,
            _table_file(data),
            weighted,
        )
        decision.served_version = getattr(served, "registered_version_", None)
        decision.reason += (
            f"; refitted on its window plus the holdout as version {decision.served_version}"
        )
        report = _change_report(champion, served, judge_table, store, decision, console)
        if report is not None and decision.served_version is not None:
            save_change_report(registry, decision.served_version, report)
            decision.change_report = report.to_dict()
    elif decision.cutoff_source and not decision.cutoff_source.startswith("the end"):
        decision.reason += f"; the champion's cutoff is {decision.cutoff_source}"
    decision.run_id = registry.log_decision(decision)
    if decision.promoted and decision.served_version is not None:
        registry.promote(decision.served_version, reason=decision.reason)
    return decision


def _registered(registry: Registry, version: int) -> pd.Timestamp | None:
    """When ``version`` was registered (UTC), if the registry says."""
    try:
        stamp = registry.client.get_model_version(registry.name, str(version)).creation_timestamp
    except Exception:  # MLflow raises its own types; the time is only a fallback
        return None
    return pd.Timestamp(stamp, unit="ms") if stamp else None


def _too_few(decision: RetrainDecision, settings: Settings) -> str:
    """Why the judging leads cannot judge the models ("" when they can)."""
    need, each = settings.retrain.min_judging_leads, settings.retrain.min_judging_outcomes
    n, converted = decision.judged_leads, decision.judged_converted
    if n >= need and min(converted, n - converted) >= each:
        return ""
    return (
        f"champion kept: too few leads arrived after the champion's training cutoff "
        f"{decision.champion_cutoff} ({decision.cutoff_source}) to judge it: {n:,} leads "
        f"({converted:,} converted, {n - converted:,} not) from {decision.judging_window[0]} "
        f"to {decision.judging_window[1]}, where judging needs at least {need:,} leads and "
        f"{each:,} of each outcome (retrain.min_judging_leads, "
        "retrain.min_judging_outcomes); no challenger was trained"
    )


def _table_file(data: TableLike) -> Path | None:
    """The file ``data`` names, whose feature builder (``leadscore features``) the models
    trained on windows of it carry; None for a frame or a remote source."""
    if isinstance(data, (str, Path)) and Path(data).is_file():
        return Path(data)
    return None


def _refit(
    challenger: LeadModel,
    table: LeadTable,
    settings: Settings,
    show_progress: bool,
    console: Console,
    features_of: Path | None = None,
    weighted: bool = False,
) -> LeadModel:
    """The challenger's family and settings fitted again on ``table`` (its window plus the
    holdout), registered as a version of its own."""
    from leadscore.lifecycle.registry import Registry

    family = challenger.metadata_["model"]
    console.print(f"refitting the challenger ({family}) on {table.n_rows:,} leads")
    served = train(
        table, settings=settings, model=family, params=dict(challenger.params or {}) or None,
        track=True, show_progress=show_progress, console=None, features_of=features_of,
        weighted=weighted, dictionary=_dictionary_of(challenger, settings),
    )  # fmt: skip
    version = getattr(served, "registered_version_", None)
    judged = getattr(challenger, "registered_version_", None)
    if version is not None and judged is not None:
        registry = Registry(settings)
        registry.client.set_model_version_tag(
            registry.name, str(version), "leadscore.refit_of", str(judged)
        )
    return served


def _change_report(
    champion: LeadModel | None,
    served: LeadModel,
    judged: LeadTable,
    store: Store | None,
    decision: RetrainDecision,
    console: Console,
) -> ChangeReport | None:
    """The promotion's change report: the store's open leads, else the judging leads
    scored by the old champion and the new model (none without either)."""
    try:
        if store is not None:
            return store_report(served, store, version=decision.served_version)
        if champion is None or not decision.champion:
            return None
        return compare_scores(
            model_scores(champion, judged.features, judged.ids),
            model_scores(served, judged.features, judged.ids),
            previous=f"champion v{decision.champion_version}",
            source="judging leads",
            version=decision.served_version,
        )
    except LeadscoreError as exc:
        console.print(f"[yellow]no change report:[/] {mask_text(str(exc))}")
        return None


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


def _dictionary_of(model: Any, settings: Settings) -> Any:
    """The data dictionary a retrained model is worded by: the settings' file when one is
    set, else what the earlier model kept of its own (a retraining from the store has no
    file at hand, and its reasons would fall back to the column names)."""
    if settings.leakage.dictionary is not None or model is None:
        return None  # train reads the settings' file, or there is none
    return (model.metadata_.get("dictionary") or {}).get("fields") or None
