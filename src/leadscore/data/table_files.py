"""Lead tables in local files: find them, read them, write them.

A path is a file, a folder (every data file in it, recursively, hidden names skipped), a
glob pattern or a ``file://`` URL (:func:`local_files`). :func:`read_file` reads one
file, :func:`read_files` several into one DataFrame: CSV/TSV with the delimiter sniffed
from the header and UTF-8 or Latin-1 text, Parquet, JSON lines or a JSON array
(Mixpanel-style records flattened); text formats may be gzip-compressed.
:func:`write_table` writes CSV or Parquet by the file extension, never leaving a
half-written file. Every problem is a :class:`~leadscore.errors.DataError` naming the
file.
"""

from __future__ import annotations

import csv
import glob
import gzip
import json
import re
import urllib.parse
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO, Literal, TextIO

import pandas as pd

from leadscore.errors import DataError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
#: the files a folder (or an S3 prefix) contributes; text formats may be gzip-compressed
DATA_SUFFIXES: tuple[str, ...] = (
    ".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".json", ".ndjson",
    ".csv.gz", ".tsv.gz", ".jsonl.gz", ".json.gz", ".ndjson.gz",
)  # fmt: skip
_DELIMITERS = (",", ";", "\t", "|")
_GLOB_CHARS = re.compile(r"[*?\[]")
#: what the first bytes of files that are not text tables say they are
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx): save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97 workbook (.xls): save the sheet as CSV"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PAR1", "a Parquet file: give it a .parquet name"),
    (b"SQLite format 3", "an SQLite database: read a table of it as sqlite:///PATH?table=NAME"),
)
#: pandas' words for a row with more fields than the header
_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


# --- finding the files -------------------------------------------------------------------------


def local_path(source: str | Path) -> Path:
    """The path of a local source: ``file://`` URLs are turned into paths."""
    if isinstance(source, str) and source.lower().startswith("file://"):
        parts = urllib.parse.urlsplit(source)
        return Path(urllib.request.url2pathname(parts.netloc + parts.path))
    return Path(source)


def _is_data_file(path: Path) -> bool:
    return path.name.lower().endswith(DATA_SUFFIXES)


def local_files(source: str | Path) -> list[tuple[Path, str]]:
    """The files behind a local file, folder or pattern, each with the name to show."""
    path = local_path(source)
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


# --- telling the format ------------------------------------------------------------------------


def base_suffix(path: Path) -> str:
    """The extension that says the format, lower case, a trailing ``.gz`` looked through."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def file_format(path: Path) -> Literal["csv", "parquet", "json"]:
    """How to read ``path``, from its extension (a trailing ``.gz`` is looked through).

    Example
    -------
    >>> file_format(Path("events.jsonl.gz"))
    'json'
    """
    suffix = base_suffix(path)
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSON_SUFFIXES:
        return "json"
    return "csv"  # .csv, .tsv, .txt and anything unknown: the delimiter is sniffed


def sniff_delimiter(header_line: str) -> str:
    """Return the delimiter that splits ``header_line`` into the most fields (comma if none)."""
    counts = {delim: header_line.count(delim) for delim in _DELIMITERS}
    best = max(counts, key=lambda delim: counts[delim])
    return best if counts[best] > 0 else ","


def _is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


# --- reading -----------------------------------------------------------------------------------


def read_file(path: Path, label: str) -> pd.DataFrame:
    """Read one file that must hold rows; ``label`` names it in messages."""
    if path.stat().st_size == 0:
        raise DataError(f"file is empty: {label}")
    frame = _parse(path, label)
    if frame.shape[1] == 0 or frame.empty:
        if file_format(path) == "json":
            raise DataError(f"file has no records: {label}")
        raise DataError(f"file has a header but no rows: {label}")
    return frame


def read_files(files: list[tuple[Path, str]], source: str) -> pd.DataFrame:
    """Read ``(path, name to show)`` pairs as one table, concatenated.

    CSV and Parquet files must share their columns (in any order); JSON records may
    differ (missing values become NA), and an empty JSON file (an export of a day without
    events) is skipped. ``source`` names them all in messages.
    """
    frames: list[pd.DataFrame] = []
    tabular: tuple[list[str], str] | None = None  # the first CSV/Parquet file's columns
    for path, label in files:
        is_json = file_format(path) == "json"
        if path.stat().st_size == 0:
            if is_json:  # an export of a day without events
                continue
            raise DataError(f"file is empty: {label}")
        frame = _parse(path, label)
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


def _parse(path: Path, label: str) -> pd.DataFrame:
    kind = file_format(path)
    if kind == "parquet":
        if _is_gzip(path):
            raise DataError(f"cannot read {label}: Parquet is compressed inside; do not gzip it")
        return _read_parquet(path, label)
    try:
        return _read_json(path, label) if kind == "json" else _read_csv(path, label)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"cannot decompress {label} as gzip: {exc}") from None


def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types; all mean "not a readable parquet"
        raise DataError(f"cannot read {label} as Parquet: {exc}") from None


def _open_binary(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if _is_gzip(path) else path.open("rb")


def _open_text(path: Path, encoding: str, errors: str = "strict") -> TextIO:
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding=encoding, errors=errors, newline="")
    return path.open(encoding=encoding, errors=errors, newline="")


def binary_kind(head: bytes) -> str | None:
    """What the first bytes of a file say it is when it is not text (``None`` for text).

    Example
    -------
    >>> binary_kind(b"PK\\x03\\x04..."), binary_kind(b"lead_id,visits\\nL1,3\\n")
    ('a ZIP archive or an Excel workbook (.xlsx): save the sheet as CSV', None)
    """
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    # text has no NUL, and control characters but tab, line feed, carriage return are rare
    controls = sum(1 for byte in head if byte < 9 or 13 < byte < 32)
    if b"\x00" in head or (head and controls > 0.02 * len(head)):
        return "binary data"
    return None


def _csv_problem(exc: Exception) -> str:
    """A CSV parser error in words (pandas speaks of tokenizing and C errors)."""
    counted = _FIELD_COUNT.search(str(exc))
    if counted:
        expected, line, saw = counted.groups()
        return (
            f"line {line} has {saw} fields where the header has {expected} (a value holding "
            "the delimiter without quotes?)"
        )
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^Error tokenizing data\. C error: ", "", text)


def _read_csv(path: Path, label: str) -> pd.DataFrame:
    with _open_binary(path) as handle:
        what = binary_kind(handle.read(4096))
    if what is not None:
        raise DataError(f"cannot read {label} as a CSV table: it looks like {what}")
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
            raise DataError(f"cannot parse {label} as CSV: {_csv_problem(exc)}") from None
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
