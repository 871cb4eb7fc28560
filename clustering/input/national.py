"""A national-sized synthetic instance: "a synthetic England" built from real data.

Every school of the 2022/23 school census (``data/national/england_schools_fsm_2022_23.csv``,
24,442 schools in 152 local authorities) keeps its real URN, local authority and % FSM.
Only the coordinates are synthetic: each authority gets a resampled copy of a real
authority's school pattern (Hampshire's or Surrey's open primary schools from
``data/sample/``, optionally Kentucky's schools), scaled so that its density of schools equals
the source's, jittered by a few hundred metres, and placed beside the others on a grid with a
gap between authorities. Nothing outside the repository's ``data/`` folder is read, and the
same seed gives the same frame.

Columns of the frame (:func:`england_like`)
-------------------------------------------
``id``            the school's real URN
``name``          ``"School <URN>"``
``la``            the real local authority
``area``          the authority used as a boundary: ``la``, except that the two authorities
                  too small for one cluster of 8 are joined with a neighbour: Isles of Scilly
                  (1 school) with Cornwall, City of London (6) with Hackney
``fsm_pct``       % of pupils eligible for free school meals, as published; where the census
                  has ``z`` (not applicable) it is the median of the authority's published values
``fsm_published`` ``yes`` when the census publishes an FSM figure, ``no`` for ``z`` (in this
                  file ``z`` marks, by their names, independent schools)
``phase``         ``primary`` / ``secondary`` / ``unknown``, **derived from the school's name**
                  (the census extract has no phase): see :data:`PRIMARY_WORDS` and
                  :data:`SECONDARY_WORDS`. About a third of the schools are ``unknown`` (names
                  such as "X Academy" or "X School" say nothing) and most real secondaries are
                  among them, so ``secondary`` marks only schools whose name says so.
``pattern``       the real authority whose point pattern the school's authority copies
``geometry``      the synthetic point, metres, in :data:`CRS` (British National Grid) or, when
                  Kentucky's sparse pattern makes the grid too large for it, :data:`WIDE_CRS`

There is no ``pupils`` column: the census extract has no pupil numbers and none are invented.

Subsets (``n_schools``) are made of whole authorities: the authorities are shuffled once by
the seed and taken in that order, each one that keeps the total at most ``n_schools`` (the
others are skipped), then the skipped one that brings the total closest to ``n_schools``,
if one brings it closer. A subset is thus a set of real-sized authorities whose total is close
to ``n_schools``, above or below (for seed 0: 250 → 257, 1,000 → 999, 4,000 → 3,990,
24,000 → 24,029). An authority's own point pattern does not depend on ``n_schools``; only
where it is placed on the grid does.
"""

from __future__ import annotations

import zlib
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "CENSUS",
    "CRS",
    "DEFAULT_SOURCES",
    "SOURCES",
    "WIDE_CRS",
    "england_like",
    "phase_from_name",
]

#: the repository's data folder (as the command line finds the bundled sample)
DATA = Path(__file__).resolve().parents[2] / "data"
#: the trimmed census extract: urn, la_name, fsm_pct, phase_from_name (``data/national/``)
CENSUS = DATA / "national" / "england_schools_fsm_2022_23.csv"
#: the bundled samples whose point patterns are copied
SAMPLES = DATA / "sample"

#: the CRS of the points: British National Grid, whose area the default grid fits
CRS = "EPSG:27700"
#: the CRS used instead when the grid is too large for the National Grid (as it is with
#: Kentucky's sparse pattern): WGS 84 / NSIDC EASE-Grid 2.0 Global, equal-area metres
WIDE_CRS = "EPSG:6933"
#: the part of the National Grid the loader accepts everywhere (x, y maxima, metres)
NATIONAL_GRID_MAX = (700_000.0, 1_400_000.0)
#: point patterns of real authorities that may be copied
SOURCES = ("hampshire", "surrey", "kentucky")
#: the default: English primary schools, whose density is English (Kentucky's schools are
#: about ten times sparser, which would make a much emptier England)
DEFAULT_SOURCES = ("hampshire", "surrey")
#: authorities too small for one cluster of 8, and the neighbour each joins as a boundary
#: area (DfE and NHS statistics often report these pairs together)
JOINED = {"Isles of Scilly": "Cornwall", "City of London": "Hackney"}

#: the standard deviation of the jitter added to every point, metres
JITTER_M = 200.0
#: the gap between neighbouring authorities on the grid, metres
GAP_M = 5_000.0
#: the widest the grid's rows grow (so that all of England fits the National Grid), metres
MAX_WIDTH_M = 580_000.0
#: the grid's south-west corner (inside Great Britain's National Grid area)
ORIGIN = (100_000.0, 20_000.0)

#: words in a school's name that mark it primary (case ignored, whole words)
PRIMARY_WORDS = r"\b(?:primary|infants?|juniors?|first school|lower school)\b"
#: words in a school's name that mark it secondary
SECONDARY_WORDS = r"\b(?:secondary|high school|grammar|upper school|sixth form)\b"


def phase_from_name(names: pd.Series) -> pd.Series:
    """``primary``/``secondary`` when the name says so (and not both), else ``unknown``.

    Parameters
    ----------
    names
        School names.

    Returns
    -------
    pandas.Series
        One phase per name, on the same index.

    Examples
    --------
    >>> phase_from_name(pd.Series(["Alton Infant School", "Poynton High School",
    ...                            "Nuneaton Academy", "Lipa Primary and High School"])).tolist()
    ['primary', 'secondary', 'unknown', 'unknown']
    """
    names = names.fillna("").astype(str)
    primary = names.str.contains(PRIMARY_WORDS, case=False, regex=True)
    secondary = names.str.contains(SECONDARY_WORDS, case=False, regex=True)
    out = pd.Series("unknown", index=names.index, dtype=object)
    out[primary & ~secondary] = "primary"
    out[secondary & ~primary] = "secondary"
    return out


def _missing(path: Path) -> InputError:
    return InputError(
        "the data of the synthetic England is not here",
        file=str(path),
        fix="run from a clone of the repository, which holds data/national/ and data/sample/",
    )


@cache
def _census() -> pd.DataFrame:
    if not CENSUS.exists():
        raise _missing(CENSUS)
    frame = pd.read_csv(CENSUS, dtype=str, keep_default_na=False)
    published = pd.to_numeric(frame["fsm_pct"].where(frame["fsm_pct"] != "z"), errors="coerce")
    median = published.groupby(frame["la_name"]).transform("median")
    return pd.DataFrame(
        {
            "id": frame["urn"],
            "name": "School " + frame["urn"],
            "la": frame["la_name"],
            "area": frame["la_name"].replace(JOINED),
            "fsm_pct": published.fillna(median).round(1),
            "fsm_published": np.where(published.notna(), "yes", "no"),
            "phase": frame["phase_from_name"],
        }
    )


@cache
def _pattern(source: str) -> tuple[np.ndarray, np.ndarray]:
    """A real authority's school points (metres, n × 2) and the FSM-like share at each."""
    if source in ("hampshire", "surrey"):
        path = SAMPLES / f"{source}_primary_schools_2022.csv"
        if not path.exists():
            raise _missing(path)
        frame = pd.read_csv(path, dtype=str)
        frame = frame[frame["EstablishmentStatus (name)"].str.startswith("Open")]
        xy = frame[["Easting", "Northing"]].astype(float).to_numpy()
        share = pd.to_numeric(frame["PercentageFSM"], errors="coerce").to_numpy()
    else:  # kentucky (checked by the caller)
        from pyproj import Transformer

        path = SAMPLES / "kentucky_schools_2016_17.csv"
        if not path.exists():
            raise _missing(path)
        frame = pd.read_csv(path, dtype=str)
        lon, lat = frame["long"].astype(float), frame["lat"].astype(float)
        # NAD83 / Conus Albers: equal-area, metres
        to_m = Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True)
        xy = np.column_stack(to_m.transform(lon.to_numpy(), lat.to_numpy()))
        share = pd.to_numeric(frame["frpl_pct"], errors="coerce").to_numpy()
    ok = np.isfinite(xy).all(axis=1)
    return xy[ok] - xy[ok].min(axis=0), share[ok]


def _area_points(
    name: str, fsm: np.ndarray, seed: int, sources: tuple[str, ...]
) -> tuple[np.ndarray, str]:
    """Points for the ``len(fsm)`` schools of one area (origin at its south-west corner).

    Schools are matched to points by rank of FSM, so that the area's deprivation has the
    spatial pattern of the source's.
    """
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    source = sources[int(rng.integers(len(sources)))]
    src_xy, src_share = _pattern(source)
    s, m = len(src_xy), len(fsm)
    if m <= s:
        picked = rng.choice(s, m, replace=False)
    else:
        picked = np.concatenate([np.arange(s), rng.choice(s, m - s, replace=True)])
    xy = src_xy[picked] - src_xy[picked].mean(axis=0)
    # one of the eight symmetries of the square, so copies of one source differ
    if rng.integers(2):
        xy = xy[:, ::-1]
    xy = xy * rng.choice([-1.0, 1.0], size=2)
    # density of the source: area scales with the number of schools
    xy = xy * np.sqrt(m / s) + rng.normal(0.0, JITTER_M, size=xy.shape)
    # pair points and schools by FSM rank (a point with no FSM ranks at random)
    share = src_share[picked]
    share = np.where(np.isfinite(share), share, rng.uniform(0, 100, size=m))
    tie = rng.random(m)
    point_order = np.lexsort((tie, share))
    school_order = np.lexsort((rng.random(m), fsm))
    out = np.empty_like(xy)
    out[school_order] = xy[point_order]
    return out - out.min(axis=0), source


def _choose_areas(sizes: pd.Series, n_schools: int | None, seed: int) -> list[str]:
    """Whole areas in the seed's shuffled order, about ``n_schools`` schools in all."""
    names = sorted(sizes.index)
    order = [names[k] for k in np.random.default_rng(seed).permutation(len(names))]
    if n_schools is None or n_schools >= int(sizes.sum()):
        return order
    chosen, total = [], 0
    for name in order:  # first fit: every area that keeps the total at most n_schools
        if total + int(sizes[name]) <= n_schools:
            chosen.append(name)
            total += int(sizes[name])
    # then the one skipped area that brings the total closest to n_schools, if one does
    gaps = {abs(total + int(sizes[a]) - n_schools): a for a in reversed(order) if a not in chosen}
    if gaps and min(gaps) < n_schools - total:
        chosen.append(gaps[min(gaps)])
    return chosen


def _place(boxes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """South-west corners for boxes (w, h): rows of a near-square grid, ``GAP_M`` apart."""
    if not boxes:
        return []
    total = sum((w + GAP_M) * (h + GAP_M) for w, h in boxes)
    width = max(max(w for w, _ in boxes), min(1.15 * np.sqrt(total), MAX_WIDTH_M))
    corners, x, y, row_h = [], 0.0, 0.0, 0.0
    for w, h in boxes:
        if x > 0 and x + w > width:
            x, y, row_h = 0.0, y + row_h + GAP_M, 0.0
        corners.append((ORIGIN[0] + x, ORIGIN[1] + y))
        x += w + GAP_M
        row_h = max(row_h, h)
    return corners


def _whole_number(name: str, value, least: int) -> int:
    number = isinstance(value, int | float | np.integer) and not isinstance(value, bool)
    if not (number and float(value).is_integer() and value >= least):
        raise InputError(
            f"{name} {value!r} is not allowed", fix=f"use a whole number, {least} or more"
        )
    return int(value)


def england_like(
    n_schools: int | None = None,
    seed: int = 0,
    *,
    sources: tuple[str, ...] = DEFAULT_SOURCES,
) -> gpd.GeoDataFrame:
    """A synthetic England of about ``n_schools`` schools, built from real data.

    Real URNs, local authorities and % FSM (2022/23 school census); synthetic coordinates
    copied from the school patterns of real authorities. The module's docstring
    (:mod:`clustering.input.national`) describes every column and how subsets are chosen.

    Parameters
    ----------
    n_schools
        About this many schools, made of whole local authorities (the total lands close to
        it, above or below); ``None`` for all 24,442.
    seed
        Chooses the authorities of a subset, each authority's copied pattern and the jitter.
        The same seed (and ``n_schools``, ``sources``) gives the same frame.
    sources
        The real point patterns an authority may copy: ``"hampshire"``, ``"surrey"``
        (English primary schools, the default) and ``"kentucky"`` (about ten times sparser).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per school (columns ``id``, ``name``, ``la``, ``area``, ``fsm_pct``,
        ``fsm_published``, ``phase``, ``pattern``) with point geometry in metres, CRS
        :data:`CRS` (British National Grid) or :data:`WIDE_CRS` when it does not fit.
        :func:`clustering.load_centres` reads it as it is.

    Raises
    ------
    InputError
        ``n_schools`` or ``seed`` not a whole number in range, an unknown source, or the
        repository's ``data/`` folder not found (an installed package without the data).

    Examples
    --------
    >>> import clustering
    >>> frame = clustering.england_like(1000, seed=0)
    >>> len(frame), frame["la"].nunique(), frame.crs.to_string()
    (999, 8, 'EPSG:27700')
    >>> centres = clustering.load_centres(frame)
    >>> len(centres)
    999
    """
    if n_schools is not None:
        n_schools = _whole_number("n_schools", n_schools, 1)
    seed = _whole_number("seed", seed, 0)
    sources = tuple(sources)
    unknown = set(sources) - set(SOURCES)
    if not sources or unknown:
        raise InputError(
            f"sources {list(sources)!r} are not allowed", fix=f"use some of {', '.join(SOURCES)}"
        )
    census = _census()
    sizes = census.groupby("area").size()
    areas = _choose_areas(sizes, n_schools, seed)
    parts, boxes = [], []
    for name in areas:
        rows = census[census["area"] == name].sort_values("id", key=lambda s: s.astype(int))
        xy, source = _area_points(name, rows["fsm_pct"].to_numpy(), seed, sources)
        part = rows.copy()
        part["x"], part["y"], part["pattern"] = xy[:, 0], xy[:, 1], source
        parts.append(part)
        boxes.append((float(xy[:, 0].max()), float(xy[:, 1].max())))
    for part, (x0, y0) in zip(parts, _place(boxes), strict=True):
        part["x"] = (part["x"] + x0).round(0)
        part["y"] = (part["y"] + y0).round(0)
    frame = pd.concat(parts, ignore_index=True)
    fits = frame["x"].max() <= NATIONAL_GRID_MAX[0] and frame["y"].max() <= NATIONAL_GRID_MAX[1]
    columns = ["id", "name", "la", "area", "fsm_pct", "fsm_published", "phase", "pattern"]
    return gpd.GeoDataFrame(
        frame[columns],
        geometry=gpd.points_from_xy(frame["x"], frame["y"]),
        crs=CRS if fits else WIDE_CRS,
    )
