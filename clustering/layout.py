"""The result of forming clusters: who meets where, and how good that is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["Layout", "venue_labels"]


@dataclass
class Layout:
    """A verified layout.

    Attributes
    ----------
    centres
        The centres that take part (metric CRS) with three added columns:
        ``cluster`` (1..k, numbered west to east by venue), ``is_venue`` and
        ``distance`` (member → venue cost, in ``unit``; kilometres are derived by
        reports when ``unit == "m"``).
    excluded
        Centres that do not take part: ``centre_id``, ``name``, ``row``, ``reason``.
    objective
        Total member → venue cost, recomputed from the assignment by the checker.
    lower_bound
        A valid lower bound on the total over every possible layout.
    unit
        ``"m"`` or the unit of the user's matrix.
    status
        ``"optimal"`` when the gap is closed, otherwise ``"feasible"``.
    params
        Everything that produced the layout: sizes, limits, seed, versions.
    stats
        Timings and solver figures.
    baselines
        Optionally, the layout beside the layouts people would otherwise use
        (:func:`clustering.baselines.compare`); written to ``baselines.csv``
        and shown in the report.
    """

    centres: gpd.GeoDataFrame
    excluded: pd.DataFrame
    objective: float
    lower_bound: float
    unit: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    #: what produced the layout, for explanations (not exported): ``costs``
    #: (:class:`~clustering.costs.Costs`, rows in the order of ``centres``),
    #: ``objective`` (:class:`~clustering.objective.Objective`, same rows),
    #: ``constraints``, ``rule``, ``compiled`` (:class:`~clustering.rules.Compiled`),
    #: ``quotas`` (list of (Quota, mask)) and ``input_ids``
    context: dict[str, Any] = field(default_factory=dict, repr=False)
    baselines: pd.DataFrame | None = None

    @property
    def gap(self) -> float:
        """Relative gap ``(objective − lower_bound) / objective`` (0 when both are 0)."""
        if self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.lower_bound) / self.objective)

    @property
    def n_clusters(self) -> int:
        return int(self.centres["cluster"].nunique())

    @property
    def assignments(self) -> pd.DataFrame:
        """One row per input centre: the members, then the excluded (cluster empty)."""
        columns = ["centre_id", "name", "cluster", "is_venue", "distance"]
        if "coordinator" in self.centres.columns:
            columns.append("coordinator")
        members = self.centres[columns].copy()
        venue_ids = self.centres.loc[self.centres["is_venue"], ["cluster", "centre_id"]]
        members = members.merge(
            venue_ids.rename(columns={"centre_id": "venue_id"}), on="cluster", how="left"
        )
        members["excluded_reason"] = ""
        excluded = self.excluded.rename(columns={"reason": "excluded_reason"})[
            ["centre_id", "name", "excluded_reason"]
        ]
        out = pd.concat([members, excluded], ignore_index=True)
        out["cluster"] = out["cluster"].astype("Int64")
        return out


def venue_labels(venue_of: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cluster numbers 1..k for ``venue_of``, ordered west to east by venue."""
    venues = np.unique(venue_of)
    order = venues[np.argsort(x[venues], kind="stable")]
    number = {int(v): k + 1 for k, v in enumerate(order)}
    return np.array([number[int(v)] for v in venue_of], dtype=np.int64)
