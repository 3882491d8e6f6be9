"""Copy any source (local files, S3, Mixpanel, a database) to one local file.

``leadscore ingest SOURCE --out FILE`` calls :func:`ingest`: it snapshots a remote or
scattered source into a single CSV, Parquet or JSONL file that the other commands (and
the events loader) read quickly and reproducibly.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from leadscore.data.sources import TableLike, read_table, resolve_files, source_kind
from leadscore.data.table_files import CSV_SUFFIXES, PARQUET_SUFFIXES, file_format, write_table
from leadscore.errors import DataError

if TYPE_CHECKING:
    from leadscore.config import Settings

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


def ingest(
    source: TableLike,
    out: str | Path,
    *,
    settings: Settings | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """Copy ``source`` to the local file ``out``; the format follows its extension.

    * ``.csv`` / ``.tsv`` / ``.parquet`` / ``.pq``: the source is read as a table with
      :func:`~leadscore.data.sources.read_table` (several files are concatenated; JSON
      event records — Mixpanel's included — are flattened, properties becoming columns).
    * ``.jsonl`` / ``.ndjson`` (optionally ``.gz``): JSON sources (raw event files, S3
      objects, Mixpanel days) are streamed line by line, each record flattened, without
      loading them into memory; a line that is not a JSON object is copied unchanged so
      that the events loader quarantines it instead of it being lost. Table sources are
      written one JSON object per row.

    The file appears only when complete (it is written under a temporary name first).

    Parameters
    ----------
    source:
        Anything :func:`~leadscore.data.sources.read_table` accepts: a path, folder or
        pattern, ``s3://…``, ``mixpanel://?from=…&to=…``, a database URL with ``?table=``
        or ``?query=``, or a DataFrame.
    out:
        The local file to write; parent folders are created.
    settings:
        S3 and Mixpanel settings; ``None`` loads ``leadscore.toml`` and the environment.
    cache_dir:
        Where S3 objects and Mixpanel days are downloaded first.

    Returns
    -------
    The path written.

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> _ = write_demo_events(Path("raw"), leads=50, new_leads=10)
    >>> ingest("raw/*.jsonl", "events.jsonl.gz")  # two event files streamed into one
    PosixPath('events.jsonl.gz')
    >>> for month, rows in (("01", leads.head(100)), ("02", leads.tail(200))):
    ...     rows.to_csv(f"leads-2026-{month}.csv", index=False)
    >>> ingest("leads-2026-*.csv", "leads.parquet")
    PosixPath('leads.parquet')
    >>> len(pd.read_parquet("leads.parquet"))
    300

    Remote sources are copied the same way, e.g.
    ``ingest("mixpanel://?from=2025-01-01&to=2025-01-31", "raw/events.parquet")`` or
    ``ingest("postgresql://me@db/crm?table=sales.leads", "leads.csv")``.
    """
    target = Path(out)
    name = target.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return _ingest_jsonl(source, target, settings, cache_dir)
    if target.suffix.lower() in CSV_SUFFIXES | PARQUET_SUFFIXES:
        frame = read_table(source, settings=settings, cache_dir=cache_dir)
        return write_table(frame, target)
    raise DataError(
        f"cannot tell the output format of {target}: use a .csv, .tsv, .parquet or .jsonl file name"
    )


def _ingest_jsonl(
    source: TableLike, target: Path, settings: Settings | None, cache_dir: str | Path | None
) -> Path:
    files = None
    if isinstance(source, str | Path) and source_kind(source) != "sql":
        files = resolve_files(source, cache_dir, settings=settings)
        if not all(file_format(path) == "json" for path in files):
            files = None  # CSV/Parquet among them: go through a table
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with _open_out(partial) as handle:
            if files is not None:
                _copy_json_lines(files, handle)
            else:
                frame = read_table(source, settings=settings, cache_dir=cache_dir)
                frame.to_json(handle, orient="records", lines=True, date_format="iso")
        partial.replace(target)
    except OSError as exc:
        raise DataError(f"cannot write {target}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def _open_out(path: Path) -> TextIO:
    if path.name.lower().endswith(".gz.partial"):
        return gzip.open(path, "wt", encoding="utf-8", newline="\n")
    return path.open("w", encoding="utf-8", newline="\n")


def _copy_json_lines(paths: list[Path], handle: TextIO) -> None:
    from leadscore.data.mixpanel import flatten_mixpanel_record, iter_mixpanel_lines

    for path in paths:
        for line in _json_items(path, iter_mixpanel_lines(path)):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                line = json.dumps(flatten_mixpanel_record(record), ensure_ascii=False)
            handle.write(line + "\n")


def _json_items(path: Path, lines: Iterator[tuple[int, str]]) -> Iterator[str]:
    """The JSON text of each record: the lines of JSONL, or the items of a JSON array."""
    first = next(lines, None)
    if first is None:
        return
    if not first[1].lstrip().startswith("["):
        yield first[1]
        yield from (line for _, line in lines)
        return
    text = "\n".join([first[1], *(line for _, line in lines)])
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise DataError(f"cannot parse {path} as JSON: {exc}") from None
    for item in items if isinstance(items, list) else [items]:
        yield json.dumps(item, ensure_ascii=False)
