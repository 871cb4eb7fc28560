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
from ..input.matrix import matrix_id, read_matrix

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
    row_ids = [matrix_id(i) for i in square.index]
    col_ids = [matrix_id(c) for c in square.columns]
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

    The file is parsed by :func:`clustering.input.matrix.read_matrix` (long
    ``from,to,minutes`` rows or a square table, UTF-8 or cp1252). Returns the
    costs for the centres found in the matrix, in the order of ``ids``
    restricted to those found, and the list of ids the matrix lacks (the
    caller excludes them with a reason). Every pair among the found centres
    must have a value.
    """
    read = read_matrix(path, ids, unit=unit)
    return Costs(read.values, read.unit, read.source), list(read.missing)
