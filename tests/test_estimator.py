"""ClusterFormer: the scikit-learn face of the engine, and deterministic runs."""

from __future__ import annotations

import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

import clustering
from clustering import ClusterFormer

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
HAMPSHIRE = SAMPLE / "hampshire_primary_schools_2022.csv"


@pytest.fixture(scope="module")
def schools() -> pd.DataFrame:
    """Sixty Hampshire schools, as read from the GIAS file (one of them closed)."""
    frame = pd.read_csv(HAMPSHIRE, dtype=str)
    frame = frame.iloc[:60].reset_index(drop=True)
    frame.loc[7, "EstablishmentStatus (name)"] = "Closed"
    return frame


def _plain(schools: pd.DataFrame) -> pd.DataFrame:
    """The same schools as a plain table: id, name, lat, lon, % FSM."""
    points = gpd.points_from_xy(
        schools["Easting"].astype(float), schools["Northing"].astype(float), crs="EPSG:27700"
    ).to_crs("EPSG:4326")
    return pd.DataFrame(
        {
            "id": schools["URN"],
            "name": schools["EstablishmentName"],
            "lat": points.y,
            "lon": points.x,
            "fsm_pct": schools["PercentageFSM"],
            "status": schools["EstablishmentStatus (name)"],
        }
    )


def test_fit_sets_labels_venues_and_a_checked_layout(schools):
    former = ClusterFormer(min_size=6, max_size=9, time_limit=3, seed=0, workers=1)
    labels = former.fit_predict(schools)
    assert labels.shape == (len(schools),)
    assert labels[7] == -1  # the closed school takes no part ...
    # ... and every row without a cluster is listed as excluded with its reason
    excluded = dict(zip(former.excluded_["centre_id"], former.excluded_["reason"], strict=True))
    assert set(excluded) == set(schools["URN"][labels == -1])
    assert "closed" in excluded[schools.loc[7, "URN"]].lower()
    members = labels[labels >= 0]
    sizes = np.bincount(members)
    assert len(sizes) == former.n_clusters_
    assert sizes.min() >= 6
    assert sizes.max() <= 9
    # each cluster's venue is one of its own members
    assert len(former.venues_) == former.n_clusters_
    assert (labels[former.venues_] == np.arange(former.n_clusters_)).all()
    assert former.objective_ == pytest.approx(former.layout_.objective)
    assert former.lower_bound_ <= former.objective_ + 1e-6
    assert former.gap_ == pytest.approx(former.layout_.gap)
    assert clustering.check_layout(former.layout_, former.size_rule()).ok
    # labels_ read back the layout's clusters, row by row
    by_id = dict(
        zip(former.layout_.centres["centre_id"], former.layout_.centres["cluster"], strict=True)
    )
    for row, urn in enumerate(schools["URN"]):
        if labels[row] >= 0:
            assert by_id[urn] == labels[row] + 1


def test_a_file_a_frame_with_coordinates_and_a_geodataframe_give_one_layout(schools, tmp_path):
    plain = _plain(schools)
    geo = gpd.GeoDataFrame(
        plain.drop(columns=["lat", "lon"]),
        geometry=gpd.points_from_xy(plain["lon"], plain["lat"]),
        crs="EPSG:4326",
    )
    path = tmp_path / "schools.csv"
    plain.to_csv(path, index=False)
    former = ClusterFormer(
        min_size=6, max_size=9, contrast={"fsm_pct": 1.0}, time_limit=2, deterministic=True
    )
    runs = [clone(former).fit(x) for x in (plain, geo, path, str(path))]
    for run in runs[1:]:
        np.testing.assert_array_equal(run.labels_, runs[0].labels_)
        assert run.objective_ == pytest.approx(runs[0].objective_)
    assert runs[0].layout_.params["weights"]["contrast"] == {"fsm_pct": 1.0}


def test_params_clone_and_parameter_grid():
    former = ClusterFormer(min_size=5, max_size=7, contrast={"fsm_pct": 2}, seed=3)
    params = former.get_params()
    assert params["min_size"] == 5
    assert params["contrast"] == {"fsm_pct": 2}
    assert params["seed"] == 3
    copy = clone(former)
    assert copy.get_params() == params
    assert copy.contrast is not former.contrast  # clone copies, never shares
    former.set_params(max_size=8, contrast={"urban_rural": 10})
    assert former.size_rule().max_size == 8
    assert former.weights().contrast == {"urban_rural": 10.0}
    grid = ParameterGrid({"contrast": [{}, {"fsm_pct": 1}, {"fsm_pct": 4}], "seed": [0, 1]})
    formers = [clone(former).set_params(**p) for p in grid]
    assert len(formers) == 6
    assert sorted(f.weights().contrast.get("fsm_pct", 0.0) for f in formers) == [0, 0, 1, 1, 4, 4]
    with pytest.raises(ValueError, match="Invalid parameter"):
        former.set_params(min_sise=3)


def test_rules_given_directly_override_the_constraints_object():
    former = ClusterFormer(
        constraints=clustering.Constraints(boundary="district", max_distance=9.0),
        max_distance=5.0,
    )
    rules = former.rules()
    assert rules.boundary == "district"
    assert rules.max_distance == 5.0


def test_fit_rejects_what_it_cannot_read():
    with pytest.raises(TypeError, match="GeoDataFrame, a DataFrame, a file path"):
        ClusterFormer().fit(np.zeros((10, 2)))
    with pytest.raises(clustering.InputError):
        ClusterFormer().fit(pd.DataFrame({"name": ["a", "b"]}))


def test_deterministic_gives_the_same_layout_under_a_different_load(schools):
    """Deterministic budgets count solver work, so a busy machine changes nothing."""
    settings = dict(min_size=6, max_size=9, contrast={"fsm_pct": 2.0}, time_limit=2, seed=4)
    quiet = ClusterFormer(**settings, deterministic=True).fit(schools)
    stop = threading.Event()

    def hog() -> None:  # competes with the solver for the cores (numpy drops the GIL)
        x = np.random.default_rng(0).random((300, 300))
        while not stop.is_set():
            x @ x

    hogs = [threading.Thread(target=hog) for _ in range(2)]
    for thread in hogs:
        thread.start()
    try:
        busy = ClusterFormer(**settings, deterministic=True).fit(schools)
    finally:
        stop.set()
        for thread in hogs:
            thread.join()
    np.testing.assert_array_equal(busy.labels_, quiet.labels_)
    np.testing.assert_array_equal(busy.venues_, quiet.venues_)
    assert busy.objective_ == quiet.objective_
    assert busy.lower_bound_ == quiet.lower_bound_
    assert quiet.layout_.params["deterministic"] is True
    assert quiet.layout_.params["workers"] == 1


def test_scenario_files_and_the_cli_carry_deterministic(tmp_path):
    from clustering.cli import _parser
    from clustering.cli.options import scenario_from_args

    path = tmp_path / "s.toml"
    path.write_text('[data]\ncentres = "x.csv"\n[solver]\ndeterministic = true\n')
    scenario = clustering.load_scenario(path)
    assert scenario.deterministic is True
    again = tmp_path / "again.toml"
    again.write_text(clustering.scenario_to_toml(scenario, relative_to=tmp_path))
    assert clustering.load_scenario(again).deterministic is True
    args = _parser().parse_args(["form", "--deterministic"])
    assert scenario_from_args(args).deterministic is True
    assert scenario_from_args(_parser().parse_args(["form"])).deterministic is False


def test_stability_keeps_members_in_their_previous_clusters(schools):
    previous = clustering.read_previous(SAMPLE / "hampshire_previous_assignments.csv")
    settings = dict(
        min_size=6,
        max_size=9,
        constraints=clustering.Constraints(previous=previous),
        time_limit=2,
        deterministic=True,
    )
    free = ClusterFormer(**settings).fit(schools)
    stable = ClusterFormer(**settings, stability=50.0).fit(schools)
    assert stable.layout_.params["weights"]["stability"] == 50.0

    def moved(former: ClusterFormer) -> int:
        return int((clustering.moves(former.layout_)["status"] == "moved").sum())

    assert moved(stable) < moved(free)
