"""Travel-time or distance matrix files: parsed here, turned into costs by the model.

Two layouts are accepted, as CSV (UTF-8 or cp1252, read by
:func:`~clustering.input.textfile.read_csv_text`):

* long: columns ``from``, ``to`` and a value column (``minutes``,
  ``seconds``, ``metres``/``meters``, ``km`` or ``cost``);
* square: the first column holds ids and the header row holds the same ids.

:func:`clustering.model.costs.read_cost_matrix` wraps :func:`read_matrix` into
the model's ``Costs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .textfile import read_csv_text

__all__ = ["MatrixFile", "matrix_id", "read_matrix"]

#: value column (lower-cased) → the unit it implies
UNITS = {
    "minutes": "min",
    "min": "min",
    "seconds": "s",
    "metres": "m",
    "meters": "m",
    "km": "km",
    "cost": "cost",
}


@dataclass(frozen=True)
class MatrixFile:
    """What a matrix file holds for a list of centre ids.

    Attributes
    ----------
    values
        ``(n, n)`` floats for the ``n`` ids found, in the order they were
        asked for; ``values[i, j]`` is member ``i`` → venue ``j``, with a zero
        diagonal.
    unit
        ``"min"``, ``"s"``, ``"m"``, ``"km"`` or ``"cost"`` (from the value
        column's name), or the unit the caller gave.
    source
        The file.
    missing
        The ids asked for that the matrix lacks.
    """

    values: np.ndarray
    unit: str
    source: str
    missing: tuple[str, ...] = ()


def read_matrix(path: str | Path, ids: list[str], *, unit: str | None = None) -> MatrixFile:
    """Read the matrix file ``path`` for the centres ``ids``.

    Every pair among the centres found must have a non-negative value; the
    errors name the file, row and column.
    """
    path = Path(path)
    frame = read_csv_text(path)
    cols = {c.strip().lower(): c for c in frame.columns}
    value_col = next((cols[c] for c in UNITS if c in cols), None)
    if "from" in cols and "to" in cols and value_col is not None:
        unit = unit or UNITS[value_col.strip().lower()]
        values, missing = _from_long(frame, cols["from"], cols["to"], value_col, ids, str(path))
    else:
        unit = unit or "cost"
        values, missing = _from_square(frame, ids, str(path))
    return MatrixFile(values, unit, str(path), tuple(missing))


def matrix_id(value: object) -> str:
    """An id as the loader writes it: '1000.0' (a spreadsheet's number) becomes '1000'."""
    text = str(value).strip()
    if "." in text:
        try:
            number = float(text)
        except ValueError:
            return text
        if number.is_integer():
            return str(int(number))
    return text


def _values(series: pd.Series, file: str, column: str, row_offset: int = 2) -> np.ndarray:
    values = pd.to_numeric(series.str.strip(), errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{series.iloc[i]!r} is not a non-negative number",
            file=file,
            row=i + row_offset,
            column=column,
            fix="every travel cost must be a number of zero or more",
        )
    return values.to_numpy(dtype=float)


def _from_long(frame, from_col, to_col, value_col, ids, file):
    values = _values(frame[value_col], file, value_col)
    frame = frame.assign(
        **{from_col: frame[from_col].map(matrix_id), to_col: frame[to_col].map(matrix_id)}
    )
    known = set(frame[from_col]) | set(frame[to_col])
    found = [i for i in ids if i in known]
    missing = [i for i in ids if i not in known]
    pos = {c: k for k, c in enumerate(found)}
    n = len(found)
    matrix = np.full((n, n), np.nan)
    np.fill_diagonal(matrix, 0.0)
    src = frame[from_col].map(pos)
    dst = frame[to_col].map(pos)
    keep = (src.notna() & dst.notna()).to_numpy()
    matrix[src[keep].astype(int), dst[keep].astype(int)] = values[keep]
    np.fill_diagonal(matrix, 0.0)  # a venue's own members include itself, at no cost
    _require_complete(matrix, found, file)
    return matrix, missing


def _from_square(frame, ids, file):
    id_col = frame.columns[0]
    row_ids = frame[id_col].map(matrix_id).tolist()
    col_ids = [matrix_id(c) for c in frame.columns[1:]]
    if sorted(row_ids) != sorted(col_ids):
        raise InputError(
            "the matrix is neither long (from,to,minutes) nor square "
            "(the first column's ids must match the header's ids)",
            file=file,
            fix="write one row per pair with columns from,to,minutes",
        )
    known = set(row_ids)
    found = [i for i in ids if i in known]
    missing = [i for i in ids if i not in known]
    body = frame.iloc[:, 1:]
    for col in body.columns:
        _values(body[col], file, str(col))
    full = body.apply(lambda s: pd.to_numeric(s.str.strip())).to_numpy(dtype=float)
    r = {c: k for k, c in enumerate(row_ids)}
    c = {c: k for k, c in enumerate(col_ids)}
    ri = [r[i] for i in found]
    ci = [c[i] for i in found]
    matrix = full[np.ix_(ri, ci)].copy()
    np.fill_diagonal(matrix, 0.0)  # a venue's own members include itself, at no cost
    return matrix, missing


def _require_complete(matrix: np.ndarray, ids: list[str], file: str) -> None:
    holes = np.argwhere(np.isnan(matrix))
    if len(holes):
        a, b = holes[0]
        raise InputError(
            f"no travel cost from {ids[a]!r} to {ids[b]!r} ({len(holes)} pairs missing in all)",
            file=file,
            fix="give a value for every ordered pair of centres",
        )
