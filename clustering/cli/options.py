"""The flags that state a scenario on the command line, and the scenario they make.

:func:`add_scenario_options` adds them to a subcommand's parser (``form`` uses them;
any subcommand that runs scenarios can); :func:`scenario_from_args` reads the
scenario file, if one is given, and puts the flags on top.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..input.schemas import FIELDS
from ..model.objective import Weights
from ..model.scenario import DEFAULT_TIME_LIMIT, Scenario, check_scenario, load_scenario

__all__ = ["DEFAULT_INPUT", "add_scenario_options", "scenario_from_args"]

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
DEFAULT_INPUT = SAMPLE / "hampshire_primary_schools_2022.csv"


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """The centres file, ``--scenario`` and the size, objective, rule, data and solver flags."""
    parser.add_argument(
        "input",
        nargs="?",
        type=Path,
        help="centres: CSV (UTF-8 or cp1252), Excel, GeoJSON or GeoPackage; GIAS and Kentucky "
        "report-card columns are recognised (default: the bundled Hampshire sample)",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        help="a scenario TOML file (see docs/scenarios.md); flags given here override it",
    )
    size = parser.add_argument_group("cluster size")
    size.add_argument("--min-size", type=int, help="members per cluster, at least (default 8)")
    size.add_argument("--max-size", type=int, help="members per cluster, at most (default 12)")
    size.add_argument(
        "--clusters",
        type=int,
        help="a fixed number of clusters (default: centres / target size, within the bounds)",
    )
    size.add_argument("--target-size", type=float, help="size aimed at (default: mid-bounds)")
    size.add_argument("--size-by", help="a numeric column, e.g. pupils, to bound per cluster")
    size.add_argument("--min-weight", type=float, help="least total of --size-by per cluster")
    size.add_argument("--max-weight", type=float, help="most total of --size-by per cluster")
    size.add_argument(
        "--contrast",
        action="append",
        default=[],
        metavar="ATTRIBUTE=WEIGHT",
        help="mix clusters on an attribute (e.g. fsm_pct=2, urban_rural=10): km of travel "
        "one unit of deviation from the area's mix is worth",
    )
    goal = parser.add_argument_group("objective (km of travel per unit)")
    goal.add_argument(
        "--theme",
        action="append",
        default=[],
        metavar="COLUMN=WEIGHT",
        help="share a column's themes (values split by ; or |), e.g. diocese=2: "
        "per extra cluster a theme is spread over",
    )
    goal.add_argument("--partnership-weight", type=float, metavar="W", help="per partnership split")
    goal.add_argument(
        "--stability", type=float, metavar="W", help="per member leaving its previous cluster"
    )
    goal.add_argument(
        "--boundary-weight",
        type=float,
        metavar="W",
        help="per member meeting across the boundary (with --cross-boundary)",
    )
    rules = parser.add_argument_group("rules")
    rules.add_argument(
        "--max-distance",
        type=float,
        metavar="D",
        help="longest member → venue trip (km, or the matrix unit)",
    )
    rules.add_argument("--boundary", metavar="COLUMN", help="keep clusters inside, e.g. district")
    rules.add_argument(
        "--cross-boundary",
        action="store_true",
        default=None,
        help="let clusters cross --boundary, priced by --boundary-weight",
    )
    rules.add_argument(
        "--coordinator",
        metavar="RULE",
        help='who may coordinate: a yes/no column or e.g. "ofsted in Good, Outstanding"',
    )
    rules.add_argument(
        "--consent", metavar="COLUMN", help="a yes/no column; centres not marked yes are left out"
    )
    rules.add_argument(
        "--only",
        metavar="RULE",
        help='which rows take part, e.g. "type in Primary, Secondary"; the rest are excluded',
    )
    rules.add_argument(
        "--exclude",
        type=Path,
        metavar="FILE",
        help="CSV centre_id[,reason] of centres to leave out",
    )
    rules.add_argument(
        "--partnerships", type=Path, metavar="FILE", help="CSV of existing partnerships (id pairs)"
    )
    rules.add_argument(
        "--hard-partnerships",
        action="store_true",
        default=None,
        help="keep partnerships together (default: price splits by --partnership-weight)",
    )
    rules.add_argument(
        "--previous",
        type=Path,
        metavar="ASSIGNMENTS_CSV",
        help="assignments.csv of the layout being re-formed",
    )
    rules.add_argument(
        "--lock-cluster",
        action="append",
        default=[],
        metavar="LABEL",
        help="keep a previous cluster as it was (repeatable)",
    )
    rules.add_argument(
        "--lock-centre",
        action="append",
        default=[],
        metavar="ID",
        help="keep a centre in its previous cluster (repeatable)",
    )
    data = parser.add_argument_group("input data")
    data.add_argument(
        "--distances",
        type=Path,
        help="travel matrix CSV: from,to,minutes (or metres/seconds/km/cost) or a square matrix",
    )
    data.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help=f"map a field to a column of the file; fields: {', '.join(FIELDS[:8])}, …",
    )
    data.add_argument("--crs", help="CRS of x/y columns, e.g. EPSG:27700")
    data.add_argument(
        "--include-closed", action="store_true", default=None, help="keep closed centres"
    )
    data.add_argument("--sheet", help="the sheet of an Excel workbook (default: the first)")
    solve = parser.add_argument_group("solver")
    solve.add_argument(
        "--time-limit",
        type=float,
        help=f"seconds (default {DEFAULT_TIME_LIMIT:g}); the solve ends within max(2 s, 5 %%) "
        "of it with the best checked layout so far",
    )
    solve.add_argument("--seed", type=int, help="random seed (default 0)")
    solve.add_argument("--workers", type=int, help="CP-SAT workers (default 2)")
    solve.add_argument(
        "--deterministic",
        action="store_true",
        default=None,
        help="the same layout on any machine and load: one worker, --time-limit counted "
        "in solver work instead of seconds",
    )
    solve.add_argument(
        "--quality",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure each weighted part of the objective against the least value the engine "
        "reaches with that part alone (extra solver runs, half of --time-limit in all; "
        "default: only when a part besides travel has weight)",
    )


def _mapping(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InputError(
                f"--column {item!r} is not FIELD=COLUMN", fix="write e.g. --column id=URN"
            )
        out[field.strip()] = column.strip()
    return out


def _pairs(flag: str, items: list[str], base, example: str) -> dict[str, float]:
    out = dict(base)
    for item in items:
        attr, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not attr.strip() or not 0 <= weight < math.inf:
            name = "ATTRIBUTE" if flag == "--contrast" else "COLUMN"
            raise InputError(
                f"{flag} {item!r} is not {name}=WEIGHT with a weight of 0 or more",
                fix=f"write e.g. {flag} {example}",
            )
        out[attr.strip()] = weight
    return out


def _number(flag: str, value: float | None, *, positive: bool = False) -> float | None:
    if value is None:
        return None
    if not (value > 0 if positive else value >= 0) or not math.isfinite(value):
        least = "above 0" if positive else "0 or more"
        raise InputError(f"{flag} {value:g} is not allowed", fix=f"give a number {least}")
    return value


def _weights(base: Weights, args: argparse.Namespace) -> Weights | None:
    changes = {
        "partnerships": _number("--partnership-weight", args.partnership_weight),
        "stability": _number("--stability", args.stability),
        "boundary": _number("--boundary-weight", args.boundary_weight),
    }
    if args.contrast:
        changes["contrast"] = _pairs("--contrast", args.contrast, base.contrast, "fsm_pct=2")
    if args.theme:
        changes["themes"] = _pairs("--theme", args.theme, base.themes, "diocese=2")
    changes = {k: v for k, v in changes.items() if v is not None}
    return replace(base, **changes) if changes else None


def _with_rules(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """The scenario with the rule flags on top (files named by a flag are read now)."""
    base = scenario.constraints
    files = {"exclude": args.exclude, "partnerships": args.partnerships, "previous": args.previous}
    changes = {
        "max_distance": _number("--max-distance", args.max_distance, positive=True),
        "boundary": args.boundary,
        "cross_boundary": args.cross_boundary,
        "coordinator": args.coordinator,
        "consent": args.consent,
        "only": args.only,
        "partnerships_hard": args.hard_partnerships,
    }
    for flag, key, items in (
        ("--lock-cluster", "lock_clusters", args.lock_cluster),
        ("--lock-centre", "lock_centres", args.lock_centre),
    ):
        if any(not item.strip() for item in items):
            raise InputError(f"{flag} needs a value", fix=f"write e.g. {flag} 3")
        if items:
            changes[key] = tuple(dict.fromkeys([*getattr(base, key), *map(str.strip, items)]))
    for flag, key in (
        ("--boundary", "boundary"),
        ("--coordinator", "coordinator"),
        ("--only", "only"),
    ):
        if changes[key] is not None and not changes[key].strip():
            raise InputError(f"{flag} needs a value", fix=f"give {flag} a column name")
    if all(v is None for v in (*changes.values(), *files.values())):
        return scenario
    if not args.scenario:
        changes["source"] = "the command line"
    return scenario.with_constraints(files=files, **changes)


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """The scenario file (if any) with the command line's flags on top."""
    base = load_scenario(args.scenario) if args.scenario else Scenario()
    scenario = base.with_overrides(
        centres=None if args.input is None else str(args.input),
        distances=None if args.distances is None else str(args.distances),
        crs=args.crs,
        include_closed=args.include_closed,
        sheet=args.sheet,
        time_limit=args.time_limit,
        seed=args.seed,
        workers=args.workers,
        deterministic=args.deterministic,
        quality=getattr(args, "quality", None),
        columns={**base.columns, **_mapping(args.column)} if args.column else None,
        weights=_weights(base.weights, args),
        sizes={
            "min_size": args.min_size,
            "max_size": args.max_size,
            "n_clusters": args.clusters,
            "target_size": args.target_size,
            "size_by": args.size_by,
            "min_weight": args.min_weight,
            "max_weight": args.max_weight,
        },
    )
    if scenario.centres is None:
        if not DEFAULT_INPUT.exists():
            raise InputError(
                "no input given and the bundled sample is not here",
                fix="run `clustering form FILE` with your own file",
            )
        scenario = scenario.with_overrides(centres=str(DEFAULT_INPUT))
    scenario = _with_rules(scenario, args)
    check_scenario(scenario, str(args.scenario) if args.scenario else "the command line")
    return scenario
