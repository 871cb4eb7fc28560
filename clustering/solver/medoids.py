"""Where a cluster meets when its members are given: the medoid."""

from __future__ import annotations

import numpy as np

__all__ = ["medoids", "venues_of_labels"]


def medoids(costs: np.ndarray, venue_of: np.ndarray) -> np.ndarray:
    """For each cluster, the member with the least total cost from the other members."""
    out = []
    for v in np.unique(venue_of):
        group = np.flatnonzero(venue_of == v)
        out.append(group[np.argmin(costs[np.ix_(group, group)].sum(axis=0))])
    return np.asarray(out, dtype=np.int64)


def venues_of_labels(costs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``venue_of`` for cluster ``labels``: each cluster meets at its medoid."""
    venue_of = np.empty(len(labels), dtype=np.int64)
    for v in medoids(costs, labels):
        venue_of[labels == labels[v]] = v
    return venue_of
