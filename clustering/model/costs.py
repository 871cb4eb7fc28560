"""Travel costs between centres: straight-line metres, or a user's matrix.

``costs[i, j]`` is the cost for a member ``i`` to travel to a venue ``j``. A
user matrix may be asymmetric (travel times) and in any unit; its diagonal is
taken as zero (a venue does not travel to itself). Straight-line distances are
always in metres, computed from projected coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["Costs", "euclidean_costs", "matrix_costs", "read_cost_matrix"]


@dataclass(frozen=True)
class Costs:
    """A dense cost matrix with its unit.

    Attributes
    ----------
    matrix
        ``(n, n)`` float array; ``matrix[i, j]`` is member ``i`` → venue ``j``.
    unit
        ``"m"`` for metres, otherwise the user's unit (e.g. ``"min"``).
    source
        ``"euclidean"`` or the matrix file.
    """

    matrix: np.ndarray
    unit: str = "m"
    source: str = "euclidean"

    @property
    def n(self) -> int:
        return int(self.matrix.shape[0])

    def integer_scale(self) -> float:
        """The factor that turns costs into integers for CP-SAT and min-cost flow.

        Metres are kept to the metre; other units get four decimals, fewer
        (down to two) where that keeps the largest scaled cost below ten million.
        """
        if self.unit == "m":
            return 1.0
        top = float(np.max(self.matrix)) if self.matrix.size else 1.0
        scale = 10_000.0
        while scale > 100.0 and top * scale > 1e7:
            scale /= 10.0
        return scale


#: above this many centres, straight-line distances are computed when read
#: instead of held as an n × n array (3,000 centres: 72 MB)
DENSE_MAX = 3000


class StraightLines:
    """Straight-line metres between points, computed on demand.

    Indexes like a dense ``(n, n)`` array for what the engine reads: pairs
    (``m[rows, venues]``), blocks (``m[np.ix_(rows, cols)]``), single rows or
    columns. ``np.asarray(m)`` builds the whole array (explanations and
    baselines on very large inputs do that; the solver never does).
    """

    def __init__(self, xy: np.ndarray) -> None:
        self.xy = np.asarray(xy, dtype=float)
        n = len(self.xy)
        self.shape = (n, n)
        self.ndim = 2
        self.dtype = np.dtype(float)
        self.size = n * n

    def __len__(self) -> int:
        return self.shape[0]

    def _index(self, key, axis: int):
        if isinstance(key, slice):
            return np.arange(self.shape[axis])[key]
        return np.asarray(key)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key, slice(None))
        if len(key) != 2:
            raise IndexError("index with [rows, cols]")
        a, b = self._index(key[0], 0), self._index(key[1], 1)
        # a slice with a list reads a block, as numpy does
        sliced = isinstance(key[0], slice), isinstance(key[1], slice)
        if (sliced[0] and b.ndim == 1) or (sliced[1] and a.ndim == 1):
            a, b = a[:, None], b[None, :]
        pa, pb = self.xy[a], self.xy[b]
        return np.hypot(pa[..., 0] - pb[..., 0], pa[..., 1] - pb[..., 1])

    def __array__(self, dtype=None, copy=None):
        out = self[:, :]
        return out if dtype is None else out.astype(dtype)


def euclidean_costs(xy: np.ndarray) -> Costs:
    """Straight-line distances in metres between projected points ``xy`` (n × 2).

    Up to :data:`DENSE_MAX` centres the matrix is held; above, it is a
    :class:`StraightLines` that computes what is read.
    """
    xy = np.asarray(xy, dtype=float)
    if len(xy) > DENSE_MAX:
        return Costs(StraightLines(xy), "m", "euclidean")
    diff = xy[:, None, :] - xy[None, :, :]
    return Costs(np.sqrt((diff**2).sum(axis=2)), "m", "euclidean")


def matrix_costs(
    square: pd.DataFrame, ids: list[str], *, unit: str = "cost"
) -> tuple[Costs, list[str]]:
    """Costs from a square frame indexed (rows and columns) by centre id.

    The in-memory counterpart of :func:`read_cost_matrix` for researchers who
    already hold a matrix (e.g. from a routing engine or a benchmark file).
    Returns the costs for the ids found, in the order of ``ids``, and the ids
    the frame lacks.
    """
    row_ids = [_norm_id(i) for i in square.index]
    col_ids = [_norm_id(c) for c in square.columns]
    if sorted(row_ids) != sorted(col_ids) or len(set(row_ids)) != len(row_ids):
        raise InputError(
            "the matrix must be square with the same unique ids as its index and columns",
            file="distances",
            fix="pass a DataFrame whose index and columns are the centre ids",
        )
    values = square.to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any():
        a, b = np.argwhere(np.isnan(values) | (values < 0))[0]
        raise InputError(
            f"the cost from {row_ids[a]!r} to {col_ids[b]!r} is missing or negative",
            file="distances",
            fix="give a non-negative value for every ordered pair of centres",
        )
    r = {c: k for k, c in enumerate(row_ids)}
    c = {c: k for k, c in enumerate(col_ids)}
    found = [i for i in ids if i in r]
    missing = [i for i in ids if i not in r]
    matrix = values[np.ix_([r[i] for i in found], [c[i] for i in found])].copy()
    np.fill_diagonal(matrix, 0.0)
    return Costs(matrix, unit, "matrix"), missing


def read_cost_matrix(
    path: str | Path, ids: list[str], *, unit: str | None = None
) -> tuple[Costs, list[str]]:
    """Read a travel-time or distance matrix for the centres ``ids``.

    Two layouts are accepted, as CSV:

    * long: columns ``from``, ``to`` and a value column (``minutes``,
      ``seconds``, ``metres``/``meters``, ``km`` or ``cost``);
    * square: the first column holds ids and the header row holds the same ids.

    Returns the costs for the centres found in the matrix, in the order of
    ``ids`` restricted to those found, and the list of ids the matrix lacks
    (the caller excludes them with a reason). Every pair among the found
    centres must have a value.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path), fix="check the path")
    frame = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise InputError(
                f"cannot be read as a matrix: {exc}", file=str(path), fix="check the file"
            ) from exc
    if frame is None:
        raise InputError("neither UTF-8 nor cp1252 text", file=str(path), fix="save as UTF-8")
    cols = {c.strip().lower(): c for c in frame.columns}
    units = {
        "minutes": "min",
        "min": "min",
        "seconds": "s",
        "metres": "m",
        "meters": "m",
        "km": "km",
        "cost": "cost",
    }
    value_col = next((cols[c] for c in units if c in cols), None)
    if "from" in cols and "to" in cols and value_col is not None:
        unit = unit or units[value_col.strip().lower()]
        return _from_long(frame, cols["from"], cols["to"], value_col, ids, unit, str(path))
    return _from_square(frame, ids, unit or "cost", str(path))


def _norm_id(value: object) -> str:
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


def _from_long(frame, from_col, to_col, value_col, ids, unit, file):
    values = _values(frame[value_col], file, value_col)
    frame = frame.assign(
        **{from_col: frame[from_col].map(_norm_id), to_col: frame[to_col].map(_norm_id)}
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
    return Costs(matrix, unit, file), missing


def _from_square(frame, ids, unit, file):
    id_col = frame.columns[0]
    row_ids = frame[id_col].map(_norm_id).tolist()
    col_ids = [_norm_id(c) for c in frame.columns[1:]]
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
    return Costs(matrix, unit, file), missing


def _require_complete(matrix: np.ndarray, ids: list[str], file: str) -> None:
    holes = np.argwhere(np.isnan(matrix))
    if len(holes):
        a, b = holes[0]
        raise InputError(
            f"no travel cost from {ids[a]!r} to {ids[b]!r} ({len(holes)} pairs missing in all)",
            file=file,
            fix="give a value for every ordered pair of centres",
        )
