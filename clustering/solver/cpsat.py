"""The CP-SAT model: choose venues and assign members, within size bounds.

Data → variables → constraints → objective → solve → read, as in the OR-Tools
samples. Each centre may join only its ``candidates`` nearest venues (plus the
venue a warm start gives it), which keeps the model to ``n × k`` booleans; the
bound CP-SAT proves is therefore for this restricted model only, and the
engine reports the Lagrangian bound of the whole problem instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from ..model.objective import Objective
from ..model.sizes import Bounds
from ..model.terms import CpSatModel
from .clock import Clock
from .progress import Progress

__all__ = ["CpSatResult", "diagnose", "solve_cpsat"]


@dataclass(frozen=True)
class CpSatResult:
    venue_of: np.ndarray | None
    status: str
    objective: float | None
    restricted_bound: float | None
    seconds: float
    solutions: int
    #: the weight bounds were modelled exactly (else they were tightened, and
    #: ``restricted_bound`` is not a bound on the real problem)
    exact: bool = True
    #: of ``seconds``, the time spent building the model in Python (the rest is CP-SAT's)
    build_seconds: float = 0.0


class _Watcher(cp_model.CpSolverSolutionCallback):
    def __init__(self, scale, lower_bound, stop_gap, progress, t0, on_solution=None, read=None):
        super().__init__()
        self.scale, self.lower_bound, self.stop_gap = scale, lower_bound, stop_gap
        self.progress, self.t0, self.solutions = progress, t0, 0
        self.on_solution, self.read = on_solution, read

    def on_solution_callback(self) -> None:
        self.solutions += 1
        objective = self.ObjectiveValue() / self.scale
        if self.on_solution is not None:
            self.on_solution(self.read(self.boolean_value))
        if self.progress is not None:
            self.progress(
                Progress(time.perf_counter() - self.t0, objective, self.lower_bound, "cp-sat")
            )
        if objective - self.lower_bound <= self.stop_gap * objective:
            self.StopSearch()


def candidate_venues(
    costs: np.ndarray,
    k: int,
    hint: np.ndarray | None,
    allowed: np.ndarray | None = None,
    together: tuple[np.ndarray, ...] = (),
) -> list[np.ndarray]:
    """Each centre's ``k`` cheapest allowed venues (itself included), plus its hinted venue.

    Members of a must-link group share their candidates: the venues offered
    to any of them that every one of them may use.
    """
    n = costs.shape[0]
    k = min(k, n)
    near = np.argpartition(costs, k - 1, axis=1)[:, :k]
    sets = []
    for i in range(n):
        cand = set(near[i].tolist())
        cand.add(i)
        if hint is not None:
            cand.add(int(hint[i]))
        if allowed is not None:
            cand = {j for j in cand if allowed[i, j]}
        sets.append(cand)
    for group in together:
        shared = set().union(*(sets[int(i)] for i in group))
        if allowed is not None:
            shared = {j for j in shared if allowed[group, j].all()}
        for i in group:
            sets[int(i)] = shared
    # a venue must be able to meet at itself
    usable = {j for j in range(n) if j in sets[j]}
    return [np.fromiter(sorted(c & usable), dtype=np.int64) for c in sets]


def solve_cpsat(
    costs: np.ndarray,
    bounds: Bounds,
    *,
    scale: float,
    hint: np.ndarray | None = None,
    candidates: int = 24,
    time_limit: float = 20.0,
    workers: int = 2,
    seed: int = 0,
    lower_bound: float = 0.0,
    stop_gap: float = 1e-4,
    progress: Callable[[Progress], None] | None = None,
    linearization_level: int = 2,
    objective: Objective | None = None,
    stop: threading.Event | None = None,
    on_solution: Callable[[np.ndarray], None] | None = None,
    clock: Clock | None = None,
) -> CpSatResult:
    """Solve the restricted capacitated p-median with CP-SAT.

    Parameters
    ----------
    costs
        ``(n, n)`` member → venue costs; scaled by ``scale`` and rounded to integers.
    hint
        A feasible ``venue_of`` to start from.
    candidates
        How many nearest venues each centre may join.
    lower_bound
        A valid bound (cost units) used for progress and to stop at ``stop_gap``.
    objective
        Every weighted term, for these centres (``Objective.restricted`` for a
        sub-problem); without it the objective is travel alone. A weighted term
        with no CP-SAT encoding is left out, and the status is then at best
        ``FEASIBLE`` (see ``_objective_terms``).
    stop
        An event that, once set (from another thread), ends the search early
        with the best layout found so far.
    on_solution
        Called with each improving layout (``venue_of``) as CP-SAT finds it, e.g.
        to share it with a search running beside this one.
    clock
        The clock ``time_limit`` is counted on (deterministic time or seconds);
        the solve is charged to it.
    linearization_level
        2 gives CP-SAT the full LP relaxation, which is strong for p-median
        models: on Hampshire neighbourhoods of 4–5 clusters it proved optimality
        about 6× faster than the default with one worker.
    """
    t0 = time.perf_counter()
    n = costs.shape[0]
    cand = candidate_venues(costs, candidates, hint, bounds.allowed, bounds.together)
    if any(len(c) == 0 for c in cand):
        # with every venue a candidate, a centre left without one is a proof: no layout
        # meets the rules (e.g. a must-link group whose members share no allowed venue)
        proof = candidates >= n
        return CpSatResult(None, "INFEASIBLE", None, None, time.perf_counter() - t0, 0, proof)
    # floor: every layout's integer total is at most its true total, so the
    # bound CP-SAT proves on integers is a valid bound on the true totals too
    arc = costs if objective is None else objective.arc_costs(costs)
    unit = np.floor(arc * scale).astype(np.int64)

    model = cp_model.CpModel()
    x, members_of = _variables(model, cand)

    # constraints
    exact = _add_rules(model, x, cand, members_of, bounds)

    # objective
    terms = [sum(int(unit[i, j]) * var for (i, j), var in x.items())]
    terms_left_out = False
    if objective is not None:
        more, terms_left_out = _objective_terms(model, x, cand, members_of, objective, scale)
        terms += more
    model.minimize(sum(terms))

    if hint is not None:
        for (i, j), var in x.items():
            model.add_hint(var, int(hint[i]) == j)

    solver = cp_model.CpSolver()
    clock = clock or Clock()
    budget = float(time_limit)
    if not clock.deterministic:
        # building the model (seconds on large neighbourhoods) counts against the limit
        budget -= time.perf_counter() - t0
    clock.limit_cpsat(solver.parameters, max(0.1, budget))
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    solver.parameters.linearization_level = int(linearization_level)
    # Ctrl-C is Python's to handle (it stops the whole solve, see run_solver), not
    # CP-SAT's: its own handler would end this one call only
    solver.parameters.catch_sigint_signal = False

    def read(value) -> np.ndarray:
        venue_of = np.empty(n, dtype=np.int64)
        for i in range(n):
            venue_of[i] = next(int(j) for j in cand[i] if value(x[i, int(j)]))
        return venue_of

    watcher = _Watcher(scale, lower_bound, stop_gap, progress, t0, on_solution, read)
    built = time.perf_counter() - t0
    # the caller's stop and the solve's (a stop button, Ctrl-C in the CLI)
    status = run_solver(solver, model, watcher, [e for e in (stop, clock.stop) if e is not None])
    # building the model reads about one element per variable and term
    clock.work(elements=10 * len(x))
    clock.charge_cpsat(solver.deterministic_time)
    name = solver.status_name(status)
    if terms_left_out and status == cp_model.OPTIMAL:
        name = "FEASIBLE"  # optimal for the model without them only
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return CpSatResult(
            None, name, None, None, time.perf_counter() - t0, watcher.solutions, exact, built
        )
    venue_of = read(solver.boolean_value)
    return CpSatResult(
        venue_of,
        name,
        solver.objective_value / scale,
        solver.best_objective_bound / scale,
        time.perf_counter() - t0,
        watcher.solutions,
        exact,
        built,
    )


def run_solver(solver, model, callback=None, events=()) -> int:
    """``solver.solve(model, callback)``, ended early once any of ``events`` is set.

    From the main thread the search runs on a helper thread while the main
    thread waits, so that signal handlers run meanwhile (Python runs them in
    the main thread only, between its own steps): a handler that sets a stop
    event ends the search within 20 ms, and one that raises (a second Ctrl-C:
    ``KeyboardInterrupt``) stops the search before the exception goes on.
    """
    events = [e for e in events if e is not None]
    main = threading.current_thread() is threading.main_thread()
    if not events and not main:
        return solver.solve(model, callback)
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def search() -> None:
        try:
            outcome["status"] = solver.solve(model, callback)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    def watch() -> None:
        while not done.wait(0.02):
            if any(e.is_set() for e in events):
                solver.stop_search()
                return

    if main:
        helper = threading.Thread(target=search, name="cp-sat", daemon=True)
        helper.start()
        try:
            watch()
            done.wait()
        except BaseException:
            solver.stop_search()
            helper.join()
            raise
        helper.join()
    else:
        guard = threading.Thread(target=watch, daemon=True)
        guard.start()
        try:
            search()
        finally:
            done.set()
            guard.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["status"]


def _variables(model, cand: list[np.ndarray]):
    """``x[i, j]``: centre ``i`` meets at venue ``j`` (``x[j, j]``: ``j`` is a venue)."""
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    members_of: list[list[int]] = [[] for _ in range(len(cand))]
    for i, venues in enumerate(cand):
        for j in venues.tolist():
            x[i, j] = model.new_bool_var(f"x[{i},{j}]")
            members_of[j].append(i)
    return x, members_of


def diagnose(
    costs: np.ndarray,
    bounds: Bounds,
    *,
    candidates: int | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
) -> tuple[str, list[str]]:
    """Which families of rules conflict: a deletion filter over one literal per family.

    Each family (``"sizes"``, ``"weights"``, ``"count"``, ``"quota:<k>"``,
    ``"together"``, ``"apart"``, ``"allowed"``) is switched on by a literal.
    Starting from all of them, each family in turn is dropped; if the rest is
    still infeasible it stays dropped. What remains is a minimal conflicting
    set when every test is decided in time (each test gets full presolve,
    which proves these counting conflicts far faster than assumptions do).
    Returns ``"INFEASIBLE"`` and the set, or the status of the first test that
    was not proven infeasible and ``[]``. With ``candidates`` below ``n`` the
    proof holds for that restricted model only.
    """
    t0 = time.perf_counter()
    n = costs.shape[0]
    cand = candidate_venues(costs, candidates or n, None)
    model = cp_model.CpModel()
    x, members_of = _variables(model, cand)
    literals: dict[str, cp_model.IntVar] = {}

    def family(name: str):
        if name not in literals:
            literals[name] = model.new_bool_var(name)
        return literals[name]

    _add_rules(model, x, cand, members_of, bounds, family)
    tests = len(literals) + 1

    def infeasible(on: set[str]) -> str:
        test = model.clone()
        for name, var in literals.items():
            test.add(test.get_bool_var_from_proto_index(var.index) == (name in on))
        solver = cp_model.CpSolver()
        left = time_limit - (time.perf_counter() - t0)
        solver.parameters.max_time_in_seconds = max(0.05, left / tests)
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = int(seed)
        solver.parameters.catch_sigint_signal = False
        return solver.status_name(run_solver(solver, test))

    active = set(literals)
    status = infeasible(active)
    if status != "INFEASIBLE":
        return status, []
    for name in sorted(literals):
        if infeasible(active - {name}) == "INFEASIBLE":
            active.discard(name)
    return "INFEASIBLE", sorted(active)


def _add_rules(model, x, cand, members_of, bounds: Bounds, family=None) -> bool:
    """Every rule of ``bounds`` on the assignment ``x``; returns whether weights are exact.

    ``family(name)`` gives enforcement literals for a family of rules (used to
    find which rules conflict); without it every rule is unconditional.
    """

    def rule(ct, name: str) -> None:
        if family is not None:
            ct.only_enforce_if(family(name))

    n = len(cand)
    is_open = [x.get((j, j), 0) for j in range(n)]
    for i in range(n):
        model.add_exactly_one(x[i, int(j)] for j in cand[i])
        for j in cand[i]:
            if int(j) != i:
                model.add_implication(x[i, int(j)], is_open[int(j)])
    weights = bounds.weights
    weight_scale, exact = _weight_scale(bounds)
    if weights is not None:
        # conservative integers: a load counted high for the maximum and low for
        # the minimum, so every layout CP-SAT accepts meets the real bounds
        w_high = np.ceil(weights * weight_scale - 1e-9).astype(np.int64)
        w_low = np.floor(weights * weight_scale + 1e-9).astype(np.int64)
    venues = [j for j in range(n) if (j, j) in x]
    for j in venues:
        size = sum(x[i, j] for i in members_of[j])
        rule(model.add(size >= bounds.min_size * is_open[j]), "sizes")
        rule(model.add(size <= bounds.max_size * is_open[j]), "sizes")
        if weights is not None:
            if bounds.min_weight > 0:
                low = sum(int(w_low[i]) * x[i, j] for i in members_of[j])
                need = int(np.ceil(bounds.min_weight * weight_scale - 1e-9))
                rule(model.add(low >= need * is_open[j]), "weights")
            if np.isfinite(bounds.max_weight):
                high = sum(int(w_high[i]) * x[i, j] for i in members_of[j])
                room = int(np.floor(bounds.max_weight * weight_scale + 1e-9))
                rule(model.add(high <= room * is_open[j]), "weights")
    for q, (mask, q_lo, q_hi) in enumerate(bounds.quotas):
        name = f"quota:{q}"
        for j in venues:
            counted = sum(x[i, j] for i in members_of[j] if mask[i])
            if q_lo > 0:
                rule(model.add(counted >= q_lo * is_open[j]), name)
            if q_hi < bounds.max_size:
                rule(model.add(counted <= q_hi * is_open[j]), name)
    rule(model.add(sum(x[j, j] for j in venues) == bounds.n_clusters), "count")
    for group in bounds.together:
        first = int(group[0])
        for i in group[1:]:
            for j in set(cand[first].tolist()) | set(cand[int(i)].tolist()):
                a, b = x.get((first, j)), x.get((int(i), j))
                if a is None and b is None:
                    continue
                rule(model.add((0 if a is None else a) == (0 if b is None else b)), "together")
    for group in bounds.apart:
        for j in set().union(*(cand[int(i)].tolist() for i in group)):
            inside = [x[int(i), j] for i in group if (int(i), j) in x]
            if len(inside) > 1:
                rule(model.add_at_most_one(inside), "apart")
    if family is not None and bounds.allowed is not None:
        for (i, j), var in x.items():
            if not bounds.allowed[i, j]:
                rule(model.add(var == 0), "allowed")
    return exact


def _weight_scale(bounds: Bounds) -> tuple[int, bool]:
    """The smallest power of ten (up to 10⁴) making every weight and limit whole."""
    if bounds.weights is None:
        return 1, True
    values = np.concatenate(
        [bounds.weights, [v for v in (bounds.min_weight, bounds.max_weight) if np.isfinite(v)]]
    )
    for scale in (1, 10, 100, 1000, 10_000):
        scaled = values * scale
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-9 * scale):
            return scale, True
    return 10_000, False


def _objective_terms(model, x, cand, members_of, objective: Objective, scale: float):
    """Each term's own encoding (arc terms are in the member → venue costs already).

    A term without one is left out: the model then minimises a relaxation (every
    term is non-negative, so its bound stays a bound), and every layout it
    returns is re-priced with the whole objective by its caller. Returns the
    expressions and whether a weighted term was left out.
    """
    at = CpSatModel(model, x, cand, members_of, objective.travel_scale, scale)
    out, left_out = [], False
    for term in objective.all_terms:
        if term.arc:
            continue
        expr = term.cpsat(at)
        if expr is None:
            left_out = left_out or term.weight > 0
            continue
        out.append(expr)
    return out, left_out
