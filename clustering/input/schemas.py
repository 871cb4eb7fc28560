"""Input schemas recognised without configuration.

A schema maps the toolkit's canonical field names to the columns of a known
source. The loader tries them in order and uses the first whose ``detect``
columns are all present; otherwise it falls back to the generic schema, whose
columns are matched by common names, case-insensitively.

Canonical fields
----------------
``id`` (required), ``name``, coordinates as ``lat``/``lon`` (degrees, WGS84)
or ``x``/``y`` (in the file's CRS), ``pupils`` (a size weight), ``status``
(rows whose status says closed are excluded) and any attribute listed in
:data:`NUMERIC_ATTRIBUTES` or :data:`CATEGORICAL_ATTRIBUTES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORICAL_ATTRIBUTES",
    "FIELDS",
    "MISSING_MARKERS",
    "MISSING_TEXT",
    "NUMERIC_ATTRIBUTES",
    "SCHEMAS",
    "Schema",
    "kentucky_phase",
]

#: Attributes read as numbers (empty or non-numeric cells become missing values).
NUMERIC_ATTRIBUTES = (
    "fsm_pct",
    "frl_pct",
    "imd_decile",
    "ethnic_diversity",
    "pct_white",
    "capacity",
)
#: Attributes read as text categories.
CATEGORICAL_ATTRIBUTES = (
    "phase",
    "type",
    "urban_rural",
    "religious_character",
    "diocese",
    "trust",
    "federation",
    "ofsted",
    "la",
    "district",
    "coop",
    "title1",
)
#: Every canonical field a column mapping may name.
FIELDS = (
    "id",
    "name",
    "lat",
    "lon",
    "x",
    "y",
    "pupils",
    "status",
    *NUMERIC_ATTRIBUTES,
    *CATEGORICAL_ATTRIBUTES,
)


@dataclass(frozen=True)
class Schema:
    """How one known source names its columns."""

    name: str
    detect: tuple[str, ...]
    columns: dict[str, str]
    crs: str | None = None
    closed_values: tuple[str, ...] = ()
    derive: Callable[[pd.DataFrame], dict[str, pd.Series]] | None = None
    #: cells that mean "no value" (numbers suppressed, not entered)
    missing_values: tuple[str, ...] = field(default=())
    #: categorical cells that mean "none" (no religious character, no diocese)
    none_values: tuple[str, ...] = field(default=())


_GRADE = {"preschool": -1, "pk": -1, "entry": 0, "k": 0, "kindergarten": 0}


def _grade(value: object) -> float:
    text = str(value).strip().lower()
    if text in _GRADE:
        return float(_GRADE[text])
    try:
        return float(text)
    except ValueError:
        return np.nan


def kentucky_phase(low: pd.Series, high: pd.Series) -> pd.Series:
    """Phase from a grade span: elementary, middle, high or other.

    >>> kentucky_phase(pd.Series(["Preschool", "6", "9", "Entry"]),
    ...                pd.Series(["5", "8", "12", "12"])).tolist()
    ['elementary', 'middle', 'high', 'other']
    """
    lo = low.map(_grade)
    hi = high.map(_grade)
    phase = np.select(
        [
            (hi <= 6) & (lo <= 5),
            (lo >= 5) & (hi <= 9),
            (lo >= 8) & (hi >= 11),
        ],
        ["elementary", "middle", "high"],
        default="other",
    )
    out = pd.Series(phase, index=low.index, dtype=object)
    out[lo.isna() | hi.isna()] = None
    return out


def _kentucky_derive(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {"phase": kentucky_phase(frame["grade_low"], frame["grade_high"])}


def _gias_phase(frame: pd.DataFrame) -> dict[str, pd.Series]:
    phase = frame["PhaseOfEducation (name)"].astype(object)
    return {"phase": phase.where(phase.isna(), phase.astype(str).str.lower())}


GIAS = Schema(
    name="gias",
    detect=("URN", "EstablishmentName", "Easting", "Northing"),
    columns={
        "id": "URN",
        "name": "EstablishmentName",
        "x": "Easting",
        "y": "Northing",
        "pupils": "NumberOfPupils",
        "status": "EstablishmentStatus (name)",
        "fsm_pct": "PercentageFSM",
        "imd_decile": "IMD decile (2019)",
        "capacity": "SchoolCapacity",
        "type": "TypeOfEstablishment (name)",
        "urban_rural": "UrbanRural (name)",
        "religious_character": "ReligiousCharacter (name)",
        "diocese": "Diocese (name)",
        "trust": "Trusts (name)",
        "federation": "Federations (name)",
        "ofsted": "OfstedRating (name)",
        "la": "LA (name)",
        "district": "DistrictAdministrative (name)",
    },
    crs="EPSG:27700",
    closed_values=("closed",),
    derive=_gias_phase,
    missing_values=("SUPP", "NE", "Not applicable", "Does not apply"),
    none_values=("Not applicable", "Does not apply", "None"),
)

KENTUCKY = Schema(
    name="kentucky",
    detect=("sch_id", "sch_name", "lat", "long"),
    columns={
        "id": "sch_id",
        "name": "sch_name",
        "lat": "lat",
        "lon": "long",
        "pupils": "enroll",
        "frl_pct": "frpl_pct",
        "ethnic_diversity": "ethnic_diversity",
        "pct_white": "pct_white",
        "type": "sch_type",
        "district": "dist_name",
        "coop": "coop",
        "title1": "title1",
    },
    crs="EPSG:4326",
    derive=_kentucky_derive,
)

#: Known sources, tried in order.
SCHEMAS: tuple[Schema, ...] = (GIAS, KENTUCKY)

#: Column names the generic schema accepts for each field, compared after
#: lower-casing and removing spaces, underscores and hyphens.
GENERIC_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "centreid", "centerid", "schoolid", "urn", "code"),
    "name": ("name", "centrename", "centername", "schoolname", "establishmentname"),
    "lat": ("lat", "latitude", "ylat", "latdd", "latitudewgs84", "wgs84latitude", "latdeg"),
    "lon": (
        "lon",
        "lng",
        "long",
        "longitude",
        "xlon",
        "xlong",
        "londd",
        "longdd",
        "longitudewgs84",
        "wgs84longitude",
        "londeg",
    ),
    "x": ("x", "easting", "eastings", "pointx", "xcoord", "xcoordinate", "coordx"),
    "y": ("y", "northing", "northings", "pointy", "ycoord", "ycoordinate", "coordy"),
    "pupils": ("pupils", "numberofpupils", "enrolment", "enrollment", "enroll", "students"),
    "status": ("status",),
    "fsm_pct": ("fsmpct", "percentagefsm", "fsm"),
    "frl_pct": ("frlpct", "frplpct"),
    "imd_decile": ("imddecile",),
    "ethnic_diversity": ("ethnicdiversity",),
    "phase": ("phase",),
    "type": ("type", "schooltype"),
    "urban_rural": ("urbanrural",),
    "religious_character": ("religiouscharacter",),
    "diocese": ("diocese",),
    "trust": ("trust", "trusts"),
    "federation": ("federation", "federations"),
    "la": ("la", "localauthority"),
    "district": ("district",),
}


def normalise_name(name: str) -> str:
    """Lower-case a column name and drop spaces, underscores, hyphens and brackets."""
    return re.sub(r"[\s_\-()]+", "", str(name).lower())


#: Cells that mean "no value" in any file: what R, Stata, SQL and spreadsheets write for a
#: missing value, and the suppression marks of official education statistics (``SUPP``,
#: ``x`` = not available, ``c`` = confidential, ``..`` = not applicable, ``z``, ``:``).
#: They are read as missing in number columns (coordinates, pupils, numeric attributes,
#: and any other column that otherwise holds numbers) and counted; in text columns
#: only the unambiguous ones (:data:`MISSING_TEXT`) are.
MISSING_MARKERS = frozenset(
    {
        "na",
        "n/a",
        "n.a.",
        "#n/a",
        "nan",
        "null",
        "none",
        "-",
        "--",
        "—",
        "–",
        ".",
        "..",
        "...",
        "supp",
        "x",
        "c",
        "z",
        ":",
        "*",
        "ne",
        "#value!",
        "#div/0!",
        "?",
    }
)
#: the markers that are missing in text columns too (``x`` or ``c`` can be a real category)
MISSING_TEXT = frozenset({"na", "n/a", "#n/a", "nan", "null"})

#: cell values that mean yes in a consent or coordinator column (compared lower-cased)
YES_VALUES = frozenset(
    {"yes", "y", "true", "t", "1", "x", "willing", "consented", "consent", "agreed"}
)
