"""Read a layout back from the folder ``clustering form --out`` wrote."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError
from ..input.files import norm_id
from ..input.load import load_centres
from ..input.textfile import read_csv_text, read_text
from ..model.layout import Layout
from ..model.scenario import load_scenario

__all__ = ["read_layout"]


def read_layout(folder: str | Path) -> Layout:
    """The layout of a ``clustering form`` output folder, with every centre's attributes.

    The centres are read again from the file its ``scenario.toml`` names (with the same
    column mapping), and each is given the cluster, venue and coordinator that
    ``assignments.csv`` records. Objective, bound and parameters come from ``run.json``.
    The layout has no compiled problem (``layout.problem is None``).
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
    scenario = load_scenario(folder / "scenario.toml")
    if not scenario.centres:
        raise InputError(
            "scenario.toml names no centres file",
            file=str(folder / "scenario.toml"),
            fix='add centres = "..." under [data]',
        )
    centres = load_centres(
        scenario.centres,
        columns=scenario.columns or None,
        crs=scenario.crs,
        include_closed=scenario.include_closed,
    )
    path = folder / "assignments.csv"
    table = read_csv_text(path, what="assignments")
    for col in ("centre_id", "cluster", "is_venue"):
        if col not in table.columns:
            raise InputError(f"assignments.csv has no {col} column", file=str(path), fix=fix)
    table["centre_id"] = table["centre_id"].map(norm_id)
    placed = table[table["cluster"].str.strip() != ""]
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
    frame["cluster"] = pd.to_numeric(frame["centre_id"].map(info["cluster"])).astype(int)
    truthy = {"true", "1", "yes"}
    frame["is_venue"] = frame["centre_id"].map(info["is_venue"]).str.lower().isin(truthy)
    if "coordinator" in info.columns:
        frame["coordinator"] = frame["centre_id"].map(info["coordinator"]).str.lower().isin(truthy)
    venue = frame[frame["is_venue"]].set_index("cluster").geometry
    if venue.index.duplicated().any() or set(venue.index) != set(frame["cluster"]):
        raise InputError(
            "assignments.csv does not give each cluster exactly one venue",
            file=str(path),
            column="is_venue",
            fix=fix,
        )
    frame["distance"] = frame.geometry.distance(
        gpd.GeoSeries(frame["cluster"].map(venue).to_numpy(), crs=frame.crs), align=False
    ).to_numpy()
    run = json.loads(read_text(folder / "run.json"))
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
        objective=float(run.get("objective", np.nan)),
        lower_bound=float(run.get("lower_bound", np.nan)),
        unit=str(run.get("unit", "m")),
        status=str(run.get("status", "")),
        params=dict(run.get("params", {})),
        stats=dict(run.get("stats", {})),
        source=str(folder),
    )
