"""Write a synthetic England to a CSV: a command line over :func:`clustering.england_like`.

    python bench/synthetic.py --schools 1000 --out england_1000.csv [--seed 0]

The frame (real URNs, local authorities and % FSM of the 2022/23 school census, synthetic
coordinates) is built by the package (``clustering/input/national.py``, whose docstring
describes it); the CSV holds its columns with the points as ``x``/``y`` metres, loaded with
``clustering form england_1000.csv --crs EPSG:27700`` (the CRS is printed).

``--prepare SPC_CSV`` rebuilds ``data/national/england_schools_fsm_2022_23.csv`` from the
DfE's ``spc_2022_23_school_fsm.csv`` (see ``data/national/README.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from clustering import england_like
from clustering.input.national import CENSUS, DEFAULT_SOURCES, SOURCES, phase_from_name


def prepare(spc_csv: str | Path, out: str | Path = CENSUS) -> pd.DataFrame:
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


def as_table(frame) -> pd.DataFrame:
    """The frame with its points as ``x``/``y`` columns (after ``name``), no geometry."""
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table.insert(2, "x", frame.geometry.x.round(0))
    table.insert(3, "y", frame.geometry.y.round(0))
    return table


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
        help="rebuild data/national/ from spc_2022_23_school_fsm.csv instead",
    )
    args = parser.parse_args(argv)
    if args.prepare:
        frame = prepare(args.prepare)
        print(f"wrote {CENSUS} ({len(frame)} rows)")
        return 0
    if not args.out:
        parser.error("--out is required")
    frame = england_like(args.schools, args.seed, sources=tuple(args.sources))
    table = as_table(frame)
    table.to_csv(args.out, index=False)
    print(
        f"wrote {args.out}: {len(table)} schools in {table['la'].nunique()} LAs "
        f"({table['area'].nunique()} boundary areas), x {table['x'].min():.0f}–"
        f"{table['x'].max():.0f} m, y {table['y'].min():.0f}–{table['y'].max():.0f} m "
        f"({frame.crs.to_string()})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
