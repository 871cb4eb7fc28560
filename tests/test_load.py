"""Tests of reading centres: the bundled samples, every file format, the generic
schema, and the errors that name the file, row and column."""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from clustering.errors import InputError
from clustering.input.load import load_centres, read_table

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
HAMPSHIRE = SAMPLE / "hampshire_primary_schools_2022.csv"
KENTUCKY = SAMPLE / "kentucky_schools_2016_17.csv"
STATUS = "EstablishmentStatus (name)"
EARTH_RADIUS_M = 6_371_008.8


@pytest.fixture(scope="module")
def hampshire_raw() -> pd.DataFrame:
    return read_table(HAMPSHIRE)


@pytest.fixture(scope="module")
def hampshire():
    return load_centres(HAMPSHIRE)


@pytest.fixture(scope="module")
def kentucky_raw() -> pd.DataFrame:
    return read_table(KENTUCKY)


@pytest.fixture(scope="module")
def kentucky():
    return load_centres(KENTUCKY)


@pytest.fixture
def small_gias(tmp_path, hampshire_raw) -> tuple[Path, pd.DataFrame]:
    """The first 30 Hampshire rows (28 open, 2 closed, all with coordinates) as a CSV."""
    raw = hampshire_raw.head(30).copy()
    assert (raw["Easting"] != "").all()
    assert (raw[STATUS] == "Closed").sum() == 2
    path = tmp_path / "small_gias.csv"
    raw.to_csv(path, index=False)
    return path, raw


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _xy(frame: gpd.GeoDataFrame) -> np.ndarray:
    return np.column_stack([frame.geometry.x, frame.geometry.y])


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _assert_located(exc: InputError, path: Path, row: int | None, column: str | None) -> str:
    """The message names the file, the spreadsheet row and the column."""
    text = str(exc)
    assert str(path) in text
    assert exc.file == str(path)
    assert exc.row == row
    if row is not None:
        assert f"row {row}" in text
    assert exc.column == column
    if column is not None:
        assert repr(column) in text
    return text


# --- the bundled samples ---------------------------------------------------------------


def test_hampshire_sample_loads_as_gias(hampshire, hampshire_raw):
    assert hampshire.schema == "gias"
    assert len(hampshire.frame) == 427
    assert len(hampshire.excluded) == 93
    assert hampshire.excluded["reason"].str.contains("closed", case=False).all()
    closed_urns = set(hampshire_raw.loc[hampshire_raw[STATUS] == "Closed", "URN"])
    assert set(hampshire.excluded["centre_id"]) == closed_urns

    ids = hampshire.frame["centre_id"]
    assert ids.is_unique
    assert not set(ids) & set(hampshire.excluded["centre_id"])
    assert hampshire.frame.crs.to_epsg() == 27700
    assert {"phase", "fsm_pct", "imd_decile"} <= set(hampshire.frame.columns)

    first = hampshire.frame.set_index("centre_id").loc["115850"]
    assert first["name"] == "Alton Infant School"
    assert first["row"] == 2
    assert (first.geometry.x, first.geometry.y) == (472080.0, 139716.0)
    assert first["phase"] == "primary"
    assert first["fsm_pct"] == pytest.approx(21.7)
    assert first["imd_decile"] == 7
    assert first["pupils"] == 138


def test_kentucky_sample_loads_in_metric_utm(kentucky, kentucky_raw):
    assert kentucky.schema == "kentucky"
    assert len(kentucky.frame) == 1435
    assert len(kentucky.excluded) == 0
    crs = kentucky.frame.crs
    assert crs.is_projected
    assert crs.utm_zone is not None
    assert crs.axis_info[0].unit_name == "metre"
    # ids are text: leading zeros survive
    assert kentucky.frame["centre_id"].tolist() == kentucky_raw["sch_id"].tolist()
    assert "001010" in set(kentucky.frame["centre_id"])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("001010", "005020"),  # Adair County High → Allen County-Scottsville High, ~88 km
        ("001010", "012070"),  # Adair County High → Crabbe Elementary, ~281 km, far east
    ],
)
def test_kentucky_projected_distance_matches_haversine(kentucky, kentucky_raw, a, b):
    raw = kentucky_raw.set_index("sch_id")
    lat1, lon1 = float(raw.loc[a, "lat"]), float(raw.loc[a, "long"])
    lat2, lon2 = float(raw.loc[b, "lat"]), float(raw.loc[b, "long"])
    expected = _haversine(lat1, lon1, lat2, lon2)

    geom = kentucky.frame.set_index("centre_id").geometry
    projected = geom.loc[a].distance(geom.loc[b])
    assert projected == pytest.approx(expected, rel=0.005)


@pytest.mark.parametrize(
    ("sch_id", "low", "high", "phase"),
    [
        ("001016", "Preschool", "5", "elementary"),
        ("011022", "Entry", "5", "elementary"),
        ("001014", "6", "8", "middle"),
        ("131045", "5", "8", "middle"),
        ("001010", "9", "12", "high"),
        ("042011", "Entry", "12", "other"),
    ],
)
def test_kentucky_phase_from_grade_span(kentucky, kentucky_raw, sch_id, low, high, phase):
    raw = kentucky_raw.set_index("sch_id")
    assert (raw.loc[sch_id, "grade_low"], raw.loc[sch_id, "grade_high"]) == (low, high)
    assert kentucky.frame.set_index("centre_id").loc[sch_id, "phase"] == phase


# --- encodings and file formats --------------------------------------------------------


def test_cp1252_csv_keeps_accented_names(tmp_path, hampshire_raw):
    raw = hampshire_raw.head(20).copy()
    assert raw.loc[2, STATUS] == "Open"
    name = "École Sainte-Thérèse’s Primary"
    raw.loc[2, "EstablishmentName"] = name
    path = tmp_path / "gias_cp1252.csv"
    raw.to_csv(path, index=False, encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")

    centres = load_centres(path)
    assert centres.schema == "gias"
    names = centres.frame.set_index("centre_id")["name"]
    assert names.loc[raw.loc[2, "URN"]] == name
    assert names.loc[raw.loc[0, "URN"]] == raw.loc[0, "EstablishmentName"]
    assert len(centres.frame) + len(centres.excluded) == 20


def test_utf8_with_byte_order_mark(tmp_path, small_gias):
    path, raw = small_gias
    bom = tmp_path / "bom.csv"
    raw.to_csv(bom, index=False, encoding="utf-8-sig")
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    centres = load_centres(bom)
    assert centres.schema == "gias"
    assert centres.frame["centre_id"].tolist() == load_centres(path).frame["centre_id"].tolist()


def test_excel_matches_csv(tmp_path, small_gias):
    path, _ = small_gias
    reference = load_centres(path)
    xlsx = tmp_path / "small_gias.xlsx"
    pd.read_csv(path).to_excel(xlsx, index=False)  # numbers stored as numbers

    centres = load_centres(xlsx)
    assert centres.schema == "gias"
    assert centres.frame["centre_id"].tolist() == reference.frame["centre_id"].tolist()
    assert centres.excluded["centre_id"].tolist() == reference.excluded["centre_id"].tolist()
    assert centres.frame.crs.to_epsg() == 27700
    np.testing.assert_allclose(_xy(centres.frame), _xy(reference.frame), atol=1.0)
    np.testing.assert_allclose(centres.frame["pupils"], reference.frame["pupils"])


@pytest.mark.parametrize("suffix", ["geojson", "gpkg"])
@pytest.mark.parametrize("epsg", [4326, 27700])
def test_spatial_file_matches_csv(tmp_path, small_gias, suffix, epsg):
    path, raw = small_gias
    reference = load_centres(path)
    points = gpd.points_from_xy(raw["Easting"].astype(float), raw["Northing"].astype(float))
    spatial = gpd.GeoDataFrame(
        raw.drop(columns=["Easting", "Northing"]), geometry=points, crs="EPSG:27700"
    ).to_crs(epsg=epsg)
    out = tmp_path / f"small_gias.{suffix}"
    spatial.to_file(out)

    # without Easting/Northing the file is generic: the status column must be named
    centres = load_centres(out, columns={"status": STATUS})
    assert centres.schema == "generic"
    assert centres.frame.crs.is_projected
    assert centres.frame["centre_id"].tolist() == reference.frame["centre_id"].tolist()
    assert centres.excluded["centre_id"].tolist() == reference.excluded["centre_id"].tolist()
    assert centres.frame["row"].tolist() == reference.frame["row"].tolist()
    in_bng = centres.frame.to_crs(epsg=27700)
    np.testing.assert_allclose(_xy(in_bng), _xy(reference.frame), atol=1.0)


# --- the generic schema ----------------------------------------------------------------


def test_generic_columns_are_recognised(tmp_path):
    path = _write(
        tmp_path / "generic.csv",
        "id,name,lat,lon,pupils\nA,Alpha,51.05,-1.30,120\nB,Beta,51.10,-1.25,80\n"
        "C,Gamma,50.95,-1.40,300\n",
    )
    centres = load_centres(path)
    assert centres.schema == "generic"
    assert centres.columns == {
        "id": "id",
        "name": "name",
        "lat": "lat",
        "lon": "lon",
        "pupils": "pupils",
    }
    assert centres.frame["centre_id"].tolist() == ["A", "B", "C"]
    assert centres.frame["name"].tolist() == ["Alpha", "Beta", "Gamma"]
    assert centres.frame["pupils"].tolist() == [120.0, 80.0, 300.0]
    assert centres.frame.crs.is_projected
    back = centres.frame.to_crs(epsg=4326)
    np.testing.assert_allclose(back.geometry.y, [51.05, 51.10, 50.95], atol=1e-7)
    np.testing.assert_allclose(back.geometry.x, [-1.30, -1.25, -1.40], atol=1e-7)


def test_generic_with_explicit_mapping(tmp_path):
    path = _write(
        tmp_path / "codes.csv",
        "School Code,Y,X\n9001,51.05,-1.30\n9002,51.10,-1.25\n9003,50.95,-1.40\n",
    )
    with pytest.raises(InputError, match="no id column"):
        load_centres(path)

    centres = load_centres(path, columns={"id": "School Code", "lat": "Y", "lon": "X"})
    assert centres.frame["centre_id"].tolist() == ["9001", "9002", "9003"]
    # without a name column the id stands in
    assert centres.frame["name"].tolist() == ["9001", "9002", "9003"]
    back = centres.frame.to_crs(epsg=4326)
    np.testing.assert_allclose(back.geometry.y, [51.05, 51.10, 50.95], atol=1e-7)
    np.testing.assert_allclose(back.geometry.x, [-1.30, -1.25, -1.40], atol=1e-7)


# --- errors ----------------------------------------------------------------------------

GOOD = "A,Alpha,51.05,-1.30\nB,Beta,51.10,-1.25\n"


def test_empty_id(tmp_path):
    path = _write(tmp_path / "ids.csv", "id,name,lat,lon\n" + GOOD + "  ,Gamma,50.9,-1.4\n")
    with pytest.raises(InputError) as info:
        load_centres(path)
    text = _assert_located(info.value, path, 4, "id")
    assert "empty" in text


def test_duplicate_id_names_both_rows(tmp_path):
    path = _write(
        tmp_path / "dup.csv",
        "id,name,lat,lon\n" + GOOD + "C,Gamma,50.9,-1.4\nA,Delta,50.8,-1.5\n",
    )
    with pytest.raises(InputError) as info:
        load_centres(path)
    _assert_located(info.value, path, 5, "id")
    assert "'A'" in info.value.message
    assert re.findall(r"\d+", info.value.message) == ["2", "5"]


def test_latitude_out_of_range(tmp_path):
    path = _write(tmp_path / "lat.csv", "id,name,lat,lon\n" + GOOD + "C,Gamma,137,-1.4\n")
    with pytest.raises(InputError) as info:
        load_centres(path)
    text = _assert_located(info.value, path, 4, "lat")
    assert "137" in text
    assert "-90..90" in text


def test_non_numeric_longitude(tmp_path):
    path = _write(tmp_path / "lon.csv", "id,name,lat,lon\n" + GOOD + "C,Gamma,50.9,west\n")
    with pytest.raises(InputError) as info:
        load_centres(path)
    text = _assert_located(info.value, path, 4, "lon")
    assert "'west' is not a number" in text


@pytest.mark.parametrize("easting", ["90000000", "1500000"])
def test_easting_far_outside_britain(tmp_path, small_gias, easting):
    _, raw = small_gias
    raw = raw.head(10).copy()
    raw.loc[4, "Easting"] = easting
    path = tmp_path / "far.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        load_centres(path)
    text = _assert_located(info.value, path, 6, "Easting")
    assert "outside" in text


def test_mapping_names_a_missing_column(tmp_path):
    path = _write(tmp_path / "g.csv", "id,name,lat,lon\n" + GOOD)
    with pytest.raises(InputError) as info:
        load_centres(path, columns={"pupils": "Enrolment"})
    text = _assert_located(info.value, path, None, "Enrolment")
    assert "not in the file" in text


def test_mapping_with_unknown_field(tmp_path):
    path = _write(tmp_path / "g.csv", "id,name,lat,lon\n" + GOOD)
    with pytest.raises(InputError) as info:
        load_centres(path, columns={"colour": "name"})
    text = _assert_located(info.value, path, None, None)
    assert "'colour'" in text


def test_xy_without_crs(tmp_path):
    path = _write(tmp_path / "xy.csv", "id,x,y\nA,450000,130000\nB,451000,131000\n")
    with pytest.raises(InputError) as info:
        load_centres(path)
    text = _assert_located(info.value, path, None, "x")
    assert "coordinate system" in text
    # with a crs the same file loads
    centres = load_centres(path, crs="EPSG:27700")
    np.testing.assert_allclose(_xy(centres.frame), [[450000, 130000], [451000, 131000]])


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "centres.docx"
    path.write_bytes(b"PK\x03\x04 not a table")
    with pytest.raises(InputError) as info:
        load_centres(path)
    text = _assert_located(info.value, path, None, None)
    assert ".docx" in text


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InputError) as info:
        load_centres(path)
    text = _assert_located(info.value, path, None, None)
    assert "not found" in text


# --- exclusions ------------------------------------------------------------------------


def test_gias_row_without_coordinates_is_excluded(tmp_path, small_gias):
    _, raw = small_gias
    raw = raw.copy()
    assert raw.loc[3, STATUS] == "Open"
    raw.loc[3, ["Easting", "Northing"]] = ""
    path = tmp_path / "holes.csv"
    raw.to_csv(path, index=False)

    centres = load_centres(path)
    assert len(centres.frame) + len(centres.excluded) == len(raw)
    assert set(centres.frame["centre_id"]) | set(centres.excluded["centre_id"]) == set(raw["URN"])
    hole = centres.excluded.set_index("centre_id").loc[raw.loc[3, "URN"]]
    assert "no coordinates" in hole["reason"]
    assert hole["row"] == 5
    assert np.isfinite(_xy(centres.frame)).all()


def test_latlon_row_without_coordinates_is_excluded(tmp_path):
    path = _write(tmp_path / "holes.csv", "id,name,lat,lon\n" + GOOD + "C,Gamma,,\n")
    centres = load_centres(path)
    assert centres.frame["centre_id"].tolist() == ["A", "B"]
    assert centres.excluded["centre_id"].tolist() == ["C"]
    assert "no coordinates" in centres.excluded["reason"].iloc[0]
    assert centres.excluded["row"].iloc[0] == 4
    assert np.isfinite(_xy(centres.frame)).all()


def test_include_closed_keeps_closed_rows_with_coordinates(hampshire_raw):
    centres = load_centres(HAMPSHIRE, include_closed=True)
    closed = hampshire_raw[STATUS] == "Closed"
    placed = hampshire_raw["Easting"] != ""
    kept = set(centres.frame["centre_id"])
    assert set(hampshire_raw.loc[closed & placed, "URN"]) <= kept
    assert kept == set(hampshire_raw.loc[placed, "URN"])
    assert len(centres.frame) + len(centres.excluded) == len(hampshire_raw)
    assert centres.excluded["reason"].str.contains("no coordinates").all()
    assert np.isfinite(_xy(centres.frame)).all()


def test_blank_lines_keep_row_numbers_true_to_the_file(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("id,lat,lon\na,51.0,-1.0\n\nb,51.1,-1.1\nc,951.2,-1.2\n")
    with pytest.raises(InputError) as info:
        load_centres(path)
    assert info.value.row == 5  # the fifth line of the file, blank line counted
    assert info.value.column == "lat"


def test_degrees_given_as_projected_metres_are_refused(tmp_path):
    path = tmp_path / "xy.csv"
    path.write_text("id,x,y\na,-1.30,51.05\nb,-1.31,51.06\nc,-1.29,51.07\n")
    with pytest.raises(InputError, match="looks like degrees"):
        load_centres(path, crs="EPSG:27700")
    assert len(load_centres(path, crs="EPSG:4326")) == 3
