"""Formatting helpers for what the output stage writes: rounded tables and plain JSON values."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["rounded", "to_jsonable"]


def rounded(table: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    """``table`` with every float column rounded (km to 1 decimal by default).

    Prices (``…_per_unit_removed``) keep one decimal more: they are often below 1.
    """
    out = table.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            more = str(c).endswith("_per_unit_removed")
            out[c] = out[c].round(decimals + more)
    return out


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays unwrapped, NaN and ±inf → ``None``.

    Parameters
    ----------
    value
        Anything; dicts, lists and tuples are converted recursively, pandas
        missing values become ``None`` and other objects are left for
        ``json.dumps(default=str)``.

    Returns
    -------
    object
        A value ``json.dumps(..., allow_nan=False)`` accepts (given ``default=str``).
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Path):
        return str(value)
    return value
