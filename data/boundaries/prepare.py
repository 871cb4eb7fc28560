"""Trim the boundary files bundled here from the shared data folder (run by hand).

    python data/boundaries/prepare.py /path/to/shared/data/boundaries

Keeps WGS84 and one ``name`` property, rounds coordinates to 5 decimals (about 1 m)
and simplifies the Kentucky school districts (0.002°, topology kept). Nothing in
the package or its tests reads the source folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import shapely

HERE = Path(__file__).resolve().parent


def trim(source: Path, name_column: str, out: Path, tolerance: float = 0.0) -> None:
    frame = gpd.read_file(source).to_crs(4326)
    names = frame[name_column].astype(str)
    if name_column == "NAME":
        names = names.str.title()
    geometry = frame.geometry
    if tolerance:
        geometry = geometry.simplify(tolerance, preserve_topology=True)
    geometry = shapely.set_precision(geometry.values, 1e-5)
    gpd.GeoDataFrame({"name": names}, geometry=geometry, crs=4326).to_file(
        out, driver="GeoJSON", COORDINATE_PRECISION=5
    )
    print(f"{out.name}: {len(frame)} polygons, {out.stat().st_size / 1e3:,.0f} kB")


def main(folder: str) -> None:
    src = Path(folder)
    trim(src / "england_lad_may2024_buc.geojson", "name", HERE / "england_lad_may2024.geojson")
    trim(
        src / "kentucky_school_districts_2016_17.geojson",
        "NAME",
        HERE / "kentucky_school_districts_2016_17.geojson",
        tolerance=0.002,
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(HERE.parents[2] / "shared/data/boundaries"))
