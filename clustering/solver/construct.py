"""A fast construction: k-means venues, size-bounded assignment by min-cost flow.

Given venues, the best assignment that respects the count bounds is a
min-cost flow (exact, milliseconds). Alternating it with moving each venue to
its cluster's medoid never increases the total and converges in a few rounds;
a handful of k-means starts picks the best. The result warm-starts CP-SAT and
sets the upper bound for the Lagrangian lower bound.

With weight bounds (e.g. pupils per cluster) the flow keeps the count bounds
and a greedy repair then moves centres between neighbouring clusters until the
weights fit, cheapest move first.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from ortools.graph.python import min_cost_flow
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from ..model.sizes import Bounds
from .clock import Clock
from .kmeans import kmeans_constrained_venues
from .medoids import medoids

__all__ = ["assign_to_venues", "construct", "layout_cost"]


def layout_cost(costs: np.ndarray, venue_of: np.ndarray) -> float:
    """Total member → venue cost of an assignment (``venue_of[i]`` is a centre index)."""
    return float(costs[np.arange(len(venue_of)), venue_of].sum())


def assign_to_venues(
    costs: np.ndarray,
    venues: np.ndarray,
    bounds: Bounds,
    *,
    scale: float = 1.0,
    nearest: int | None = 40,
) -> np.ndarray | None:
    """Best assignment of every centre to one of ``venues`` within the count bounds.

    Each venue belongs to its own cluster. Returns ``venue_of`` (a centre
    index per centre) or ``None`` when the bounds cannot be met. Only each
    centre's ``nearest`` venues are offered first; if that is infeasible every
    venue is offered.
    """
    n, p = costs.shape[0], len(venues)
    lo, hi = bounds.min_size, bounds.max_size
    if not p * lo <= n <= p * hi:
        return None
    if bounds.quotas and np.any(sum(m.astype(int) for m, _, _ in bounds.quotas) > 1):
        return None  # overlapping quota groups do not fit one flow; CP-SAT handles them
    is_venue = np.zeros(n, dtype=bool)
    is_venue[venues] = True
    members = np.flatnonzero(~is_venue)
    sub = costs[np.ix_(members, venues)]
    tries = [nearest, None] if nearest is not None and nearest < p else [None]
    for k in tries:
        if k is None:
            cols = np.broadcast_to(np.arange(p), sub.shape)
        else:
            cols = np.argpartition(sub, k - 1, axis=1)[:, :k]
        result = _flow(sub, cols, members, venues, n, lo, hi, scale, bounds.quotas)
        if result is not None:
            return result
    return None


def _flow(sub, cols, members, venues, n, lo, hi, scale, quotas=()):
    """Min-cost flow: members → (quota node →) venue → sink.

    "Must" slots (the minimum size, each quota's minimum) carry a large
    negative cost, so the flow fills them whenever any assignment can; the
    result is checked and ``None`` returned when some must-slot stayed empty.
    Quota groups must not overlap.
    """
    m, p = len(members), len(venues)
    sink = m + p
    rows = np.repeat(np.arange(m), cols.shape[1])
    flat_cols = cols.reshape(-1)
    values = sub[rows, flat_cols]
    keep = np.isfinite(values)  # forbidden pairs (max distance) cost +inf
    rows, flat_cols = rows[keep], flat_cols[keep]
    unit = np.rint(values[keep] * scale).astype(np.int64)
    big = int(unit.max(initial=0)) * (m + 1) + 1
    # each member enters its quota's node for the venue, or the venue itself
    group = np.full(m, -1)
    for q, (mask, _, _) in enumerate(quotas):
        group[mask[members]] = q
    entry = np.where(group[rows] >= 0, sink + 1 + group[rows] * p + flat_cols, m + flat_cols)
    starts = [rows, m + np.arange(p), m + np.arange(p)]
    ends = [entry, np.full(p, sink), np.full(p, sink)]
    caps = [np.ones(len(rows), dtype=np.int64), np.full(p, lo - 1), np.full(p, hi - lo)]
    cost = [unit, np.full(p, -big), np.zeros(p, dtype=np.int64)]
    needs = []
    for q, (mask, q_lo, q_hi) in enumerate(quotas):
        own = mask[venues].astype(np.int64)  # a venue counts towards its own quota
        need = np.maximum(q_lo - own, 0)
        room = q_hi - own - need
        if np.any(room < 0):
            return None
        node = sink + 1 + q * p + np.arange(p)
        starts += [node, node]
        ends += [m + np.arange(p), m + np.arange(p)]
        caps += [need, room]
        cost += [np.full(p, -big), np.zeros(p, dtype=np.int64)]
        needs.append(need)
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(starts).astype(np.int32),
        np.concatenate(ends).astype(np.int32),
        np.concatenate(caps).astype(np.int64),
        np.concatenate(cost).astype(np.int64),
    )
    nodes = sink + 1 + len(quotas) * p
    supplies = np.zeros(nodes, dtype=np.int64)
    supplies[:m] = 1
    supplies[sink] = -m
    flow.set_nodes_supplies(np.arange(nodes, dtype=np.int32), supplies)
    if flow.solve() != flow.OPTIMAL:
        return None
    flows = flow.flows(arcs)
    filled = flows[len(rows) : len(rows) + p]
    if np.any(filled < lo - 1):
        return None
    at = len(rows) + 2 * p
    for need in needs:
        if np.any(flows[at : at + p] < need):
            return None
        at += 2 * p
    used = flows[: len(rows)] > 0
    venue_of = np.empty(n, dtype=np.int64)
    venue_of[venues] = venues
    venue_of[members[rows[used]]] = venues[flat_cols[used]]
    return venue_of


def disjoint_quotas(quotas):
    """The quotas, in order, whose groups of centres do not overlap any kept before."""
    kept, taken = [], None
    for mask, lo, hi in quotas:
        if taken is not None and np.any(taken & mask):
            continue
        kept.append((mask, lo, hi))
        taken = mask.copy() if taken is None else taken | mask
    return tuple(kept)


def quotas_hold(venue_of: np.ndarray, bounds: Bounds) -> bool:
    """Whether every cluster meets every quota."""
    labels = np.unique(venue_of, return_inverse=True)[1]
    for mask, q_lo, q_hi in bounds.quotas:
        counts = np.bincount(labels, weights=mask.astype(float))
        if np.any(counts < q_lo) or np.any(counts > q_hi):
            return False
    return True


def _kmeans_venues(xy: np.ndarray, p: int, seed: int) -> np.ndarray:
    with warnings.catch_warnings():  # duplicate points (schools sharing a site) are fine
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=p, n_init=1, random_state=seed).fit(xy)
    d = ((xy[:, None, :] - km.cluster_centers_[None, :, :]) ** 2).sum(axis=2)
    chosen: list[int] = []
    taken = np.zeros(len(xy), dtype=bool)
    for k in range(p):
        order = np.argsort(d[:, k])
        j = next(int(i) for i in order if not taken[i])
        taken[j] = True
        chosen.append(j)
    return np.asarray(chosen, dtype=np.int64)


def _alternate(costs, venues, bounds, scale, rounds=30):
    best, best_cost = None, np.inf
    for _ in range(rounds):
        venue_of = assign_to_venues(costs, venues, bounds, scale=scale)
        if venue_of is None:
            return best
        cost = layout_cost(costs, venue_of)
        if cost >= best_cost - 1e-9:
            break
        best, best_cost = venue_of, cost
        new = medoids(costs, venue_of)
        if set(new.tolist()) == set(venues.tolist()):
            break
        venues = new
    return best


def construct(
    costs: np.ndarray,
    xy: np.ndarray,
    bounds: Bounds,
    *,
    seed: int = 0,
    starts: int = 4,
    scale: float = 1.0,
    time_limit: float | None = None,
    clock: Clock | None = None,
) -> np.ndarray | None:
    """A good layout quickly: the best of ``starts`` k-means starts, polished.

    Returns ``venue_of`` (for each centre, the index of its venue) or ``None``
    if no start met the bounds. With ``time_limit`` (counted on ``clock``),
    starts after the first that succeeded are skipped once it has passed.
    """
    clock = clock or Clock()
    deadline = None if time_limit is None else clock.now() + time_limit
    if bounds.allowed is not None:
        restricted = construct(
            np.where(bounds.allowed, costs, np.inf),
            xy,
            replace(bounds, allowed=None),
            seed=seed,
            starts=starts,
            scale=scale,
            time_limit=time_limit,
            clock=clock,
        )
        if restricted is not None:
            return restricted
        # no start met the distance limit everywhere: build without it and let
        # the local repair (lns.repair) move the centres that are too far
        bounds = replace(bounds, allowed=None)
    # the flow holds quota groups that do not overlap; the others are left to the
    # local repair (lns.repair), which re-forms the clusters around each breach
    bounds = replace(bounds, quotas=disjoint_quotas(bounds.quotas))
    best, best_cost = None, np.inf
    for s in range(starts + 1):
        if best is not None and deadline is not None and clock.now() > deadline:
            break
        # a start reads the member → venue costs a few times per cluster
        clock.work(elements=800 * len(xy) * bounds.n_clusters)
        if s < starts:
            venues = _kmeans_venues(xy, bounds.n_clusters, seed + s)
        else:
            # one more start from size-bounded k-means, whose clusters already
            # have the right sizes (on Kentucky its polished layout beats the rest)
            venues = _size_bounded_venues(costs, xy, bounds, seed)
            if venues is None:
                continue
        venue_of = _alternate(costs, venues, bounds, scale)
        if venue_of is None:
            continue
        if bounds.weights is not None:
            # the first repair may take what it needs; later ones only the time left
            late = None if best is None or deadline is None else deadline
            venue_of = repair_weights(costs, venue_of, bounds, deadline=late, clock=clock)
            if venue_of is None or not quotas_hold(venue_of, bounds):
                continue
        cost = layout_cost(costs, venue_of)
        if cost < best_cost:
            best, best_cost = venue_of, cost
    return best


def _size_bounded_venues(costs, xy, bounds, seed) -> np.ndarray | None:
    if len(xy) < 2 * bounds.n_clusters or not np.isfinite(costs).all():
        return None
    venue_of = kmeans_constrained_venues(xy, bounds, seed=seed, costs=costs, n_init=1)
    return None if venue_of is None else np.unique(venue_of)


def repair_weights(
    costs: np.ndarray,
    venue_of: np.ndarray,
    bounds: Bounds,
    *,
    max_moves: int | None = None,
    deadline: float | None = None,
    clock: Clock | None = None,
) -> np.ndarray | None:
    """Move or swap centres between neighbouring clusters until every weight fits.

    Greedy: at each step, around the few clusters furthest outside their weight
    bounds, take the single move, or the swap of two centres, that removes
    weight violation at the least added travel per unit removed, without
    breaking the count bounds. Returns the repaired ``venue_of``, or ``None`` if
    it gets stuck or reaches ``deadline`` (a value of ``clock.now()``).
    """
    clock = clock or Clock()
    w = bounds.weights
    assert w is not None
    venue_of = venue_of.copy()
    venues = np.unique(venue_of)
    index = {int(v): k for k, v in enumerate(venues)}
    label = np.array([index[int(v)] for v in venue_of])
    load = np.bincount(label, weights=w, minlength=len(venues))
    count = np.bincount(label, minlength=len(venues))
    lo_w, hi_w = bounds.min_weight, bounds.max_weight

    def excess(x):
        return np.maximum(x - hi_w, 0) + np.maximum(lo_w - x, 0)

    is_venue = np.zeros(len(w), dtype=bool)
    is_venue[venues] = True
    max_moves = max_moves or 20 * len(w)
    for _ in range(max_moves):
        bad = np.flatnonzero(excess(load) > 1e-9)
        if len(bad) == 0:
            return venues[label]
        clock.work(elements=48 * len(w))
        if deadline is not None and clock.now() > deadline:
            return None
        # the worst few: each step reads O(n) per cluster pair, not O(n) per breach
        bad = bad[np.argsort(-excess(load[bad]), kind="stable")[:3]]
        best = None  # (cost per unit of violation removed, movers out of a, movers out of b, a, b)
        for a in bad:
            for b in np.argsort(costs[venues[a], venues])[1:9]:
                in_a = np.flatnonzero((label == a) & ~is_venue)
                in_b = np.flatnonzero((label == b) & ~is_venue)
                before = excess(load[a]) + excess(load[b])
                va, vb = venues[a], venues[b]
                # single moves a -> b and b -> a, within the count bounds
                for src, dst, movers, sign in ((a, b, in_a, 1), (b, a, in_b, -1)):
                    if count[src] - 1 < bounds.min_size or count[dst] + 1 > bounds.max_size:
                        continue
                    if len(movers) == 0:
                        continue
                    shift = sign * w[movers]  # weight leaving a
                    gain = before - excess(load[a] - shift) - excess(load[b] + shift)
                    delta = costs[movers, venues[dst]] - costs[movers, venues[src]]
                    best = _better(best, delta, gain, movers, src, a, b)
                # swaps: i leaves a for b while k leaves b for a (counts unchanged)
                if len(in_a) and len(in_b):
                    shift = w[in_a][:, None] - w[in_b][None, :]
                    gain = before - excess(load[a] - shift) - excess(load[b] + shift)
                    delta = (
                        costs[in_a, vb][:, None]
                        - costs[in_a, va][:, None]
                        + costs[in_b, va][None, :]
                        - costs[in_b, vb][None, :]
                    )
                    ok = gain > 1e-9
                    if ok.any():
                        score = np.where(ok, delta / np.where(ok, gain, 1.0), np.inf)
                        r, c = np.unravel_index(np.argmin(score), score.shape)
                        if best is None or score[r, c] < best[0]:
                            best = (score[r, c], [in_a[r]], [in_b[c]], a, b)
        if best is None:
            return None
        _, out_a, out_b, a, b = best
        for i in out_a:
            label[i] = b
        for k in out_b:
            label[k] = a
        moved = w[out_a].sum() - w[out_b].sum()
        load[a] -= moved
        load[b] += moved
        count[a] += len(out_b) - len(out_a)
        count[b] += len(out_a) - len(out_b)
    return None


def _better(best, delta, gain, movers, src, a, b):
    """Keep the single move with the least cost per unit of weight violation removed."""
    ok = gain > 1e-9
    if not ok.any():
        return best
    score = np.where(ok, delta / np.where(ok, gain, 1.0), np.inf)
    k = int(np.argmin(score))
    if best is not None and score[k] >= best[0]:
        return best
    mover = [movers[k]]
    return (score[k], mover, [], a, b) if src == a else (score[k], [], mover, a, b)
