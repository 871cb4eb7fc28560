"""Read centres from a file or a frame, validate them, and place them in metres.

Data flows one way: :func:`read_table` only reads; :func:`load_centres`
recognises the schema, validates every row and projects to a metric CRS.
Rows that cannot take part (closed, no coordinates) are kept in
``Centres.excluded`` with their reason; rows that are wrong (missing or
duplicate ids, unreadable or impossible coordinates) raise :class:`InputError`
naming the file, row and column.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from ..errors import InputError
from .schemas import (
    CATEGORICAL_ATTRIBUTES,
    FIELDS,
    GENERIC_NAMES,
    NUMERIC_ATTRIBUTES,
    SCHEMAS,
    Schema,
    normalise_name,
)
from .textfile import read_csv_text

__all__ = ["Centres", "load_centres", "read_table"]

EXCLUDED_COLUMNS = ["centre_id", "name", "row", "reason"]
_SPREADSHEET_FIRST_ROW = 2  # the header is row 1


@dataclass
class Centres:
    """Validated centres, ready for the engine.

    Attributes
    ----------
    frame
        One row per centre that takes part: ``centre_id`` (str), ``name``,
        ``row`` (the row in the source), ``pupils`` when known, recognised
        attributes, and point geometry in a metric CRS.
    excluded
        One row per centre that does not take part: ``centre_id``, ``name``,
        ``row``, ``reason``.
    source
        The file (or ``"<DataFrame>"``) the centres came from.
    schema
        The recognised schema: ``"gias"``, ``"kentucky"`` or ``"generic"``.
    columns
        The canonical field → source column mapping that was used.
    """

    frame: gpd.GeoDataFrame
    excluded: pd.DataFrame
    source: str
    schema: str
    columns: dict[str, str]

    def __len__(self) -> int:
        return len(self.frame)

    def exclude(self, mask: np.ndarray | pd.Series, reason: str | pd.Series) -> Centres:
        """Move the centres selected by ``mask`` to ``excluded`` with ``reason``."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return self
        moved = self.frame.loc[mask, ["centre_id", "name", "row"]].copy()
        moved["reason"] = reason[mask].to_numpy() if isinstance(reason, pd.Series) else reason
        kept = self.frame.loc[~mask].reset_index(drop=True)
        excluded = pd.concat([self.excluded, moved], ignore_index=True)
        return Centres(kept, excluded, self.source, self.schema, self.columns)


def read_table(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a CSV, Excel, GeoJSON or GeoPackage file with every column as text.

    CSV files are read by :func:`~clustering.input.textfile.read_csv_text`: as
    UTF-8 (with or without a byte-order mark) and, when that fails, as cp1252,
    the encoding of downloads from Get Information about Schools. Spatial files
    return a GeoDataFrame.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path), fix="check the path")
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".txt", ".tsv"}:
            sep = "\t" if suffix == ".tsv" else ","
            table = read_csv_text(path, sep=sep, skip_blank_lines=False)
            # drop blank lines but keep each row's index = its line in the file − 2
            blank = (table.apply(lambda c: c.str.strip()) == "").all(axis=1)
            return table.loc[~blank]
        if suffix in {".xlsx", ".xlsm", ".xls"}:
            return pd.read_excel(path, dtype=str, keep_default_na=False, sheet_name=sheet or 0)
        if suffix in {".geojson", ".json", ".gpkg", ".shp", ".fgb"}:
            return gpd.read_file(path)
    except InputError:
        raise
    except ImportError as exc:  # e.g. old .xls files need a reader that is not installed
        raise InputError(
            f"cannot be read here ({exc})", file=str(path), fix="save it as .xlsx or .csv"
        ) from exc
    except Exception as exc:  # pandas, openpyxl and pyogrio each raise their own errors
        raise InputError(
            f"cannot be read: {exc}", file=str(path), fix="check the file is not damaged"
        ) from exc
    raise InputError(
        f"unsupported file type {suffix or '(none)'}",
        file=str(path),
        fix="use .csv, .xlsx, .geojson or .gpkg",
    )


def _find_schema(columns: list[str]) -> Schema | None:
    present = set(columns)
    for schema in SCHEMAS:
        if all(c in present for c in schema.detect):
            return schema
    return None


def _generic_columns(columns: list[str]) -> dict[str, str]:
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise_name(col), col)
    found: dict[str, str] = {}
    for fld, names in GENERIC_NAMES.items():
        for n in names:
            if n in by_norm and by_norm[n] not in found.values():
                found[fld] = by_norm[n]
                break
    return found


def _text(series: pd.Series) -> pd.Series:
    """Strip text cells; empty cells become missing."""
    s = series.astype(object).where(series.notna(), None)
    s = s.map(lambda v: v.strip() if isinstance(v, str) else v)
    return s.where(s.map(lambda v: v not in (None, "")), None)


def _numbers(series: pd.Series, *, file: str, column: str, rows: pd.Series, strict: bool):
    text = _text(series)
    values = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & values.isna()
    if strict and bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{text.iloc[i]!r} is not a number",
            file=file,
            row=int(rows.iloc[i]),
            column=column,
            fix="enter a number or leave the cell empty",
        )
    return values.astype(float)


def load_centres(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    crs: str | int | None = None,
    include_closed: bool = False,
    sheet: str | int | None = None,
) -> Centres:
    """Load centres from a file or a (Geo)DataFrame.

    Parameters
    ----------
    source
        A path (``.csv``, ``.xlsx``, ``.geojson``, ``.gpkg``) or a frame.
    columns
        Canonical field → column name, overriding what is recognised, e.g.
        ``{"id": "School code", "lat": "Y", "lon": "X"}``. Fields:
        :data:`clustering.input.schemas.FIELDS`.
    crs
        The CRS of ``x``/``y`` columns (e.g. ``"EPSG:27700"``). Latitude and
        longitude are always WGS84; spatial files carry their own CRS.
    include_closed
        Keep rows whose status says closed (they are excluded by default).

    Returns
    -------
    Centres
        The centres that take part, in metres, and those excluded with reasons.

    Raises
    ------
    InputError
        Missing or duplicate ids, unreadable or out-of-range coordinates,
        columns named in ``columns`` that the file does not have.
    """
    if isinstance(source, pd.DataFrame):
        raw = source.reset_index(drop=True)
        file = "<DataFrame>"
    else:
        file = str(source)
        raw = read_table(source, sheet=sheet)  # its index is the row's line in the file − 2
    if len(raw) == 0:
        raise InputError("the file has no rows", file=file, fix="add one row per centre")
    names = [str(c) for c in raw.columns if c != "geometry"]
    schema = _find_schema(names)
    mapping: dict[str, str] = dict(schema.columns) if schema else _generic_columns(names)
    if schema is not None:
        mapping = {k: v for k, v in mapping.items() if v in raw.columns}
    for fld, col in (columns or {}).items():
        if fld not in FIELDS:
            raise InputError(
                f"unknown field {fld!r} in the column mapping",
                file=file,
                fix=f"use one of {', '.join(FIELDS)}",
            )
        if col not in raw.columns:
            raise InputError(
                f"column {col!r} (given for {fld!r}) is not in the file",
                file=file,
                column=col,
                fix=f"use one of the file's columns: {', '.join(names[:30])}",
            )
        mapping[fld] = col
    schema_name = schema.name if schema else "generic"
    if not (pd.api.types.is_integer_dtype(raw.index) and raw.index.is_monotonic_increasing):
        raw = raw.reset_index(drop=True)
    rows = pd.Series(raw.index.to_numpy() + _SPREADSHEET_FIRST_ROW, index=raw.index)

    out = pd.DataFrame(index=raw.index)
    out["centre_id"] = _ids(raw, mapping, file=file, rows=rows)
    out["name"] = _text(raw[mapping["name"]]) if "name" in mapping else None
    out["name"] = out["name"].fillna(out["centre_id"])
    out["row"] = rows
    missing = set(schema.missing_values) if schema else set()

    if "pupils" in mapping:
        col = mapping["pupils"]
        out["pupils"] = _numbers(raw[col], file=file, column=col, rows=rows, strict=True)
        negative = out["pupils"] < 0
        if negative.any():
            i = int(np.flatnonzero(negative.to_numpy())[0])
            raise InputError(
                f"pupil count {out['pupils'].iloc[i]:g} is negative",
                file=file,
                row=int(rows.iloc[i]),
                column=col,
                fix="enter a count of zero or more",
            )
    for attr in NUMERIC_ATTRIBUTES:
        if attr in mapping:
            text = _text(raw[mapping[attr]])
            text = text.where(~text.isin(missing), None)
            out[attr] = pd.to_numeric(text, errors="coerce").astype(float)
    for attr in CATEGORICAL_ATTRIBUTES:
        if attr in mapping:
            text = _text(raw[mapping[attr]])
            if schema is not None and schema.none_values:
                text = text.where(~text.isin(schema.none_values), "none")
            out[attr] = text.where(~text.isin(missing), None)
    if schema is not None and schema.derive is not None:
        for attr, values in schema.derive(raw).items():
            if attr not in (columns or {}):
                out[attr] = values

    # every other column rides along under its own name, for rules and themes
    # (consent, a coordinator column, themes, …); numbers when all of it reads as numbers
    used = set(mapping.values())
    for col in raw.columns:
        if col in used or col in out.columns or str(col).lower() == "geometry":
            continue
        text = _text(raw[col])
        numbers = pd.to_numeric(text, errors="coerce")
        out[col] = numbers if numbers.notna().sum() == text.notna().sum() else text

    points, in_crs = _points(raw, mapping, schema, crs, file=file, rows=rows)
    frame = gpd.GeoDataFrame(out, geometry=points, crs=in_crs)

    reasons = pd.Series(None, index=frame.index, dtype=object)
    if "status" in mapping and not include_closed:
        closed_words = schema.closed_values if schema else ("closed",)
        status = _text(raw[mapping["status"]])
        closed = status.fillna("").str.lower().isin(closed_words)
        reasons[closed] = "closed (" + mapping["status"] + " = " + status[closed] + ")"
    no_point = frame.geometry.isna() | frame.geometry.is_empty | ~np.isfinite(frame.geometry.x)
    coord_cols = "/".join(_coordinate_columns(mapping, raw))
    reasons[no_point & reasons.isna()] = f"cannot be placed: no coordinates in {coord_cols}"

    frame = frame.to_crs(_metric_crs(frame, no_point | reasons.notna()))
    centres = Centres(
        frame.reset_index(drop=True),
        pd.DataFrame(columns=EXCLUDED_COLUMNS),
        file,
        schema_name,
        mapping,
    )
    return centres.exclude(reasons.notna().to_numpy(), reasons.reset_index(drop=True))


def _ids(raw: pd.DataFrame, mapping: dict[str, str], *, file: str, rows: pd.Series) -> pd.Series:
    if "id" not in mapping:
        raise InputError(
            "no id column found",
            file=file,
            fix="name a column 'id' (or 'URN', 'school_id') or pass a column mapping id=COLUMN",
        )
    col = mapping["id"]
    ids = _text(raw[col].astype(object).map(_id_text))
    if ids.isna().any():
        i = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputError(
            "the id is empty",
            file=file,
            row=int(rows.iloc[i]),
            column=col,
            fix="give every centre an id",
        )
    dup = ids.duplicated(keep=False)
    if dup.any():
        first = ids[dup].iloc[0]
        where = rows[ids == first].tolist()
        raise InputError(
            f"id {first!r} appears on rows {', '.join(map(str, where))}",
            file=file,
            row=int(where[1]),
            column=col,
            fix="give every centre its own id (remove the duplicate row)",
        )
    return ids.astype(str)


def _id_text(value: object) -> object:
    """Ids read from spreadsheets may come as floats (101.0); keep them as '101'."""
    if isinstance(value, float):
        if np.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    return value if value is None else str(value)


def _coordinate_columns(mapping: dict[str, str], raw: pd.DataFrame) -> list[str]:
    if "lat" in mapping and "lon" in mapping:
        return [mapping["lat"], mapping["lon"]]
    if "x" in mapping and "y" in mapping:
        return [mapping["x"], mapping["y"]]
    return ["geometry"] if "geometry" in raw.columns else []


def _points(
    raw: pd.DataFrame,
    mapping: dict[str, str],
    schema: Schema | None,
    crs: str | int | None,
    *,
    file: str,
    rows: pd.Series,
) -> tuple[gpd.GeoSeries, CRS]:
    if "lat" in mapping and "lon" in mapping:
        lat_col, lon_col = mapping["lat"], mapping["lon"]
        lat = _numbers(raw[lat_col], file=file, column=lat_col, rows=rows, strict=True)
        lon = _numbers(raw[lon_col], file=file, column=lon_col, rows=rows, strict=True)
        _check_range(lat, -90, 90, "latitude", file, lat_col, rows, swapped=lon_col)
        _check_range(lon, -180, 180, "longitude", file, lon_col, rows, swapped=lat_col)
        return gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=raw.index), CRS("EPSG:4326")
    if "x" in mapping and "y" in mapping:
        x_col, y_col = mapping["x"], mapping["y"]
        in_crs = crs if crs is not None else (schema.crs if schema else None)
        if in_crs is None:
            raise InputError(
                f"coordinates {x_col!r}/{y_col!r} have no coordinate system",
                file=file,
                column=x_col,
                fix="pass crs (e.g. --crs EPSG:27700 for British National Grid)",
            )
        the_crs = _crs(in_crs, file)
        x = _numbers(raw[x_col], file=file, column=x_col, rows=rows, strict=True)
        y = _numbers(raw[y_col], file=file, column=y_col, rows=rows, strict=True)
        known = x.notna() & y.notna()
        if (
            the_crs.is_projected
            and known.any()
            and ((x[known].abs() <= 180).all() and (y[known].abs() <= 90).all())
        ):
            raise InputError(
                f"every {x_col!r}/{y_col!r} value looks like degrees, not {the_crs.name} metres",
                file=file,
                column=x_col,
                fix="name the columns lat/lon, or pass crs EPSG:4326",
            )
        _check_area(x, y, the_crs, file, (x_col, y_col), rows)
        return gpd.GeoSeries(gpd.points_from_xy(x, y), index=raw.index), the_crs
    if isinstance(raw, gpd.GeoDataFrame) and raw.geometry is not None:
        geom = raw.geometry
        if raw.crs is None and crs is None:
            raise InputError(
                "the geometry has no coordinate system",
                file=file,
                column="geometry",
                fix="save the file with its CRS or pass crs",
            )
        the_crs = _crs(crs, file) if crs is not None else CRS(raw.crs)
        points = geom.where(geom.isna() | (geom.geom_type == "Point"), geom.representative_point())
        x = points.x.where(points.notna())
        y = points.y.where(points.notna())
        _check_area(x, y, the_crs, file, ("geometry", "geometry"), rows)
        return gpd.GeoSeries(points.to_numpy(), index=raw.index), the_crs
    raise InputError(
        "no coordinate columns found",
        file=file,
        fix="name columns lat/lon (degrees) or x/y with a crs, or pass a column mapping",
    )


def _crs(value: str | int, file: str) -> CRS:
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises CRSError, a subclass of Exception only
        raise InputError(
            f"unknown coordinate system {value!r}", file=file, fix="use an EPSG code"
        ) from exc


def _check_range(values, lo, hi, what, file, column, rows, *, swapped):
    bad = values.notna() & ((values < lo) | (values > hi))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{what} {values.iloc[i]:g} is outside {lo}..{hi}",
            file=file,
            row=int(rows.iloc[i]),
            column=column,
            fix=f"check the value (are {column!r} and {swapped!r} swapped?)",
        )


def _check_area(x, y, the_crs: CRS, file, cols, rows) -> None:
    """Points must lie (with a margin) inside the area of use of their CRS."""
    area = the_crs.area_of_use
    known = x.notna() & y.notna()
    if area is None or not known.any():
        return
    from pyproj import Transformer

    to_deg = Transformer.from_crs(the_crs, "EPSG:4326", always_xy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lon, lat = to_deg.transform(x[known].to_numpy(), y[known].to_numpy())
    margin = 2.0
    outside = (
        ~np.isfinite(lon)
        | ~np.isfinite(lat)
        | (lon < area.west - margin)
        | (lon > area.east + margin)
        | (lat < area.south - margin)
        | (lat > area.north + margin)
    )
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        row_index = x[known].index[i]
        column = cols[0]
        if cols[0] != cols[1]:
            # blame the coordinate that leaves the CRS's projected bounds
            to_crs = Transformer.from_crs("EPSG:4326", the_crs, always_xy=True)
            x0, y0, x1, y1 = to_crs.transform_bounds(area.west, area.south, area.east, area.north)
            span = max(x1 - x0, y1 - y0) * 0.1
            x_ok = x0 - span <= x[row_index] <= x1 + span
            y_ok = y0 - span <= y[row_index] <= y1 + span
            column = cols[1] if x_ok and not y_ok else cols[0]
        raise InputError(
            f"point ({x[row_index]:g}, {y[row_index]:g}) lies outside the area where "
            f"{the_crs.name} applies",
            file=file,
            row=int(rows[row_index]),
            column=column,
            fix="check the coordinates and the coordinate system (crs)",
        )


def _metric_crs(frame: gpd.GeoDataFrame, unplaced: pd.Series) -> CRS:
    """Keep a projected CRS in metres; otherwise use the local UTM zone."""
    crs = CRS(frame.crs)
    if crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name in {"metre", "meter"}:
        return crs
    placed = frame.loc[~unplaced.to_numpy()]
    if len(placed) == 0:
        return CRS("EPSG:3857")
    return placed.estimate_utm_crs()
