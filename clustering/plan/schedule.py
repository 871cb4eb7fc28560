"""Meeting dates with CP-SAT: the most members able to attend, spread through the year.

Meeting ``m`` of every cluster falls in the ``m``-th of ``N`` equal slices of the period
(so meetings are spread), on a day its host is open when the slice has one, and the
clusters that share a lead person never meet on the same day. Among those dates the
model maximises how many members are open, then prefers days near the slice's middle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from ..errors import InfeasibleError
from .cpsat import solve

__all__ = ["Schedule", "schedule_meetings", "slices"]

#: attendance counts this many times more than one day nearer the slice's middle
ATTEND = 1000


@dataclass(frozen=True)
class Schedule:
    """Chosen day indices ``day[c][m]`` and how good they are."""

    day: list[list[int]]
    attendance: int
    best_possible: int
    status: str
    bound: float
    seconds: float
    host_closed: list[tuple[int, int]]


def slices(days: list[dt.date], start: dt.date, end: dt.date, n: int) -> list[list[int]]:
    """Day indices of each of ``n`` equal slices of ``start..end``."""
    span = (end - start).days + 1
    out: list[list[int]] = [[] for _ in range(n)]
    for j, day in enumerate(days):
        out[min(n - 1, (day - start).days * n // span)].append(j)
    return out


def schedule_meetings(
    is_open: np.ndarray,
    clusters: list[np.ndarray],
    hosts: list[list[int]],
    windows: list[list[int]],
    leads: list[str],
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    workers: int = 2,
) -> Schedule:
    """Choose a day for every meeting of every cluster.

    Parameters
    ----------
    is_open
        ``(n_centres, n_days)`` open days.
    clusters
        Member rows of each cluster.
    hosts
        Host row of each cluster's meetings (``hosts[c][m]``).
    windows
        Allowed day indices of meeting ``m`` (one list per meeting).
    leads
        The person or school leading each cluster: clusters with the same lead never
        meet on the same day.
    """
    n_meetings = len(windows)
    for m, window in enumerate(windows):
        if not window:
            raise InfeasibleError(
                f"slice {m + 1} of {n_meetings} of the period has no day to meet. Fix: "
                "lengthen the period, allow more weekdays or plan fewer meetings"
            )
    attend = [is_open[members].sum(axis=0).astype(int) for members in clusters]
    model = cp_model.CpModel()
    x: dict[tuple[int, int, int], cp_model.IntVar] = {}
    host_closed = []
    objective = []
    best_possible = 0
    hint_days: dict[tuple[int, int], int] = {}
    for c in range(len(clusters)):
        for m, window in enumerate(windows):
            host = hosts[c][m]
            allowed = [j for j in window if is_open[host, j]]
            if not allowed:  # the host is closed all slice: any day, reported
                allowed = list(window)
                host_closed.append((c, m))
            middle = window[len(window) // 2]
            row = []
            for j in allowed:
                var = model.new_bool_var(f"x{c}_{m}_{j}")
                x[c, m, j] = var
                row.append(var)
                objective.append((ATTEND * int(attend[c][j]) - abs(j - middle), var))
            model.add_exactly_one(row)
            best = max(allowed, key=lambda j: (attend[c][j], -abs(j - middle)))
            hint_days[c, m] = best
            best_possible += int(attend[c][best])
    groups: dict[str, list[int]] = {}
    for c, lead in enumerate(leads):
        groups.setdefault(lead, []).append(c)
    for members in groups.values():
        if len(members) < 2:
            continue
        per_day: dict[int, list] = {}
        for (c, _m, j), var in x.items():
            if c in members:
                per_day.setdefault(j, []).append(var)
        for vars_ in per_day.values():
            if len(vars_) > 1:
                model.add_at_most_one(vars_)
    model.maximize(sum(w * v for w, v in objective))
    for (c, m, j), var in x.items():
        model.add_hint(var, hint_days[c, m] == j)
    solver, status, found = solve(model, time_limit, seed, workers)
    if not found:
        raise InfeasibleError(
            f"no dates found ({solver.status_name(status)}): a lead person has more "
            "meetings in a slice than the slice has days. Fix: give the clusters different "
            "leads, allow more weekdays or plan fewer meetings"
        )
    day = [[-1] * n_meetings for _ in clusters]
    for (c, m, j), var in x.items():
        if solver.value(var):
            day[c][m] = j
    attendance = sum(
        int(attend[c][day[c][m]]) for c in range(len(clusters)) for m in range(n_meetings)
    )
    return Schedule(
        day=day,
        attendance=attendance,
        best_possible=best_possible,
        status=solver.status_name(status).lower(),
        bound=float(solver.best_objective_bound),
        seconds=float(solver.wall_time),
        host_closed=host_closed,
    )
