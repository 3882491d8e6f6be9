"""Every setting of a leadscore project, with its default.

Where the values come from, and which wins, is :mod:`leadscore.config.resolve`:
the defaults below, ``leadscore.toml``, ``LEADSCORE_*`` environment variables (nested
with a double underscore, e.g. ``LEADSCORE_BUSINESS__COST_PER_CONTACT=20``), the values
saved from the dashboard, command-line flags.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from leadscore.config.cluster import SparkSettings
from leadscore.config.sources import MixpanelSettings, S3Settings

DEFAULT_CONFIG_FILE = "leadscore.toml"
#: environment variable naming the settings file (``leadscore serve`` and ``ui`` pass
#: ``--config`` on to their processes in it)
CONFIG_ENV = "LEADSCORE_CONFIG"

#: while set, :class:`Settings` is built from its arguments alone (the resolver has read
#: the file and the environment already)
_ARGUMENTS_ONLY: ContextVar[bool] = ContextVar("leadscore_settings_arguments_only", default=False)

#: Strings that CRM exports and web forms use for "nothing chosen"; they become missing.
DEFAULT_MISSING_VALUES: tuple[str, ...] = (
    "",
    "Select",
    "select",
    "SELECT",
    "-- Select --",
    "(not set)",
    "(none)",
    "N/A",
    "n/a",
    "NULL",
    "null",
    "?",
)

DEFAULT_POSITIVE_LABELS: tuple[str, ...] = (
    "1", "yes", "y", "true", "t", "won", "win", "converted", "closed won", "closed-won",
    "closed - won", "positive", "success",
)  # fmt: skip
DEFAULT_NEGATIVE_LABELS: tuple[str, ...] = (
    "0", "no", "n", "false", "f", "lost", "loss", "not converted", "closed lost",
    "closed-lost", "closed - lost", "negative", "failure",
)  # fmt: skip


class Roles(BaseModel):
    """Which column plays which part. Anything left ``None`` is inferred from the data."""

    target: str | None = None
    id: str | None = None
    time: str | None = None
    exclude: list[str] = Field(default_factory=list)
    keep: list[str] = Field(default_factory=list)
    #: columns computed from events strictly before each lead's outcome (by ``leadscore
    #: features``): their strength is real signal, not leakage, so the audit keeps them
    point_in_time: list[str] = Field(default_factory=list)
    #: a column of sample weights (each lead counts as that many in training), never a
    #: model input: ``store_dataset(weight_by_propensity=True)`` writes one
    weight: str | None = None

    def merged(self, **overrides: Any) -> Roles:
        """Return a copy where every given (non-empty) override replaces or extends the value."""
        data = self.model_dump()
        for key, value in overrides.items():
            if value is None or value == [] or value == ():
                continue
            if key in ("exclude", "keep", "point_in_time"):
                data[key] = list(dict.fromkeys([*data[key], *value]))
            else:
                data[key] = value
        return Roles(**data)


class Business(BaseModel):
    """What a conversion is worth and what a contact costs; defines profit.

    Profit of a contact policy = conversions reached × (value − cost)
    − non-converting contacts × cost − missed conversions × missed cost.
    The defaults are those of the well-known PyCaret lead-scoring tutorial.
    """

    value_per_conversion: float = 120.0
    cost_per_contact: float = 15.0
    missed_conversion_cost: float = 120.0
    capacity: int | None = None

    @field_validator("value_per_conversion", "cost_per_contact", "missed_conversion_cost")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must be zero or positive")
        return value

    @field_validator("capacity")
    @classmethod
    def _positive_capacity(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be at least 1 lead")
        return value

    @property
    def from_defaults(self) -> bool:
        """Whether the three values are the defaults nobody set (file, environment, flag
        or dashboard), as opposed to values someone chose.

        Example
        -------
        >>> Business().from_defaults, Business(cost_per_contact=15).from_defaults
        (True, False)
        """
        return not self.model_fields_set & {
            "value_per_conversion", "cost_per_contact", "missed_conversion_cost"
        }  # fmt: skip

    @property
    def basis(self) -> str:
        """What profit figures count, and where the values come from, in words: the
        tutorial's defaults are said to be defaults, so that a profit never reads as the
        user's own money when it is not.

        Example
        -------
        >>> Business().basis.split(" (")[0]
        'each conversion reached as 120, each contact as −15, each conversion missed as −120'
        >>> Business(value_per_conversion=900).basis.endswith("(your settings)")
        True
        """
        values = (
            f"each conversion reached as {self.value_per_conversion:,g}, each contact as "
            f"−{self.cost_per_contact:,g}, each conversion missed as "
            f"−{self.missed_conversion_cost:,g}"
        )
        if not self.from_defaults:
            return f"{values} (your settings)"
        return (
            f"{values} (the PyCaret lead-scoring tutorial's values, not yours: set yours "
            "with --value-per-conversion, --cost-per-contact and --missed-conversion-cost, "
            "or [business] in leadscore.toml)"
        )


class Segments(BaseModel):
    """Hot / warm / cold cutoffs on the calibrated probability (0–1).

    By default a lead is *cold* below the profit-optimal contact threshold, *hot* when it
    is both above that threshold and in the top ``hot_share`` of training leads as the
    model ranks them, and *warm* in between. Set ``hot_cutoff`` / ``warm_cutoff`` to fix
    them instead.
    """

    hot_share: float = 0.2
    hot_cutoff: float | None = None
    warm_cutoff: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Segments:
        if not 0 < self.hot_share < 1:
            raise ValueError("hot_share must be between 0 and 1")
        for name in ("hot_cutoff", "warm_cutoff"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability between 0 and 1")
        if (
            self.hot_cutoff is not None
            and self.warm_cutoff is not None
            and self.hot_cutoff < self.warm_cutoff
        ):
            raise ValueError("hot_cutoff must not be below warm_cutoff")
        return self


class LeakageSettings(BaseModel):
    """How the audit decides which columns leak the outcome (see ``modeling/leakage.py``)."""

    #: data dictionary (CSV: column, description); descriptions such as "assigned by the
    #: sales team" or "current status" are evidence that a column is filled in after contact
    dictionary: Path | None = None
    #: also leave out strong columns that nothing shows to be recorded after the outcome
    strict: bool = False


class ServiceSettings(BaseModel):
    """The real-time scoring API (``leadscore serve``)."""

    #: the model to serve: ``champion`` (from the registry), a version, or a model folder
    model: str = "champion"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: most leads in one ``POST /v1/score/batch`` (more answers 413)
    max_batch: int = Field(default=1000, ge=1)
    #: most events in one ``POST /v1/events``
    max_events: int = Field(default=1000, ge=1)
    #: largest request body in bytes (more answers 413)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    #: reasons up and down returned with each score (0: none)
    reasons: int = Field(default=3, ge=0, le=20)
    #: a score moving by at least this many points (0–100) between two scores is a trend
    trend_points: int = Field(default=5, ge=1, le=100)
    #: seconds between webhook delivery passes
    webhook_interval_s: float = Field(default=1.0, gt=0)
    #: seconds a verified API key is trusted without a database read (0: check every
    #: request); a revoke by another process (CLI, dashboard, other workers) takes effect
    #: within this time, one through the serving process at once
    key_cache_s: float = Field(default=5.0, ge=0, le=300)
    #: seconds a request waits for the score store (another process's SQLite write lock,
    #: a PostgreSQL row lock, a connection) before it answers 503 with ``Retry-After``
    #: instead of hanging: a CRM integration retries, a sales tool shows "busy"
    store_wait_s: float = Field(default=1.0, gt=0, le=60)
    #: seconds between SQLite write-ahead-log checkpoints in the background (not in a
    #: request's commit: a commit then has little left to copy when it must checkpoint,
    #: see ``store.db.WAL_AUTOCHECKPOINT_PAGES``); PostgreSQL ignores it
    checkpoint_interval_s: float = Field(default=0.25, gt=0)
    #: seconds between checks that the served model is still the one its reference names
    #: (a new champion, a replaced folder: reloaded in every worker); 0: only on
    #: ``POST /v1/models/reload``
    model_check_s: float = Field(default=10.0, ge=0)
    #: seconds an answer to a request sent with an ``Idempotency-Key`` is kept: a retry
    #: within it gets the stored answer instead of a second score
    idempotency_ttl_s: float = Field(default=24 * 3600.0, gt=0)
    #: on SIGTERM, seconds the requests in progress get to finish once new connections
    #: are refused (after ``drain_delay_s``), before they are cancelled
    drain_s: float = Field(default=20.0, ge=0, le=3600)
    #: on SIGTERM, seconds the service first goes on accepting requests while ``/readyz``
    #: answers 503 "draining" and each answer closes its connection: time for a load
    #: balancer to take it out of rotation (its check interval × failures to mark down)
    drain_delay_s: float = Field(default=0.0, ge=0, le=300)
    #: a log line per request (uvicorn's access log); off by default, as ``/metrics``
    #: counts requests by route, status and latency without a line of text per lead
    access_log: bool = False
    #: ``GET /metrics`` (model version, scores per segment) answers without an API key;
    #: off by default: a scraper sends a key with the ``read`` scope (Prometheus:
    #: ``authorization: {credentials: <key>}`` in its scrape config). Only for scrapers
    #: that cannot send a header, with the port reachable only from them
    metrics_public: bool = False


class WebhookSettings(BaseModel):
    """Webhook deliveries (``[webhooks]``, ``LEADSCORE_WEBHOOKS__*``): retries, timeouts,
    parallel receivers, and which addresses a webhook may reach.

    The wait after the n-th failed send is ``base_delay_s · 2^(n−1)``, capped at
    ``max_delay_s``, less up to ``jitter`` of it at random; by default 16 sends over about
    a day (30 s, 1 min, 2 min … then every 4 h), so a receiver down for hours still gets
    every notification.
    """

    #: sends per delivery before it is given up (``failed``; ``leadscore webhooks
    #: redeliver`` queues it again)
    max_attempts: int = Field(default=16, ge=1, le=100)
    base_delay_s: float = Field(default=30.0, ge=0)
    max_delay_s: float = Field(default=4 * 3600.0, ge=0)
    #: the random share of each wait (0: none; 0.2: up to a fifth less)
    jitter: float = Field(default=0.2, ge=0, le=1)
    #: connect, write and read timeout of one send (seconds)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: receivers served at once; each receiver gets one send at a time, so a slow or
    #: hanging one delays only its own deliveries
    workers: int = Field(default=8, ge=1, le=256)
    #: webhooks may reach loopback, private, link-local and other non-public addresses
    #: (checked after DNS resolution when a webhook is added and again at each connection)
    allow_private: bool = False
    #: hosts (``crm.internal``) or networks (``10.20.0.0/16``, ``fd00::/8``) webhooks may
    #: reach even though they are not public
    allow_list: list[str] = Field(default_factory=list)

    @field_validator("allow_list")
    @classmethod
    def _hosts_or_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        clean = []
        for item in value:
            entry = str(item).strip().lower().rstrip(".")
            if not entry:
                raise ValueError("an empty host or network")
            if "/" in entry or ":" in entry or entry.replace(".", "").isdigit():
                try:
                    entry = str(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ValueError(f"{item!r} is neither a host nor a network") from None
            clean.append(entry)
        return clean


class RetrainSettings(BaseModel):
    """How ``leadscore retrain`` judges the champion against a challenger."""

    #: the fewest leads, arrived after the champion's training cutoff, both models are
    #: judged on; with fewer the champion is kept and the decision says so. Even at 200
    #: leads with 20 conversions an AUC of 0.8 has a standard error of about 0.06
    #: (Hanley–McNeil): fewer cannot tell two models apart
    min_judging_leads: int = Field(default=200, ge=1)
    #: …and the fewest of each outcome among them (converted, not converted): with fewer
    #: than 20 conversions a single lead moves the profit by more than 5 %
    min_judging_outcomes: int = Field(default=20, ge=1)


class CapacitySettings(BaseModel):
    """The team's contacts per period, honoured live (``[capacity]``,
    ``LEADSCORE_CAPACITY__PER_PERIOD``): the API's ``contact`` and the work queue contact
    only the best leads of the period, a rolling quota (:mod:`leadscore.live.capacity`).
    Off by default; ``business.capacity`` is the per-batch limit of batch scoring."""

    #: contacts the team can make per period (None: no limit, the model's decision)
    per_period: int | None = Field(default=None, ge=1)
    #: a ``day`` or a ``week`` (from Monday), starting at midnight in ``timezone``
    period: Literal["day", "week"] = "day"
    #: the team's time zone (IANA name, e.g. ``Europe/Madrid``): where its day starts
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. UTC, Europe/Madrid)") from None
        return value


class DashboardSettings(BaseModel):
    """What the dashboard shows beside the scores (``[dashboard]``,
    ``LEADSCORE_DASHBOARD__CRM_URL``)."""

    #: a lead's record in your CRM, e.g. ``https://crm.example.com/leads/{lead_id}``:
    #: ``{lead_id}`` becomes the lead's id (URL-encoded) and the work queue and the lead
    #: page link to it; unset: no link
    crm_url: str | None = None

    @field_validator("crm_url")
    @classmethod
    def _lead_link(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) address, not {value!r}")
        try:
            value.format(lead_id="L1")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                f"may hold only {{lead_id}} in braces (e.g. https://crm.example.com/leads/"
                f"{{lead_id}}), not {value!r}"
            ) from None
        if "{lead_id}" not in value:
            raise ValueError(f"must hold {{lead_id}} where the lead's id goes: {value!r}")
        return value


class ExplorationSettings(BaseModel):
    """Exploration (``[exploration]``, ``LEADSCORE_EXPLORATION__SHARE``): a share of the
    leads below the contact cut-off contacted anyway, drawn at random, so outcomes keep
    arriving from every score range and the model can be judged (and retrained) on every
    lead, not only on those it chose (:mod:`leadscore.scoring.exploration`)."""

    #: chance of a lead below the cut-off to be contacted by exploration (0 turns it off)
    share: float = Field(default=0.05, ge=0, le=1)
    #: selects the random draw (fixed per lead: re-scoring a lead does not draw it again);
    #: a new seed starts a new exploration
    seed: str = "leadscore"


class Settings(BaseSettings):
    """All settings of a leadscore project."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    roles: Roles = Field(default_factory=Roles)
    business: Business = Field(default_factory=Business)
    segments: Segments = Field(default_factory=Segments)
    #: leakage checks: a data dictionary, strictness (``LEADSCORE_LEAKAGE__STRICT=true``)
    leakage: LeakageSettings = Field(default_factory=LeakageSettings)
    missing_values: list[str] = Field(default_factory=lambda: list(DEFAULT_MISSING_VALUES))
    positive_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_POSITIVE_LABELS))
    negative_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_NEGATIVE_LABELS))
    #: what to do with a value like "abc" in an otherwise numeric column
    on_bad_number: Literal["error", "missing"] = "error"
    #: validation folds; default 5, or 3 from 20,000 leads (each fold still validates on
    #: thousands of leads, and the comparison takes 40 % as long)
    cv_folds: int | None = Field(default=None, ge=2, le=20)
    #: hyperparameter search in ``train``: ``auto`` (half as long as the comparison
    #: took, 8–60 s), a duration such as ``60s`` or ``2m``, or ``0`` for none
    tuning_budget: str = "auto"
    #: whether a table's rows, without a time column, are in time order: ``auto`` tells
    #: from the data (validation then runs forward in file order), ``time`` says they are,
    #: ``random`` says they are not
    row_order: Literal["auto", "time", "random"] = "auto"
    random_state: int = 0
    #: parallel workers for model comparison; -1 means one per CPU core
    n_jobs: int = -1
    #: MLflow tracking server or store; default: sqlite ``mlflow.db`` in the working dir
    mlflow_uri: str | None = None
    #: record every compare and train as an MLflow run and register trained models
    tracking: bool = True
    #: registered model name and experiment name in MLflow
    model_name: str = "leadscore"
    experiment: str = "leadscore"
    #: larger tables are compared on a stratified sample of this many leads; the chosen
    #: model is then trained on all of them
    max_compare_rows: int = Field(default=100_000, ge=1000)
    #: where S3 lead tables and event files live (``LEADSCORE_S3__ENDPOINT_URL`` …)
    s3: S3Settings = Field(default_factory=S3Settings)
    #: Mixpanel raw event export (``LEADSCORE_MIXPANEL__USERNAME`` …)
    mixpanel: MixpanelSettings = Field(default_factory=MixpanelSettings)
    #: the score store (``LEADSCORE_DATABASE_URL``): SQLite file by default, or PostgreSQL
    #: such as ``postgresql+psycopg://user@host:5432/db``
    database_url: str = "sqlite:///leadscore.db"
    #: the scoring API (``LEADSCORE_SERVICE__MAX_BATCH`` …)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    #: webhook retries, timeouts and reachable addresses (``LEADSCORE_WEBHOOKS__ALLOW_PRIVATE``)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    #: how retraining judges the champion (``LEADSCORE_RETRAIN__MIN_JUDGING_LEADS`` …)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    #: contacts per period honoured live (``LEADSCORE_CAPACITY__PER_PERIOD`` …)
    capacity: CapacitySettings = Field(default_factory=CapacitySettings)
    #: leads below the cut-off contacted on purpose (``LEADSCORE_EXPLORATION__SHARE`` …)
    exploration: ExplorationSettings = Field(default_factory=ExplorationSettings)
    #: the dashboard's link-out to a lead's CRM record
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    #: the Spark cluster of ``--engine spark`` (``LEADSCORE_SPARK__MASTER`` …)
    spark: SparkSettings = Field(default_factory=SparkSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _ARGUMENTS_ONLY.get():
            return (init_settings,)
        toml_file = os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE)
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_file)),
        )


@contextmanager
def arguments_only() -> Iterator[None]:
    """Within the block, ``Settings(**values)`` validates ``values`` and reads nothing else.

    Example
    -------
    >>> with arguments_only():
    ...     Settings(cv_folds=3).business.cost_per_contact
    15.0
    """
    token = _ARGUMENTS_ONLY.set(True)
    try:
        yield
    finally:
        _ARGUMENTS_ONLY.reset(token)
