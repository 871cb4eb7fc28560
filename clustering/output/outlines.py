"""Authority and district outlines for maps, from the boundary files bundled under data/.

``data/boundaries/`` holds the English local-authority districts (ONS, OGL v3.0) and
the Kentucky school districts (US Census TIGER, public domain), trimmed by
``data/boundaries/prepare.py``; nothing is fetched at run time.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..errors import InputError
from ..input.load import Centres
from ..model.layout import Layout

__all__ = ["BOUNDARIES", "outlines"]

BOUNDARIES = Path(__file__).resolve().parents[2] / "data" / "boundaries"


def outlines(
    centres: Centres | Layout | gpd.GeoDataFrame, path: str | Path | None = None
) -> gpd.GeoDataFrame:
    """The boundary polygons (WGS84: ``name``, ``geometry``) that hold any of ``centres``.

    Parameters
    ----------
    centres
        Centres, a layout, or a GeoDataFrame of points.
    path
        A boundary file of your own (any format geopandas reads, with a ``name``
        column); by default every file bundled in ``data/boundaries/``.

    Examples
    --------
    >>> import clustering
    >>> centres = clustering.load_centres("data/sample/hampshire_primary_schools_2022.csv")
    >>> sorted(clustering.outlines(centres)["name"])[:2]
    ['Basingstoke and Deane', 'East Hampshire']
    """
    frame = centres.centres if isinstance(centres, Layout) else centres
    frame = frame.frame if isinstance(frame, Centres) else frame
    points = frame.geometry.to_crs(4326)
    if path is not None:
        files = [Path(path)]
    else:
        files = sorted(BOUNDARIES.glob("*.geojson"))
        if not files:
            raise InputError(
                "no boundary files found",
                file=str(BOUNDARIES),
                fix="run from a clone of the repository, which holds data/boundaries/",
            )
    found = []
    for file in files:
        shapes = gpd.read_file(file).to_crs(4326)
        if "name" not in shapes.columns:
            raise InputError("needs a 'name' column", file=str(file), fix="add one")
        (hit,) = [shapes.sindex.query(points.to_numpy(), predicate="within")]
        rows = sorted(set(hit[1].tolist()))
        if rows:
            found.append(shapes.iloc[rows][["name", "geometry"]])
    if not found:
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs=4326)
    return gpd.GeoDataFrame(pd.concat(found, ignore_index=True), geometry="geometry", crs=4326)
