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


#: a large part's two searches are tried, and CP-SAT's continued, in rounds of this
#: share of its time (:meth:`_Part.search_large`), at least :data:`ROUND_SECONDS` each
ROUND_SHARE = 0.1
ROUND_SECONDS = 3.0

#: how many nearest venues each centre is offered in CP-SAT's model of a whole large
#: part (its current venue too)
RESTRICTED_CANDIDATES = 10


def solve_part(
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
    clock: Clock | None = None,
) -> tuple[np.ndarray, float, dict[str, Any], Any]:
    """Construction → bound → improvement for one part.

    Returns ``venue_of`` (local rows), the part's lower bound, its statistics and
    the bound's multipliers. A search started on a thread beside the others is
    stopped and waited for however the part ends, an exception included.
    """
    part = _Part(
        costs,
        xy,
        bounds,
        objective,
        scale=scale,
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        gap_target=gap_target,
        report=report,
        name=name,
        clock=clock or Clock(),
    )
    try:
        part.construct(start)
        part.start_search_beside()
        part.bound()
        part.improve()
        part.polish()
        part.tighten_bound()
    finally:
        part.stop_searches_beside()
    part.stats["construction_clock"] = part.construction_clock
    return part.venue_of, part.lower, part.stats, part.lb.multipliers


class _Part:
    """The state one part's steps share: the best layout, the bound, the searches beside."""

    def __init__(
        self,
        costs: np.ndarray,
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
        clock: Clock,
    ) -> None:
        self.costs, self.xy, self.bounds, self.objective = costs, xy, bounds, objective
        self.scale, self.time_limit, self.seed = scale, time_limit, seed
        self.workers, self.gap_target, self.name = workers, gap_target, name
        self.clock = clock
        self.t0 = clock.now()
        self.n = len(costs)
        self.arc = objective.arc_costs(costs)
        self.stats: dict[str, Any] = {}
        self._given_report = report
        self._reported = {"value": np.inf, "bound": -np.inf}
        self._report_lock = threading.Lock()
        # integer costs (e.g. whole minutes, floored distances) give integer totals,
        # so a bound can be rounded up and improvements of less than 1 ignored
        self.integral = not objective.has_contrast and bool(
            np.array_equal(self.arc, np.floor(self.arc))
        )
        self.fixing_step = 1.0 if self.integral else 0.0
        self.venue_of: np.ndarray | None = None
        #: a layout breaking only the weights, to hint CP-SAT when none meets every rule
        self.hint: np.ndarray | None = None
        self.construction_clock = 0.0
        #: held back for the polish until it starts (a sweep of a part is quick)
        self.held = min(0.2, 0.05 * time_limit)
        self.upper = self.arc_upper = np.inf
        self.lower = 0.0
        # the best layout shared with a search on a thread beside the others
        self.shared: Incumbent | None = None
        self.stop: threading.Event | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.concurrent = None
        self._beside: list[tuple[ThreadPoolExecutor, threading.Event]] = []

    # bookkeeping -------------------------------------------------------------

    def left(self) -> float:
        """Time left of the part's budget (on its clock), never past the solve's deadline.

        Until the polish, a little is held back for it (:attr:`held`).
        """
        own = self.time_limit - self.clock.since(self.t0)
        return min(own, self.clock.remaining()) - self.held

    def budget(self, seconds: float) -> float:
        """``seconds``, or the part's time left when that is less (never below 0)."""
        return max(0.0, min(float(seconds), self.left()))

    def report(self, stage: str, value: float, bound: float) -> None:
        """Pass on only what improves the best layout or the bound so far.

        Searches running side by side each report their own track, from their
        own threads (CP-SAT's solution callbacks too): one report at a time.
        """
        with self._report_lock:
            if value < self._reported["value"] - 1e-9 * max(abs(value), 1.0):
                self.stats["improved_at"] = time.perf_counter()
            elif bound <= self._reported["bound"]:
                return
            self._reported["value"] = min(self._reported["value"], value)
            self._reported["bound"] = max(self._reported["bound"], bound)
            self._given_report(stage, self._reported["value"], self._reported["bound"])

    def where(self) -> str:
        return f" in {self.name.rstrip(': ')}" if self.name else ""

    def open_gap(self) -> bool:
        """Whether the best layout is still further from the bound than the target."""
        return self.upper - self.lower > self.gap_target * self.upper

    def take_shared(self) -> None:
        """Adopt the best layout the searches side by side have found."""
        self.venue_of, self.upper = self.shared.get()

    # 1. construction ---------------------------------------------------------

    def construct(self, start: np.ndarray | None) -> None:
        """A first layout (member → venue costs only; the improvement weighs the rest in)."""
        costs, bounds, clock, stats = self.costs, self.bounds, self.clock, self.stats
        t, ticked = time.perf_counter(), clock.now()
        if start is not None and not bounds.violations(start):
            venue_of = start
            stats["started_from"] = "the given layout"
        else:
            venue_of = heuristic.construct(
                self.arc,
                self.xy,
                bounds,
                seed=self.seed,
                scale=self.scale,
                # the first start that meets the bounds is kept however late it is
                time_limit=self.budget(0.2 * self.time_limit),
                clock=clock,
            )
        if venue_of is not None and bounds.violations(venue_of):
            # a layout is needed however late it is: the repair gets at least 1 s
            venue_of = lns.repair(
                costs,
                bounds,
                venue_of,
                scale=self.scale,
                time_limit=max(self.budget(0.3 * self.time_limit), min(1.0, 0.3 * self.time_limit)),
                seed=self.seed,
                objective=self.objective,
                clock=clock,
            )
            stats["repaired"] = venue_of is not None
        if venue_of is None and bounds.weights is not None and self.left() > 0:
            # weights too tight for the construction's repair: the layout that meets
            # every rule but the weights still guides CP-SAT (a hint need not be valid)
            self.hint = heuristic.construct(
                self.arc,
                self.xy,
                replace(bounds, weights=None, min_weight=0.0, max_weight=np.inf),
                seed=self.seed,
                scale=self.scale,
                starts=1,
                time_limit=self.budget(0.1 * self.time_limit),
                clock=clock,
            )
        stats["construction_seconds"] = time.perf_counter() - t
        # on the part's clock (work units when deterministic): what later parts need
        self.construction_clock = clock.now() - ticked
        self.venue_of = venue_of
        if venue_of is not None:
            self.arc_upper = heuristic.layout_cost(self.arc, venue_of)
            self.upper = self.objective.cost(costs, venue_of)
        stats["construction_objective"] = self.upper
        if venue_of is not None and self.objective.has_contrast and self.left() > 0:
            t = time.perf_counter()
            self.venue_of, swaps = exchange(
                costs,
                venue_of,
                self.objective,
                bounds,
                time_limit=self.budget(0.25 * self.time_limit),
                clock=clock,
            )
            stats.update(exchange_moves=swaps, exchange_seconds=time.perf_counter() - t)
            self.upper = self.objective.cost(costs, self.venue_of)
            self.arc_upper = heuristic.layout_cost(self.arc, self.venue_of)

    # the neighbourhood search on a thread beside the other steps --------------

    def start_search_beside(self) -> None:
        """In a small part with a second core, start the neighbourhood search now.

        It runs beside the bound, the kernel search and the exact model, sharing
        the best layout. Starting it beside the bound in large parts too was
        measured and not kept: Surrey 592.9 -> 594.2 km and Kentucky 8,194.3 ->
        8,210.1 km at 60 s.
        """
        if (
            self.venue_of is not None
            and self.bounds.n_clusters > 2
            and self.workers > 1
            and self.n <= FULL_MODEL_MAX
        ):
            self.shared, self.stop = Incumbent(self.venue_of, self.upper), threading.Event()
            self._search_beside(
                self.venue_of,
                self.left(),
                scale=self.scale,
                seed=self.seed,
                stop_gap=self.gap_target,
                progress=lambda e: self.report("lns", e.objective, -np.inf),
                objective=self.objective,
                step=self.fixing_step,
            )

    def _search_beside(self, start: np.ndarray, seconds: float, **args: Any) -> None:
        """The neighbourhood search on a thread of its own, sharing the best layout."""
        self.pool = ThreadPoolExecutor(max_workers=1)
        self._beside.append((self.pool, self.stop))
        self.concurrent = self.pool.submit(
            lns.improve,
            self.costs,
            self.bounds,
            start,
            time_limit=seconds,
            workers=self.workers - 1,
            shared=self.shared,
            stop=self.stop,
            clock=self.clock,
            **args,
        )

    def finish_search_beside(self) -> None:
        """Stop the search beside and take its counts (its best layout is in ``shared``)."""
        if self.concurrent is not None:
            self.stop.set()
            _add_stats(self.stats, "lns_", self.concurrent.result()[1])
            self.pool.shutdown()
            self.pool = self.concurrent = None

    def stop_searches_beside(self) -> None:
        """However the part ends, stop and wait for every search started beside."""
        for pool, stop in self._beside:
            stop.set()
            pool.shutdown(wait=True)

    # 2. lower bound ------------------------------------------------------------

    def bound(self) -> None:
        """The Lagrangian bound of the member → venue costs (travel and arc terms).

        Every other term is never negative, so it bounds the whole objective.
        """
        n, stats = self.n, self.stats
        t = time.perf_counter()
        self.bound_costs = bound.relaxed_costs(self.arc, self.bounds)
        start = None if self.venue_of is None else self.bound_costs[np.arange(n), self.venue_of]
        upper = self.arc_upper if np.isfinite(self.arc_upper) else None
        self.lb = bound.lagrangian_bound(
            self.bound_costs,
            self.bounds,
            upper if upper is not None else float(self.bound_costs.max()) * n,
            start=start,
            # past the deadline: one step (a valid, if loose, bound)
            time_limit=self.budget(max(0.3, 0.2 * self.time_limit)),
            clock=self.clock,
        )
        self.lower = rounded_bound(self.lb.value, self.integral)
        stats.update(bound_seconds=time.perf_counter() - t, bound_iterations=self.lb.iterations)
        self.report("construction", self.upper, self.lower)
        if self.shared is not None:  # what the search beside the bound found meanwhile
            self.take_shared()

    def kept_pairs(self) -> np.ndarray | None:
        """The member → venue pairs a better layout may still use (Lagrangian fixing)."""
        if not np.isfinite(self.upper):
            return None
        n, venue_of = self.n, self.venue_of
        kept = self.lb.open_pairs(self.bound_costs, self.upper, step=self.fixing_step)
        if self.bounds.allowed is not None:
            kept &= self.bounds.allowed
        kept[np.arange(n), venue_of] = True  # the incumbent stays representable (the hint)
        kept[venue_of, venue_of] = True
        return kept

    # 3. improvement ----------------------------------------------------------

    def improve(self) -> None:
        """Search for better layouts, by the part's size.

        Lagrangian fixing closes the venues no better layout can open; when what
        is left is small, CP-SAT takes every member → venue pair and its proof
        covers the whole part. A part somewhat larger gets the kernel search
        first; a large one the neighbourhood search on every core.
        """
        n = self.n
        kept = self.kept_pairs()
        self.full = n <= FULL_MODEL_MAX or (kept is not None and kept.sum() <= FULL_PAIRS_MAX)
        kernel_sized = self.full or (
            kept is not None and kept.sum() <= min(KERNEL_PAIRS_MAX, KERNEL_PAIRS_SHARE * n * n)
        )
        searching = self.venue_of is not None and self.bounds.n_clusters > 2
        every_core = searching and not kernel_sized
        if searching and kernel_sized and self.open_gap():
            kept, every_core = self.kernel_search()
        if every_core and self.open_gap():
            self.search_large(kept)
        if kept is not None:
            self.stats["pairs_kept_by_bound"] = int(kept.sum())
        if self.venue_of is None or (self.full and self.open_gap() and self.left() > 0.05):
            self.exact_model(kept)
        if self.shared is not None:
            self.finish_search_beside()
            self.shared.offer(self.venue_of, self.objective.cost(self.costs, self.venue_of))
            self.take_shared()

    def _lns_args(self) -> dict[str, Any]:
        lower = self.lower
        return dict(
            scale=self.scale,
            seed=self.seed,
            lower_bound=lower,
            stop_gap=self.gap_target,
            progress=lambda e: self.report("lns", e.objective, lower),
            objective=self.objective,
            step=self.fixing_step,
        )

    def kernel_search(self) -> tuple[np.ndarray | None, bool]:
        """Kernel search, with the neighbourhood search beside it (second core) or before.

        For a part small enough for the exact model, which then gives the proof;
        the three share the best layout. A larger part's improved layout may
        leave few enough pairs open for the exact model; if not, the
        neighbourhood search takes every core for the time left. Returns the
        pairs kept open and whether that is needed.
        """
        stats, lower = self.stats, self.lower
        if self.shared is None:
            self.shared, self.stop = Incumbent(self.venue_of, self.upper), threading.Event()
        if self.concurrent is None and self.workers > 1:
            self._search_beside(self.venue_of, self.left(), **self._lns_args())
        elif self.concurrent is None:
            self.venue_of, lns_stats = lns.improve(
                self.costs,
                self.bounds,
                self.venue_of,
                time_limit=0.4 * self.left(),
                workers=1,
                patience=max(20, 2 * self.bounds.n_clusters),
                shared=self.shared,
                clock=self.clock,
                **self._lns_args(),
            )
            _add_stats(stats, "lns_", lns_stats)
        stats.update(
            kernel_search(
                self.costs,
                self.bounds,
                self.shared,
                self.lb,
                self.bound_costs,
                time_limit=0.4 * self.left(),
                stop=self.stop,
                clock=self.clock,
                scale=self.scale,
                step=self.fixing_step,
                seed=self.seed,
                objective=self.objective,
                progress=lambda value: self.report("kernel", value, lower),
            )
        )
        self.take_shared()
        kept = self.kept_pairs()
        self.full = self.full or kept.sum() <= FULL_PAIRS_MAX
        if self.full:
            return kept, False
        # still too large for the exact model
        self.finish_search_beside()
        self.take_shared()
        return kept, True

    def search_large(self, kept: np.ndarray | None) -> None:
        """CP-SAT on the whole part while it pays more than the neighbourhood search.

        CP-SAT on the whole part (each centre offered its nearest venues,
        :meth:`restricted_model`) moves venues and members across many clusters at
        once; the neighbourhood search re-forms a few clusters at a time. Which is
        better differs by instance: from a poor start under tight capacities with
        many small clusters CP-SAT gains several per cent in seconds, on Kentucky's
        schools it gains almost nothing. So each is tried for a round of
        :data:`ROUND_SHARE` of the part's time; CP-SAT then runs more rounds for as
        long as it gains faster than the neighbourhood search did, and the
        neighbourhood search takes the time left in one run (it learns which
        neighbourhoods are settled, so it is not cut into rounds). Parts whose
        clusters average more members than :data:`RESTRICTED_CANDIDATES` get the
        neighbourhood search alone.
        """
        if self.n > RESTRICTED_CANDIDATES * self.bounds.n_clusters:
            # clusters larger than the venues each member is offered: CP-SAT could not
            # move a venue (every member must be offered the new one)
            self.search_every_core()
            return
        seconds = max(ROUND_SECONDS, ROUND_SHARE * self.time_limit)
        rates: dict[str, float] = {}

        def run(which: str) -> None:
            # on the part's clock: work units when deterministic, so runs repeat
            before, t = self.upper, self.clock.now()
            if which == "cp-sat":
                self.restricted_model(kept, seconds)
            else:
                self.search_every_core(seconds)
            rates[which] = (before - self.upper) / max(self.clock.now() - t, 1e-3)
            key = f"rounds_{which.replace('-', '')}"
            self.stats[key] = self.stats.get(key, 0) + 1

        for which in ("cp-sat", "lns"):
            if self.open_gap() and self.left() > 2 * seconds:
                run(which)
        while (
            self.open_gap()
            and self.left() > 2 * seconds
            and rates.get("cp-sat", 0.0) > rates.get("lns", 0.0)
        ):
            run("cp-sat")
        if self.open_gap():
            self.search_every_core()

    def restricted_model(self, kept: np.ndarray | None, seconds: float) -> None:
        """CP-SAT on the whole part, each centre offered its nearest venues, from the best
        layout: CP-SAT's own neighbourhood search over the whole part moves venues
        and members across many clusters at once, where the neighbourhood search
        re-forms a few at a time."""
        t = time.perf_counter()
        bounds = self.bounds if kept is None else replace(self.bounds, allowed=kept)
        result = cpsat.solve_cpsat(
            self.costs,
            bounds,
            scale=self.scale,
            hint=self.venue_of,
            candidates=RESTRICTED_CANDIDATES,
            time_limit=self.budget(seconds),
            workers=self.workers,
            seed=self.seed,
            lower_bound=self.lower,
            stop_gap=self.gap_target,
            progress=lambda e: self.report("cp-sat", e.objective, self.lower),
            objective=self.objective,
            clock=self.clock,
        )
        self.stats.update(
            restricted_status=result.status, restricted_seconds=time.perf_counter() - t
        )
        if result.venue_of is not None and not self.bounds.violations(result.venue_of):
            value = self.objective.cost(self.costs, result.venue_of)
            if value < self.upper:
                self.venue_of, self.upper = result.venue_of, value

    def search_every_core(self, seconds: float | None = None) -> None:
        """Exact re-solves of neighbouring clusters on every core (default: the time left)."""
        self.venue_of, lns_stats = lns.improve(
            self.costs,
            self.bounds,
            self.venue_of,
            time_limit=self.left() if seconds is None else self.budget(seconds),
            workers=self.workers,
            clock=self.clock,
            **self._lns_args(),
        )
        _add_stats(self.stats, "lns_", lns_stats)
        self.upper = self.objective.cost(self.costs, self.venue_of)

    def exact_model(self, kept: np.ndarray | None) -> None:
        """CP-SAT on the pairs left open: a layout when none was found, a proof when small."""
        costs, objective, stats, lower = self.costs, self.objective, self.stats, self.lower
        full = self.full
        cp_bounds = self.bounds if kept is None else replace(self.bounds, allowed=kept)
        upper_before = self.upper
        hinted = self.venue_of is not None or self.hint is not None

        def run(candidates: int):
            return cpsat.solve_cpsat(
                costs,
                cp_bounds,
                scale=self.scale,
                hint=self.venue_of if self.venue_of is not None else self.hint,
                # a hint's neighbourhood is searched best in a small model
                candidates=candidates,
                # with a layout in hand, the time left; without one, at least 1 s
                time_limit=self.left() if self.venue_of is not None else max(self.left(), 1.0),
                # one worker with the full LP relaxation proves these models far faster
                # than two (the second core runs the neighbourhood search meanwhile)
                workers=1 if full else self.workers,
                seed=self.seed,
                lower_bound=lower,
                stop_gap=self.gap_target,
                progress=lambda e: self.report("cp-sat", e.objective, lower),
                objective=objective,
                # the search beside it refines each layout CP-SAT finds
                on_solution=None
                if self.concurrent is None
                else (lambda found: self.shared.offer(found, objective.cost(costs, found))),
                clock=self.clock,
            )

        result = run(self.n if full else (RESTRICTED_CANDIDATES if hinted else 24))
        if result.venue_of is None and hinted and not full and self.left() > 0.05:
            result = run(24)  # none among the nearest few: offer more
        stats.update(cpsat_status=result.status, cpsat_seconds=result.seconds)
        if result.venue_of is not None:
            # CP-SAT's bound is exact for floored member → venue costs, themes and
            # partnerships; contrast scores are rounded, so its bound is not used with them
            contrast = any(t.weight > 0 for t in objective.terms)
            if full and result.exact and result.restricted_bound is not None and not contrast:
                # layouts through closed venues cost at least the incumbent's total
                proved = min(result.restricted_bound, upper_before)
                self.lower = max(self.lower, rounded_bound(proved, self.integral))
            if self.venue_of is None or objective.cost(costs, result.venue_of) < self.upper:
                self.venue_of = result.venue_of
        elif self.venue_of is None:
            self._no_layout(result, full)

    def _no_layout(self, result, full: bool) -> None:
        """Raise why no layout was found: infeasible (with the rules in conflict), or time."""
        costs, bounds, seed, where = self.costs, self.bounds, self.seed, self.where()
        if result.status == "INFEASIBLE" and full and result.exact:
            raise InfeasibleError(explain_infeasible(costs, bounds, seed=seed, where=where))
        if result.status == "INFEASIBLE":
            advice = "no layout exists among each centre's 24 nearest venues; loosen the rules"
        else:
            advice = f"CP-SAT: {result.status}; raise the time limit or loosen the rules"
        raise SolverError(
            f"no layout found{where} in {self.time_limit:.3g} s ({advice})"
            + likely_conflict(costs, bounds, seed=seed)
        )

    # 4. polish and 5. a tighter bound ------------------------------------------

    def polish(self) -> None:
        """A last sweep of single swaps and moves catches what the neighbourhoods missed."""
        self.held = 0.0
        t = time.perf_counter()
        self.venue_of, swaps = exchange(
            self.costs,
            self.venue_of,
            self.objective,
            self.bounds,
            time_limit=self.budget(1.0),
            clock=self.clock,
        )
        self.stats.update(polish_moves=swaps, polish_seconds=time.perf_counter() - t)
        if swaps:
            self.stats["improved_at"] = time.perf_counter()

    def tighten_bound(self) -> None:
        """Time left over (the search converged early) tightens the bound."""
        remaining = self.left()
        self.upper = self.objective.cost(self.costs, self.venue_of)
        arc_upper = heuristic.layout_cost(self.arc, self.venue_of)
        if remaining > 0.5 and self.open_gap() and arc_upper > 0:
            more = bound.lagrangian_bound(
                self.bound_costs,
                self.bounds,
                arc_upper,
                start=self.lb.multipliers,
                time_limit=remaining - 0.3,
                clock=self.clock,
            )
            tighter = rounded_bound(more.value, self.integral)
            if tighter > self.lower:
                self.lower = tighter
                self.report("bound", self.upper, self.lower)
            self.stats["bound_iterations"] += more.iterations


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
