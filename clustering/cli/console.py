"""What the command line prints: progress lines, the layout summary and sentences."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis.metrics import cluster_summary, distance_scale, overall_summary
from ..output.tables import number_text
from ..solver.progress import Progress

__all__ = ["consoles", "print_move", "print_progress", "print_summary"]


def consoles() -> tuple[Console, Console]:
    """Standard output (summaries) and standard error (progress, errors)."""
    return Console(), Console(stderr=True)


def print_progress(err: Console, *, quiet: bool, metres: bool) -> Callable[[Progress], None]:
    """A progress callback printing each better layout (and the last) to ``err``.

    Each area (``event.area``) is followed on its own: an area's objective is
    compared with that area's last one, not with the whole problem's.
    """
    factor, suffix = (0.001, " km") if metres else (1.0, "")
    last: dict[str | None, float] = {}

    def show(event: Progress) -> None:
        best = last.get(event.area, float("inf"))
        if quiet or (event.stage != "done" and event.objective >= best - 1e-9):
            return
        last[event.area] = event.objective
        gap = (event.objective - event.lower_bound) / event.objective if event.objective else 0
        err.print(
            f"{event.seconds:7.1f} s  {event.stage:<12} objective {event.objective * factor:,.1f}"
            f"{suffix}  bound {event.lower_bound * factor:,.1f}{suffix}  gap {100 * gap:.2f} %"
        )

    return show


def print_move(moved: pd.DataFrame | None, out: Console) -> None:
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


def print_summary(layout, files, out: Console) -> None:
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
        small.add_row(*[number_text(row[c]) for c in cols])
    out.print(small)
    folder = Path(next(iter(files.values()))).parent
    out.print(f"Wrote {len(files)} files to {folder}: " + ", ".join(p.name for p in files.values()))
