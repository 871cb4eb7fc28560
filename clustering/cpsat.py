"""The CP-SAT model: choose venues and assign members, within size bounds.

Data → variables → constraints → objective → solve → read, as in the OR-Tools
samples. Each centre may join only its ``candidates`` nearest venues (plus the
venue a warm start gives it), which keeps the model to ``n × k`` booleans; the
bound CP-SAT proves is therefore for this restricted model only, and the
engine reports the Lagrangian bound of the whole problem instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from .objective import ContrastTerm, Objective
from .spec import Bounds

__all__ = ["CpSatResult", "Progress", "solve_cpsat"]


@dataclass(frozen=True)
class Progress:
    """One report from a running solve (objective and bounds in cost units)."""

    seconds: float
    objective: float
    lower_bound: float
    stage: str


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


class _Watcher(cp_model.CpSolverSolutionCallback):
    def __init__(self, scale, lower_bound, stop_gap, progress, t0):
        super().__init__()
        self.scale, self.lower_bound, self.stop_gap = scale, lower_bound, stop_gap
        self.progress, self.t0, self.solutions = progress, t0, 0

    def on_solution_callback(self) -> None:
        self.solutions += 1
        objective = self.ObjectiveValue() / self.scale
        if self.progress is not None:
            self.progress(
                Progress(time.perf_counter() - self.t0, objective, self.lower_bound, "cp-sat")
            )
        if objective - self.lower_bound <= self.stop_gap * objective:
            self.StopSearch()


def candidate_venues(costs: np.ndarray, k: int, hint: np.ndarray | None) -> list[np.ndarray]:
    """Each centre's ``k`` cheapest venues (itself included), plus its hinted venue."""
    n = costs.shape[0]
    k = min(k, n)
    near = np.argpartition(costs, k - 1, axis=1)[:, :k]
    out = []
    for i in range(n):
        cand = set(near[i].tolist())
        cand.add(i)
        if hint is not None:
            cand.add(int(hint[i]))
        out.append(np.fromiter(sorted(cand), dtype=np.int64))
    return out


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
    rows: np.ndarray | None = None,
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
        Travel weight and contrast terms; without it the objective is travel alone.
    rows
        Where these centres sit in the objective's arrays (for sub-problems).
    linearization_level
        2 gives CP-SAT the full LP relaxation, which is strong for p-median
        models: on Hampshire neighbourhoods of 4–5 clusters it proved optimality
        about 6× faster than the default with one worker.
    """
    t0 = time.perf_counter()
    n, p = costs.shape[0], bounds.n_clusters
    cand = candidate_venues(costs, candidates, hint)
    # floor: every layout's integer total is at most its true total, so the
    # bound CP-SAT proves on integers is a valid bound on the true totals too
    travel_weight = 1.0 if objective is None else objective.weights.travel
    unit = np.floor(costs * scale * travel_weight).astype(np.int64)

    model = cp_model.CpModel()
    # variables: x[i, j] = centre i meets at venue j; open[j] = x[j, j]
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    members_of: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in cand[i]:
            j = int(j)
            x[i, j] = model.new_bool_var(f"x[{i},{j}]")
            members_of[j].append(i)
    is_open = [x[j, j] for j in range(n)]

    # constraints
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
    for j in range(n):
        group = [x[i, j] for i in members_of[j]]
        size = sum(group)
        model.add(size >= bounds.min_size * is_open[j])
        model.add(size <= bounds.max_size * is_open[j])
        if weights is not None:
            if bounds.min_weight > 0:
                low = sum(int(w_low[i]) * x[i, j] for i in members_of[j])
                need = int(np.ceil(bounds.min_weight * weight_scale - 1e-9))
                model.add(low >= need * is_open[j])
            if np.isfinite(bounds.max_weight):
                high = sum(int(w_high[i]) * x[i, j] for i in members_of[j])
                room = int(np.floor(bounds.max_weight * weight_scale + 1e-9))
                model.add(high <= room * is_open[j])
    for mask, q_lo, q_hi in bounds.quotas:
        for j in range(n):
            counted = [x[i, j] for i in members_of[j] if mask[i]]
            if q_lo > 0:
                model.add(sum(counted) >= q_lo * is_open[j])
            if q_hi < bounds.max_size:
                model.add(sum(counted) <= q_hi * is_open[j])
    model.add(sum(is_open) == p)

    # objective
    terms = [sum(int(unit[i, j]) * var for (i, j), var in x.items())]
    if objective is not None and objective.has_contrast:
        picked = np.arange(n) if rows is None else rows
        for term in objective.terms:
            terms.append(_contrast(model, term, picked, members_of, x, objective, scale))
    model.minimize(sum(terms))

    if hint is not None:
        for (i, j), var in x.items():
            model.add_hint(var, int(hint[i]) == j)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, float(time_limit))
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    solver.parameters.linearization_level = int(linearization_level)
    watcher = _Watcher(scale, lower_bound, stop_gap, progress, t0)
    status = solver.solve(model, watcher)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return CpSatResult(
            None, name, None, None, time.perf_counter() - t0, watcher.solutions, exact
        )
    venue_of = np.empty(n, dtype=np.int64)
    for i in range(n):
        venue_of[i] = next(int(j) for j in cand[i] if solver.boolean_value(x[i, int(j)]))
    return CpSatResult(
        venue_of,
        name,
        solver.objective_value / scale,
        solver.best_objective_bound / scale,
        time.perf_counter() - t0,
        watcher.solutions,
        exact,
    )


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


def _contrast(model, term: ContrastTerm, picked, members_of, x, objective, scale):
    """Deviation of each possible cluster (one per venue) from the area's mix.

    ``dev[j, c] ≥ |Σ_i round(R·score[i, c]) · x[i, j]|``; the resolution ``R``
    keeps each unit of ``dev`` worth about ten units of the integer objective.
    """
    if term.weight <= 0:
        return 0
    per_unit = term.weight / objective.travel_scale * scale * term.factor
    resolution = int(np.clip(per_unit // 10, 1, 1000))
    coefficient = max(1, round(per_unit / resolution))
    scores = np.rint(term.scores[picked] * resolution).astype(np.int64)
    out = []
    for j, members in enumerate(members_of):
        for c in range(scores.shape[1]):
            total = sum(int(scores[i, c]) * x[i, j] for i in members if scores[i, c])
            if isinstance(total, int):
                continue
            top = int(np.abs(scores[members, c]).sum())
            dev = model.new_int_var(0, top, f"dev[{term.attribute},{j},{c}]")
            model.add(dev >= total)
            model.add(dev >= -total)
            out.append(dev)
    return coefficient * sum(out)
