"""Editing a layout by hand, comparing two layouts, outlines for maps, and stopping a solve."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clustering

SURREY = "data/sample/surrey_primary_schools_2022.csv"
HAMPSHIRE = "data/sample/hampshire_primary_schools_2022.csv"


@pytest.fixture(scope="module")
def layout() -> clustering.Layout:
    centres = clustering.load_centres(SURREY)
    return clustering.form_clusters(
        centres, clustering.SizeRule(8, 12), time_limit=2, baselines=False, deterministic=True
    )


def _members(layout: clustering.Layout) -> pd.DataFrame:
    return layout.centres.sort_values("centre_id").reset_index(drop=True)


def _straight_line_total(layout: clustering.Layout) -> float:
    """Member → venue straight lines, recomputed here from the coordinates."""
    frame = layout.centres.to_crs(27700)
    venue = frame[frame["is_venue"]].set_index("cluster").geometry
    return float(
        sum(g.distance(venue[k]) for g, k in zip(frame.geometry, frame["cluster"], strict=True))
    )


def test_moving_a_member_re_prices_and_checks_the_layout(layout):
    frame = layout.centres
    sizes = frame["cluster"].value_counts()
    # a member of a cluster of 8 moved out leaves 7: the checker must say so
    small = sizes[sizes == 8].index[0]
    member = frame[(frame["cluster"] == small) & ~frame["is_venue"]].iloc[0]
    target = sizes[sizes < 12].index.difference([small])[0]
    moved, report = clustering.move_centre(layout, member["centre_id"], int(target))
    assert not report.ok
    assert any(f"cluster {small} has 7 members" in v for v in report.violations)
    assert moved.stats["checker"] == "failed"
    assert moved.status == "edited"
    row = moved.centres.set_index("centre_id").loc[member["centre_id"]]
    assert row["cluster"] == target
    venue = moved.centres[(moved.centres["cluster"] == target) & moved.centres["is_venue"]]
    assert len(venue) == 1
    # its distance is to the new venue, and the objective is the recomputed total
    expected = row.geometry.distance(venue.to_crs(layout.centres.crs).geometry.iloc[0])
    assert row["distance"] == pytest.approx(expected, rel=1e-6, abs=1.0)
    assert moved.objective == pytest.approx(_straight_line_total(moved), rel=1e-6)
    assert moved.lower_bound == layout.lower_bound
    assert moved.objective >= layout.lower_bound
    # the layout moved from is not touched
    assert layout.centres.set_index("centre_id").loc[member["centre_id"], "cluster"] == small


def test_moving_back_restores_the_layout_exactly(layout):
    frame = layout.centres
    member = frame[~frame["is_venue"]].iloc[3]
    home = int(member["cluster"])
    other = int(frame.loc[frame["cluster"] != home, "cluster"].iloc[0])
    there, _ = clustering.move_centre(layout, member["centre_id"], other)
    back, report = clustering.move_centre(there, member["centre_id"], home)
    assert report.ok
    assert back.objective == pytest.approx(layout.objective, rel=1e-9)
    pd.testing.assert_series_equal(_members(back)["cluster"], _members(layout)["cluster"])


def test_moving_a_venue_gives_its_old_cluster_one_new_venue(layout):
    frame = layout.centres
    venue = frame[frame["is_venue"]].iloc[0]
    home = int(venue["cluster"])
    other = int(frame.loc[frame["cluster"] != home, "cluster"].iloc[0])
    moved, _ = clustering.move_centre(layout, venue["centre_id"], other)
    out = moved.centres
    assert out.groupby("cluster")["is_venue"].sum().eq(1).all()
    new_venue = out[(out["cluster"] == home) & out["is_venue"]]["centre_id"].iloc[0]
    assert new_venue != venue["centre_id"]
    # the new venue is the member with least total straight line to the others
    rest = out[out["cluster"] == home].to_crs(27700)
    totals = {
        c: rest.geometry.distance(g).sum()
        for c, g in zip(rest["centre_id"], rest.geometry, strict=True)
    }
    assert totals[new_venue] == pytest.approx(min(totals.values()), rel=1e-6)


def test_a_move_to_a_missing_cluster_or_of_a_missing_centre_is_an_input_error(layout):
    with pytest.raises(clustering.InputError, match="no cluster 999"):
        clustering.move_centre(layout, layout.centres["centre_id"].iloc[0], 999)
    with pytest.raises(clustering.InputError, match="no centre 'nope'"):
        clustering.move_centre(layout, "nope", 1)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_move_keeps_every_centre_in_exactly_one_cluster(layout, data):
    frame = layout.centres
    i = data.draw(st.integers(0, len(frame) - 1))
    k = data.draw(st.sampled_from(sorted(frame["cluster"].unique().tolist())))
    moved, report = clustering.move_centre(layout, frame["centre_id"].iloc[i], int(k))
    out = moved.centres
    assert sorted(out["centre_id"]) == sorted(frame["centre_id"])
    assert out.groupby("cluster")["is_venue"].sum().eq(1).all()
    assert moved.objective == pytest.approx(_straight_line_total(moved), rel=1e-6)
    assert report.ok == (moved.stats["checker"] == "passed")


def test_comparing_a_layout_with_itself_renumbered_finds_no_moves(layout):
    renumbered = layout.centres.copy()
    top = int(renumbered["cluster"].max())
    renumbered["cluster"] = top + 1 - renumbered["cluster"]
    from dataclasses import replace

    other = replace(layout, centres=renumbered)
    result = clustering.compare_layouts(layout, other)
    assert result.same_share == 1.0
    assert result.moved.empty
    assert result.matching == {k: top + 1 - k for k in range(1, top + 1)}
    objective = result.metrics.set_index("metric").loc["objective"]
    assert objective["change"] == pytest.approx(0.0)


def test_comparing_after_one_move_lists_that_centre(layout):
    frame = layout.centres
    member = frame[~frame["is_venue"]].iloc[5]
    home = int(member["cluster"])
    other = int(frame.loc[frame["cluster"] != home, "cluster"].iloc[0])
    moved, _ = clustering.move_centre(layout, member["centre_id"], other)
    result = clustering.compare_layouts(layout, moved)
    assert result.moved["centre_id"].tolist() == [str(member["centre_id"])]
    row = result.moved.iloc[0]
    assert (row["cluster_a"], row["cluster_b"], row["status"]) == (home, other, "moved")
    assert result.same_share == pytest.approx(1 - 1 / len(frame))
    change = result.metrics.set_index("metric").loc["objective", "change"]
    assert change == pytest.approx((moved.objective - layout.objective) / 1000)


def test_outlines_are_the_districts_holding_the_schools():
    centres = clustering.load_centres(HAMPSHIRE)
    shapes = clustering.outlines(centres)
    assert shapes.crs.to_epsg() == 4326
    names = set(shapes["name"])
    assert {"Winchester", "New Forest", "Basingstoke and Deane"} <= names
    # Hampshire County Council's 11 districts: no neighbour without a school in it
    assert len(names) == 11
    assert "Guildford" not in names
    assert "Southampton" not in names
    points = centres.frame.geometry.to_crs(4326)
    # every open Hampshire school lies within one of the outlines returned
    inside = points.apply(lambda p: shapes.contains(p).any())
    assert inside.mean() > 0.98
    kentucky = clustering.outlines(
        clustering.load_centres("data/sample/kentucky_schools_2016_17.csv")
    )
    assert len(kentucky) > 150


def test_outlines_of_points_outside_every_file_are_empty():
    import geopandas as gpd
    from shapely.geometry import Point

    sea = gpd.GeoDataFrame({"name": ["mid-Atlantic"]}, geometry=[Point(-40, 40)], crs=4326)
    assert clustering.outlines(sea).empty


def test_a_stop_event_ends_the_solve_early_with_a_checked_layout():
    centres = clustering.load_centres(HAMPSHIRE)
    stop = threading.Event()
    timer = threading.Timer(1.5, stop.set)
    started = time.perf_counter()
    timer.start()
    try:
        layout = clustering.form_clusters(
            centres, clustering.SizeRule(8, 12), time_limit=120, stop=stop
        )
    finally:
        timer.cancel()
    assert time.perf_counter() - started < 30  # not the 120 s asked for
    assert layout.stats["stopped"] is True
    assert layout.stats["checker"] == "passed"
    assert layout.baselines is None
    assert 0 < layout.lower_bound <= layout.objective
    assert np.isfinite(layout.objective)


def test_an_unset_stop_event_changes_nothing():
    centres = clustering.load_centres(SURREY)
    kwargs = dict(time_limit=1, baselines=False, deterministic=True)
    a = clustering.form_clusters(centres, **kwargs)
    b = clustering.form_clusters(centres, stop=threading.Event(), **kwargs)
    assert b.stats["stopped"] is False
    assert a.objective == b.objective


def test_an_edited_layout_is_measured_again_not_given_the_quality_from_before(layout):
    before = clustering.layout_quality(layout)
    with_quality = dataclasses.replace(layout, stats=dict(layout.stats, quality=before.to_dict()))
    frame = layout.centres
    member = frame[~frame["is_venue"]].iloc[0]
    target = int(frame.loc[frame["cluster"] != member["cluster"], "cluster"].iloc[0])
    moved, _ = clustering.move_centre(with_quality, member["centre_id"], target)
    assert "quality" not in moved.stats
    again = clustering.layout_quality(moved)
    assert again.terms[0].value == pytest.approx(moved.stats["objective_parts"]["travel"], rel=1e-9)
