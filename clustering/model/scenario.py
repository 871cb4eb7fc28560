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

Constraints (``[constraints]``, ``[partnerships]``, ``[previous]``) and the
extra objective weights are described in ``docs/scenarios.md``. Files they
name are read when the scenario is loaded, so their errors surface at once.
"""

from __future__ import annotations

import copy
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from ..errors import InputError
from ..input.files import (
    EXCLUDED_BY_SCENARIO,
    read_exclusions,
    read_groups,
    read_pairs,
    read_previous,
)
from ..input.load import Centres, load_centres
from ..input.schemas import FIELDS
from ..input.textfile import read_text
from .objective import Weights
from .rules import Constraints
from .sizes import Quota, SizeRule

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "Scenario",
    "check_scenario",
    "load_scenario",
    "scenario_centres",
    "scenario_from_tables",
    "scenario_to_toml",
]


#: seconds a solve may take when nobody says: the same for the API, the CLI and scenario files
DEFAULT_TIME_LIMIT = 20.0


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
    #: the sheet of an Excel workbook, by name (default: the first that holds centres)
    sheet: str | None = None
    sizes: SizeRule = field(default_factory=SizeRule)
    weights: Weights = field(default_factory=Weights)
    time_limit: float = DEFAULT_TIME_LIMIT
    seed: int = 0
    workers: int = 2
    gap_target: float = 1e-4
    #: count budgets in solver work, not seconds: the same layout on any machine
    deterministic: bool = False
    #: measure each part of the objective against its own reference with solver runs
    #: (``None``: only when a part besides travel has weight; see
    #: :func:`clustering.analysis.quality.layout_quality`)
    quality: bool | None = None
    #: what the layout must respect: stated inline and read from files, merged
    constraints: Constraints = field(default_factory=Constraints)
    #: files the constraints were read from, resolved like ``centres``: keys
    #: ``must_link``, ``cannot_link``, ``exclude``, ``partnerships``, ``previous``
    constraint_files: Mapping[str, str] = field(default_factory=dict)
    #: what those files held (part of ``constraints``), so that only the rest is written inline
    from_files: Constraints = field(default_factory=Constraints, repr=False)

    def with_overrides(self, **changes: Any) -> Scenario:
        """A copy with the given fields changed; ``None`` values are ignored."""
        sizes = {k: v for k, v in changes.pop("sizes", {}).items() if v is not None}
        kept = {k: v for k, v in changes.items() if v is not None}
        if sizes:
            kept["sizes"] = replace(self.sizes, **sizes)
        return replace(self, **kept)

    def with_constraints(
        self, *, files: Mapping[str, str | None] | None = None, **changes: Any
    ) -> Scenario:
        """A copy with constraint settings changed (``None`` values are ignored).

        ``changes`` are fields of :class:`~clustering.model.rules.Constraints` (not the
        ones files provide); ``files`` maps ``must_link``, ``cannot_link``,
        ``exclude``, ``partnerships`` or ``previous`` to a file that is read now
        and replaces the one the scenario named (what was stated inline stays).
        """
        paths = {k: str(v) for k, v in (files or {}).items() if v is not None}
        unknown = set(paths) - set(_READERS)
        if unknown:
            raise ValueError(f"no constraint file {min(unknown)!r}; use one of {list(_READERS)}")
        inline = replace(_inline(self), **{k: v for k, v in changes.items() if v is not None})
        read = {key: _read_constraint_file(key, path) for key, path in paths.items()}
        from_files = replace(self.from_files, **read)
        return replace(
            self,
            constraints=_merge(inline, from_files),
            constraint_files={**self.constraint_files, **paths},
            from_files=from_files,
        )


# (key, type, check, description) per table; check returns an error text or None
def _positive(v):
    return None if v > 0 else "must be greater than 0"


def _at_least_one(v):
    return None if v >= 1 else "must be at least 1"


def _non_negative(v):
    return None if v >= 0 else "must be 0 or more"


def _fraction(v):
    return None if 0 <= v < 1 else "must be at least 0 and below 1"


def _text(v):
    return None if v.strip() else "must not be empty"


_TABLES: dict[str, dict[str, tuple[type | tuple[type, ...], Any]]] = {
    "data": {
        "centres": (str, None),
        "distances": (str, None),
        "crs": ((str, int), None),
        "include_closed": (bool, None),
        "sheet": (str, _text),
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
        "themes": (dict, None),
        "partnerships": ((int, float), _non_negative),
        "stability": ((int, float), _non_negative),
        "boundary": ((int, float), _non_negative),
    },
    "constraints": {
        "max_distance": ((int, float), _positive),
        "boundary": (str, _text),
        "cross_boundary": (bool, None),
        "coordinator": (str, _text),
        "consent": (str, _text),
        "only": (str, _text),
        "must_link": (list, None),
        "must_link_file": (str, _text),
        "cannot_link": (list, None),
        "cannot_link_file": (str, _text),
        "exclude": ((list, dict), None),
        "exclude_file": (str, _text),
    },
    "partnerships": {
        "file": (str, _text),
        "pairs": (list, None),
        "hard": (bool, None),
    },
    "previous": {
        "assignments": (str, _text),
        "lock_clusters": (list, None),
        "lock_centres": (list, None),
    },
    "solver": {
        "time_limit": ((int, float), _positive),
        "seed": (int, _non_negative),
        "workers": (int, _at_least_one),
        "gap_target": ((int, float), _fraction),
        "deterministic": (bool, None),
        "quality": (bool, None),
    },
}


_KIND_NAMES = {
    int: "a whole number",
    float: "a number",
    str: "text in quotes",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _fail(file: str, key: str, message: str, fix: str) -> InputError:
    return InputError(f"{key}: {message}", file=file, fix=fix)


def _read(path: Path) -> dict[str, Any]:
    text = read_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"not valid TOML ({exc})",
            file=str(path),
            fix="see docs/scenarios.md for the format",
        ) from exc


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
    raw.pop("plan", None)  # what `clustering plan` reads (clustering.plan.settings checks it)
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
    for part in ("contrast", "themes"):
        for attr, weight in out.get("objective", {}).get(part, {}).items():
            name = f"objective.{part}.{attr}"
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


def _id(file: str, key: str, value: Any, what: str = "a centre id") -> str:
    """A centre id (or cluster label) given as text or a whole number, as text."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not text:
        raise _fail(file, key, f"{value!r} is not {what}", 'write it in quotes, e.g. "115850"')
    return text


def _groups(file: str, key: str, value: list, *, size: int | None = None) -> tuple:
    """Inline groups (lists of ids) of a scenario key, each of two or more different ids."""
    example = '[["115850", "115851"]]'
    out = []
    for k, group in enumerate(value, start=1):
        name = f"{key} #{k}"
        if not isinstance(group, list):
            raise _fail(
                file, name, f"{group!r} is not a list of ids", f"write a list of lists: {example}"
            )
        ids = tuple(_id(file, name, v) for v in group)
        if size is not None and len(ids) != size:
            raise _fail(file, name, f"has {len(ids)} ids, not {size}", "give one pair per list")
        if len(set(ids)) < 2:
            raise _fail(
                file, name, "needs at least two different ids", "add ids or delete the group"
            )
        out.append(ids)
    return tuple(out)


def _exclusions(file: str, key: str, value: list | dict) -> dict[str, str]:
    if isinstance(value, list):
        return {_id(file, key, v): EXCLUDED_BY_SCENARIO for v in value}
    out = {}
    for cid, reason in value.items():
        if not isinstance(reason, str) or not reason.strip():
            raise _fail(
                file,
                f"{key}.{cid}",
                f"{reason!r} is not a reason",
                'give it as text, e.g. "closing"',
            )
        out[_id(file, key, cid)] = reason.strip()
    return out


#: the key of a scenario that names each constraint file
_FILE_KEYS = {
    "must_link": "constraints.must_link_file",
    "cannot_link": "constraints.cannot_link_file",
    "exclude": "constraints.exclude_file",
    "partnerships": "partnerships.file",
    "previous": "previous.assignments",
}


def _stated_constraints(tables: dict[str, Any], file: str) -> tuple[Constraints, dict[str, str]]:
    """What the scenario states inline, and the files it names (by Constraints field)."""
    cons, partners, previous = (
        tables.get(t, {}) for t in ("constraints", "partnerships", "previous")
    )
    inline = Constraints(
        must_link=_groups(file, "constraints.must_link", cons.get("must_link", [])),
        cannot_link=_groups(file, "constraints.cannot_link", cons.get("cannot_link", [])),
        partnerships=_groups(file, "partnerships.pairs", partners.get("pairs", []), size=2),
        partnerships_hard=partners.get("hard", False),
        coordinator=cons.get("coordinator"),
        max_distance=None if "max_distance" not in cons else float(cons["max_distance"]),
        boundary=cons.get("boundary"),
        cross_boundary=cons.get("cross_boundary", False),
        exclude=_exclusions(file, "constraints.exclude", cons.get("exclude", [])),
        consent=cons.get("consent"),
        only=cons.get("only"),
        lock_centres=tuple(
            _id(file, "previous.lock_centres", v) for v in previous.get("lock_centres", [])
        ),
        lock_clusters=tuple(
            _id(file, "previous.lock_clusters", v, "a cluster label")
            for v in previous.get("lock_clusters", [])
        ),
        source=file,
    )
    files = {}
    for field_name, key in _FILE_KEYS.items():
        table, name = key.split(".")
        if name in tables.get(table, {}):
            files[field_name] = tables[table][name]
    return inline, files


_READERS: dict[str, Callable[[str], Any]] = {
    "must_link": read_groups,
    "cannot_link": read_groups,
    "exclude": read_exclusions,
    "partnerships": read_pairs,
    "previous": read_previous,
}


def _read_constraint_file(key: str, path: str, named_by: str | None = None) -> Any:
    """Read one constraint file; its errors name the file, row and column (and the key)."""
    try:
        return _READERS[key](path)
    except InputError as exc:
        if named_by is None:
            raise
        raise InputError(
            f"{exc.message} (named by {named_by})",
            file=exc.file,
            row=exc.row,
            column=exc.column,
            fix=exc.fix,
        ) from None
    except (OSError, ValueError) as exc:  # a folder, an empty file, …
        raise InputError(
            f"cannot read it ({exc})",
            file=path,
            fix="give a CSV file" + (f" ({named_by})" if named_by else ""),
        ) from None


def _merge(inline: Constraints, read: Constraints) -> Constraints:
    """What the files held, then what was stated inline (identical groups once)."""

    def union(a, b):
        return tuple(dict.fromkeys((*a, *b)))

    return replace(
        inline,
        must_link=union(read.must_link, inline.must_link),
        cannot_link=union(read.cannot_link, inline.cannot_link),
        partnerships=union(read.partnerships, inline.partnerships),
        exclude={**inline.exclude, **read.exclude},
        previous=inline.previous if read.previous is None else read.previous,
    )


def _inline(scenario: Scenario) -> Constraints:
    """The part of the scenario's constraints that no file provides."""
    c, f = scenario.constraints, scenario.from_files

    def rest(items, read):
        read = set(read)
        return tuple(x for x in items if x not in read)

    return replace(
        c,
        must_link=rest(c.must_link, f.must_link),
        cannot_link=rest(c.cannot_link, f.cannot_link),
        partnerships=rest(c.partnerships, f.partnerships),
        exclude={k: v for k, v in c.exclude.items() if f.exclude.get(k) != v},
        previous=None if f.previous is not None else c.previous,
    )


def check_scenario(scenario: Scenario, file: str = "<scenario>") -> None:
    """Settings that only make sense together: raise naming the key and the fix."""
    c, w = scenario.constraints, scenario.weights
    if c.cross_boundary and c.boundary is None:
        raise _fail(
            file,
            "constraints.cross_boundary",
            "needs constraints.boundary",
            'name the boundary column: boundary = "district" (--boundary district)',
        )
    if w.boundary > 0 and not c.cross_boundary:
        raise _fail(
            file,
            "objective.boundary",
            f"{w.boundary:g} per member across the boundary needs cross_boundary = true",
            "set cross_boundary = true under [constraints] (--cross-boundary), "
            "or remove the weight to keep clusters inside the boundary",
        )
    has_pairs = bool(c.partnerships) or "partnerships" in scenario.constraint_files
    if w.partnerships > 0 and not has_pairs:
        raise _fail(
            file,
            "objective.partnerships",
            f"{w.partnerships:g} per partnership split needs the partnerships",
            'give file = "partnerships.csv" under [partnerships] (--partnerships FILE), '
            "or remove the weight",
        )
    if c.partnerships_hard and not has_pairs:
        raise _fail(
            file,
            "partnerships.hard",
            "needs the partnerships",
            'give file = "partnerships.csv" under [partnerships] (--partnerships FILE)',
        )
    fix = 'give assignments = "PREVIOUS/assignments.csv" under [previous] (--previous FILE)'
    prev = c.previous
    if prev is None:
        if w.stability > 0:
            raise _fail(
                file,
                "objective.stability",
                f"{w.stability:g} per member moved needs the previous layout",
                fix + ", or remove the weight",
            )
        for key in ("lock_clusters", "lock_centres"):
            if getattr(c, key):
                raise _fail(file, f"previous.{key}", "needs the previous layout", fix)
        return
    labels = sorted(set(prev.cluster.values()), key=lambda x: (len(x), x))
    for label in c.lock_clusters:
        if label not in labels:
            shown = ", ".join(labels[:8]) + (", …" if len(labels) > 8 else "")
            raise _fail(
                file,
                "previous.lock_clusters",
                f"cluster {label!r} is not in the previous layout {prev.source}",
                f"use one of its clusters: {shown}",
            )
    for cid in c.lock_centres:
        if cid not in prev.cluster:
            raise _fail(
                file,
                "previous.lock_centres",
                f"centre {cid!r} has no cluster in the previous layout {prev.source}",
                "lock only centres that had a cluster before",
            )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; relative data paths are resolved against it."""
    path = Path(path)
    return scenario_from_tables(_read(path), file=str(path), folder=path.parent)


def scenario_from_tables(tables: Mapping[str, Any], *, file: str, folder: str | Path) -> Scenario:
    """A scenario from tables as :mod:`tomllib` reads a scenario file, validated.

    What :func:`load_scenario` does after reading the file; also for scenarios held
    inline in another file (a sweep grid's ``[scenario]`` table).

    Parameters
    ----------
    tables
        The scenario's tables (``data``, ``sizes``, ``objective``, ``quota``, …); not changed.
    file
        How errors name where the tables come from, e.g. ``"grid.toml [scenario]"``.
    folder
        The folder relative paths (data, constraint files) are resolved against.

    Returns
    -------
    Scenario
        The validated scenario; errors are :class:`~clustering.errors.InputError` naming
        ``file`` and the key, as for a scenario file.
    """
    tables = _validate(copy.deepcopy(dict(tables)), file)
    data, sizes, solver, goal = (
        tables.get(t, {}) for t in ("data", "sizes", "solver", "objective")
    )
    inline, named = _stated_constraints(tables, file)

    def resolve(p: str | None) -> str | None:
        if p is None:
            return None
        q = Path(p).expanduser()
        return str(q if q.is_absolute() else (Path(folder) / q))

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
    scenario = Scenario(
        centres=resolve(data.get("centres")),
        distances=resolve(data.get("distances")),
        columns=dict(data.get("columns", {})),
        crs=None if data.get("crs") is None else str(data["crs"]),
        include_closed=bool(data.get("include_closed", False)),
        sheet=data.get("sheet"),
        sizes=rule,
        weights=Weights(
            travel=float(goal.get("travel", 1.0)),
            contrast={k: float(v) for k, v in goal.get("contrast", {}).items()},
            themes={k: float(v) for k, v in goal.get("themes", {}).items()},
            partnerships=float(goal.get("partnerships", 0.0)),
            stability=float(goal.get("stability", 0.0)),
            boundary=float(goal.get("boundary", 0.0)),
        ),
        time_limit=float(solver.get("time_limit", 20.0)),
        seed=int(solver.get("seed", 0)),
        workers=int(solver.get("workers", 2)),
        gap_target=float(solver.get("gap_target", 1e-4)),
        deterministic=bool(solver.get("deterministic", False)),
        quality=solver.get("quality"),
    )
    files = {key: resolve(p) for key, p in named.items()}
    read = {
        key: _read_constraint_file(key, p, f"{_FILE_KEYS[key]} in {file}")
        for key, p in files.items()
    }
    from_files = replace(Constraints(), **read)
    scenario = replace(
        scenario,
        constraints=_merge(inline, from_files),
        constraint_files=files,
        from_files=from_files,
    )
    check_scenario(scenario, file)
    return scenario


def _plain(value: Any) -> Any:
    """``value`` as the plain Python types TOML writes: numpy scalars unwrapped,
    tuples and sets as lists, paths as text, ``None`` dropped from tables and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value if v is not None]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


#: the first lines of every scenario file this toolkit writes
HEADER = "# Written by clustering; `clustering form --scenario THIS_FILE` repeats the run."


def scenario_to_toml(scenario: Scenario, *, relative_to: str | Path | None = None) -> str:
    """The scenario as TOML that :func:`load_scenario` reads back to the same scenario.

    With ``relative_to`` (the folder the file will be saved in), data paths are
    written relative to it, so the folder can be moved or shared with the data.
    Values are written by ``tomli_w`` after conversion to plain Python (numpy
    numbers as ``int``/``float``), below a comment saying where the file came from.
    """
    rule = scenario.sizes

    def where(p: str | Path | None) -> str | None:
        if p is None or relative_to is None:
            return None if p is None else str(p)
        try:
            return os.path.relpath(Path(p).resolve(), Path(relative_to).resolve())
        except ValueError:  # another drive on Windows
            return str(Path(p).resolve())

    w = scenario.weights
    doc: dict[str, Any] = {
        "data": {
            "centres": where(scenario.centres),
            "distances": where(scenario.distances),
            "crs": scenario.crs,
            "include_closed": scenario.include_closed,
            "sheet": scenario.sheet,
            "columns": dict(scenario.columns) or None,
        },
        "sizes": {
            "min": rule.min_size,
            "max": rule.max_size,
            "clusters": rule.n_clusters,
            "target": rule.target_size,
            "by": rule.size_by,
            "min_weight": rule.min_weight,
            "max_weight": rule.max_weight,
        },
        "quota": [
            {"column": q.column, "value": q.value, "min": q.min, "max": q.max} for q in rule.quotas
        ]
        or None,
        # what load_scenario reads as floats is written as floats, so a second write matches
        "objective": {
            "travel": float(w.travel),
            **{k: float(getattr(w, k)) or None for k in ("partnerships", "stability", "boundary")},
            "contrast": {k: float(v) for k, v in w.contrast.items()} or None,
            "themes": {k: float(v) for k, v in w.themes.items()} or None,
        },
        **_constraint_tables(scenario, where),
        "solver": {
            "time_limit": float(scenario.time_limit),
            "seed": int(scenario.seed),
            "workers": int(scenario.workers),
            "gap_target": float(scenario.gap_target),
            "deterministic": bool(scenario.deterministic),
            "quality": scenario.quality,
        },
    }
    header = [HEADER]
    if _inline(scenario).previous is not None:
        header.append("# the previous layout was given in Python, not as a file: not written")
    body = tomli_w.dumps({k: v for k, v in _plain(doc).items() if v not in ({}, [])})
    return "\n".join(header) + "\n\n" + body


def _constraint_tables(scenario: Scenario, where: Callable[[str | None], str | None]) -> dict:
    """``[constraints]``, ``[partnerships]`` and ``[previous]``: files by name, the rest inline."""
    c, inline, files = scenario.constraints, _inline(scenario), scenario.constraint_files
    exclude: list | dict | None = None
    if inline.exclude:
        default = all(r == EXCLUDED_BY_SCENARIO for r in inline.exclude.values())
        exclude = list(inline.exclude) if default else dict(inline.exclude)
    return {
        "constraints": {
            "max_distance": None if c.max_distance is None else float(c.max_distance),
            "boundary": c.boundary,
            "cross_boundary": c.cross_boundary or None,
            "coordinator": c.coordinator,
            "consent": c.consent,
            "only": c.only,
            "must_link": list(inline.must_link) or None,
            "must_link_file": where(files.get("must_link")),
            "cannot_link": list(inline.cannot_link) or None,
            "cannot_link_file": where(files.get("cannot_link")),
            "exclude": exclude,
            "exclude_file": where(files.get("exclude")),
        },
        "partnerships": {
            "file": where(files.get("partnerships")),
            "pairs": list(inline.partnerships) or None,
            "hard": c.partnerships_hard or None,
        },
        "previous": {
            "assignments": where(files.get("previous")),
            "lock_clusters": list(c.lock_clusters) or None,
            "lock_centres": list(c.lock_centres) or None,
        },
    }


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
        sheet=scenario.sheet,
    )
