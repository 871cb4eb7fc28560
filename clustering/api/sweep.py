"""Sweeps: one base scenario, many settings, one tidy table of results.

A *grid* (a TOML file, ``docs/sweeps.md``) names a base scenario (the scenario format of
``docs/scenarios.md``: a file, or inline tables) and the axes to vary: contrast weights,
size ranges, seeds and areas (the values of a column such as ``la``, each solved as its own
task). The sweep is their cartesian product. Each task forms one layout with the public engine
(:func:`clustering.form_clusters`), checks it again with the independent checker
(:func:`clustering.check_layout`) and becomes one row of ``results.csv``; its layout goes to
``layouts/<task id>.csv`` (the columns of ``assignments.csv``).

Rows are appended (and flushed) as each task finishes, so a sweep that is stopped keeps what
it finished, and running it again with the same output folder skips the task ids already
there. A task id is a hash of the task's parameters (base scenario as written, data, and the
values of every axis), so it is stable across runs and machines.

Tasks are plain data (dicts of text, numbers and lists) and :func:`run_task` is a
module-level function, so they run alike in local processes
(:class:`concurrent.futures.ProcessPoolExecutor`) and on a Dask ``distributed`` scheduler.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import multiprocessing
import os
import signal
import socket
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.check import check_layout
from ..analysis.metrics import CONTRAST_REPORTED, contrast_summary, distance_scale, overall_summary
from ..errors import InfeasibleError, InputError
from ..input.load import Centres, load_centres
from ..input.national import DEFAULT_SOURCES, SOURCES, england_like
from ..model.scenario import (
    Scenario,
    load_scenario,
    scenario_centres,
    scenario_from_tables,
    scenario_to_toml,
)
from ..output.export import assignments_table
from ..output.tables import CSV_ENCODING, safe_cells, safe_text
from .form import form_clusters
from .provenance import versions

__all__ = ["STATUSES", "Grid", "read_grid", "run_task", "sweep"]

#: a task's ``status``: a checked layout, rules that cannot all hold, anything else
STATUSES = ("ok", "infeasible", "failed")
#: how long to try to reach a Dask scheduler
CONNECT_TIMEOUT = "20s"
#: how many times a task may take its worker process down with it before it is a failed row
MAX_ATTEMPTS = 3
#: the top-level keys of a grid file, and the keys of its tables
_GRID_KEYS = {
    "scenario": "the base scenario: a file, or inline tables",
    "data": "synthetic",
    "vary": "contrast, sizes, seed, area",
    "task": "time_limit, workers",
}
_DOCS = "see docs/sweeps.md"


def _fail(file: str, key: str, message: str, fix: str) -> InputError:
    return InputError(f"{key}: {message}", file=file, fix=fix)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and float(value).is_integer()


@dataclass(frozen=True)
class Grid:
    """What a sweep varies, around a base scenario.

    Every axis left empty takes the base scenario's value; the sweep is the cartesian
    product of the axes (``areas × sizes × contrast weights × seeds``).

    Parameters
    ----------
    scenario
        The base scenario (:func:`clustering.load_scenario`): data, sizes, weights, rules.
    synthetic
        Instead of the scenario's centres, the synthetic England
        (:func:`clustering.england_like`): ``{"schools": 2000, "seed": 0}`` and optionally
        ``"sources"``; ``schools`` ``None`` for all 24,442.
    contrast
        Attribute → contrast weights to try, e.g. ``{"fsm_pct": (0, 1, 2, 5)}``; several
        attributes multiply. Each replaces (or adds to) the scenario's weight.
    sizes
        ``(min, max)`` members per cluster to try, e.g. ``((8, 12), (6, 10))``.
    seeds
        Solver seeds to try.
    area_column
        A column of the centres (e.g. ``la``, ``district``): each of its values is solved as
        a separate task on the centres that have it.
    areas
        The values of ``area_column`` to solve; ``None`` for every value the centres hold.
    time_limit
        Seconds per task (default: the scenario's).
    workers
        CP-SAT workers per task (default 1: one core a task, as many tasks at once as cores).
    source
        The grid file (for messages and the ``grid`` of each task).
    folder
        Where the base scenario's relative paths are resolved (the grid file's folder).
    """

    scenario: Scenario = field(default_factory=Scenario)
    synthetic: Mapping[str, Any] | None = None
    contrast: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    sizes: tuple[tuple[int, int], ...] = ()
    seeds: tuple[int, ...] = ()
    area_column: str | None = None
    areas: tuple[str, ...] | None = None
    time_limit: float | None = None
    workers: int = 1
    source: str = "<grid>"
    folder: str = "."

    def __post_init__(self) -> None:
        _check_grid(self)

    @property
    def n_tasks(self) -> int | None:
        """The size of the product, or ``None`` while the areas are "every value"."""
        if self.area_column is not None and self.areas is None:
            return None
        n = max(len(self.sizes), 1) * max(len(self.seeds), 1)
        n *= math.prod(len(v) for v in self.contrast.values())
        return n * (len(self.areas) if self.area_column is not None else 1)

    def tasks(self) -> list[dict[str, Any]]:
        """The tasks of the sweep, as plain data, in a fixed order.

        Loads the centres once (as a task would) to check that they have the columns the
        grid names, and to list every value of ``area_column`` (``areas`` ``None``) or check
        the ones given.

        Returns
        -------
        list of dict
            Each with ``id`` (12 hex digits, a hash of the rest but ``grid`` and
            ``folder``), ``grid``, ``folder``, ``scenario`` (the base scenario's tables, as
            :func:`clustering.scenario_to_toml` writes them, paths relative to ``folder``),
            ``data`` (``{"synthetic": {...}}`` or ``None``) and ``params`` (the value of
            every axis: ``contrast``, ``min_size``, ``max_size``, ``seed``, ``area_column``,
            ``area``, ``time_limit``, ``workers``).
        """
        base = self.scenario
        tables = tomllib.loads(scenario_to_toml(base, relative_to=self.folder))
        data = None if self.synthetic is None else {"synthetic": dict(self.synthetic)}
        template = {"grid": self.source, "folder": str(Path(self.folder).resolve())}
        template.update(scenario=tables, data=data)
        centres = _task_centres(template)  # loaded once here to check the grid's columns
        names = [str(c) for c in centres.frame.columns if c not in ("geometry", "row")]
        for attr in self.contrast:
            if attr not in centres.frame.columns:
                raise _fail(
                    self.source,
                    f"vary.contrast.{attr}",
                    f"the centres have no column {attr!r}",
                    f"use one of {', '.join(names[:25])}",
                )
        areas: Sequence[str | None] = [None]
        if self.area_column is not None:
            areas = self._areas(centres, names)
        sizes = self.sizes or ((base.sizes.min_size, base.sizes.max_size),)
        seeds = self.seeds or (base.seed,)
        attrs = list(self.contrast)
        weights = itertools.product(*(self.contrast[a] for a in attrs))
        combos = [dict(zip(attrs, w, strict=True)) for w in weights]
        out, seen = [], {}
        for area, (lo, hi), combo, seed in itertools.product(areas, sizes, combos, seeds):
            params = {
                "contrast": {
                    **dict(base.weights.contrast),
                    **{a: float(w) for a, w in combo.items()},
                },
                "min_size": int(lo),
                "max_size": int(hi),
                "seed": int(seed),
                "area_column": self.area_column,
                "area": area,
                "time_limit": float(self.time_limit or base.time_limit),
                "workers": int(self.workers),
            }
            if base.deterministic:  # only then: the ids of other tasks stay as they were
                params["deterministic"] = True
            task = {**template, "params": params}
            task["id"] = task_id(task)
            if task["id"] in seen:  # the same values twice on an axis
                raise _fail(
                    self.source,
                    "vary",
                    f"two tasks are the same ({_describe(params)})",
                    "list each value of an axis once",
                )
            seen[task["id"]] = True
            out.append(task)
        return out

    def _areas(self, centres: Centres, names: list[str]) -> list[str]:
        column = self.area_column
        if column not in centres.frame.columns:
            raise _fail(
                self.source,
                "vary.area.column",
                f"{column!r} is not a column of the centres",
                f"use one of {', '.join(names[:25])}",
            )
        keys = _area_keys(centres.frame[column])
        present = sorted(
            set(keys.dropna()), key=lambda v: (0, int(v), v) if v.isdigit() else (1, 0, v)
        )
        if self.areas is None:
            if not present:
                raise _fail(
                    self.source, "vary.area.column", f"{column!r} is empty", "choose another"
                )
            return present
        missing = [a for a in self.areas if a not in set(present)]
        if missing:
            shown = ", ".join(repr(v) for v in present[:12]) + (", …" if len(present) > 12 else "")
            raise _fail(
                self.source,
                "vary.area.values",
                f"no centre has {column} = {missing[0]!r}",
                f"use values the column holds: {shown}",
            )
        return list(self.areas)


def _check_grid(grid: Grid) -> None:
    """Values of a grid, named by their keys in a grid file."""
    file = grid.source
    for attr, values in grid.contrast.items():
        key = f"vary.contrast.{attr}"
        if not isinstance(attr, str) or not attr.strip():
            raise _fail(file, "vary.contrast", f"{attr!r} is not an attribute", "name a column")
        _check_list(file, key, values, "weights of 0 or more, e.g. [0, 1, 2, 5]")
        for w in values:
            if not _is_number(w) or not math.isfinite(w) or w < 0:
                raise _fail(file, key, f"{w!r} is not a weight of 0 or more", "e.g. [0, 1, 2, 5]")
    if grid.sizes:
        _check_list(file, "vary.sizes", grid.sizes, "[min, max] pairs, e.g. [[8, 12], [6, 10]]")
    for pair in grid.sizes:
        ok = isinstance(pair, list | tuple) and len(pair) == 2 and all(map(_whole, pair))
        if not ok or not 1 <= pair[0] <= pair[1]:
            raise _fail(
                file,
                "vary.sizes",
                f"{list(pair) if isinstance(pair, tuple) else pair!r} is not [min, max] "
                "with 1 <= min <= max",
                "write pairs of whole numbers, e.g. [[8, 12], [6, 10]]",
            )
    if grid.seeds:
        _check_list(file, "vary.seed", grid.seeds, "whole numbers of 0 or more, e.g. [0, 1]")
    for seed in grid.seeds:
        if not _whole(seed) or seed < 0:
            raise _fail(
                file, "vary.seed", f"{seed!r} is not a whole number of 0 or more", "e.g. [0, 1]"
            )
    if grid.area_column is not None and (
        not isinstance(grid.area_column, str) or not grid.area_column.strip()
    ):
        raise _fail(file, "vary.area.column", "must name a column", 'e.g. column = "la"')
    if grid.areas is not None:
        if grid.area_column is None:
            raise _fail(file, "vary.area.values", "needs a column", 'add column = "la"')
        _check_list(file, "vary.area.values", grid.areas, 'values of the column, e.g. ["Kent"]')
        if not all(isinstance(a, str) for a in grid.areas):
            raise _fail(file, "vary.area.values", "must be text", 'quote them, e.g. ["850"]')
    if grid.time_limit is not None and (
        not _is_number(grid.time_limit)
        or not math.isfinite(grid.time_limit)
        or grid.time_limit <= 0
    ):
        raise _fail(
            file, "task.time_limit", f"{grid.time_limit!r} is not above 0", "give seconds, e.g. 5"
        )
    if not _whole(grid.workers) or grid.workers < 1:
        raise _fail(
            file, "task.workers", f"{grid.workers!r} is not a whole number of 1 or more", "e.g. 1"
        )
    if grid.synthetic is not None:
        _check_synthetic(file, grid.synthetic)
    elif grid.scenario.centres is None:
        raise _fail(
            file,
            "scenario",
            "names no centres",
            'give [scenario.data] centres = "FILE" (or [data] in the scenario file), '
            "or [data] synthetic = { schools = 2000 }",
        )
    prev = grid.scenario.constraints.previous
    if prev is not None and "previous" not in grid.scenario.constraint_files:
        raise _fail(
            file,
            "scenario",
            "its previous layout was given in Python, not as a file, and tasks carry files only",
            'name it in the scenario: [previous] assignments = "FILE"',
        )


def _check_list(file: str, key: str, values: Any, what: str) -> None:
    if not isinstance(values, list | tuple) or not values:
        raise _fail(file, key, f"{values!r} is not a list of {what}", f"give {what}")


def _check_synthetic(file: str, spec: Mapping[str, Any]) -> None:
    key = "data.synthetic"
    unknown = set(spec) - {"schools", "seed", "sources"}
    if unknown:
        raise _fail(file, f"{key}.{min(unknown)}", "unknown key", "use schools, seed, sources")
    schools = spec.get("schools")
    if schools is not None and (not _whole(schools) or schools < 1):
        raise _fail(
            file, f"{key}.schools", f"{schools!r} is not a whole number of 1 or more", "e.g. 2000"
        )
    seed = spec.get("seed", 0)
    if not _whole(seed) or seed < 0:
        raise _fail(file, f"{key}.seed", f"{seed!r} is not a whole number of 0 or more", "e.g. 0")
    sources = spec.get("sources", list(DEFAULT_SOURCES))
    if not isinstance(sources, list | tuple) or not sources or set(sources) - set(SOURCES):
        raise _fail(
            file, f"{key}.sources", f"{sources!r} is not allowed", f"use some of {list(SOURCES)}"
        )


def read_grid(path: str | Path) -> Grid:
    """Read and validate a grid file (``docs/sweeps.md``).

    Parameters
    ----------
    path
        The grid TOML file. Relative paths in it (the base scenario, data in inline
        scenario tables) are resolved against its folder.

    Returns
    -------
    Grid
        The validated grid; :meth:`Grid.tasks` lists its tasks.

    Raises
    ------
    InputError
        The file is missing or not TOML, a table or key is unknown, a value has the wrong
        type or is out of range; the message names the file and the key and says how to fix
        it. Errors of the base scenario name the scenario (file or ``[scenario]``).

    Examples
    --------
    >>> import clustering
    >>> grid = clustering.read_grid("data/sample/sweep_hampshire.toml")
    >>> grid.n_tasks
    8
    """
    path = Path(path)
    file = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("file not found", file=file, fix="check the path of the grid") from exc
    except IsADirectoryError as exc:
        raise InputError("is a folder, not a file", file=file, fix="name the grid file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", file=file, fix=_DOCS) from exc
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", file=file, fix="save it as UTF-8") from exc
    for key in raw:
        if key not in _GRID_KEYS:
            raise _fail(file, key, "unknown key", f"use {', '.join(_GRID_KEYS)} ({_DOCS})")
    folder = path.parent
    given = raw.get("scenario")
    if given is None:
        scenario = Scenario()
    elif isinstance(given, str):
        q = Path(given).expanduser()
        scenario = load_scenario(q if q.is_absolute() else folder / q)
    elif isinstance(given, dict):
        scenario = scenario_from_tables(given, file=f"{file} [scenario]", folder=folder)
    else:
        raise _fail(
            file,
            "scenario",
            f"{given!r} is neither a file nor a table",
            'give scenario = "hampshire.toml", or [scenario.sizes] … tables',
        )
    tables = {}
    for name in ("data", "vary", "task"):
        body = raw.get(name, {})
        if not isinstance(body, dict):
            raise _fail(file, name, "must be a table", f"write [{name}] and keys below it")
        allowed = _GRID_KEYS[name].split(", ")
        for key in body:
            if key not in allowed:
                raise _fail(file, f"{name}.{key}", "unknown key", f"use {', '.join(allowed)}")
        tables[name] = body
    data, vary, task = tables["data"], tables["vary"], tables["task"]
    synthetic = data.get("synthetic")
    if synthetic is not None and not isinstance(synthetic, dict):
        raise _fail(file, "data.synthetic", "must be a table", "e.g. { schools = 2000, seed = 0 }")
    contrast = vary.get("contrast", {})
    if not isinstance(contrast, dict):
        raise _fail(
            file, "vary.contrast", "must be a table", "e.g. contrast = { fsm_pct = [0, 1, 2] }"
        )
    area = vary.get("area")
    if area is not None and not isinstance(area, dict):
        raise _fail(file, "vary.area", "must be a table", 'e.g. area = { column = "la" }')
    area = area or {}
    unknown = set(area) - {"column", "values"}
    if unknown:
        raise _fail(file, f"vary.area.{min(unknown)}", "unknown key", "use column, values")
    values = area.get("values")
    if values is not None:
        _check_list(file, "vary.area.values", values, 'values of the column, e.g. ["Kent"]')
        if any(isinstance(v, bool) or not isinstance(v, str | int) for v in values):
            raise _fail(file, "vary.area.values", "must be text or whole numbers", 'e.g. ["Kent"]')
        values = tuple(str(v).strip() for v in values)
    for key in ("sizes", "seed"):
        if key in vary:
            _check_list(file, f"vary.{key}", vary[key], "values")
    return Grid(
        scenario=scenario,
        synthetic=None if synthetic is None else dict(synthetic),
        contrast={k: tuple(v) if isinstance(v, list) else v for k, v in contrast.items()},
        sizes=tuple(tuple(p) if isinstance(p, list) else p for p in vary.get("sizes", ())),
        seeds=tuple(vary.get("seed", ())),
        area_column=area.get("column"),
        areas=values,
        time_limit=task.get("time_limit"),
        workers=task.get("workers", 1),
        source=file,
        folder=str(folder),
    )


def task_id(task: Mapping[str, Any]) -> str:
    """The task's id: 12 hex digits of a SHA-256 of its scenario, data and parameters."""
    key = {k: task[k] for k in ("scenario", "data", "params")}
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _describe(params: Mapping[str, Any]) -> str:
    parts = []
    if params.get("area_column"):
        parts.append(f"{params['area_column']} = {params['area']}")
    parts.append(f"sizes {params['min_size']}–{params['max_size']}")
    parts += [f"{a} {w:g}" for a, w in params["contrast"].items()]
    parts.append(f"seed {params['seed']}")
    return ", ".join(parts)


# ---------------------------------------------------------------------- one task (any process


def _area_keys(values: pd.Series) -> pd.Series:
    """A column's cells as the text areas are named by (whole numbers without ``.0``)."""

    def key(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return None
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        text = str(v).strip()
        return text or None

    return values.map(key).astype(object)


@lru_cache(maxsize=4)
def _scenario(tables_json: str, folder: str, name: str) -> Scenario:
    return scenario_from_tables(json.loads(tables_json), file=name, folder=folder)


def _task_scenario(task: Mapping[str, Any]) -> Scenario:
    tables = json.dumps(task["scenario"], sort_keys=True)
    return _scenario(tables, task["folder"], f"{task['grid']} (base scenario)")


@lru_cache(maxsize=2)
def _centres(data_json: str) -> Centres:
    spec = json.loads(data_json)
    if "synthetic" in spec:
        syn = spec["synthetic"]
        schools, seed = syn.get("schools"), int(syn.get("seed", 0))
        sources = tuple(syn.get("sources", DEFAULT_SOURCES))
        centres = load_centres(england_like(schools, seed, sources=sources))
        label = f"england_like({schools}, seed={seed})"
        return replace(centres, source=label)
    return load_centres(
        spec["centres"],
        columns=spec["columns"] or None,
        crs=spec["crs"],
        include_closed=spec["include_closed"],
    )


def _task_centres(task: Mapping[str, Any]) -> Centres:
    """The centres of the task's data (cached per process), before choosing an area."""
    if task.get("data"):
        return _centres(json.dumps(task["data"], sort_keys=True))
    s = _task_scenario(task)
    if s.centres is None:
        return scenario_centres(s)  # raises, naming the missing key
    spec = {
        "centres": s.centres,
        "columns": dict(s.columns),
        "crs": s.crs,
        "include_closed": s.include_closed,
    }
    return _centres(json.dumps(spec, sort_keys=True))


def _data_label(task: Mapping[str, Any]) -> str:
    if task.get("data"):
        syn = task["data"]["synthetic"]
        return f"synthetic:{syn.get('schools') or 'all'}:seed{syn.get('seed', 0)}"
    return Path(str(task["scenario"].get("data", {}).get("centres", ""))).name


def _param_columns(task: Mapping[str, Any]) -> dict[str, Any]:
    p = task["params"]
    row: dict[str, Any] = {
        "task_id": task["id"],
        "status": "",
        "reason": "",
        "grid": task["grid"],
        "data": _data_label(task),
        "area_column": p["area_column"] or "",
        "area": "" if p["area"] is None else p["area"],
        "min_size": p["min_size"],
        "max_size": p["max_size"],
        "seed": p["seed"],
    }
    row.update({f"contrast_{a}": w for a, w in p["contrast"].items()})
    row["time_limit"] = p["time_limit"]
    row["task_workers"] = p["workers"]
    row["deterministic"] = bool(p.get("deterministic", False))
    return row


def run_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run one task of a sweep (in any process): form, check, measure.

    Parameters
    ----------
    task
        One of :meth:`Grid.tasks`.

    Returns
    -------
    dict
        ``row``: the task's row of ``results.csv`` (its parameters, ``status`` ``ok``,
        ``infeasible`` or ``failed`` with the ``reason``, and the layout's figures);
        ``layout``: the layout's assignments as CSV text, or ``None`` when there is none.
        Never raises for a task that fails: the failure is the row.
    """
    t0 = time.perf_counter()
    row = _param_columns(task)
    row.update({f"version_{k}": v for k, v in versions().items()})
    layout_csv = None
    try:
        row_more, layout_csv = _solve(task)
        row.update(row_more)
    except InfeasibleError as exc:
        row.update(status="infeasible", reason=str(exc))
    except Exception as exc:  # the sweep goes on; the row says what happened
        row.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
        if isinstance(exc, AssertionError) and "checker" in str(exc):
            row["checker_ok"] = False
    row["seconds"] = round(time.perf_counter() - t0, 3)
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    row["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"row": row, "layout": layout_csv}


def _solve(task: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    p = task["params"]
    base = _task_scenario(task)
    centres = _task_centres(task)
    if p["area_column"] is not None:
        keys = _area_keys(centres.frame[p["area_column"]])
        keep = (keys == p["area"]).to_numpy()
        if not keep.any():
            raise InputError(f"no centre has {p['area_column']} = {p['area']!r}")
        centres = Centres(
            centres.frame.loc[keep].reset_index(drop=True),
            centres.excluded.iloc[0:0],
            f"{centres.source} [{p['area_column']} = {p['area']}]",
            centres.schema,
            centres.columns,
        )
    rule = replace(base.sizes, min_size=p["min_size"], max_size=p["max_size"])
    weights = replace(base.weights, contrast=dict(p["contrast"]))
    layout = form_clusters(
        centres,
        rule,
        distances=base.distances,
        weights=weights,
        constraints=base.constraints,
        time_limit=p["time_limit"],
        seed=p["seed"],
        workers=p["workers"],
        gap_target=base.gap_target,
        baselines=False,
        deterministic=bool(p.get("deterministic", False)),
    )
    # the engine checked it already; check again here, independently, and record it
    report = check_layout(
        layout,
        rule,
        input_ids=layout.problem.input_ids if layout.problem is not None else None,
        matrix=base.distances,
        weights=weights,
        constraints=base.constraints,
    )
    head = overall_summary(layout)
    factor, suffix = distance_scale(layout.unit)
    row: dict[str, Any] = {
        "status": "ok" if report.ok else "failed",
        "reason": "" if report.ok else "checker: " + "; ".join(report.violations[:5]),
        "n_centres": head["n_centres"],
        "n_excluded": head["n_excluded"],
        "n_clusters": head["n_clusters"],
        "size_min": head["size_min"],
        "size_mean": head["size_mean"],
        "size_max": head["size_max"],
        "objective": round(layout.objective * factor, 3),
        "lower_bound": round(layout.lower_bound * factor, 3),
        "gap": round(layout.gap, 6),
        "travel": head[f"total_to_venue_{suffix}"],
        "mean_to_venue": head[f"mean_to_venue_{suffix}"],
        "max_to_venue": head[f"max_to_venue_{suffix}"],
        "distance_unit": suffix,
    }
    for _, c in contrast_summary(layout).iterrows():
        row[f"deviation_{c['attribute']}"] = c["deviation"]
        row[f"deviation_per_centre_{c['attribute']}"] = c["per_centre"]
    row.update(
        checker_ok=report.ok,
        checker_violations=len(report.violations),
        solver_status=layout.status,
        solve_seconds=round(float(layout.stats.get("seconds", math.nan)), 3),
    )
    text = io.StringIO()
    safe_cells(assignments_table(layout)).to_csv(text, index=False)
    return row, text.getvalue()


# ---------------------------------------------------------------------- results on disk


def _columns(tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The header of results.csv for these tasks (rows may add more; the file then grows)."""
    contrast = dict.fromkeys(a for t in tasks for a in t["params"]["contrast"])
    deviations = [*contrast, *(a for a in CONTRAST_REPORTED if a not in contrast)]
    return [
        "task_id",
        "status",
        "reason",
        "grid",
        "data",
        "area_column",
        "area",
        "min_size",
        "max_size",
        "seed",
        *(f"contrast_{a}" for a in contrast),
        "time_limit",
        "task_workers",
        "deterministic",
        "n_centres",
        "n_excluded",
        "n_clusters",
        "size_min",
        "size_mean",
        "size_max",
        "objective",
        "lower_bound",
        "gap",
        "travel",
        "mean_to_venue",
        "max_to_venue",
        "distance_unit",
        *(f"deviation_{a}" for a in deviations),
        *(f"deviation_per_centre_{a}" for a in deviations),
        "checker_ok",
        "checker_violations",
        "solver_status",
        "solve_seconds",
        "seconds",
        "worker",
        "finished_at",
        *(f"version_{k}" for k in versions()),
    ]


class _Results:
    """results.csv, appended one row at a time (flushed and synced) and read back."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = list(columns)
        if path.exists() and path.stat().st_size > 0:
            self._drop_partial_line()
            with path.open(newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), [])
            if header and header[0] == "task_id":
                self.columns = header + [c for c in columns if c not in header]
                if self.columns != header:
                    self._rewrite(self.rows())
                return
            raise InputError(
                "is not the results.csv of a sweep",
                file=str(path),
                fix="choose another --out folder",
            )
        self._rewrite([])

    def _drop_partial_line(self) -> None:
        """A sweep killed while writing a row leaves a partial line: cut it off."""
        with self.path.open("rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return
            f.truncate(data.rfind(b"\n") + 1)

    def rows(self) -> list[dict[str, str]]:
        with self.path.open(newline="", encoding="utf-8") as f:
            return [r for r in csv.DictReader(f) if r.get("task_id")]

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(self.path)

    def drop(self, ids: set[str]) -> None:
        self._rewrite([r for r in self.rows() if r["task_id"] not in ids])

    def append(self, row: Mapping[str, Any]) -> None:
        new = [c for c in row if c not in self.columns]
        if new:  # a column no earlier row had: widen the file first
            self.columns += new
            self._rewrite(self.rows())
        line = io.StringIO()
        csv.DictWriter(line, fieldnames=self.columns, restval="").writerow(
            {k: safe_text(_cell(v)) for k, v in row.items()}
        )
        with self.path.open("a", newline="", encoding="utf-8") as f:
            f.write(line.getvalue())
            f.flush()
            os.fsync(f.fileno())


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


def _write_layout(folder: Path, tid: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{tid}.csv.tmp"
    tmp.write_text(text, encoding=CSV_ENCODING)
    tmp.replace(folder / f"{tid}.csv")


# ---------------------------------------------------------------------- running them


def sweep(
    grid: Grid | str | Path,
    out: str | Path | None = None,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    progress: Callable[[dict[str, Any], int, int], None] | None = None,
    retry_failed: bool = False,
) -> pd.DataFrame:
    """Run every task of a grid and return the table of results.

    Parameters
    ----------
    grid
        A :class:`Grid` or the path of a grid file (:func:`read_grid`).
    out
        The output folder: ``results.csv``, ``layouts/<task id>.csv`` and ``sweep.json``
        (the grid's tasks as plain data). Default ``out/<grid file name>``.
    workers
        Local processes running tasks at once; default: the cores this process may use
        divided by the grid's CP-SAT workers per task. ``0`` runs the tasks one by one in
        this process (for debugging). Ignored with ``scheduler``.
    scheduler
        The address of a Dask ``distributed`` scheduler (``"tcp://host:8786"``) or a
        ``distributed.Client``: the tasks run on its workers (which need this package and
        the data at the same paths); lost workers' tasks are run again by Dask.
    progress
        Called in this process as each task finishes, with its row, the number finished
        and the number to run in this call.
    retry_failed
        Also run again the tasks whose row says ``failed`` (their rows are replaced).
        Tasks already in ``results.csv`` are otherwise skipped.

    Returns
    -------
    pandas.DataFrame
        One row per task of the grid (finished before or now), in the grid's order.

    Raises
    ------
    InputError
        A bad grid, an output folder that is a file, or a scheduler that cannot be reached.

    Examples
    --------
    >>> import clustering
    >>> table = clustering.sweep("data/sample/sweep_hampshire.toml", out="out/sw")  # doctest: +SKIP
    >>> table.groupby("contrast_fsm_pct")[["travel", "deviation_fsm_pct"]].mean()  # doctest: +SKIP
    """
    if workers is not None and (not _whole(workers) or workers < 0):
        raise InputError(f"workers {workers!r} is not allowed", fix="give 0 or more (or None)")
    if not isinstance(grid, Grid):
        grid = read_grid(grid)
    out_dir = Path(out) if out is not None else Path("out") / Path(grid.source).stem
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            "the output folder is a file", file=str(out_dir), fix="choose another folder"
        )
    tasks = grid.tasks()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sweep.json").write_text(
        json.dumps({"grid": grid.source, "versions": versions(), "tasks": tasks}, indent=1),
        encoding="utf-8",
    )
    results = _Results(out_dir / "results.csv", _columns(tasks))
    done = {r["task_id"]: r["status"] for r in results.rows()}
    if retry_failed:
        again = {tid for tid, status in done.items() if status == "failed"}
        if again:
            results.drop(again)
            done = {k: v for k, v in done.items() if k not in again}
    pending = [t for t in tasks if t["id"] not in done]
    layouts = out_dir / "layouts"
    finished = [0]

    def record(result: Mapping[str, Any]) -> None:
        row = result["row"]
        if row["task_id"] in done:  # never twice (a task Dask ran again, say)
            return
        if result.get("layout") is not None:
            _write_layout(layouts, row["task_id"], result["layout"])
        results.append(row)
        done[row["task_id"]] = row["status"]
        finished[0] += 1
        if progress is not None:
            progress(row, finished[0], len(pending))

    if pending:
        if scheduler is not None:
            _run_dask(pending, scheduler, record)
        elif workers == 0:
            for task in pending:
                record(run_task(task))
        else:
            n = workers if workers is not None else max(1, _cores() // grid.workers)
            _run_local(pending, max(1, min(n, len(pending))), record)
    table = pd.read_csv(
        results.path,
        dtype={"task_id": str, "area": str, "area_column": str, "reason": str, "worker": str},
        keep_default_na=True,
    )
    order = {t["id"]: k for k, t in enumerate(tasks)}
    table = table[table["task_id"].isin(order)]
    table = table.sort_values("task_id", key=lambda s: s.map(order)).reset_index(drop=True)
    table["reason"] = table["reason"].fillna("")
    return table


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _quiet_worker(parent: int) -> None:
    """In a worker process: Ctrl-C is for the parent, which stops the workers itself.

    The worker leaves the terminal's process group, so that Ctrl-C reaches only the parent
    (the solver catches SIGINT while it searches, and would end the process abruptly), and
    ends itself when the parent is gone (killed outright, it could not stop its workers).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()


def _end_with(parent: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # there, but not ours to signal
            pass


def _lost(task: Mapping[str, Any], why: str) -> dict[str, Any]:
    """The row of a task that did not come back from its worker."""
    row = _param_columns(task)
    row.update({f"version_{k}": v for k, v in versions().items()})
    row.update(status="failed", reason=why)
    row["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"row": row, "layout": None}


def _run_local(tasks: list[dict], n: int, record: Callable[[Mapping[str, Any]], None]) -> None:
    """Local processes (see :func:`_context`).

    A worker process that dies (killed, out of memory) breaks the pool: the tasks it took
    down are given to a new pool, at most :data:`MAX_ATTEMPTS` times each.
    """
    context = _context()
    attempts = {t["id"]: 0 for t in tasks}
    todo = list(tasks)
    while todo:
        for t in todo:
            attempts[t["id"]] += 1
        pool = ProcessPoolExecutor(
            max_workers=min(n, len(todo)),
            mp_context=context,
            initializer=_quiet_worker,
            initargs=(os.getpid(),),
        )
        futures: dict[Future, dict] = {pool.submit(run_task, t): t for t in todo}
        todo = []
        try:
            waiting = set(futures)
            while waiting:
                ready, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in ready:
                    task = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        if attempts[task["id"]] < MAX_ATTEMPTS:
                            todo.append(task)
                        else:
                            why = (
                                "its worker process died (killed, or out of memory) "
                                f"{attempts[task['id']]} times"
                            )
                            record(_lost(task, why))
                        continue
                    except Exception as exc:  # e.g. a task that cannot be sent
                        result = _lost(task, f"{type(exc).__name__}: {exc}")
                    record(result)
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=True)


def _context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes: forked from a clean server that has imported this package once
    (POSIX), or spawned; never forked from this process, whose threads they would inherit."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the worker processes (by their ids)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()


def _run_dask(
    tasks: list[dict], scheduler: Any, record: Callable[[Mapping[str, Any]], None]
) -> None:
    """The tasks on a Dask scheduler, collected as they complete."""
    from distributed import Client, as_completed

    own = not isinstance(scheduler, Client)
    if own:
        try:
            client = Client(str(scheduler), timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler ({exc})",
                file=str(scheduler),
                fix="start one (dask scheduler; dask worker ADDRESS --nthreads 1) or leave "
                "out --scheduler to run here",
            ) from None
    else:
        client = scheduler
    futures = []
    try:
        by_key = {}
        for task in tasks:
            key = f"clustering-sweep-{task['id']}"
            future = client.submit(run_task, task, key=key, pure=False)
            futures.append(future)
            by_key[future.key] = task
        for future in as_completed(futures, loop=client.loop):
            task = by_key[future.key]
            try:
                result = future.result()
            except Exception as exc:  # KilledWorker after repeated losses, a lost scheduler …
                result = _lost(task, f"{type(exc).__name__} on the Dask cluster: {exc}")
            record(result)
            future.release()
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if own:
            client.close()
