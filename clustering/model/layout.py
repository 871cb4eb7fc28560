"""The result of forming clusters: who meets where, and how good that is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..input.files import PreviousLayout
from .problem import Problem

__all__ = ["Layout", "cluster_labels", "venue_labels"]


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
        ``"optimal"`` when the gap is closed, ``"stopped"`` when a stop event or
        Ctrl-C ended the solve early, otherwise ``"feasible"``.
    params
        Everything that produced the layout: sizes, limits, seed, versions.
    stats
        Timings and solver figures.
    baselines
        Optionally, the layout beside the layouts people would otherwise use
        (:func:`clustering.analysis.baselines.compare`); written to
        ``baselines.csv`` and shown in the report.
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
    #: the compiled problem the layout solves (rows in the order of ``centres``):
    #: costs, objective, rules and quotas, read by explanations, re-forming and
    #: baselines; ``None`` for a layout read back from files (not exported)
    problem: Problem | None = field(default=None, repr=False)
    baselines: pd.DataFrame | None = None

    @property
    def gap(self) -> float:
        """Relative gap ``(objective − lower_bound) / objective`` (0 when both are 0)."""
        if self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.lower_bound) / self.objective)

    @property
    def n_clusters(self) -> int:
        """The number of clusters."""
        return int(self.centres["cluster"].nunique())

    @property
    def venue_of(self) -> np.ndarray:
        """For each member (row of ``centres``) the row of its cluster's venue."""
        labels = self.centres["cluster"].to_numpy(dtype=np.int64)
        is_venue = self.centres["is_venue"].to_numpy(dtype=bool)
        venue_rows = np.flatnonzero(is_venue)
        order = np.argsort(labels[venue_rows], kind="stable")
        return venue_rows[order][np.searchsorted(labels[venue_rows][order], labels)]

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


def cluster_labels(
    venue_of: np.ndarray, frame: pd.DataFrame, previous: PreviousLayout | None = None
) -> np.ndarray:
    """Cluster numbers: west to east, or — when re-forming — the previous cluster's
    number for the new cluster that keeps most of its members."""
    fresh = venue_labels(venue_of, frame.geometry.x.to_numpy())
    prev = previous
    if prev is None:
        return fresh
    try:
        old = {cid: int(label) for cid, label in prev.cluster.items()}
    except ValueError:
        return fresh  # labels that are not numbers: number afresh
    ids = frame["centre_id"].astype(str).to_numpy()
    old_of = np.array([old.get(c, -1) for c in ids])
    old_labels = sorted(set(old.values()))
    new_labels = np.unique(fresh)
    overlap = np.zeros((len(new_labels), len(old_labels)))
    col = {label: k for k, label in enumerate(old_labels)}
    for a, b in zip(np.searchsorted(new_labels, fresh), old_of, strict=True):
        if b >= 0:
            overlap[a, col[int(b)]] += 1
    rows, cols = linear_sum_assignment(-overlap)
    mapping = {}
    for r, c in zip(rows, cols, strict=True):
        if overlap[r, c] > 0:
            mapping[int(new_labels[r])] = old_labels[c]
    next_label = max(old_labels, default=0) + 1
    for label in new_labels:  # west to east
        if int(label) not in mapping:
            mapping[int(label)] = next_label
            next_label += 1
    return np.array([mapping[int(v)] for v in fresh], dtype=np.int64)
