"""Writing the demo events to files: JSON Lines (with malformed lines), Parquet and CSV.

The event generator's tables are large (ten million events for a million leads), so they
are written column-wise with pyarrow, in chunks, never row by row in Python. JSON Lines can
carry a few malformed lines on purpose (:func:`messy_plan`: a line cut in half, an event
without ``lead_id``, an unreadable timestamp, exact duplicates), so that an event loader's
quarantine and de-duplication have something to find; dropping them gives back exactly the
generated events. Parquet gets plain string columns (dictionary-encoded in the file), and
CSV gets ISO 8601 times.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from leadscore.demo.table import EVENT_COLUMNS

__all__ = ["MESSY_KINDS", "messy_counts", "messy_plan", "write_csv", "write_jsonl", "write_parquet"]

MESSY_KINDS = ("broken_json", "missing_lead_id", "unreadable_timestamp", "duplicate_event")
_MESSY_SHARE = 0.001
_MESSY_MIN = 5
_JSONL_CHUNK = 500_000
_PARQUET_ROWS = 1_000_000


def messy_counts(events: int) -> dict[str, int]:
    """How many malformed lines of each kind go with ``events`` events (0.1 %, at least 5)."""
    total = max(_MESSY_MIN, round(_MESSY_SHARE * events))
    base, extra = divmod(total, len(MESSY_KINDS))
    return {kind: base + (i < extra) for i, kind in enumerate(MESSY_KINDS)}


def messy_plan(
    rng: np.random.Generator, events: int, counts: Mapping[str, int]
) -> dict[int, list[tuple[str, str]]]:
    """Row → malformed lines (kind, new event id) to write right after that row."""
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    rows = rng.choice(events, size=len(kinds), replace=len(kinds) > events)
    plan: dict[int, list[tuple[str, str]]] = {}
    for row, kind in zip(rows.tolist(), rng.permutation(kinds).tolist(), strict=True):
        new_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        plan.setdefault(row, []).append((kind, new_id))
    return plan


def _messy_line(line: str, kind: str, new_id: str) -> str:
    """The malformed line of ``kind`` made from a good JSON line."""
    if kind == "broken_json":
        return line[: len(line) // 2] + "\n"
    if kind == "duplicate_event":
        return line
    record = json.loads(line)
    record["event_id"] = new_id
    if kind == "missing_lead_id":
        del record["lead_id"]
    else:
        record["timestamp"] = "yesterday-ish"
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _json_fragments(name: str, values: Sequence[object]) -> pa.Array:
    """``"name":value`` for every category, then ``"name":null`` (code -1 → last)."""
    key = json.dumps(name)
    texts = [f"{key}:{json.dumps(v, ensure_ascii=False)}" for v in values]
    return pa.array([*texts, f"{key}:null"], type=pa.string())


def write_jsonl(
    events: pd.DataFrame, path: Path, plan: Mapping[int, list[tuple[str, str]]] | None
) -> None:
    """JSON Lines with the keys of :data:`EVENT_COLUMNS` in order, built column-wise with
    pyarrow (no per-row Python), plus the malformed lines of ``plan``."""
    lookups: dict[str, tuple[np.ndarray, pa.Array]] = {}
    for name in EVENT_COLUMNS[3:]:
        values = events[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()
            cats = list(values.cat.categories)
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            cats = [int(v) if float(v).is_integer() else float(v) for v in uniques]
        codes = np.where(codes < 0, len(cats), codes)
        lookups[name] = (codes, _json_fragments(name, cats))
    event_ids = _arrow_strings(events["event_id"])
    lead_ids = _arrow_strings(events["lead_id"])
    stamps = events["timestamp"].dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
    rows = sorted(plan) if plan else []
    with path.open("wb") as handle:
        for lo in range(0, len(events), _JSONL_CHUNK):
            hi = min(len(events), lo + _JSONL_CHUNK)
            pieces: list[object] = [
                '{"event_id":"', event_ids[lo:hi].cast(pa.string()), '","lead_id":"',
                lead_ids[lo:hi].cast(pa.string()), '","timestamp":"',
                pa.array(np.datetime_as_string(stamps[lo:hi], unit="ms")), 'Z"',
            ]  # fmt: skip
            for codes, fragments in lookups.values():
                pieces += [",", fragments.take(pa.array(codes[lo:hi]))]
            pieces.append("}\n")
            lines = pc.binary_join_element_wise(*pieces, "")
            if isinstance(lines, pa.ChunkedArray):
                lines = lines.combine_chunks()
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[: hi - lo + 1]
            data = memoryview(lines.buffers()[2])
            cursor = 0
            for row in rows[np.searchsorted(rows, lo) : np.searchsorted(rows, hi)]:
                end = int(offsets[row - lo + 1])
                handle.write(data[offsets[cursor] : end])
                cursor = row - lo + 1
                line = lines[row - lo].as_py()
                for kind, new_id in plan[row]:
                    handle.write(_messy_line(line, kind, new_id).encode("utf-8"))
            handle.write(data[offsets[cursor] : offsets[hi - lo]])


def write_parquet(events: pd.DataFrame, path: Path) -> None:
    """Parquet with plain string columns (dictionary-encoded in the file, zstd), written in
    row groups so that memory stays bounded: readers get ``str`` columns back, not
    categoricals with a million categories."""
    dictionaries = {
        name: pa.array(values.cat.categories, type=pa.string())
        for name, values in events.items()
        if isinstance(values.dtype, pd.CategoricalDtype)
    }
    types = {"timestamp": pa.timestamp("ns", tz="UTC"), "tz_offset_minutes": pa.float64()}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in events.columns])
    dictionary_columns = [name for name in events.columns if name != "event_id"]
    with pq.ParquetWriter(
        path, schema, compression="zstd", use_dictionary=dictionary_columns
    ) as writer:
        for lo in range(0, max(1, len(events)), _PARQUET_ROWS):
            chunk = events.iloc[lo : lo + _PARQUET_ROWS]
            columns = []
            for name, values in chunk.items():
                if name in dictionaries:
                    codes = values.cat.codes.to_numpy()
                    columns.append(dictionaries[name].take(pa.array(codes, mask=codes < 0)))
                elif isinstance(values.dtype, pd.DatetimeTZDtype):  # as UTC times, then zoned
                    utc = values.dt.tz_convert("UTC").dt.tz_localize(None)
                    times = pa.array(utc.to_numpy("datetime64[ns]"), from_pandas=True)
                    columns.append(times.cast(schema.field(name).type))
                else:
                    columns.append(pa.array(values, type=schema.field(name).type))
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


def _arrow_strings(values: pd.Series) -> pa.Array:
    """The strings of a column as one pyarrow array (large_string: no 2 GB limit)."""
    array = pa.array(values, type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with times as ISO 8601 text (UTC ones with ``Z``), written by pyarrow (fast)."""
    columns = {}
    for name, values in frame.items():
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            stamps = values.dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
            columns[name] = pa.array(np.datetime_as_string(stamps, unit="ms", timezone="UTC"))
        elif pd.api.types.is_datetime64_dtype(values.dtype):
            stamps = values.to_numpy().astype("datetime64[ms]")
            columns[name] = pa.array(np.datetime_as_string(stamps, unit="ms"))
        else:
            columns[name] = pa.array(values)
    pa_csv.write_csv(pa.table(columns), path)
