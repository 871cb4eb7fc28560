"""Tests of the baselines reported beside every layout."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from clustering.analysis.baselines import (
    GEOGRAPHY_ONLY,
    NOT_AVAILABLE,
    THIS_LAYOUT,
    compare,
    contrast_price,
    district_venues,
    evaluate,
)
from clustering.model.costs import euclidean_costs
from clustering.model.layout import Layout, venue_labels
from clustering.model.objective import Weights, build_objective
from clustering.model.sizes import SizeRule, resolve
from clustering.output.export import write_outputs
from clustering.output.tables import rounded
from clustering.solver.kmeans import kmeans_constrained_venues


def _points(n: int, seed: int) -> np.ndarray:
    """``n`` random points over 30 km × 20 km of British National Grid."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, size=(n, 2)) * [30_000.0, 20_000.0] + [440_000.0, 120_000.0]


def _brute_medoid(costs: np.ndarray, members: np.ndarray) -> float:
    """The least total member → venue cost over every member as venue."""
    return min(float(costs[members, j].sum()) for j in members)


def _partition(venue_of: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(venue_of == v).tolist()) for v in np.unique(venue_of)}


def _check_layout_shape(venue_of: np.ndarray, n: int) -> None:
    assert venue_of.shape == (n,)
    # every venue is a member of its own cluster
    assert np.array_equal(venue_of[venue_of], venue_of)


# --- k-means with size bounds ---------------------------------------------


@pytest.mark.parametrize(("n", "lo", "hi", "seed"), [(60, 8, 12, 0), (73, 5, 7, 3), (41, 9, 11, 1)])
def test_kmeans_constrained_respects_sizes_and_meets_at_medoids(n, lo, hi, seed) -> None:
    pytest.importorskip("k_means_constrained")
    xy = _points(n, seed)
    costs = euclidean_costs(xy).matrix
    bounds = resolve(SizeRule(lo, hi), n)
    venue_of = kmeans_constrained_venues(xy, bounds, seed=seed)
    assert venue_of is not None
    _check_layout_shape(venue_of, n)
    venues, sizes = np.unique(venue_of, return_counts=True)
    assert len(venues) == bounds.n_clusters
    assert sizes.min() >= lo
    assert sizes.max() <= hi
    for v in venues:
        members = np.flatnonzero(venue_of == v)
        assert float(costs[members, v].sum()) == pytest.approx(_brute_medoid(costs, members))


def test_kmeans_constrained_medoid_follows_the_given_costs() -> None:
    pytest.importorskip("k_means_constrained")
    xy = _points(30, 5)
    bounds = resolve(SizeRule(10, 10), 30)
    # an asymmetric "travel time": reaching centre 0 is free for everyone,
    # so whichever cluster holds centre 0 must meet there
    costs = euclidean_costs(xy).matrix.copy()
    costs[:, 0] = 0.0
    venue_of = kmeans_constrained_venues(xy, bounds, seed=0, costs=costs)
    assert venue_of is not None
    assert venue_of[0] == 0
    straight = kmeans_constrained_venues(xy, bounds, seed=0)
    assert straight is not None
    # the same clusters (k-means sees only the points); only the venue moves
    assert _partition(venue_of) == _partition(straight)
    assert straight[0] != 0  # centre 0 is not the straight-line medoid here


def test_kmeans_constrained_impossible_sizes_give_none() -> None:
    xy = _points(20, 0)

    class Impossible:  # three clusters of at least eight cannot hold twenty centres
        n_clusters, min_size, max_size = 3, 8, 12

    assert kmeans_constrained_venues(xy, Impossible()) is None


# --- districts ----------------------------------------------------------------


def _district_frame(n: int = 23) -> tuple[pd.DataFrame, np.ndarray]:
    xy = _points(n, 11)
    names = ["Avon", "Test", "Itchen"]
    district = [names[i % 3] for i in range(n - 1)] + ["Meon"]  # one district of one
    return pd.DataFrame({"district": district, "x": xy[:, 0], "y": xy[:, 1]}), xy


def test_district_venues_make_one_cluster_per_district() -> None:
    frame, xy = _district_frame()
    costs = euclidean_costs(xy)
    venue_of = district_venues(frame, "district", costs)
    assert venue_of is not None
    _check_layout_shape(venue_of, len(frame))
    assert len(np.unique(venue_of)) == frame["district"].nunique() == 4
    for _, group in frame.groupby("district"):
        rows = group.index.to_numpy()
        assert len(np.unique(venue_of[rows])) == 1  # a district is one cluster
        v = venue_of[rows[0]]
        assert v in rows  # meeting at one of its own
        assert float(costs.matrix[rows, v].sum()) == pytest.approx(
            _brute_medoid(costs.matrix, rows)
        )


def test_district_venues_place_centres_without_a_district_at_the_cheapest_venue() -> None:
    frame, xy = _district_frame()
    frame.loc[[0, 4], "district"] = [None, "  "]
    costs = euclidean_costs(xy).matrix
    venue_of = district_venues(frame, "district", costs)
    assert venue_of is not None
    _check_layout_shape(venue_of, len(frame))
    venues = np.unique(venue_of)
    assert len(venues) == 4
    for i in (0, 4):
        assert venue_of[i] == venues[np.argmin(costs[i, venues])]


def test_district_venues_without_districts_give_none() -> None:
    frame, xy = _district_frame()
    costs = euclidean_costs(xy)
    assert district_venues(frame, "la_name", costs) is None
    frame["district"] = None
    assert district_venues(frame, "district", costs) is None


# --- evaluate and compare -------------------------------------------------------


def _instance(n: int = 40, seed: int = 2):
    xy = _points(n, seed)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "fsm_pct": rng.uniform(0.0, 50.0, n).round(1),
            "urban_rural": rng.choice(["urban", "rural"], n),
        }
    )
    costs = euclidean_costs(xy)
    objective = build_objective(frame, Weights(1.0, {"fsm_pct": 0.5, "urban_rural": 3.0}), unit="m")
    # four vertical strips of ten, each meeting at its first member
    order = np.argsort(xy[:, 0], kind="stable")
    venue_of = np.empty(n, dtype=np.int64)
    for strip in np.array_split(order, 4):
        venue_of[strip] = strip[0]
    return xy, frame, costs, objective, venue_of


def test_evaluate_matches_a_brute_recomputation() -> None:
    xy, frame, costs, objective, venue_of = _instance()
    bounds = SizeRule(10, 12)  # every strip holds exactly ten
    row = evaluate("strips", venue_of, costs, objective, bounds, "m")

    km = [math.dist(xy[i], xy[venue_of[i]]) / 1000.0 for i in range(len(xy))]
    assert row["baseline"] == "strips"
    assert row["clusters"] == 4
    assert row["smallest"] == row["largest"] == 10
    assert row["outside_size_bounds"] == 0
    assert row["total_travel_km"] == pytest.approx(sum(km))
    assert row["mean_travel_km"] == pytest.approx(sum(km) / len(km))
    assert row["max_travel_km"] == pytest.approx(max(km))

    fsm = frame["fsm_pct"].to_numpy()
    dev_fsm = sum(
        (venue_of == v).sum() * abs(fsm[venue_of == v].mean() - fsm.mean())
        for v in np.unique(venue_of)
    )
    assert row["fsm_pct_deviation"] == pytest.approx(dev_fsm)
    area_urban = (frame["urban_rural"] == "urban").mean()
    dev_ur = 0.0
    for v in np.unique(venue_of):
        members = frame.loc[venue_of == v, "urban_rural"]
        for share, label in ((area_urban, "urban"), (1 - area_urban, "rural")):
            dev_ur += abs((members == label).sum() - len(members) * share) / 2
    assert row["urban_rural_deviation"] == pytest.approx(dev_ur)
    assert row["objective_km"] == pytest.approx(sum(km) + 0.5 * dev_fsm + 3.0 * dev_ur)
    assert row["note"] == ""

    tight = evaluate("strips", venue_of, costs, objective, SizeRule(11, 12), "m")
    assert tight["outside_size_bounds"] == 4


def test_evaluate_keeps_a_matrix_unit() -> None:
    xy, _, _, _, venue_of = _instance()
    minutes = euclidean_costs(xy).matrix / 800.0
    objective = build_objective(pd.DataFrame(index=range(len(xy))), None, unit="min")
    row = evaluate("strips", venue_of, minutes, objective, SizeRule(8, 12), "min")
    expected = minutes[np.arange(len(xy)), venue_of].sum()
    assert row["total_travel_min"] == pytest.approx(expected)
    assert row["objective_min"] == pytest.approx(expected)
    assert not any(k.endswith("_deviation") for k in row)


class _OtherParts:
    """An objective with parts besides travel and contrast, as the engine may add."""

    terms = ()
    travel_scale = 0.001

    def parts(self, costs, venue_of):
        n = len(venue_of)
        return {
            "travel": float(costs[np.arange(n), venue_of].sum()) * self.travel_scale,
            "members moved": float(np.sum(venue_of != np.arange(n))),
        }

    def cost(self, costs, venue_of):
        parts = self.parts(costs, venue_of)
        return (parts["travel"] + 2.0 * parts["members moved"]) / self.travel_scale


def test_evaluate_reports_every_part_of_the_objective() -> None:
    xy, _, costs, _, venue_of = _instance()
    row = evaluate("strips", venue_of, costs, _OtherParts(), SizeRule(8, 12), "m")
    assert row["members_moved"] == len(xy) - 4  # everyone but the four venues
    assert row["objective_km"] == pytest.approx(row["total_travel_km"] + 2.0 * (len(xy) - 4))


def test_evaluate_rejects_a_venue_outside_its_cluster() -> None:
    _, _, costs, objective, venue_of = _instance()
    broken = venue_of.copy()
    broken[venue_of[0]] = venue_of[-1]  # a venue that meets elsewhere
    with pytest.raises(ValueError, match="venue"):
        evaluate("broken", broken, costs, objective, SizeRule(8, 12), "m")


def test_compare_puts_the_layout_first_and_marks_missing_baselines() -> None:
    _, frame, costs, objective, venue_of = _instance()
    one = np.zeros(len(frame), dtype=np.int64)  # everyone in one cluster
    table = compare(
        venue_of,
        {GEOGRAPHY_ONLY: venue_of, "one big cluster": one, "k-means": None},
        costs,
        objective,
        SizeRule(8, 12),
        "m",
    )
    assert table["baseline"].tolist() == [THIS_LAYOUT, GEOGRAPHY_ONLY, "one big cluster", "k-means"]
    assert table["note"].tolist() == ["", "", "", NOT_AVAILABLE]
    assert table.loc[2, "clusters"] == 1
    assert table.loc[2, "outside_size_bounds"] == 1
    assert pd.isna(table.loc[3, "total_travel_km"])
    assert table.loc[0, "total_travel_km"] == table.loc[1, "total_travel_km"]
    assert table.loc[2, "total_travel_km"] > table.loc[0, "total_travel_km"]
    # one cluster is the whole area: no deviation at all
    assert table.loc[2, "fsm_pct_deviation"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc[2, "urban_rural_deviation"] == pytest.approx(0.0, abs=1e-9)


# --- the price of contrast ------------------------------------------------------


def _hand_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "baseline": [THIS_LAYOUT, GEOGRAPHY_ONLY, "districts"],
            "total_travel_km": [130.0, 100.0, 400.0],
            "fsm_pct_deviation": [20.0, 80.0, 10.0],  # 60 removed for 30 km: 0.5 km each
            "urban_rural_deviation": [12.0, 14.0, 3.0],  # 2 removed: 15 km each
            "ethnic_diversity_deviation": [9.0, 7.0, 1.0],  # went up: blank
            "members_moved": [3.0, 10.0, 40.0],  # a part that is no deviation: 7 removed
            "objective_km": [0.0, 0.0, 0.0],
            "note": ["", "", ""],
        }
    )


def test_contrast_price_is_extra_travel_per_unit_removed() -> None:
    price = contrast_price(_hand_table()).set_index("part")
    assert list(price.index) == ["fsm_pct", "urban_rural", "ethnic_diversity", "members_moved"]
    assert price.loc["members_moved", "km_per_unit_removed"] == pytest.approx(30.0 / 7.0)
    assert price.loc["fsm_pct", "km_per_unit_removed"] == pytest.approx(0.5)
    assert price.loc["urban_rural", "km_per_unit_removed"] == pytest.approx(15.0)
    assert math.isnan(price.loc["ethnic_diversity", "km_per_unit_removed"])
    assert price.loc["fsm_pct", "removed"] == pytest.approx(60.0)
    assert price.loc["fsm_pct", "extra_travel_km"] == pytest.approx(30.0)


def test_contrast_price_needs_the_geography_only_row() -> None:
    table = _hand_table()
    assert contrast_price(table[table["baseline"] != GEOGRAPHY_ONLY]).empty
    table.loc[1, ["total_travel_km", "fsm_pct_deviation"]] = np.nan
    table.loc[1, "note"] = NOT_AVAILABLE
    assert contrast_price(table).empty


# --- outputs ---------------------------------------------------------------------


def _layout(with_baselines: bool) -> Layout:
    xy, frame, costs, objective, venue_of = _instance()
    n = len(xy)
    centres = gpd.GeoDataFrame(
        {
            "centre_id": [f"C{i:02d}" for i in range(n)],
            "name": [f"School {i}" for i in range(n)],
            "row": np.arange(n) + 2,
            "fsm_pct": frame["fsm_pct"],
            "urban_rural": frame["urban_rural"],
            "cluster": venue_labels(venue_of, xy[:, 0]),
            "is_venue": venue_of == np.arange(n),
            "distance": costs.matrix[np.arange(n), venue_of],
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs="EPSG:27700",
    )
    table = None
    if with_baselines:
        shuffled = np.random.default_rng(0).permutation(n)
        other = np.empty(n, dtype=np.int64)
        for group in np.array_split(shuffled, 4):  # four clusters mixed at random
            other[group] = group[0]
        table = compare(
            venue_of, {GEOGRAPHY_ONLY: other, "k-means": None}, costs, objective, SizeRule(), "m"
        )
    total = float(centres["distance"].sum())
    return Layout(
        centres,
        pd.DataFrame(columns=["centre_id", "name", "row", "reason"]),
        total,
        total * 0.9,
        "m",
        "feasible",
        {"seed": 0, "weights": {"travel": 1.0, "contrast": {"fsm_pct": 0.5}}},
        {"seconds": 1.0},
        "synthetic.csv",
        baselines=table,
    )


def test_write_outputs_writes_baselines_when_set(tmp_path: Path) -> None:
    layout = _layout(with_baselines=True)
    files = write_outputs(layout, tmp_path)
    assert files["baselines"] == tmp_path / "baselines.csv"
    written = pd.read_csv(files["baselines"])
    assert written["baseline"].tolist() == [THIS_LAYOUT, GEOGRAPHY_ONLY, "k-means"]
    assert written["note"].fillna("").tolist() == ["", "", NOT_AVAILABLE]
    assert written["total_travel_km"].isna().tolist() == [False, False, True]
    expected = rounded(layout.baselines)
    assert written.loc[0, "total_travel_km"] == pytest.approx(expected.loc[0, "total_travel_km"])
    assert written.loc[0, "total_travel_km"] == pytest.approx(
        layout.centres["distance"].sum() / 1000.0, abs=0.05
    )
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h2>Baselines</h2>" in html
    assert "km per unit removed" in html  # the price of mixing, against geography only
    assert NOT_AVAILABLE in html


def test_write_outputs_without_baselines_writes_no_file(tmp_path: Path) -> None:
    files = write_outputs(_layout(with_baselines=False), tmp_path)
    assert "baselines" not in files
    assert not (tmp_path / "baselines.csv").exists()
    assert "<h2>Baselines</h2>" not in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_rounded_keeps_km_to_one_decimal_and_prices_to_two() -> None:
    price = rounded(contrast_price(_hand_table())).set_index("part")
    assert price.loc["members_moved", "km_per_unit_removed"] == 4.29  # 30 / 7
    table = rounded(_hand_table().assign(total_travel_km=[130.04, 100.06, 400.0]))
    assert table["total_travel_km"].tolist() == [130.0, 100.1, 400.0]
