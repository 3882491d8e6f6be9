"""Read and write lead tables wherever they live: one entry point that dispatches on the URL.

:func:`read_table` takes a DataFrame (passed through) or a source and returns a
DataFrame, or raises :class:`~leadscore.errors.DataError` with a message that names the
source and the problem. Sources:

========================================================  =====================================
``leads.csv``, ``leads.parquet``, ``events.jsonl.gz``     a local file (CSV/TSV, Parquet, JSONL
                                                          or JSON, optionally gzip-compressed)
``data/`` or ``data/2025-*.csv`` or ``data/**/*.parquet`` every data file in a folder
                                                          (recursively) or matching a pattern,
                                                          concatenated
``file:///abs/path/leads.csv``                            the same, as a URL
``s3://bucket/key.csv``, ``s3://bucket/prefix/``,         S3 objects (see :mod:`.s3`), cached
``s3://bucket/raw/*.jsonl.gz``                            under the cache folder
``mixpanel://?from=2025-01-01&to=2025-01-31``             Mixpanel raw events (see
``mixpanel://PROJECT_ID?from=…&to=…&event=A,B``           :mod:`.mixpanel`), flattened
``sqlite:///crm.db?table=leads``                          a table (``schema.table``) or a query
``postgresql://me@db:5432/crm?table=sales.leads``         (``?query=SELECT…``, URL-encoded)
``postgresql+psycopg://…?query=SELECT%20*%20FROM%20x``    through SQLAlchemy (:mod:`.sql`)
========================================================  =====================================

:func:`resolve_files` gives the local files behind a file-like source (downloading S3
objects and Mixpanel days into the cache folder: ``$LEADSCORE_CACHE_DIR``, else
``$XDG_CACHE_HOME/leadscore``, else ``~/.cache/leadscore``). Local files are found, read
and written by :mod:`.table_files`. A new source is a module of its own and its scheme
here: in :func:`source_kind` and in the resolver of its files.

SQL sources are read-only (one ``SELECT`` or a table, on a read-only connection: see
:mod:`.sql`). :func:`require_source` is what a box that reads one kind of source checks
(the dashboard's S3, Mixpanel and SQL boxes): that kind only, no local file, never
leadscore's own databases. Messages never show a password or secret
(:mod:`.masking`).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from leadscore.data.masking import mask_source
from leadscore.data.table_files import (
    DATA_SUFFIXES,
    local_files,
    local_path,
    read_file,
    read_files,
)
from leadscore.errors import DataError

if TYPE_CHECKING:
    from leadscore.config import Settings

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# Remote stores leadscore does not read (yet): a clear message instead of a SQLAlchemy one.
_UNSUPPORTED_SCHEMES = {"http", "https", "ftp", "sftp", "gs", "gcs", "az", "abfs", "abfss", "hdfs"}

TableLike = str | Path | pd.DataFrame
SourceKind = Literal["local", "s3", "mixpanel", "sql"]


# --- classifying sources -----------------------------------------------------------------------


def source_kind(source: str | Path) -> SourceKind:
    """Which reader handles ``source``: ``"local"``, ``"s3"``, ``"mixpanel"`` or ``"sql"``.

    Example
    -------
    >>> source_kind("s3://leads/2025/"), source_kind("sqlite:///crm.db?table=leads")
    ('s3', 'sql')
    """
    if isinstance(source, Path):
        return "local"
    match = _SCHEME.match(source)
    if match is None:
        return "local"
    scheme = match.group(1).lower()
    if scheme == "file":
        return "local"
    if scheme == "s3":
        return "s3"
    if scheme == "mixpanel":
        return "mixpanel"
    if scheme in _UNSUPPORTED_SCHEMES:
        raise DataError(
            f"unsupported source {mask_source(source)!r}: use a local path, s3://…, "
            "mixpanel://… or a database URL such as postgresql://user@host/db?table=leads"
        )
    return "sql"


#: what each kind of source is, in words for messages
_KIND_WORDS: dict[str, str] = {
    "local": "a local file or folder",
    "s3": "an S3 URL (s3://bucket/key.csv or s3://bucket/prefix/)",
    "mixpanel": "a Mixpanel export (mixpanel://?from=…&to=…)",
    "sql": "a database URL (postgresql://user@host:5432/crm, sqlite:///crm.db)",
}


def require_source(
    source: str,
    kind: SourceKind,
    *,
    settings: Settings | None = None,
    protected: Iterable[str | None] = (),
) -> str:
    """``source`` (stripped) if it is a ``kind`` source that may be read from a box that
    reads only that kind (the dashboard's S3, Mixpanel and SQL boxes), else
    :class:`DataError`.

    A box reads its own scheme only: the S3 box ``s3://`` URLs, the Mixpanel box
    ``mixpanel://`` exports, the SQL box database URLs; no remote box reads a local path or
    ``file://`` URL. A SQL source must not be leadscore's own database: the score store of
    ``settings`` (``database_url``) and every URL in ``protected`` (the store the caller
    opened, the MLflow database) are refused however their URL is spelt; its query must be
    one read-only ``SELECT`` (:func:`~leadscore.data.sql_guard.check_select`).

    Example
    -------
    >>> require_source(" s3://leads/2025/ ", "s3")
    's3://leads/2025/'
    >>> require_source("/etc/os-release", "s3")
    Traceback (most recent call last):
    ...
    leadscore.errors.DataError: /etc/os-release is a local file or folder: this box reads an S3 URL (s3://bucket/key.csv or s3://bucket/prefix/) only
    """  # noqa: E501
    text = str(source).strip()
    if not text:
        raise DataError(f"give {_KIND_WORDS[kind]}")
    actual = source_kind(text)
    if actual != kind:
        raise DataError(
            f"{mask_source(text)} is {_KIND_WORDS[actual]}: this box reads {_KIND_WORDS[kind]} only"
        )
    if kind == "s3":
        from leadscore.data.s3 import parse_s3_url

        parse_s3_url(text)
    elif kind == "mixpanel":
        parse_mixpanel_url(text)
    elif kind == "sql":
        _require_foreign_database(text, [_settings(settings).database_url, *protected])
    return text


def _require_foreign_database(source: str, protected: Iterable[str | None]) -> None:
    from leadscore.data.sql import mask, same_database, split_sql_source
    from leadscore.data.sql_guard import check_select

    url, _, query = split_sql_source(source)
    for own in protected:
        if own and same_database(url, str(own)):
            raise DataError(
                f"{mask(url)} is leadscore's own database (the score store or the model "
                "registry): it holds keys, users and webhook secrets, and cannot be read as "
                "a source"
            )
    problem = check_select(query) if query is not None else None
    if problem is not None:
        raise DataError(f"refused the query: {problem}. Give one SELECT, or a table name")


# --- remote sources: S3 objects and Mixpanel days in the cache folder ----------------------------


def default_cache_dir() -> Path:
    """``$LEADSCORE_CACHE_DIR``, else ``$XDG_CACHE_HOME/leadscore``, else ``~/.cache/leadscore``."""
    if os.environ.get("LEADSCORE_CACHE_DIR"):
        return Path(os.environ["LEADSCORE_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "leadscore"


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from leadscore.config import load_settings

    return load_settings()


@dataclass(frozen=True)
class MixpanelSource:
    """A parsed ``mixpanel://[PROJECT_ID]?from=…&to=…[&event=A,B]`` URL."""

    project_id: int | None
    from_date: str
    to_date: str
    events: tuple[str, ...] | None


def parse_mixpanel_url(url: str) -> MixpanelSource:
    """Parse a ``mixpanel://`` source.

    ``from``/``to`` (or ``from_date``/``to_date``) are required; ``event`` may be given
    several times or as a comma-separated list.

    Example
    -------
    >>> parse_mixpanel_url("mixpanel://123?from=2025-01-01&to=2025-01-02&event=A,B").events
    ('A', 'B')
    """
    parts = urllib.parse.urlsplit(url)
    shown = mask_source(url)
    params: dict[str, list[str]] = {}
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    unknown = set(params) - {"from", "to", "from_date", "to_date", "event"}
    if unknown:
        raise DataError(
            f"unknown parameter(s) {', '.join(sorted(unknown))} in {shown}: "
            "use from, to and event (e.g. mixpanel://?from=2025-01-01&to=2025-01-31&event=A,B)"
        )
    start = (params.get("from") or params.get("from_date") or [""])[-1].strip()
    end = (params.get("to") or params.get("to_date") or [""])[-1].strip()
    if not start or not end:
        raise DataError(f"{shown} needs a date range: mixpanel://?from=YYYY-MM-DD&to=YYYY-MM-DD")
    project: int | None = None
    if parts.netloc:
        if not parts.netloc.isdigit():
            raise DataError(f"{shown}: the project id must be a number (mixpanel://PROJECT_ID?…)")
        project = int(parts.netloc)
    names = [name.strip() for value in params.get("event", []) for name in value.split(",")]
    events = tuple(name for name in names if name) or None
    return MixpanelSource(project, start, end, events)


def _s3_files(url: str, cache: Path, settings: Settings | None) -> list[tuple[Path, str]]:
    """The data files under an ``s3://`` URL, downloaded below ``cache/s3/<bucket>``."""
    from leadscore.data.s3 import download_s3, parse_s3_url

    location = parse_s3_url(url)
    dest = cache / "s3" / location.bucket
    paths = download_s3(url, dest, _settings(settings).s3, suffixes=DATA_SUFFIXES, full_keys=True)
    return [(path, f"s3://{location.bucket}/{path.relative_to(dest).as_posix()}") for path in paths]


def _mixpanel_files(url: str, cache: Path, settings: Settings | None) -> list[tuple[Path, str]]:
    """One file per day of a ``mixpanel://`` export, below ``cache/mixpanel/<account>/``.

    Different projects, and different event filters of one project, keep their day
    files apart.
    """
    from leadscore.data.mixpanel import export_mixpanel

    source = parse_mixpanel_url(url)
    config = _settings(settings).mixpanel
    if source.project_id is not None:
        config = config.model_copy(update={"project_id": source.project_id})
    if config.project_id is not None:
        account = str(config.project_id)
    elif config.api_secret is not None:
        # a project API secret implies the project: keep different projects apart
        digest = hashlib.sha256(config.api_secret.get_secret_value().encode()).hexdigest()
        account = f"secret-{digest[:12]}"
    else:
        account = "default"
    events = "all"
    if source.events:  # another event filter is another export: keep the day files apart
        digest = hashlib.sha256("\n".join(sorted(source.events)).encode()).hexdigest()
        events = f"events-{digest[:12]}"
    dest = cache / "mixpanel" / account / events
    paths = export_mixpanel(source.from_date, source.to_date, dest, config, source.events)
    return [(path, f"{path} (from {mask_source(url)})") for path in paths]


# --- finding the files -------------------------------------------------------------------------


def _resolve(
    source: str | Path, cache_dir: str | Path | None, settings: Settings | None
) -> list[tuple[Path, str]]:
    """The local files behind ``source``, each with the name to show in messages."""
    kind = source_kind(source)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if kind == "local":
        return local_files(source)
    if kind == "s3":
        return _s3_files(str(source), cache, settings)
    if kind == "mixpanel":
        return _mixpanel_files(str(source), cache, settings)
    raise DataError(f"{_shown(source)} is a database table, not files: read it with read_table")


def _shown(source: str | Path) -> str:
    """``source`` as messages show it: without its password, secrets, table or query."""
    if source_kind(source) == "sql":
        from leadscore.data.sql import mask, split_sql_source

        return mask(split_sql_source(str(source))[0])
    return mask_source(source)


def resolve_files(
    source: str | Path,
    cache_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
) -> list[Path]:
    """The local files to read for a local, S3 or Mixpanel source, sorted.

    A folder gives all its data files (:data:`.table_files.DATA_SUFFIXES`) recursively,
    skipping hidden names; a pattern (``data/*.csv``, ``data/**/*.jsonl``) the files it
    matches; S3 objects and Mixpanel days are downloaded into ``cache_dir`` first (and
    reused on the next call). An empty match is a :class:`DataError`.

    Parameters
    ----------
    source:
        A path, folder, pattern, ``file://``, ``s3://`` or ``mixpanel://`` URL.
    cache_dir:
        Where remote files are kept; default :func:`default_cache_dir`.
    settings:
        S3 and Mixpanel settings; ``None`` loads ``leadscore.toml`` and the environment.

    Example
    -------
    >>> Path("raw").mkdir()
    >>> for day in ("2025-01-02", "2025-01-01"):
    ...     leads.head(2).to_csv(f"raw/{day}.csv", index=False)
    >>> resolve_files("raw/*.csv")
    [PosixPath('raw/2025-01-01.csv'), PosixPath('raw/2025-01-02.csv')]

    ``resolve_files("s3://leads/raw/*.jsonl.gz", cache_dir="cache")`` downloads the matching
    objects below ``cache/`` first and lists those copies.
    """
    return [path for path, _ in _resolve(source, cache_dir, settings)]


# --- reading -----------------------------------------------------------------------------------


def read_table(
    source: TableLike,
    *,
    settings: Settings | None = None,
    cache_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Read a lead table from a file, folder, pattern, S3, Mixpanel or a database.

    CSV: the delimiter (comma, semicolon, tab or pipe) is detected from the header line;
    UTF-8 is tried first, then Latin-1 (common in spreadsheet exports). JSON: one object
    per line (or a JSON array of objects); Mixpanel-style ``{"event", "properties"}``
    records are flattened. Several files are concatenated; CSV and Parquet files must
    share their columns, JSON records may differ (missing values become NA).

    Parameters
    ----------
    source:
        A DataFrame (returned as is) or any source listed in the module docstring.
    settings:
        S3 and Mixpanel settings; ``None`` loads ``leadscore.toml`` and the environment.
    cache_dir:
        Where S3 objects and Mixpanel days are downloaded; default
        :func:`default_cache_dir`.

    Example
    -------
    >>> leads.head(3).to_csv("leads.csv", sep=";", index=False)
    >>> read_table("leads.csv")[["lead_id", "source", "visits"]]
       lead_id  source  visits
    0  L000001  direct       3
    1  L000002   email       2
    2  L000003  direct       1

    Remote sources read the same way: ``read_table("s3://crm-exports/leads/2025/")``,
    ``read_table("postgresql://me@db/crm?table=sales.leads")``.
    """
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise DataError("the table is empty: it has no rows")
        return source
    if source_kind(source) == "sql":
        return _read_sql_source(str(source), settings)
    path = local_path(source) if source_kind(source) == "local" else None
    if path is not None and path.is_file():
        return read_file(path, str(path))
    files = _resolve(source, cache_dir, settings)
    if len(files) == 1 and source_kind(source) != "mixpanel":
        return read_file(*files[0])
    return read_files(files, _shown(source))


def _read_sql_source(source: str, settings: Settings | None) -> pd.DataFrame:
    from leadscore.data.sql import mask, read_sql, split_sql_source

    url, table, query = split_sql_source(source)
    frame = read_sql(url, table=table, query=query, settings=settings)
    if frame.shape[1] == 0 or frame.empty:
        what = f"table {table!r}" if table else "the query"
        raise DataError(f"{what} in {mask(url)} has no rows")
    return frame
