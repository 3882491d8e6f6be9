"""Read and write lead tables: local CSV and Parquet files.

One entry point, :func:`read_table`, takes a path (or an in-memory DataFrame, which is
passed through) and returns a DataFrame, or raises :class:`~leadscore.errors.DataError`
with a message that names the file and the problem.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from leadscore.errors import DataError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
_DELIMITERS = (",", ";", "\t", "|")

TableLike = str | Path | pd.DataFrame


def read_table(source: TableLike) -> pd.DataFrame:
    """Read a lead table from a CSV or Parquet file.

    The CSV delimiter (comma, semicolon, tab or pipe) is detected from the header line;
    UTF-8 is tried first, then Latin-1 (common in spreadsheet exports).

    Parameters
    ----------
    source:
        A path to a ``.csv``/``.tsv``/``.txt`` or ``.parquet`` file, or a DataFrame.

    Example
    -------
    >>> df = read_table("leads.csv")  # doctest: +SKIP
    """
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise DataError("the table is empty: it has no rows")
        return source
    path = Path(source)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a directory; give the path of a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"file is empty: {path}")
    suffix = path.suffix.lower()
    frame = _read_parquet(path) if suffix in PARQUET_SUFFIXES else _read_csv(path)
    if frame.shape[1] == 0 or frame.empty:
        raise DataError(f"file has a header but no rows: {path}")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types; all mean "not a readable parquet"
        raise DataError(f"cannot read {path} as Parquet: {exc}") from None


def sniff_delimiter(header_line: str) -> str:
    """Return the delimiter that splits ``header_line`` into the most fields (comma if none)."""
    counts = {delim: header_line.count(delim) for delim in _DELIMITERS}
    best = max(counts, key=lambda delim: counts[delim])
    return best if counts[best] > 0 else ","


def _read_csv(path: Path) -> pd.DataFrame:
    last_error: Exception | None = None
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with path.open(encoding=encoding, newline="") as handle:
                header = handle.readline()
            if not header.strip():
                raise DataError(f"file has no header line: {path}")
            delimiter = sniff_delimiter(header)
            return pd.read_csv(
                path,
                sep=delimiter,
                encoding=encoding,
                skipinitialspace=True,
                low_memory=False,
            )
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        except pd.errors.EmptyDataError:
            raise DataError(f"file is empty: {path}") from None
        except (pd.errors.ParserError, csv.Error) as exc:
            raise DataError(f"cannot parse {path} as CSV: {exc}") from None
    raise DataError(f"cannot decode {path} as UTF-8 or Latin-1 text: {last_error}")


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
