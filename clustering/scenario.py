"""Scenario files: one readable TOML file that states what a run should do.

A scenario names the data, the cluster sizes and the solver settings. The same
file drives the command line (``clustering form --scenario FILE``) and the
Python API (:func:`load_scenario`, :func:`run_scenario`), can be saved next
to the results (every run writes the ``scenario.toml`` that reproduces it) and
shared. Unknown keys, wrong types and values out of range are errors that
name the file, the key and what is allowed.

Example::

    # Hampshire primaries in clusters of about ten
    [data]
    centres = "hampshire_primary_schools_2022.csv"   # relative to this file

    [sizes]
    min = 8
    max = 12

    [solver]
    time_limit = 20
    seed = 0
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import InputError
from .layout import Layout
from .load import Centres, load_centres
from .objective import Weights
from .schemas import FIELDS
from .solve import Progress, form_clusters
from .spec import Quota, SizeRule

__all__ = [
    "Scenario",
    "load_scenario",
    "run_scenario",
    "scenario_centres",
    "scenario_to_toml",
]


@dataclass(frozen=True)
class Scenario:
    """Everything a run needs besides the data itself.

    Paths are kept as given; :func:`load_scenario` resolves relative paths
    against the scenario file's folder.
    """

    centres: str | None = None
    distances: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    crs: str | None = None
    include_closed: bool = False
    sizes: SizeRule = field(default_factory=SizeRule)
    weights: Weights = field(default_factory=Weights)
    time_limit: float = 20.0
    seed: int = 0
    workers: int = 2
    gap_target: float = 1e-4

    def with_overrides(self, **changes: Any) -> Scenario:
        """A copy with the given fields changed; ``None`` values are ignored."""
        sizes = {k: v for k, v in changes.pop("sizes", {}).items() if v is not None}
        kept = {k: v for k, v in changes.items() if v is not None}
        if sizes:
            kept["sizes"] = replace(self.sizes, **sizes)
        return replace(self, **kept)


# (key, type, check, description) per table; check returns an error text or None
def _positive(v):
    return None if v > 0 else "must be greater than 0"


def _at_least_one(v):
    return None if v >= 1 else "must be at least 1"


def _non_negative(v):
    return None if v >= 0 else "must be 0 or more"


def _fraction(v):
    return None if 0 <= v < 1 else "must be at least 0 and below 1"


_TABLES: dict[str, dict[str, tuple[type | tuple[type, ...], Any]]] = {
    "data": {
        "centres": (str, None),
        "distances": (str, None),
        "crs": ((str, int), None),
        "include_closed": (bool, None),
        "columns": (dict, None),
    },
    "sizes": {
        "min": (int, _at_least_one),
        "max": (int, _at_least_one),
        "clusters": (int, _at_least_one),
        "target": ((int, float), _positive),
        "by": (str, None),
        "min_weight": ((int, float), _non_negative),
        "max_weight": ((int, float), _positive),
    },
    "objective": {
        "travel": ((int, float), _non_negative),
        "contrast": (dict, None),
    },
    "solver": {
        "time_limit": ((int, float), _positive),
        "seed": (int, _non_negative),
        "workers": (int, _at_least_one),
        "gap_target": ((int, float), _fraction),
    },
}


_KIND_NAMES = {
    int: "a whole number",
    float: "a number",
    str: "text in quotes",
    bool: "true or false",
    dict: "a table",
}


def _fail(file: str, key: str, message: str, fix: str) -> InputError:
    return InputError(f"{key}: {message}", file=file, fix=fix)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("file not found", file=str(path), fix="check the path") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"not valid TOML ({exc})",
            file=str(path),
            fix="see docs/scenarios.md for the format",
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", file=str(path), fix="save it as UTF-8") from exc


def _validate(raw: dict[str, Any], file: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    quotas = raw.pop("quota", [])
    if not isinstance(quotas, list):
        raise _fail(file, "quota", "must be a list of tables", "write [[quota]] for each quota")
    checked = []
    for k, quota in enumerate(quotas, start=1):
        name = f"quota #{k}"
        if not isinstance(quota, dict):
            raise _fail(file, name, "must be a table", "write [[quota]] and keys below it")
        unknown = set(quota) - {"column", "value", "min", "max"}
        if unknown:
            raise _fail(
                file, f"{name}.{min(unknown)}", "unknown key", "use column, value, min, max"
            )
        for key in ("column", "value"):
            if not isinstance(quota.get(key), str | int) or isinstance(quota.get(key), bool):
                raise _fail(file, f"{name}.{key}", "is missing or not text", f'add {key} = "..."')
        for key in ("min", "max"):
            v = quota.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise _fail(
                    file,
                    f"{name}.{key}",
                    f"{v!r} is not a whole number of 0 or more",
                    "change the value",
                )
        if quota.get("max") is not None and quota["max"] < quota.get("min", 0):
            raise _fail(file, f"{name}.max", "is below min", "swap them")
        checked.append(
            Quota(str(quota["column"]), str(quota["value"]), quota.get("min", 0), quota.get("max"))
        )
    for table, body in raw.items():
        if table not in _TABLES:
            known = ", ".join([*(f"[{t}]" for t in _TABLES), "[[quota]]"])
            raise _fail(file, f"[{table}]", "unknown table", f"use {known}")
        if not isinstance(body, dict):
            raise _fail(file, table, "must be a table", f"write [{table}] and keys below it")
        allowed = _TABLES[table]
        for key, value in body.items():
            name = f"{table}.{key}"
            if key not in allowed:
                raise _fail(file, name, "unknown key", f"use one of {', '.join(allowed)}")
            kind, check = allowed[key]
            # bool is an int in Python; accept it only where a bool is asked for
            wrong = not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)
            if wrong:
                kinds = kind if isinstance(kind, tuple) else (kind,)
                if float in kinds:  # a whole number is a number too
                    kinds = tuple(k for k in kinds if k is not int)
                want = " or ".join(dict.fromkeys(_KIND_NAMES[k] for k in kinds))
                raise _fail(file, name, f"{value!r} is not {want}", f"give {want}")
            if isinstance(value, float) and not math.isfinite(value):
                raise _fail(file, name, f"{value!r} is not a finite number", "give a number")
            problem = check(value) if check else None
            if problem:
                raise _fail(file, name, f"{value!r} {problem}", "change the value")
        out[table] = body
    out["quota"] = checked
    columns = out.get("data", {}).get("columns", {})
    for fld, col in columns.items():
        if fld not in FIELDS:
            raise _fail(
                file, f"data.columns.{fld}", "unknown field", f"use one of {', '.join(FIELDS)}"
            )
        if not isinstance(col, str):
            raise _fail(file, f"data.columns.{fld}", f"{col!r} is not a column name", "quote it")
    for attr, weight in out.get("objective", {}).get("contrast", {}).items():
        name = f"objective.contrast.{attr}"
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise _fail(file, name, f"{weight!r} is not a number", "give a weight such as 2.5")
        if not math.isfinite(weight) or weight < 0:
            raise _fail(file, name, f"{weight!r} must be 0 or more", "change the value")
    sizes = out.get("sizes", {})
    if "min" in sizes and "max" in sizes and sizes["max"] < sizes["min"]:
        raise _fail(
            file, "sizes.max", f"{sizes['max']} is below sizes.min {sizes['min']}", "swap them"
        )
    weights = [k for k in ("min_weight", "max_weight") if k in sizes]
    if weights and "by" not in sizes:
        raise _fail(
            file,
            f"sizes.{weights[0]}",
            "needs sizes.by",
            'name the column to sum, e.g. by = "pupils"',
        )
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; relative data paths are resolved against it."""
    path = Path(path)
    tables = _validate(_read(path), str(path))
    data, sizes, solver, goal = (
        tables.get(t, {}) for t in ("data", "sizes", "solver", "objective")
    )

    def resolve(p: str | None) -> str | None:
        if p is None:
            return None
        q = Path(p).expanduser()
        return str(q if q.is_absolute() else (path.parent / q))

    default = SizeRule()
    rule = SizeRule(
        min_size=sizes.get("min", default.min_size),
        max_size=sizes.get("max", default.max_size),
        n_clusters=sizes.get("clusters"),
        target_size=sizes.get("target"),
        size_by=sizes.get("by"),
        min_weight=sizes.get("min_weight"),
        max_weight=sizes.get("max_weight"),
        quotas=tuple(tables["quota"]),
    )
    return Scenario(
        centres=resolve(data.get("centres")),
        distances=resolve(data.get("distances")),
        columns=dict(data.get("columns", {})),
        crs=None if data.get("crs") is None else str(data["crs"]),
        include_closed=bool(data.get("include_closed", False)),
        sizes=rule,
        weights=Weights(
            travel=float(goal.get("travel", 1.0)),
            contrast={k: float(v) for k, v in goal.get("contrast", {}).items()},
        ),
        time_limit=float(solver.get("time_limit", 20.0)),
        seed=int(solver.get("seed", 0)),
        workers=int(solver.get("workers", 2)),
        gap_target=float(solver.get("gap_target", 1e-4)),
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def scenario_to_toml(scenario: Scenario, *, relative_to: str | Path | None = None) -> str:
    """The scenario as TOML that :func:`load_scenario` reads back to the same scenario.

    With ``relative_to`` (the folder the file will be saved in), data paths are
    written relative to it, so the folder can be moved or shared with the data.
    """
    rule = scenario.sizes

    def where(p: str | None) -> str | None:
        if p is None or relative_to is None:
            return p
        try:
            return os.path.relpath(Path(p).resolve(), Path(relative_to).resolve())
        except ValueError:  # another drive on Windows
            return str(Path(p).resolve())

    lines = ["# Written by clustering; `clustering form --scenario THIS_FILE` repeats the run.", ""]
    data = {
        "centres": where(scenario.centres),
        "distances": where(scenario.distances),
        "crs": scenario.crs,
        "include_closed": scenario.include_closed,
    }
    lines.append("[data]")
    lines += [f"{k} = {_toml_value(v)}" for k, v in data.items() if v is not None]
    if scenario.columns:
        lines += ["", "[data.columns]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in scenario.columns.items()]
    sizes = {
        "min": rule.min_size,
        "max": rule.max_size,
        "clusters": rule.n_clusters,
        "target": rule.target_size,
        "by": rule.size_by,
        "min_weight": rule.min_weight,
        "max_weight": rule.max_weight,
    }
    lines += ["", "[sizes]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in sizes.items() if v is not None]
    for quota in rule.quotas:
        lines += ["", "[[quota]]", f"column = {_toml_value(quota.column)}"]
        lines += [f"value = {_toml_value(quota.value)}", f"min = {quota.min}"]
        if quota.max is not None:
            lines.append(f"max = {quota.max}")
    lines += ["", "[objective]", f"travel = {_toml_value(scenario.weights.travel)}"]
    if scenario.weights.contrast:
        lines += ["", "[objective.contrast]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in scenario.weights.contrast.items()]
    solver = {
        "time_limit": scenario.time_limit,
        "seed": scenario.seed,
        "workers": scenario.workers,
        "gap_target": scenario.gap_target,
    }
    lines += ["", "[solver]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in solver.items()]
    return "\n".join(lines) + "\n"


def scenario_centres(scenario: Scenario) -> Centres:
    """Load the centres the scenario names, with its column mapping and CRS."""
    if scenario.centres is None:
        raise InputError(
            "the scenario names no centres file", fix='add centres = "FILE" under [data]'
        )
    return load_centres(
        scenario.centres,
        columns=scenario.columns or None,
        crs=scenario.crs,
        include_closed=scenario.include_closed,
    )


def run_scenario(
    scenario: Scenario,
    *,
    centres: Centres | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Layout:
    """Form clusters as the scenario says (loading its centres unless they are given)."""
    return form_clusters(
        centres if centres is not None else scenario_centres(scenario),
        scenario.sizes,
        distances=scenario.distances,
        weights=scenario.weights,
        time_limit=scenario.time_limit,
        seed=scenario.seed,
        workers=scenario.workers,
        gap_target=scenario.gap_target,
        progress=progress,
    )
