"""The streamed lead table's sink: rows handed to it as frames or as Arrow tables (as the
workers hand them back) make the same file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from leadscore.features.sink import TableSink


def _parts() -> list[tuple[pd.DataFrame, bool]]:
    first = pd.DataFrame(
        {"lead_id": pd.array(["a", "b"], dtype="str"), "events": [2.0, 5.0],
         "country": pd.array(["DE", None], dtype="str")}
    )  # fmt: skip
    # a bucket without a country at all, and one whose leads have no events
    second = pd.DataFrame(
        {"lead_id": pd.array(["c"], dtype="str"), "events": [1.0],
         "country": pd.array([None], dtype="str")}
    )  # fmt: skip
    waiting = pd.DataFrame({"lead_id": pd.array(["d"], dtype="str")})
    return [(waiting, False), (first, True), (second, True)]


def _write(out: Path, as_arrow: bool) -> None:
    sink = TableSink(out)
    for frame, complete in _parts():
        rows = pa.Table.from_pandas(frame, preserve_index=False) if as_arrow else frame
        sink.add(rows, complete=complete)
    sink.close()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_arrow_rows_write_the_table_frames_write(tmp_path: Path, suffix: str) -> None:
    from_frames, from_arrow = tmp_path / f"frames{suffix}", tmp_path / f"arrow{suffix}"
    _write(from_frames, as_arrow=False)
    _write(from_arrow, as_arrow=True)
    if suffix == ".csv":
        assert from_arrow.read_text() == from_frames.read_text()
        return
    import pyarrow.parquet as pq

    frames, arrow = pq.read_table(from_frames), pq.read_table(from_arrow)
    assert arrow.equals(frames)
    assert arrow.column_names == ["lead_id", "events", "country"]
    assert arrow.to_pydict() == {
        "lead_id": ["a", "b", "c", "d"],
        "events": [2.0, 5.0, 1.0, None],
        "country": ["DE", None, None, None],
    }


def test_an_arrow_column_of_another_type_is_cast_and_one_of_nulls_typed(tmp_path: Path) -> None:
    sink = TableSink(tmp_path / "out.parquet")
    sink.add(pa.table({"lead_id": ["a"], "events": [1.5], "country": ["FR"]}), complete=True)
    # ints where the table has floats, and a column of untyped nulls
    sink.add(pa.table({"lead_id": ["b"], "events": [3], "country": pa.nulls(1)}), complete=True)
    sink.close()
    written = pd.read_parquet(tmp_path / "out.parquet")
    assert written["events"].tolist() == [1.5, 3.0]
    assert written["country"].iloc[0] == "FR" and pd.isna(written["country"].iloc[1])
    assert np.issubdtype(written["events"].dtype, np.floating)
