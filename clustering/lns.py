"""Large-neighbourhood search: re-solve a few neighbouring clusters at a time exactly.

Take one cluster and its nearest neighbouring clusters (by venue-to-venue
cost), free their members, and let CP-SAT re-form the same number of clusters
from them with every member a candidate venue. A better sub-layout replaces
the old one; the rest of the layout is untouched, so every step keeps the
layout valid and never makes it worse. Neighbourhoods whose clusters have not
changed since they were last solved are skipped; when no neighbourhood
improves, they grow by one cluster.

Each re-solve runs CP-SAT with one worker and the full LP relaxation
(``linearization_level=2``), which proves these small p-median problems
optimal in well under a second; with ``workers`` cores, that many disjoint
neighbourhoods are re-solved at once in threads (CP-SAT releases the GIL).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .cpsat import Progress, solve_cpsat
from .heuristic import layout_cost
from .objective import Objective
from .spec import Bounds

__all__ = ["improve"]


def improve(
    costs: np.ndarray,
    bounds: Bounds,
    venue_of: np.ndarray,
    *,
    scale: float,
    time_limit: float,
    seed: int = 0,
    workers: int = 2,
    clusters_per_move: int = 4,
    max_clusters_per_move: int = 8,
    move_time: float = 2.0,
    lower_bound: float = 0.0,
    stop_gap: float = 1e-4,
    progress: Callable[[Progress], None] | None = None,
    objective: Objective | None = None,
) -> tuple[np.ndarray, dict]:
    """Improve ``venue_of`` by exact re-solves of neighbouring clusters.

    Neighbourhoods start at ``clusters_per_move`` clusters; when a whole pass
    finds nothing better they grow by one, up to ``max_clusters_per_move``.
    Returns the improved ``venue_of`` and counts (moves tried, moves that
    improved, passes over all clusters).
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    venue_of = venue_of.copy()

    def value(sub_costs: np.ndarray, local: np.ndarray, part: Objective | None) -> float:
        return layout_cost(sub_costs, local) if part is None else part.cost(sub_costs, local)

    cost = value(costs, venue_of, objective)
    stats = {"moves": 0, "improving_moves": 0, "passes": 0}
    m = min(clusters_per_move, bounds.n_clusters)
    if m < 2:
        return venue_of, stats
    workers = max(1, int(workers))
    # a neighbourhood is worth re-solving only if one of its clusters changed since
    changed_at: dict[int, int] = {int(v): 0 for v in np.unique(venue_of)}
    tried: dict[tuple[int, ...], int] = {}
    step = 0

    def left() -> float:
        return time_limit - (time.perf_counter() - t0)

    def solve(members: np.ndarray, hint: np.ndarray, k: int, sub_seed: int, limit: float):
        return _resolve(costs, bounds, objective, members, hint, k, scale, sub_seed, limit)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        while left() > 0:
            stats["passes"] += 1
            venues = np.unique(venue_of)
            between = costs[np.ix_(venues, venues)] + costs[np.ix_(venues, venues)].T
            queue = [int(a) for a in rng.permutation(len(venues))]
            improved_in_pass = False
            while queue and left() > 0:
                if cost - lower_bound <= stop_gap * cost:
                    stats["seconds"] = time.perf_counter() - t0
                    return venue_of, stats
                # up to `workers` disjoint neighbourhoods that changed since last tried
                batch: list[tuple[int, ...]] = []
                busy: set[int] = set()
                while queue and len(batch) < workers:
                    a = queue.pop()
                    near = np.argsort(between[a], kind="stable")[:m]
                    group = tuple(sorted(int(venues[k]) for k in near))
                    if any(v not in changed_at for v in group) or busy & set(group):
                        continue
                    version = max(changed_at[v] for v in group)
                    if tried.get(group, -1) >= version:
                        continue
                    tried[group] = version
                    batch.append(group)
                    busy.update(group)
                if not batch:
                    break
                jobs = []
                for group in batch:
                    members = np.flatnonzero(np.isin(venue_of, group))
                    local = {int(c): k for k, c in enumerate(members)}
                    hint = np.array([local[int(v)] for v in venue_of[members]])
                    limit = min(move_time, max(left(), 0.05))
                    future = pool.submit(solve, members, hint, m, seed + step, limit)
                    jobs.append((group, members, hint, future))
                    step += 1
                for group, members, hint, future in jobs:
                    sub, part, found = future.result()
                    stats["moves"] += 1
                    if found is None:
                        continue
                    before, after = value(sub, hint, part), value(sub, found, part)
                    if after >= before - 1e-6 * max(before, 1.0):
                        continue
                    for v in group:
                        changed_at.pop(v, None)
                    new_venues = members[found]
                    venue_of[members] = new_venues
                    for v in np.unique(new_venues):
                        changed_at[int(v)] = step
                    cost += after - before
                    stats["improving_moves"] += 1
                    improved_in_pass = True
                    if progress is not None:
                        progress(Progress(time.perf_counter() - t0, cost, lower_bound, "lns"))
            if not improved_in_pass:
                # a local optimum for this neighbourhood size: widen it
                if m >= min(max_clusters_per_move, bounds.n_clusters):
                    break
                m += 1
                tried.clear()
                stats["clusters_per_move"] = m
    stats["seconds"] = time.perf_counter() - t0
    return venue_of, stats


def _resolve(costs, bounds, objective, members, hint, k, scale, seed, limit):
    """Re-form the ``k`` clusters of ``members`` exactly (CP-SAT, one worker).

    Returns their costs, their part of the objective and the new ``venue_of``
    (``None`` when CP-SAT found nothing in time)."""
    sub = costs[np.ix_(members, members)]
    part = None if objective is None else objective.restricted(members)
    result = solve_cpsat(
        sub,
        bounds.restricted(members, k),
        scale=scale,
        hint=hint,
        candidates=len(members),
        time_limit=limit,
        workers=1,
        seed=seed,
        objective=part,
    )
    return sub, part, result.venue_of


def repair(
    costs: np.ndarray,
    bounds: Bounds,
    venue_of: np.ndarray,
    *,
    scale: float,
    time_limit: float,
    seed: int = 0,
    objective: Objective | None = None,
) -> np.ndarray | None:
    """Make ``venue_of`` meet every rule by re-forming the clusters around each breach.

    A breach is a must-link group split over clusters, a cannot-link group
    sharing one, a centre meeting at a venue it may not use, or a cluster
    outside a quota (e.g. without a willing coordinator). The clusters
    involved and their nearest neighbours (2, growing to 12) are re-formed
    exactly, with every rule hard, until nothing is broken. Returns ``None``
    when time runs out first.
    """
    t0 = time.perf_counter()
    venue_of = venue_of.copy()
    extra = 1
    while time.perf_counter() - t0 < time_limit:
        broken = _breaches(venue_of, bounds)
        if not broken:
            return venue_of
        venues = np.unique(venue_of)
        between = costs[np.ix_(venues, venues)] + costs[np.ix_(venues, venues)].T
        progress = False
        used: set[int] = set()
        for involved in broken:
            if used & involved:
                continue
            k_idx = [int(np.searchsorted(venues, v)) for v in involved]
            near = np.argsort(between[k_idx].min(axis=0), kind="stable")
            group = list(dict.fromkeys([*involved, *(int(venues[x]) for x in near)]))
            group = group[: min(len(involved) + extra, len(venues))]
            if used & set(group):
                continue
            members = np.flatnonzero(np.isin(venue_of, group))
            local = {int(c): k for k, c in enumerate(members)}
            hint = np.array([local[int(v)] for v in venue_of[members]])
            left = time_limit - (time.perf_counter() - t0)
            if left <= 0:
                break
            _, _, found = _resolve(
                costs, bounds, objective, members, hint, len(group), scale, seed, min(left, 5.0)
            )
            if found is not None:
                venue_of[members] = members[found]
                used.update(int(v) for v in np.unique(members[found]))
                progress = True
            used.update(group)
        if not progress:
            extra += 1
            if extra > 12 or extra > len(np.unique(venue_of)):
                return None
    return None if _breaches(venue_of, bounds) else venue_of


def _breaches(venue_of: np.ndarray, bounds: Bounds) -> list[set[int]]:
    """Venues of the clusters involved in each broken pairwise or distance rule."""
    out = []
    for g in bounds.together:
        venues = set(venue_of[g].tolist())
        if len(venues) > 1:
            out.append(venues)
    for g in bounds.apart:
        v = venue_of[g]
        for venue in set(v.tolist()):
            if np.count_nonzero(v == venue) > 1:
                out.append({int(venue)})
    if bounds.allowed is not None:
        idx = np.arange(len(venue_of))
        for i in np.flatnonzero(~bounds.allowed[idx, venue_of]):
            out.append({int(venue_of[i])})
    venues, labels = np.unique(venue_of, return_inverse=True)
    for mask, lo, hi in bounds.quotas:
        counts = np.bincount(labels, weights=mask.astype(float), minlength=len(venues))
        for k in np.flatnonzero((counts < lo) | (counts > hi)):
            out.append({int(venues[k])})
    return out
