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
``$XDG_CACHE_HOME/leadscore``, else ``~/.cache/leadscore``).
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import json
import os
import re
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

import pandas as pd

from leadscore.errors import DataError

if TYPE_CHECKING:
    from leadscore.config import Settings

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
#: the files a folder (or an S3 prefix) contributes; text formats may be gzip-compressed
DATA_SUFFIXES: tuple[str, ...] = (
    ".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".json", ".ndjson",
    ".csv.gz", ".tsv.gz", ".jsonl.gz", ".json.gz", ".ndjson.gz",
)  # fmt: skip
_DELIMITERS = (",", ";", "\t", "|")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_GLOB_CHARS = re.compile(r"[*?\[]")
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
            f"unsupported source {source!r}: use a local path, s3://…, mixpanel://… or a "
            "database URL such as postgresql://user@host/db?table=leads"
        )
    return "sql"


def _local_path(source: str | Path) -> Path:
    if isinstance(source, str) and source.lower().startswith("file://"):
        parts = urllib.parse.urlsplit(source)
        return Path(urllib.request.url2pathname(parts.netloc + parts.path))
    return Path(source)


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
    params: dict[str, list[str]] = {}
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    unknown = set(params) - {"from", "to", "from_date", "to_date", "event"}
    if unknown:
        raise DataError(
            f"unknown parameter(s) {', '.join(sorted(unknown))} in {url}: "
            "use from, to and event (e.g. mixpanel://?from=2025-01-01&to=2025-01-31&event=A,B)"
        )
    start = (params.get("from") or params.get("from_date") or [""])[-1].strip()
    end = (params.get("to") or params.get("to_date") or [""])[-1].strip()
    if not start or not end:
        raise DataError(f"{url} needs a date range: mixpanel://?from=YYYY-MM-DD&to=YYYY-MM-DD")
    project: int | None = None
    if parts.netloc:
        if not parts.netloc.isdigit():
            raise DataError(f"{url}: the project id {parts.netloc!r} must be a number")
        project = int(parts.netloc)
    names = [name.strip() for value in params.get("event", []) for name in value.split(",")]
    events = tuple(name for name in names if name) or None
    return MixpanelSource(project, start, end, events)


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


# --- finding the files -------------------------------------------------------------------------


def _is_data_file(path: Path) -> bool:
    return path.name.lower().endswith(DATA_SUFFIXES)


def _local_files(source: str | Path) -> list[tuple[Path, str]]:
    path = _local_path(source)
    if path.is_file():
        return [(path, str(path))]
    if path.is_dir():
        files = sorted(
            candidate
            for candidate in path.rglob("*")
            # hidden names are caches, manifests and half-written downloads, not data
            if candidate.is_file()
            and _is_data_file(candidate)
            and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
        )
        if not files:
            raise DataError(
                f"no data files ({', '.join(DATA_SUFFIXES)}) in directory {path}; "
                "give the path of a CSV, Parquet or JSONL file or a folder holding some"
            )
        return [(file, str(file)) for file in files]
    if _GLOB_CHARS.search(str(path)):
        matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        files = [match for match in matches if match.is_file()]
        if not files:
            raise DataError(f"no files match {path}")
        return [(file, str(file)) for file in files]
    raise DataError(f"file not found: {path}")


def _s3_files(url: str, cache: Path, settings: Settings | None) -> list[tuple[Path, str]]:
    from leadscore.data.s3 import download_s3, parse_s3_url

    location = parse_s3_url(url)
    dest = cache / "s3" / location.bucket
    paths = download_s3(url, dest, _settings(settings).s3, suffixes=DATA_SUFFIXES, full_keys=True)
    return [(path, f"s3://{location.bucket}/{path.relative_to(dest).as_posix()}") for path in paths]


def _mixpanel_files(url: str, cache: Path, settings: Settings | None) -> list[tuple[Path, str]]:
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
    return [(path, f"{path} (from {url})") for path in paths]


def _resolve(
    source: str | Path, cache_dir: str | Path | None, settings: Settings | None
) -> list[tuple[Path, str]]:
    """The local files behind ``source``, each with the name to show in messages."""
    kind = source_kind(source)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if kind == "local":
        return _local_files(source)
    if kind == "s3":
        return _s3_files(str(source), cache, settings)
    if kind == "mixpanel":
        return _mixpanel_files(str(source), cache, settings)
    raise DataError(f"{_shown(source)} is a database table, not files: read it with read_table")


def _shown(source: str | Path) -> str:
    if source_kind(source) == "sql":
        from leadscore.data.sql import mask, split_sql_source

        return mask(split_sql_source(str(source))[0])
    return str(source)


def resolve_files(
    source: str | Path,
    cache_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
) -> list[Path]:
    """The local files to read for a local, S3 or Mixpanel source, sorted.

    A folder gives all its data files (``DATA_SUFFIXES``) recursively, skipping hidden
    names; a pattern (``data/*.csv``, ``data/**/*.jsonl``) the files it matches; S3
    objects and Mixpanel days are downloaded into ``cache_dir`` first (and reused on the
    next call). An empty match is a :class:`DataError`.

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
    >>> resolve_files("s3://leads/raw/*.jsonl.gz", cache_dir="cache")  # doctest: +SKIP
    [PosixPath('cache/s3/leads/raw/2025-01-01.jsonl.gz'), ...]
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
    >>> df = read_table("leads.csv")  # doctest: +SKIP
    >>> df = read_table("s3://crm-exports/leads/2025/")  # doctest: +SKIP
    >>> df = read_table("postgresql://me@db/crm?table=sales.leads")  # doctest: +SKIP
    """
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise DataError("the table is empty: it has no rows")
        return source
    if source_kind(source) == "sql":
        return _read_sql_source(str(source), settings)
    path = _local_path(source) if source_kind(source) == "local" else None
    if path is not None and path.is_file():
        return _read_single(path, str(path))
    files = _resolve(source, cache_dir, settings)
    if len(files) == 1 and source_kind(source) != "mixpanel":
        return _read_single(*files[0])
    return _read_many(files, str(source))


def _read_sql_source(source: str, settings: Settings | None) -> pd.DataFrame:
    from leadscore.data.sql import mask, read_sql, split_sql_source

    url, table, query = split_sql_source(source)
    frame = read_sql(url, table=table, query=query, settings=settings)
    if frame.shape[1] == 0 or frame.empty:
        what = f"table {table!r}" if table else "the query"
        raise DataError(f"{what} in {mask(url)} has no rows")
    return frame


def _read_single(path: Path, label: str) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"file is empty: {label}")
    frame = _read_file(path, label)
    if frame.shape[1] == 0 or frame.empty:
        if file_format(path) == "json":
            raise DataError(f"file has no records: {label}")
        raise DataError(f"file has a header but no rows: {label}")
    return frame


def _read_many(files: list[tuple[Path, str]], source: str) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    tabular: tuple[list[str], str] | None = None  # the first CSV/Parquet file's columns
    for path, label in files:
        is_json = file_format(path) == "json"
        if path.stat().st_size == 0:
            if is_json:  # an export of a day without events
                continue
            raise DataError(f"file is empty: {label}")
        frame = _read_file(path, label)
        if not is_json:
            if tabular is None:
                tabular = (list(frame.columns), label)
            else:
                frame = _same_columns(frame, label, *tabular, source)
        if frame.shape[1] > 0 and not frame.empty:
            frames.append(frame)
    if not frames:
        raise DataError(f"no rows in any of the {len(files)} files of {source}")
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True, sort=False)


def _same_columns(
    frame: pd.DataFrame, label: str, columns: list[str], first: str, source: str
) -> pd.DataFrame:
    if set(frame.columns) == set(columns) and len(frame.columns) == len(columns):
        return frame[columns]  # same columns, maybe in another order
    missing = [c for c in columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in columns]
    raise DataError(
        f"{label} does not have the columns of {first} (missing: {missing or 'none'}; "
        f"extra: {extra or 'none'}); the files of {source} must share their columns"
    )


def file_format(path: Path) -> Literal["csv", "parquet", "json"]:
    """How to read ``path``, from its extension (a trailing ``.gz`` is looked through).

    Example
    -------
    >>> file_format(Path("events.jsonl.gz"))
    'json'
    """
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSON_SUFFIXES:
        return "json"
    return "csv"  # .csv, .tsv, .txt and anything unknown: the delimiter is sniffed


def _is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _read_file(path: Path, label: str) -> pd.DataFrame:
    kind = file_format(path)
    if kind == "parquet":
        if _is_gzip(path):
            raise DataError(f"cannot read {label}: Parquet is compressed inside; do not gzip it")
        return _read_parquet(path, label)
    try:
        return _read_json(path, label) if kind == "json" else _read_csv(path, label)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"cannot decompress {label} as gzip: {exc}") from None


def _read_parquet(path: Path, label: str | None = None) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types; all mean "not a readable parquet"
        raise DataError(f"cannot read {label or path} as Parquet: {exc}") from None


def sniff_delimiter(header_line: str) -> str:
    """Return the delimiter that splits ``header_line`` into the most fields (comma if none)."""
    counts = {delim: header_line.count(delim) for delim in _DELIMITERS}
    best = max(counts, key=lambda delim: counts[delim])
    return best if counts[best] > 0 else ","


def _open_text(path: Path, encoding: str, errors: str = "strict") -> TextIO:
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding=encoding, errors=errors, newline="")
    return path.open(encoding=encoding, errors=errors, newline="")


def _read_csv(path: Path, label: str | None = None) -> pd.DataFrame:
    label = label or str(path)
    last_error: Exception | None = None
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with _open_text(path, encoding) as handle:
                header = handle.readline()
            if not header.strip():
                raise DataError(f"file has no header line: {label}")
            delimiter = sniff_delimiter(header)
            return pd.read_csv(
                path,
                sep=delimiter,
                encoding=encoding,
                skipinitialspace=True,
                low_memory=False,
                compression="infer",  # .gz (and .zip, .bz2 …) by extension
            )
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        except pd.errors.EmptyDataError:
            raise DataError(f"file is empty: {label}") from None
        except (pd.errors.ParserError, csv.Error) as exc:
            raise DataError(f"cannot parse {label} as CSV: {exc}") from None
    raise DataError(f"cannot decode {label} as UTF-8 or Latin-1 text: {last_error}")


def _read_json(path: Path, label: str) -> pd.DataFrame:
    from leadscore.data.mixpanel import flatten_mixpanel_record

    with _open_text(path, "utf-8-sig", errors="replace") as handle:
        text = handle.read()
    if text.lstrip().startswith("["):  # a JSON array of objects rather than JSON lines
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise DataError(f"cannot parse {label} as JSON: {exc}") from None
        numbered = list(enumerate(items, start=1))
        where = "item"
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except ValueError as exc:
                raise DataError(f"line {number} of {label} is not valid JSON: {exc}") from None
        where = "line"
    records = []
    for number, item in numbered:
        if not isinstance(item, dict):
            raise DataError(f"{where} {number} of {label} is not a JSON object")
        records.append(flatten_mixpanel_record(item))
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


# --- writing -----------------------------------------------------------------------------------


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV or Parquet, chosen by the file extension; create parent folders."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise DataError(f"cannot tell the output format of {out}: use a .csv or .parquet file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    # Write to a temporary name first so a crash never leaves a half-written output file.
    try:
        if suffix in PARQUET_SUFFIXES:
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, sep="\t" if suffix == ".tsv" else ",")
    except (ValueError, TypeError, OSError) as exc:  # pyarrow's errors subclass these
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write {out}: {exc}") from None
    tmp.replace(out)
    return out
