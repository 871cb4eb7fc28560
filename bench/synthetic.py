"""A synthetic England built from real data, for scaling benchmarks.

Every school of the 2022/23 school census (``bench/data/england_schools_fsm_2022_23.csv``,
24,442 schools in 152 local authorities) keeps its real URN, local authority and % FSM.
Only the coordinates are synthetic: each authority gets a resampled copy of a real
authority's school pattern (Hampshire's or Surrey's open primary schools, optionally
Kentucky's schools), scaled so that its density of schools equals the source's, jittered by
a few hundred metres, and placed beside the others on a grid with a gap between authorities.

    python bench/synthetic.py --schools 1000 --out england_1000.csv [--seed 0]

and, from Python, :func:`england_like`. The same seed gives the same frame. Nothing outside
this repository is read.

Columns of the frame
--------------------
``id``            the school's real URN
``name``          ``"School <URN>"``
``x``, ``y``      synthetic metres in an EPSG:27700-like plane (British National Grid);
                  :func:`crs_of` gives the CRS to load them with (EPSG:27700, or an
                  equal-area world CRS when Kentucky's sparse pattern makes the grid too large)
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

import argparse
import sys
import zlib
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "england_schools_fsm_2022_23.csv"
SAMPLES = ROOT / "data" / "sample"

#: the CRS of ``x``/``y``: British National Grid, whose area the default grid fits
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


# ------------------------------------------------------------------ the trimmed census file


def phase_from_name(names: pd.Series) -> pd.Series:
    """``primary``/``secondary`` when the name says so (and not both), else ``unknown``.

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


def prepare(spc_csv: str | Path, out: str | Path = DATA) -> pd.DataFrame:
    """Write the trimmed census file from ``spc_2022_23_school_fsm.csv`` (all rows kept)."""
    spc = pd.read_csv(spc_csv, dtype=str, keep_default_na=False)
    frame = pd.DataFrame(
        {
            "urn": spc["urn"].str.strip(),
            "la_name": spc["la_name"].str.strip(),
            "fsm_pct": spc["fsm_prop"].str.strip(),
            "phase_from_name": phase_from_name(spc["school_name"]),
        }
    )
    frame = frame.sort_values(["la_name", "urn"], key=_natural).reset_index(drop=True)
    frame.to_csv(out, index=False)
    return frame


def _natural(values: pd.Series) -> pd.Series:
    return values.map(lambda v: int(v) if v.isdigit() else v) if values.name == "urn" else values


@lru_cache(maxsize=1)
def _census() -> pd.DataFrame:
    frame = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    published = pd.to_numeric(frame["fsm_pct"].where(frame["fsm_pct"] != "z"), errors="coerce")
    median = published.groupby(frame["la_name"]).transform("median")
    out = pd.DataFrame(
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
    return out


# ------------------------------------------------------------------ real point patterns


@cache
def _pattern(source: str) -> tuple[np.ndarray, np.ndarray]:
    """A real authority's school points (metres, n × 2) and the FSM-like share at each."""
    if source in ("hampshire", "surrey"):
        frame = pd.read_csv(SAMPLES / f"{source}_primary_schools_2022.csv", dtype=str)
        frame = frame[frame["EstablishmentStatus (name)"].str.startswith("Open")]
        xy = frame[["Easting", "Northing"]].astype(float).to_numpy()
        share = pd.to_numeric(frame["PercentageFSM"], errors="coerce").to_numpy()
    elif source == "kentucky":
        from pyproj import Transformer

        frame = pd.read_csv(SAMPLES / "kentucky_schools_2016_17.csv", dtype=str)
        lon, lat = frame["long"].astype(float), frame["lat"].astype(float)
        # NAD83 / Conus Albers: equal-area, metres
        to_m = Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True)
        xy = np.column_stack(to_m.transform(lon.to_numpy(), lat.to_numpy()))
        share = pd.to_numeric(frame["frpl_pct"], errors="coerce").to_numpy()
    else:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
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


def england_like(
    n_schools: int | None = None,
    seed: int = 0,
    *,
    sources: tuple[str, ...] = DEFAULT_SOURCES,
) -> pd.DataFrame:
    """A synthetic England of about ``n_schools`` schools (all 24,442 when ``None``).

    See the module's docstring for the columns. Load it with
    ``clustering.load_centres(frame, crs=crs_of(frame))``.
    """
    if n_schools is not None and n_schools < 1:
        raise ValueError(f"n_schools must be at least 1 (got {n_schools})")
    unknown = set(sources) - set(SOURCES)
    if not sources or unknown:
        raise ValueError(f"sources must be among {', '.join(SOURCES)} (got {sources})")
    census = _census()
    sizes = census.groupby("area").size()
    areas = _choose_areas(sizes, n_schools, seed)
    parts, boxes = [], []
    for name in areas:
        rows = census[census["area"] == name].sort_values("id", key=lambda s: s.astype(int))
        xy, source = _area_points(name, rows["fsm_pct"].to_numpy(), seed, tuple(sources))
        part = rows.copy()
        part["x"], part["y"], part["pattern"] = xy[:, 0], xy[:, 1], source
        parts.append(part)
        boxes.append((float(xy[:, 0].max()), float(xy[:, 1].max())))
    for part, (x0, y0) in zip(parts, _place(boxes), strict=True):
        part["x"] = (part["x"] + x0).round(0)
        part["y"] = (part["y"] + y0).round(0)
    columns = ["id", "name", "x", "y", "la", "area", "fsm_pct", "fsm_published", "phase"]
    frame = pd.concat(parts, ignore_index=True)[[*columns, "pattern"]]
    return frame


def crs_of(frame: pd.DataFrame) -> str:
    """The CRS to load ``frame`` with: :data:`CRS` when it fits, otherwise :data:`WIDE_CRS`."""
    fits = frame["x"].max() <= NATIONAL_GRID_MAX[0] and frame["y"].max() <= NATIONAL_GRID_MAX[1]
    return CRS if fits else WIDE_CRS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=None, help="about this many (default all)")
    parser.add_argument("--out", help="CSV to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sources",
        nargs="+",
        choices=SOURCES,
        default=list(DEFAULT_SOURCES),
        help="real point patterns to copy (default: hampshire surrey)",
    )
    parser.add_argument(
        "--prepare",
        metavar="SPC_CSV",
        help="rebuild bench/data/ from spc_2022_23_school_fsm.csv instead",
    )
    args = parser.parse_args(argv)
    if args.prepare:
        frame = prepare(args.prepare)
        print(f"wrote {DATA} ({len(frame)} rows)")
        return 0
    if not args.out:
        parser.error("--out is required")
    frame = england_like(args.schools, args.seed, sources=tuple(args.sources))
    frame.to_csv(args.out, index=False)
    print(
        f"wrote {args.out}: {len(frame)} schools in {frame['la'].nunique()} LAs "
        f"({frame['area'].nunique()} boundary areas), x {frame['x'].min():.0f}–"
        f"{frame['x'].max():.0f} m, y {frame['y'].min():.0f}–{frame['y'].max():.0f} m ({CRS})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
