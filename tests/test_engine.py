"""The engine: pre-checks, construction, lower bound, solve, and the checker."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustering import InfeasibleError, SizeRule, check_layout, form_clusters, load_centres
from clustering.model.costs import euclidean_costs
from clustering.model.sizes import resolve
from clustering.solver.bound import lagrangian_bound
from clustering.solver.construct import assign_to_venues, construct, layout_cost


def _centres(xy: np.ndarray, pupils: np.ndarray | None = None):
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(len(xy))],
            "x": xy[:, 0] + 450_000,
            "y": xy[:, 1] + 130_000,
        }
    )
    if pupils is not None:
        frame["pupils"] = pupils
    return load_centres(frame, crs="EPSG:27700")


def _by_id(xy: np.ndarray) -> dict[str, np.ndarray]:
    """The test's own coordinates (as handed to the loader) by centre id."""
    return {f"c{i}": xy[i] for i in range(len(xy))}


def _travel_directly(layout, xy: np.ndarray) -> float:
    """Σ member → venue straight-line metres, from the test's own coordinates and the
    layout's stated venues: neither the engine's cost matrix nor the checker's geometry."""
    where = _by_id(xy)
    a = layout.assignments
    a = a[a["cluster"].notna()]
    members = np.array([where[c] for c in a["centre_id"]])
    venues = np.array([where[v] for v in a["venue_id"]])
    return float(np.hypot(*(members - venues).T).sum())


def _engine_objective(layout) -> float:
    """The engine's own value (its compiled objective) of the layout it returned.

    ``layout.objective`` is the checker's recomputation (form_clusters sets it from the
    checker after comparing the two), so a test that compares it with the checker only
    compares the checker with itself; this is the other side of that comparison.
    """
    problem = layout.problem
    return float(problem.objective.cost(problem.costs.matrix, layout.venue_of))


def _contrast_directly(layout, frame: pd.DataFrame, column: str) -> float:
    """One attribute's deviation, from the test's own table by centre id (README's terms).

    Numeric: ``Σ_k n_k·|mean_k − area mean|``, a missing value counting at the mean.
    Categorical: ``Σ_k Σ_c |count_kc − n_k·share_c| / 2``, missing as a category "unknown".
    """
    a = layout.assignments
    a = a[a["cluster"].notna()]
    cells = frame.set_index(frame["id"].astype(str))[column].reindex(a["centre_id"].to_numpy())
    cluster = a["cluster"].to_numpy(dtype=int)
    if pd.api.types.is_numeric_dtype(frame[column]):
        values = cells.to_numpy(dtype=float)
        mean = np.nanmean(values)
        values = np.where(np.isnan(values), mean, values)
        blocks = [values[cluster == k] for k in set(cluster)]
        return float(sum(len(b) * abs(b.mean() - mean) for b in blocks))
    cats = np.array(["unknown" if pd.isna(v) else str(v) for v in cells], dtype=object)
    total = 0.0
    for k in set(cluster):
        size = (cluster == k).sum()
        for c in set(cats):
            total += abs((cats[cluster == k] == c).sum() - size * (cats == c).mean())
    return total / 2


def _partitions(items):
    """Every set partition of ``items`` (Bell number many)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        for k in range(len(part)):
            yield [*part[:k], [first, *part[k]], *part[k + 1 :]]
        yield [[first], *part]


def _brute_force(costs, lo, hi, p, weights=None, max_weight=np.inf) -> float:
    best = np.inf
    for part in _partitions(list(range(len(costs)))):
        if len(part) != p or any(not lo <= len(b) <= hi for b in part):
            continue
        if weights is not None and any(weights[b].sum() > max_weight + 1e-9 for b in part):
            continue
        total = sum(costs[np.ix_(b, b)].sum(axis=0).min() for b in part)
        best = min(best, total)
    return float(best)


# --- pre-checks -------------------------------------------------------------------------


def test_resolve_default_count_aims_at_mid_size():
    assert resolve(SizeRule(8, 12), 427).n_clusters == 43
    assert resolve(SizeRule(8, 12, target_size=12), 427).n_clusters == 36


@pytest.mark.parametrize(
    ("rule", "n", "words"),
    [
        (SizeRule(8, 12), 13, "no number of clusters fits 13 centres"),
        (SizeRule(8, 12, n_clusters=5), 30, "5 clusters are impossible"),
        (SizeRule(12, 8), 30, "below the minimum"),
        (SizeRule(0, 8), 30, "at least 1"),
    ],
)
def test_resolve_explains_infeasible_rules(rule, n, words):
    with pytest.raises(InfeasibleError, match=words):
        resolve(rule, n)


def test_resolve_weight_bounds_name_the_heavy_centre():
    weights = np.array([100.0] * 20 + [900.0])
    with pytest.raises(InfeasibleError, match=r"alone exceed the maximum pupils.*900"):
        resolve(SizeRule(2, 5, size_by="pupils", max_weight=500), 21, weights)


# --- construction and bound ------------------------------------------------------------


def test_min_cost_flow_assignment_is_optimal_for_fixed_venues():
    rng = np.random.default_rng(1)
    xy = rng.random((9, 2)) * 1000
    costs = euclidean_costs(xy).matrix
    bounds = resolve(SizeRule(2, 4, n_clusters=3), 9)
    venues = np.array([0, 1, 2])
    got = assign_to_venues(costs, venues, bounds)
    assert got is not None
    best = np.inf
    for labels in itertools.product(range(3), repeat=6):  # the six non-venues
        sizes = np.bincount(labels, minlength=3) + 1
        if sizes.min() >= 2 and sizes.max() <= 4:
            best = min(best, sum(costs[3 + i, venues[k]] for i, k in enumerate(labels)))
    assert layout_cost(costs, got) == pytest.approx(best, abs=3)  # rounding to metres


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lower_bound_is_valid_and_solver_reaches_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    xy = rng.random((8, 2)) * 5000
    costs = euclidean_costs(xy).matrix
    rule = SizeRule(2, 3, n_clusters=3)
    optimum = _brute_force(costs, 2, 3, 3)
    bounds = resolve(rule, 8)
    start = construct(costs, xy, bounds, seed=seed)
    lb = lagrangian_bound(costs, bounds, layout_cost(costs, start))
    assert lb.value <= optimum + 1e-6
    layout = form_clusters(_centres(xy), rule, time_limit=10, seed=seed, workers=1)
    assert layout.lower_bound <= optimum + 1e-6
    # CP-SAT works on integer metres: the optimum may differ by rounding, at most 0.5 m a centre
    assert layout.objective == pytest.approx(optimum, abs=4.0)


def test_weight_bounds_hold_on_real_sample():
    centres = load_centres("data/sample/hampshire_primary_schools_2022.csv")
    rule = SizeRule(6, 14, size_by="pupils", min_weight=1500, max_weight=3500)
    layout = form_clusters(centres, rule, time_limit=8, seed=0)
    report = check_layout(layout, rule)
    assert report.ok, report.violations
    loads = layout.centres.groupby("cluster")["pupils"].sum()
    assert loads.between(1500, 3500).all()
    # the two schools without a pupil count are excluded with that reason, not lost
    no_pupils = layout.excluded[layout.excluded["reason"].str.contains("no pupils")]
    assert len(no_pupils) == 2
    assert len(layout.centres) + len(layout.excluded) == 520


# --- the checker -------------------------------------------------------------------------


def _small_xy() -> np.ndarray:
    return np.random.default_rng(7).random((40, 2)) * 20_000


@pytest.fixture(scope="module")
def small_layout():
    rule = SizeRule(8, 12)
    return form_clusters(_centres(_small_xy()), rule, time_limit=5, seed=0), rule


def test_checker_passes_a_solver_layout(small_layout):
    layout, rule = small_layout
    report = check_layout(layout, rule, input_ids=[f"c{i}" for i in range(40)])
    assert report.ok, report.violations
    # the objective recomputed here, from the coordinates this test gave: the checker's
    # value (layout.objective is the checker's too) and the engine's must both match it
    expected = _travel_directly(layout, _small_xy())
    assert report.recomputed_objective == pytest.approx(expected, rel=1e-9)
    assert layout.objective == pytest.approx(expected, rel=1e-9)
    assert _engine_objective(layout) == pytest.approx(expected, rel=1e-9)


def _broken(layout, change):
    copy = type(layout)(**{**layout.__dict__, "centres": layout.centres.copy()})
    change(copy)
    return copy


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda lay: lay.centres.__setitem__("distance", lay.centres["distance"] * 0.9),
            "distance",
        ),
        (lambda lay: setattr(lay, "objective", lay.objective * 0.5), "objective"),
        (lambda lay: setattr(lay, "lower_bound", lay.objective * 2), "lower bound"),
        (lambda lay: lay.centres.__setitem__("is_venue", False), "0 venues"),
        (lambda lay: lay.centres.__setitem__("cluster", 1), "members, outside"),
        (lambda lay: setattr(lay, "centres", lay.centres.iloc[1:]), "neither clustered"),
    ],
)
def test_checker_catches_violations(small_layout, change, words):
    layout, rule = small_layout
    broken = _broken(layout, change)
    report = check_layout(broken, rule, input_ids=[f"c{i}" for i in range(40)])
    assert not report.ok
    assert any(words in v for v in report.violations), report.violations


# --- properties --------------------------------------------------------------------------


@st.composite
def instances(draw):
    n = draw(st.integers(min_value=6, max_value=45))
    lo = draw(st.integers(min_value=2, max_value=6))
    hi = draw(st.integers(min_value=lo, max_value=lo + 6))
    if n // lo < -(-n // hi):
        hi = n  # make the sizes admit at least one cluster count
        lo = min(lo, n)
    seed = draw(st.integers(min_value=0, max_value=2**16))
    rng = np.random.default_rng(seed)
    # clumpy points, as schools in towns are
    towns = rng.random((3, 2)) * 40_000
    xy = towns[rng.integers(0, 3, n)] + rng.normal(0, 2_000, (n, 2))
    return xy, SizeRule(lo, hi), seed


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_any_instance_gives_a_checked_layout_with_nothing_lost(case):
    xy, rule, seed = case
    centres = _centres(xy)
    layout = form_clusters(centres, rule, time_limit=2, seed=seed, workers=1)
    ids = [f"c{i}" for i in range(len(xy))]
    report = check_layout(layout, rule, input_ids=ids)
    assert report.ok, report.violations
    assert sorted(layout.assignments["centre_id"]) == sorted(ids)
    expected = _travel_directly(layout, xy)
    assert layout.objective == pytest.approx(expected, rel=1e-9)
    assert _engine_objective(layout) == pytest.approx(expected, rel=1e-9)
    assert 0 <= layout.lower_bound <= layout.objective + 1e-6
    assert 0 <= layout.gap <= 1


def _same_layout(a, b) -> None:
    """The whole of two layouts: every member's cluster, venue and trip, the totals."""
    columns = ["centre_id", "cluster", "venue_id", "is_venue", "distance", "coordinator"]
    pd.testing.assert_frame_equal(a.assignments[columns], b.assignments[columns])
    pd.testing.assert_frame_equal(a.excluded, b.excluded)
    assert a.objective == b.objective
    assert a.lower_bound == b.lower_bound
    assert a.status == b.status
    assert a.stats["construction_objective"] == b.stats["construction_objective"]


def test_form_clusters_is_reproducible_with_one_worker():
    """Deterministic settings: two whole runs give the same layout, not just the same start.

    300 centres are more than the exact model takes in one piece: the layout is the
    neighbourhood search's (not a proven optimum any path would reach), so the search
    after the construction has to repeat too.
    """
    rng = np.random.default_rng(3)
    xy = rng.random((300, 2)) * 42_000
    runs = [
        form_clusters(
            _centres(xy),
            SizeRule(8, 12),
            time_limit=2,
            seed=5,
            workers=1,
            deterministic=True,
            baselines=False,
        )
        for _ in range(2)
    ]
    a, b = runs
    assert isinstance(a.centres, gpd.GeoDataFrame)
    assert a.params["seed"] == 5
    assert a.params["workers"] == 1
    assert "ortools" in a.params["versions"]
    assert a.stats["lns_improving_moves"] > 0, "the search after the construction ran"
    assert a.objective < a.stats["construction_objective"]
    assert a.gap > 0, "not proven optimal: another search path could end elsewhere"
    _same_layout(a, b)


# --- sparse bound and travel matrices -----------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(30, 120),
    lo=st.integers(1, 6),
    spread=st.floats(0.0, 3.0),
)
def test_sparse_venue_values_equal_dense_ones(seed, n, lo, spread):
    from clustering.solver.bound import _Candidates

    rng = np.random.default_rng(seed)
    xy = np.vstack([rng.normal(0, 1000, (n // 2, 2)), rng.random((n - n // 2, 2)) * 50_000])
    costs = euclidean_costs(xy).matrix
    # multipliers from tiny to far larger than typical member-venue costs, with a
    # heavy tail (remote centres) that reaches venues beyond each venue's list
    lam = rng.random(n) * 5000 * spread
    remote = rng.random(n) < 0.15
    lam[remote] = rng.random(remote.sum()) * 60_000 * spread
    hi = lo + 4
    dense = _Candidates(costs, n - 1).values(lam, lo, hi)[0]
    sparse = _Candidates(costs, 12).values(lam, lo, hi)[0]
    np.testing.assert_allclose(sparse, dense, rtol=1e-9, atol=1e-6)


def test_travel_matrix_drives_layout_and_checker(tmp_path):
    rng = np.random.default_rng(11)
    xy = rng.random((30, 2)) * 20_000
    centres = _centres(xy)
    ids = [f"c{i}" for i in range(30)]
    # asymmetric minutes: uphill is slower; c29 is missing from the matrix
    rows = []
    for a in range(29):
        for b in range(29):
            if a != b:
                d = float(np.hypot(*(xy[a] - xy[b]))) / 500.0
                rows.append((ids[a], ids[b], round(d * (1.2 if a < b else 1.0), 2)))
    matrix = tmp_path / "minutes.csv"
    pd.DataFrame(rows, columns=["from", "to", "minutes"]).to_csv(matrix, index=False)
    rule = SizeRule(4, 8)
    layout = form_clusters(centres, rule, distances=matrix, time_limit=5, seed=0)
    assert layout.unit == "min"
    assert list(layout.excluded["centre_id"]) == ["c29"]
    assert "not in the travel matrix" in layout.excluded["reason"].iloc[0]
    square = pd.DataFrame(0.0, index=ids[:29], columns=ids[:29])
    for a, b, value in rows:
        square.loc[a, b] = value
    report = check_layout(layout, rule, input_ids=ids, matrix=square)
    assert report.ok, report.violations
    # distances are the matrix's member -> venue minutes, not straight lines
    venue = layout.centres.set_index("centre_id")
    member = layout.centres[~layout.centres["is_venue"]].iloc[0]
    venue_id = layout.centres[
        layout.centres["is_venue"] & (layout.centres["cluster"] == member["cluster"])
    ]["centre_id"].iloc[0]
    assert venue.loc[member["centre_id"], "distance"] == square.loc[member["centre_id"], venue_id]


# --- contrast ----------------------------------------------------------------------------


def _split_town():
    """Two towns: the west one affluent, the east one deprived."""
    return load_centres(_split_town_frame(), crs="EPSG:27700")


def _split_town_frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    west = rng.normal([0, 0], 1500, (30, 2))
    east = rng.normal([12_000, 0], 1500, (30, 2))
    xy = np.vstack([west, east])
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(60)],
            "x": xy[:, 0] + 450_000,
            "y": xy[:, 1] + 130_000,
            "fsm_pct": np.r_[rng.uniform(2, 8, 30), rng.uniform(30, 45, 30)],
            "urban_rural": ["Rural"] * 30 + ["Urban"] * 30,
        }
    )
    return frame


def test_contrast_weights_mix_clusters_at_a_travel_cost():
    from clustering.model.objective import Weights

    centres = _split_town()
    rule = SizeRule(8, 12)
    plain = form_clusters(centres, rule, time_limit=6, seed=0)
    weights = Weights(1.0, {"fsm_pct": 2.0, "urban_rural": 20.0})
    mixed = form_clusters(centres, rule, weights=weights, time_limit=6, seed=0)
    report = check_layout(mixed, rule, weights=weights)
    assert report.ok, report.violations
    # the weighted total recomputed here (metres; a weight is km per unit of deviation)
    frame = _split_town_frame()
    xy = frame[["x", "y"]].to_numpy() - [450_000, 130_000]
    expected = _travel_directly(mixed, xy) + 1000 * (
        2.0 * _contrast_directly(mixed, frame, "fsm_pct")
        + 20.0 * _contrast_directly(mixed, frame, "urban_rural")
    )
    assert report.recomputed_objective == pytest.approx(expected, rel=1e-9)
    assert mixed.objective == pytest.approx(expected, rel=1e-9)
    assert _engine_objective(mixed) == pytest.approx(expected, rel=1e-9)

    def fsm_deviation(layout):  # Σ over clusters of |Σ (fsm − area mean)|, computed here
        c = layout.centres
        return (c["fsm_pct"] - c["fsm_pct"].mean()).groupby(c["cluster"]).sum().abs().sum()

    assert mixed.stats["objective_parts"]["fsm_pct"] == pytest.approx(fsm_deviation(mixed))
    assert fsm_deviation(mixed) < 0.5 * fsm_deviation(plain)
    assert mixed.stats["objective_parts"]["travel"] > plain.stats["objective_parts"]["travel"]
    # every cluster now has schools from both towns
    towns = mixed.centres.groupby("cluster")["urban_rural"].nunique()
    assert (towns == 2).all()


def test_checker_recomputes_contrast_in_the_objective():
    from clustering.model.objective import Weights

    centres = _split_town()
    rule = SizeRule(8, 12)
    weights = Weights(1.0, {"fsm_pct": 2.0})
    layout = form_clusters(centres, rule, weights=weights, time_limit=3, seed=0)
    assert check_layout(layout, rule, weights=weights).ok
    travel_only = check_layout(layout, rule)  # without weights the total is travel alone
    assert not travel_only.ok
    assert any("objective" in v for v in travel_only.violations)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.floats(0, 5), st.floats(0, 20))
def test_contrast_instances_give_checked_layouts(case, w_fsm, w_ur):
    from clustering.model.objective import Weights

    xy, rule, seed = case
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(len(xy))],
            "x": xy[:, 0] + 450_000,
            "y": xy[:, 1] + 130_000,
            "fsm_pct": np.where(rng.random(len(xy)) < 0.1, np.nan, rng.uniform(0, 50, len(xy))),
            "urban_rural": rng.choice(["Urban", "Rural", None], len(xy)),
        }
    )
    centres = load_centres(frame, crs="EPSG:27700")
    weights = Weights(1.0, {"fsm_pct": w_fsm, "urban_rural": w_ur})
    layout = form_clusters(centres, rule, weights=weights, time_limit=2, seed=seed, workers=1)
    report = check_layout(layout, rule, input_ids=frame["id"], weights=weights)
    assert report.ok, report.violations
    assert 0 <= layout.lower_bound <= layout.objective + 1e-6
    expected = _travel_directly(layout, xy) + 1000 * (
        w_fsm * _contrast_directly(layout, frame, "fsm_pct")
        + w_ur * _contrast_directly(layout, frame, "urban_rural")
    )
    assert layout.objective == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert _engine_objective(layout) == pytest.approx(expected, rel=1e-9, abs=1e-6)


# --- weights that are not whole numbers --------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_decimal_weights_keep_the_bound_valid(seed):
    rng = np.random.default_rng(seed)
    xy = rng.random((8, 2)) * 5000
    pupils = np.round(rng.uniform(0.1, 0.5, 8), 3)
    costs = euclidean_costs(xy).matrix
    cap = float(np.round(np.sort(pupils)[-3:].sum() - 0.01, 3))  # the 3 heaviest cannot share
    optimum = _brute_force(costs, 1, 3, 3, pupils, cap)
    assert np.isfinite(optimum)
    rule = SizeRule(1, 3, n_clusters=3, size_by="pupils", max_weight=cap)
    layout = form_clusters(_centres(xy, pupils), rule, time_limit=5, seed=seed, workers=1)
    assert check_layout(layout, rule).ok
    assert layout.lower_bound <= optimum + 1e-6
    assert layout.objective >= optimum - 1e-6


def test_rounding_cannot_pass_a_bound_off_as_proven():
    """0.335 + 0.335 fits 0.67 exactly; scaled to hundredths and rounded it would not."""
    pts = np.array([(0, 0), (10, 0), (5000, 0), (5010, 0), (0, 5000), (10, 5000)], float)
    pupils = np.array([0.335, 0.335, 0.335, 0.335, 0.0, 0.0])
    rule = SizeRule(1, 2, n_clusters=4, size_by="pupils", max_weight=0.67)
    layout = form_clusters(_centres(pts, pupils), rule, time_limit=3, workers=1)
    assert layout.objective == pytest.approx(20.0)
    assert layout.lower_bound <= 20.0 + 1e-6


def test_weights_that_cannot_fit_are_reported_infeasible():
    rng = np.random.default_rng(0)
    xy = rng.random((12, 2)) * 5000
    rule = SizeRule(2, 4, n_clusters=5, size_by="pupils", max_weight=1.0)
    # three schools of 0.334 exceed 1.0, so clusters hold two: 5 × 2 < 12
    with pytest.raises(InfeasibleError, match=r"rules together: 5 clusters; a weight of 0–1"):
        form_clusters(_centres(xy, np.full(12, 0.334)), rule, time_limit=3, workers=1)


# --- quotas ------------------------------------------------------------------------------


def _with_phase(n: int, seed: int):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 30_000
    phase = np.where(rng.random(n) < 0.2, "secondary", "primary")
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "x": xy[:, 0] + 450_000,
            "y": xy[:, 1] + 130_000,
            "phase": phase,
        }
    )
    return load_centres(frame, crs="EPSG:27700"), phase


@pytest.mark.parametrize(("n", "seed"), [(60, 0), (200, 1)])
def test_every_cluster_gets_its_quota(n, seed):
    from clustering.model.sizes import Quota

    centres, _ = _with_phase(n, seed)
    rule = SizeRule(8, 12, quotas=(Quota("phase", "Secondary", min=1, max=3),))
    layout = form_clusters(centres, rule, time_limit=5, seed=seed)
    assert check_layout(layout, rule).ok
    per = layout.centres.groupby("cluster")["phase"].apply(lambda s: (s == "secondary").sum())
    assert per.between(1, 3).all()


def test_quota_that_cannot_be_met_is_explained():
    from clustering.model.sizes import Quota

    centres, phase = _with_phase(60, 0)
    have = int((phase == "secondary").sum())
    rule = SizeRule(2, 4, quotas=(Quota("phase", "secondary", min=1),))
    with pytest.raises(InfeasibleError, match=f"each need at least 1 .* only {have} centres"):
        form_clusters(centres, rule, time_limit=2)


def test_checker_catches_a_broken_quota():
    from clustering.model.sizes import Quota

    centres, _ = _with_phase(60, 0)
    layout = form_clusters(centres, SizeRule(8, 12), time_limit=2)
    strict = SizeRule(8, 12, quotas=(Quota("phase", "secondary", min=12),))
    report = check_layout(layout, strict)
    assert any("phase = 'secondary'" in v for v in report.violations)
