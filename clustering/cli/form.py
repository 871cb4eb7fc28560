"""``clustering form``: form clusters and write the layout, tables, map and report."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from rich.console import Console

from ..analysis.quality import layout_quality
from ..api.form import run_scenario, stop_on_interrupt
from ..model.scenario import scenario_centres, scenario_to_toml
from ..output.export import write_outputs
from ..output.folder import check_folder
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
    """Form the clusters the scenario and flags ask for; write every file to ``--out``.

    The folder is written whole (scenario.toml too), replacing an earlier run's; one that
    holds other files is refused before solving.
    """
    scenario = scenario_from_args(args)
    source = scenario.centres
    out_dir = args.out or Path("out") / Path(source).stem
    check_folder(out_dir, "layout")  # before solving: a file, or a folder of other files
    centres = scenario_centres(scenario)
    if not args.quiet:
        err.print(
            f"Loaded {len(centres)} centres from {source} ({centres.schema} columns); "
            f"{len(centres.excluded)} excluded."
        )
        for note in centres.reading_notes():
            err.print(f"  {note}", markup=False, highlight=False)
    show = print_progress(err, quiet=args.quiet, metres=scenario.distances is None)
    # Ctrl-C once: stop and write the best checked layout so far; twice: write nothing
    note = "Stopping: the best layout so far is checked and written (Ctrl-C again: nothing)."
    with stop_on_interrupt(threading.Event(), lambda: err.print(note)) as stop:
        layout = run_scenario(scenario, centres=centres, progress=show, stop=stop)
    toml = scenario_to_toml(scenario, relative_to=out_dir)
    files = write_outputs(layout, out_dir, extra_files={"scenario.toml": toml})
    print_summary(layout, files, out)
    out.print(layout_quality(layout).line(), markup=False, highlight=False)
    return 0
