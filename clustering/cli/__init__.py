"""Command line: ``clustering form INPUT --out DIR``.

User errors (bad input, impossible settings) print one line and exit with
status 2, never a traceback. Progress goes to standard error, the summary to
standard output.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis.metrics import cluster_summary, distance_scale, overall_summary
from ..api.form import run_scenario
from ..errors import ClusteringError, InputError
from ..input.schemas import FIELDS
from ..model.objective import Weights
from ..model.scenario import (
    Scenario,
    check_scenario,
    load_scenario,
    scenario_centres,
    scenario_to_toml,
)
from ..output.export import write_outputs
from ..solver.progress import Progress
from . import sweep as sweep_cli

__all__ = ["main"]

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
DEFAULT_INPUT = SAMPLE / "hampshire_primary_schools_2022.csv"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clustering",
        description="Form compact clusters of schools, with a proven gap to the best possible.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    form = sub.add_parser(
        "form",
        help="form clusters from a file of centres and write the layout, tables, map and report",
        description=(
            "Form clusters that meet at a member school (the venue), minimising the total "
            "travel of members to their venue, within size bounds."
        ),
    )
    form.add_argument(
        "input",
        nargs="?",
        type=Path,
        help="centres: CSV (UTF-8 or cp1252), Excel, GeoJSON or GeoPackage; GIAS and Kentucky "
        "report-card columns are recognised (default: the bundled Hampshire sample)",
    )
    form.add_argument("--out", type=Path, help="output folder (default: out/<input name>)")
    form.add_argument(
        "--scenario",
        type=Path,
        help="a scenario TOML file (see docs/scenarios.md); flags given here override it",
    )
    size = form.add_argument_group("cluster size")
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
    goal = form.add_argument_group("objective (km of travel per unit)")
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
    rules = form.add_argument_group("rules")
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
    data = form.add_argument_group("input data")
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
    solve = form.add_argument_group("solver")
    solve.add_argument("--time-limit", type=float, help="seconds (default 20)")
    solve.add_argument("--seed", type=int, help="random seed (default 0)")
    solve.add_argument("--workers", type=int, help="CP-SAT workers (default 2)")
    form.add_argument("--quiet", action="store_true", help="print only the summary")
    explain = sub.add_parser(
        "explain",
        help="say why a centre is in its cluster and what moving it would cost",
        description=(
            "Print, for one centre, its row of OUT_DIR/explanations.csv (written by "
            "`clustering form`): its venue and how near it is, the rules that bind it, the "
            "cheapest alternative cluster and what it would cost; and, when the layout "
            "re-formed a previous one, whether and why it moved (moves.csv)."
        ),
    )
    explain.add_argument(
        "out_dir", type=Path, metavar="OUT_DIR", help="the --out folder of a `clustering form` run"
    )
    explain.add_argument(
        "centre_id", metavar="CENTRE_ID", help="the centre's id (as in assignments.csv)"
    )
    sweep_cli.add_parser(sub)
    return parser


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
    for flag, key in (("--boundary", "boundary"), ("--coordinator", "coordinator")):
        if changes[key] is not None and not changes[key].strip():
            raise InputError(f"{flag} needs a value", fix=f"give {flag} a column name")
    if all(v is None for v in (*changes.values(), *files.values())):
        return scenario
    if not args.scenario:
        changes["source"] = "the command line"
    return scenario.with_constraints(files=files, **changes)


def _scenario(args: argparse.Namespace) -> Scenario:
    """The scenario file (if any) with the command line's flags on top."""
    base = load_scenario(args.scenario) if args.scenario else Scenario()
    scenario = base.with_overrides(
        centres=None if args.input is None else str(args.input),
        distances=None if args.distances is None else str(args.distances),
        crs=args.crs,
        include_closed=args.include_closed,
        time_limit=args.time_limit,
        seed=args.seed,
        workers=args.workers,
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


def _form(args: argparse.Namespace, out: Console, err: Console) -> int:
    scenario = _scenario(args)
    source = scenario.centres
    out_dir = args.out or Path("out") / Path(source).stem
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            "the output folder is a file", file=str(out_dir), fix="choose another --out folder"
        )
    centres = scenario_centres(scenario)
    if not args.quiet:
        err.print(
            f"Loaded {len(centres)} centres from {source} ({centres.schema} columns); "
            f"{len(centres.excluded)} excluded."
        )
    factor, suffix = (0.001, " km") if scenario.distances is None else (1.0, "")
    last = [float("inf")]

    def show(event: Progress) -> None:
        if args.quiet or (event.stage != "done" and event.objective >= last[0] - 1e-9):
            return
        last[0] = event.objective
        gap = (event.objective - event.lower_bound) / event.objective if event.objective else 0
        err.print(
            f"{event.seconds:7.1f} s  {event.stage:<12} objective {event.objective * factor:,.1f}"
            f"{suffix}  bound {event.lower_bound * factor:,.1f}{suffix}  gap {100 * gap:.2f} %"
        )

    layout = run_scenario(scenario, centres=centres, progress=show)
    try:
        files = write_outputs(layout, out_dir)
    except OSError as exc:
        raise InputError(
            f"cannot write the outputs ({exc.strerror or exc})",
            file=str(out_dir),
            fix="choose another --out folder",
        ) from exc
    files["scenario"] = Path(out_dir) / "scenario.toml"
    files["scenario"].write_text(scenario_to_toml(scenario, relative_to=out_dir), encoding="utf-8")
    _print_summary(layout, files, out)
    return 0


def _read_output(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read {path.name} ({exc})",
            file=str(path),
            fix="form the clusters again with `clustering form`",
        ) from None


def _explain(args: argparse.Namespace, out: Console) -> int:
    folder: Path = args.out_dir
    cid = str(args.centre_id).strip()
    fix = "give the --out folder of a `clustering form` run"
    if not folder.exists():
        raise InputError("the folder does not exist", file=str(folder), fix=fix)
    if not folder.is_dir():
        raise InputError("this is a file, not an output folder", file=str(folder), fix=fix)
    path = folder / "explanations.csv"
    if not path.exists():
        raise InputError(
            "the folder has no explanations.csv",
            file=str(folder),
            fix="form the clusters with `clustering form ... --out` (this version writes it)",
        )
    table = _read_output(path)
    if "centre_id" not in table.columns:
        raise InputError("explanations.csv has no centre_id column", file=str(path), fix=fix)
    rows = table[table["centre_id"].str.strip() == cid]
    moves = folder / "moves.csv"
    moved = None
    if moves.exists():
        moved = _read_output(moves)
        moved = moved[moved["centre_id"].str.strip() == cid] if "centre_id" in moved else None
    if rows.empty:
        assignments = folder / "assignments.csv"
        if assignments.exists():
            found = _read_output(assignments)
            if {"centre_id", "excluded_reason"} <= set(found.columns):
                found = found[found["centre_id"].str.strip() == cid]
                if len(found) and found["excluded_reason"].iloc[0]:
                    name = found["name"].iloc[0] if "name" in found else ""
                    who = f"{name} ({cid})" if name else cid
                    why = found["excluded_reason"].iloc[0]
                    out.print(Text(f"{who} takes no part in the layout: {why}"))
                    _print_move(moved, out)
                    return 0
        if moved is not None and len(moved):
            _print_move(moved, out)
            return 0
        raise InputError(
            f"centre {cid!r} is not in explanations.csv",
            file=str(path),
            fix="use a centre_id from assignments.csv",
        )
    row = rows.iloc[0]
    name = row.get("name", "")
    grid = Table(title=Text(f"{name} ({cid})" if name else cid), show_header=False)
    grid.add_column("field", style="bold", no_wrap=True)
    grid.add_column("value")
    for column, value in row.items():
        if column in ("why", "centre_id", "name") or value == "":
            continue
        grid.add_row(Text(str(column).replace("_", " ")), Text(str(value)))
    out.print(grid)
    if row.get("why"):
        out.print(Text(str(row["why"])))
    _print_move(moved, out)
    return 0


def _print_move(moved: pd.DataFrame | None, out: Console) -> None:
    """The centre's row of moves.csv, in a sentence."""
    if moved is None or moved.empty:
        return
    row = moved.iloc[0]
    status = row.get("status", "")
    before, now = row.get("previous_cluster", ""), row.get("cluster", "")
    where = {
        "stayed": f"stayed in cluster {now}",
        "moved": f"moved from cluster {before} to cluster {now}",
        "joined": f"joined cluster {now} (new)",
        "left": f"left cluster {before}",
    }.get(status, status)
    reason = row.get("reason", "")
    out.print(Text(f"Re-forming: {where}" + (f": {reason}" if reason else "") + "."))


def _print_summary(layout, files, out: Console) -> None:
    head = overall_summary(layout)
    _, suffix = distance_scale(layout.unit)
    table = Table(title="Layout", show_header=False)
    table.add_row("centres clustered", str(head["n_centres"]))
    table.add_row("centres excluded", f"{head['n_excluded']} (listed in excluded.csv)")
    table.add_row(
        "clusters", f"{head['n_clusters']} of {head['size_min']}–{head['size_max']} members"
    )
    table.add_row(f"total travel to venue ({suffix})", f"{head[f'total_to_venue_{suffix}']:,.1f}")
    table.add_row(
        f"mean / worst ({suffix})",
        f"{head[f'mean_to_venue_{suffix}']:.2f} / {head[f'max_to_venue_{suffix}']:.2f}",
    )
    factor = 0.001 if layout.unit == "m" else 1.0
    parts = layout.stats.get("objective_parts", {})
    contrast = layout.params.get("weights", {}).get("contrast", {})
    for attr in contrast:
        if attr in parts:
            table.add_row(
                f"{attr} deviation (weight {contrast[attr]:g})",
                f"{parts[attr]:,.1f} ({parts[attr] / max(head['n_centres'], 1):.2f} per centre)",
            )
    if contrast:
        table.add_row("objective (weighted)", f"{layout.objective * factor:,.1f}")
    table.add_row(f"lower bound ({suffix})", f"{layout.lower_bound * factor:,.1f}")
    table.add_row("gap to the bound", f"{head['gap_pct']:.2f} % ({head['status']})")
    table.add_row("checker", str(layout.stats.get("checker", "not run")))
    table.add_row("time", f"{layout.stats.get('seconds', 0):.1f} s, seed {layout.params['seed']}")
    out.print(table)
    summary = cluster_summary(layout)
    names = {
        "cluster": "cluster",
        "venue_name": "venue",
        "size": "size",
        "pupils": "pupils",
        f"mean_to_venue_{suffix}": f"mean {suffix}",
        f"max_to_venue_{suffix}": f"worst {suffix}",
        "diameter_km": "across km",
    }
    cols = [c for c in names if c in summary.columns]
    small = Table(title="Clusters (first 10; all in clusters.csv)")
    for c in cols:
        if c == "venue_name":
            small.add_column(names[c], no_wrap=True, max_width=26, overflow="ellipsis")
        else:
            small.add_column(names[c], justify="right", no_wrap=True)
    for _, row in summary.head(10).iterrows():
        small.add_row(*[_fmt(row[c]) for c in cols])
    out.print(small)
    folder = Path(next(iter(files.values()))).parent
    out.print(f"Wrote {len(files)} files to {folder}: " + ", ".join(p.name for p in files.values()))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value == value else ""
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    out = Console()
    err = Console(stderr=True)
    try:
        if args.command == "form":
            return _form(args, out, err)
        if args.command == "explain":
            return _explain(args, out)
        if args.command == "sweep":
            return sweep_cli.run(args, out, err)
    except ClusteringError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
