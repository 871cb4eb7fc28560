"""Form clusters: the engine's one entry point.

Pipeline: resolve the size rule (cheap infeasibility checks) → costs →
construction (k-means venues + min-cost-flow assignment) → Lagrangian lower
bound of the whole problem → improvement (CP-SAT on the whole model when it is
small, large-neighbourhood search with exact CP-SAT re-solves otherwise) →
the independent checker → :class:`~clustering.layout.Layout`.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import bound, cpsat, heuristic, lns
from .check import check_layout
from .costs import Costs, euclidean_costs, read_cost_matrix
from .cpsat import Progress
from .errors import InfeasibleError, InputError, SolverError
from .exchange import exchange
from .layout import Layout, venue_labels
from .load import Centres
from .objective import Weights, build_objective
from .spec import SizeRule, resolve

__all__ = ["Progress", "form_clusters"]

#: Up to this many centres CP-SAT gets the whole model (every centre a candidate
#: venue for every other), so its own bound is valid for the whole problem.
FULL_MODEL_MAX = 120


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
    distances: str | Path | None = None,
    weights: Weights | None = None,
    time_limit: float = 30.0,
    seed: int = 0,
    workers: int = 2,
    gap_target: float = 1e-4,
    progress: Callable[[Progress], None] | None = None,
) -> Layout:
    """Form clusters of ``centres`` that meet ``rule``, minimising total travel to venues.

    Every cluster meets at a venue that is one of its members; the objective is
    the total member → venue distance (a capacitated p-median), plus weighted
    contrast terms when ``weights`` asks for them.

    Parameters
    ----------
    centres
        Validated centres from :func:`clustering.load_centres`.
    rule
        Sizes (default 8–12), optional weight bounds and cluster count.
    weights
        Travel weight and contrast weights (see :mod:`clustering.objective`);
        travel alone by default.
    distances
        A travel-time or distance matrix file (see
        :func:`clustering.costs.read_cost_matrix`); straight lines otherwise.
        Centres missing from the matrix are excluded with that reason.
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

    Returns
    -------
    Layout
        A layout that has passed :func:`clustering.check_layout`.

    Raises
    ------
    InfeasibleError
        The rule cannot hold for these centres (the message says why).
    SolverError
        No layout was found within the time limit.
    """
    rule = rule or SizeRule()
    _check_settings(time_limit=time_limit, seed=seed, workers=workers, gap_target=gap_target)
    t0 = time.perf_counter()
    input_ids = centres.frame["centre_id"].tolist() + centres.excluded["centre_id"].tolist()
    if rule.size_by is not None:
        centres = _require_weights(centres, rule.size_by)
    centres, costs = _costs(centres, distances)
    frame = centres.frame
    loads = None if rule.size_by is None else frame[rule.size_by].to_numpy(dtype=float)
    bounds = resolve(rule, len(frame), loads, _quota_masks(centres, rule))
    scale = costs.integer_scale()
    objective = build_objective(frame, weights, unit=costs.unit, source=centres.source)
    xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
    stats: dict[str, Any] = {"n_centres": len(frame), "n_clusters": bounds.n_clusters}

    def report(stage: str, objective: float, lower: float) -> None:
        if progress is not None:
            progress(Progress(time.perf_counter() - t0, objective, lower, stage))

    # 1. construction (travel only; the improvement weighs contrast in)
    t = time.perf_counter()
    venue_of = heuristic.construct(costs.matrix, xy, bounds, seed=seed, scale=scale)
    stats["construction_seconds"] = time.perf_counter() - t
    if venue_of is None and bounds.weights is None and not bounds.quotas:
        raise SolverError("the construction found no layout; this is a bug, please report it")
    travel_upper = np.inf if venue_of is None else heuristic.layout_cost(costs.matrix, venue_of)
    upper = np.inf if venue_of is None else objective.cost(costs.matrix, venue_of)
    stats["construction_objective"] = upper

    if venue_of is not None and objective.has_contrast:
        t = time.perf_counter()
        venue_of, swaps = exchange(
            costs.matrix, venue_of, objective, bounds, time_limit=0.25 * time_limit
        )
        stats.update(exchange_moves=swaps, exchange_seconds=time.perf_counter() - t)
        upper = objective.cost(costs.matrix, venue_of)

    # 2. lower bound of the whole problem: travel's Lagrangian bound, times its
    #    weight (contrast deviations are never negative)
    t = time.perf_counter()
    start = None if venue_of is None else costs.matrix[np.arange(len(frame)), venue_of]
    lb = bound.lagrangian_bound(
        costs.matrix,
        bounds,
        travel_upper if np.isfinite(travel_upper) else float(costs.matrix.max()) * len(frame),
        start=start,
        time_limit=max(0.5, 0.2 * time_limit),
    )
    lower = max(lb.value, 0.0) * objective.weights.travel
    stats.update(bound_seconds=time.perf_counter() - t, bound_iterations=lb.iterations)
    report("construction", upper, lower)

    # 3. improvement
    remaining = time_limit - (time.perf_counter() - t0)
    full = len(frame) <= FULL_MODEL_MAX
    if full or venue_of is None:
        result = cpsat.solve_cpsat(
            costs.matrix,
            bounds,
            scale=scale,
            hint=venue_of,
            candidates=len(frame) if full else 24,
            time_limit=max(remaining, 1.0),
            workers=workers,
            seed=seed,
            lower_bound=lower,
            stop_gap=gap_target,
            progress=lambda e: report("cp-sat", e.objective, lower),
            objective=objective,
        )
        stats.update(cpsat_status=result.status, cpsat_seconds=result.seconds)
        if result.venue_of is not None:
            # CP-SAT's bound is exact for travel alone (floored costs); contrast
            # coefficients are rounded, so its bound is not used with them
            if (
                full
                and result.exact
                and result.restricted_bound is not None
                and not objective.has_contrast
            ):
                lower = max(lower, result.restricted_bound)
            if venue_of is None or objective.cost(costs.matrix, result.venue_of) < upper:
                venue_of = result.venue_of
        elif venue_of is None:
            if result.status == "INFEASIBLE" and full and result.exact:
                raise InfeasibleError(
                    "no layout meets the size and weight bounds together (CP-SAT proved "
                    "it for these centres); loosen the size or weight bounds"
                )
            raise SolverError(
                f"no layout found in {time_limit:g} s (CP-SAT: {result.status}); "
                "raise the time limit or loosen the size or weight bounds"
            )
    else:
        venue_of, lns_stats = lns.improve(
            costs.matrix,
            bounds,
            venue_of,
            scale=scale,
            time_limit=max(remaining, 0.0),
            seed=seed,
            workers=workers,
            lower_bound=lower,
            stop_gap=gap_target,
            progress=lambda e: report("lns", e.objective, lower),
            objective=objective,
        )
        stats.update({f"lns_{k}": v for k, v in lns_stats.items()})

    # 4. time left over (the search converged early) tightens the bound
    remaining = time_limit - (time.perf_counter() - t0)
    upper = objective.cost(costs.matrix, venue_of)
    travel_upper = heuristic.layout_cost(costs.matrix, venue_of)
    if remaining > 0.5 and upper - lower > gap_target * upper and objective.weights.travel > 0:
        more = bound.lagrangian_bound(
            costs.matrix, bounds, travel_upper, start=lb.multipliers, time_limit=remaining - 0.3
        )
        if more.value * objective.weights.travel > lower:
            lower = more.value * objective.weights.travel
            report("bound", upper, lower)
        stats["bound_iterations"] += more.iterations

    # 5. the layout, checked
    layout = _layout(
        centres,
        costs,
        venue_of,
        lower,
        rule,
        objective,
        bounds.n_clusters,
        seed,
        workers,
        time_limit,
        gap_target,
        distances,
        stats,
    )
    stats["seconds"] = time.perf_counter() - t0
    # the checker reads the matrix file itself, not the engine's parsed copy
    check = check_layout(
        layout,
        rule,
        input_ids=input_ids,
        matrix=None if distances is None else distances,
        weights=objective.weights,
    )
    check.raise_if_failed()
    layout.objective = check.recomputed_objective
    layout.status = "optimal" if layout.gap <= 1e-9 else "feasible"
    stats["checker"] = "passed"
    report("done", layout.objective, layout.lower_bound)
    return layout


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


def _costs(centres: Centres, distances: str | Path | None) -> tuple[Centres, Costs]:
    frame = centres.frame
    if distances is None:
        xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
        return centres, euclidean_costs(xy)
    ids = frame["centre_id"].astype(str).tolist()
    costs, missing = read_cost_matrix(distances, ids)
    if missing:
        centres = centres.exclude(
            frame["centre_id"].isin(missing).to_numpy(),
            f"not in the travel matrix {Path(distances).name}",
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


def _layout(
    centres,
    costs,
    venue_of,
    lower,
    rule,
    objective,
    n_clusters,
    seed,
    workers,
    time_limit,
    gap_target,
    distances,
    stats,
) -> Layout:
    stats["objective_parts"] = objective.parts(costs.matrix, venue_of)
    frame = centres.frame.copy()
    n = len(frame)
    frame["cluster"] = venue_labels(venue_of, frame.geometry.x.to_numpy())
    frame["is_venue"] = venue_of == np.arange(n)
    frame["distance"] = costs.matrix[np.arange(n), venue_of]
    params = {
        "rule": rule.to_dict(),
        "weights": objective.weights.to_dict(),
        "n_clusters": n_clusters,
        "distances": str(distances) if distances is not None else "straight line (metres)",
        "time_limit": time_limit,
        "seed": seed,
        "workers": workers,
        "gap_target": gap_target,
        "source": centres.source,
        "schema": centres.schema,
        "crs": frame.crs.to_string() if frame.crs is not None else None,
        "versions": _versions(),
    }
    return Layout(
        centres=frame,
        excluded=centres.excluded.reset_index(drop=True),
        objective=objective.cost(costs.matrix, venue_of),
        lower_bound=float(lower),
        unit=costs.unit,
        status="feasible",
        params=params,
        stats=stats,
        source=centres.source,
    )
