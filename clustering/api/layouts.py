"""Read a layout back from the folder ``clustering form --out`` wrote."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError
from ..input.files import norm_id
from ..input.textfile import read_csv_text, read_text
from ..model.layout import Layout
from ..model.scenario import load_scenario, scenario_centres

__all__ = ["read_layout"]


def read_layout(folder: str | Path) -> Layout:
    """The layout of a ``clustering form`` output folder, with every centre's attributes.

    The centres are read again from the file its ``scenario.toml`` names (with the same
    column mapping), and each is given the cluster, venue and coordinator that
    ``assignments.csv`` records. Objective, bound and parameters come from ``run.json``.
    The layout has no compiled problem (``layout.problem is None``).

    Text is read as written: a cell that :func:`clustering.output.tables.write_csv`
    neutralised for spreadsheets (``'=…``) keeps its apostrophe.

    Raises
    ------
    InputError
        Naming the file, and the row and column where there is one, with a fix: a
        missing folder or file (``assignments.csv``, ``scenario.toml``, ``run.json``),
        a missing column, a centre listed twice or without an id, a cluster that is not
        a whole number, a cluster without exactly one venue, a centre no longer in the
        centres file, or a ``run.json`` that is not a JSON object of numbers where
        numbers belong.
    """
    folder = Path(folder)
    fix = "give the --out folder of a `clustering form` run"
    if not folder.is_dir():
        raise InputError(
            "not a folder" if folder.exists() else "the folder does not exist",
            file=str(folder),
            fix=fix,
        )
    for name in ("assignments.csv", "scenario.toml", "run.json"):
        if not (folder / name).exists():
            raise InputError(f"the folder has no {name}", file=str(folder), fix=fix)
    path = folder / "assignments.csv"
    run = _run_record(folder / "run.json")
    table = _assignments(path, fix)
    placed = table[table["cluster"].str.strip() != ""].copy()
    placed["cluster"] = _clusters(placed["cluster"], path)
    scenario = load_scenario(folder / "scenario.toml")
    if not scenario.centres:
        raise InputError(
            "scenario.toml names no centres file",
            file=str(folder / "scenario.toml"),
            fix='add centres = "..." under [data]',
        )
    centres = scenario_centres(scenario)  # as the run read them: columns, CRS, sheet
    frame = centres.frame.copy()
    frame["centre_id"] = frame["centre_id"].astype(str)
    known = set(frame["centre_id"])
    for k, cid in enumerate(placed["centre_id"]):
        if cid not in known:
            raise InputError(
                f"centre {cid!r} is in a cluster but not in {Path(scenario.centres).name}",
                file=str(path),
                row=int(placed.index[k]) + 2,
                column="centre_id",
                fix="form the clusters again: the centres file has changed since",
            )
    info = placed.set_index("centre_id")
    frame = frame[frame["centre_id"].isin(info.index)].reset_index(drop=True)
    frame["cluster"] = frame["centre_id"].map(info["cluster"]).astype(int)
    truthy = {"true", "1", "yes"}
    frame["is_venue"] = frame["centre_id"].map(info["is_venue"]).str.lower().isin(truthy)
    if "coordinator" in info.columns:
        frame["coordinator"] = frame["centre_id"].map(info["coordinator"]).str.lower().isin(truthy)
    venue = frame[frame["is_venue"]].set_index("cluster").geometry
    venues = venue.index.value_counts()
    wrong = sorted(set(venues[venues > 1].index) | (set(frame["cluster"]) - set(venues.index)))
    if wrong:
        k = int(wrong[0])
        n = int(venues.get(k, 0))
        raise InputError(
            f"assignments.csv marks {n} venues in cluster {k}, not one"
            + (f" (and {len(wrong) - 1} more clusters likewise)" if len(wrong) > 1 else ""),
            file=str(path),
            column="is_venue",
            fix="mark exactly one member of each cluster is_venue True, or form the clusters again",
        )
    frame["distance"] = frame.geometry.distance(
        gpd.GeoSeries(frame["cluster"].map(venue).to_numpy(), crs=frame.crs), align=False
    ).to_numpy()
    left = table[table["cluster"].str.strip() == ""]
    excluded = pd.DataFrame(
        {
            "centre_id": left["centre_id"].to_numpy(),
            "name": left.get("name", pd.Series([""] * len(left))).to_numpy(),
            "row": np.full(len(left), -1),
            "reason": left.get("excluded_reason", pd.Series([""] * len(left))).to_numpy(),
        }
    )
    return Layout(
        centres=gpd.GeoDataFrame(frame, geometry="geometry", crs=centres.frame.crs),
        excluded=excluded,
        objective=run["objective"],
        lower_bound=run["lower_bound"],
        unit=str(run.get("unit", "m")),
        status=str(run.get("status", "")),
        params=run["params"],
        stats=run["stats"],
        source=str(folder),
    )


def _assignments(path: Path, fix: str) -> pd.DataFrame:
    """assignments.csv with the columns it needs, each centre once, ids normalised."""
    table = read_csv_text(path, what="assignments")
    for col in ("centre_id", "cluster", "is_venue"):
        if col not in table.columns:
            has = ", ".join(map(str, table.columns))
            raise InputError(
                f"assignments.csv has no {col} column (it has {has})",
                file=str(path),
                column=col,
                fix=fix,
            )
    if table.columns.duplicated().any():
        twice = str(table.columns[table.columns.duplicated()][0])
        raise InputError(
            "assignments.csv has this column twice", file=str(path), column=twice, fix=fix
        )
    table["centre_id"] = table["centre_id"].map(norm_id)
    blank = table["centre_id"] == ""
    if blank.any():
        raise InputError(
            "a row of assignments.csv has no centre id",
            file=str(path),
            row=int(np.flatnonzero(blank)[0]) + 2,
            column="centre_id",
            fix="give every row its centre's id, or form the clusters again",
        )
    twice = table["centre_id"].duplicated()
    if twice.any():
        k = int(np.flatnonzero(twice)[0])
        cid = table["centre_id"].iloc[k]
        first = int(np.flatnonzero(table["centre_id"] == cid)[0])
        raise InputError(
            f"centre {cid!r} is listed twice (first in row {first + 2})",
            file=str(path),
            row=k + 2,
            column="centre_id",
            fix="keep one row per centre, or form the clusters again",
        )
    return table


def _clusters(cells: pd.Series, path: Path) -> pd.Series:
    """The cluster column as whole numbers; an error names the first cell that is not."""
    numbers = pd.to_numeric(cells.str.strip(), errors="coerce")
    bad = numbers.isna() | (numbers != np.round(numbers))
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"cluster {cells.iloc[k]!r} is not a whole number",
            file=str(path),
            row=int(cells.index[k]) + 2,
            column="cluster",
            fix="give each member's cluster number (excluded centres have none)",
        )
    return numbers.astype(int)


def _run_record(path: Path) -> dict:
    """run.json: objective and bound as numbers, parameters and statistics as objects."""
    fix = "form the clusters again: run.json is written by `clustering form`"
    try:
        run = json.loads(read_text(path))
    except ValueError as exc:
        raise InputError(f"run.json is not JSON ({exc})", file=str(path), fix=fix) from None
    if not isinstance(run, dict):
        raise InputError("run.json is not a JSON object", file=str(path), fix=fix)
    out = dict(run)
    for key in ("objective", "lower_bound"):
        value = run.get(key)
        try:
            out[key] = np.nan if value is None else float(value)
        except (TypeError, ValueError):
            raise InputError(
                f"run.json's {key} is {value!r}, not a number", file=str(path), fix=fix
            ) from None
    for key in ("params", "stats"):
        value = run.get(key) or {}
        if not isinstance(value, dict):
            raise InputError(f"run.json's {key} is not an object", file=str(path), fix=fix)
        out[key] = dict(value)
    return out
