"""Figures that describe a layout: one row per cluster, and a few headline numbers.

Distances are reported in kilometres when the layout's unit is metres
(``unit == "m"``); otherwise in the unit of the user's matrix (e.g. minutes),
and the column names say which (``mean_to_venue_km`` or ``mean_to_venue_min``).
Straight-line sizes (``diameter_km``) always come from the geometry, which is
in a metric CRS.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from ..input.schemas import NUMERIC_ATTRIBUTES
from ..model.layout import Layout
from ..model.objective import Weights, build_objective, theme_values

__all__ = [
    "CONTRAST_REPORTED",
    "MIX_ATTRIBUTES",
    "cluster_summary",
    "contrast_summary",
    "distance_scale",
    "overall_summary",
]

#: Categorical attributes whose mix is shown per cluster, in this order.
MIX_ATTRIBUTES = ("phase", "urban_rural", "religious_character", "type")

_PREFIX = re.compile(r"^\((?:England/Wales|England|Wales)\)\s*")
_UNKNOWN = "unknown"
_DP = 3  # distances are rounded to metres when in km


def distance_scale(unit: str) -> tuple[float, str]:
    """How to show member → venue costs measured in ``unit``.

    Parameters
    ----------
    unit
        ``Layout.unit``: ``"m"`` or the unit of a user matrix.

    Returns
    -------
    tuple of (float, str)
        The factor to multiply costs by and the suffix used in column names:
        ``(0.001, "km")`` for metres, otherwise ``(1.0, unit)`` with anything
        that is not a letter or digit replaced by ``_``.

    Examples
    --------
    >>> distance_scale("m")
    (0.001, 'km')
    >>> distance_scale("min")
    (1.0, 'min')
    """
    if unit == "m":
        return 0.001, "km"
    suffix = re.sub(r"[^0-9A-Za-z]+", "_", str(unit)).strip("_") or "cost"
    return 1.0, suffix


def _diameter_km(xy: np.ndarray) -> float:
    """Largest straight-line distance between two of the points, in km."""
    if len(xy) < 2:
        return 0.0
    if len(xy) > 200:  # the farthest pair lies on the convex hull
        from shapely import MultiPoint

        hull = MultiPoint(xy).convex_hull
        coords = np.asarray(getattr(hull, "exterior", hull).coords)
        xy = coords if len(coords) >= 2 else xy[:2]
    diff = xy[:, None, :] - xy[None, :, :]
    return float(np.sqrt((diff**2).sum(axis=2).max())) / 1000.0


def _number_text(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimal places."""
    return f"{value:.{decimals}f}"


def _mix_text(values: pd.Series) -> str:
    """``"Urban city and town 7, Rural village 3"``: most frequent first."""
    labels = values.map(lambda v: _PREFIX.sub("", str(v)) if pd.notna(v) else _UNKNOWN)
    counts = labels.value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{label} {count}" for label, count in ordered)


def _mix_attributes(centres: pd.DataFrame) -> list[str]:
    """Categorical attributes worth a mix column: present with ≥ 2 distinct values."""
    out = []
    for attr in MIX_ATTRIBUTES:
        if attr not in centres.columns:
            continue
        col = centres[attr]
        if col.notna().any() and col.nunique(dropna=False) >= 2:
            out.append(attr)
    return out


def _numeric_attributes(centres: pd.DataFrame) -> list[str]:
    out = []
    for attr in NUMERIC_ATTRIBUTES:
        if attr in centres.columns:
            values = pd.to_numeric(centres[attr], errors="coerce")
            if values.notna().any():
                out.append(attr)
    return out


def cluster_summary(layout: Layout) -> pd.DataFrame:
    """One row per cluster: venue, size, travel to the venue, spread and mix.

    Parameters
    ----------
    layout
        The layout to describe.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``cluster``, with columns

        - ``cluster``, ``venue_id``, ``venue_name``, ``size``;
        - ``pupils``: the sum, only when the centres have a ``pupils`` column;
        - ``mean_to_venue_km`` and ``max_to_venue_km`` (member → venue, the
          venue counting as 0), or ``…_<unit>`` when the unit is not metres;
        - ``diameter_km``: the largest straight-line distance between two members;
        - for each numeric attribute with any value: ``<attr>_mean`` (1 dp) and
          ``<attr>_range`` as text ``"min–max"`` (whole numbers when the attribute
          only has whole numbers, otherwise 1 dp; empty when the cluster has no value);
        - for ``phase``, ``urban_rural``, ``religious_character`` and ``type``
          when present with at least two distinct values overall: ``<attr>_mix``,
          e.g. ``"Urban city and town 7, Rural village 3"``;
        - contrast, for attributes with a contrast weight and those in
          :data:`CONTRAST_REPORTED`: ``<attr>_off_area_mean`` (numeric: how far
          the cluster's mean is from the area's) or ``<attr>_out_of_mix``
          (categorical: schools that would have to change category for the
          cluster to mirror the area).
    """
    centres = layout.centres
    factor, suffix = distance_scale(layout.unit)
    frame = pd.DataFrame(
        {
            "cluster": centres["cluster"].astype(np.int64).to_numpy(),
            "x": centres.geometry.x.to_numpy(),
            "y": centres.geometry.y.to_numpy(),
            "distance": pd.to_numeric(centres["distance"], errors="coerce").to_numpy(),
        }
    )
    groups = frame.groupby("cluster", sort=True)
    clusters = np.array(sorted(groups.groups), dtype=np.int64)

    venues = centres.loc[centres["is_venue"].astype(bool), ["cluster", "centre_id", "name"]]
    venues = venues.drop_duplicates("cluster").set_index("cluster")
    venue_index = venues.reindex(clusters)

    out = pd.DataFrame({"cluster": clusters})
    out["venue_id"] = venue_index["centre_id"].to_numpy()
    out["venue_name"] = venue_index["name"].to_numpy()
    out["size"] = groups.size().reindex(clusters).to_numpy().astype(np.int64)
    if "coordinator" in centres.columns:
        lead = centres.loc[centres["coordinator"].astype(bool), ["cluster", "centre_id", "name"]]
        lead = lead.drop_duplicates("cluster").set_index("cluster").reindex(clusters)
        out["coordinator_id"] = lead["centre_id"].to_numpy()
        out["coordinator_name"] = lead["name"].to_numpy()

    if "pupils" in centres.columns:
        pupils = pd.Series(pd.to_numeric(centres["pupils"], errors="coerce").to_numpy())
        sums = pupils.groupby(frame["cluster"]).sum(min_count=0).reindex(clusters)
        sums = sums.fillna(0.0).to_numpy()
        out["pupils"] = sums.round().astype(np.int64) if np.allclose(sums, sums.round()) else sums

    dist = groups["distance"]
    out[f"mean_to_venue_{suffix}"] = (dist.mean().reindex(clusters) * factor).round(_DP).to_numpy()
    out[f"max_to_venue_{suffix}"] = (dist.max().reindex(clusters) * factor).round(_DP).to_numpy()

    xy = frame[["x", "y"]].to_numpy()
    positions = groups.indices
    out["diameter_km"] = [round(_diameter_km(xy[positions[k]]), _DP) for k in clusters]

    for attr in _numeric_attributes(centres):
        values = pd.Series(pd.to_numeric(centres[attr], errors="coerce").to_numpy())
        by = values.groupby(frame["cluster"])
        lo = by.min().reindex(clusters)
        hi = by.max().reindex(clusters)
        known = values.dropna().to_numpy()
        decimals = 0 if np.allclose(known, np.round(known)) else 1
        out[f"{attr}_mean"] = by.mean().reindex(clusters).round(1).to_numpy()
        out[f"{attr}_range"] = [
            f"{_number_text(a, decimals)}–{_number_text(b, decimals)}" if pd.notna(a) else ""
            for a, b in zip(lo.to_numpy(), hi.to_numpy(), strict=True)
        ]

    for attr in _mix_attributes(centres):
        values = pd.Series(centres[attr].to_numpy(dtype=object))
        texts = {k: _mix_text(values.iloc[positions[k]]) for k in clusters}
        out[f"{attr}_mix"] = [texts[k] for k in clusters]

    for attr in layout.params.get("weights", {}).get("themes", {}):
        if attr in centres.columns:  # the themes each cluster holds, most shared first
            cells = theme_values(centres[attr])
            texts = {}
            for k in clusters:
                held = pd.Series([t for i in positions[k] for t in cells[i]], dtype=object)
                texts[k] = _mix_text(held) if len(held) else ""
            out[f"{attr}_themes"] = [texts[k] for k in clusters]

    labels = np.searchsorted(clusters, frame["cluster"].to_numpy())
    for term in _contrast_terms(layout):
        deviation = term.deviation(labels)
        if term.kind == "numeric":  # how far the cluster's mean is from the area's
            out[f"{term.attribute}_off_area_mean"] = (deviation / out["size"]).round(2)
        else:  # schools that would have to change category to mirror the area
            out[f"{term.attribute}_out_of_mix"] = deviation.round(2)
    return out


#: Attributes whose contrast is always reported when present, weighted or not.
CONTRAST_REPORTED = ("fsm_pct", "frl_pct", "imd_decile", "ethnic_diversity", "urban_rural")


def _contrast_terms(layout: Layout):
    weighted = dict(layout.params.get("weights", {}).get("contrast", {}))
    centres = layout.centres
    names = list(weighted) + [a for a in CONTRAST_REPORTED if a not in weighted]
    present = [a for a in names if a in centres.columns and centres[a].notna().any()]
    if not present:
        return []
    weights = Weights(1.0, {a: weighted.get(a, 0.0) for a in present})
    return list(build_objective(centres, weights, unit=layout.unit).contrast)


def contrast_summary(layout: Layout) -> pd.DataFrame:
    """How mixed the clusters are, per attribute, in the units of the objective.

    One row per attribute: ``weight`` (0 when the layout did not optimise it),
    ``deviation`` (numeric: Σ clusters size × |cluster mean − area mean|, in
    school × attribute units; categorical: schools out of the area's mix) and
    ``per_centre`` (the deviation divided by the number of centres).
    """
    rows = []
    n = max(len(layout.centres), 1)
    labels = np.unique(layout.centres["cluster"].to_numpy(), return_inverse=True)[1]
    for term in _contrast_terms(layout):
        total = float(term.deviation(labels).sum())
        rows.append(
            {
                "attribute": term.attribute,
                "kind": term.kind,
                "weight": term.weight,
                "deviation": round(total, 2),
                "per_centre": round(total / n, 3),
            }
        )
    return pd.DataFrame(rows, columns=["attribute", "kind", "weight", "deviation", "per_centre"])


def _clean(value: Any) -> Any:
    """Plain Python numbers (NaN → ``None``) so the result is JSON-able."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def overall_summary(layout: Layout) -> dict[str, Any]:
    """Headline figures for a layout.

    Parameters
    ----------
    layout
        The layout to describe.

    Returns
    -------
    dict
        JSON-able, with keys

        - ``n_centres`` (taking part), ``n_excluded``, ``n_input`` (both),
          ``n_clusters``;
        - ``size_min``, ``size_mean``, ``size_max``: members per cluster;
        - ``total_to_venue_<s>``, ``mean_to_venue_<s>``, ``max_to_venue_<s>``:
          member → venue, where ``<s>`` is ``km`` for metres, otherwise the unit
          (``distance_unit`` holds ``<s>``);
        - ``objective`` and ``lower_bound`` in the layout's own ``unit``;
        - ``gap``: the relative gap as a fraction (``Layout.gap``) and ``gap_pct``:
          the same in percent;
        - ``status`` and ``unit``.
    """
    centres = layout.centres
    factor, suffix = distance_scale(layout.unit)
    distance = pd.to_numeric(centres["distance"], errors="coerce")
    sizes = centres["cluster"].value_counts()
    n = len(centres)
    result: dict[str, Any] = {
        "n_centres": n,
        "n_excluded": len(layout.excluded),
        "n_input": n + len(layout.excluded),
        "n_clusters": layout.n_clusters if n else 0,
        "size_min": int(sizes.min()) if n else 0,
        "size_mean": round(float(sizes.mean()), 2) if n else 0.0,
        "size_max": int(sizes.max()) if n else 0,
        f"total_to_venue_{suffix}": round(float(distance.sum()) * factor, _DP),
        f"mean_to_venue_{suffix}": round(float(distance.mean()) * factor, _DP) if n else None,
        f"max_to_venue_{suffix}": round(float(distance.max()) * factor, _DP) if n else None,
        "distance_unit": suffix,
        "objective": float(layout.objective),
        "lower_bound": float(layout.lower_bound),
        "gap": float(layout.gap),
        "gap_pct": round(100.0 * float(layout.gap), 3),
        "status": layout.status,
        "unit": layout.unit,
    }
    return {k: _clean(v) for k, v in result.items()}
