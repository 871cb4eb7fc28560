"""The CP-SAT solver the plan's models share: a time limit, a worker count and a seed."""

from __future__ import annotations

from ortools.sat.python import cp_model

__all__ = ["solve"]


def solve(
    model: cp_model.CpModel, time_limit: float, seed: int, workers: int
) -> tuple[cp_model.CpSolver, int, bool]:
    """Solve ``model``; the solver, its status and whether a solution was found."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    status = solver.solve(model)
    return solver, status, status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
