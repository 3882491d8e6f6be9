"""Data sets loaded in the dashboard, and the folder it keeps them in.

A data set comes from an upload (CSV or Parquet, up to a size limit), an S3 URL, a
Mixpanel export or a SQL table — read with the same source functions and checked with the
same table preparation as the command line, so a bad file gets the same one-line error
(and nothing is kept). A good one is saved as Parquet under ``datasets/<id>/`` with a
``meta.json`` (name, source, column roles, row counts); the store remembers which one is
current, so every user and page sees the same data.

Layout of the dashboard folder (``LEADSCORE_UI_DIR``, default ``./dashboard``)::

    datasets/<id>/table.parquet, meta.json, leaderboard.csv
    models/<time>-<model>/        models trained in the dashboard (LeadModel folders)
    registry/<version>/           registry versions downloaded for charts
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
import urllib.parse
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leadscore.config import Roles, Settings
from leadscore.data.lead_table import LeadTable, prepare_table
from leadscore.data.masking import mask_source
from leadscore.data.roles import coerce_target, infer_target, sidecar_roles
from leadscore.data.sources import SourceKind, read_table, require_source, source_kind
from leadscore.errors import DataError

if TYPE_CHECKING:
    from leadscore.store import Store

#: file types an upload may have (compressed CSV too)
UPLOAD_TYPES = ("csv", "tsv", "txt", "parquet", "pq", "gz")
TABLE_FILE = "table.parquet"
META_FILE = "meta.json"
LEADERBOARD_FILE = "leaderboard.csv"


# ----------------------------------------------------------------------------- reading


def read_upload(name: str, data: bytes, max_bytes: int) -> pd.DataFrame:
    """The table in an uploaded file, read exactly as the CLI reads a file.

    Raises :class:`~leadscore.errors.DataError` for a file over ``max_bytes``, of another
    type, or that cannot be read; messages name the file as the user knows it.

    Example
    -------
    >>> read_upload("leads.csv", b"a,b\\n1,2\\n", 1000).shape
    (1, 2)
    >>> read_upload("leads.csv", b"", 1000)
    Traceback (most recent call last):
    ...
    leadscore.errors.DataError: file is empty: leads.csv
    """
    clean = Path(str(name)).name or "upload"
    if len(data) > max_bytes:
        raise DataError(
            f"{clean} is {len(data) / 1024 / 1024:,.1f} MB; files up to "
            f"{max_bytes / 1024 / 1024:,.0f} MB can be uploaded (larger tables: S3 or SQL)"
        )
    suffixes = clean.lower().split(".")[1:]
    if not suffixes or suffixes[-1] not in UPLOAD_TYPES:
        raise DataError(f"{clean}: upload a CSV or Parquet file (.csv, .tsv, .parquet, .csv.gz)")
    with tempfile.TemporaryDirectory(prefix="leadscore-upload-") as tmp:
        path = Path(tmp) / clean
        path.write_bytes(data)
        try:
            return read_table(path)
        except DataError as exc:
            # the temporary path means nothing to the user: name the file they chose
            raise DataError(str(exc).replace(str(path), clean)) from None


def sql_source(url: str, table: str = "", query: str = "") -> str:
    """A SQL source for :func:`~leadscore.data.sources.read_table`: ``url?table=…`` or
    ``url?query=…`` (URL-encoded).

    Example
    -------
    >>> sql_source("sqlite:///crm.db", table="leads")
    'sqlite:///crm.db?table=leads'
    """
    url, table, query = url.strip(), table.strip(), query.strip()
    if not url:
        raise DataError("give the database URL, e.g. postgresql://user@host:5432/crm")
    if bool(table) == bool(query):
        raise DataError("give either a table name or a SELECT query")
    joiner = "&" if "?" in url else "?"
    if table:
        return f"{url}{joiner}table={urllib.parse.quote(table, safe='.')}"
    return f"{url}{joiner}query={urllib.parse.quote(query, safe='')}"


def box_source(text: str, kind: SourceKind, settings: Settings, store_url: str | None) -> str:
    """What a remote box of the Data page may read: ``text`` if it is a ``kind`` source
    (an S3 URL in the S3 box, a database URL in the SQL box, …), never a local file, and
    never leadscore's own databases (the score store at ``store_url`` and of the settings,
    the MLflow database); a SQL query must be one ``SELECT``
    (:func:`~leadscore.data.sources.require_source`).

    Example
    -------
    >>> box_source("s3://crm/leads.csv", "s3", Settings(), None)
    's3://crm/leads.csv'
    """
    from leadscore.lifecycle.registry import tracking_uri

    protected = [store_url, tracking_uri(settings)]
    return require_source(text, kind, settings=settings, protected=protected)


def mixpanel_source(start: str, end: str, events: str = "", project: str = "") -> str:
    """A ``mixpanel://`` source for a date range and optional event names.

    Example
    -------
    >>> mixpanel_source("2025-01-01", "2025-01-31", "Signed Up, Purchase")
    'mixpanel://?from=2025-01-01&to=2025-01-31&event=Signed+Up%2CPurchase'
    """
    params = {"from": str(start), "to": str(end)}
    names = ",".join(n.strip() for n in events.split(",") if n.strip())
    if names:
        params["event"] = names
    return f"mixpanel://{project.strip()}?{urllib.parse.urlencode(params)}"


def leads_from_events(
    source: str, *, lead_event: str | None = None, conversion_event: str | None = None
) -> pd.DataFrame:
    """One row of features per lead from raw events (``leadscore features`` with outcomes
    defined by events): converted when ``conversion_event`` follows."""
    from leadscore.features.table import build_lead_table

    if not conversion_event:
        raise DataError("raw events need a conversion event to tell which leads converted")
    result = build_lead_table(
        source, lead_event=lead_event or None, conversion_event=conversion_event
    )
    return result.table


#: what ``make demo`` generates (the Makefile's ``demo-data --events --rows … --new-rows …``)
#: and the days it then simulates (``demo-live --days``): the Data page describes it
MAKE_DEMO_LEADS, MAKE_DEMO_NEW_LEADS, MAKE_DEMO_DAYS = 5000, 1000, 90


def make_demo_text() -> str:
    """What ``make demo`` puts in the dashboard, in words (the Data page's Demo tab).

    Example
    -------
    >>> make_demo_text().split(":")[0]
    '`make demo` (in the repository) fills this dashboard'
    """
    return (
        "`make demo` (in the repository) fills this dashboard: a software company's web "
        f"events for {MAKE_DEMO_LEADS:,} leads with an outcome and {MAKE_DEMO_NEW_LEADS:,} new "
        "ones, with its CRM table (who each lead is, industry, company size, seniority), "
        "become one row of features per lead — the current data set — and a trained model "
        f"scores the {MAKE_DEMO_NEW_LEADS:,} new leads into the work queue. Then "
        f"{MAKE_DEMO_DAYS} days are simulated up to today: leads arrive through the API and "
        "are scored, the team calls some, outcomes come back, the traffic mix drifts and a "
        "retraining decides whether a new model serves."
    )


def named_problem(name: str, message: str) -> str:
    """An error about the source ``name`` as one line that names it once.

    Example
    -------
    >>> named_problem("garbage.csv", "file has a header but no rows: garbage.csv")
    'file has a header but no rows: garbage.csv'
    >>> named_problem("leads.csv", "target column 'won' is empty")
    "leads.csv: target column 'won' is empty"
    """
    return message if name and name in message else f"{name}: {message}"


def demo_frame(rows: int = 1500, new_rows: int = 300, seed: int = 42) -> pd.DataFrame:
    """The demo leads as one CRM export: ``rows`` labelled leads and ``new_rows`` fresh
    ones without an outcome yet (the leads to call)."""
    from leadscore.demo import write_demo

    with tempfile.TemporaryDirectory(prefix="leadscore-demo-") as tmp:
        paths = write_demo(Path(tmp), rows=rows, new_rows=new_rows, seed=seed)
        history = pd.read_csv(paths["leads"])
        fresh = pd.read_csv(paths["new_leads"])
    return pd.concat([history, fresh], ignore_index=True)


def demo_csv(rows: int = 1500, new_rows: int = 300, seed: int = 42) -> bytes:
    """:func:`demo_frame` as CSV bytes (for a download button)."""
    buffer = io.StringIO()
    demo_frame(rows, new_rows, seed).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


# ----------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class TableCheck:
    """A table that passed the checks: its prepared form and its outcome counts."""

    table: LeadTable
    target: str | None
    labelled: int
    converted: int
    open: int

    @property
    def trainable(self) -> bool:
        """Whether a model can learn from it (enough leads of both outcomes)."""
        return self.labelled > 0 and 0 < self.converted < self.labelled


def check_table(frame: pd.DataFrame, roles: Roles, settings: Settings) -> TableCheck:
    """Prepare the table as the CLI does (types, placeholders, bad numbers, roles, outcome
    values); raises the CLI's errors. A table without an outcome column passes: its leads
    can be scored but not learned from."""
    table = prepare_table(frame, roles, settings, require_target=False)
    target = table.roles.target or infer_target(frame)
    labelled = converted = 0
    if target is not None and target in frame.columns:
        y = coerce_target(frame[target], settings.positive_labels, settings.negative_labels)
        known = ~np.isnan(y)
        labelled, converted = int(known.sum()), int(np.nansum(y))
    return TableCheck(table, target, labelled, converted, len(frame) - labelled)


def open_rows(frame: pd.DataFrame, target: str | None, settings: Settings) -> pd.DataFrame:
    """The rows without an outcome yet (all rows when there is no outcome column)."""
    if not target or target not in frame.columns:
        return frame
    y = coerce_target(frame[target], settings.positive_labels, settings.negative_labels)
    return frame.loc[np.isnan(y)]


def labelled_rows(frame: pd.DataFrame, target: str | None, settings: Settings) -> pd.DataFrame:
    """The rows with an outcome."""
    if not target or target not in frame.columns:
        return frame.iloc[0:0]
    y = coerce_target(frame[target], settings.positive_labels, settings.negative_labels)
    return frame.loc[~np.isnan(y)]


# ----------------------------------------------------------------------------- the folder


@dataclass(frozen=True)
class DatasetInfo:
    """A data set kept in the dashboard folder (``meta.json``)."""

    id: str
    name: str
    source: str
    rows: int
    columns: list[str]
    roles: dict[str, Any]
    labelled: int
    converted: int
    open: int
    loaded_at: str
    loaded_by: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def role_model(self) -> Roles:
        return Roles(**self.roles)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "data"


class Workspace:
    """The dashboard folder: data sets, models trained in the app, downloaded versions."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    @property
    def datasets_dir(self) -> Path:
        return self.directory / "datasets"

    @property
    def models_dir(self) -> Path:
        return self.directory / "models"

    @property
    def registry_dir(self) -> Path:
        return self.directory / "registry"

    def save_dataset(
        self,
        frame: pd.DataFrame,
        *,
        name: str,
        source: str,
        check: TableCheck,
        loaded_by: str | None = None,
    ) -> DatasetInfo:
        """Keep a checked table; returns its description (the id changes with the data).
        The name and source are kept without any password or secret in them."""
        name, source = mask_source(name), mask_source(source)
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy())
        digest.update("\x1f".join(map(str, frame.columns)).encode())
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        dataset_id = f"{stamp}-{digest.hexdigest()[:8]}"
        folder = self.datasets_dir / dataset_id
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{TABLE_FILE}.partial"
        try:
            frame.to_parquet(partial, index=False)
        except (ValueError, TypeError, ImportError) as exc:  # pyarrow: mixed-type columns
            partial.unlink(missing_ok=True)
            folder.rmdir()
            raise DataError(f"{name}: cannot keep this table ({exc})") from None
        partial.replace(folder / TABLE_FILE)
        info = DatasetInfo(
            id=dataset_id,
            name=name,
            source=source,
            rows=len(frame),
            columns=[str(c) for c in frame.columns],
            roles=check.table.roles.model_dump(),
            labelled=check.labelled,
            converted=check.converted,
            open=check.open,
            loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            loaded_by=loaded_by,
            notes=list(check.table.notes),
        )
        (folder / META_FILE).write_text(json.dumps(asdict(info), indent=2))
        return info

    def dataset(self, dataset_id: str | None) -> DatasetInfo | None:
        """The data set's description, or ``None`` when unknown (or deleted)."""
        if not dataset_id or not re.fullmatch(r"[A-Za-z0-9_.-]+", dataset_id):
            return None
        path = self.datasets_dir / dataset_id / META_FILE
        if not path.is_file() or not (path.parent / TABLE_FILE).is_file():
            return None
        return DatasetInfo(**json.loads(path.read_text()))

    def frame(self, info: DatasetInfo) -> pd.DataFrame:
        """The data set's table."""
        return pd.read_parquet(self.datasets_dir / info.id / TABLE_FILE)

    def leaderboard_path(self, info: DatasetInfo) -> Path:
        return self.datasets_dir / info.id / LEADERBOARD_FILE

    def new_model_dir(self, model: str) -> Path:
        """A fresh folder name for a model trained now."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = self.models_dir / f"{stamp}-{_slug(model)}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = self.models_dir / f"{stamp}-{_slug(model)}-{suffix}"
        return path

    def model_dirs(self) -> list[Path]:
        """Models trained in the dashboard, newest first."""
        if not self.models_dir.is_dir():
            return []
        found = [p for p in self.models_dir.iterdir() if (p / "metadata.json").is_file()]
        return sorted(found, key=lambda p: p.name, reverse=True)


def load_dataset(
    store: Store, place: Workspace, source: str, settings: Settings, by: str | None = None
) -> DatasetInfo:
    """Read any table source, check it and make it the current data set (what ``leadscore
    ui --data`` does before the dashboard starts). Column roles come from the settings,
    and from the description ``leadscore features`` writes beside a table."""
    from leadscore.ui.config import DATASET_KEY

    roles = settings.roles
    if source_kind(source) == "local":
        described = sidecar_roles(Path(source))
        if described is not None:
            roles = described.merged(**roles.model_dump())
    frame = read_table(source, settings=settings)
    check = check_table(frame, roles, settings)
    name = Path(source).name if source_kind(source) == "local" else source
    info = place.save_dataset(frame, name=name, source=source, check=check, loaded_by=by)
    store.settings.set(DATASET_KEY, {"id": info.id}, by=by)
    return info
