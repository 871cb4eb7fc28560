"""``clustering plan``: a layout folder → coordinators, hosts, dates, pairs and paperwork."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from rich.console import Console

from ..api.layouts import read_layout
from ..api.provenance import versions
from ..errors import InputError
from ..input.files import norm_id
from ..input.textfile import read_csv_text
from ..output.folder import check_folder
from ..output.plan import write_plan
from ..plan import PlanSettings, plan_network, read_plan_settings

__all__ = ["register", "run"]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand to ``sub``."""
    p = sub.add_parser(
        "plan",
        help="turn a layout into a working network: roles, meeting hosts and dates, pairs",
        description=(
            "Read the folder `clustering form --out` wrote and plan the network's year: a "
            "coordinator, deputy and lead school per cluster; hosts for each meeting, shared "
            "among members; dates (CP-SAT) when the most members are open, by term dates and "
            "public holidays; pairs and mentoring; contact sheets, invitations, a plan and an "
            "annual monitoring report; one .ics calendar per cluster. Settings come from the "
            "[plan] table of --scenario (docs/plan.md) and the options below."
        ),
    )
    p.add_argument(
        "layout_dir",
        type=Path,
        metavar="LAYOUT_DIR",
        help="the --out folder of a `clustering form` run",
    )
    p.add_argument("--scenario", type=Path, help="a TOML file with a [plan] table")
    p.add_argument("--out", type=Path, help="where to write (default LAYOUT_DIR/plan)")
    p.add_argument("--meetings", type=int, help="meetings per cluster (default 2)")
    p.add_argument("--start", type=_date, help="first day to plan (YYYY-MM-DD)")
    p.add_argument("--end", type=_date, help="last day to plan (YYYY-MM-DD)")
    p.add_argument("--weekdays", help="comma-separated, e.g. tue,wed,thu (the default)")
    p.add_argument("--time", help='start time, "HH:MM" (default 16:00)')
    p.add_argument("--calendar", type=Path, help="term dates CSV (docs/plan.md)")
    p.add_argument("--country", help="public holidays: ISO country code (default GB)")
    p.add_argument("--region", help="public holidays: region code (default ENG)")
    p.add_argument(
        "--pairing",
        choices=["within", "across", "partners", "none"],
        help="default within; partners needs --partners",
    )
    p.add_argument(
        "--partners",
        type=Path,
        help="CSV of external partner schools: partner_id,name[,cluster,phase,…]",
    )
    p.add_argument(
        "--leads",
        type=Path,
        help="CSV cluster,person: who leads each cluster (one person's clusters "
        "never meet on the same day)",
    )
    p.add_argument("--templates", type=Path, help="a folder of edited templates")
    p.add_argument("--time-limit", type=float, help="seconds for the date scheduler")
    p.set_defaults(run=run)


def _leads(path: Path) -> dict[int, str]:
    frame = read_csv_text(path, what="leads")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if not {"cluster", "person"} <= set(frame.columns):
        raise InputError(
            "the leads file needs the columns cluster and person",
            file=str(path),
            fix="write a header cluster,person and one cluster a row",
        )
    out = {}
    for k, rec in enumerate(frame.to_dict("records")):
        try:
            out[int(norm_id(rec["cluster"]))] = str(rec["person"]).strip()
        except ValueError:
            raise InputError(
                f"cluster {rec['cluster']!r} is not a number",
                file=str(path),
                row=k + 2,
                column="cluster",
                fix="write the cluster's number",
            ) from None
    return out


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Plan the network and write its files."""
    settings = read_plan_settings(args.scenario) if args.scenario else PlanSettings()
    weekdays = tuple(d.strip() for d in args.weekdays.split(",")) if args.weekdays else None
    settings = settings.with_overrides(
        meetings=args.meetings,
        start=args.start,
        end=args.end,
        weekdays=weekdays,
        time=args.time,
        calendar=str(args.calendar) if args.calendar else None,
        country=args.country,
        region=args.region,
        pairing=args.pairing or ("partners" if args.partners else None),
        partners=str(args.partners) if args.partners else None,
        time_limit=args.time_limit,
    )
    if args.calendar is not None and not args.calendar.exists():
        raise InputError(
            "the term dates file does not exist",
            file=str(args.calendar),
            fix="give the path of a CSV applies_to,kind,start,end,label",
        )
    layout = read_layout(args.layout_dir)
    folder = args.out or args.layout_dir / "plan"
    check_folder(folder, "plan")  # before planning: a file, or a folder of other files
    leads = _leads(args.leads) if args.leads else None
    err.print(f"planning {layout.n_clusters} clusters of {len(layout.centres):,} schools …")
    plan = plan_network(layout, settings, leads=leads)
    moves = args.layout_dir / "moves.csv"
    previous = read_csv_text(moves, what="moves") if moves.exists() else None
    run_record = {
        "command": "clustering plan",
        "layout": str(args.layout_dir),
        "versions": versions(),
    }
    files = write_plan(
        plan, folder, templates=args.templates, previous_moves=previous, run=run_record
    )
    s = plan.stats
    start, end = settings.period()
    out.print(
        f"{plan.n_clusters} clusters, {len(plan.meetings)} meetings {start} – {end}: "
        f"{s['attendance']:,} of {s['attendance_of']:,} school places open "
        f"(best possible {s['attendance_best_possible']:,}, schedule {s['schedule_status']}); "
        f"{len(plan.absences):,} absences with reasons; {len(plan.pairs):,} pairs, "
        f"{len(plan.mentoring):,} mentoring links, {len(plan.unmatched):,} unmatched; "
        f"checker {s['checker']}"
    )
    for note in plan.notes:
        out.print(f"  note: {note}")
    out.print(f"wrote {len(files)} files and folders to {folder}")
    return 0
