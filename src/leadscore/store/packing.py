"""Query results as NumPy columns, cheaply: what the monitoring reads of hundreds of
thousands of rows use (:mod:`leadscore.store.score_reads`).

A driver turns every value of every row into a Python object; on a period's hundreds of
thousands of rows that costs more than the query. On PostgreSQL :func:`packed_columns`
has the database pack each row into fixed-width binary (each value in its binary send
format) and the rows into one string, which NumPy reads as it is; on SQLite it reads the
rows. What the database does per row is what costs there, so the packing is lean: times
go in their own binary form (no conversion), every 7 flags of a row in one number, and
rows can be put in order by NumPy rather than sorted by the database (``sort_by``).

Example
-------
>>> from leadscore.store import NewScore
>>> from leadscore.store.tables import Score
>>> with store.scores.scoring(["L1", "L2"]) as writer:
...     _ = writer.add([NewScore("L2", "1", 0.7, 70, "hot", True, propensity=1.0),
...                     NewScore("L1", "1", 0.2, 20, "cold", False)])
>>> s = Score.__table__.c
>>> columns = {"score_100": (s.score_100, "int"), "propensity": (s.propensity, "float"),
...            "contact": (s.contact, "flag"), "id": (s.id, "int")}
>>> with store.db.engine.connect() as conn:
...     found = packed_columns(conn, columns, sort_by=["id"])
>>> found["score_100"].tolist(), found["propensity"].tolist(), found["contact"].tolist()
([70, 20], [1.0, nan], [1, 0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any, Literal

import numpy as np
from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    LargeBinary,
    SmallInteger,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

#: how a packed column travels: a float (NULL: NaN), a whole number, a stored time (read
#: as whole microseconds since the epoch, UTC; NULL for both: the smallest int64, which is
#: NumPy's NaT) or a flag (a boolean or small number, -1…254; NULL: -1)
Kind = Literal["float", "int", "time", "flag"]
MISSING_INT = -(2**63)
#: each kind's binary form as PostgreSQL sends it (big-endian; a time: microseconds since
#: 2000-01-01, its -infinity the smallest int64), and NumPy's type for it
_SEND = {"float": "float8send", "int": "int8send", "time": "timestamptz_send"}
_FORMAT = {"float": np.dtype(">f8"), "int": np.dtype(">i8"), "time": np.dtype(">i8")}
_NATIVE = {"float": np.float64, "int": np.int64, "time": np.int64, "flag": np.int16}
_POSTGRESQL_EPOCH_US = 946_684_800_000_000
#: flags packed into one int8 on PostgreSQL (a byte each, the top one left for the sign)
_LANES = 7


class epoch_us(FunctionElement[int]):
    """A stored time as whole microseconds since the epoch (UTC), on either database."""

    type = BigInteger()
    name = "epoch_us"
    inherit_cache = True


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    time = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(EPOCH FROM {time}) * 1000000 AS BIGINT)"  # numeric: exact


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # stored as naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (see tables.UTCDateTime)
    time = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', {time}) AS INTEGER) * 1000000"
        f" + CAST(substr({time}, 21, 6) AS INTEGER))"
    )


def packed_columns(
    conn: Connection,
    columns: Mapping[str, tuple[Any, Kind]],
    order_by: Sequence[Any] = (),
    sort_by: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """The ``columns`` (each an expression and its :data:`Kind`) of the rows their
    expressions select, as NumPy arrays (NULL as the kind says).

    Parameters
    ----------
    conn:
        An open connection (PostgreSQL or SQLite).
    columns:
        Name → (expression, kind); the expressions select from one source.
    order_by:
        Expressions the database orders the rows by.
    sort_by:
        Or names of int and time columns NumPy orders them by (first name first), which
        costs less than the database's sort. Either way, make the order total: ties come
        in no set order.
    """
    postgresql = conn.dialect.name == "postgresql"
    kinds = {name: kind for name, (_, kind) in columns.items()}
    named = {
        name: _or_missing(expr, kinds[name], postgresql) for name, (expr, _) in columns.items()
    }
    if not postgresql:
        labelled = (expr.label(f"c{i}") for i, expr in enumerate(named.values()))
        rows = conn.execute(select(*labelled).order_by(*order_by)).all()
        found = list(zip(*rows, strict=True)) if rows else [()] * len(named)
        out = {
            name: np.array(values, dtype=_NATIVE[kinds[name]])
            for name, values in zip(named, found, strict=True)
        }
    else:
        out = _unpacked(conn, named, kinds, order_by)
    if sort_by:
        order = np.lexsort([out[name] for name in reversed(sort_by)])
        out = {name: values[order] for name, values in out.items()}
    return out


def _unpacked(
    conn: Connection, named: dict[str, Any], kinds: dict[str, Kind], order_by: Sequence[Any]
) -> dict[str, np.ndarray]:
    """PostgreSQL's half of :func:`packed_columns`: one aggregate packs the rows, NumPy
    reads them."""
    flags = [name for name in named if kinds[name] == "flag"]
    groups = [flags[i : i + _LANES] for i in range(0, len(flags), _LANES)]
    # what each row sends, (name, expression, kind): its flags in words, then the others
    sent = [(f" word {i}", _word([named[n] for n in group]), "int")
            for i, group in enumerate(groups)]  # fmt: skip
    sent += [(name, named[name], kinds[name]) for name in named if kinds[name] != "flag"]
    record = reduce(
        lambda packed, part: packed.op("||")(part),
        [getattr(func, _SEND[kind])(expr) for _, expr, kind in sent],
    )
    separator: Any = literal_column("''::bytea")
    if order_by:
        separator = aggregate_order_by(separator, *order_by)
    packed = conn.execute(select(func.string_agg(record, separator, type_=LargeBinary))).scalar()
    table = np.frombuffer(packed or b"", dtype=[(name, _FORMAT[kind]) for name, _, kind in sent])
    out = {name: table[name].astype(_NATIVE[kind]) for name, _, kind in sent}
    for name, _, kind in sent:
        if kind == "time":  # from PostgreSQL's epoch (2000) to Unix's; -infinity: NaT
            times = out[name]
            out[name] = np.where(times == MISSING_INT, MISSING_INT, times + _POSTGRESQL_EPOCH_US)
    for i, group in enumerate(groups):
        word = out.pop(f" word {i}")
        out.update({n: ((word >> 8 * lane) & 255).astype(np.int16) - 1
                    for lane, n in enumerate(group)})  # fmt: skip
    return {name: out[name] for name in named}


def _word(flags: list[Any]) -> Any:
    """Flags (-1…254) as one int8: each value + 1 in a byte of its own."""
    lanes = ((cast(flag, BigInteger) + 1) * 256**lane for lane, flag in enumerate(flags))
    return sum(lanes, start=literal(0, BigInteger))


def _or_missing(expr: Any, kind: Kind, postgresql: bool) -> Any:
    """``expr`` with NULL replaced as its kind says (a float's NULL on SQLite comes as
    None, which NumPy reads as NaN)."""
    if kind == "float":
        return func.coalesce(expr, literal_column("'NaN'::float8")) if postgresql else expr
    if kind == "time" and postgresql:  # sent as it is stored
        return func.coalesce(expr, literal_column("'-infinity'::timestamptz"))
    if kind in ("int", "time"):
        value = epoch_us(expr) if kind == "time" else cast(expr, BigInteger)
        return func.coalesce(value, literal(MISSING_INT, BigInteger))
    # a boolean becomes a number by way of integer (PostgreSQL casts no boolean to smallint)
    return func.coalesce(cast(cast(expr, Integer), SmallInteger), literal(-1, SmallInteger))
