"""Run string work once per distinct value, not once per event.

Event columns hold a few thousand distinct strings repeated millions of times. These
helpers apply a vectorised function to the distinct values (the categories of a
categorical column, or the result of factorising) and spread the result back by code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

StringFunc = Callable[[pd.Series], object]


def arrow_text(values: pd.Series) -> pa.Array:
    """Text values as an Arrow string array (missing → null), for Arrow's compiled string
    kernels: pandas' ``str.extract`` and ``str.contains`` call Python's ``re`` per value."""
    return pa.array(values.astype(object), pa.string(), from_pandas=True)


def extracted(text: pa.Array, pattern: str) -> pa.Array:
    r"""The one named group of ``pattern``'s first match in each value (null where none),
    as ``Series.str.extract(pattern, expand=False)`` gives it (RE2's syntax: ``(?P<name>…)``,
    flags as ``(?i)``).

    Example
    -------
    >>> extracted(pa.array(["a=1", "b", None]), r"a=(?P<digit>\d)").to_pylist()
    ['1', None, None]
    """
    return pc.struct_field(pc.extract_regex(text, pattern), [0])


def lowered(text: pa.Array) -> pa.Array:
    """``str.lower`` of each value: Arrow's for ASCII text, Python's for the rest (their
    Unicode rules differ: Python lowers ``İ`` to ``i̇``, two code points).

    Example
    -------
    >>> lowered(pa.array(["ABC", "İX", None])).to_pylist() == ["abc", "i̇x", None]
    True
    """
    low = pc.ascii_lower(text)
    other = pc.invert(pc.fill_null(pc.string_is_ascii(text), True))
    if not pc.any(other).as_py():
        return low
    found = [value.lower() for value in text.filter(other).to_pylist()]
    return pc.replace_with_mask(low, other, pa.array(found, pa.string()))


def as_series(values: pa.Array, index: pd.Index) -> pd.Series:
    """An Arrow string result as a Series of objects (None where missing)."""
    return pd.Series(values.to_numpy(zero_copy_only=False), index=index, dtype=object)


def text_positions(names: object, keys: pd.Index) -> np.ndarray:
    """Where each of ``names`` is among ``keys``, both as text (-1 where absent): hashed
    in Arrow, which takes a million ids in milliseconds where pandas 3's ``isin`` on text
    does not (it turns the keys into Arrow one value at a time).

    Example
    -------
    >>> text_positions(["b", "z", None], pd.Index(["a", "b"])).tolist()
    [1, -1, -1]
    """
    values = pa.array(np.asarray(names, dtype=object), pa.string(), from_pandas=True)
    wanted = pa.array(np.asarray(keys.astype(str), dtype=object), pa.string(), from_pandas=True)
    found = pc.index_in(values, value_set=wanted)
    return found.fill_null(-1).to_numpy().astype(np.int64)


def codes_and_uniques(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer code per row (-1 where missing) and the distinct values as a string Series."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        # astype, not a round trip through objects: Arrow-backed text stays in Arrow
        return codes, pd.Series(values.cat.categories.astype("string"))
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, pd.Series(pd.Index(uniques).astype(object), dtype="string")


def unique_map(values: pd.Series, func: StringFunc) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, func(distinct values))``: look a row's result up as ``mapped[codes]``."""
    codes, uniques = codes_and_uniques(values)
    return codes, np.asarray(func(uniques), dtype=object)


def by_unique(values: pd.Series, func: StringFunc) -> np.ndarray:
    """``func`` applied to every row, computed on distinct values only (None where missing)."""
    codes, mapped = unique_map(values, func)
    return np.append(mapped, [None])[codes]
