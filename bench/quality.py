"""The full model's quality per term on the bundled scenarios with contrast weights.

    python bench/quality.py [--out bench/results/quality] [--workers 1]
                            [--scenario NAME ...] [--time-limit SECONDS]

Each scenario of ``data/sample`` that weights more than travel (``hampshire_mixed``,
``hampshire_full``, ``hampshire_reform``, ``kentucky_full``) is formed as the command
line does (``clustering.run_scenario``: solve, checker, baselines, then
``clustering.layout_quality`` with its best-found reference runs: half the time limit for
all of them). For every weighted part it records the value, the proven bound, the best
value the engine found with that part alone, the room left, and per scenario the engine's
whole-objective gap beside the gap to the per-part bound. Outputs:

* ``DIR/terms.csv``: one row per scenario and part;
* ``DIR/summary.csv``: one row per scenario;
* ``DIR/run.json``: command, time, commit, machine, load and versions (one entry per run,
  appended; ``bench/report.py`` renders the last).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if str(REPO_ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "bench"))

from _common import jsonable  # noqa: E402

SCENARIOS = ("hampshire_mixed", "hampshire_full", "hampshire_reform", "kentucky_full")

TERM_COLUMNS = [
    "scenario",
    "term",
    "kind",
    "unit",
    "weight",
    "value",
    "bound",
    "bound_source",
    "best_found",
    "best_found_source",
    "reference_kind",
    "room",
    "room_pct",
    "weighted_room",
    "most_room",
]
SUMMARY_COLUMNS = [
    "scenario",
    "centres",
    "clusters",
    "time_limit",
    "objective",
    "engine_bound",
    "engine_gap_pct",
    "separable_bound",
    "priced_bound",
    "priced_iterations",
    "bound",
    "gap_pct",
    "most_room",
    "references",
    "reference_budget_seconds",
    "quality_seconds",
    "solve_seconds",
    "baseline_seconds",
    "whole_seconds",
    "checker",
]


def _git() -> dict[str, str]:
    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_engine_changes": git("status", "--porcelain", "--", "clustering"),
    }


def _round(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "quality")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-limit", type=float, help="override the scenarios' own")
    args = parser.parse_args(argv)
    names = args.scenario or list(SCENARIOS)

    import clustering

    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    git = _git()  # before the runs: the engine they import
    terms: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    settings: dict[str, Any] = {}
    for name in names:
        scenario = clustering.load_scenario(REPO_ROOT / "data" / "sample" / f"{name}.toml")
        scenario = scenario.with_overrides(workers=args.workers, time_limit=args.time_limit)
        t = time.perf_counter()
        layout = clustering.run_scenario(scenario)
        whole = time.perf_counter() - t
        quality = clustering.layout_quality(layout)
        best = quality.most_room
        for row in quality.terms:
            d = row.to_dict()
            terms.append(
                {
                    "scenario": name,
                    **{k: _round(d[k]) for k in TERM_COLUMNS[1:-1]},
                    "most_room": best is not None and row.name == best.name,
                }
            )
        st = layout.stats
        summary.append(
            {
                "scenario": name,
                "centres": len(layout.centres),
                "clusters": layout.n_clusters,
                "time_limit": scenario.time_limit,
                "objective": _round(quality.objective),
                "engine_bound": _round(quality.engine_bound),
                "engine_gap_pct": _round(100 * layout.gap),
                "separable_bound": _round(quality.separable_bound),
                "priced_bound": _round(quality.priced_bound),
                "priced_iterations": quality.priced.get("iterations"),
                "bound": _round(quality.bound),
                "gap_pct": _round(100 * quality.gap),
                "most_room": "" if best is None else best.name,
                "references": quality.references,
                "reference_budget_seconds": _round(quality.budget_seconds),
                "quality_seconds": _round(st.get("quality_seconds")),
                "solve_seconds": _round(st.get("seconds")),
                "baseline_seconds": _round(st.get("baseline_seconds")),
                "whole_seconds": _round(whole),
                "checker": st.get("checker"),
            }
        )
        settings[name] = {
            "time_limit": scenario.time_limit,
            "seed": scenario.seed,
            "workers": scenario.workers,
            "weights": layout.params["weights"],
            "notes": list(quality.notes),
        }
        print(f"{name}: {whole:.1f} s; {quality.line()}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    for file, columns, rows in (
        ("terms.csv", TERM_COLUMNS, terms),
        ("summary.csv", SUMMARY_COLUMNS, summary),
    ):
        with (args.out / file).open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            w.writerows(rows)
    entry = {
        "command": shlex.join(["python", "bench/quality.py", *(argv or sys.argv[1:])]),
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "finished": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git": git,
        "scenarios": settings,
        "workers": args.workers,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_before": list(load_before),
            "load_after": list(os.getloadavg()),
        },
        "versions": {
            "python": platform.python_version(),
            "clustering": clustering.__version__,
            **{k: metadata.version(k) for k in ("ortools", "numpy", "pandas")},
        },
    }
    path = args.out / "run.json"
    runs = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps(jsonable([*runs, entry]), indent=2) + "\n")
    print(f"wrote {args.out}/terms.csv, summary.csv, run.json")
    return 0 if all(r["checker"] == "passed" for r in summary) else 2


if __name__ == "__main__":
    sys.exit(main())
