"""Tests for column roles, typing and validation (leadscore.data: columns, roles,
input_schema, lead_table)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore.config import Roles, Settings
from leadscore.data.columns import normalise_name
from leadscore.data.input_schema import ColumnSpec, InputSchema
from leadscore.data.lead_table import prepare_table
from leadscore.data.roles import coerce_target, is_id_like
from leadscore.errors import DataError, SchemaError

UUIDS = [
    "7927b2df-8bba-4d29-b9a2-b6e0beafe620",
    "2a272436-5132-4136-86fa-dcc88c88f482",
    "8cc8c611-a219-4f35-ad23-fdfd2656bd8a",
    "0cc2df48-7cf4-4e39-9de9-19797f9b38cc",
    "3256f628-e534-4826-9d63-4a8b88782852",
    "2058ef08-2858-443e-a01f-a9aba6a9d2b2",
]


def _leads() -> pd.DataFrame:
    """A small export in the style of the Kaggle / PyCaret lead-scoring table."""
    return pd.DataFrame(
        {
            "Prospect ID": UUIDS,
            "Lead Number": [660737, 660728, 660727, 660719, 660681, 660680],
            "visits": [1, 2, 3, 4, 5, 6],
            "Lead Source": ["Google", "Select", "", "Direct", "Google", None],
            "Total Time": ["10", "20", " 30 ", "10", "", "20"],
            "created": [
                "2026-01-05",
                "2026-01-06T10:00:00",
                "2026-01-07 11:30",
                "2026-01-08",
                "2026-01-09",
                "2026-01-10",
            ],
            "Country": ["India"] * 6,
            "Specialization": ["Select", "", None, "Select", " ", None],
            "Converted": [1, 0, 1, 0, 0, 1],
        }
    )


@pytest.fixture
def table():
    return prepare_table(_leads())


# --- roles ---------------------------------------------------------------------------------


def test_target_and_id_are_inferred(table) -> None:
    assert table.roles.target == "Converted"
    assert table.roles.id == "Prospect ID"
    assert table.ids.tolist() == UUIDS
    assert table.y.tolist() == [1, 0, 1, 0, 0, 1]
    assert table.y.dtype.kind == "i"
    assert table.excluded["Converted"] == "target"
    assert table.excluded["Prospect ID"] == "lead id"
    assert "target column inferred: 'Converted'" in table.notes
    assert "id column inferred: 'Prospect ID'" in table.notes
    assert "Converted" not in table.features and "Prospect ID" not in table.features
    assert table.raw_columns == list(_leads().columns)


def test_integer_column_named_like_a_number_is_an_identifier(table) -> None:
    assert table.excluded["Lead Number"].startswith("identifier")
    assert "Lead Number" not in table.features


def test_unique_integer_count_is_not_an_identifier(table) -> None:
    assert "visits" in table.features
    assert "visits" not in table.excluded
    assert table.kinds["visits"] == "numeric"
    assert table.features["visits"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_constant_and_all_missing_columns_are_excluded_with_reasons(table) -> None:
    assert table.excluded["Country"] == "constant: a single value"
    # "Select", "" and " " are placeholders, so Specialization holds nothing at all
    assert table.excluded["Specialization"] == "all values missing"
    assert "Country" not in table.features and "Specialization" not in table.features


def test_kept_columns_survive_exclusion_rules() -> None:
    table = prepare_table(_leads(), Roles(keep=["Country"]))
    assert "Country" in table.features
    assert "Country" not in table.excluded


def test_explicit_roles_win_over_inference() -> None:
    frame = _leads().rename(columns={"Converted": "result"})
    table = prepare_table(frame, Roles(target="result", id="Lead Number", exclude=["visits"]))
    assert table.roles.target == "result"
    assert table.ids.tolist() == [str(v) for v in frame["Lead Number"]]
    assert table.excluded["visits"] == "excluded by you"
    assert table.excluded["Lead Number"] == "lead id"
    # Prospect ID is still unique text, so it is set apart as an identifier
    assert table.excluded["Prospect ID"].startswith("identifier")


def test_no_id_column_numbers_the_rows() -> None:
    frame = pd.DataFrame({"src": ["a", "b", "a"], "converted": ["yes", "no", "no"]})
    table = prepare_table(frame)
    assert table.roles.id is None
    assert table.ids.tolist() == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("Prospect ID", UUIDS, True),
        ("Lead Number", [10, 11, 12], True),
        ("customer_no", [10.0, 11.0, 12.0], True),
        ("visits", [10, 11, 12], False),
        ("time_on_site", [1.5, 2.5, 3.5], False),
        ("Prospect ID", ["a", "a", "b"], False),
        ("Lead Number", [10, None, 12], False),
    ],
)
def test_is_id_like(name: str, values: list, expected: bool) -> None:
    assert is_id_like(pd.Series(values, name=name)) is expected


def test_normalise_name() -> None:
    assert normalise_name("  Prospect ID ") == "prospect_id"
    assert normalise_name("How did you hear about X Education") == (
        "how_did_you_hear_about_x_education"
    )


# --- cleaning and types --------------------------------------------------------------------


def test_placeholders_become_missing(table) -> None:
    source = table.features["Lead Source"]
    assert table.kinds["Lead Source"] == "categorical"
    assert source.tolist()[0] == "Google" and source.tolist()[3:5] == ["Direct", "Google"]
    assert source.isna().tolist() == [False, True, True, False, False, True]


def test_numbers_stored_as_text_become_float(table) -> None:
    assert table.kinds["Total Time"] == "numeric"
    column = table.features["Total Time"]
    assert column.dtype == np.float64
    np.testing.assert_array_equal(column.to_numpy(), [10.0, 20.0, 30.0, 10.0, np.nan, 20.0])


def test_unique_numbers_stored_as_text_are_a_feature_not_an_identifier() -> None:
    # A numeric column that happens to be unique per row (a duration, an amount) is not an id
    # just because the export stored it as text; once typed it is a float like any other.
    frame = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d", "e", "f"],
            "time_on_site": ["12.5", "30", "7.25", "100", "45", "3"],
            "source": ["a", "b", "a", "b", "a", "b"],
            "converted": [1, 0, 1, 0, 1, 0],
        }
    )
    table = prepare_table(frame)
    assert table.roles.id == "lead_id"
    assert "time_on_site" not in table.excluded, table.excluded
    assert table.kinds["time_on_site"] == "numeric"
    assert table.features["time_on_site"].tolist() == [12.5, 30.0, 7.25, 100.0, 45.0, 3.0]


def test_iso_dates_become_datetimes_and_are_never_id_like(table) -> None:
    assert table.kinds["created"] == "datetime"
    created = table.features["created"]
    assert created.dtype == "datetime64[ns]"
    assert created.is_unique  # unique per row, yet kept as a feature
    assert created.iloc[1] == pd.Timestamp("2026-01-06 10:00")
    assert created.iloc[2] == pd.Timestamp("2026-01-07 11:30")
    assert any("'created' looks like the lead creation time" in n for n in table.notes)


def test_dates_stored_as_text_are_not_inferred_as_the_id() -> None:
    # Read from a CSV, a creation timestamp is text and unique per row; it is still a date.
    frame = pd.DataFrame(
        {
            "created": ["2026-01-05 10:00:01", "2026-01-05 10:02:13", "2026-01-06 08:00:00"],
            "source": ["a", "b", "a"],
            "converted": [1, 0, 0],
        }
    )
    table = prepare_table(frame)
    assert table.roles.id is None, table.roles
    assert "created" not in table.excluded, table.excluded
    assert table.kinds["created"] == "datetime"


def test_timezone_aware_dates_become_naive_utc() -> None:
    frame = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c"],
            "created": ["2026-01-05T10:00:00+02:00", "2026-01-05T10:00:00Z", "2026-01-06"],
            "source": ["a", "b", "a"],
            "converted": [1, 0, 0],
        }
    )
    created = prepare_table(frame).features["created"]
    assert created.tolist() == [
        pd.Timestamp("2026-01-05 08:00"),
        pd.Timestamp("2026-01-05 10:00"),
        pd.Timestamp("2026-01-06 00:00"),
    ]


def _mostly_numeric(n: int = 40) -> pd.DataFrame:
    visits = [str(i % 7) for i in range(n)]
    visits[3] = "abc"
    visits[11] = "lots"
    return pd.DataFrame(
        {
            "TotalVisits": visits,
            "source": ["a", "b"] * (n // 2),
            "converted": [0, 1] * (n // 2),
        }
    )


def test_garbage_in_numeric_column_raises_naming_column_value_and_row() -> None:
    with pytest.raises(SchemaError) as caught:
        prepare_table(_mostly_numeric())
    message = str(caught.value)
    assert "'TotalVisits'" in message
    assert "'abc'" in message and "'lots'" in message
    # data rows 3 and 11 (0-based) are lines 5 and 13 of the file
    assert re.search(r"rows 5, 13\b", message), message


def test_garbage_row_numbers_survive_dropped_unlabelled_rows() -> None:
    frame = _mostly_numeric()
    frame["converted"] = frame["converted"].astype(float)
    frame.loc[1, "converted"] = np.nan  # dropped before the columns are typed
    with pytest.raises(SchemaError) as caught:
        prepare_table(frame)
    assert re.search(r"rows 5, 13\b", str(caught.value)), str(caught.value)


def test_garbage_becomes_missing_on_request() -> None:
    table = prepare_table(_mostly_numeric(), settings=Settings(on_bad_number="missing"))
    column = table.features["TotalVisits"]
    assert table.kinds["TotalVisits"] == "numeric"
    assert column.dtype == np.float64
    assert column.isna().sum() == 2
    assert np.isnan(column.iloc[3]) and np.isnan(column.iloc[11])
    assert column.iloc[4] == 4.0
    note = next(n for n in table.notes if "TotalVisits" in n)
    assert "'abc'" in note and "treated as missing" in note


# --- the target ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [1, 0, 1, 0],
        [1.0, 0.0, 1.0, 0.0],
        ["1", "0", "1", "0"],
        ["Yes", "No", "yes", "NO"],
        [True, False, True, False],
        ["won", "lost", "Won", " LOST "],
        ["Closed Won", "Closed Lost", "closed won", "closed lost"],
    ],
    ids=["int", "float", "text-int", "yes-no", "bool", "won-lost", "crm-stage"],
)
def test_target_coercion(values: list) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "c": ["a", "b", "a", "b"], "Converted": values})
    table = prepare_table(frame)
    assert table.y.tolist() == [1, 0, 1, 0]


def test_coerce_target_keeps_missing() -> None:
    result = coerce_target(pd.Series(["Yes", "no", None, ""], name="c"), ["yes"], ["no"])
    np.testing.assert_array_equal(result, [1.0, 0.0, np.nan, np.nan])


def test_custom_labels_from_settings() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "Converted": ["Signed", "Ghosted", "Signed"]})
    settings = Settings(positive_labels=["signed"], negative_labels=["ghosted"])
    assert prepare_table(frame, settings=settings).y.tolist() == [1, 0, 1]


def test_unknown_target_values_are_listed() -> None:
    frame = pd.DataFrame(
        {"x": [1, 2, 3, 4, 5], "Converted": ["yes", "no", "maybe", "yes", "Perhaps"]}
    )
    with pytest.raises(SchemaError) as caught:
        prepare_table(frame)
    message = str(caught.value)
    assert "'Converted'" in message
    assert "'maybe'" in message and "'Perhaps'" in message
    assert "'yes'" not in message.split("Recognised")[0]
    assert re.search(r"rows 4, 6\b", message), message


def test_numeric_target_outside_zero_one_is_shown_plainly() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "Converted": [1, 0, 2, 0]})
    with pytest.raises(SchemaError) as caught:
        prepare_table(frame)
    message = str(caught.value)
    assert "'Converted'" in message
    assert "rows 4" in message
    # The value is shown as a user would write it, not as a numpy repr.
    assert "np.float64" not in message, message
    assert re.search(r"\b2(\.0)?\b", message)


@pytest.mark.parametrize(("values", "word"), [([1, 1, 1], "converted"), (["no"] * 3, "not")])
def test_one_class_target(values: list, word: str) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "Converted": values})
    with pytest.raises(SchemaError, match="one class only") as caught:
        prepare_table(frame)
    assert "'Converted'" in str(caught.value)
    assert f"are {word}" in str(caught.value)


def test_one_class_after_dropping_unlabelled_rows() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "Converted": ["yes", None, "yes"]})
    with pytest.raises(SchemaError, match="one class only"):
        prepare_table(frame)


def test_empty_target() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "Converted": [None, "", None]})
    with pytest.raises(SchemaError, match="empty"):
        prepare_table(frame)


def test_missing_target_column_suggests_close_match() -> None:
    with pytest.raises(SchemaError) as caught:
        prepare_table(_leads(), Roles(target="Convertd"))
    message = str(caught.value)
    assert "'Convertd'" in message
    assert "did you mean 'Converted'" in message


def test_no_target_found_by_name() -> None:
    frame = pd.DataFrame({"x": [1, 2], "outcome_code": [1, 0]})
    with pytest.raises(SchemaError, match="no target column"):
        prepare_table(frame)


def test_unlabelled_rows_are_dropped_with_a_note() -> None:
    frame = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d", "e"],
            "visits": [1.0, 2.0, 3.0, 4.0, 5.0],
            "Converted": ["yes", None, "no", "", "yes"],
        }
    )
    table = prepare_table(frame)
    assert table.n_rows == 3
    assert table.y.tolist() == [1, 0, 1]
    assert table.ids.tolist() == ["a", "c", "e"]
    assert table.features["visits"].tolist() == [1.0, 3.0, 5.0]
    assert table.features.index.tolist() == [0, 1, 2]
    assert any(n.startswith("2 rows have no outcome") for n in table.notes)


def test_scoring_table_without_target() -> None:
    frame = _leads().drop(columns="Converted")
    table = prepare_table(frame, require_target=False)
    assert table.y is None
    assert table.roles.target is None
    assert table.n_rows == 6
    with pytest.raises(DataError):
        _ = table.positive_rate


# --- table-level problems ------------------------------------------------------------------


def test_single_column_with_joined_header_mentions_the_delimiter() -> None:
    frame = pd.DataFrame({"a;b;c": ["1;2;3", "4;5;6"]})
    with pytest.raises(DataError, match="delimiter") as caught:
        prepare_table(frame)
    assert "'a;b;c'" in str(caught.value)


def test_single_column_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("visits\n1\n2\n")
    with pytest.raises(DataError, match="single column 'visits'"):
        prepare_table(path)


def test_duplicate_column_names() -> None:
    frame = pd.DataFrame([[1, 2, 1]], columns=["a", "a ", "converted"])
    with pytest.raises(SchemaError, match="duplicate column names: 'a'"):
        prepare_table(frame)


def test_no_usable_features() -> None:
    frame = pd.DataFrame({"Country": ["India"] * 3, "Converted": [1, 0, 1]})
    with pytest.raises(SchemaError, match="no usable feature columns"):
        prepare_table(frame)


def test_time_role_must_be_dates() -> None:
    with pytest.raises(SchemaError, match="time column 'visits'"):
        prepare_table(_leads(), Roles(time="visits"))
    table = prepare_table(_leads(), Roles(time="created"))
    assert table.time is not None
    assert table.time.iloc[0] == pd.Timestamp("2026-01-05")


# --- InputSchema ---------------------------------------------------------------------------


@pytest.fixture
def schema() -> InputSchema:
    train = pd.DataFrame(
        {
            "visits": [1.0, 2.0, np.nan, 2.0],
            "source": ["google", "email", None, "google"],
            "created": pd.to_datetime(["2026-01-01", "2026-01-02", None, "2026-01-03"]),
        }
    )
    return InputSchema.from_frame(train)


def test_from_frame_records_kinds_and_levels(schema: InputSchema) -> None:
    assert schema.names == ["visits", "source", "created"]
    assert schema.of_kind("numeric") == ["visits"]
    assert schema.of_kind("categorical") == ["source"]
    assert schema.of_kind("datetime") == ["created"]
    assert schema.columns[1].categories == ["google", "email"]  # most frequent first


def test_conform_types_orders_and_cleans(schema: InputSchema) -> None:
    new = pd.DataFrame(
        {
            "extra": [1, 2, 3],
            "created": ["2026-03-01", "", "2026-03-02T10:00:00Z"],
            "source": ["tiktok", "Select", " google "],
            "visits": ["3", "", "4.5"],
        },
        index=[10, 11, 12],
    )
    out = schema.conform(new)
    assert list(out.columns) == ["visits", "source", "created"]  # extra ignored, model order
    assert out.index.tolist() == [10, 11, 12]
    assert out["visits"].dtype == np.float64
    np.testing.assert_array_equal(out["visits"].to_numpy(), [3.0, np.nan, 4.5])
    assert out["source"].iloc[0] == "tiktok"  # unseen category kept
    assert pd.isna(out["source"].iloc[1])  # placeholder cleaned
    assert out["source"].iloc[2] == "google"  # whitespace stripped
    assert out["created"].dtype == "datetime64[ns]"
    assert out["created"].iloc[2] == pd.Timestamp("2026-03-02 10:00")
    assert pd.isna(out["created"].iloc[1])


def test_conform_categories_given_as_numbers_become_text(schema: InputSchema) -> None:
    new = pd.DataFrame({"visits": [1, 2], "source": [7, 8], "created": ["2026-01-01"] * 2})
    out = schema.conform(new)
    assert out["source"].tolist() == ["7", "8"]
    assert out["visits"].tolist() == [1.0, 2.0]


def test_conform_missing_column(schema: InputSchema) -> None:
    new = pd.DataFrame({"Visits": [1], "source": ["a"], "created": ["2026-01-01"]})
    with pytest.raises(SchemaError) as caught:
        schema.conform(new)
    message = str(caught.value)
    assert "'visits'" in message
    assert "did you mean 'Visits'" in message


def test_conform_names_every_missing_column(schema: InputSchema) -> None:
    with pytest.raises(SchemaError) as caught:
        schema.conform(pd.DataFrame({"other": [1]}))
    message = str(caught.value)
    assert all(f"'{c}'" in message for c in ("visits", "source", "created"))


def test_conform_text_in_numeric_column(schema: InputSchema) -> None:
    new = pd.DataFrame(
        {"visits": ["3", "lots", "4"], "source": ["a"] * 3, "created": ["2026-01-01"] * 3}
    )
    with pytest.raises(SchemaError) as caught:
        schema.conform(new)
    message = str(caught.value)
    assert "'visits'" in message and "'lots'" in message and "rows 3" in message


def test_conform_non_dates_in_date_column(schema: InputSchema) -> None:
    new = pd.DataFrame({"visits": [1, 2], "source": ["a", "b"], "created": ["2026-01-01", "soon"]})
    with pytest.raises(SchemaError) as caught:
        schema.conform(new)
    assert "'created'" in str(caught.value) and "'soon'" in str(caught.value)


def test_schema_dict_round_trip(schema: InputSchema) -> None:
    data = json.loads(json.dumps(schema.to_dict()))
    restored = InputSchema.from_dict(data)
    assert restored == schema
    assert restored.columns[1] == ColumnSpec("source", "categorical", ["google", "email"])
    assert restored.missing_values == schema.missing_values
    assert "Select" in restored.missing_values
    new = pd.DataFrame({"visits": ["2"], "source": ["Select"], "created": ["2026-01-01"]})
    pd.testing.assert_frame_equal(restored.conform(new), schema.conform(new))
