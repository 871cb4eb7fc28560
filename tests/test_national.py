"""The synthetic England (clustering.england_like): real schools, synthetic places, seeded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import clustering
from clustering.errors import InputError
from clustering.input.national import CENSUS

ROOT = Path(__file__).resolve().parents[1]


def test_it_is_exported_and_its_data_is_in_the_repository():
    assert "england_like" in clustering.__all__
    assert CENSUS == ROOT / "data" / "national" / "england_schools_fsm_2022_23.csv"
    assert CENSUS.exists()
    assert (CENSUS.parent / "README.md").exists()


def test_same_seed_same_frame_and_another_seed_another():
    a = clustering.england_like(600, seed=3)
    b = clustering.england_like(600, seed=3)
    assert isinstance(a, gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), b.drop(columns="geometry")
    )
    assert a.geometry.geom_equals(b.geometry).all()
    c = clustering.england_like(600, seed=4)
    assert set(c["la"]) != set(a["la"]) or not np.allclose(c.geometry.x, a.geometry.x)


def test_the_frame_keeps_the_census_and_whole_authorities():
    census = pd.read_csv(CENSUS, dtype=str, keep_default_na=False)
    frame = clustering.england_like(1000, seed=0)
    assert len(frame) == 999  # whole LAs, as close to 1,000 as they come (documented)
    assert frame["id"].is_unique
    # every LA chosen is there whole, with its real URNs and published FSM
    by_la = census.groupby("la_name").size()
    assert (frame.groupby("la").size() == by_la[frame["la"].unique()].sort_index()).all()
    real = census.set_index("urn")
    published = frame[frame["fsm_published"] == "yes"]
    assert np.allclose(published["fsm_pct"], real.loc[published["id"], "fsm_pct"].astype(float))
    assert frame.crs.to_string() == "EPSG:27700"
    assert frame.geometry.geom_type.eq("Point").all()


def test_the_whole_of_england_and_the_loader():
    frame = clustering.england_like()
    assert len(frame) == 24_442
    assert frame["la"].nunique() == 152
    assert frame["area"].nunique() == 150  # two tiny LAs joined with a neighbour
    centres = clustering.load_centres(frame.head(300))
    assert len(centres) == 300
    assert {"la", "area", "fsm_pct", "phase"} <= set(centres.frame.columns)


def test_kentucky_pattern_needs_the_wider_crs():
    frame = clustering.england_like(300, seed=1, sources=("kentucky",))
    assert set(frame["pattern"]) == {"kentucky"}
    assert frame.crs.to_string() in ("EPSG:27700", "EPSG:6933")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n_schools": 0}, "n_schools 0"),
        ({"n_schools": 2.5}, "n_schools 2.5"),
        ({"seed": -1}, "seed -1"),
        ({"sources": ("mars",)}, "sources"),
    ],
)
def test_bad_arguments_are_input_errors(kwargs, words):
    with pytest.raises(InputError, match=words):
        clustering.england_like(**kwargs)


def test_the_bench_command_writes_a_csv_the_cli_reads(tmp_path):
    out = tmp_path / "e.csv"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "synthetic.py"),
            "--schools",
            "250",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "257 schools" in done.stdout
    table = pd.read_csv(out, dtype={"id": str})
    frame = clustering.england_like(250)
    assert list(table["id"]) == list(frame["id"])
    assert np.allclose(table["x"], frame.geometry.x)
    centres = clustering.load_centres(out, crs="EPSG:27700")
    assert len(centres) == 257
