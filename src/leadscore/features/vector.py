"""Run string work once per distinct value, not once per event.

Event columns hold a few thousand distinct strings repeated millions of times. These
helpers apply a vectorised function to the distinct values (the categories of a
categorical column, or the result of factorising) and spread the result back by code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

StringFunc = Callable[[pd.Series], object]


def codes_and_uniques(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer code per row (-1 where missing) and the distinct values as a string Series."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        uniques = pd.Series(values.cat.categories.astype(object), dtype="string")
        return codes, uniques
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
