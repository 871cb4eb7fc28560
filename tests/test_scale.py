"""Bounds and scale: exact knapsacks, Lagrangian fixing, on-demand distances, areas."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustering import SizeRule, check_layout, form_clusters, load_centres
from clustering.model.costs import StraightLines, euclidean_costs
from clustering.model.sizes import Bounds
from clustering.solver import bound as bound_module
from clustering.solver import parts as solve_module
from clustering.solver.bound import _Candidates, lagrangian_bound, sparse_bound


def _layouts(n: int, p: int):
    """Every layout of ``n`` centres into ``p`` clusters, as ``venue_of`` arrays."""
    for venues in itertools.combinations(range(n), p):
        others = [i for i in range(n) if i not in venues]
        for pick in itertools.product(venues, repeat=len(others)):
            venue_of = np.empty(n, dtype=np.int64)
            venue_of[list(venues)] = venues
            venue_of[others] = pick
            yield venue_of


def _feasible(venue_of, weights, cap):
    return all(weights[venue_of == v].sum() <= cap + 1e-9 for v in np.unique(venue_of))


def _floored(draw, n: int):
    """Floored distances between ``n`` random points, whole weights and a cap they fit."""
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 100
    costs = np.floor(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)))
    weights = rng.integers(1, 10, n).astype(float)
    cap = float(draw(st.integers(int(weights.max()), int(weights.sum()))))
    return costs, weights, cap


@st.composite
def weighted(draw):
    n = draw(st.integers(5, 7))
    p = draw(st.integers(2, 3))
    costs, weights, cap = _floored(draw, n)
    return costs, weights, cap, p


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weighted())
def test_knapsack_bound_and_fixing_keep_every_better_layout(case):
    """The bound never passes the optimum, and fixing never drops a pair of a better layout."""
    costs, weights, cap, p = case
    n = len(costs)
    totals = {}
    for venue_of in _layouts(n, p):
        if _feasible(venue_of, weights, cap):
            totals[tuple(venue_of)] = float(costs[np.arange(n), venue_of].sum())
    if not totals:
        return
    optimum = min(totals.values())
    bounds = Bounds(n, 1, n, p, weights=weights, max_weight=cap)
    lb = lagrangian_bound(costs, bounds, optimum + 5, time_limit=0.5)
    assert lb.value <= optimum + 1e-6
    upper = optimum + 3.0
    kept = lb.open_pairs(costs, upper, step=1.0)
    for layout, total in totals.items():
        if total <= upper - 1.0:  # a layout better than `upper` by a whole unit
            venue_of = np.array(layout)
            assert kept[np.arange(n), venue_of].all(), (layout, total, optimum)
            assert not lb.closed_venues(upper, step=1.0)[np.unique(venue_of)].any()


@st.composite
def sized(draw):
    """Tiny instances with a minimum and maximum size, with or without a weight cap."""
    n = draw(st.integers(5, 7))
    p = draw(st.integers(2, 3))
    lo = draw(st.integers(1, n // p))
    hi = draw(st.integers(max(lo, -(-n // p)), n))
    costs, weights, cap = _floored(draw, n)
    capped = draw(st.booleans())
    slack = draw(st.sampled_from([0.0, 1.0, 3.0, 10.0]))
    return costs, lo, hi, p, (weights, cap) if capped else None, slack


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sized())
def test_fixing_with_size_bounds_keeps_every_better_layout(case):
    """With a minimum size the subproblem forces members in; a forced pair is never dropped."""
    costs, lo, hi, p, capped, slack = case
    n = len(costs)
    weights, cap = capped if capped else (None, np.inf)
    totals = {}
    for venue_of in _layouts(n, p):
        sizes = np.bincount(venue_of, minlength=n)[np.unique(venue_of)]
        if sizes.min() < lo or sizes.max() > hi:
            continue
        if weights is not None and not _feasible(venue_of, weights, cap):
            continue
        totals[tuple(venue_of)] = float(costs[np.arange(n), venue_of].sum())
    if not totals:
        return
    optimum = min(totals.values())
    bounds = Bounds(n, lo, hi, p, weights=weights, max_weight=cap)
    lb = lagrangian_bound(costs, bounds, optimum + 5, time_limit=0.5)
    assert lb.value <= optimum + 1e-6
    upper = optimum + slack + 1.0
    kept = lb.open_pairs(costs, upper, step=1.0)
    closed = lb.closed_venues(upper, step=1.0)
    for layout, total in totals.items():
        if total <= upper - 1.0:
            venue_of = np.array(layout)
            assert kept[np.arange(n), venue_of].all(), (layout, total, optimum)
            assert not closed[np.unique(venue_of)].any()


def test_exact_knapsack_is_tighter_than_its_lp_relaxation(monkeypatch):
    rng = np.random.default_rng(3)
    n, p = 40, 4
    xy = rng.random((n, 2)) * 100
    costs = np.floor(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)))
    weights = rng.integers(5, 30, n).astype(float)
    cap = float(np.ceil(weights.sum() / p * 1.1))
    bounds = Bounds(n, 1, n, p, weights=weights, max_weight=cap)
    exact = lagrangian_bound(costs, bounds, 1e4, time_limit=5.0, max_iterations=400)

    def relaxed_only(self, reduced, lam, venues):
        _, chosen, tables = real(self, reduced, lam, venues)
        return np.full(len(venues), -np.inf), chosen, tables

    real = bound_module._Knapsack.solve
    monkeypatch.setattr(bound_module._Knapsack, "solve", relaxed_only)
    lp = lagrangian_bound(costs, bounds, 1e4, time_limit=5.0, max_iterations=400)
    assert exact.value > lp.value + 1.0


@pytest.mark.parametrize("seed", range(6))
def test_sparse_bound_never_exceeds_the_dense_value(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 120))
    xy = rng.random((n, 2)) * 10_000
    costs = euclidean_costs(xy).matrix
    lo = int(rng.integers(1, 8))
    hi = lo + int(rng.integers(0, 5))
    p = int(np.ceil(n / hi))
    lo = min(lo, n // p)
    bounds = Bounds(n, lo, hi, p)
    lam = lagrangian_bound(costs, bounds, 1e9, time_limit=0.3).multipliers
    values, _, _ = _Candidates(costs, n - 1).values(lam, lo, hi)
    dense = lam.sum() + np.sort(values)[:p].sum()
    sparse = sparse_bound(xy, lam, min_size=lo, max_size=hi, n_clusters=p)
    assert sparse <= dense + 1e-6
    assert sparse >= dense - 0.05 * abs(dense)  # and close to it


def test_straight_lines_read_like_the_dense_matrix():
    rng = np.random.default_rng(0)
    xy = rng.random((40, 2)) * 1000
    dense = euclidean_costs(xy).matrix
    lazy = StraightLines(xy)
    rows, cols, venues = np.array([3, 5, 7]), np.array([1, 2]), np.array([4, 4, 9])
    assert np.allclose(lazy[rows, venues], dense[rows, venues])
    assert np.allclose(lazy[np.ix_(rows, cols)], dense[np.ix_(rows, cols)])
    assert np.allclose(lazy[:, 4], dense[:, 4])
    assert np.allclose(lazy[4], dense[4])
    assert np.allclose(lazy[rows, :], dense[rows, :])
    assert np.allclose(np.asarray(lazy), dense)


def _pmedcap_like(n: int, p: int, seed: int):
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 100, (n, 2)).astype(float)
    demand = rng.integers(1, 20, n).astype(float)
    cap = float(np.ceil(demand.sum() / p * 1.25))
    ids = [str(i + 1) for i in range(n)]
    frame = pd.DataFrame({"id": ids, "x": xy[:, 0], "y": xy[:, 1], "demand": demand})
    matrix = np.floor(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)))
    return frame, pd.DataFrame(matrix, index=ids, columns=ids), cap


def test_a_matrix_in_memory_drives_the_engine_and_the_checker():
    frame, matrix, cap = _pmedcap_like(30, 3, 0)
    centres = load_centres(frame, crs="EPSG:3857")
    rule = SizeRule(1, 30, n_clusters=3, size_by="demand", max_weight=cap)
    layout = form_clusters(
        centres, rule, distances=matrix, time_limit=10, workers=1, baselines=False
    )
    assert check_layout(layout, rule, matrix=matrix).ok
    frame = layout.centres
    venue_of = frame[frame["is_venue"]].set_index("cluster")["centre_id"]
    ids = frame["centre_id"].astype(str).to_numpy()
    venue = venue_of.loc[frame["cluster"]].astype(str).to_numpy()
    total = sum(matrix.loc[i, v] for i, v in zip(ids, venue, strict=True))
    assert layout.objective == pytest.approx(total)
    # integer costs: the bound is a whole number, and small instances are proven
    assert layout.lower_bound == np.floor(layout.lower_bound)
    assert layout.status == "optimal"


def test_a_matrix_with_holes_is_refused_in_plain_words():
    frame, matrix, _ = _pmedcap_like(10, 2, 1)
    matrix.iloc[2, 3] = np.nan
    centres = load_centres(frame, crs="EPSG:3857")
    with pytest.raises(Exception, match="missing or negative"):
        form_clusters(centres, SizeRule(1, 10, n_clusters=2), distances=matrix, time_limit=2)


def test_large_parts_are_cut_into_areas_with_a_bound_for_the_whole(monkeypatch):
    monkeypatch.setattr(solve_module, "PART_MAX", 120)
    rng = np.random.default_rng(5)
    centres_xy = rng.random((6, 2)) * 40_000
    xy = np.vstack([c + rng.normal(0, 3000, (60, 2)) for c in centres_xy])
    frame = pd.DataFrame(
        {"id": [f"s{i}" for i in range(len(xy))], "x": xy[:, 0] + 450_000, "y": xy[:, 1] + 130_000}
    )
    centres = load_centres(frame, crs="EPSG:27700")
    rule = SizeRule(8, 12)
    layout = form_clusters(centres, rule, time_limit=20, workers=1, baselines=False)
    assert layout.stats["areas"] >= 4
    assert check_layout(layout, rule).ok
    # valid, though weak: the areas' multipliers are tuned to their own areas
    assert 0 <= layout.lower_bound <= layout.objective
    # the areas' bound is a bound on the whole set: below a whole-set solve's result
    whole = form_clusters(centres, rule, time_limit=20, workers=1, baselines=False)
    assert layout.lower_bound <= whole.objective + 1e-6


def test_a_part_cut_into_areas_from_a_matrix_gets_a_bound_from_its_own_costs(monkeypatch):
    # no straight lines to bound it with (a matrix), and capacities the sizes do not show:
    # the whole part's Lagrangian, from the areas' multipliers, still bounds it
    frame, matrix, cap = _pmedcap_like(160, 16, 3)
    centres = load_centres(frame, crs="EPSG:3857")
    rule = SizeRule(1, 160, n_clusters=16, size_by="demand", max_weight=cap)
    args = dict(distances=matrix, time_limit=5, workers=1, baselines=False)
    whole = form_clusters(centres, rule, **args)
    monkeypatch.setattr(solve_module, "PART_MAX", 80)
    layout = form_clusters(centres, rule, **args)
    assert layout.stats["areas"] >= 2
    assert check_layout(layout, rule, matrix=matrix).ok
    assert layout.stats["dense_cut_bound"] > 0
    # valid: below what the whole part solved at once reaches, and not far below its bound
    assert 0.9 * whole.lower_bound <= layout.lower_bound <= whole.objective + 1e-6
    assert layout.lower_bound <= layout.objective + 1e-6


def test_clusters_either_side_of_a_cut_are_re_formed_together(monkeypatch):
    monkeypatch.setattr(solve_module, "PART_MAX", 120)
    rng = np.random.default_rng(7)
    xy = rng.random((360, 2)) * 60_000  # one even spread: every cut runs through clusters
    frame = pd.DataFrame(
        {"id": [f"s{i}" for i in range(len(xy))], "x": xy[:, 0] + 450_000, "y": xy[:, 1] + 130_000}
    )
    centres = load_centres(frame, crs="EPSG:27700")
    rule = SizeRule(8, 12)
    layout = form_clusters(centres, rule, time_limit=12, workers=1, baselines=False)
    stats = layout.stats
    assert stats["areas"] >= 3
    assert stats["seam_moves"] > 0  # re-solves drawn over the whole part, across the cuts
    assert stats["seam_gain"] >= 0  # never worse than the areas' layouts joined
    assert check_layout(layout, rule).ok
    assert sorted(layout.assignments["centre_id"]) == sorted(frame["id"])


def test_a_part_seen_through_its_rows_reads_the_whole_matrix():
    from clustering.solver.engine import _Rows

    rng = np.random.default_rng(0)
    matrix = rng.random((30, 30))
    rows = np.array([3, 7, 11, 29, 0])
    view = _Rows(matrix, rows)
    dense = matrix[np.ix_(rows, rows)]
    a, b = np.array([0, 2, 4]), np.array([1, 3])
    assert np.array_equal(view[np.ix_(a, b)], dense[np.ix_(a, b)])
    assert np.array_equal(
        view[np.arange(5), np.array([4, 3, 2, 1, 0])], dense[np.arange(5), [4, 3, 2, 1, 0]]
    )
    assert len(view) == 5
    assert view.shape == (5, 5)
