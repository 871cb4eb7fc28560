"""Formatting for what people read and files hold: rounded tables, numbers and lengths as
text, table cells, plain JSON values, and CSV files safe to open in a spreadsheet.

Used by the output stage and the command line. The stages below keep the few
they need themselves (they may not import from here): ``distance_scale`` and
the JSON-able summary in :mod:`clustering.analysis.metrics`, the prose numbers
of :mod:`clustering.analysis.explain`, and the TOML values of
:mod:`clustering.model.scenario`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..input.textfile import FORMULA_STARTS

__all__ = [
    "CSV_ENCODING",
    "FORMULA_STARTS",
    "cell_text",
    "csv_bytes",
    "decimals_needed",
    "flat_rows",
    "length_text",
    "number_text",
    "rounded",
    "safe_cells",
    "safe_text",
    "to_jsonable",
    "value_text",
    "write_csv",
]

#: CSV files are written as UTF-8 with a byte-order mark, so Excel shows accents intact;
#: every reader here (``clustering.input.textfile``, pandas) takes it with or without.
CSV_ENCODING = "utf-8-sig"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


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


def number_text(value: Any) -> str:
    """A summary-table cell: floats with thousands separators and 2 decimals, NaN as ``""``.

    >>> number_text(12345.678), number_text(float("nan")), number_text(7)
    ('12,345.68', '', '7')
    """
    if isinstance(value, float):
        return f"{value:,.2f}" if value == value else ""
    return str(value)


def length_text(km: float) -> str:
    """A length for a scale bar: km from 1 km up, metres below.

    >>> length_text(2.0), length_text(0.5)
    ('2 km', '500 m')
    """
    if km >= 1:
        return f"{km:g} km"
    return f"{km * 1000:g} m"


def value_text(value: Any) -> str:
    """A setting or statistic as text: 4 significant digits, ``—`` for none or non-finite.

    >>> value_text(0.123456), value_text(123456.7), value_text(None), value_text([1, 2.5])
    ('0.1235', '123,457', '—', '1, 2.5')
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value)
    return str(value)


def flat_rows(d: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as ``("versions.numpy", "2.1.0")`` rows, in insertion order.

    >>> flat_rows({"seed": 0, "versions": {"numpy": "2.1.0"}, "empty": {}})
    [('seed', '0'), ('versions.numpy', '2.1.0'), ('empty', '{}')]
    """
    rows: list[tuple[str, str]] = []
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flat_rows(value, name + "."))
        else:
            rows.append((name, value_text(value)))
    return rows


def decimals_needed(values: pd.Series) -> int:
    """The fewest decimal places (0–3) that show every value of a float column exactly.

    >>> decimals_needed(pd.Series([1.0, 2.5])), decimals_needed(pd.Series([1 / 3]))
    (1, 3)
    """
    known = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    for d in range(3):
        if np.allclose(known, np.round(known, d), rtol=0.0, atol=1e-9):
            return d
    return 3


def cell_text(value: Any, decimals: int = 3) -> tuple[str, bool]:
    """The text of a report table's cell and whether it is a number (right-aligned).

    >>> cell_text(True), cell_text(12345), cell_text(2.5, 1), cell_text(float("nan"))
    (('yes', False), ('12,345', True), ('2.5', True), ('', False))
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value), True
    if isinstance(value, float):
        return f"{value:.{decimals}f}", True
    return str(value), False


def safe_text(value: Any) -> Any:
    """``value`` with an apostrophe before it when it is text a spreadsheet would run.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    (:data:`FORMULA_STARTS`) gets a leading ``'``, which spreadsheets show as text and
    never evaluate. Anything else, and text that is a plain number (``"-1.5"``), is
    returned unchanged.

    >>> safe_text("=HYPERLINK(1)"), safe_text("-5 Lane"), safe_text("-1.5"), safe_text(-2)
    ("'=HYPERLINK(1)", "'-5 Lane", '-1.5', -2)
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _safe_column(column: pd.Series) -> pd.Series:
    dtype = column.dtype
    if (
        pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    ):
        return column  # numbers stay numbers: a negative distance is not a formula
    if isinstance(dtype, pd.CategoricalDtype):
        column = column.astype(object)
    return column.map(safe_text)


def safe_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names a spreadsheet will not run.

    Every text cell (and header) is passed through :func:`safe_text`; number, boolean
    and date columns are kept as they are, and so are numbers inside text columns.

    >>> safe_cells(pd.DataFrame({"name": ["=1+1", "Ash"], "km": [-1.5, 2.0]})).to_dict("list")
    {'name': ["'=1+1", 'Ash'], 'km': [-1.5, 2.0]}
    """
    if frame.shape[1] == 0:
        out = frame.copy()
    else:
        out = pd.concat([_safe_column(frame.iloc[:, i]) for i in range(frame.shape[1])], axis=1)
        out.index = frame.index
    out.columns = [safe_text(c) for c in frame.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as the bytes of a CSV file: :func:`safe_cells`, no index,
    :data:`CSV_ENCODING`. What :func:`write_csv` writes and the explorer offers."""
    return safe_cells(frame).to_csv(index=False).encode(CSV_ENCODING)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` as :func:`csv_bytes` does; returns the path.

    Every CSV file the package writes goes through here: text cells that would be
    formulas get a leading apostrophe (so the file holds ``'=…``, also when it is read
    back), numbers stay numbers, and the file has a UTF-8 byte-order mark.
    """
    path = Path(path)
    path.write_bytes(csv_bytes(frame))
    return path
