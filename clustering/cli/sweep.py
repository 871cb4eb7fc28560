"""``clustering sweep GRID.toml``: every task of a grid, one row each in ``results.csv``.

Progress (one line per finished task, then a summary) goes to standard error; user errors
(a bad grid, an unreachable scheduler) to one line and exit status 2, as for ``form``.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..api.sweep import read_grid, sweep
from ..errors import InputError

__all__ = ["add_parser", "register", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to the subparsers of ``clustering``."""
    parser = sub.add_parser(
        "sweep",
        help="run a grid of settings (weights, sizes, seeds, areas) and tabulate the results",
        description=(
            "Form one layout per task of a grid file (a base scenario and the values to vary, "
            "see docs/sweeps.md), check each, and write results.csv (one row per task, written "
            "as tasks finish) and layouts/<task id>.csv. Run it again with the same --out to "
            "resume: tasks already in results.csv are skipped."
        ),
    )
    parser.add_argument("grid", type=Path, metavar="GRID.toml", help="the grid file")
    parser.add_argument("--out", type=Path, help="output folder (default: out/<grid name>)")
    parser.add_argument(
        "--workers",
        type=int,
        help="local processes running tasks at once (default: cores / CP-SAT workers per "
        "task); 0 runs them one by one in this process",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the tasks on a Dask distributed scheduler, e.g. tcp://HOST:8786",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="run again the tasks whose row says failed"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    return parser


def register(sub: Any) -> None:
    """Add ``clustering sweep``, run by :func:`run`."""
    add_parser(sub).set_defaults(run=run)


def _stop_on_term(signum, frame) -> None:  # pragma: no cover - signal handler
    raise KeyboardInterrupt


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Run ``clustering sweep``; errors are raised for :func:`clustering.cli.main` to print."""
    if args.workers is not None and args.workers < 0:
        raise InputError(f"--workers {args.workers} is not allowed", fix="give 0 or more")
    grid = read_grid(args.grid)
    out_dir = args.out or Path("out") / args.grid.stem
    t0 = time.perf_counter()
    counts: dict[str, int] = {}

    def what(row: dict) -> str:
        """The values of the axes the grid varies."""
        parts = [f"{row['area_column']} = {row['area']}"] if grid.area_column else []
        if grid.sizes:
            parts.append(f"sizes {row['min_size']}–{row['max_size']}")
        parts += [f"{a} {row[f'contrast_{a}']:g}" for a in grid.contrast]
        if grid.seeds:
            parts.append(f"seed {row['seed']}")
        return ", ".join(parts)

    def show(row: dict, done: int, total: int) -> None:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        if args.quiet:
            return
        line = f"[{done}/{total}] {row['task_id']} {row['status']:<10}"
        if row["status"] == "ok":
            line += f" objective {row['objective']:,.1f}  gap {100 * row['gap']:.2f} %"
        line += f"  {row.get('seconds', 0):.1f} s  ({what(row)})"
        if row["status"] != "ok":
            line += f"  {row['reason'][:160]}"
        err.print(escape(line), highlight=False, soft_wrap=True)

    if not args.quiet:
        where = f"on {args.scheduler}" if args.scheduler else "here"
        n = len(grid.tasks())
        err.print(f"Sweep {escape(str(args.grid))}: {n} tasks, {where}; writing to {out_dir}")
    previous = signal.signal(signal.SIGTERM, _stop_on_term)
    try:
        table = sweep(
            grid,
            out_dir,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=show,
            retry_failed=args.retry_failed,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    ran = sum(counts.values())
    by_status = table["status"].value_counts()
    summary = ", ".join(f"{int(n)} {s}" for s, n in by_status.items())
    out.print(
        f"{len(table)} tasks ({summary}); ran {ran} now in {time.perf_counter() - t0:.1f} s, "
        f"{len(table) - ran} were already done. Results: {escape(str(out_dir / 'results.csv'))}, "
        f"layouts in {escape(str(out_dir / 'layouts'))}/",
        highlight=False,
        soft_wrap=True,
    )
    return 0 if (by_status.drop(["ok", "infeasible"], errors="ignore").sum() == 0) else 1
