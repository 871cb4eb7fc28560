"""Interactive re-solves: after a weight change, re-form from the current layout.

    python bench/interactive.py --out DIR [--sample hampshire] [--budget 2.5]
                                [--reference 30] [--changes 6] [--seed 0]

What a person tweaking weights in the app does: form a layout, change one weight,
and ask again. The engine is given the layout on screen (``form_clusters(...,
start=layout)``) and a short budget; the figure that matters is the wall time
of the whole call (bound, search, polish and the independent checker
included) and how far the quick answer is from what the engine gets with the
same weights from scratch in ``--reference`` seconds.

A chain of weight changes is replayed on the English authority sample (the
bundled GIAS primaries): contrast on FSM and urban/rural switched on, raised,
lowered and off again; each step starts from the previous step's layout.
For each step it records the re-solve's wall time, objective, bound and the
checker's verdict, and the reference solve's objective. Outputs:
``DIR/interactive.csv``, ``DIR/interactive.md`` and ``DIR/run.json`` (command,
seed, versions, machine).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shlex
import statistics
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

from _common import SAMPLES, jsonable  # noqa: E402

#: English authorities (the weight changes use their FSM and urban/rural columns)
ENGLISH = ("hampshire", "surrey")

#: the chain of weight settings a person tries, each from the layout before it
CHANGES: list[tuple[str, dict[str, float]]] = [
    ("travel only", {}),
    ("mix FSM (1 km per unit)", {"fsm_pct": 1.0}),
    ("FSM weight raised to 2", {"fsm_pct": 2.0}),
    ("add urban/rural (5 km)", {"fsm_pct": 2.0, "urban_rural": 5.0}),
    ("FSM weight lowered to 0.5", {"fsm_pct": 0.5, "urban_rural": 5.0}),
    ("contrast off again", {}),
    ("urban/rural only (10 km)", {"urban_rural": 10.0}),
]

COLUMNS = [
    "step",
    "change",
    "seconds",
    "objective",
    "lower_bound",
    "checker",
    "reference_objective",
    "reference_seconds",
    "vs_reference_pct",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sample", choices=ENGLISH, default="hampshire")
    parser.add_argument("--budget", type=float, default=2.5, help="seconds per re-solve")
    parser.add_argument("--reference", type=float, default=30.0, help="seconds from scratch")
    parser.add_argument("--changes", type=int, default=len(CHANGES) - 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    import clustering
    from clustering import SizeRule, check_layout, form_clusters, load_centres
    from clustering.model.objective import Weights

    centres = load_centres(SAMPLES[args.sample])
    rule = SizeRule(8, 12)
    common = dict(seed=args.seed, workers=args.workers, baselines=False)

    # the layout on screen before the first change: travel only, as the app starts
    t = time.perf_counter()
    layout = form_clusters(centres, rule, time_limit=args.reference, **common)
    first = time.perf_counter() - t
    print(f"start: {layout.objective / 1000:,.1f} km in {first:.1f} s", flush=True)

    rows: list[dict[str, Any]] = []
    for step, (label, contrast) in enumerate(CHANGES[1 : args.changes + 1], start=1):
        weights = Weights(1.0, contrast)
        t = time.perf_counter()
        quick = form_clusters(
            centres, rule, weights=weights, time_limit=args.budget, start=layout, **common
        )
        seconds = time.perf_counter() - t
        verdict = check_layout(quick, rule, weights=weights)
        t = time.perf_counter()
        reference = form_clusters(
            centres, rule, weights=weights, time_limit=args.reference, **common
        )
        reference_seconds = time.perf_counter() - t
        row = {
            "step": step,
            "change": label,
            "seconds": round(seconds, 3),
            "objective": round(quick.objective / 1000, 3),
            "lower_bound": round(quick.lower_bound / 1000, 3),
            "checker": "passed" if verdict.ok else "; ".join(verdict.violations[:3]),
            "reference_objective": round(reference.objective / 1000, 3),
            "reference_seconds": round(reference_seconds, 3),
            "vs_reference_pct": round(
                100 * (quick.objective - reference.objective) / reference.objective, 3
            ),
        }
        rows.append(row)
        print(
            f"{step}. {label}: {row['seconds']:.2f} s, {row['objective']:,.1f} "
            f"(from scratch in {args.reference:g} s: {row['reference_objective']:,.1f}, "
            f"{row['vs_reference_pct']:+.2f} %), checker {row['checker']}",
            flush=True,
        )
        layout = quick  # the next change starts from what is on screen

    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "interactive.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    secs = [r["seconds"] for r in rows]
    lines = [
        f"# Re-solve after a weight change ({args.sample}, {len(centres.frame)} schools)",
        "",
        f"Budget {args.budget:g} s per re-solve from the layout before it; reference: the "
        f"same weights from scratch in {args.reference:g} s. Objective in km-equivalents "
        "(travel plus weighted deviation).",
        "",
        "| step | change | re-solve s | objective | reference | vs reference | checker |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['step']} | {r['change']} | {r['seconds']:.2f} | {r['objective']:,.1f} | "
            f"{r['reference_objective']:,.1f} | {r['vs_reference_pct']:+.2f} % | {r['checker']} |"
        )
    lines += [
        "",
        f"Re-solve wall time: median {statistics.median(secs):.2f} s, max {max(secs):.2f} s.",
    ]
    (args.out / "interactive.md").write_text("\n".join(lines) + "\n")
    run = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sample": args.sample,
        "budget": args.budget,
        "reference": args.reference,
        "seed": args.seed,
        "workers": args.workers,
        "first_layout_seconds": first,
        "versions": {
            "python": platform.python_version(),
            "clustering": clustering.__version__,
            **{k: metadata.version(k) for k in ("ortools", "numpy", "pandas")},
        },
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "rows": rows,
    }
    (args.out / "run.json").write_text(json.dumps(jsonable(run), indent=2) + "\n")
    print(f"wrote {args.out}/interactive.csv, interactive.md, run.json")
    return 0 if all(r["checker"] == "passed" for r in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
