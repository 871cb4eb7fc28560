"""Scaling benchmark: time, peak memory, objective and gap from 250 schools to all of England.

    python bench/scaling.py --sizes 250 500 1000 2000 4000 8000 16000 24000 \\
        --time-limit 600 --out out/scaling [--modes geography full] [--boundary la|none]

Every (size, mode) runs the engine in a fresh Python process through the public API
(``clustering.load_centres`` → ``clustering.form_clusters``) on ``clustering.england_like(size)``
(``clustering/input/national.py``; whole real local authorities, real URNs and FSM %, synthetic
coordinates). The parent reads each child's peak resident memory from ``wait4`` (so it is
per run, even when the child dies), caps the child's address space (``--memory-gb``, default
12: an allocation beyond it fails and the row says "out of memory"), and kills a child that
outlives twice its time limit plus five minutes. A run that fails is a row with its status
and message; the benchmark goes on.

Time limit per run (the rule is written into every output): ``max(20, 0.025 × n)`` seconds
for ``n`` schools, at most ``--time-limit`` (24,000 → 600 s); ``--fixed-time`` gives every
run ``--time-limit``.

Modes:

``geography``  travel only: clusters of 8–12 schools.
``full``       travel + contrast on ``fsm_pct`` (1 km per school per percentage point off the
               mean), a coordinator rule ``fsm_published`` (every cluster has a school with a
               published FSM figure, i.e. a state-funded one; ``z`` in the census marks,
               by their names, independent schools), and a quota: at most
               ``--secondary-max`` (default 2) schools per cluster whose **name** marks them
               secondary (``phase`` is derived from names; with a maximum of 1, nine LAs have
               more such schools than clusters and the run is infeasible).

``--boundary la`` keeps every cluster inside one local authority (hard), using the
``area`` column: the LA, with Isles of Scilly (1 school) joined to Cornwall and City of London
(6) to Hackney, as neither can fill a cluster of 8. ``--boundary none`` lets clusters cross.

In ``full`` mode with a hard boundary the row also gives ``fsm_floor``: the FSM contrast no
layout can avoid (each LA's clusters average to the LA's mean, so they deviate by at least
``n_LA·|mean_LA − mean|``), and the gap with that floor added to the engine's bound, which
covers travel only.

Outputs in ``--out``: ``scaling.csv`` (one row per run, every field), ``scaling.md`` (tables)
and ``run.json`` (command, versions, machine, rules). They are rewritten after every run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODES = ("geography", "full")
#: schools in all of England (``--sizes all``)
ALL = 24_442
TIME_RULE = "max(20, 0.025 × n) s, at most --time-limit"
#: the first columns of scaling.csv, in order; stats fields follow
COLUMNS = [
    "n",
    "requested",
    "las",
    "areas",
    "clusters",
    "mode",
    "boundary",
    "time_limit",
    "wall_seconds",
    "import_seconds",
    "build_seconds",
    "load_seconds",
    "child_seconds",
    "peak_rss_mb",
    "objective_km",
    "travel_km",
    "fsm_deviation",
    "lower_bound_km",
    "gap_pct",
    "fsm_floor",
    "bound_with_floor_km",
    "gap_with_floor_pct",
    "status",
    "checker",
    "first_report_seconds",
    "progress_reports",
    "parts",
    "error",
]
#: layout.stats fields shown in the "where time went" table (when present)
TIME_FIELDS = [
    "construction_seconds",
    "exchange_seconds",
    "bound_seconds",
    "cpsat_seconds",
    "lns_seconds",
    "polish_seconds",
    "seconds",
]


def time_limit_for(n: int, maximum: float, fixed: bool) -> float:
    """The time limit of a run on ``n`` schools (see :data:`TIME_RULE`)."""
    if fixed:
        return float(maximum)
    return float(min(maximum, max(20.0, 0.025 * n)))


# ------------------------------------------------------------------ the child: one run


def fsm_floor(frame, boundary: str) -> float:
    """The least FSM contrast deviation any layout inside ``boundary`` areas can have.

    A cluster's deviation is ``n_k·|mean_k − mean|`` and the clusters of an area average to
    the area's mean, so an area's clusters deviate by at least ``n_a·|mean_a − mean|``
    (triangle inequality). The engine's lower bound covers travel only, so with a hard
    boundary ``lower_bound + weight × floor`` is a valid and tighter bound (weight 1 here).
    """
    values = frame["fsm_pct"].astype(float)
    mean = values.mean()
    by_area = values.groupby(frame[boundary])
    return float((by_area.size() * (by_area.mean() - mean).abs()).sum())


def child(spec: dict) -> None:
    """Run the engine once as ``spec`` says; write what happened to ``spec['result']``."""
    limit = int(spec["memory_gb"] * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    result: dict = {"status": "started"}
    path = Path(spec["result"])

    def save() -> None:
        result["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, default=float))
        tmp.replace(path)

    t_start = time.perf_counter()
    try:
        import clustering
        from clustering import england_like
        from clustering.model.objective import Weights
        from clustering.model.rules import Constraints
        from clustering.model.sizes import Quota

        result["import_seconds"] = time.perf_counter() - t_start

        t = time.perf_counter()
        frame = england_like(spec["size"], seed=spec["seed"], sources=tuple(spec["sources"]))
        result["build_seconds"] = time.perf_counter() - t
        result["n"] = len(frame)
        result["las"] = int(frame["la"].nunique())
        result["areas"] = int(frame["area"].nunique())
        time_limit = time_limit_for(len(frame), spec["max_time"], spec["fixed_time"])
        result["time_limit"] = time_limit
        t = time.perf_counter()
        centres = clustering.load_centres(frame)
        result["load_seconds"] = time.perf_counter() - t

        full = spec["mode"] == "full"
        boundary = "area" if spec["boundary"] == "la" else None
        constraints = Constraints(
            boundary=boundary,
            cross_boundary=False,
            coordinator="fsm_published" if full else None,
        )
        weights = Weights(travel=1.0, contrast={"fsm_pct": 1.0} if full else {})
        quotas = (Quota("phase", "secondary", min=0, max=spec["secondary_max"]),) if full else ()
        rule = clustering.SizeRule(8, 12, quotas=quotas)
        events: list[tuple[float, str]] = []

        def progress(p) -> None:
            events.append((p.seconds, p.stage))

        result["status"] = "solving"
        save()
        t = time.perf_counter()
        try:
            layout = clustering.form_clusters(
                centres,
                rule,
                constraints=constraints,
                weights=weights,
                time_limit=time_limit,
                seed=spec["seed"],
                workers=spec["workers"],
                baselines=False,
                progress=progress,
            )
        finally:
            result["wall_seconds"] = time.perf_counter() - t
            result["progress_reports"] = len(events)
            found = [s for s, stage in events if stage != "done"]
            if found:  # first layout and bound; kept only when there is one part
                result["first_report_seconds"] = min(found)
        stats = layout.stats
        parts = stats.get("objective_parts", {})
        result.update(
            clusters=layout.n_clusters,
            objective_km=layout.objective / 1000.0,
            travel_km=parts.get("travel"),
            fsm_deviation=parts.get("fsm_pct"),
            lower_bound_km=layout.lower_bound / 1000.0,
            gap_pct=100.0 * layout.gap,
            status=layout.status,
            checker=stats.get("checker", ""),
            parts=stats.get("parts"),
        )
        if stats.get("parts", 1) > 1:
            result.pop("first_report_seconds", None)
        if full and boundary is not None:
            floor = fsm_floor(layout.centres, boundary)
            result["fsm_floor"] = floor
            result["bound_with_floor_km"] = result["lower_bound_km"] + floor
            result["gap_with_floor_pct"] = 100.0 * max(
                0.0, 1.0 - result["bound_with_floor_km"] / result["objective_km"]
            )
        result["stats"] = {
            k: v
            for k, v in stats.items()
            if isinstance(v, int | float | str | bool) and k != "parts"
        }
    except MemoryError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" in {frames[-1].name} ({Path(frames[-1].filename).name}:{frames[-1].lineno})"
        result.update(status="out of memory", error="MemoryError" + (where if frames else ""))
    except AssertionError as exc:  # the checker's verdict
        result.update(status="checker failed", checker="failed", error=str(exc))
    except Exception as exc:
        kind = {"InfeasibleError": "infeasible", "SolverError": "no layout found"}.get(
            type(exc).__name__
        )
        if kind is None and "bad_alloc" in str(exc):
            kind = "out of memory"
        result.update(status=kind or "error", error=f"{type(exc).__name__}: {exc}")
        if kind is None:
            traceback.print_exc()  # into the run's log
    result["child_seconds"] = time.perf_counter() - t_start
    save()


# ------------------------------------------------------------------ the parent


def run_one(spec: dict, work: Path) -> dict:
    """Run ``spec`` in a fresh process; the row for scaling.csv."""
    tag = f"{spec['size'] or 'all'}_{spec['mode']}_{spec['boundary']}"
    result_path = work / f"{tag}.json"
    log_path = work / f"{tag}.log"
    result_path.unlink(missing_ok=True)
    spec = {**spec, "result": str(result_path)}
    expected = time_limit_for(spec["size"] or ALL, spec["max_time"], spec["fixed_time"])
    deadline = 2 * expected + 300
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if not killed and time.perf_counter() - t0 > deadline:
                proc.kill()
                killed = True
            time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    row: dict = {"requested": spec["size"], "mode": spec["mode"], "boundary": spec["boundary"]}
    row["peak_rss_mb"] = usage.ru_maxrss / 1024  # kB on Linux
    result = {}
    if result_path.exists():
        with contextlib.suppress(json.JSONDecodeError):
            result = json.loads(result_path.read_text())
    stats = result.pop("stats", {})
    row.update({k: v for k, v in result.items() if k != "self_peak_rss_mb"})
    for key, value in stats.items():
        if key not in row and key not in ("checker", "n_centres", "n_clusters"):
            row[key] = value
    log_tail = log_path.read_text(errors="replace")[-2000:]
    if proc.returncode != 0 or result.get("status") in (None, "started", "solving"):
        code = proc.returncode
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        if killed:
            row["status"] = "timed out"
            row["error"] = f"killed after {deadline:.0f} s ({how})"
        elif any(w in log_tail for w in ("MemoryError", "bad_alloc", "Cannot allocate memory")):
            row["status"] = "out of memory"
            row["error"] = f"{how}: {_last_line(log_tail)}"
        elif code == -signal.SIGKILL:
            row["status"] = "killed"
            row["error"] = f"{how} (the system's out-of-memory killer?)"
        else:
            row["status"] = "crashed"
            row["error"] = f"{how}: {_last_line(log_tail)}"
    row.setdefault("time_limit", expected)
    row.setdefault("checker", "")
    row["child_seconds"] = row.get("child_seconds", time.perf_counter() - t0)
    return row


def _summary(row: dict, size, mode: str, boundary: str) -> str:
    """One line for a finished run."""
    text = (
        f"n={_fmt(row.get('n', size))} {mode} boundary={boundary}: {row.get('status')}, "
        f"limit {_fmt(row.get('time_limit'), 0)} s, peak {_fmt(row.get('peak_rss_mb'), 0)} MB"
    )
    if row.get("wall_seconds") is not None:
        text += f", engine {_fmt(row['wall_seconds'])} s"
    if row.get("objective_km") is not None:
        text += (
            f", {_fmt(row.get('clusters'))} clusters, objective {_fmt(row['objective_km'])} km, "
            f"travel {_fmt(row.get('travel_km'))} km, gap {_fmt(row.get('gap_pct'), 2)} %"
        )
        if row.get("gap_with_floor_pct") is not None:
            text += f" ({_fmt(row['gap_with_floor_pct'], 2)} % with the FSM floor)"
    if row.get("error"):
        text += f" — {str(row['error'])[:200]}"
    return text


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _fmt(value, digits: int = 1) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_outputs(rows: list[dict], out: Path, meta: dict) -> None:
    extra = sorted({k for r in rows for k in r} - set(COLUMNS))
    with open(out / "scaling.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS + extra)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in COLUMNS + extra})
    lines = [
        "# Scaling benchmark",
        "",
        f"`{meta['command']}`",
        "",
        f"{meta['started']} · {meta['machine']['cpus']} CPUs · "
        f"clustering {meta['versions'].get('clustering')} · "
        f"OR-Tools {meta['versions'].get('ortools')} · workers {meta['workers']} · "
        f"seed {meta['seed']} · memory cap {meta['memory_gb']} GB per run",
        "",
        f"Time limit per run: {meta['time_rule']}. Peak memory is the child process's peak "
        "resident set (whole process: Python, data, engine). Objective, travel and bound in km; "
        "gap = (objective − bound) / objective. The engine's bound covers travel only; with a "
        "hard boundary, the FSM contrast of each LA is at least n_LA·|mean_LA − mean| "
        "(`fsm_floor`), and the last gap adds that floor to the bound.",
        "",
        "| n | LAs | clusters | mode | boundary | limit s | wall s | load s | peak MB | "
        "objective km | travel km | bound km | gap % | gap % with FSM floor | status | checker |",
        "|" + "---:|" * 3 + "---|---|" + "---:|" * 9 + "---|---|",
    ]
    for r in rows:
        cells = [
            _fmt(r.get("n", r.get("requested"))),
            _fmt(r.get("las")),
            _fmt(r.get("clusters")),
            r.get("mode", ""),
            r.get("boundary", ""),
            _fmt(r.get("time_limit"), 0),
            _fmt(r.get("wall_seconds")),
            _fmt(r.get("load_seconds")),
            _fmt(r.get("peak_rss_mb"), 0),
            _fmt(r.get("objective_km")),
            _fmt(r.get("travel_km")),
            _fmt(r.get("lower_bound_km")),
            _fmt(r.get("gap_pct"), 2),
            _fmt(r.get("gap_with_floor_pct"), 2),
            str(r.get("status", "")),
            str(r.get("checker", "")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    failed = [r for r in rows if r.get("error")]
    if failed:
        lines += ["", "Failed runs:", ""]
        for r in failed:
            msg = str(r["error"]).replace("|", "/").replace("\n", " ")
            lines.append(f"- n {r.get('n', r.get('requested'))}, {r['mode']}: {msg[:400]}")
    fields = [f for f in TIME_FIELDS if any(f in r for r in rows)]
    fields += sorted(
        {k for r in rows for k in r if k.startswith("lns_") and k.endswith("_seconds")}
    )
    fields = list(dict.fromkeys(fields))
    if fields:
        lines += [
            "",
            "Where the engine's time went (seconds, summed over the boundary areas solved "
            "one after another; `seconds` is the engine's own total):",
            "",
            "| n | mode | " + " | ".join(fields) + " |",
            "|---:|---|" + "---:|" * len(fields),
        ]
        for r in rows:
            cells = [_fmt(r.get("n", r.get("requested"))), r.get("mode", "")]
            cells += [_fmt(r.get(f), 2) for f in fields]
            lines.append("| " + " | ".join(cells) + " |")
    (out / "scaling.md").write_text("\n".join(lines) + "\n")


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("clustering", "ortools", "numpy", "pandas", "geopandas", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _git() -> dict:
    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_engine_changes": git("status", "--porcelain", "--", "clustering"),
    }


def _machine() -> dict:
    memory = None
    with contextlib.suppress(OSError, ValueError):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(memory, 1) if memory else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(json.loads(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["250", "500", "1000", "2000", "4000", "8000", "16000", "24000"],
        help="schools per run (whole LAs, about this many); 'all' = every school (24,442)",
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--boundary", choices=("la", "none"), default="la")
    parser.add_argument(
        "--time-limit", type=float, default=600.0, help="the most seconds a run gets"
    )
    parser.add_argument(
        "--fixed-time", action="store_true", help="give every run --time-limit (no scaling)"
    )
    parser.add_argument("--out", required=True, help="folder for the results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers")
    parser.add_argument("--memory-gb", type=float, default=12.0, help="address-space cap per run")
    parser.add_argument("--secondary-max", type=int, default=2, help="full mode's quota")
    parser.add_argument(
        "--sources",
        nargs="+",
        default=["hampshire", "surrey"],
        help="point patterns for clustering.england_like",
    )
    args = parser.parse_args(argv)
    sizes = [None if s.lower() == "all" else int(s) for s in args.sizes]
    out = Path(args.out)
    work = out / "runs"
    work.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "python bench/scaling.py " + " ".join(argv),
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "time_rule": TIME_RULE if not args.fixed_time else f"{args.time_limit:g} s every run",
        "max_time_limit": args.time_limit,
        "modes": {
            "geography": "travel only; clusters of 8–12",
            "full": "travel + contrast fsm_pct (weight 1 km per school·point), coordinator "
            f"'fsm_published', quota phase = 'secondary' at most {args.secondary_max} per "
            "cluster (phase derived from school names)",
        },
        "boundary": "hard, column 'area' (LA; Isles of Scilly with Cornwall, City of London "
        "with Hackney)"
        if args.boundary == "la"
        else "none",
        "data": "clustering.england_like(n, seed): real URNs, LAs and FSM % "
        "(data/national/england_schools_fsm_2022_23.csv, OGL v3.0), synthetic coordinates "
        f"from the point patterns of {', '.join(args.sources)}",
        "seed": args.seed,
        "workers": args.workers,
        "memory_gb": args.memory_gb,
        "versions": _versions(),
        "machine": _machine(),
        "git": _git(),
    }
    (out / "run.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    rows: list[dict] = []
    for size in sizes:
        for mode in args.modes:
            spec = {
                "size": size,
                "mode": mode,
                "boundary": args.boundary,
                "max_time": args.time_limit,
                "fixed_time": args.fixed_time,
                "seed": args.seed,
                "workers": args.workers,
                "memory_gb": args.memory_gb,
                "secondary_max": args.secondary_max,
                "sources": args.sources,
            }
            row = run_one(spec, work)
            rows.append(row)
            write_outputs(rows, out, meta)
            print(_summary(row, size, mode, args.boundary), flush=True)
    meta["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    (out / "run.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out / 'scaling.csv'}, {out / 'scaling.md'}, {out / 'run.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
