"""Tests of the summaries, the map, the report and the files written for a layout."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clustering import SizeRule, form_clusters, load_centres
from clustering.analysis.metrics import cluster_summary, overall_summary
from clustering.model.layout import Layout
from clustering.output.export import write_outputs
from clustering.output.report import cluster_colours, cluster_graph, render_map, write_report

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"

# three groups of ten centres, west to east, around easting 450 000 northing 130 000
CENTRES_XY = [(442_000.0, 130_000.0), (450_000.0, 135_000.0), (458_000.0, 128_000.0)]
URBAN = "(England/Wales) Urban city and town"
RURAL = "(England/Wales) Rural village"
URBAN_RURAL = {
    1: [URBAN] * 7 + [RURAL] * 3,
    2: [RURAL] * 4 + [URBAN] * 5 + [None],
    3: [URBAN] * 10,
}
PHASE = {1: ["primary"] * 10, 2: ["primary"] * 8 + ["secondary"] * 2, 3: ["primary"] * 10}
REASONS = ["closed (status = Closed)", "cannot be placed: no coordinates in <x/y> & more"]


def _layout(unit: str = "m") -> Layout:
    rng = np.random.default_rng(7)
    rows = []
    for k, (cx, cy) in enumerate(CENTRES_XY, start=1):
        xy = rng.normal(0.0, 1500.0, size=(10, 2)) + np.array([cx, cy])
        for j in range(10):
            rows.append(
                {
                    "centre_id": f"C{k}{j:02d}",
                    "name": f"School {k}-{j}" if (k, j) != (2, 0) else "St Mary's & <All> Saints",
                    "row": len(rows) + 2,
                    "pupils": float(rng.integers(50, 400)),
                    "fsm_pct": round(float(rng.uniform(2.0, 40.0)), 1),
                    "phase": PHASE[k][j],
                    "urban_rural": URBAN_RURAL[k][j],
                    "cluster": k,
                    "is_venue": j == 0,
                    "x": xy[j, 0],
                    "y": xy[j, 1],
                }
            )
    frame = pd.DataFrame(rows)
    frame.loc[25, "fsm_pct"] = np.nan  # a missing value in cluster 3
    venue = frame[frame["is_venue"]].set_index("cluster")
    vx = frame["cluster"].map(venue["x"])
    vy = frame["cluster"].map(venue["y"])
    metres = np.hypot(frame["x"] - vx, frame["y"] - vy)
    # a "travel time" of one minute per 800 m for the unit="min" layout
    frame["distance"] = metres if unit == "m" else metres / 800.0
    centres = gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=gpd.points_from_xy(frame["x"], frame["y"]),
        crs="EPSG:27700",
    )
    excluded = pd.DataFrame(
        {
            "centre_id": ["X1", "X2"],
            "name": ["Old School", "Lost School"],
            "row": [40, 41],
            "reason": REASONS,
        }
    )
    objective = float(frame["distance"].sum())
    return Layout(
        centres,
        excluded,
        objective,
        objective * 0.96,
        unit,
        "feasible",
        {"seed": 42, "sizes": [9, 11], "versions": {"clustering": "0.1.0"}},
        {"seconds": 2.5},
        "data/test_schools.csv",
    )


def _xy(layout: Layout, k: int) -> np.ndarray:
    members = layout.centres[layout.centres["cluster"] == k]
    return np.column_stack([members.geometry.x, members.geometry.y])


def _strict_json(text: str):
    def no_constant(name: str):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=no_constant)


@pytest.fixture(scope="module")
def layout() -> Layout:
    return _layout()


@pytest.fixture(scope="module")
def outputs(layout: Layout, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_outputs(layout, tmp_path_factory.mktemp("out") / "nested")


def test_summary_sizes_venues_and_diameters(layout: Layout) -> None:
    summary = cluster_summary(layout)
    assert summary["cluster"].tolist() == [1, 2, 3]
    assert summary["size"].tolist() == [10, 10, 10]
    assert summary["venue_id"].tolist() == ["C100", "C200", "C300"]
    assert summary["venue_name"].tolist() == [
        "School 1-0",
        "St Mary's & <All> Saints",
        "School 3-0",
    ]
    for k in (1, 2, 3):
        xy = _xy(layout, k)
        diameter = max(math.dist(a, b) for a, b in itertools.combinations(xy, 2)) / 1000.0
        assert summary.loc[k - 1, "diameter_km"] == pytest.approx(diameter, abs=1e-3)


def test_summary_travel_to_venue_in_km(layout: Layout) -> None:
    summary = cluster_summary(layout)
    assert "mean_to_venue_km" in summary.columns
    assert "max_to_venue_km" in summary.columns
    for k in (1, 2, 3):
        xy = _xy(layout, k)
        to_venue = np.hypot(*(xy - xy[0]).T) / 1000.0  # the venue is the first member
        assert summary.loc[k - 1, "mean_to_venue_km"] == pytest.approx(to_venue.mean(), abs=1e-3)
        assert summary.loc[k - 1, "max_to_venue_km"] == pytest.approx(to_venue.max(), abs=1e-3)


def test_summary_pupils_and_numeric_attribute(layout: Layout) -> None:
    summary = cluster_summary(layout)
    centres = layout.centres
    for k in (1, 2, 3):
        members = centres[centres["cluster"] == k]
        assert summary.loc[k - 1, "pupils"] == members["pupils"].sum()
        fsm = members["fsm_pct"].dropna()
        assert summary.loc[k - 1, "fsm_pct_mean"] == pytest.approx(round(fsm.mean(), 1))
        assert summary.loc[k - 1, "fsm_pct_range"] == f"{fsm.min():.1f}–{fsm.max():.1f}"
    assert "capacity_mean" not in summary.columns  # absent attributes get no column


def test_summary_mix_text(layout: Layout) -> None:
    summary = cluster_summary(layout)
    assert summary["urban_rural_mix"].tolist() == [
        "Urban city and town 7, Rural village 3",
        "Urban city and town 5, Rural village 4, unknown 1",
        "Urban city and town 10",
    ]
    assert summary["phase_mix"].tolist() == ["primary 10", "primary 8, secondary 2", "primary 10"]
    assert "religious_character_mix" not in summary.columns


def test_overall_summary(layout: Layout) -> None:
    overall = overall_summary(layout)
    metres = layout.centres["distance"]
    assert overall["n_centres"] == 30
    assert overall["n_excluded"] == 2
    assert overall["n_clusters"] == 3
    assert (overall["size_min"], overall["size_mean"], overall["size_max"]) == (10, 10.0, 10)
    assert overall["total_to_venue_km"] == pytest.approx(metres.sum() / 1000.0, abs=1e-3)
    assert overall["mean_to_venue_km"] == pytest.approx(metres.mean() / 1000.0, abs=1e-3)
    assert overall["max_to_venue_km"] == pytest.approx(metres.max() / 1000.0, abs=1e-3)
    assert overall["gap_pct"] == pytest.approx(4.0, abs=1e-6)
    assert overall["gap"] == pytest.approx(0.04)
    assert overall["status"] == "feasible"
    json.dumps(overall, allow_nan=False)


def test_write_outputs_writes_every_file(outputs: dict[str, Path]) -> None:
    names = {p.name for p in outputs.values()}
    assert names == {
        "assignments.csv",
        "clusters.csv",
        "contrast.csv",
        "excluded.csv",
        "clusters.geojson",
        "centres.geojson",
        "map.png",
        "report.html",
        "run.json",
    }
    for path in outputs.values():
        assert path.is_file()
        assert path.stat().st_size > 0


def test_assignments_csv_has_every_input_centre(layout: Layout, outputs) -> None:
    table = pd.read_csv(outputs["assignments"], dtype={"centre_id": str, "venue_id": str})
    assert list(table.columns) == [
        "centre_id",
        "name",
        "cluster",
        "venue_id",
        "is_venue",
        "distance_km",
        "excluded_reason",
    ]
    assert len(table) == 32
    assert table["centre_id"].tolist()[-2:] == ["X1", "X2"]
    assert table["excluded_reason"].tolist()[-2:] == REASONS
    assert table["cluster"].iloc[:30].tolist() == layout.centres["cluster"].tolist()
    expected = (layout.centres["distance"] / 1000.0).round(3).to_numpy()
    np.testing.assert_allclose(table["distance_km"].iloc[:30].to_numpy(), expected, atol=1e-9)
    assert table.loc[table["centre_id"] == "C205", "venue_id"].item() == "C200"
    assert table["is_venue"].iloc[:30].sum() == 3


def test_clusters_and_excluded_csv(outputs) -> None:
    clusters = pd.read_csv(outputs["clusters"])
    assert clusters["size"].tolist() == [10, 10, 10]
    excluded = pd.read_csv(outputs["excluded"])
    assert excluded["reason"].tolist() == REASONS


def test_excluded_csv_has_header_when_empty(tmp_path: Path) -> None:
    layout = _layout()
    layout.excluded = layout.excluded.iloc[0:0]
    files = write_outputs(layout, tmp_path)
    assert files["excluded"].read_text(encoding="utf-8-sig").strip() == "centre_id,name,row,reason"
    assert len(pd.read_csv(files["assignments"])) == 30


def test_cluster_geojson_polygons_contain_their_members(layout: Layout, outputs) -> None:
    shapes = gpd.read_file(outputs["clusters_geojson"])
    assert shapes.crs.to_epsg() == 4326
    assert len(shapes) == 3
    assert set(shapes.geom_type) == {"Polygon"}
    points = layout.centres.to_crs("EPSG:4326")
    for _, shape in shapes.iterrows():
        k = int(shape["cluster"])
        members = points[points["cluster"] == k]
        assert members.within(shape.geometry).all()
        assert shape["member_ids"].split(",") == members["centre_id"].tolist()
        others = points[points["cluster"] != k]
        assert not others.within(shape.geometry).all()
    # every value is strict JSON (no NaN)
    _strict_json(outputs["clusters_geojson"].read_text(encoding="utf-8"))


def test_centres_geojson(layout: Layout, outputs) -> None:
    points = gpd.read_file(outputs["centres_geojson"])
    assert points.crs.to_epsg() == 4326
    assert len(points) == 30
    assert set(points.geom_type) == {"Point"}
    assert {"centre_id", "name", "cluster", "is_venue", "distance"} <= set(points.columns)
    lon, lat = points.geometry.x, points.geometry.y
    assert lon.between(-2.0, -0.5).all()
    assert lat.between(50.5, 51.5).all()
    np.testing.assert_allclose(points["distance"], layout.centres["distance"], atol=1e-6)


def test_report_html_is_self_contained(layout: Layout, outputs) -> None:
    html = outputs["report"].read_text(encoding="utf-8")
    assert "test_schools.csv" in html
    assert f"{100 * layout.gap:.2f} %" in html
    assert "data:image/png;base64," in html
    # every excluded reason, escaped
    assert "closed (status = Closed)" in html
    assert "cannot be placed: no coordinates in &lt;x/y&gt; &amp; more" in html
    assert "<x/y>" not in html
    assert "St Mary&#39;s &amp; &lt;All&gt; Saints" in html
    # the parameters, with versions
    assert "versions.clustering" in html
    assert "<script" not in html
    assert "<link" not in html
    assert "http://" not in html
    assert "https://" not in html


def test_report_without_excluded_says_none(tmp_path: Path) -> None:
    layout = _layout()
    layout.excluded = layout.excluded.iloc[0:0]
    html = write_report(layout, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<p>none</p>" in html
    assert "data:image/png;base64," in html


def test_map_png(outputs) -> None:
    data = outputs["map"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(outputs["map"]) as image:
        width, height = image.size
    assert 900 <= width <= 1300
    assert 500 <= height <= 1300


def test_run_json(layout: Layout, outputs) -> None:
    record = _strict_json(outputs["run"].read_text(encoding="utf-8"))
    assert record["n_centres"] == 30
    assert record["n_excluded"] == 2
    assert record["n_clusters"] == 3
    assert record["gap"] == pytest.approx(layout.gap)
    assert record["objective"] == pytest.approx(layout.objective)
    assert record["params"]["seed"] == 42
    assert record["stats"]["seconds"] == 2.5
    assert record["unit"] == "m"
    assert record["source"] == "data/test_schools.csv"
    assert set(record["files"]) == {p.name for p in outputs.values()}


def test_minutes_layout_names_columns_by_unit(tmp_path: Path) -> None:
    layout = _layout(unit="min")
    summary = cluster_summary(layout)
    assert "mean_to_venue_min" in summary.columns
    assert "max_to_venue_min" in summary.columns
    assert not any(c.startswith(("mean_to_venue_km", "max_to_venue_km")) for c in summary)
    assert "diameter_km" in summary.columns  # straight-line size, from the geometry
    minutes = layout.centres.groupby("cluster")["distance"]
    np.testing.assert_allclose(summary["mean_to_venue_min"], minutes.mean(), atol=1e-3)
    overall = overall_summary(layout)
    total = layout.centres["distance"].sum()
    assert overall["total_to_venue_min"] == pytest.approx(total, abs=1e-3)
    files = write_outputs(layout, tmp_path)
    table = pd.read_csv(files["assignments"])
    assert "distance_min" in table.columns
    assert "distance_km" not in table.columns


def test_neighbouring_clusters_get_different_colours(layout: Layout) -> None:
    colours = cluster_colours(layout)
    assert len(set(colours.values())) == 3


def _touching(layout: Layout, nearest: int = 8) -> set[tuple[int, int]]:
    """Pairs of clusters one of whose members is among the ``nearest`` of the other's."""
    xy = np.column_stack([layout.centres.geometry.x, layout.centres.geometry.y])
    labels = layout.centres["cluster"].to_numpy(dtype=int)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    pairs = set()
    for i, row in enumerate(np.argsort(d, axis=1)[:, 1 : nearest + 1]):
        for j in row:
            if labels[i] != labels[j]:
                pairs.add((min(labels[i], labels[j]), max(labels[i], labels[j])))
    return pairs


@pytest.mark.slow
def test_touching_clusters_of_the_hampshire_sample_never_share_a_colour() -> None:
    centres = load_centres(SAMPLE / "hampshire_primary_schools_2022.csv")
    layout = form_clusters(centres, SizeRule(8, 12), time_limit=2, baselines=False)
    colours = cluster_colours(layout)
    assert set(colours) == set(layout.centres["cluster"].astype(int))
    touching = _touching(layout)
    assert len(touching) > layout.n_clusters  # a real map: most clusters have neighbours
    clashes = [(a, b) for a, b in touching if colours[a] == colours[b]]
    assert clashes == []
    # greedy colouring of a map needs few colours: the palette is never reused
    assert len(set(colours.values())) <= 12
    assert cluster_graph(layout).number_of_edges() == len(touching)


def test_render_map_one_centre_and_many_clusters(tmp_path: Path) -> None:
    layout = _layout()
    one = Layout(
        layout.centres.iloc[:1].copy(), layout.excluded, 0.0, 0.0, "m", "optimal", {}, {}, ""
    )
    assert render_map(one, tmp_path / "one.png").stat().st_size > 0

    rng = np.random.default_rng(1)
    k = 250  # more than get a label
    labels = np.repeat(np.arange(1, k + 1), 2)
    xy = rng.uniform(0, 200_000, size=(k, 2))[labels - 1] + rng.normal(0, 800, (2 * k, 2))
    many = gpd.GeoDataFrame(
        {
            "centre_id": [str(i) for i in range(2 * k)],
            "name": [f"s{i}" for i in range(2 * k)],
            "cluster": labels,
            "is_venue": np.tile([True, False], k),
            "distance": 1.0,
        },
        geometry=gpd.points_from_xy(xy[:, 0] + 400_000, xy[:, 1] + 100_000),
        crs="EPSG:27700",
    )
    big = Layout(many, layout.excluded.iloc[0:0], 500.0, 400.0, "m", "feasible")
    path = render_map(big, tmp_path / "many.png", title="Many")
    with Image.open(path) as image:
        assert image.size[0] >= 900
