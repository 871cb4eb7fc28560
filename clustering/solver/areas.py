"""Valid bounds on the whole problem when it was solved in pieces."""

from __future__ import annotations

import numpy as np

from ..model.sizes import Bounds
from . import bound
from .construct import layout_cost

__all__ = ["cut_bound", "nearest_bound", "shared_count_bound"]

#: rows read against their area at a time by :func:`nearest_bound`
ROW_BLOCK = 2048


def nearest_bound(arc_at, free, regions, p: int) -> float:
    """A valid bound that never holds more than a block of rows × an area.

    Exactly ``p`` of the free centres are venues (their own cost is 0) and every
    other member meets at another centre of its area, costing at least its
    cheapest one: the ``len(free) - p`` smallest of those cheapest costs bound
    every layout (sizes, weights and the other rules only raise it).
    ``arc_at(rows, cols)`` reads the member → venue costs of a block.
    """
    free = np.asarray(free, dtype=np.int64)
    cheapest = np.full(len(free), np.inf)
    region = np.zeros(len(free), dtype=np.int64) if regions is None else regions[free]
    for r in np.unique(region):
        where = np.flatnonzero(region == r)
        rows = free[where]
        for start in range(0, len(rows), ROW_BLOCK):
            block = rows[start : start + ROW_BLOCK]
            d = np.array(arc_at(block[:, None], rows[None, :]), dtype=float)
            d[np.arange(len(block)), start + np.arange(len(block))] = np.inf  # not itself
            cheapest[where[start : start + len(block)]] = d.min(axis=1)
    members = len(free) - int(p)
    if members <= 0:
        return 0.0
    cheapest = np.where(np.isfinite(cheapest), cheapest, 0.0)
    return float(max(np.partition(cheapest, members - 1)[:members].sum(), 0.0))


def shared_count_bound(arc, venue_of, free, regions, rule, loads, seconds, clock=None) -> float:
    """Lagrangian bound of the free centres with pairs across areas forbidden."""
    sub = arc  # already read at the free centres
    region = regions[free]
    allowed = region[:, None] == region[None, :]
    bounds = Bounds(
        len(free),
        rule.min_size,
        rule.max_size,
        int(rule.n_clusters),
        None if loads is None else loads[free],
        float(rule.min_weight or 0.0),
        float(rule.max_weight) if rule.max_weight is not None else np.inf,
        allowed=allowed,
    )
    local = {int(r): k for k, r in enumerate(free)}
    start = np.array([local[int(v)] for v in venue_of[free]])
    costs = bound.relaxed_costs(sub, bounds)
    upper = layout_cost(costs, start)
    lb = bound.lagrangian_bound(
        costs,
        bounds,
        upper,
        start=costs[np.arange(len(free)), start],
        time_limit=seconds,
        clock=clock,
    )
    return max(lb.value, 0.0)


def cut_bound(rows, xy, multipliers, rule, parts, part, costs, objective) -> float:
    """A valid bound on a part solved in areas (0 when costs are not straight lines)."""
    travel = objective.weights.travel
    if costs.source != "euclidean" or travel <= 0:
        return 0.0
    k = sum(b.n_clusters for _, _, b, q in parts if q == part)
    # every multiplier vector gives a valid bound: the areas' own, and shrunk
    # ones, which cost less where members near an edge would cross it
    values = [
        bound.sparse_bound(
            xy[rows],
            shrink * multipliers[rows] / travel,
            min_size=rule.min_size,
            max_size=rule.max_size,
            n_clusters=k,
        )
        for shrink in (1.0, 0.9, 0.75)
    ]
    return max(max(values) * travel, 0.0)
