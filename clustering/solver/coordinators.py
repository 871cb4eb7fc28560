"""Who coordinates each cluster of a layout."""

from __future__ import annotations

import numpy as np

__all__ = ["coordinator_of"]


def coordinator_of(
    venue_of: np.ndarray, costs: np.ndarray, eligible_mask: np.ndarray | None
) -> np.ndarray:
    """Each cluster's coordinator: its venue when eligible, else the eligible member nearest it.

    Returns a boolean per centre. Clusters are disjoint, so no centre
    coordinates two. Without an eligibility rule the venue coordinates.
    """
    out = np.zeros(len(venue_of), dtype=bool)
    for v in np.unique(venue_of):
        members = np.flatnonzero(venue_of == v)
        if eligible_mask is None or eligible_mask[v]:
            out[v] = True
            continue
        ok = members[eligible_mask[members]]
        if len(ok):
            out[ok[np.argmin(costs[ok, v])]] = True
    return out
