"""One part, solved: construction → bound → improvement → polish → a tighter bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import InfeasibleError, SolverError
from ..model.objective import Objective
from ..model.sizes import Bounds
from . import bound, cpsat, lns
from . import construct as heuristic
from .clock import Clock
from .diagnose import explain_infeasible, likely_conflict
from .exchange import exchange
from .incumbent import Incumbent
from .kernel import kernel_search

__all__ = ["FULL_MODEL_MAX", "FULL_PAIRS_MAX", "rounded_bound", "solve_part"]


#: Up to this many centres CP-SAT gets the whole model (every centre a candidate
#: venue for every other), so its own bound is valid for the whole problem.
FULL_MODEL_MAX = 120


#: member → venue pairs up to which CP-SAT takes every pair left open by the bound
FULL_PAIRS_MAX = 15_000


#: pairs left open by the bound up to which a larger part still gets the kernel
#: search (restricted exact models); a better layout shrinks the pairs left open,
#: often below ``FULL_PAIRS_MAX``, and the exact model then runs on them
KERNEL_PAIRS_MAX = 60_000


#: ... and only when the bound has closed at least this share of the pairs. A
#: loose bound (as on most school data: Surrey's leaves 97 % open) ranks venues
#: poorly, and such parts keep the neighbourhood search on every core, as before
KERNEL_PAIRS_SHARE = 0.5


def solve_part(*args: Any, **kwargs: Any) -> tuple[np.ndarray, float, dict[str, Any], Any]:
    """Construction → bound → improvement for one part; returns ``venue_of``, bound, stats.

    A search started on a thread beside the others is stopped and waited for
    however the part ends, an exception included.
    """
    beside: list[tuple[ThreadPoolExecutor, threading.Event]] = []
    try:
        return _solve_part_steps(*args, beside=beside, **kwargs)
    finally:
        for pool, stop in beside:
            stop.set()
            pool.shutdown(wait=True)


def _solve_part_steps(
    costs: np.ndarray,
    start: np.ndarray | None,
    xy: np.ndarray,
    bounds: Bounds,
    objective: Objective,
    *,
    scale: float,
    time_limit: float,
    seed: int,
    workers: int,
    gap_target: float,
    report: Callable[[str, float, float], None],
    name: str,
    beside: list[tuple[ThreadPoolExecutor, threading.Event]],
    clock: Clock | None = None,
) -> tuple[np.ndarray, float, dict[str, Any], Any]:
    clock = clock or Clock()
    t0 = clock.now()
    n = len(costs)
    arc = objective.arc_costs(costs)
    stats: dict[str, Any] = {}
    reported = {"value": np.inf, "bound": -np.inf}
    given_report = report

    def report(stage: str, value: float, bound: float) -> None:
        # searches running side by side each report their own track: pass on
        # only what improves the best layout or the bound so far
        if value < reported["value"] - 1e-9 * max(abs(value), 1.0):
            stats["improved_at"] = time.perf_counter()
        elif bound <= reported["bound"]:
            return
        reported["value"] = min(reported["value"], value)
        reported["bound"] = max(reported["bound"], bound)
        given_report(stage, reported["value"], reported["bound"])

    def where() -> str:
        return f" in {name.rstrip(': ')}" if name else ""

    # 1. construction (member → venue costs only; the improvement weighs the rest in)
    t = time.perf_counter()
    if start is not None and not bounds.violations(start):
        venue_of = start
        stats["started_from"] = "the given layout"
    else:
        venue_of = heuristic.construct(
            arc, xy, bounds, seed=seed, scale=scale, time_limit=0.2 * time_limit, clock=clock
        )
    if venue_of is not None and bounds.violations(venue_of):
        venue_of = lns.repair(
            costs,
            bounds,
            venue_of,
            scale=scale,
            time_limit=0.3 * time_limit,
            seed=seed,
            objective=objective,
            clock=clock,
        )
        stats["repaired"] = venue_of is not None
    stats["construction_seconds"] = time.perf_counter() - t
    arc_upper = np.inf if venue_of is None else heuristic.layout_cost(arc, venue_of)
    upper = np.inf if venue_of is None else objective.cost(costs, venue_of)
    stats["construction_objective"] = upper

    if venue_of is not None and objective.has_contrast:
        t = time.perf_counter()
        venue_of, swaps = exchange(
            costs, venue_of, objective, bounds, time_limit=0.25 * time_limit, clock=clock
        )
        stats.update(exchange_moves=swaps, exchange_seconds=time.perf_counter() - t)
        upper = objective.cost(costs, venue_of)
        arc_upper = heuristic.layout_cost(arc, venue_of)

    # a small part: with a second core, the large-neighbourhood search starts now and
    # runs beside the bound, the kernel search and the exact model (sharing the best
    # layout). Starting it beside the bound in large parts too was measured and not kept:
    # Surrey 592.9 -> 594.2 km and Kentucky 8,194.3 -> 8,210.1 km at 60 s
    integral = not objective.has_contrast and bool(np.array_equal(arc, np.floor(arc)))
    fixing_step = 1.0 if integral else 0.0
    shared = stop = pool = concurrent = None

    def search_beside(start: np.ndarray, seconds: float, **args: Any):
        """The neighbourhood search on a thread of its own, sharing the best layout."""
        pool = ThreadPoolExecutor(max_workers=1)
        beside.append((pool, stop))
        future = pool.submit(
            lns.improve,
            costs,
            bounds,
            start,
            time_limit=seconds,
            workers=workers - 1,
            shared=shared,
            stop=stop,
            clock=clock,
            **args,
        )
        return pool, future

    def finish_beside() -> None:
        """Stop the search beside and take its counts (its best layout is in ``shared``)."""
        nonlocal pool, concurrent
        if concurrent is not None:
            stop.set()
            _add_stats(stats, "lns_", concurrent.result()[1])
            pool.shutdown()
            pool = concurrent = None

    if venue_of is not None and bounds.n_clusters > 2 and workers > 1 and n <= FULL_MODEL_MAX:
        shared, stop = Incumbent(venue_of, upper), threading.Event()
        pool, concurrent = search_beside(
            venue_of,
            time_limit - clock.since(t0),
            scale=scale,
            seed=seed,
            stop_gap=gap_target,
            progress=lambda e: report("lns", e.objective, -np.inf),
            objective=objective,
            step=fixing_step,
        )

    # 2. lower bound of the whole part: the Lagrangian bound of the member → venue
    #    costs (travel and arc terms); every other term is never negative
    t = time.perf_counter()
    bound_costs = bound.relaxed_costs(arc, bounds)
    start = None if venue_of is None else bound_costs[np.arange(n), venue_of]
    lb = bound.lagrangian_bound(
        bound_costs,
        bounds,
        arc_upper if np.isfinite(arc_upper) else float(bound_costs.max()) * n,
        start=start,
        time_limit=max(0.3, 0.2 * time_limit),
        clock=clock,
    )
    # integer costs (e.g. whole minutes, floored distances) give integer totals,
    # so a bound can be rounded up
    lower = rounded_bound(lb.value, integral)
    stats.update(bound_seconds=time.perf_counter() - t, bound_iterations=lb.iterations)
    report("construction", upper, lower)
    if shared is not None:  # what the search beside the bound found meanwhile
        venue_of, upper = shared.get()

    # 3. improvement. Lagrangian fixing closes the venues no better layout can
    #    open; when what is left is small, CP-SAT takes every member → venue pair
    #    and its proof covers the whole part
    remaining = time_limit - clock.since(t0)

    def kept_pairs() -> np.ndarray | None:
        if not np.isfinite(upper):
            return None
        kept = lb.open_pairs(bound_costs, upper, step=fixing_step)
        if bounds.allowed is not None:
            kept &= bounds.allowed
        kept[np.arange(n), venue_of] = True  # the incumbent stays representable (the hint)
        kept[venue_of, venue_of] = True
        return kept

    kept = kept_pairs()
    full = n <= FULL_MODEL_MAX or (kept is not None and kept.sum() <= FULL_PAIRS_MAX)
    kernel_sized = full or (
        kept is not None and kept.sum() <= min(KERNEL_PAIRS_MAX, KERNEL_PAIRS_SHARE * n * n)
    )
    searching = venue_of is not None and bounds.n_clusters > 2
    lns_args = dict(
        scale=scale,
        seed=seed,
        lower_bound=lower,
        stop_gap=gap_target,
        progress=lambda e: report("lns", e.objective, lower),
        objective=objective,
        step=fixing_step,
    )
    kernel_args = dict(
        scale=scale,
        step=fixing_step,
        seed=seed,
        objective=objective,
        progress=lambda value: report("kernel", value, lower),
    )
    every_core = searching and not kernel_sized
    if searching and kernel_sized and upper - lower > gap_target * upper:
        # a part small enough for the exact model: kernel search, then the exact
        # model for the proof, while (with a second core) the large-neighbourhood
        # search runs beside them; the three share the best layout. A part somewhat
        # larger gets the kernel search too: the layout it finds may leave few
        # enough pairs open for the exact model, else the neighbourhood search
        # takes every core for the time left
        if shared is None:
            shared, stop = Incumbent(venue_of, upper), threading.Event()
        if concurrent is None and workers > 1:
            pool, concurrent = search_beside(venue_of, remaining, **lns_args)
        elif concurrent is None:
            venue_of, lns_stats = lns.improve(
                costs,
                bounds,
                venue_of,
                time_limit=0.4 * remaining,
                workers=1,
                patience=max(20, 2 * bounds.n_clusters),
                shared=shared,
                clock=clock,
                **lns_args,
            )
            _add_stats(stats, "lns_", lns_stats)
        left = time_limit - clock.since(t0)
        stats.update(
            kernel_search(
                costs,
                bounds,
                shared,
                lb,
                bound_costs,
                time_limit=0.4 * left,
                stop=stop,
                clock=clock,
                **kernel_args,
            )
        )
        venue_of, upper = shared.get()
        remaining = time_limit - clock.since(t0)
        kept = kept_pairs()
        full = full or kept.sum() <= FULL_PAIRS_MAX
        if not full:  # still too large for the exact model
            finish_beside()
            venue_of, upper = shared.get()
            every_core = True
    if every_core and upper - lower > gap_target * upper:
        # a large part (or one the kernel search left too large for the exact model):
        # exact re-solves of neighbouring clusters on every core
        remaining = time_limit - clock.since(t0)
        venue_of, lns_stats = lns.improve(
            costs,
            bounds,
            venue_of,
            time_limit=remaining,
            workers=workers,
            clock=clock,
            **lns_args,
        )
        _add_stats(stats, "lns_", lns_stats)
        upper = objective.cost(costs, venue_of)
        remaining = time_limit - clock.since(t0)
    cp_bounds = bounds
    if kept is not None:
        stats["pairs_kept_by_bound"] = int(kept.sum())
        cp_bounds = replace(bounds, allowed=kept)
    if venue_of is None or (full and upper - lower > gap_target * upper):
        upper_before = upper
        result = cpsat.solve_cpsat(
            costs,
            cp_bounds,
            scale=scale,
            hint=venue_of,
            candidates=n if full else 24,
            time_limit=max(remaining, 1.0),
            # one worker with the full LP relaxation proves these models far faster
            # than two (the second core runs the neighbourhood search meanwhile)
            workers=1 if full else workers,
            seed=seed,
            lower_bound=lower,
            stop_gap=gap_target,
            progress=lambda e: report("cp-sat", e.objective, lower),
            objective=objective,
            # the search beside it refines each layout CP-SAT finds
            on_solution=None
            if concurrent is None
            else (lambda found: shared.offer(found, objective.cost(costs, found))),
            clock=clock,
        )
        stats.update(cpsat_status=result.status, cpsat_seconds=result.seconds)
        if result.venue_of is not None:
            # CP-SAT's bound is exact for floored member → venue costs, themes and
            # partnerships; contrast scores are rounded, so its bound is not used with them
            contrast = any(t.weight > 0 for t in objective.terms)
            if full and result.exact and result.restricted_bound is not None and not contrast:
                # layouts through closed venues cost at least the incumbent's total
                proved = min(result.restricted_bound, upper_before)
                lower = max(lower, rounded_bound(proved, integral))
            if venue_of is None or objective.cost(costs, result.venue_of) < upper:
                venue_of = result.venue_of
        elif venue_of is None:
            if result.status == "INFEASIBLE" and full and result.exact:
                raise InfeasibleError(explain_infeasible(costs, bounds, seed=seed, where=where()))
            if result.status == "INFEASIBLE":
                advice = "no layout exists among each centre's 24 nearest venues; loosen the rules"
            else:
                advice = f"CP-SAT: {result.status}; raise the time limit or loosen the rules"
            raise SolverError(
                f"no layout found{where()} in {time_limit:.3g} s ({advice})"
                + likely_conflict(costs, bounds, seed=seed)
            )

    if shared is not None:
        finish_beside()
        shared.offer(venue_of, objective.cost(costs, venue_of))
        venue_of, upper = shared.get()

    # 4. a last sweep of single swaps and moves catches what the neighbourhoods missed
    t = time.perf_counter()
    venue_of, swaps = exchange(costs, venue_of, objective, bounds, time_limit=1.0, clock=clock)
    stats.update(polish_moves=swaps, polish_seconds=time.perf_counter() - t)
    if swaps:
        stats["improved_at"] = time.perf_counter()

    # 5. time left over (the search converged early) tightens the bound
    remaining = time_limit - clock.since(t0)
    upper = objective.cost(costs, venue_of)
    arc_upper = heuristic.layout_cost(arc, venue_of)
    if remaining > 0.5 and upper - lower > gap_target * upper and arc_upper > 0:
        more = bound.lagrangian_bound(
            bound_costs,
            bounds,
            arc_upper,
            start=lb.multipliers,
            time_limit=remaining - 0.3,
            clock=clock,
        )
        tighter = rounded_bound(more.value, integral)
        if tighter > lower:
            lower = tighter
            report("bound", upper, lower)
        stats["bound_iterations"] += more.iterations
    return venue_of, lower, stats, lb.multipliers


def _add_stats(stats: dict[str, Any], prefix: str, more: dict[str, Any]) -> None:
    """Add a search's counts and seconds to ``stats`` (other entries: the latest)."""
    for key, value in more.items():
        name = prefix + key
        old = stats.get(name)
        summable = isinstance(value, int | float) and not isinstance(value, bool)
        if summable and isinstance(old, int | float) and key != "clusters_per_move":
            stats[name] = old + value
        else:
            stats[name] = value


def rounded_bound(value: float, integral: bool) -> float:
    """A bound rounded up when every total is an integer (never below zero)."""
    value = max(float(value), 0.0)
    return float(np.ceil(value - 1e-6)) if integral else value
