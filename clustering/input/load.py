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
from dataclasses import dataclass, field, replace
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
    MISSING_MARKERS,
    MISSING_TEXT,
    NUMERIC_ATTRIBUTES,
    SCHEMAS,
    Schema,
    normalise_name,
)
from .table import read_table

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
    missing
        Source column → how many of its cells held a missing-value marker
        (``NA``, ``N/A``, ``NULL``, ``-``, ``SUPP``, ``x``, ``..``; see
        :data:`~clustering.input.schemas.MISSING_MARKERS`) and were read as missing.
    notes
        What reading did that a user should know, in sentences: title rows
        skipped, the delimiter, the sheet, decimal commas.
    """

    frame: gpd.GeoDataFrame
    excluded: pd.DataFrame
    source: str
    schema: str
    columns: dict[str, str]
    missing: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    def reading_notes(self) -> list[str]:
        """What reading did, in sentences: :attr:`notes`, then the missing-value markers."""
        out = list(self.notes)
        if self.missing:
            total = sum(self.missing.values())
            each = ", ".join(f"{col} {n}" for col, n in sorted(self.missing.items()))
            out.append(f"{total} cell(s) marked NA, N/A, NULL, SUPP, x, … read as missing ({each})")
        return out

    def exclude(self, mask: np.ndarray | pd.Series, reason: str | pd.Series) -> Centres:
        """Move the centres selected by ``mask`` to ``excluded`` with ``reason``."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return self
        moved = self.frame.loc[mask, ["centre_id", "name", "row"]].copy()
        moved["reason"] = reason[mask].to_numpy() if isinstance(reason, pd.Series) else reason
        kept = self.frame.loc[~mask].reset_index(drop=True)
        excluded = pd.concat([self.excluded, moved], ignore_index=True)
        return replace(self, frame=kept, excluded=excluded)


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


def _markers(text: pd.Series, markers: frozenset[str]) -> pd.Series:
    """Which cells of ``text`` hold a missing-value marker."""
    kind = pd.api.types.infer_dtype(text, skipna=True)
    if not len(text) or kind not in ("string", "mixed", "mixed-integer"):
        return pd.Series(False, index=text.index)
    lower = text.astype(object).str.lower()  # not text (None, numbers of a frame): NaN
    return lower.isin(markers).fillna(False).astype(bool)


_THOUSANDS = {".": r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$", ",": r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$"}


def _parse(text: pd.Series, decimal: str) -> pd.Series:
    """Numbers from text cells: ``12.5``, ``12.5%``, ``1,234`` (thousands), ``51,23`` when
    ``decimal`` is ``","`` (semicolon files); what does not read is missing."""
    values = pd.to_numeric(text, errors="coerce")
    retry = text.notna() & values.isna()
    if not retry.any():
        return values.astype(float)
    t = text[retry].astype(str).str.replace(r"[\s\u00a0\u202f']", "", regex=True)
    t = t.str.replace(r"%$", "", regex=True)
    thousands = t.str.match(_THOUSANDS[decimal])
    sep = "," if decimal == "." else "."
    t = t.where(~thousands, t.str.replace(sep, "", regex=False))
    if decimal == ",":
        t = t.str.replace(",", ".", regex=False)
    values = values.astype(float)
    values[retry] = pd.to_numeric(t, errors="coerce").astype(float)
    return values


def _numbers(
    series: pd.Series,
    *,
    file: str,
    column: str,
    rows: pd.Series,
    strict: bool,
    decimal: str = ".",
    missing: dict[str, int] | None = None,
) -> pd.Series:
    text = _text(series)
    marked = _markers(text, MISSING_MARKERS)
    if marked.any():
        text = text.where(~marked, None)
        if missing is not None:
            missing[column] = missing.get(column, 0) + int(marked.sum())
    values = _parse(text, decimal)
    bad = text.notna() & values.isna()
    if strict and bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{text.iloc[i]!r} is not a number",
            file=file,
            row=int(rows.iloc[i]),
            column=column,
            fix="enter a number, or leave the cell empty (or NA) when it is not known",
        )
    return values


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
    decimal = raw.attrs.get("decimal", ".")
    marked: dict[str, int] = {}
    notes: list[str] = []
    if raw.attrs.get("header_row", 1) > 1:
        notes.append(
            f"the header is row {raw.attrs['header_row']}: the "
            f"{raw.attrs['header_row'] - 1} row(s) above it were skipped"
        )
    if raw.attrs.get("delimiter", ",") != ",":
        shown = {";": "semicolon", "\t": "tab", "|": "pipe"}[raw.attrs["delimiter"]]
        notes.append(f"read as {shown}-separated" + (", decimal comma" if decimal == "," else ""))
    if "sheet" in raw.attrs:
        notes.append(f"read sheet {raw.attrs['sheet']!r}")
    numbers = {"file": file, "rows": rows, "decimal": decimal, "missing": marked}

    if "pupils" in mapping:
        col = mapping["pupils"]
        out["pupils"] = _numbers(raw[col], column=col, strict=True, **numbers)
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
            col = mapping[attr]
            text = _text(raw[col])
            said = text.isin(missing)
            if said.any():
                marked[col] = marked.get(col, 0) + int(said.sum())
            text = text.where(~said, None)
            out[attr] = _numbers(text, column=col, strict=False, **numbers)
            unread = text.notna() & out[attr].isna() & ~_markers(text, MISSING_MARKERS)
            if unread.any():
                i = int(np.flatnonzero(unread.to_numpy())[0])
                notes.append(
                    f"{col}: {int(unread.sum())} cell(s) are not numbers (e.g. "
                    f"{text.iloc[i]!r} on row {int(rows.iloc[i])}) and were read as missing"
                )
    for attr in CATEGORICAL_ATTRIBUTES:
        if attr in mapping:
            col = mapping[attr]
            text = _text(raw[col])
            if schema is not None and schema.none_values:
                text = text.where(~text.isin(schema.none_values), "none")
            gone = _markers(text, MISSING_TEXT)
            if gone.any():
                marked[col] = marked.get(col, 0) + int(gone.sum())
            out[attr] = text.where(~text.isin(missing) & ~gone, None)
    if schema is not None and schema.derive is not None:
        for attr, values in schema.derive(raw).items():
            if attr not in (columns or {}):
                out[attr] = values

    # every other column rides along under its own name, for rules and themes
    # (consent, a coordinator column, themes, …); numbers when all of it reads as
    # numbers (missing-value markers aside) and it holds at least one
    used = set(mapping.values())
    for col in raw.columns:
        if col in used or col in out.columns or str(col).lower() == "geometry":
            continue
        text = _text(raw[col])
        gone = _markers(text, MISSING_MARKERS)
        values = _parse(text.where(~gone, None), decimal)
        if values.notna().any() and values.notna().sum() == (text.notna() & ~gone).sum():
            out[col] = values
            if gone.any():
                marked[str(col)] = marked.get(str(col), 0) + int(gone.sum())
        else:
            plain = _markers(text, MISSING_TEXT)
            if plain.any():
                marked[str(col)] = marked.get(str(col), 0) + int(plain.sum())
            out[col] = text.where(~plain, None)

    points, in_crs = _points(raw, mapping, schema, crs, numbers=numbers)
    frame = gpd.GeoDataFrame(out, geometry=points, crs=in_crs)

    reasons = pd.Series(None, index=frame.index, dtype=object)
    if "status" in mapping and not include_closed:
        closed_words = schema.closed_values if schema else ("closed",)
        status = _text(raw[mapping["status"]])
        closed = status.fillna("").str.lower().isin(closed_words)
        reasons[closed] = "closed (" + mapping["status"] + " = " + status[closed] + ")"
    geom = frame.geometry
    no_point = geom.isna() | geom.is_empty | ~np.isfinite(geom.x) | ~np.isfinite(geom.y)
    coord_cols = "/".join(_coordinate_columns(mapping, raw))
    reasons[no_point & reasons.isna()] = f"cannot be placed: no coordinates in {coord_cols}"
    far = _far_away(frame, no_point | reasons.notna(), coord_cols)
    reasons[far.notna() & reasons.isna()] = far

    frame = frame.to_crs(_metric_crs(frame, no_point | reasons.notna()))
    centres = Centres(
        frame.reset_index(drop=True),
        pd.DataFrame(columns=EXCLUDED_COLUMNS),
        file,
        schema_name,
        mapping,
        marked,
        notes,
    )
    return centres.exclude(reasons.notna().to_numpy(), reasons.reset_index(drop=True))


def _ids(raw: pd.DataFrame, mapping: dict[str, str], *, file: str, rows: pd.Series) -> pd.Series:
    if "id" not in mapping:
        names = [str(c) for c in raw.columns if str(c) != "geometry"]
        shown = ", ".join(repr(n[:40]) for n in names[:12]) + (" …" if len(names) > 12 else "")
        hint = ""
        if len(names) == 1 and len(names[0].split()) > 2:
            hint = " (one column whose name has spaces: is the file separated by spaces?)"
        raise InputError(
            f"no id column found among the columns {shown}{hint}",
            file=file,
            fix="name a column 'id' (or 'URN', 'school_id'), pass a column mapping "
            "(--column id=COLUMN), or save the file comma-separated",
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
        shown = ", ".join(map(str, where[:6])) + (
            f" and {len(where) - 6} more" if len(where) > 6 else ""
        )
        fix = "give every centre its own id (remove the duplicate row)"
        panel = _panel_column(raw, ids == first, exclude=col)
        if panel is not None:
            cells = raw[panel].astype(object).where(raw[panel].notna(), "")
            values = sorted({str(v).strip() for v in cells} - {""})
            fix = (
                f"keep one row per centre: the rows differ in {panel!r} "
                f"({', '.join(values[:4])}{' …' if len(values) > 4 else ''}), so keep one "
                f"{panel} (e.g. filter {panel} = {values[-1]!r} in the file)"
            )
        raise InputError(
            f"id {first!r} appears on rows {shown}",
            file=file,
            row=int(where[1]),
            column=col,
            fix=fix,
        )
    loose = ids.str.lower().str.replace(r"\s+", "", regex=True)
    near = loose.duplicated(keep=False)
    if near.any():
        first = loose[near].iloc[0]
        pair = ids[loose == first]
        where = rows[pair.index].tolist()
        raise InputError(
            f"ids {pair.iloc[0]!r} (row {where[0]}) and {pair.iloc[1]!r} (row {where[1]}) "
            "differ only in capitals or spaces, so other files cannot tell them apart",
            file=file,
            row=int(where[1]),
            column=col,
            fix="write each centre's id the same way everywhere, and give different "
            "centres ids that differ in more than case",
        )
    return ids.astype(str)


def _panel_column(raw: pd.DataFrame, rows: pd.Series, *, exclude: str) -> str | None:
    """A column telling apart the rows of one repeated id, with few values in the whole
    file (a year, a term): the file is a panel, one row per centre and period."""
    for col in raw.columns:
        if col == exclude or str(col).lower() == "geometry":
            continue
        mine = raw.loc[rows.to_numpy(), col].map(lambda v: "" if pd.isna(v) else str(v).strip())
        if mine.nunique() == len(mine) and 1 < raw[col].nunique() <= 30:
            return str(col)
    return None


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
    numbers: dict,
) -> tuple[gpd.GeoSeries, CRS]:
    file, rows = numbers["file"], numbers["rows"]
    if "lat" in mapping and "lon" in mapping:
        lat_col, lon_col = mapping["lat"], mapping["lon"]
        lat = _numbers(raw[lat_col], column=lat_col, strict=True, **numbers)
        lon = _numbers(raw[lon_col], column=lon_col, strict=True, **numbers)
        _check_range(lat, -90, 90, "latitude", file, lat_col, rows, swapped=lon_col)
        _check_range(lon, -180, 180, "longitude", file, lon_col, rows, swapped=lat_col)
        return gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=raw.index), CRS("EPSG:4326")
    if "x" in mapping and "y" in mapping:
        x_col, y_col = mapping["x"], mapping["y"]
        in_crs = crs if crs is not None else (schema.crs if schema else None)
        x = _numbers(raw[x_col], column=x_col, strict=True, **numbers)
        y = _numbers(raw[y_col], column=y_col, strict=True, **numbers)
        known = x.notna() & y.notna()
        degrees = known.any() and (x[known].abs() <= 180).all() and (y[known].abs() <= 90).all()
        if in_crs is None and degrees:
            # X/Y, POINT_X/POINT_Y exported from a GIS layer in WGS84: longitude and latitude
            _check_range(y, -90, 90, "latitude", file, y_col, rows, swapped=x_col)
            points = gpd.points_from_xy(x, y)
            return gpd.GeoSeries(points, index=raw.index), CRS("EPSG:4326")
        if in_crs is None:
            raise InputError(
                f"coordinates {x_col!r}/{y_col!r} are not degrees and have no coordinate system",
                file=file,
                column=x_col,
                fix="pass crs (e.g. --crs EPSG:27700 for British National Grid, "
                "EPSG:3857 for web maps)",
            )
        the_crs = _crs(in_crs, file)
        if the_crs.is_projected and degrees:
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


#: a centre this far from the others' median (and :data:`_FAR_FACTOR` times farther than
#: nine in ten of them) is taken to have wrong coordinates and is left out with the reason
_FAR_KM = 1000.0
_FAR_FACTOR = 5.0


def _far_away(frame: gpd.GeoDataFrame, unplaced: pd.Series, columns: str) -> pd.Series:
    """Reasons for centres whose coordinates cannot be right: exactly 0, 0 (a missing
    value written as zero), or far away from all the others (a sign dropped, a typo)."""
    reasons = pd.Series(None, index=frame.index, dtype=object)
    placed = ~unplaced.to_numpy()
    if not placed.any():
        return reasons
    geo = frame.geometry[placed]
    zero = (geo.x == 0) & (geo.y == 0)
    reasons[zero[zero].index] = (
        f"cannot be placed: {columns} are 0, 0 (a missing value written as zero?)"
    )
    rest = geo[~zero]
    if len(rest) < 5:
        return reasons
    deg = rest.to_crs("EPSG:4326") if CRS(frame.crs) != CRS("EPSG:4326") else rest
    lon, lat = np.radians(deg.x.to_numpy()), np.radians(deg.y.to_numpy())
    lon0, lat0 = np.median(lon), np.median(lat)
    h = np.sin((lat - lat0) / 2) ** 2 + np.cos(lat) * np.cos(lat0) * np.sin((lon - lon0) / 2) ** 2
    km = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
    limit = max(_FAR_KM, _FAR_FACTOR * float(np.quantile(km, 0.9)))
    far = km > limit
    for index, d in zip(rest.index[far], km[far], strict=True):
        reasons[index] = (
            f"cannot be placed: {columns} put it {d:,.0f} km from the other centres "
            "(check the coordinates: a sign or latitude/longitude swapped?)"
        )
    return reasons


def _metric_crs(frame: gpd.GeoDataFrame, unplaced: pd.Series) -> CRS:
    """Keep a projected CRS in metres; otherwise use the local UTM zone (beyond UTM's
    84° N / 80° S, an azimuthal equidistant projection centred on the centres)."""
    crs = CRS(frame.crs)
    if crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name in {"metre", "meter"}:
        return crs
    placed = frame.loc[~unplaced.to_numpy()]
    if len(placed) == 0:
        return CRS("EPSG:3857")
    try:
        return placed.estimate_utm_crs()
    except RuntimeError:  # "Unable to determine UTM CRS": polar points
        deg = placed.geometry.to_crs("EPSG:4326")
        lat, lon = float(np.median(deg.y)), float(np.median(deg.x))
        return CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +units=m +datum=WGS84")
