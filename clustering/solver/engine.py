"""Solve a compiled problem: locked clusters kept, the rest solved part by part.

:func:`solve` is the solver stage's one entry point. It keeps the locked
clusters as they were, splits the other centres into independent parts
(boundary areas, large parts cut in two: :mod:`~clustering.solver.parts`),
solves each part (:mod:`~clustering.solver.part`: construction → Lagrangian
bound → kernel search, neighbourhood search and exact CP-SAT → polish), and
combines the parts' bounds into a valid bound on the whole problem
(:mod:`~clustering.solver.areas`). It returns arrays, not a layout: the
checker and the layout are the next stages' business.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..model.problem import Problem
from . import bound, lns
from .areas import cut_bound, nearest_bound, shared_count_bound
from .clock import Clock
from .construct import layout_cost
from .coordinators import coordinator_of
from .part import solve_part
from .parts import parts_of, split_large
from .progress import Progress, serialised

__all__ = ["SHARED_BOUND_MAX", "Solution", "solve"]

#: free centres up to which a cluster count shared among areas gets the whole-set
#: Lagrangian bound (a free × free array: 6,000 centres, 288 MB); above, a weaker
#: bound read in blocks (:func:`clustering.solver.areas.nearest_bound`)
SHARED_BOUND_MAX = 6000

#: time held back per centre of a part cut into areas, for its bound afterwards
#: (:func:`clustering.solver.areas.cut_bound`); a fixed rate, so that deterministic
#: budgets stay reproducible
CUT_BOUND_SECONDS_PER_CENTRE = 1e-4

#: centres of a part cut into areas up to which its bound is also computed on its own
#: member → venue costs (a dense block: 3,000 centres, 72 MB), from the areas'
#: multipliers: it counts the weights (capacities), which the straight-line bound
#: read in blocks does not, and it holds for costs that are not straight lines
DENSE_CUT_MAX = 3000

#: share of the time limit (at most 5 s) held back for that bound
DENSE_CUT_SHARE = 0.05

#: share of the time limit, per centre of a part cut into areas, held back for the
#: neighbourhood search across the cuts once every area is solved (:func:`_across_cuts`)
SEAM_SHARE = 0.2


@dataclass
class Solution:
    """What the solver found for a problem (arrays over ``problem.frame``'s rows).

    Attributes
    ----------
    venue_of
        For each centre the row of its cluster's venue.
    lower_bound
        A valid lower bound on the objective's member → venue terms over every
        layout, in cost units.
    coordinator
        Whether each centre coordinates its cluster.
    n_clusters
        The number of clusters formed.
    stats
        Timings and solver figures.
    """

    venue_of: np.ndarray
    lower_bound: float
    coordinator: np.ndarray
    n_clusters: int
    stats: dict[str, Any] = field(default_factory=dict)


def solve(
    problem: Problem,
    *,
    time_limit: float,
    seed: int = 0,
    workers: int = 2,
    gap_target: float = 1e-4,
    progress: Callable[[Progress], None] | None = None,
    start: np.ndarray | None = None,
    started: float | None = None,
    deterministic: bool = False,
    stop: threading.Event | None = None,
) -> Solution:
    """Solve ``problem`` within ``time_limit`` seconds (counted from ``started``).

    Parameters
    ----------
    start
        A layout to start from, as each centre's venue row (``-1`` where the
        start says nothing): a part whose centres it covers, and where it
        meets every rule, starts there instead of from a new construction.
    started
        The ``time.perf_counter()`` value the time limit counts from (default: now),
        so the time spent compiling the problem counts too.
    deterministic
        Count every budget in solver work (CP-SAT deterministic time and charged
        heuristic work, see :class:`clustering.solver.clock.Clock`) instead of
        seconds, with one worker: the same problem and seed give the same
        solution whatever the machine's load. ``time_limit`` is then a budget of
        deterministic time (compiling the problem is not counted).
    stop
        An event another thread may set (a "stop" button): every search then
        ends at its next look at the clock, and the best layout found so far is
        returned with a valid bound (each part still gets its construction).
    """
    t0 = time.perf_counter() if started is None else started
    # one deadline for every phase of every part (see clustering.solver.clock)
    clock = Clock(deterministic, start=t0, stop=stop, limit=time_limit)
    if deterministic:
        workers = 1
    costs, objective = problem.costs, problem.objective
    compiled, rule = problem.compiled, problem.rule
    n = problem.n
    scale = costs.integer_scale()
    loads = problem.loads
    quotas = [q for q, _ in problem.quotas]
    masks = [m for _, m in problem.quotas]
    hard = problem.hard_bounds()
    xy = problem.xy
    stats: dict[str, Any] = {"n_centres": n}
    if compiled.notes:
        stats["notes"] = list(compiled.notes)

    # locked clusters keep their members and venue; the rest is solved in parts
    venue_of = np.full(n, -1, dtype=np.int64)
    locked = problem.locked
    for members, venue in locked.values():
        venue_of[members] = venue
    free = np.flatnonzero(venue_of < 0)
    rule_free = replace(rule, quotas=tuple(quotas))
    if rule.n_clusters is not None:
        rule_free = replace(rule_free, n_clusters=rule.n_clusters - len(locked))
    boundary = problem.constraints.boundary
    parts = parts_of(free, compiled.regions, rule_free, boundary, loads, masks)
    lower = _locked_cost(problem)
    n_clusters = sum(b.n_clusters for _, _, b in parts) + len(locked)
    stats["n_clusters"] = n_clusters
    stats["parts"] = len(parts)
    if locked:
        stats["locked_clusters"] = sorted(locked)

    say = serialised(progress)

    def report(stage: str, value: float, bound: float, area: str | None = None) -> None:
        if say is not None:
            say(Progress(time.perf_counter() - t0, value, bound, stage, area))

    budget = time_limit - clock.elapsed()
    # a fixed cluster count shared among boundary areas: the areas' bounds hold for
    # that share only, so the bound comes from the whole free set instead, with
    # pairs across areas forbidden (valid whatever the share)
    shared = rule.n_clusters is not None and len(parts) > 1
    # (held back for that bound; the one read in blocks takes well under a second)
    reserve_shared = min(5.0, 0.1 * time_limit) if shared and len(free) <= SHARED_BOUND_MAX else 0
    reserve = reserve_shared
    whole = list(parts)
    parts = split_large(parts, xy, rule_free, loads, masks)
    stats["areas"] = len(parts)
    multipliers = np.zeros(n)
    areas_of = Counter(part for *_, part in parts)
    cut = {part for part, count in areas_of.items() if count > 1}
    sizes = np.array([len(rows) for _, rows, _, _ in parts], dtype=float)
    # the bound of a part cut into areas is computed once they are solved: time for it
    # is held back (24,029 centres in 16 areas: 1.6 s measured)
    in_cut = sum(len(rows) for _, rows, _, q in parts if q in cut)
    reserve += min(0.1 * time_limit, CUT_BOUND_SECONDS_PER_CENTRE * in_cut)
    dense_cut = [q for q in cut if len(whole[q][1]) <= DENSE_CUT_MAX]
    dense_seconds = min(5.0, DENSE_CUT_SHARE * time_limit) if dense_cut else 0.0
    reserve += dense_seconds
    # ... and for the search across the cuts
    seams = SEAM_SHARE * time_limit * in_cut / max(len(free), 1)
    reserve += seams
    # what each part needs however late it is (its construction and a first bound),
    # per centre, as measured on the parts solved so far: held back for the parts after
    needed = _Needed()
    for k, (name, rows, bounds, part) in enumerate(parts):
        later = sizes[k + 1 :].sum()
        left = time_limit - reserve - needed.seconds(later) - clock.elapsed()
        share = max(left * sizes[k] / sizes[k:].sum(), min(1.0, left)) if len(parts) > 1 else left
        share = max(0.0, min(share, clock.remaining()))
        if clock.expired:
            stats["parts_after_deadline"] = stats.get("parts_after_deadline", 0) + 1
        bounds = _with_rules(hard, rows, bounds)
        local, part_lower, part_stats, lam = solve_part(
            costs.matrix[np.ix_(rows, rows)],
            _local_start(start, rows),
            xy[rows],
            bounds,
            objective.restricted(rows),
            scale=scale,
            time_limit=share,
            seed=seed,
            workers=workers,
            gap_target=gap_target,
            report=(lambda st, v, b, nm=name: report(f"{nm}{st}", v, b, nm.rstrip(": ") or None)),
            name=name,
            clock=clock,
        )
        venue_of[rows] = rows[local]
        multipliers[rows] = lam
        needed.add(len(rows), part_stats.pop("construction_clock", 0.0))
        improved_at = part_stats.pop("improved_at", None)
        if improved_at is not None:
            stats["best_found_seconds"] = improved_at - t0
        if part not in cut:
            lower += part_lower
        for key, value in part_stats.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                stats[key] = stats.get(key, 0) + value
            else:
                stats[key] = value
    stats["budget_seconds"] = budget
    # a part cut into areas was solved area by area: clusters on either side of a cut
    # are now re-formed together, as anywhere else
    for part in sorted(cut):
        _, rows, bounds = whole[part]
        share = seams * len(rows) / max(in_cut, 1)
        venue_of[rows] = _across_cuts(
            problem, rows, bounds, venue_of, share, seed, workers, scale, clock, stats, report, t0
        )
    # a part cut into areas: the areas' bounds hold for the cut only; the whole
    # part's bound comes from their multipliers, evaluated on every pair
    for part in sorted(cut):
        rows = np.concatenate([r for _, r, _, q in parts if q == part])
        part_lower = cut_bound(rows, xy, multipliers, rule_free, parts, part, costs, objective)
        if part in dense_cut:
            _, rows, bounds = whole[part]
            seconds = dense_seconds * len(rows) / sum(len(whole[q][1]) for q in dense_cut)
            dense = _dense_cut_bound(problem, rows, bounds, venue_of, multipliers, seconds, clock)
            stats["dense_cut_bound"] = stats.get("dense_cut_bound", 0.0) + dense
            part_lower = max(part_lower, dense)
        lower += part_lower
    if cut:
        stats["bound_note"] = "areas cut from a large part share one bound (" + (
            "on its own costs, from the areas' multipliers)" if dense_cut else "straight lines)"
        )
    if shared and len(free) > SHARED_BOUND_MAX:
        # the whole-set bound reads a free × free array: too large here (24,000 centres:
        # 4.6 GB); each member's nearest other centre in its area bounds it instead
        lower = _locked_cost(problem) + nearest_bound(
            lambda r, c: objective.arc_at(costs.matrix, r, c),
            free,
            compiled.regions,
            int(rule_free.n_clusters),
        )
        stats["bound_note"] = (
            "nearest-centre bound (the cluster count is shared among areas, too many "
            "centres for the whole-set bound)"
        )
    elif shared:
        lower = _locked_cost(problem) + shared_count_bound(
            objective.arc_at(costs.matrix, *np.ix_(free, free)),
            venue_of,
            free,
            compiled.regions,
            rule_free,
            loads,
            clock.budget(reserve_shared),
            clock,
        )
        stats["bound_note"] = "whole-set bound (the cluster count is shared among areas)"
    coordinator = coordinator_of(venue_of, costs.matrix, compiled.coordinators)
    stats["clock_seconds"] = clock.elapsed() if not clock.stopped else None
    return Solution(venue_of, float(lower), coordinator, n_clusters, stats)


def _across_cuts(
    problem, rows, bounds, venue_of, seconds, seed, workers, scale, clock, stats, report, t0
):
    """The neighbourhood search over a whole part cut into areas, for ``seconds``.

    Its neighbourhoods are drawn over the whole part, so clusters on either side
    of a cut are re-formed together. The part's member → venue costs are read
    through a view (a block of ``rows`` only where a re-solve needs it), never
    copied whole: 24,000 centres would take 4.6 GB.
    """
    if seconds <= 0 or clock.remaining() <= 0:
        return venue_of[rows]
    bounds = _with_rules(problem.hard_bounds(), rows, bounds)
    start = _local_layout(venue_of, rows)
    if np.any(start < 0) or bounds.violations(start):
        return venue_of[rows]
    t = time.perf_counter()

    def improved(value: float) -> None:
        stats["best_found_seconds"] = time.perf_counter() - t0
        report("lns", value, 0.0, "across the cuts")

    view = _Rows(problem.costs.matrix, rows)
    objective = problem.objective.restricted(rows)
    better, more = lns.improve(
        view,
        bounds,
        start,
        scale=scale,
        time_limit=min(seconds, clock.remaining()),
        seed=seed,
        workers=workers,
        objective=objective,
        progress=lambda e: improved(e.objective),
        clock=clock,
    )
    gain = objective.cost(view, start) - objective.cost(view, better)
    stats["seam_gain"] = stats.get("seam_gain", 0.0) + gain
    stats["seam_seconds"] = stats.get("seam_seconds", 0.0) + time.perf_counter() - t
    stats["seam_moves"] = stats.get("seam_moves", 0) + more.get("moves", 0)
    stats["seam_improving_moves"] = stats.get("seam_improving_moves", 0) + more.get(
        "improving_moves", 0
    )
    return rows[better]


def _dense_cut_bound(problem, rows, bounds, venue_of, multipliers, seconds, clock) -> float:
    """The Lagrangian bound of a part cut into areas on its own costs, from the areas'
    multipliers (every multiplier vector gives a valid bound; a few steps raise it)."""
    bounds = _with_rules(problem.hard_bounds(), rows, bounds)
    arc = problem.objective.restricted(rows).arc_costs(problem.costs.matrix[np.ix_(rows, rows)])
    upper = layout_cost(arc, _local_layout(venue_of, rows))
    lb = bound.lagrangian_bound(
        bound.relaxed_costs(arc, bounds),
        bounds,
        upper,
        start=multipliers[rows],
        # past the deadline: one step (a valid, if loose, bound)
        time_limit=max(0.0, min(seconds, clock.remaining())),
        clock=clock,
    )
    return max(float(lb.value), 0.0)


def _with_rules(hard, rows: np.ndarray, bounds):
    """``bounds`` with the pairwise rules of ``hard`` for the centres ``rows``."""
    rules = hard.restricted(rows, 0)
    return replace(bounds, allowed=rules.allowed, together=rules.together, apart=rules.apart)


def _local_layout(venue_of: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The venues of ``rows`` as positions in ``rows`` (``-1``: a venue outside them)."""
    local = np.full(len(venue_of), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    return local[venue_of[rows]]


class _Rows:
    """``matrix`` seen at ``rows`` only: ``view[a, b]`` is ``matrix[rows[a], rows[b]]``
    (pairs or an ``np.ix_`` block), read when asked."""

    def __init__(self, matrix, rows: np.ndarray) -> None:
        self.matrix, self.rows = matrix, np.asarray(rows)
        self.shape = (len(self.rows), len(self.rows))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        a, b = key
        return np.asarray(self.matrix[self.rows[a], self.rows[b]])


class _Needed:
    """Clock time per centre of what a part takes however late: its construction.

    Measured on the solve's clock (work when deterministic, so the budgets stay
    reproducible) over the parts solved so far; twice that is held back for the
    parts still to come (their construction and a first bound).
    """

    def __init__(self) -> None:
        self.centres = 0
        self.spent = 0.0

    def add(self, centres: int, spent: float) -> None:
        self.centres += centres
        self.spent += max(0.0, float(spent))

    def seconds(self, centres: float) -> float:
        """What ``centres`` more will need."""
        if self.centres == 0 or centres <= 0:
            return 0.0
        return 2.0 * self.spent / self.centres * centres


def _locked_cost(problem: Problem) -> float:
    """The member → venue cost of the locked clusters (fixed, so part of every bound)."""
    arc_at, matrix = problem.objective.arc_at, problem.costs.matrix
    return float(sum(arc_at(matrix, m, v).sum() for m, v in problem.locked.values()))


def _local_start(start: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    """``start`` for the centres ``rows`` as local venue indices, if it covers them."""
    if start is None:
        return None
    local = {int(r): k for k, r in enumerate(rows)}
    out = np.empty(len(rows), dtype=np.int64)
    for k, r in enumerate(rows):
        venue = local.get(int(start[r]))
        if venue is None:
            return None
        out[k] = venue
    return out
