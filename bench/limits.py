"""Limits at national scale: the time limit kept, and `clustering form`'s time and memory.

    python bench/limits.py solve --size 24000 --time-limits 60 --label after \\
        --out bench/results/limits
    python bench/limits.py cli --size 24000 --time-limit 60 --label after \\
        --out bench/results/limits [--tree DIR]
    python bench/limits.py stop --size 24000 --time-limit 600 --after 30 --label after \\
        --out bench/results/limits

``solve`` runs the engine through the public API (``clustering.form_clusters``, baselines
off) on ``clustering.england_like(size)`` in the ``full`` mode of ``bench/scaling.py``
(travel + FSM contrast, coordinator rule, quota, hard LA boundary: every part of the model
the national data has; ``--mode geography --boundary none`` for travel alone in areas cut
from the whole of England), once per time limit, each in a fresh process
(``bench/scaling.py``'s ``run_one``: peak memory from ``wait4``). A row gives the solve's
own seconds (``stats["seconds"]``: compiling the problem, construction, bound and search,
counted from the API call), the API call's wall time (the checker after it included), the
overrun of each over the limit, the documented margin ``max(2 s, 5 %)`` and whether the
solve kept to it.

``cli`` writes the same schools to a CSV (x/y in EPSG:27700) and runs the whole command
under ``/usr/bin/time -v``::

    clustering form england_<n>.csv --out DIR --time-limit T --boundary area \\
        --contrast fsm_pct=1 --coordinator fsm_published --crs EPSG:27700 --quiet

which forms the layout, the baselines beside it (geography only, given a third of the time
limit more; size-bounded k-means; LAs as clusters) and writes every file, explanations
included. The row gives the wall time, the peak resident memory ("Maximum resident set
size") and the solve's and the baselines' seconds from ``run.json``. ``--tree DIR`` runs
another copy of the package (e.g. ``git archive HEAD`` unpacked) for a before/after
comparison; ``--memory-gb`` caps the address space (default 16: an allocation beyond it
fails and the row says so).

``stop`` runs the same model in this process with a time limit of ``--time-limit`` and sets
its stop event (what the explorer's stop button and the CLI's first Ctrl-C set) after
``--after`` seconds: the row gives how soon the API call returned after that, with the
status (``"stopped"``) and the checker's verdict (``stop.json``).

Every row records the machine's load (``os.getloadavg`` before and after): the machine has
2 cores shared with other work, so wall times are noisy; the overrun is what is measured.
Results: ``solve.csv``/``solve.json`` and ``cli.csv``/``cli.json`` in ``--out``, rows
replaced by (label, n, time limit) and kept otherwise.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import scaling  # noqa: E402  (bench/scaling.py: the child process and its row)

SOLVE_COLUMNS = [
    "label",
    "mode",
    "boundary",
    "n",
    "time_limit",
    "solve_seconds",
    "solve_overrun",
    "api_seconds",
    "api_overrun",
    "check_seconds",
    "margin",
    "within_margin",
    "parts",
    "parts_after_deadline",
    "objective_km",
    "lower_bound_km",
    "gap_with_floor_pct",
    "peak_rss_mb",
    "status",
    "load_before",
    "load_after",
    "when",
]
CLI_COLUMNS = [
    "label",
    "n",
    "time_limit",
    "exit_code",
    "wall_seconds",
    "peak_rss_mb",
    "solve_seconds",
    "baseline_seconds",
    "explanation_rows",
    "files",
    "status",
    "error",
    "load_before",
    "load_after",
    "command",
    "when",
]


def margin(limit: float) -> float:
    """The engine's documented margin (``clustering.solver.clock.margin``), restated so a
    row can be judged for a tree that predates it."""
    return max(2.0, 0.05 * float(limit))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _merge(path: Path, rows: list[dict], columns: list[str]) -> list[dict]:
    """``rows`` over what ``path`` holds, keyed by (label, n, time_limit)."""

    def key(r: dict) -> tuple:
        return (
            str(r.get("label")),
            str(r.get("mode") or "full"),
            str(r.get("boundary") or "la"),
            str(r.get("n")),
            str(float(r.get("time_limit") or 0)),
        )

    old = []
    if path.exists():
        with path.open(newline="") as f:
            old = list(csv.DictReader(f))
    new = {key(r): r for r in rows}
    kept = [r for r in old if key(r) not in new]
    merged = kept + rows
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in merged:
            writer.writerow({c: _cell(r.get(c)) for c in columns})
    return merged


def _cell(value):
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else value


def _save_json(path: Path, meta: dict, rows: list[dict]) -> None:
    path.write_text(json.dumps({**meta, "rows": rows}, indent=2, default=str) + "\n")


# ------------------------------------------------------------------ solve


def run_solve(args) -> list[dict]:
    out = Path(args.out)
    work = out / "runs"
    work.mkdir(parents=True, exist_ok=True)
    env_tree = args.tree
    rows = []
    for limit in args.time_limits:
        spec = {
            "size": args.size,
            "mode": args.mode,
            "boundary": args.boundary,
            "max_time": float(limit),
            "fixed_time": True,
            "seed": args.seed,
            "workers": args.workers,
            "memory_gb": args.memory_gb,
            "secondary_max": 2,
            "sources": ["hampshire", "surrey"],
        }
        before = _load()
        if env_tree:
            os.environ["PYTHONPATH"] = str(Path(env_tree).resolve())
        try:
            row = scaling.run_one(spec, work)
        finally:
            os.environ.pop("PYTHONPATH", None)
        stats_seconds = row.get("seconds")
        api = row.get("wall_seconds")
        result = {
            "label": args.label,
            "mode": args.mode,
            "boundary": args.boundary,
            "n": row.get("n"),
            "time_limit": float(limit),
            "solve_seconds": stats_seconds,
            "solve_overrun": None if stats_seconds is None else stats_seconds - limit,
            "api_seconds": api,
            "api_overrun": None if api is None else api - limit,
            "check_seconds": row.get("check_seconds"),
            "margin": margin(limit),
            "within_margin": None
            if stats_seconds is None
            else bool(stats_seconds <= limit + margin(limit)),
            "parts": row.get("parts"),
            "parts_after_deadline": row.get("parts_after_deadline", 0),
            "objective_km": row.get("objective_km"),
            "lower_bound_km": row.get("lower_bound_km"),
            "gap_with_floor_pct": row.get("gap_with_floor_pct"),
            "peak_rss_mb": row.get("peak_rss_mb"),
            "status": row.get("status"),
            "load_before": before,
            "load_after": _load(),
            "when": _now(),
            "stats": {
                k: row.get(k)
                for k in (
                    "construction_seconds",
                    "exchange_seconds",
                    "bound_seconds",
                    "cpsat_seconds",
                    "kernel_seconds",
                    "lns_seconds",
                    "polish_seconds",
                    "clock_seconds",
                    "budget_seconds",
                )
                if row.get(k) is not None
            },
        }
        rows.append(result)
        print(
            f"{args.label}: n={result['n']} limit {limit:g} s: solve {_f(stats_seconds)} s "
            f"(overrun {_f(result['solve_overrun'])} s, margin {margin(limit):g} s), "
            f"API call {_f(api)} s, peak {_f(result['peak_rss_mb'], 0)} MB, "
            f"load {before} -> {result['load_after']}",
            flush=True,
        )
    merged = _merge(out / "solve.csv", rows, SOLVE_COLUMNS)
    meta = {
        "command": "python bench/limits.py " + " ".join(sys.argv[1:]),
        "what": "clustering.form_clusters (baselines off) on clustering.england_like(size), "
        "bench/scaling.py's full mode with a hard LA boundary",
        "margin": "max(2 s, 5 % of the time limit)",
    }
    _save_json(out / "solve.json", meta, _merge_json(out / "solve.json", rows))
    del merged
    return rows


def _merge_json(path: Path, rows: list[dict]) -> list[dict]:
    old = []
    if path.exists():
        try:
            old = json.loads(path.read_text()).get("rows", [])
        except json.JSONDecodeError:
            old = []

    def key(r: dict) -> tuple:
        return (
            r["label"],
            r.get("mode", "full"),
            r.get("boundary", "la"),
            r["n"],
            float(r["time_limit"]),
        )

    keys = {key(r) for r in rows}
    return [r for r in old if key(r) not in keys] + rows


def _f(value, digits: int = 1) -> str:
    return "?" if value is None else f"{value:,.{digits}f}"


# ------------------------------------------------------------------ cli


def _schools_csv(size: int | None, seed: int, work: Path) -> tuple[Path, int]:
    path = work / f"england_{size or 'all'}_{seed}.csv"
    if path.exists():
        with path.open() as f:
            return path, sum(1 for _ in f) - 1
    from clustering import england_like

    frame = england_like(size, seed=seed)
    frame["x"] = frame.geometry.x
    frame["y"] = frame.geometry.y
    frame.drop(columns="geometry").to_csv(path, index=False)
    return path, len(frame)


def _time_v(text: str) -> dict:
    out = {}
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if rss:
        out["peak_rss_mb"] = int(rss.group(1)) / 1024
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if wall:
        seconds = 0.0
        for part in wall.group(1).split(":"):
            seconds = seconds * 60 + float(part)
        out["wall_seconds"] = seconds
    return out


def run_cli(args) -> dict:
    out = Path(args.out)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    source, n = _schools_csv(args.size, args.seed, work)
    target = work / f"form_{args.label}_{n}"
    command = [
        "clustering",
        "form",
        str(source),
        "--out",
        str(target),
        "--time-limit",
        f"{args.time_limit:g}",
        "--boundary",
        "area",
        "--contrast",
        "fsm_pct=1",
        "--coordinator",
        "fsm_published",
        "--crs",
        "EPSG:27700",
        "--quiet",
    ]
    env = dict(os.environ)
    if args.tree:
        env["PYTHONPATH"] = str(Path(args.tree).resolve())
    cap = int(args.memory_gb * 1024**3)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    before = _load()
    t = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "clustering.cli", *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=limit_memory,
        check=False,
    )
    elapsed = time.perf_counter() - t
    measured = _time_v(done.stderr)
    row = {
        "label": args.label,
        "n": n,
        "time_limit": float(args.time_limit),
        "exit_code": done.returncode,
        "wall_seconds": measured.get("wall_seconds", elapsed),
        "peak_rss_mb": measured.get("peak_rss_mb"),
        "load_before": before,
        "load_after": _load(),
        "command": " ".join(command),
        "when": _now(),
    }
    run_json = target / "run.json"
    if done.returncode == 0 and run_json.exists():
        run = json.loads(run_json.read_text())
        stats = run.get("stats", {})
        row["solve_seconds"] = stats.get("seconds")
        row["baseline_seconds"] = stats.get("baseline_seconds")
        row["status"] = run.get("status")
        explained = target / "explanations.csv"
        if explained.exists():
            import pandas as pd

            row["explanation_rows"] = len(pd.read_csv(explained, usecols=[0]))
        row["files"] = len(list(target.iterdir()))
    else:
        # the command's own lines come before /usr/bin/time's report
        own = done.stderr.partition("\tCommand being timed:")[0]
        tail = [line for line in own.splitlines() if line.strip()]
        errors = [line for line in tail if "Error" in line or "error" in line]
        signal_line = re.search(r"Command terminated by signal \d+", done.stderr)
        found = (errors or tail or [signal_line.group(0) if signal_line else "?"])[-1]
        row["error"] = found.strip()[:300]
        row["status"] = "failed"
    if args.note:
        row["error"] = f"{row.get('error', '')} {args.note}".strip()
    failed = f" — {row['error']}" if "error" in row else ""
    print(
        f"{args.label}: clustering form on {n:,} schools, limit {args.time_limit:g} s: "
        f"exit {done.returncode}, {_f(row['wall_seconds'])} s, "
        f"peak {_f(row['peak_rss_mb'], 0)} MB, load {before} -> {row['load_after']}{failed}",
        flush=True,
    )
    _merge(out / "cli.csv", [row], CLI_COLUMNS)
    meta = {
        "command": "python bench/limits.py " + " ".join(sys.argv[1:]),
        "what": "the whole `clustering form` (layout, baselines, explanations, every file) "
        "under /usr/bin/time -v",
    }
    _save_json(out / "cli.json", meta, _merge_json(out / "cli.json", [row]))
    return row


# ------------------------------------------------------------------ stop


def run_stop(args) -> dict:
    """A long solve stopped by its event after ``--after`` seconds: how soon it returns."""
    import threading

    import clustering
    from clustering.model.objective import Weights
    from clustering.model.rules import Constraints
    from clustering.model.sizes import Quota

    source, _ = _schools_csv(args.size, args.seed, Path(args.work))
    centres = clustering.load_centres(source, crs="EPSG:27700")  # what the CLI reads
    stop = threading.Event()
    stopped_at: list[float] = []

    def press() -> None:
        stopped_at.append(time.perf_counter())
        stop.set()

    before = _load()
    timer = threading.Timer(args.after, press)
    t = time.perf_counter()
    timer.start()
    layout = clustering.form_clusters(
        centres,
        clustering.SizeRule(8, 12, quotas=(Quota("phase", "secondary", min=0, max=2),)),
        constraints=Constraints(boundary="area", coordinator="fsm_published"),
        weights=Weights(travel=1.0, contrast={"fsm_pct": 1.0}),
        time_limit=args.time_limit,
        workers=args.workers,
        stop=stop,
    )
    timer.cancel()
    returned = time.perf_counter()
    row = {
        "label": args.label,
        "n": len(centres),
        "time_limit": float(args.time_limit),
        "stop_after": args.after,
        "returned_after_stop_seconds": returned - stopped_at[0] if stopped_at else None,
        "solve_seconds": layout.stats["seconds"],
        "check_seconds": layout.stats.get("check_seconds"),
        "status": layout.status,
        "checker": layout.stats.get("checker"),
        "baselines": layout.baselines is not None,
        "objective_km": layout.objective / 1000.0,
        "load_before": before,
        "load_after": _load(),
        "when": _now(),
        "seconds_since_call": returned - t,
    }
    print(
        f"{args.label}: n={row['n']} stopped after {args.after:g} s: returned "
        f"{_f(row['returned_after_stop_seconds'])} s later, status {row['status']}, "
        f"checker {row['checker']}, load {before} -> {row['load_after']}",
        flush=True,
    )
    out = Path(args.out)
    meta = {"command": "python bench/limits.py " + " ".join(sys.argv[1:])}
    _save_json(out / "stop.json", meta, _merge_json(out / "stop.json", [row]))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("solve", "cli", "stop"):
        p = sub.add_parser(name)
        p.add_argument("--size", type=int, default=24000, help="schools (whole LAs, about)")
        p.add_argument("--label", default="after", help="names the rows, e.g. before/after")
        p.add_argument("--out", default="bench/results/limits")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--memory-gb", type=float, default=16.0)
        p.add_argument("--tree", help="run the package in this folder instead (PYTHONPATH)")
        if name == "solve":
            p.add_argument("--time-limits", type=float, nargs="+", default=[60.0])
            p.add_argument("--mode", choices=("full", "geography"), default="full")
            p.add_argument("--boundary", choices=("la", "none"), default="la")
        elif name == "stop":
            p.add_argument("--time-limit", type=float, default=600.0)
            p.add_argument("--work", default="out/limits", help="the CSV of the schools")
            p.add_argument("--after", type=float, default=30.0, help="seconds before the stop")
        else:
            p.add_argument("--time-limit", type=float, default=60.0)
            p.add_argument("--work", default="out/limits", help="the CSV and output folders")
            p.add_argument("--note", default="", help="words added to the row's error column")
    args = parser.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.what == "solve":
        run_solve(args)
    elif args.what == "stop":
        run_stop(args)
    else:
        run_cli(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
