"""Form clusters: the engine's one entry point.

Pipeline: resolve the size rule (cheap infeasibility checks) → costs →
construction (k-means venues + min-cost-flow assignment) → Lagrangian lower
bound of the whole problem → improvement (large-neighbourhood search with
exact CP-SAT re-solves; for parts small enough, kernel search and CP-SAT on
the whole model beside it on the other core) → the independent checker →
:class:`~clustering.layout.Layout`.
"""

from __future__ import annotations

import platform
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from . import bound, cpsat, heuristic, lns
from .baselines import GEOGRAPHY_ONLY, compare, district_venues, kmeans_constrained_venues
from .check import check_layout
from .costs import Costs, euclidean_costs, matrix_costs, read_cost_matrix
from .cpsat import Progress
from .errors import InfeasibleError, InputError, SolverError
from .exchange import exchange
from .kernel import Incumbent, kernel_search
from .layout import Layout, venue_labels
from .load import Centres
from .objective import Objective, Weights, build_objective
from .rules import Constraints, compile_rules, coordinator_of, eligible
from .spec import Bounds, Quota, SizeRule, resolve

__all__ = ["Progress", "form_clusters"]

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
#: centres above which a part is cut into areas solved one by one (memory and
#: time grow as the square of a part's size)
PART_MAX = 2000


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("clustering", "ortools", "numpy", "pandas", "geopandas", "scikit-learn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def form_clusters(
    centres: Centres,
    rule: SizeRule | None = None,
    *,
    distances: str | Path | pd.DataFrame | None = None,
    weights: Weights | None = None,
    constraints: Constraints | None = None,
    time_limit: float = 30.0,
    seed: int = 0,
    workers: int = 2,
    gap_target: float = 1e-4,
    progress: Callable[[Progress], None] | None = None,
    baselines: bool = True,
    start: Layout | None = None,
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
    weights
        The weight of each part of the objective (see :mod:`clustering.objective`);
        travel alone by default.
    constraints
        Links, partnerships, coordinators, maximum distance, boundary, consent,
        exclusions and the previous layout with its locks (see
        :class:`clustering.rules.Constraints`).
    distances
        A travel-time or distance matrix file (see
        :func:`clustering.costs.read_cost_matrix`); straight lines otherwise.
        A square ``DataFrame`` indexed (rows and columns) by centre id is
        accepted too. Centres missing from the matrix are excluded with that
        reason.
    time_limit
        Seconds for the whole solve (construction, bound and improvement).
    seed
        Seeds every random choice; the same inputs and seed give the same
        layout when ``workers == 1``.
    workers
        CP-SAT search workers.
    gap_target
        Stop early once the gap to the lower bound is at most this fraction.
    progress
        Called with objective and bound as they improve.
    baselines
        Also form the layouts people would otherwise use — geography only (the
        same rules, travel weight alone; given a third of ``time_limit`` more),
        k-means with size bounds, and existing districts as clusters — and put
        them beside this one in ``Layout.baselines``.
    start
        A layout to start from (e.g. the one before a weight changed): where it
        meets every rule for the centres of a part, the search starts there
        instead of from a new construction.

    Returns
    -------
    Layout
        A layout that has passed :func:`clustering.check_layout`.

    Raises
    ------
    InfeasibleError
        The rules cannot all hold for these centres (the message says which).
    SolverError
        No layout was found within the time limit.
    """
    rule = rule or SizeRule()
    constraints = constraints or Constraints()
    _check_settings(time_limit=time_limit, seed=seed, workers=workers, gap_target=gap_target)
    t0 = time.perf_counter()
    given = centres
    input_ids = centres.frame["centre_id"].tolist() + centres.excluded["centre_id"].tolist()
    centres = _exclusions(centres, constraints, set(map(str, input_ids)))
    if rule.size_by is not None:
        centres = _require_weights(centres, rule.size_by)
    centres, costs = _costs(centres, distances)
    frame = centres.frame
    n = len(frame)
    if n == 0:
        raise InfeasibleError("there are no centres to cluster (all were excluded)")
    compiled = compile_rules(
        frame,
        constraints,
        costs=costs.matrix,
        unit=costs.unit,
        known_ids=set(map(str, input_ids)),
        max_size=rule.max_size,
        min_size=rule.min_size,
    )
    objective = build_objective(
        frame,
        weights,
        unit=costs.unit,
        source=centres.source,
        pairs=compiled.pairs,
        moved=compiled.moved,
        crossings=compiled.crossings,
    )
    scale = costs.integer_scale()
    loads = None if rule.size_by is None else frame[rule.size_by].to_numpy(dtype=float)
    masks = _quota_masks(centres, rule)
    quotas = list(rule.quotas)
    if compiled.coordinators is not None:
        quotas.append(
            Quota(
                "coordinator",
                "eligible",
                1,
                None,
                about=f"a willing coordinator ({constraints.coordinator})",
            )
        )
        masks.append(compiled.coordinators)
    hard = Bounds(
        n,
        rule.min_size,
        rule.max_size,
        0,
        allowed=compiled.allowed,
        together=tuple(compiled.together),
        apart=tuple(compiled.apart),
    )
    xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
    stats: dict[str, Any] = {"n_centres": n}
    if compiled.notes:
        stats["notes"] = list(compiled.notes)

    # locked clusters keep their members and venue; the rest is solved in parts
    venue_of = np.full(n, -1, dtype=np.int64)
    locked = _locked_clusters(frame, constraints, rule, masks, quotas, loads, compiled)
    for members, venue in locked.values():
        venue_of[members] = venue
    free = np.flatnonzero(venue_of < 0)
    rule_free = replace(rule, quotas=tuple(quotas))
    if rule.n_clusters is not None:
        rule_free = replace(rule_free, n_clusters=rule.n_clusters - len(locked))
    parts = _parts(frame, free, compiled.regions, rule_free, constraints.boundary, loads, masks)
    lower = float(sum(objective.arc_at(costs.matrix, m, v).sum() for m, v in locked.values()))
    stats["n_clusters"] = sum(b.n_clusters for _, _, b in parts) + len(locked)
    stats["parts"] = len(parts)
    if locked:
        stats["locked_clusters"] = sorted(locked)

    def report(stage: str, value: float, bound: float) -> None:
        if progress is not None:
            progress(Progress(time.perf_counter() - t0, value, bound, stage))

    budget = time_limit - (time.perf_counter() - t0)
    # a fixed cluster count shared among boundary areas: the areas' bounds hold for
    # that share only, so the bound comes from the whole free set instead, with
    # pairs across areas forbidden (valid whatever the share)
    shared = rule.n_clusters is not None and len(parts) > 1
    reserve = min(5.0, 0.1 * time_limit) if shared else 0.0
    parts = _split_large(parts, xy, rule_free, loads, masks)
    stats["areas"] = len(parts)
    multipliers = np.zeros(n)
    areas_of = Counter(part for *_, part in parts)
    cut = {part for part, count in areas_of.items() if count > 1}
    sizes = np.array([len(rows) for _, rows, _, _ in parts], dtype=float)
    for k, (name, rows, bounds, part) in enumerate(parts):
        left = time_limit - reserve - (time.perf_counter() - t0)
        share = max(left * sizes[k] / sizes[k:].sum(), min(1.0, left)) if len(parts) > 1 else left
        rules = hard.restricted(rows, 0)
        bounds = replace(bounds, allowed=rules.allowed, together=rules.together, apart=rules.apart)
        local, part_lower, part_stats, lam = _solve_part(
            costs.matrix[np.ix_(rows, rows)],
            _start_for(start, frame, rows),
            xy[rows],
            bounds,
            objective.restricted(rows),
            scale=scale,
            time_limit=max(share, 0.2),
            seed=seed,
            workers=workers,
            gap_target=gap_target,
            report=(lambda st, v, b, nm=name: report(f"{nm}{st}", v, b)),
            name=name,
        )
        venue_of[rows] = rows[local]
        multipliers[rows] = lam
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
    # a part cut into areas: the areas' bounds hold for the cut only; the whole
    # part's bound comes from their multipliers, evaluated on every pair
    for part in sorted(cut):
        rows = np.concatenate([r for _, r, _, q in parts if q == part])
        lower += _cut_bound(rows, xy, multipliers, rule_free, parts, part, costs, objective)
    if cut:
        stats["bound_note"] = "areas cut from a large part share one bound (straight lines)"
    if shared:
        lower = float(sum(objective.arc_at(costs.matrix, m, v).sum() for m, v in locked.values()))
        lower += _shared_count_bound(
            objective.arc_at(costs.matrix, *np.ix_(free, free)),
            venue_of,
            free,
            compiled.regions,
            rule_free,
            loads,
            reserve,
        )
        stats["bound_note"] = "whole-set bound (the cluster count is shared among areas)"

    # the layout, checked
    coordinator = coordinator_of(venue_of, costs.matrix, compiled.coordinators)
    params = {
        "rule": rule.to_dict(),
        "weights": objective.weights.to_dict(),
        "constraints": constraints.to_dict(),
        "n_clusters": stats["n_clusters"],
        "distances": _distances_label(distances),
        "time_limit": time_limit,
        "seed": seed,
        "workers": workers,
        "gap_target": gap_target,
        "source": centres.source,
        "schema": centres.schema,
        "crs": frame.crs.to_string() if frame.crs is not None else None,
        "versions": _versions(),
    }
    context = {
        "costs": costs,
        "objective": objective,
        "constraints": constraints,
        "rule": rule,
        "compiled": compiled,
        "quotas": list(zip(quotas, masks, strict=True)),
        "input_ids": input_ids,
    }
    stats["objective_parts"] = objective.parts(costs.matrix, venue_of)
    layout = _layout(centres, costs, venue_of, lower, objective, coordinator, params, context)
    layout.stats = stats
    stats["seconds"] = time.perf_counter() - t0
    # the checker reads the matrix file itself, not the engine's parsed copy
    check = check_layout(
        layout,
        rule,
        input_ids=input_ids,
        matrix=None if distances is None else distances,
        weights=objective.weights,
        constraints=constraints,
    )
    check.raise_if_failed()
    layout.objective = check.recomputed_objective
    layout.status = "optimal" if layout.gap <= 1e-9 else "feasible"
    stats["checker"] = "passed"
    report("done", layout.objective, layout.lower_bound)
    if baselines:
        t = time.perf_counter()
        layout.baselines = _baselines(
            layout,
            venue_of,
            given,
            rule,
            distances=distances,
            constraints=constraints,
            time_limit=time_limit,
            seed=seed,
            workers=workers,
        )
        stats["baseline_seconds"] = time.perf_counter() - t
    return layout


def _baselines(layout, venue_of, given, rule, *, distances, constraints, time_limit, seed, workers):
    """This layout beside geography only, size-bounded k-means and districts."""
    ctx = layout.context
    costs, objective = ctx["costs"], ctx["objective"]
    frame = layout.centres
    n = len(frame)
    others: dict[str, np.ndarray | None] = {}
    if not objective.weights.travel_only:
        try:
            geo = form_clusters(
                given,
                rule,
                distances=distances,
                constraints=constraints,
                time_limit=max(1.0, time_limit / 3),
                seed=seed,
                workers=workers,
                baselines=False,
                start=layout,
            )
            row = {c: k for k, c in enumerate(frame["centre_id"].astype(str))}
            geo_rows = np.array([row[c] for c in geo.centres["centre_id"].astype(str)])
            is_venue = geo.centres["is_venue"].to_numpy(dtype=bool)
            venue_row = dict(
                zip(geo.centres["cluster"].to_numpy()[is_venue], geo_rows[is_venue], strict=True)
            )
            geo_venue = np.empty(n, dtype=np.int64)
            geo_venue[geo_rows] = [venue_row[k] for k in geo.centres["cluster"]]
            others[GEOGRAPHY_ONLY] = geo_venue
        except (InfeasibleError, SolverError):
            others[GEOGRAPHY_ONLY] = None
    xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
    bounds = Bounds(n, rule.min_size, rule.max_size, layout.n_clusters)
    others["k-means with size bounds"] = kmeans_constrained_venues(
        xy, bounds, seed=seed, costs=costs.matrix, n_init=1
    )
    column = constraints.boundary or "district"
    if column in frame.columns:
        others[f"{column}s as clusters"] = district_venues(frame, column, costs)
    return compare(venue_of, others, costs, objective, bounds, costs.unit)


def _shared_count_bound(arc, venue_of, free, regions, rule, loads, seconds) -> float:
    """Lagrangian bound of the free centres with pairs across areas forbidden."""
    sub = arc  # already read at the free centres
    region = regions[free]
    allowed = region[:, None] == region[None, :]
    bounds = Bounds(
        len(free),
        rule.min_size,
        rule.max_size,
        int(rule.n_clusters),
        None if loads is None else loads[free],
        float(rule.min_weight or 0.0),
        float(rule.max_weight) if rule.max_weight is not None else np.inf,
        allowed=allowed,
    )
    local = {int(r): k for k, r in enumerate(free)}
    start = np.array([local[int(v)] for v in venue_of[free]])
    costs = bound.relaxed_costs(sub, bounds)
    upper = heuristic.layout_cost(costs, start)
    lb = bound.lagrangian_bound(
        costs, bounds, upper, start=costs[np.arange(len(free)), start], time_limit=seconds
    )
    return max(lb.value, 0.0)


def _start_for(start: Layout | None, frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray | None:
    """``start``'s assignment of the centres ``rows`` as local venue indices, if it has them."""
    if start is None:
        return None
    given = start.centres
    venue_id = dict(
        zip(
            given.loc[given["is_venue"].astype(bool), "cluster"],
            given.loc[given["is_venue"].astype(bool), "centre_id"].astype(str),
            strict=True,
        )
    )
    cluster = dict(zip(given["centre_id"].astype(str), given["cluster"], strict=True))
    ids = frame["centre_id"].astype(str).to_numpy()[rows]
    local = {cid: k for k, cid in enumerate(ids)}
    out = np.empty(len(rows), dtype=np.int64)
    for k, cid in enumerate(ids):
        venue = venue_id.get(cluster.get(cid))
        if venue not in local:
            return None
        out[k] = local[venue]
    return out


def _solve_part(*args: Any, **kwargs: Any) -> tuple[np.ndarray, float, dict[str, Any], Any]:
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
) -> tuple[np.ndarray, float, dict[str, Any], Any]:
    t0 = time.perf_counter()
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
            arc, xy, bounds, seed=seed, scale=scale, time_limit=0.2 * time_limit
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
        )
        stats["repaired"] = venue_of is not None
    stats["construction_seconds"] = time.perf_counter() - t
    arc_upper = np.inf if venue_of is None else heuristic.layout_cost(arc, venue_of)
    upper = np.inf if venue_of is None else objective.cost(costs, venue_of)
    stats["construction_objective"] = upper

    if venue_of is not None and objective.has_contrast:
        t = time.perf_counter()
        venue_of, swaps = exchange(costs, venue_of, objective, bounds, time_limit=0.25 * time_limit)
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
            time_limit - (time.perf_counter() - t0),
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
    )
    # integer costs (e.g. whole minutes, floored distances) give integer totals,
    # so a bound can be rounded up
    lower = _rounded_bound(lb.value, integral)
    stats.update(bound_seconds=time.perf_counter() - t, bound_iterations=lb.iterations)
    report("construction", upper, lower)
    if shared is not None:  # what the search beside the bound found meanwhile
        venue_of, upper = shared.get()

    # 3. improvement. Lagrangian fixing closes the venues no better layout can
    #    open; when what is left is small, CP-SAT takes every member → venue pair
    #    and its proof covers the whole part
    remaining = time_limit - (time.perf_counter() - t0)

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
                **lns_args,
            )
            _add_stats(stats, "lns_", lns_stats)
        left = time_limit - (time.perf_counter() - t0)
        stats.update(
            kernel_search(
                costs,
                bounds,
                shared,
                lb,
                bound_costs,
                time_limit=0.4 * left,
                stop=stop,
                **kernel_args,
            )
        )
        venue_of, upper = shared.get()
        remaining = time_limit - (time.perf_counter() - t0)
        kept = kept_pairs()
        full = full or kept.sum() <= FULL_PAIRS_MAX
        if not full:  # still too large for the exact model
            finish_beside()
            venue_of, upper = shared.get()
            every_core = True
    if every_core and upper - lower > gap_target * upper:
        # a large part (or one the kernel search left too large for the exact model):
        # exact re-solves of neighbouring clusters on every core
        remaining = time_limit - (time.perf_counter() - t0)
        venue_of, lns_stats = lns.improve(
            costs, bounds, venue_of, time_limit=remaining, workers=workers, **lns_args
        )
        _add_stats(stats, "lns_", lns_stats)
        upper = objective.cost(costs, venue_of)
        remaining = time_limit - (time.perf_counter() - t0)
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
        )
        stats.update(cpsat_status=result.status, cpsat_seconds=result.seconds)
        if result.venue_of is not None:
            # CP-SAT's bound is exact for floored member → venue costs, themes and
            # partnerships; contrast scores are rounded, so its bound is not used with them
            contrast = any(t.weight > 0 for t in objective.terms)
            if full and result.exact and result.restricted_bound is not None and not contrast:
                # layouts through closed venues cost at least the incumbent's total
                proved = min(result.restricted_bound, upper_before)
                lower = max(lower, _rounded_bound(proved, integral))
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
                + _likely_conflict(costs, bounds, seed=seed)
            )

    if shared is not None:
        finish_beside()
        shared.offer(venue_of, objective.cost(costs, venue_of))
        venue_of, upper = shared.get()

    # 4. a last sweep of single swaps and moves catches what the neighbourhoods missed
    t = time.perf_counter()
    venue_of, swaps = exchange(costs, venue_of, objective, bounds, time_limit=1.0)
    stats.update(polish_moves=swaps, polish_seconds=time.perf_counter() - t)
    if swaps:
        stats["improved_at"] = time.perf_counter()

    # 5. time left over (the search converged early) tightens the bound
    remaining = time_limit - (time.perf_counter() - t0)
    upper = objective.cost(costs, venue_of)
    arc_upper = heuristic.layout_cost(arc, venue_of)
    if remaining > 0.5 and upper - lower > gap_target * upper and arc_upper > 0:
        more = bound.lagrangian_bound(
            bound_costs, bounds, arc_upper, start=lb.multipliers, time_limit=remaining - 0.3
        )
        tighter = _rounded_bound(more.value, integral)
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


def _cut_bound(rows, xy, multipliers, rule, parts, part, costs, objective) -> float:
    """A valid bound on a part solved in areas (0 when costs are not straight lines)."""
    travel = objective.weights.travel
    if costs.source != "euclidean" or travel <= 0:
        return 0.0
    k = sum(b.n_clusters for _, _, b, q in parts if q == part)
    # every multiplier vector gives a valid bound: the areas' own, and shrunk
    # ones, which cost less where members near an edge would cross it
    values = [
        bound.sparse_bound(
            xy[rows],
            shrink * multipliers[rows] / travel,
            min_size=rule.min_size,
            max_size=rule.max_size,
            n_clusters=k,
        )
        for shrink in (1.0, 0.9, 0.75)
    ]
    return max(max(values) * travel, 0.0)


def _rounded_bound(value: float, integral: bool) -> float:
    """A bound rounded up when every total is an integer (never below zero)."""
    value = max(float(value), 0.0)
    return float(np.ceil(value - 1e-6)) if integral else value


_FAMILY_WORDS = {
    "sizes": "clusters of {lo}–{hi} members",
    "weights": "a weight of {wlo:g}–{whi:g} per cluster",
    "count": "{p} clusters",
    "together": "the must-link groups (must-link, hard partnerships, locked centres)",
    "apart": "the cannot-link groups",
    "allowed": "the maximum distance to the venue",
}


def _family_text(name: str, bounds: Bounds) -> str:
    if name.startswith("quota:"):
        k = int(name.split(":")[1])
        _, q_lo, q_hi = bounds.quotas[k]
        label = bounds.quota_labels[k] if k < len(bounds.quota_labels) else f"quota {k + 1}"
        if q_hi >= bounds.max_size:
            return f"at least {q_lo} centre(s) with {label} per cluster"
        return f"{q_lo}–{q_hi} centres with {label} per cluster"
    return _FAMILY_WORDS.get(name, name).format(
        lo=bounds.min_size,
        hi=bounds.max_size,
        p=bounds.n_clusters,
        wlo=bounds.min_weight,
        whi=bounds.max_weight,
    )


def explain_infeasible(costs: np.ndarray, bounds: Bounds, *, seed: int = 0, where: str = "") -> str:
    """Why no layout exists, in words: the conflicting rules :func:`cpsat.diagnose` finds."""
    status, core = cpsat.diagnose(costs, bounds, time_limit=10.0, seed=seed)
    if status != "INFEASIBLE" or not core:
        return (
            f"no layout{where} meets every rule (CP-SAT proved it for these centres); "
            "loosen the sizes, quotas or links"
        )
    rules = "; ".join(_family_text(name, bounds) for name in core)
    return (
        f"no layout{where} meets these rules together: {rules}. "
        "Loosen one of them (the others can stay)"
    )


def _likely_conflict(costs: np.ndarray, bounds: Bounds, *, seed: int) -> str:
    """For a search that found nothing: the rules a restricted model shows to conflict."""
    status, core = cpsat.diagnose(costs, bounds, candidates=24, time_limit=5.0, seed=seed)
    if status != "INFEASIBLE" or not core:
        return ""
    rules = "; ".join(_family_text(name, bounds) for name in core)
    return f". Near each centre, these rules conflict: {rules}"


def _exclusions(centres: Centres, constraints: Constraints, known: set[str]) -> Centres:
    """Leave out centres without consent and those the exclusion list names (with reasons)."""
    frame = centres.frame
    if constraints.consent is not None:
        column = constraints.consent
        if column not in frame.columns:
            raise InputError(
                f"consent names {column!r}, which the centres do not have",
                file=constraints.source,
                column=column,
                fix="name the column that marks consent (yes/true/1)",
            )
        ok = eligible(frame, column, source=constraints.source)
        centres = centres.exclude(~ok, f"no consent ({column} is not yes)")
    if constraints.exclude:
        unknown = [c for c in constraints.exclude if str(c) not in known]
        if unknown:
            shown = ", ".join(repr(" ".join(str(c).split())[:40]) for c in unknown[:5])
            raise InputError(
                f"the exclusion list names {len(unknown)} id(s) the centres file does not "
                f"have: {shown}",
                file=constraints.source,
                fix="use centre ids from the input (e.g. URNs)",
            )
        ids = centres.frame["centre_id"].astype(str)
        for reason in sorted(set(map(str, constraints.exclude.values()))):
            listed = {str(c) for c, r in constraints.exclude.items() if str(r) == reason}
            centres = centres.exclude(ids.isin(listed).to_numpy(), reason)
            ids = centres.frame["centre_id"].astype(str)
    return centres


def _locked_clusters(frame, constraints, rule, masks, quotas, loads, compiled):
    """Previous clusters kept whole: label → (member rows, venue row), checked."""
    out: dict[str, tuple[np.ndarray, int]] = {}
    if not constraints.lock_clusters:
        return out
    prev = constraints.previous
    if prev is None:
        raise InputError(
            "lock_clusters needs the previous layout",
            file=constraints.source,
            fix="give previous = the assignments.csv of the layout being re-formed",
        )
    ids = frame["centre_id"].astype(str).to_numpy()
    labels = np.array([prev.cluster.get(c) for c in ids], dtype=object)
    known = set(prev.cluster.values())
    for label in map(str, constraints.lock_clusters):
        if label not in known:
            raise InputError(
                f"locked cluster {label!r} is not in the previous layout",
                file=prev.source,
                column="cluster",
                fix="lock clusters by the labels of the previous assignments.csv",
            )
        members = np.flatnonzero(labels == label)
        before = sum(1 for v in prev.cluster.values() if v == label)
        venue_id = prev.venue.get(label)
        if venue_id is None:
            raise InputError(
                f"the previous layout does not say which centre was cluster {label}'s venue, "
                "so the cluster cannot be kept as it was",
                file=prev.source,
                fix="give the assignments.csv of the earlier run (it has is_venue and venue_id)",
            )
        where = {c: k for k, c in enumerate(ids)}
        if venue_id is None or venue_id not in where or where[venue_id] not in members:
            raise InfeasibleError(
                f"locked cluster {label} cannot keep its venue ({venue_id}): it no longer "
                "takes part; unlock the cluster so it can be re-formed"
            )
        if not rule.min_size <= len(members) <= rule.max_size:
            raise InfeasibleError(
                f"locked cluster {label} now has {len(members)} members ({before} before), "
                f"outside the sizes {rule.min_size}–{rule.max_size}; unlock it"
            )
        if loads is not None:
            load = float(loads[members].sum())
            lo, hi = rule.min_weight or 0.0, rule.max_weight or np.inf
            if not lo - 1e-9 <= load <= hi + 1e-9:
                raise InfeasibleError(
                    f"locked cluster {label} has {rule.size_by} {load:g}, outside "
                    f"{lo:g}–{hi:g}; unlock it"
                )
        for quota, mask in zip(quotas, masks, strict=True):
            count = int(mask[members].sum())
            q_hi = rule.max_size if quota.max is None else quota.max
            if not quota.min <= count <= q_hi:
                raise InfeasibleError(
                    f"locked cluster {label} has {count} centre(s) with {quota.label()}, "
                    f"but each cluster needs {quota.min}–{q_hi}; unlock it"
                )
        if compiled.allowed is not None and not compiled.allowed[members, where[venue_id]].all():
            raise InfeasibleError(
                f"locked cluster {label} has members beyond the maximum distance "
                f"{constraints.max_distance:g} from its venue; unlock it or raise max_distance"
            )
        if compiled.regions is not None and len(set(compiled.regions[members].tolist())) > 1:
            raise InfeasibleError(
                f"locked cluster {label} spans several {constraints.boundary} areas, and "
                "clusters may not cross; unlock it or set cross_boundary = true"
            )
        inside = set(members.tolist())
        for g in compiled.apart:
            hit = inside & set(g.tolist())
            if len(hit) > 1:
                raise InfeasibleError(
                    f"locked cluster {label} holds centres that must be kept apart "
                    f"({', '.join(ids[sorted(hit)][:4])}); unlock it or drop the cannot-link"
                )
        for g in compiled.together:
            hit = inside & set(g.tolist())
            if hit and len(hit) < len(g):
                raise InfeasibleError(
                    f"locked cluster {label} holds only part of a must-link group "
                    f"({', '.join(ids[g][:4])}); unlock it or drop the link"
                )
        out[label] = (members, where[venue_id])
    return out


def _allocate(sizes: dict[str, int], rule: SizeRule, total: int) -> dict[str, int]:
    """Share ``total`` clusters among parts of the given sizes, within what each can fill."""
    lo = {r: -(-m // rule.max_size) for r, m in sizes.items()}
    hi = {r: m // rule.min_size for r, m in sizes.items()}
    if sum(lo.values()) > total or sum(hi.values()) < total:
        raise InfeasibleError(
            f"{total} clusters cannot be shared among the areas: they need between "
            f"{sum(lo.values())} and {sum(hi.values())} clusters"
        )
    n = sum(sizes.values())
    out = {r: min(max(round(total * m / n), lo[r]), hi[r]) for r, m in sizes.items()}
    while sum(out.values()) != total:
        step = 1 if sum(out.values()) < total else -1
        # the area whose clusters are furthest from the target size moves first
        movable = [r for r in out if lo[r] <= out[r] + step <= hi[r]]
        r = max(movable, key=lambda r: step * (sizes[r] / out[r] if out[r] else np.inf))
        out[r] += step
    return out


def _resolve_rows(rows, rule, loads, masks) -> Bounds:
    """:func:`resolve` for the centres ``rows`` (their loads and quota masks)."""
    return resolve(
        rule, len(rows), None if loads is None else loads[rows], [m[rows] for m in masks]
    )


def _parts(frame, free, regions, rule, boundary, loads, masks):
    """The independent parts to solve: one per boundary area, or all free centres."""

    def bounds_for(rows, part_rule, where):
        try:
            return _resolve_rows(rows, part_rule, loads, masks)
        except InfeasibleError as exc:
            raise InfeasibleError(f"{where}{exc}") from None

    if len(free) == 0:
        return []  # every cluster is locked
    if regions is None:
        return [("", free, bounds_for(free, rule, ""))]
    areas: dict[str, np.ndarray] = {}
    for r in sorted(set(regions[free].tolist())):
        areas[r] = free[regions[free] == r]
    counts = None
    if rule.n_clusters is not None:
        counts = _allocate({r: len(rows) for r, rows in areas.items()}, rule, rule.n_clusters)
    out = []
    for r, rows in areas.items():
        part_rule = replace(rule, n_clusters=None if counts is None else counts[r])
        out.append((f"{r}: ", rows, bounds_for(rows, part_rule, f"in {boundary} {r}: ")))
    return out


def _split_large(parts, xy, rule, loads, masks):
    """Parts above :data:`PART_MAX` centres, cut into areas solved one by one.

    Each part is halved along its longer side, the halves getting cluster
    counts in proportion to their centres, until every area is small enough.
    A cut whose halves cannot meet the rules is not made. Returns
    ``(name, rows, bounds, part)``: areas of the same ``part`` share its bound.
    """
    out = []

    def cut(name, rows, bounds, part):
        n, k = len(rows), bounds.n_clusters
        if n <= PART_MAX or k < 2:
            out.append((name, rows, bounds, part))
            return
        pts = xy[rows]
        axis = int(np.argmax(np.ptp(pts, axis=0)))
        order = rows[np.argsort(pts[:, axis], kind="stable")]
        k1 = k // 2
        n1 = round(n * k1 / k)
        halves = [(np.sort(order[:n1]), k1), (np.sort(order[n1:]), k - k1)]
        try:
            resolved = [
                _resolve_rows(sub, replace(rule, n_clusters=kk), loads, masks) for sub, kk in halves
            ]
        except InfeasibleError:
            out.append((name, rows, bounds, part))
            return
        for h, ((sub, _), b) in enumerate(zip(halves, resolved, strict=True)):
            cut(f"{name.rstrip(': ')}{'/' if name else 'area '}{h + 1}: ", sub, b, part)

    for part, (name, rows, bounds) in enumerate(parts):
        cut(name, rows, bounds, part)
    return out


def _quota_masks(centres: Centres, rule: SizeRule) -> list[np.ndarray]:
    """For each quota, which centres count towards it."""
    masks = []
    for quota in rule.quotas:
        if quota.column not in centres.frame.columns:
            raise InputError(
                f"a quota names {quota.column!r}, which the centres do not have",
                file=centres.source,
                column=quota.column,
                fix="use one of "
                + ", ".join(c for c in centres.frame.columns if c not in {"geometry", "row"}),
            )
        values = centres.frame[quota.column].astype(object)
        text = values.where(values.notna(), "").astype(str).str.strip().str.lower()
        masks.append((text == str(quota.value).strip().lower()).to_numpy())
    return masks


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


def _costs(centres: Centres, distances) -> tuple[Centres, Costs]:
    frame = centres.frame
    if distances is None:
        xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
        return centres, euclidean_costs(xy)
    ids = frame["centre_id"].astype(str).tolist()
    if isinstance(distances, pd.DataFrame):
        costs, missing = matrix_costs(distances, ids)
        name = "given"
    else:
        costs, missing = read_cost_matrix(distances, ids)
        name = Path(distances).name
    if missing:
        centres = centres.exclude(
            frame["centre_id"].isin(missing).to_numpy(), f"not in the travel matrix {name}"
        )
    found = centres.frame["centre_id"].astype(str).tolist()
    if len(found) == 0:
        raise InputError(
            "no centre of the input appears in the matrix",
            file=str(distances),
            fix="use the same ids as the centres file",
        )
    return centres, costs


def _require_weights(centres: Centres, column: str) -> Centres:
    if column not in centres.frame.columns:
        raise InputError(
            f"size_by names {column!r}, which the centres do not have",
            file=centres.source,
            column=column,
            fix=f"use one of {', '.join(c for c in centres.frame.columns if c != 'geometry')}",
        )
    values = pd.to_numeric(centres.frame[column], errors="coerce")
    frame = centres.frame.copy()  # the caller's centres stay as they were
    frame[column] = values
    centres = Centres(frame, centres.excluded, centres.source, centres.schema, centres.columns)
    return centres.exclude(values.isna().to_numpy(), f"no {column} value to size clusters by")


def _layout(centres, costs, venue_of, lower, objective, coordinator, params, context) -> Layout:
    frame = centres.frame.copy()
    n = len(frame)
    frame["cluster"] = _labels(venue_of, frame, context["constraints"])
    frame["is_venue"] = venue_of == np.arange(n)
    frame["distance"] = costs.matrix[np.arange(n), venue_of]
    frame["coordinator"] = coordinator
    return Layout(
        centres=frame,
        excluded=centres.excluded.reset_index(drop=True),
        objective=objective.cost(costs.matrix, venue_of),
        lower_bound=float(lower),
        unit=costs.unit,
        status="feasible",
        params=params,
        source=centres.source,
        context=context,
    )


def _labels(venue_of: np.ndarray, frame: pd.DataFrame, constraints: Constraints) -> np.ndarray:
    """Cluster numbers: west to east, or — when re-forming — the previous cluster's
    number for the new cluster that keeps most of its members."""
    fresh = venue_labels(venue_of, frame.geometry.x.to_numpy())
    prev = constraints.previous
    if prev is None:
        return fresh
    try:
        old = {cid: int(label) for cid, label in prev.cluster.items()}
    except ValueError:
        return fresh  # labels that are not numbers: number afresh
    ids = frame["centre_id"].astype(str).to_numpy()
    old_of = np.array([old.get(c, -1) for c in ids])
    old_labels = sorted(set(old.values()))
    new_labels = np.unique(fresh)
    overlap = np.zeros((len(new_labels), len(old_labels)))
    col = {label: k for k, label in enumerate(old_labels)}
    for a, b in zip(np.searchsorted(new_labels, fresh), old_of, strict=True):
        if b >= 0:
            overlap[a, col[int(b)]] += 1
    rows, cols = linear_sum_assignment(-overlap)
    mapping = {}
    for r, c in zip(rows, cols, strict=True):
        if overlap[r, c] > 0:
            mapping[int(new_labels[r])] = old_labels[c]
    next_label = max(old_labels, default=0) + 1
    for label in new_labels:  # west to east
        if int(label) not in mapping:
            mapping[int(label)] = next_label
            next_label += 1
    return np.array([mapping[int(v)] for v in fresh], dtype=np.int64)
