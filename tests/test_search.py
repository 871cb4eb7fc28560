"""The searches: pruned neighbourhood re-solves, kernel search, searches side by side."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from clustering import SizeRule, check_layout, form_clusters, load_centres
from clustering.model.sizes import Bounds
from clustering.solver.bound import lagrangian_bound
from clustering.solver.construct import construct, layout_cost
from clustering.solver.cpsat import solve_cpsat
from clustering.solver.incumbent import Incumbent
from clustering.solver.kernel import kernel_search
from clustering.solver.lns import _resolve, improve


def _weighted(n: int, p: int, seed: int, fill: float = 0.9):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 100
    costs = np.floor(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)))
    weights = rng.integers(1, 20, n).astype(float)
    cap = float(np.ceil(weights.sum() / (p * fill)))
    return xy, costs, Bounds(n, 1, n, p, weights=weights, max_weight=cap)


def _brute(costs: np.ndarray, bounds: Bounds) -> tuple[float, np.ndarray]:
    """The optimum of a tiny instance by enumeration (sizes and weight cap)."""
    from itertools import combinations, product

    n, p = len(costs), bounds.n_clusters
    best, arg = np.inf, None
    for venues in combinations(range(n), p):
        others = [i for i in range(n) if i not in venues]
        for pick in product(venues, repeat=len(others)):
            venue_of = np.empty(n, dtype=np.int64)
            venue_of[list(venues)] = venues
            venue_of[others] = pick
            if bounds.violations(venue_of):
                continue
            total = layout_cost(costs, venue_of)
            if total < best:
                best, arg = total, venue_of
    return best, arg


@pytest.mark.parametrize("seed", range(4))
def test_pruned_resolve_finds_the_optimum_and_settles_it(seed):
    rng = np.random.default_rng(seed)
    xy = rng.random((8, 2)) * 100
    costs = np.floor(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)))
    bounds = Bounds(8, 2, 5, 2, weights=rng.integers(1, 9, 8).astype(float), max_weight=30.0)
    optimum, best = _brute(costs, bounds)
    assert np.isfinite(optimum)
    members = np.arange(8)
    # from a poor layout: the re-solve reaches the optimum and proves it
    start = construct(costs, xy, bounds, seed=seed)
    _, _, found, proven, _ = _resolve(costs, bounds, None, members, start, 2, 1.0, 0, 5.0, step=1.0)
    got = start if found is None else found
    assert layout_cost(costs, got) == optimum
    assert proven
    assert not bounds.violations(got)
    # from the optimum: settled (by the bound or by CP-SAT), never made worse
    _, _, found, proven, _ = _resolve(costs, bounds, None, members, best, 2, 1.0, 0, 5.0, step=1.0)
    assert proven
    assert found is None or layout_cost(costs, found) == optimum


@pytest.mark.parametrize("workers", [1, 2])
def test_improve_never_worsens_and_keeps_every_rule(workers):
    xy, costs, bounds = _weighted(70, 7, seed=5)
    start = construct(costs, xy, bounds, seed=0)
    assert start is not None
    assert not bounds.violations(start)
    before = layout_cost(costs, start)
    venue_of, stats = improve(
        costs, bounds, start, scale=1.0, time_limit=3.0, workers=workers, step=1.0
    )
    assert not bounds.violations(venue_of)
    assert layout_cost(costs, venue_of) <= before
    assert stats["moves"] > 0
    assert stats["pruned_moves"] + stats["timed_out_moves"] <= stats["moves"]


def test_improve_takes_up_a_better_shared_layout_and_stops_on_request():
    xy, costs, bounds = _weighted(60, 6, seed=2)
    start = construct(costs, xy, bounds, seed=0)
    better, _ = improve(costs, bounds, start, scale=1.0, time_limit=3.0, workers=1, step=1.0)
    shared = Incumbent(better, layout_cost(costs, better))
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    t = time.perf_counter()
    venue_of, stats = improve(
        costs, bounds, start, scale=1.0, time_limit=60.0, workers=1, shared=shared, stop=stop
    )
    assert time.perf_counter() - t < 30.0  # ended by the event, not the time limit
    assert stats.get("adopted", 0) >= 1 or layout_cost(costs, venue_of) <= shared.get()[1]
    assert layout_cost(costs, venue_of) <= layout_cost(costs, better)
    assert shared.get()[1] <= layout_cost(costs, better)


def test_incumbent_keeps_only_improvements():
    a = np.array([0, 0, 2, 2])
    shared = Incumbent(a, 10.0)
    assert not shared.offer(np.array([0, 0, 0, 3]), 10.0)
    assert shared.offer(np.array([1, 1, 2, 2]), 9.0)
    venue_of, cost = shared.get()
    assert cost == 9.0
    assert venue_of.tolist() == [1, 1, 2, 2]
    venue_of[:] = 0  # a copy: the shared layout is not changed through it
    assert shared.get()[0].tolist() == [1, 1, 2, 2]


def test_kernel_search_improves_within_the_rules():
    xy, costs, bounds = _weighted(80, 8, seed=7)
    start = construct(costs, xy, bounds, seed=0)
    upper = layout_cost(costs, start)
    lb = lagrangian_bound(costs, bounds, upper, time_limit=1.0)
    shared = Incumbent(start, upper)
    stats = kernel_search(costs, bounds, shared, lb, costs, scale=1.0, step=1.0, time_limit=5.0)
    venue_of, cost = shared.get()
    assert stats["kernel_models"] >= 1
    assert not bounds.violations(venue_of)
    assert cost == layout_cost(costs, venue_of) <= upper
    assert cost >= lb.value - 1e-6


def test_stop_event_ends_cpsat_early_with_its_best_layout():
    xy, costs, bounds = _weighted(90, 9, seed=3, fill=0.95)
    hint = construct(costs, xy, bounds, seed=0)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    t = time.perf_counter()
    result = solve_cpsat(
        costs, bounds, scale=1.0, hint=hint, candidates=90, time_limit=120.0, workers=1, stop=stop
    )
    assert time.perf_counter() - t < 60.0  # ended by the event, not the time limit
    assert result.status in ("FEASIBLE", "OPTIMAL", "UNKNOWN")  # UNKNOWN: stopped before one
    if result.venue_of is not None:
        assert not bounds.violations(result.venue_of)


@pytest.mark.parametrize("workers", [1, 2])
def test_weighted_layout_side_by_side_is_checked_and_bounded(workers):
    rng = np.random.default_rng(11)
    xy = rng.random((9, 2)) * 6000
    pupils = rng.integers(50, 400, 9).astype(float)
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(9)], "x": xy[:, 0] + 450_000})
    frame["y"] = xy[:, 1] + 130_000
    frame["pupils"] = pupils
    centres = load_centres(frame, crs="EPSG:27700")
    cap = float(np.ceil(pupils.sum() / 3 * 1.15))
    rule = SizeRule(2, 5, n_clusters=3, size_by="pupils", max_weight=cap)
    layout = form_clusters(centres, rule, time_limit=5, seed=0, workers=workers, baselines=False)
    assert check_layout(layout, rule).ok
    costs = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    optimum, _ = _brute(costs, Bounds(9, 2, 5, 3, weights=pupils, max_weight=cap))
    assert layout.lower_bound <= optimum + 1e-3
    assert layout.objective >= optimum - 1e-3
    assert 0 <= layout.stats["best_found_seconds"] <= layout.stats["seconds"]


def _schools(n: int, seed: int):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 30_000
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "x": xy[:, 0] + 450_000})
    frame["y"] = xy[:, 1] + 130_000
    return load_centres(frame, crs="EPSG:27700")


def test_part_too_big_for_the_whole_model_still_gets_the_kernel_search():
    # 160 centres: above the size for the exact model from the start, but few enough
    # pairs left open by the bound for the kernel search (and, once it improves the
    # layout, perhaps the exact model)
    centres = _schools(160, seed=3)
    rule = SizeRule(8, 12)
    layout = form_clusters(centres, rule, time_limit=8, seed=0, workers=2, baselines=False)
    assert check_layout(layout, rule).ok
    assert layout.stats["kernel_models"] >= 1
    assert layout.lower_bound <= layout.objective + 1e-6


def test_search_beside_is_stopped_when_another_step_fails(monkeypatch):
    import clustering.solver.part as solve

    def broken(*args, **kwargs):
        raise RuntimeError("kernel search failed")

    monkeypatch.setattr(solve, "kernel_search", broken)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="kernel search failed"):
        form_clusters(_schools(60, seed=1), SizeRule(4, 8), time_limit=60, workers=2)
    # the neighbourhood search started beside the bound was stopped and joined
    assert threading.active_count() == before
