"""Exact sub-solves with the MIP solver bundled in OR-Tools (HiGHS).

Capacitated p-median neighbourhoods have a strong LP relaxation, so an
LP-based branch and bound proves them optimal far faster than CP-SAT does
(see ``bench/``); LNS uses this for its small exact re-solves.
"""

from __future__ import annotations

import numpy as np
from ortools.linear_solver import pywraplp

from .spec import Bounds

__all__ = ["solve_mip"]


def solve_mip(
    costs: np.ndarray,
    bounds: Bounds,
    *,
    scale: float,
    hint: np.ndarray | None = None,
    time_limit: float = 2.0,
    candidates: int | None = None,
) -> np.ndarray | None:
    """Optimal ``venue_of`` for a small instance, or ``None`` if none was found in time."""
    n = costs.shape[0]
    solver = pywraplp.Solver.CreateSolver("HIGHS")
    if solver is None:  # pragma: no cover - HiGHS ships with OR-Tools wheels
        return None
    solver.SuppressOutput()
    solver.SetSolverSpecificParametersAsString("output_flag=false\nlog_to_console=false\n")
    solver.SetTimeLimit(int(max(time_limit, 0.05) * 1000))
    k = n if candidates is None else min(candidates, n)
    near = np.argsort(costs, axis=1)[:, :k]
    unit = np.rint(costs * scale)
    x = {}
    members_of: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        cand = set(near[i].tolist()) | {i}
        if hint is not None:
            cand.add(int(hint[i]))
        for j in cand:
            x[i, j] = solver.BoolVar(f"x_{i}_{j}")
            members_of[j].append(i)
    for i in range(n):
        solver.Add(solver.Sum([x[i, j] for j in range(n) if (i, j) in x]) == 1)
    for (i, j), var in x.items():
        if i != j:
            solver.Add(var <= x[j, j])
    for j in range(n):
        size = solver.Sum([x[i, j] for i in members_of[j]])
        solver.Add(size >= bounds.min_size * x[j, j])
        solver.Add(size <= bounds.max_size * x[j, j])
        if bounds.weights is not None:
            load = solver.Sum([float(bounds.weights[i]) * x[i, j] for i in members_of[j]])
            if bounds.min_weight > 0:
                solver.Add(load >= bounds.min_weight * x[j, j])
            if np.isfinite(bounds.max_weight):
                solver.Add(load <= bounds.max_weight * x[j, j])
    solver.Add(solver.Sum([x[j, j] for j in range(n)]) == bounds.n_clusters)
    solver.Minimize(solver.Sum([float(unit[i, j]) * var for (i, j), var in x.items()]))
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    venue_of = np.empty(n, dtype=np.int64)
    for (i, j), var in x.items():
        if var.solution_value() > 0.5:
            venue_of[i] = j
    return venue_of
