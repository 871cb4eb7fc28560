"""``clustering explain``: why a centre is in its cluster, read back from a run's folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import InputError
from ..input.files import norm_id
from ..input.textfile import read_csv_text
from .console import print_move

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``explain`` subcommand to ``sub``."""
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
    explain.set_defaults(run=run)


def _read_output(path: Path) -> pd.DataFrame:
    try:
        return read_csv_text(path)
    except InputError as exc:
        raise InputError(
            f"cannot read {path.name} ({exc.message})",
            file=str(path),
            fix="form the clusters again with `clustering form`",
        ) from None


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Print the centre's explanation (and its move, when re-forming)."""
    folder: Path = args.out_dir
    cid = str(args.centre_id).strip()  # shown as typed
    # ids compared as read back (norm_id): "=A1", stored as "'=A1" by write_csv, either way
    key = norm_id(cid)
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
    rows = table[table["centre_id"].map(norm_id) == key]
    moves = folder / "moves.csv"
    moved = None
    if moves.exists():
        moved = _read_output(moves)
        moved = moved[moved["centre_id"].map(norm_id) == key] if "centre_id" in moved else None
    if rows.empty:
        assignments = folder / "assignments.csv"
        if assignments.exists():
            found = _read_output(assignments)
            if {"centre_id", "excluded_reason"} <= set(found.columns):
                found = found[found["centre_id"].map(norm_id) == key]
                if len(found) and found["excluded_reason"].iloc[0]:
                    name = found["name"].iloc[0] if "name" in found else ""
                    who = f"{name} ({cid})" if name else cid
                    why = found["excluded_reason"].iloc[0]
                    out.print(Text(f"{who} takes no part in the layout: {why}"))
                    print_move(moved, out)
                    return 0
        if moved is not None and len(moved):
            print_move(moved, out)
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
    print_move(moved, out)
    return 0
