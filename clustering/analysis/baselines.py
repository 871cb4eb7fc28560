"""Baselines: the layouts people would otherwise use, measured like the engine's.

What the objective's weights bought is only visible beside the alternatives. Each
baseline is a ``venue_of`` array (for each centre the index of its venue, as
:func:`clustering.solver.construct.construct` returns) and is measured with the same cost
matrix and the same :class:`~clustering.model.objective.Objective` as the layout:

* **k-means with size bounds** (:func:`kmeans_constrained_venues`), the standard
  peer: the PyPI package ``k-means-constrained``;
* **existing districts** (:func:`district_venues`): e.g. the LA district of GIAS,
  the school district of Kentucky;
* **geography only**: the engine run with the travel weight alone, produced by
  the engine and passed in as just another ``venue_of``.

Every cluster of a baseline meets at its medoid: the member the other members
reach at the least total cost. :func:`compare` puts the layout and the baselines
in one table and :func:`contrast_price` says what each unit of deviation removed
cost in extra travel compared with the geography-only layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..model.costs import Costs
from ..model.objective import Objective
from .metrics import distance_scale

__all__ = [
    "GEOGRAPHY_ONLY",
    "NOT_AVAILABLE",
    "THIS_LAYOUT",
    "compare",
    "contrast_price",
    "district_venues",
    "evaluate",
    "part_columns",
]

#: The name of the layout's own row in :func:`compare`.
THIS_LAYOUT = "this layout"
#: The name of the baseline :func:`contrast_price` compares against.
GEOGRAPHY_ONLY = "geography only"
#: The note of a baseline that could not be formed.
NOT_AVAILABLE = "not available"
#: Suffix of the columns that hold a contrast deviation.
DEVIATION = "_deviation"
#: Columns of :func:`evaluate` that are not objective parts (``*`` is the unit).
_FIXED = ("baseline", "clusters", "smallest", "largest", "outside_size_bounds", "note")
_FIXED_PREFIXES = ("total_travel_", "mean_travel_", "max_travel_", "objective_")


def _matrix(costs: Costs | np.ndarray) -> np.ndarray:
    return costs.matrix if isinstance(costs, Costs) else np.asarray(costs, dtype=float)


def district_venues(
    frame: pd.DataFrame, column: str, costs: Costs | np.ndarray
) -> np.ndarray | None:
    """Existing districts as clusters, each meeting at its medoid.

    Parameters
    ----------
    frame
        The centres taking part, in the order of the cost matrix.
    column
        The district column (e.g. ``"district"``: the LA district of GIAS, the
        school district of Kentucky).
    costs
        The cost matrix (or :class:`~clustering.model.costs.Costs`).

    Returns
    -------
    numpy.ndarray or None
        ``venue_of``: one cluster per district, whatever its size (the sizes are
        reported, not enforced). A centre with no district joins the district
        whose venue it reaches at the least cost. ``None`` when the column is
        absent or has no value.
    """
    if column not in frame.columns or len(frame) == 0:
        return None
    values = frame[column].astype(object)
    text = values.where(values.notna(), "").astype(str).str.strip()
    known = (text != "").to_numpy()
    if not known.any():
        return None
    matrix = _matrix(costs)
    rows = np.flatnonzero(known)
    labels = pd.factorize(text.to_numpy()[rows])[0]
    venue_of = np.empty(len(frame), dtype=np.int64)
    # each district's medoid from its own block of the matrix (never the whole of it)
    for label in np.unique(labels):
        group = rows[labels == label]
        venue_of[group] = group[np.argmin(matrix[np.ix_(group, group)].sum(axis=0))]
    unknown = np.flatnonzero(~known)
    if len(unknown):
        venues = np.unique(venue_of[rows])
        venue_of[unknown] = venues[np.argmin(matrix[np.ix_(unknown, venues)], axis=1)]
    return venue_of


def _travel_columns(suffix: str) -> list[str]:
    return [f"total_travel_{suffix}", f"mean_travel_{suffix}", f"max_travel_{suffix}"]


def _part_column(part: str, objective: Objective) -> str:
    """``fsm_pct_deviation`` for a contrast term; other parts by their own name."""
    if part in {t.attribute for t in objective.terms}:
        return f"{part}{DEVIATION}"
    return "_".join(str(part).split())


def part_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a :func:`compare` table that hold objective parts besides travel."""
    return [c for c in table.columns if c not in _FIXED and not str(c).startswith(_FIXED_PREFIXES)]


def evaluate(
    name: str,
    venue_of: np.ndarray | None,
    costs: Costs | np.ndarray,
    objective: Objective,
    bounds: Any,
    unit: str,
) -> dict[str, Any]:
    """One row of the comparison: sizes, travel and every part of the objective.

    Parameters
    ----------
    name
        The row's name (``baseline``).
    venue_of
        For each centre the index of its venue; ``None`` gives a row that only
        says ``"not available"``.
    costs
        The cost matrix of the layout (or :class:`~clustering.model.costs.Costs`).
    objective
        The layout's objective: the same weights and contrast terms.
    bounds
        Anything with ``min_size`` and ``max_size`` (count bounds).
    unit
        ``"m"`` (reported in km) or the matrix unit.

    Returns
    -------
    dict
        ``baseline``, ``clusters``, ``smallest``, ``largest``,
        ``outside_size_bounds`` (clusters), ``total_travel_<s>``,
        ``mean_travel_<s>`` and ``max_travel_<s>`` (member → venue, the venue
        counting 0; ``<s>`` is ``km`` for metres, else the unit),
        every part of the objective besides travel (``<attribute>_deviation``
        for a contrast term, otherwise the part's name with ``_`` for spaces,
        e.g. ``members_moved``), ``objective_<s>`` (the weighted objective in
        the travel unit) and ``note``.

    Raises
    ------
    ValueError
        When ``venue_of`` is not a layout: a venue outside its own cluster, or
        a length that does not match the costs.
    """
    factor, suffix = distance_scale(unit)
    if venue_of is None:
        return {"baseline": name, "note": NOT_AVAILABLE}
    matrix = _matrix(costs)
    venue_of = np.asarray(venue_of, dtype=np.int64)
    n = len(venue_of)
    if matrix.shape != (n, n):
        raise ValueError(f"{name}: {n} centres but a {matrix.shape} cost matrix")
    if n and (venue_of.min() < 0 or venue_of.max() >= n or np.any(venue_of[venue_of] != venue_of)):
        raise ValueError(f"{name}: some venue is not a member of its own cluster")
    sizes = np.unique(venue_of, return_counts=True)[1]
    travel = matrix[np.arange(n), venue_of] * factor
    outside = int(np.sum((sizes < int(bounds.min_size)) | (sizes > int(bounds.max_size))))
    row: dict[str, Any] = {
        "baseline": name,
        "clusters": len(sizes),
        "smallest": int(sizes.min()) if n else 0,
        "largest": int(sizes.max()) if n else 0,
        "outside_size_bounds": outside,
    }
    total, mean, worst = _travel_columns(suffix)
    row[total] = float(travel.sum())
    row[mean] = float(travel.mean()) if n else math.nan
    row[worst] = float(travel.max()) if n else math.nan
    for part, value in objective.parts(matrix, venue_of).items():
        if part != "travel":
            row[_part_column(part, objective)] = float(value)
    row[f"objective_{suffix}"] = objective.cost(matrix, venue_of) * objective.travel_scale
    row["note"] = ""
    return row


def compare(
    layout_venue_of: np.ndarray,
    baselines: Mapping[str, np.ndarray | None],
    costs: Costs | np.ndarray,
    objective: Objective,
    bounds: Any,
    unit: str,
) -> pd.DataFrame:
    """The layout (first row, ``"this layout"``) beside each baseline, by :func:`evaluate`.

    ``baselines`` maps a name to a ``venue_of`` or ``None`` (shown as "not
    available"); name the travel-only run ``"geography only"`` for
    :func:`contrast_price`. Values are not rounded (see :func:`rounded`).
    """
    rows = [evaluate(THIS_LAYOUT, layout_venue_of, costs, objective, bounds, unit)]
    rows += [evaluate(k, v, costs, objective, bounds, unit) for k, v in baselines.items()]
    columns = list(rows[0])  # the layout's row has every column
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    table = pd.DataFrame(rows).reindex(columns=columns)
    table["note"] = table["note"].fillna("")
    for c in ("clusters", "smallest", "largest", "outside_size_bounds"):
        if c in table.columns:
            table[c] = table[c].astype("Int64")
    return table


def contrast_price(table: pd.DataFrame) -> pd.DataFrame:
    """Extra travel per unit of deviation removed: this layout versus geography only.

    For each objective part of a :func:`compare` table besides travel (each
    contrast deviation, and whatever other parts the objective has):
    ``(travel_layout − travel_geography) / (deviation_geography − deviation_layout)``,
    in km (or the matrix unit) per unit of the part. Blank (NaN) when the
    layout did not lower it. Empty when either row is missing or not available.

    Returns
    -------
    pandas.DataFrame
        One row per part: ``part`` (the attribute for a deviation),
        ``geography_only``, ``this_layout``, ``removed``, ``extra_travel_<s>``
        and ``<s>_per_unit_removed``.
    """
    total = next((c for c in table.columns if str(c).startswith("total_travel_")), None)
    suffix = total[len("total_travel_") :] if total else "km"
    columns = [
        "part",
        "geography_only",
        "this_layout",
        "removed",
        f"extra_travel_{suffix}",
        f"{suffix}_per_unit_removed",
    ]
    parts = part_columns(table)
    names = table["baseline"].tolist() if "baseline" in table.columns else []
    if total is None or THIS_LAYOUT not in names or GEOGRAPHY_ONLY not in names:
        return pd.DataFrame(columns=columns)
    mine = table.loc[table["baseline"] == THIS_LAYOUT].iloc[0]
    geo = table.loc[table["baseline"] == GEOGRAPHY_ONLY].iloc[0]
    if pd.isna(mine[total]) or pd.isna(geo[total]):
        return pd.DataFrame(columns=columns)
    extra = float(mine[total]) - float(geo[total])
    rows = []
    for part in parts:
        removed = float(geo[part]) - float(mine[part])
        price = extra / removed if removed > 1e-9 else math.nan
        name = part[: -len(DEVIATION)] if part.endswith(DEVIATION) else part
        rows.append([name, float(geo[part]), float(mine[part]), removed, extra, price])
    return pd.DataFrame(rows, columns=columns)
