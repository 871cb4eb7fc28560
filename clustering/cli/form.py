"""``clustering form``: form clusters and write the layout, tables, map and report."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ..api.form import run_scenario
from ..errors import InputError
from ..model.scenario import scenario_centres, scenario_to_toml
from ..output.export import write_outputs
from .console import print_progress, print_summary
from .options import add_scenario_options, scenario_from_args

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``form`` subcommand to ``sub``."""
    form = sub.add_parser(
        "form",
        help="form clusters from a file of centres and write the layout, tables, map and report",
        description=(
            "Form clusters that meet at a member school (the venue), minimising the total "
            "travel of members to their venue, within size bounds."
        ),
    )
    add_scenario_options(form)
    form.add_argument("--out", type=Path, help="output folder (default: out/<input name>)")
    form.add_argument("--quiet", action="store_true", help="print only the summary")
    form.set_defaults(run=run)


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Form the clusters the scenario and flags ask for; write every file to ``--out``."""
    scenario = scenario_from_args(args)
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
    show = print_progress(err, quiet=args.quiet, metres=scenario.distances is None)
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
    print_summary(layout, files, out)
    return 0
