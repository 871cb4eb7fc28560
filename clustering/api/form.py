"""Form clusters: the pipeline every entry point runs.

Compile the problem (:func:`clustering.model.problem.build_problem`) → solve it
(:func:`clustering.solver.solve`) → the layout → the independent checker
(:func:`clustering.analysis.check.check_layout`) → the baselines beside it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.check import check_layout
from ..analysis.quality import layout_quality, quality_budget
from ..errors import InputError
from ..input.load import Centres
from ..input.table import MAX_ROWS
from ..model.layout import Layout, cluster_labels
from ..model.objective import Weights
from ..model.problem import Problem, build_problem
from ..model.rules import Constraints
from ..model.scenario import DEFAULT_TIME_LIMIT, Scenario, scenario_centres
from ..model.sizes import SizeRule
from ..solver.clock import margin
from ..solver.engine import Solution, solve
from ..solver.progress import Progress, serialised
from .baselines import baselines_beside
from .provenance import versions

__all__ = [
    "MAX_CENTRES",
    "SUPPORTED_CENTRES",
    "form_clusters",
    "run_scenario",
    "stop_on_interrupt",
]

#: centres up to which forming clusters is measured and supported (all of England's
#: ~24,000 schools with baselines and explanations: bench/README.md, "Time limits
#: and memory at national scale")
SUPPORTED_CENTRES = 30_000

#: centres beyond which :func:`form_clusters` refuses, before solving: the solve's
#: memory and time grow with the centres, and so many are better split by area; the
#: same limit as a centres file's rows (:data:`clustering.input.table.MAX_ROWS`)
MAX_CENTRES = MAX_ROWS


def form_clusters(
    centres: Centres,
    rule: SizeRule | None = None,
    *,
    distances: str | Path | pd.DataFrame | None = None,
    weights: Weights | None = None,
    constraints: Constraints | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    seed: int = 0,
    workers: int = 2,
    gap_target: float = 1e-4,
    progress: Callable[[Progress], None] | None = None,
    baselines: bool = True,
    start: Layout | None = None,
    deterministic: bool = False,
    stop: threading.Event | None = None,
    quality: bool | None = None,
) -> Layout:
    """Form clusters of ``centres`` that meet ``rule`` and ``constraints`` at least cost.

    Every cluster meets at a venue that is one of its members; the objective is
    the total member → venue distance (a capacitated p-median), plus the
    weighted contrast, themes, partnership, stability and boundary terms that
    ``weights`` asks for.

    Parameters
    ----------
    centres
        Validated centres from :func:`clustering.load_centres`.
    rule
        Sizes (default 8–12), optional weight bounds, cluster count and quotas.
    distances
        A travel-time or distance matrix file (see
        :func:`clustering.model.costs.read_cost_matrix`); straight lines otherwise.
        A square ``DataFrame`` indexed (rows and columns) by centre id is
        accepted too. Centres missing from the matrix are excluded with that
        reason.
    weights
        The weight of each part of the objective (see :class:`clustering.Weights`);
        travel alone by default.
    constraints
        Links, partnerships, coordinators, maximum distance, boundary, consent,
        exclusions and the previous layout with its locks (see
        :class:`clustering.Constraints`).
    time_limit
        Seconds for the whole solve: compiling the problem, construction, bound
        and improvement share one deadline, kept to within
        ``max(2 s, 5 %)`` (:func:`clustering.solver.clock.margin`; each part of
        the problem still gets its first layout once time is up). The
        independent checker and the baselines run after it and are not counted
        (``stats["seconds"]`` is the solve, ``stats["check_seconds"]`` the checker).
    seed
        Seeds every random choice.
    workers
        CP-SAT search workers.
    gap_target
        Stop early once the gap to the lower bound is at most this fraction.
    progress
        Called with objective and bound as they improve (from worker threads,
        one call at a time; :class:`clustering.Progress` says which boundary area
        a report speaks for in ``area``, ``None`` for the whole).
    baselines
        Also form the layouts people would otherwise use — geography only (the
        same rules, travel weight alone; given a third of ``time_limit`` more),
        k-means with size bounds, and existing districts as clusters — and put
        them beside this one in ``Layout.baselines``.
    start
        A layout to start from (e.g. the one before a weight changed): where it
        meets every rule for the centres of a part, the search starts there
        instead of from a new construction.
    deterministic
        The same centres, settings and seed give the same layout whatever the
        machine and its load: one CP-SAT worker, no search on a thread beside
        the others, and ``time_limit`` counted in solver work (CP-SAT's
        deterministic time and the heuristics' charged work) instead of
        seconds. A deterministic second is of the order of a wall-clock second.
    stop
        An event another thread (or a signal handler: Ctrl-C in the CLI) may
        set to end the search early (an app's stop button): the best layout
        found so far is checked and returned, with ``status`` ``"stopped"``
        (unless it is proven optimal) and ``stats["stopped"]`` true, and
        baselines are not formed.
    quality
        Measure each weighted part of the objective against its own reference
        (:func:`clustering.layout_quality`, kept in ``layout.stats["quality"]``):
        the proven per-part bounds always; the best-found references (the engine
        with each part alone, :func:`clustering.analysis.quality.quality_budget`:
        half of ``time_limit`` for all of them, ``stats["quality_seconds"]``)
        by default only when some part besides travel has weight and
        ``baselines`` are formed (a lean run asks for neither). ``False`` skips
        those runs; ``True`` makes them whatever the weights.

    Returns
    -------
    Layout
        A layout that has passed :func:`clustering.check_layout`.

    Raises
    ------
    InputError
        More than :data:`MAX_CENTRES` centres (split them by area first).
    InfeasibleError
        The rules cannot all hold for these centres (the message says which).
    SolverError
        No layout was found within the time limit.

    Examples
    --------
    >>> import clustering
    >>> centres = clustering.load_centres("data/sample/surrey_primary_schools_2022.csv")
    >>> layout = clustering.form_clusters(centres, clustering.SizeRule(8, 12), time_limit=3)
    >>> layout.n_clusters, layout.objective >= layout.lower_bound
    (30, True)
    """
    rule = rule or SizeRule()
    constraints = constraints or Constraints()
    _check_settings(time_limit=time_limit, seed=seed, workers=workers, gap_target=gap_target)
    _check_size(len(centres))
    if deterministic:
        workers = 1
    progress = serialised(progress)
    t0 = time.perf_counter()
    problem = build_problem(
        centres, rule, distances=distances, weights=weights, constraints=constraints
    )
    solution = solve(
        problem,
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        gap_target=gap_target,
        progress=progress,
        start=_start_rows(start, problem),
        started=t0,
        deterministic=deterministic,
        stop=stop,
    )
    params = {
        "rule": rule.to_dict(),
        "weights": problem.objective.weights.to_dict(),
        "constraints": constraints.to_dict(),
        "n_clusters": solution.n_clusters,
        "distances": _distances_label(distances),
        "time_limit": time_limit,
        "seed": seed,
        "workers": workers,
        "deterministic": deterministic,
        "gap_target": gap_target,
        "source": problem.centres.source,
        "schema": problem.centres.schema,
        "crs": problem.frame.crs.to_string() if problem.frame.crs is not None else None,
        "versions": versions(),
    }
    layout = _layout(problem, solution, params)
    stats = layout.stats
    stats["objective_parts"] = problem.objective.parts(problem.costs.matrix, solution.venue_of)
    stats["seconds"] = time.perf_counter() - t0
    stats["time_limit_margin"] = margin(time_limit)
    # the checker reads the matrix file itself, not the engine's parsed copy
    t_check = time.perf_counter()
    check = check_layout(
        layout,
        rule,
        input_ids=problem.input_ids,
        matrix=distances,
        weights=problem.objective.weights,
        constraints=constraints,
    )
    check.raise_if_failed()
    stats["check_seconds"] = time.perf_counter() - t_check
    layout.objective = check.recomputed_objective
    stats["checker"] = "passed"
    stats["stopped"] = stop is not None and stop.is_set()
    if layout.gap <= 1e-9:
        layout.status = "optimal"
    else:
        layout.status = "stopped" if stats["stopped"] else "feasible"
    if progress is not None:
        progress(Progress(time.perf_counter() - t0, layout.objective, layout.lower_bound, "done"))
    if baselines and not stats["stopped"]:
        t = time.perf_counter()
        layout.baselines = baselines_beside(
            layout,
            centres,
            lambda given, start: form_clusters(
                given,
                rule,
                distances=distances,
                constraints=constraints,
                time_limit=max(1.0, time_limit / 3),
                seed=seed,
                workers=workers,
                baselines=False,
                quality=False,
                start=start,
                deterministic=deterministic,
                stop=stop,
            ),
            seed=seed,
        )
        stats["baseline_seconds"] = time.perf_counter() - t
        if stop is not None and stop.is_set():  # stopped while they were formed
            layout.baselines = None
            stats["baselines"] = "stopped before they were formed"
    stopped = stop is not None and stop.is_set()
    # by default the reference runs go with the baselines: a lean run (a sweep's task,
    # a quick re-solve) asks for neither; None lets layout_quality look at the weights
    references = quality if quality is not None else (None if baselines else False)
    t = time.perf_counter()
    stats["quality"] = layout_quality(
        layout,
        references=False if stopped else references,
        time_limit=quality_budget(time_limit),
        seed=seed,
        workers=workers,
        stop=stop,
    ).to_dict()
    stats["quality_seconds"] = time.perf_counter() - t
    return layout


@contextlib.contextmanager
def stop_on_interrupt(
    stop: threading.Event, notice: Callable[[], None] | None = None
) -> Iterator[threading.Event]:
    """While inside: the first Ctrl-C (SIGINT) sets ``stop``, the second interrupts.

    For a command line around :func:`form_clusters` (``stop=stop``): the first
    Ctrl-C ends the search, and the best layout so far is checked and returned
    (``status`` ``"stopped"``), to be written as usual; ``notice`` is called
    then (e.g. to print that it is stopping). A second Ctrl-C raises
    ``KeyboardInterrupt`` as usual, so nothing is written. Outside the main
    thread (where signal handlers cannot be set) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if notice is not None:
            notice()

    signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def run_scenario(
    scenario: Scenario,
    *,
    centres: Centres | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> Layout:
    """Form clusters as the scenario says (loading its centres unless they are given).

    ``progress`` and ``stop`` are passed to :func:`form_clusters`.

    Examples
    --------
    >>> import clustering
    >>> scenario = clustering.load_scenario("data/sample/hampshire.toml")
    >>> layout = clustering.run_scenario(scenario.with_overrides(time_limit=5))
    >>> layout.n_clusters
    43
    """
    return form_clusters(
        centres if centres is not None else scenario_centres(scenario),
        scenario.sizes,
        distances=scenario.distances,
        weights=scenario.weights,
        constraints=scenario.constraints,
        time_limit=scenario.time_limit,
        seed=scenario.seed,
        workers=scenario.workers,
        gap_target=scenario.gap_target,
        progress=progress,
        deterministic=scenario.deterministic,
        stop=stop,
        quality=scenario.quality,
    )


def _layout(problem: Problem, solution: Solution, params: dict) -> Layout:
    """The solution as a table of the centres taking part (checked next)."""
    frame = problem.frame.copy()
    venue_of, n = solution.venue_of, problem.n
    frame["cluster"] = cluster_labels(venue_of, frame, problem.constraints.previous)
    frame["is_venue"] = venue_of == np.arange(n)
    frame["distance"] = problem.costs.matrix[np.arange(n), venue_of]
    frame["coordinator"] = solution.coordinator
    return Layout(
        centres=frame,
        excluded=problem.centres.excluded.reset_index(drop=True),
        objective=problem.objective.cost(problem.costs.matrix, venue_of),
        lower_bound=float(solution.lower_bound),
        unit=problem.costs.unit,
        status="feasible",
        params=params,
        stats=solution.stats,
        source=problem.centres.source,
        problem=problem,
    )


def _start_rows(start: Layout | None, problem: Problem) -> np.ndarray | None:
    """``start`` as each centre's venue row (``-1`` where it says nothing)."""
    if start is None:
        return None
    given = start.centres
    venues = given["is_venue"].astype(bool)
    venue_id = dict(
        zip(given.loc[venues, "cluster"], given.loc[venues, "centre_id"].astype(str), strict=True)
    )
    cluster = dict(zip(given["centre_id"].astype(str), given["cluster"], strict=True))
    ids = problem.frame["centre_id"].astype(str).to_numpy()
    row = {cid: k for k, cid in enumerate(ids)}
    return np.array([row.get(venue_id.get(cluster.get(cid)), -1) for cid in ids], dtype=np.int64)


def _check_size(n: int) -> None:
    """Refuse more than :data:`MAX_CENTRES` centres before any work is done."""
    if n > MAX_CENTRES:
        raise InputError(
            f"{n:,} centres are more than the {MAX_CENTRES:,} this engine takes in one "
            f"solve (measured and supported up to {SUPPORTED_CENTRES:,})",
            fix=(
                "split the centres by area (one file per value of the column --boundary "
                "would use, e.g. the local authority) and form each, or try a sample first"
            ),
        )


def _check_settings(*, time_limit: float, seed: int, workers: int, gap_target: float) -> None:
    checks = [
        ("time_limit", time_limit, np.isfinite(time_limit) and time_limit > 0, "a value above 0 s"),
        ("seed", seed, float(seed).is_integer() and seed >= 0, "a whole number, 0 or more"),
        (
            "workers",
            workers,
            float(workers).is_integer() and workers >= 1,
            "a whole number, 1 or more",
        ),
        ("gap_target", gap_target, 0 <= gap_target < 1, "a fraction from 0 up to (not) 1"),
    ]
    for name, value, ok, want in checks:
        if not ok:
            raise InputError(f"{name} {value!r} is not allowed", fix=f"use {want}")


def _distances_label(distances) -> str:
    if distances is None:
        return "straight line (metres)"
    if isinstance(distances, pd.DataFrame):
        return f"a {len(distances)} x {len(distances.columns)} matrix given in memory"
    return str(distances)
