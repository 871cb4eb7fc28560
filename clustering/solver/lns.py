"""Large-neighbourhood search: re-solve a few neighbouring clusters at a time exactly.

Take one cluster and some of its nearest neighbouring clusters (by
venue-to-venue cost), free their members, and let CP-SAT re-form the same
number of clusters from them with every member a candidate venue. A better
sub-layout replaces the old one; the rest of the layout is untouched, so every
step keeps the layout valid and never makes it worse.

Each re-solve first computes the Lagrangian bound of the sub-problem
(:mod:`clustering.bound`, a few milliseconds): when it shows that no
sub-layout beats the current one, CP-SAT is not called at all, and otherwise
the member → venue pairs that no better sub-layout can use are dropped
(reduced-cost fixing) before CP-SAT (one worker, full LP relaxation) solves
what is left. A neighbourhood proven to hold nothing better is not tried
again until one of its clusters changes.

Neighbourhoods are drawn at random: the anchor cluster, plus clusters drawn
from its ``2m`` nearest with a preference for the nearest. After a run of
draws without improvement they grow by one cluster (up to a maximum); when
re-solves keep running out of time they shrink. With ``workers`` cores, that
many disjoint neighbourhoods are re-solved at once in threads (CP-SAT and
NumPy release the GIL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace

import numpy as np

from ..model.objective import Objective
from ..model.sizes import Bounds
from . import bound
from .clock import Clock
from .construct import layout_cost
from .cpsat import solve_cpsat
from .incumbent import Incumbent
from .progress import Progress

__all__ = ["improve", "repair"]


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
    step: float = 0.0,
    patience: int | None = None,
    shared: Incumbent | None = None,
    stop: threading.Event | None = None,
    clock: Clock | None = None,
) -> tuple[np.ndarray, dict]:
    """Improve ``venue_of`` by exact re-solves of neighbouring clusters.

    ``time_limit`` and ``move_time`` are counted on ``clock`` (wall-clock seconds
    by default; with a deterministic clock and one worker the search repeats exactly).

    Parameters
    ----------
    step
        The least improvement that counts: 1 when every total is a whole
        number (floored distances, whole minutes), else 0. Sharpens the
        Lagrangian pruning of each re-solve.
    patience
        Stop after this many re-solves in a row without improvement at the
        largest neighbourhood size (``None``: run until ``time_limit``, or
        until every neighbourhood is proven to hold nothing better).
    shared, stop
        For a search running beside others in threads: the best layout so far
        (taken up when another search improves it, offered when this one
        does), and an event that ends this search.

    Returns the improved ``venue_of`` and counts (re-solves, improving ones,
    those the bound settled without CP-SAT, those that ran out of time, the
    final neighbourhood size).
    """
    t0 = time.perf_counter()
    clock = clock or Clock()
    started = clock.now()
    rng = np.random.default_rng(seed)
    venue_of = venue_of.copy()

    cost = _value(costs, venue_of, objective)
    stats = {"moves": 0, "improving_moves": 0, "pruned_moves": 0, "timed_out_moves": 0}
    # where the re-solves' time goes (summed over the threads)
    for key in ("bound_seconds", "build_seconds", "solve_seconds"):
        stats[key] = 0.0
    p = bounds.n_clusters
    top = min(max_clusters_per_move, p)
    m = min(clusters_per_move, p)
    if m < 2:
        return venue_of, stats
    workers = max(1, int(workers))
    # a neighbourhood proven to hold nothing better stays settled until one of
    # its clusters changes
    changed_at: dict[int, int] = {int(v): 0 for v in np.unique(venue_of)}
    settled: dict[tuple[int, ...], int] = {}
    step_no = 0
    stall = 0  # re-solves in a row without improvement
    recent: list[bool] = []  # whether each recent re-solve ran out of time
    # seconds of model building per (member)² seen so far: a re-solve whose model
    # would still be building at the deadline is not started (wall-clock runs only)
    build_rate = 0.0

    def left() -> float:
        return time_limit - clock.since(started)

    def solve(members: np.ndarray, hint: np.ndarray, k: int, sub_seed: int, limit: float):
        return _resolve(
            costs,
            bounds,
            objective,
            members,
            hint,
            k,
            scale,
            sub_seed,
            limit,
            step=step,
            stop=stop,
            clock=clock,
        )

    def draw(venues: np.ndarray, near: np.ndarray, busy: set[int]) -> tuple[int, ...] | None:
        """One neighbourhood of ``m`` clusters not proven settled, or ``None``."""
        for _ in range(8):
            a = int(rng.integers(len(venues)))
            pool = near[a][near[a] != a][: min(2 * m, len(venues)) - 1]
            weights = 1.0 / np.arange(1, len(pool) + 1)
            picked = rng.choice(pool, size=m - 1, replace=False, p=weights / weights.sum())
            group = tuple(sorted(int(venues[k]) for k in (a, *picked.tolist())))
            if busy & set(group):
                continue
            version = max(changed_at[v] for v in group)
            if settled.get(group, -1) >= version:
                continue
            return group
        return None

    near, near_of = None, None  # each cluster's nearest clusters, for these venues
    # up to `workers` disjoint neighbourhoods are re-solved at any time; each result
    # is taken as soon as it is ready (a slow re-solve does not hold up the others)
    # and applied only if its clusters have not changed since it was drawn
    running: dict[Future, tuple] = {}
    finished = False
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while running or not finished:
            if not finished and (left() <= 0 or (stop is not None and stop.is_set())):
                finished = True
            if not finished and shared is not None and not running:
                other, other_cost = shared.get()
                if other_cost < cost - 1e-9 * max(abs(cost), 1.0):
                    venue_of, cost = other, other_cost
                    step_no += 1
                    changed_at = {int(v): step_no for v in np.unique(venue_of)}
                    stats["adopted"] = stats.get("adopted", 0) + 1
            if cost - lower_bound <= stop_gap * cost:
                finished = True
            while not finished and len(running) < workers:
                venues = np.unique(venue_of)
                if near is None or not np.array_equal(venues, near_of):
                    between = costs[np.ix_(venues, venues)]
                    between = between + between.T
                    near = np.argsort(between, axis=1, kind="stable")[:, : 2 * top + 1]
                    near_of = venues
                busy = {v for job in running.values() for v in job[0]}
                group = draw(venues, near, busy)
                if group is None:
                    break
                members = np.flatnonzero(np.isin(venue_of, group))
                if not clock.deterministic and build_rate * len(members) ** 2 > left():
                    finished = True
                    break
                local = {int(c): k for k, c in enumerate(members)}
                hint = np.array([local[int(v)] for v in venue_of[members]])
                limit = min(move_time, max(left(), 0.05))
                version = max(changed_at[v] for v in group)
                future = pool.submit(solve, members, hint, len(group), seed + step_no, limit)
                running[future] = (group, version, members, hint)
                step_no += 1
                clock.work(elements=2 * len(venue_of))
            if not running:
                if finished:
                    break
                # every neighbourhood drawn is settled: widen them, or stop
                if m >= top:
                    stats["converged"] = True
                    break
                m += 1
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                group, version, members, hint = running.pop(future)
                sub, part, found, proven, timing = future.result()
                stats["moves"] += 1
                for key, seconds in timing.items():
                    stats[key] += seconds
                build_rate = max(build_rate, timing["build_seconds"] / max(len(members), 1) ** 2)
                if found is None and proven:
                    stats["pruned_moves"] += 1
                recent.append(not proven)
                stats["timed_out_moves"] += int(not proven)
                if any(changed_at.get(v, np.inf) > version for v in group):
                    continue  # the layout changed under it (a shared layout was taken up)
                better = False
                if found is not None:
                    before, after = _value(sub, hint, part), _value(sub, found, part)
                    better = after < before - 1e-9 * max(abs(before), 1.0)
                if not better:
                    stall += 1
                    if proven:
                        settled[group] = version
                    continue
                stall = 0
                for v in group:
                    changed_at.pop(v, None)
                new_venues = members[found]
                venue_of[members] = new_venues
                step_no += 1
                for v in np.unique(new_venues):
                    changed_at[int(v)] = step_no
                cost += after - before
                stats["improving_moves"] += 1
                if shared is not None:
                    shared.offer(venue_of, cost)
                if progress is not None:
                    progress(Progress(time.perf_counter() - t0, cost, lower_bound, "lns"))
            # sizes: re-solves that keep running out of time shrink the neighbourhoods,
            # a long run without improvement widens them
            recent = recent[-8:]
            if len(recent) >= 8 and sum(recent) > 4 and m > 2:
                m, recent = m - 1, []
                top = max(m, min(top, m + 2))  # don't grow straight back to the slow size
            elif stall >= max(2 * p // m, 8) and m < top:
                m, stall = m + 1, 0
            elif patience is not None and m >= top and stall >= patience:
                finished = True
    stats["clusters_per_move"] = m
    stats["seconds"] = time.perf_counter() - t0
    return venue_of, stats


def _value(costs: np.ndarray, venue_of: np.ndarray, objective: Objective | None) -> float:
    """The total of ``venue_of``: travel alone, or the whole (restricted) objective."""
    return layout_cost(costs, venue_of) if objective is None else objective.cost(costs, venue_of)


def _resolve(
    costs,
    bounds,
    objective,
    members,
    hint,
    k,
    scale,
    seed,
    limit,
    *,
    step=None,
    stop=None,
    clock=None,
):
    """Re-form the ``k`` clusters of ``members`` exactly (CP-SAT, one worker).

    With ``step`` (the least improvement that counts), the sub-problem's
    Lagrangian bound first settles it when nothing better exists, and removes
    the member → venue pairs no better sub-layout can use. Returns their
    costs, their part of the objective, the new ``venue_of`` (``None`` when
    nothing was found), whether the result is proven best for the
    neighbourhood, and the seconds spent on the bound, on building the CP-SAT
    model and in CP-SAT.
    """
    t0 = time.perf_counter()
    timing = {"bound_seconds": 0.0, "build_seconds": 0.0, "solve_seconds": 0.0}
    sub = costs[np.ix_(members, members)]
    part = None if objective is None else objective.restricted(members)
    rules = bounds.restricted(members, k)
    if step is not None and len(members) > 2 * k:
        current = _value(sub, hint, part)
        arc = sub if part is None else part.arc_costs(sub)
        relaxed = bound.relaxed_costs(arc, rules)
        idx = np.arange(len(members))
        lb = bound.lagrangian_bound(
            relaxed,
            rules,
            current,
            start=relaxed[idx, hint],
            time_limit=min(0.1, 0.25 * limit),
            max_iterations=120,
            clock=clock,
        )
        # every term beyond the member → venue costs is never negative, so the
        # bound on those costs bounds the whole sub-objective
        timing["bound_seconds"] = time.perf_counter() - t0
        if lb.value >= current - step - 1e-9 * max(abs(current), 1.0):
            return sub, part, None, True, timing
        kept = lb.open_pairs(relaxed, current, step=step)
        if rules.allowed is not None:
            kept &= rules.allowed
        kept[idx, hint] = True  # the current sub-layout stays representable (the hint)
        kept[hint, hint] = True
        rules = replace(rules, allowed=kept)
    result = solve_cpsat(
        sub,
        rules,
        scale=scale,
        hint=hint,
        candidates=len(members),
        time_limit=limit,
        workers=1,
        seed=seed,
        objective=part,
        stop=stop,
        clock=clock,
    )
    timing["build_seconds"] = result.build_seconds
    timing["solve_seconds"] = result.seconds - result.build_seconds
    return sub, part, result.venue_of, result.status == "OPTIMAL", timing


def repair(
    costs: np.ndarray,
    bounds: Bounds,
    venue_of: np.ndarray,
    *,
    scale: float,
    time_limit: float,
    seed: int = 0,
    objective: Objective | None = None,
    clock: Clock | None = None,
) -> np.ndarray | None:
    """Make ``venue_of`` meet every rule by re-forming the clusters around each breach.

    A breach is a must-link group split over clusters, a cannot-link group
    sharing one, a centre meeting at a venue it may not use, or a cluster
    outside a quota (e.g. without a willing coordinator). The clusters
    involved and their nearest neighbours (2, growing to 12) are re-formed
    exactly, with every rule hard, until nothing is broken. Returns ``None``
    when time runs out first.
    """
    clock = clock or Clock()
    started = clock.now()
    venue_of = venue_of.copy()
    extra = 1
    while clock.since(started) < time_limit:
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
            left = time_limit - clock.since(started)
            if left <= 0:
                break
            _, _, found, _, _ = _resolve(
                costs,
                bounds,
                objective,
                members,
                hint,
                len(group),
                scale,
                seed,
                min(left, 5.0),
                clock=clock,
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
