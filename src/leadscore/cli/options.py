"""The options several commands share, declared once.

Each shared option is one entry of :data:`OPTIONS` (its name in Python, its ``typer``
declaration and its default), one field of :class:`Flags` and, when it is a setting, one
entry of :data:`SETTING_OF`. A command asks for a group of them with
:func:`shared_options` and receives their parsed values as one :class:`Flags` argument;
:func:`build_settings` turns those into the project settings (through the one resolver:
file, environment, the values saved from the dashboard, then these flags). Adding an
option is therefore one place, not one per command.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from leadscore.cli.common import ConfigOpt, DatabaseOpt, resolve
from leadscore.config import Settings
from leadscore.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

DataArg = Annotated[
    str,
    typer.Argument(
        help="Lead table: a CSV or Parquet file, a folder or glob, s3://…, mixpanel://…, or a "
        "database URL with ?table=NAME or ?query=SELECT… (passwords are never printed)."
    ),
]
#: an API key read from a file (the demo's commands that talk to a running API)
KeyFileOpt = Annotated[
    Path, typer.Option("--key-file", help="File holding an API key (ingest scope).")
]
#: how long to wait for a running API to answer /readyz
ApiWaitOpt = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for the API to be ready.")
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", help="Outcome column (converted yes/no, 1/0, won/lost).")
]
IdOpt = Annotated[str | None, typer.Option("--id", help="Lead id column.")]
TimeOpt = Annotated[
    str | None,
    typer.Option("--time", help="Lead creation time column: validation becomes time-ordered."),
]
ExcludeOpt = Annotated[
    list[str] | None, typer.Option("--exclude", help="Leave this column out (repeatable).")
]
KeepOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--keep", help="Keep this column even if the audit suspects leakage (repeatable)."
    ),
]
DictionaryOpt = Annotated[
    Path | None,
    typer.Option(
        "--dictionary",
        help="Data dictionary (CSV: column, description; optional label, unit, actionable "
        "yes/no, levels '1=…; 0=…'): descriptions such as 'assigned by the sales team' mark "
        "columns filled in after contact; labels, units and levels word the reasons.",
    ),
]
StrictLeakageOpt = Annotated[
    bool,
    typer.Option(
        "--strict-leakage",
        help="Also leave out strong columns that nothing shows to be recorded after the outcome.",
    ),
]
RowOrderOpt = Annotated[
    str | None,
    typer.Option(
        "--row-order",
        help="Without --time: auto (default: validate forward in file order when the rows "
        "look time-ordered), time (they are), random (they are not).",
    ),
]
BadNumbersOpt = Annotated[
    str | None,
    typer.Option(
        "--bad-numbers",
        help="What to do with text in a numeric column: error (default) or missing.",
    ),
]
ValueOpt = Annotated[
    float | None, typer.Option("--value-per-conversion", help="Revenue of one conversion.")
]
CostOpt = Annotated[float | None, typer.Option("--cost-per-contact", help="Cost of one contact.")]
MissedOpt = Annotated[
    float | None,
    typer.Option("--missed-conversion-cost", help="Cost of not contacting a lead that converts."),
]
CapacityOpt = Annotated[
    int | None, typer.Option("--capacity", help="The team can contact this many leads per batch.")
]
SortOpt = Annotated[
    str, typer.Option("--sort", help="Rank models by: auc, profit, pr_auc, recall, f1, …")
]
CvOpt = Annotated[int | None, typer.Option("--cv", help="Cross-validation folds (default 5).")]
BudgetOpt = Annotated[
    str | None,
    typer.Option(
        "--budget",
        help="Hyperparameter search time for the leading model families: 60s, 2m, auto "
        "(half as long as the comparison took) or 0 (none). train: auto; compare: 0.",
    ),
]
ModelsOpt = Annotated[
    str | None,
    typer.Option("--models", help="Comma-separated candidates to compare (default: all)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


@dataclass(frozen=True)
class Flags:
    """The parsed values of the shared options a command was given (``None``: not given).

    Example
    -------
    >>> Flags(models="logreg_l2, lightgbm").model_list
    ['logreg_l2', 'lightgbm']
    """

    config: Path | None = None
    target: str | None = None
    id_column: str | None = None
    time_column: str | None = None
    exclude: list[str] | None = None
    keep: list[str] | None = None
    bad_numbers: str | None = None
    dictionary: Path | None = None
    strict_leakage: bool = False
    row_order: str | None = None
    budget: str | None = None
    models: str | None = None
    sort: str = "auc"
    cv: int | None = None
    value: float | None = None
    cost: float | None = None
    missed: float | None = None
    capacity: int | None = None
    database: str | None = None

    @property
    def model_list(self) -> list[str] | None:
        """``--models a,b`` as a list (``None``: every candidate)."""
        if not self.models:
            return None
        return [m.strip() for m in self.models.split(",") if m.strip()]


#: the ``flags`` default of a command (replaced by the parsed values when it runs)
NO_FLAGS = Flags()

#: every shared option: its parameter name (a :class:`Flags` field), declaration, default
OPTIONS: dict[str, tuple[Any, Any]] = {
    "target": (TargetOpt, None),
    "id_column": (IdOpt, None),
    "time_column": (TimeOpt, None),
    "exclude": (ExcludeOpt, None),
    "keep": (KeepOpt, None),
    "config": (ConfigOpt, None),
    "bad_numbers": (BadNumbersOpt, None),
    "dictionary": (DictionaryOpt, None),
    "strict_leakage": (StrictLeakageOpt, False),
    "row_order": (RowOrderOpt, None),
    "budget": (BudgetOpt, None),
    "models": (ModelsOpt, None),
    "sort": (SortOpt, "auc"),
    "cv": (CvOpt, None),
    "value": (ValueOpt, None),
    "cost": (CostOpt, None),
    "missed": (MissedOpt, None),
    "capacity": (CapacityOpt, None),
    "database": (DatabaseOpt, None),
}

#: the setting (dotted name) each option sets; ``--database`` names the score store, whose
#: saved dashboard values the settings include
SETTING_OF: dict[str, str] = {
    "target": "roles.target",
    "id_column": "roles.id",
    "time_column": "roles.time",
    "exclude": "roles.exclude",
    "keep": "roles.keep",
    "bad_numbers": "on_bad_number",
    "dictionary": "leakage.dictionary",
    "strict_leakage": "leakage.strict",
    "row_order": "row_order",
    "cv": "cv_folds",
    "value": "business.value_per_conversion",
    "cost": "business.cost_per_contact",
    "missed": "business.missed_conversion_cost",
    "capacity": "business.capacity",
}
if set(OPTIONS) != {f.name for f in dataclasses.fields(Flags)}:  # pragma: no cover
    raise RuntimeError("every shared option needs a Flags field, and every field an option")

#: column roles and the settings file: every command that reads a lead table
ROLES = ("target", "id_column", "time_column", "exclude", "keep", "config")
#: the score store whose dashboard values (business, segments) apply
STORE = ("database",)
#: how the audit reads values and decides on leakage
CHECKS = ("bad_numbers", "dictionary", "strict_leakage")
#: the model search of ``compare`` and ``train``: validation, candidates, business values
SEARCH = ("row_order", "budget", "models", "sort", "cv", "value", "cost", "missed")
#: everything ``compare`` and ``train`` share
MODELLING = (*ROLES, *CHECKS, *SEARCH, *STORE)


def shared_options(*names: str) -> Callable[[F], F]:
    """Give a command the shared options ``names`` in place of its ``flags`` parameter.

    The command declares ``flags: Flags = NO_FLAGS`` where the options belong in its ``--help``;
    typer sees the options themselves, and the command is called with their values
    gathered in one :class:`Flags`.

    Parameters
    ----------
    *names:
        Keys of :data:`OPTIONS`, in the order ``--help`` lists them (e.g. ``*MODELLING``).

    Example
    -------
    >>> @shared_options(*ROLES)
    ... def audit(data: Path, flags: Flags = NO_FLAGS) -> None:
    ...     print(flags.target)
    >>> list(inspect.signature(audit).parameters)[:3]
    ['data', 'target', 'id_column']
    """
    unknown = [n for n in names if n not in OPTIONS]
    if unknown:
        raise ValueError(f"no shared option {unknown}")

    def decorate(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        params = list(signature.parameters.values())
        at = [p.name for p in params].index("flags")
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        shared = [
            inspect.Parameter(name, kind, annotation=OPTIONS[name][0], default=OPTIONS[name][1])
            for name in names
        ]
        params[at : at + 1] = shared

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in names if name in kwargs}
            return func(*args, flags=Flags(**given), **kwargs)

        command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params} | {
            "return": signature.return_annotation
        }
        return command  # type: ignore[return-value]

    return decorate


def build_settings(flags: Flags) -> Settings:
    """The command's settings: file, environment, the values saved from the dashboard (in
    the store of ``--database``, else of the settings), then the flags.

    Parameters
    ----------
    flags:
        The parsed shared options; ``None`` values leave the setting alone,
        ``--exclude`` / ``--keep`` add to the configured lists.

    Raises :class:`~leadscore.errors.ConfigError` for a flag value that is not allowed.

    Example
    -------
    >>> build_settings(Flags(cost=20.0)).business.cost_per_contact
    20.0
    """
    if flags.bad_numbers is not None and flags.bad_numbers not in ("error", "missing"):
        raise ConfigError(f"--bad-numbers must be 'error' or 'missing', not {flags.bad_numbers!r}")
    if flags.cv is not None and flags.cv < 2:
        raise ConfigError(f"--cv must be at least 2 folds, not {flags.cv}")
    if flags.row_order is not None and flags.row_order not in ("auto", "time", "random"):
        raise ConfigError(
            f"--row-order must be 'auto', 'time' or 'random', not {flags.row_order!r}"
        )
    if flags.dictionary is not None and not flags.dictionary.is_file():
        raise ConfigError(f"--dictionary: file not found: {flags.dictionary}")
    given = {setting: _given(getattr(flags, option)) for option, setting in SETTING_OF.items()}
    return resolve(flags.config, flags.database, given).settings


def _given(value: Any) -> Any:
    """A flag's value, or ``None`` when it was not given (an off switch, no list items)."""
    return None if value is False or (isinstance(value, list) and not value) else value
