"""Write a layout to a folder: tables, GeoJSON, a map, a report and a run record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, mapping
from shapely.geometry.polygon import orient

from ..analysis.explain import can_explain, explanations
from ..analysis.metrics import cluster_summary, contrast_summary, distance_scale
from ..analysis.reform import has_previous, moves
from ..model.layout import Layout
from .folder import KINDS, replace_folder
from .report import render_map, write_report
from .tables import rounded, to_jsonable, write_csv

__all__ = ["HULL_BUFFER_M", "assignments_table", "write_outputs"]

#: Clusters are drawn as the convex hull of their members grown by this many metres,
#: so clusters of one or two centres are still polygons.
HULL_BUFFER_M = 300.0
_WGS84 = "EPSG:4326"
_COORD_DP = 7  # about 1 cm, as RFC 7946 suggests


def _dump(obj: Any, path: Path, *, compact: bool = False) -> None:
    """Write ``obj`` as strict JSON (no NaN); ``compact`` for large GeoJSON (fast, one line)."""
    if compact:
        text = json.dumps(obj, ensure_ascii=False, default=str, allow_nan=False)
    else:
        text = json.dumps(
            to_jsonable(obj), indent=2, ensure_ascii=False, default=str, allow_nan=False
        )
    path.write_text(text + "\n", encoding="utf-8")


def _round_coords(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda c: np.round(c, _COORD_DP))


def _feature_collection(geoms: gpd.GeoSeries, properties: list[dict[str, Any]]) -> dict:
    features = []
    for geom, props in zip(geoms, properties, strict=True):
        if geom.geom_type == "Polygon":
            geom = orient(geom, sign=1.0)  # RFC 7946: exterior rings counter-clockwise
        features.append(
            {"type": "Feature", "properties": props, "geometry": mapping(_round_coords(geom))}
        )
    return {"type": "FeatureCollection", "features": features}


def assignments_table(layout: Layout) -> pd.DataFrame:
    """The table ``assignments.csv`` holds: one row per input centre, distances in km.

    Columns ``centre_id``, ``name``, ``cluster``, ``venue_id``, ``is_venue``,
    ``coordinator`` (when known), ``distance_km`` (or ``distance_<unit>`` of a travel
    matrix) and ``excluded_reason``.
    """
    factor, suffix = distance_scale(layout.unit)
    table = layout.assignments.copy()
    distance = pd.to_numeric(table["distance"], errors="coerce") * factor
    table[f"distance_{suffix}"] = distance.round(3) if layout.unit == "m" else distance
    table["is_venue"] = table["is_venue"].astype("boolean")
    table["excluded_reason"] = table["excluded_reason"].fillna("")
    columns = [
        "centre_id",
        "name",
        "cluster",
        "venue_id",
        "is_venue",
        f"distance_{suffix}",
        "excluded_reason",
    ]
    if "coordinator" in table.columns:
        table["coordinator"] = table["coordinator"].astype("boolean")
        columns.insert(5, "coordinator")
    return table[columns]


def _cluster_geojson(layout: Layout, summary: pd.DataFrame) -> dict:
    centres = layout.centres
    labels = centres["cluster"].to_numpy(dtype=np.int64)
    ids = centres["centre_id"].astype(str).to_numpy()
    xy = np.column_stack([centres.geometry.x.to_numpy(), centres.geometry.y.to_numpy()])
    hulls = []
    properties = []
    for row in summary.to_dict(orient="records"):
        members = labels == int(row["cluster"])
        hulls.append(MultiPoint(xy[members]).convex_hull.buffer(HULL_BUFFER_M))
        props = to_jsonable(row)
        props["member_ids"] = ",".join(ids[members])
        properties.append(props)
    shapes = gpd.GeoSeries(hulls, crs=centres.crs).to_crs(_WGS84)
    return _feature_collection(shapes, properties)


def _centres_geojson(layout: Layout) -> dict:
    centres = layout.centres
    points = centres.geometry.to_crs(_WGS84)
    venue = centres.loc[centres["is_venue"].astype(bool)].set_index("cluster")["centre_id"]
    properties = [
        to_jsonable(
            {
                "centre_id": str(cid),
                "name": name,
                "cluster": int(k),
                "venue_id": str(venue.get(k, "")),
                "is_venue": bool(v),
                "distance": d,
            }
        )
        for cid, name, k, v, d in zip(
            centres["centre_id"],
            centres["name"],
            centres["cluster"],
            centres["is_venue"],
            pd.to_numeric(centres["distance"], errors="coerce"),
            strict=True,
        )
    ]
    return _feature_collection(points, properties)


def write_outputs(
    layout: Layout,
    out_dir: str | Path,
    *,
    extra_files: Mapping[str, str | bytes] | None = None,
) -> dict[str, Path]:
    """Write everything a user needs about a layout into ``out_dir``.

    The files are:

    ``assignments.csv``
        One row per input centre (members, then excluded): ``centre_id``,
        ``name``, ``cluster``, ``venue_id``, ``is_venue``, ``distance_km``
        (3 dp; ``distance_<unit>`` for a user matrix) and ``excluded_reason``.
    ``clusters.csv``
        :func:`clustering.analysis.metrics.cluster_summary`.
    ``contrast.csv``
        :func:`~clustering.analysis.metrics.contrast_summary`: each attribute's deviation
        from the area's mix.
    ``excluded.csv``
        The excluded centres with their reasons (a header only when none).
    ``baselines.csv``
        Only when ``layout.baselines`` is set: the layout beside the baselines
        (:func:`clustering.analysis.baselines.compare`), numbers to 1 decimal.
    ``explanations.csv``
        When the layout comes from the engine (``layout.problem``): one row per
        member saying why it is in its cluster and what its best alternative
        would cost (:func:`clustering.analysis.explain.explanations`).
    ``moves.csv``
        When the layout re-forms a previous one: who stayed, moved, joined or
        left, and why (:func:`clustering.analysis.reform.moves`).
    ``clusters.geojson``
        One polygon per cluster in WGS84: the convex hull of its members grown
        by :data:`HULL_BUFFER_M` metres, with the cluster's summary row and
        ``member_ids`` (comma-separated) as properties.
    ``centres.geojson``
        One point per member in WGS84: ``centre_id``, ``name``, ``cluster``,
        ``venue_id``, ``is_venue`` and ``distance`` (in ``layout.unit``).
    ``map.png``, ``report.html``
        :func:`clustering.output.report.render_map` and
        :func:`clustering.output.report.write_report` (the map embedded).
    ``run.json``
        Parameters, statistics, objective, lower bound, gap (fraction, and
        ``gap_pct``), unit, status, source, counts, the files written, and
        ``quality``: each weighted part of the objective beside its own reference
        (:meth:`clustering.analysis.quality.Quality.to_dict`: value, weight, proven
        bound, best found, room left, the part with the most room, the stronger
        whole-objective bound and its gap), or ``null`` for a layout formed without it.

    The CSV files are UTF-8 with a byte-order mark (so Excel shows accents intact) and
    safe to open in a spreadsheet (:func:`clustering.output.tables.write_csv`): a text
    cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written
    with a leading apostrophe (``'=HYPERLINK(…)``), which is also what reading the file
    back gives; numbers are written as they are.

    The folder is written whole (:func:`clustering.output.folder.replace_folder`): into
    a hidden temporary folder beside it, which then takes its place. An earlier run's
    folder is replaced entirely (none of its files survive, plan folders in it
    included); if writing fails, it is left as it was and nothing half-written remains.

    Parameters
    ----------
    layout
        The layout to write. Its centres must have a CRS.
    out_dir
        The folder; created when missing. It must be empty or hold an earlier run
        (``run.json``) and nothing else: a folder of other files is refused.
    extra_files
        More files to write in the same folder, name → text (UTF-8) or bytes, e.g.
        ``{"scenario.toml": ...}``; plain file names, none of the names above.

    Returns
    -------
    dict
        File name without extension (``"assignments"``, ``"clusters"``,
        ``"excluded"``, ``"baselines"`` (when set), ``"explanations"`` and
        ``"moves"`` (when they can be made), ``"clusters_geojson"``,
        ``"centres_geojson"``, ``"map"``, ``"report"``, each of ``extra_files`` and
        ``"run"``) → path in ``out_dir``.

    Raises
    ------
    ValueError
        When the centres have no CRS (GeoJSON must be in WGS84), or a name of
        ``extra_files`` is not a plain file name or is one of the files above.
    InputError
        When ``out_dir`` is a file or holds files of other kinds, or cannot be written
        (no permission, a full disk); nothing is changed then.
    """
    if layout.centres.crs is None:
        raise ValueError("the layout's centres have no CRS, so they cannot be written as WGS84")
    extra = dict(extra_files or {})
    ours = KINDS["layout"]["files"] - {"scenario.toml"}
    for name in extra:
        if Path(name).name != name or name in ("", ".", "..") or name in ours:
            raise ValueError(f"extra file {name!r} is not a plain file name of its own")
    target = Path(out_dir)
    with replace_folder(target, "layout") as out:
        files = _write_all(layout, out, extra)
    return {key: target / path.relative_to(out) for key, path in files.items()}


def _write_all(layout: Layout, out: Path, extra: dict[str, str | bytes]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    files["assignments"] = write_csv(assignments_table(layout), out / "assignments.csv")

    summary = cluster_summary(layout)
    files["clusters"] = write_csv(summary, out / "clusters.csv")
    files["contrast"] = write_csv(contrast_summary(layout), out / "contrast.csv")

    excluded = layout.excluded
    columns = list(excluded.columns) or ["centre_id", "name", "row", "reason"]
    files["excluded"] = write_csv(excluded.reindex(columns=columns), out / "excluded.csv")

    if layout.baselines is not None:
        files["baselines"] = write_csv(rounded(layout.baselines), out / "baselines.csv")

    moved = None
    if can_explain(layout):
        files["explanations"] = write_csv(explanations(layout), out / "explanations.csv")
        if has_previous(layout):
            moved = moves(layout)
            files["moves"] = write_csv(moved, out / "moves.csv")

    files["clusters_geojson"] = out / "clusters.geojson"
    _dump(_cluster_geojson(layout, summary), files["clusters_geojson"], compact=True)
    files["centres_geojson"] = out / "centres.geojson"
    _dump(_centres_geojson(layout), files["centres_geojson"], compact=True)

    files["map"] = render_map(layout, out / "map.png")
    files["report"] = write_report(
        layout, out / "report.html", summary=summary, map_png=files["map"], moves=moved
    )

    for name, content in extra.items():
        path = out / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        files[Path(name).stem] = path

    files["run"] = out / "run.json"
    record = {
        "source": layout.source,
        "status": layout.status,
        "unit": layout.unit,
        "objective": layout.objective,
        "lower_bound": layout.lower_bound,
        "gap": layout.gap,
        "gap_pct": 100.0 * layout.gap,
        "n_centres": len(layout.centres),
        "n_excluded": len(layout.excluded),
        "n_clusters": layout.n_clusters,
        "params": layout.params,
        "stats": {k: v for k, v in layout.stats.items() if k != "quality"},
        "quality": layout.stats.get("quality"),
        "files": [p.name for p in files.values()],
    }
    _dump(record, files["run"])
    return files
