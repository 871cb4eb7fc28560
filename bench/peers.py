"""Compare the engine with peer methods on the real samples (geography only).

    python bench/peers.py --out DIR [--time-limit 60] [--samples hampshire surrey kentucky]
                          [--skip-spopt] [--spopt-wall S]

Every method gets the same schools (``clustering.load_centres``), the same sizes (8–12)
and the same number of clusters p (the engine's own resolution of ``SizeRule(8, 12)``),
and is timed by wall clock in this one run:

1. the engine, through its public API (``clustering.form_clusters``, ``baselines=False``),
   with the objective and time of its first construction report as well;
2. size-bounded k-means (``k-means-constrained``) on the projected x/y in metres, with
   ``n_init=1`` and the default ``n_init=10``; each cluster meets at its medoid (the member
   with the least total distance to the others — how a k-means cluster would meet at a
   member school);
3. spopt's capacitated ``PMedian`` (every school a candidate venue of capacity 12, demand 1
   per school) solved by pulp's bundled CBC with the same time limit. spopt cannot ask for
   a minimum size of 8, so its clusters may be smaller; it also does not require an open
   venue to be in its own cluster. It runs in a child process with a wall-clock cap
   (``--spopt-wall``, default 2 × time limit + 60 s) because building the n² model can
   take longer than the solve; past the cap it is recorded as "did not finish".

Each row's travel is recomputed here from straight-line metres between each school and
its venue — no method's own objective is trusted. Outputs: ``DIR/peers.csv``,
``DIR/peers.md`` and ``DIR/run.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if str(REPO_ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "bench"))

from _common import MAX_SIZE, MIN_SIZE, SAMPLES, jsonable  # noqa: E402

SEED = 0
WORKERS = 2
#: address-space cap of the spopt child (model building for thousands of schools is large)
SPOPT_MEMORY_GB = 8

ENGINE = "engine"
#: the engine given ten times k-means-constrained's (n_init=1) time
QUICK = "engine at 10x k-means time"
COLUMNS = [
    "sample",
    "method",
    "n",
    "p",
    "clusters",
    "total_km",
    "worst_km",
    "seconds",
    "sizes_ok",
    "venues_in_cluster",
    "engine_lower_bound_km",
    "travel_over_lower_bound",
    "engine_vs_method_pct",
    "engine_gap_pct",
    "construction_km",
    "construction_seconds",
    "status",
    "note",
]


@dataclass
class Outcome:
    """What one method produced: ``venue_of`` (row index of each school's venue) or nothing."""

    method: str
    venue_of: np.ndarray | None
    seconds: float | None
    status: str
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# --- measuring ----------------------------------------------------------------------------


def straight_lines(xy: np.ndarray) -> np.ndarray:
    """n × n straight-line metres between projected points."""
    dx = xy[:, 0][:, None] - xy[:, 0][None, :]
    d = dx * dx
    dy = xy[:, 1][:, None] - xy[:, 1][None, :]
    d += dy * dy
    return np.sqrt(d, out=d)


def evaluate(matrix: np.ndarray, venue_of: np.ndarray, p: int) -> dict[str, Any]:
    """Travel (km) and the size checks of ``venue_of``, from the metres matrix."""
    n = len(matrix)
    travel = matrix[np.arange(n), venue_of]
    venues, sizes = np.unique(venue_of, return_counts=True)
    return {
        "clusters": len(venues),
        "total_km": float(travel.sum()) / 1000.0,
        "worst_km": float(travel.max()) / 1000.0,
        "sizes_ok": bool(len(venues) == p and sizes.min() >= MIN_SIZE and sizes.max() <= MAX_SIZE),
        "size_range": f"{sizes.min()}–{sizes.max()}",
        "venues_in_cluster": bool(np.all(venue_of[venues] == venues)),
    }


def medoid_venues(matrix: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each cluster meets at its member with the least total distance to the others."""
    venue_of = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        inner = matrix[np.ix_(members, members)].sum(axis=0)
        venue_of[members] = members[int(np.argmin(inner))]
    return venue_of


# --- the methods ----------------------------------------------------------------------------


def run_engine(centres, rule, time_limit: float) -> Outcome:
    """The engine through its public API; also its first construction report."""
    import clustering

    first: dict[str, float] = {}

    def progress(event: clustering.Progress) -> None:
        if not first and event.stage.endswith("construction"):
            first.update(seconds=event.seconds, objective=event.objective)

    t = time.perf_counter()
    layout = clustering.form_clusters(
        centres,
        rule,
        time_limit=time_limit,
        seed=SEED,
        workers=WORKERS,
        baselines=False,
        progress=progress,
    )
    seconds = time.perf_counter() - t
    ids = centres.frame["centre_id"].astype(str).tolist()
    row = {cid: k for k, cid in enumerate(ids)}
    venue_of = np.full(len(ids), -1, dtype=np.int64)
    table = layout.assignments
    for cid, venue in zip(table["centre_id"].astype(str), table["venue_id"], strict=True):
        if cid in row and isinstance(venue, str | int) and str(venue) in row:
            venue_of[row[cid]] = row[str(venue)]
    if (venue_of < 0).any():
        raise RuntimeError(f"the engine left {(venue_of < 0).sum()} school(s) without a venue")
    extra = {
        "lower_bound_m": float(layout.lower_bound),
        "objective_m": float(layout.objective),
        "gap": float(layout.gap),
        "unit": layout.unit,
        "n_clusters": layout.n_clusters,
        "construction_m": first.get("objective"),
        "construction_seconds": first.get("seconds"),
        "stats": jsonable(layout.stats),
    }
    return Outcome(ENGINE, venue_of, seconds, str(layout.status), extra=extra)


def run_kmeans(xy: np.ndarray, matrix: np.ndarray, p: int, n_init: int) -> Outcome:
    """Size-bounded k-means on x/y in metres, each cluster meeting at its medoid."""
    from k_means_constrained import KMeansConstrained

    method = f"k-means-constrained (n_init={n_init})"
    note = "venue = medoid"
    # the package rounds distances × 1000 to int32: metres are fine below ~2,100 km
    extent = float(np.ptp(xy, axis=0).max())
    points = xy
    if extent * 1000 >= 2**31 - 1:
        points = (xy - xy.mean(axis=0)) / 1000.0
        note += "; x/y in km (metres overflow the package's int32 costs)"
    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # schools sharing a site give duplicate points
            model = KMeansConstrained(
                n_clusters=p, size_min=MIN_SIZE, size_max=MAX_SIZE, random_state=SEED, n_init=n_init
            )
            labels = np.asarray(model.fit_predict(points), dtype=np.int64)
        venue_of = medoid_venues(matrix, labels)
    except (ValueError, RuntimeError) as exc:
        return Outcome(method, None, time.perf_counter() - t, f"failed: {exc}", note)
    return Outcome(method, venue_of, time.perf_counter() - t, "ok", note)


def run_spopt(matrix: np.ndarray, p: int, time_limit: float, wall: float) -> Outcome:
    """spopt's capacitated PMedian with CBC, in a child process capped at ``wall`` seconds."""
    method = "spopt PMedian + CBC"
    note = "no minimum size (spopt cannot enforce 8); capacity 12, demand 1 per school"
    missing = [m for m in ("spopt", "pulp") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"spopt not installed: pip install spopt  (missing: {', '.join(missing)})")
        return Outcome(method, None, None, "not installed", note)
    work = Path(tempfile.mkdtemp(prefix="peers_spopt_"))
    try:
        np.save(work / "matrix.npy", matrix)
        job = {"p": p, "capacity": MAX_SIZE, "time_limit": time_limit, "threads": WORKERS}
        (work / "job.json").write_text(json.dumps(job))
        env = dict(os.environ, TMPDIR=str(work))  # pulp's MPS/solution files go here
        log = (work / "child.log").open("w")
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--spopt-worker", str(work)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: CBC goes with it on a kill
        )
        try:
            began = _wait(child, work / "stage.json", wall)
        except subprocess.TimeoutExpired as stop:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            stage = _read_json(work / "stage.json")
            where = _stage_words(stage, time.perf_counter() - float(stop.timeout))
            return Outcome(
                method,
                None,
                None,
                f"did not finish in {wall:g} s",
                f"{note}; CBC limit {time_limit:g} s; stopped {where}",
                extra={"stage": stage},
            )
        finally:
            log.close()
        elapsed = time.perf_counter() - began
        result = _read_json(work / "result.json")
        if child.returncode != 0 or result is None:
            tail = (work / "child.log").read_text(errors="replace").strip().splitlines()[-3:]
            return Outcome(
                method,
                None,
                None,
                f"failed (exit {child.returncode})",
                f"{note}; {' | '.join(tail)}",
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    extra = {k: v for k, v in result.items() if k != "venue_of"}
    extra["child_wall_seconds"] = elapsed
    if "build_seconds" in result:
        note += f"; model build {result['build_seconds']:.1f} s, then pulp + CBC "
        note += f"{result['solve_seconds']:.1f} s"
        if result.get("cbc_wall_seconds") is not None:
            note += f" (CBC itself {result['cbc_wall_seconds']:.1f} s wall)"
    if result.get("cbc_lower_bound") is not None:
        note += f"; CBC bound {result['cbc_lower_bound'] / 1000:.1f} km (no min size)"
    if result.get("venue_of") is None:
        return Outcome(method, None, result.get("seconds"), result["status"], note, extra)
    venue_of = np.asarray(result["venue_of"], dtype=np.int64)
    if (venue_of < 0).any():
        return Outcome(
            method,
            None,
            result.get("seconds"),
            f"{result['status']}; {(venue_of < 0).sum()} school(s) unassigned",
            note,
            extra,
        )
    return Outcome(method, venue_of, result["seconds"], result["status"], note, extra)


def _wait(child: subprocess.Popen, stage_file: Path, wall: float) -> float:
    """Wait for ``child``; the ``wall`` clock starts once spopt is imported (a one-off
    cost of the package, not of the method). Raises ``TimeoutExpired`` (its ``timeout``
    holds when the clock started) when the cap is reached."""
    t = time.perf_counter()
    began: float | None = None
    while True:
        try:
            child.wait(timeout=0.5)
            return began if began is not None else t
        except subprocess.TimeoutExpired:
            pass
        now = time.perf_counter()
        if began is None:
            stage = _read_json(stage_file)
            if stage and stage.get("stage") != "importing":
                began = now
            elif now - t > max(wall, 120.0):  # the import alone took too long
                raise subprocess.TimeoutExpired(child.args, t) from None
        if began is not None and now - began > wall:
            raise subprocess.TimeoutExpired(child.args, began) from None


def _stage_words(stage: dict | None, elapsed: float) -> str:
    if not stage or stage.get("stage") == "importing":
        return f"while importing spopt ({elapsed:.0f} s)"
    if stage.get("stage") == "solving":
        return (
            f"while CBC was solving (model built in {stage.get('build_seconds', 0):.0f} s, "
            f"CBC started at {stage.get('at', 0):.0f} s)"
        )
    return f"while building the n² model ({elapsed:.0f} s)"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def spopt_worker(work: Path) -> int:
    """Child process: build and solve the spopt model in ``work``; write result.json."""
    import resource

    limit = SPOPT_MEMORY_GB * 1024**3
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    job = json.loads((work / "job.json").read_text())
    matrix = np.load(work / "matrix.npy")
    n = len(matrix)

    def stage(name: str, **more: float) -> None:
        (work / "stage.json").write_text(json.dumps({"stage": name, **more}))

    stage("importing")
    t = time.perf_counter()
    import pulp
    from spopt.locate import PMedian

    imported = time.perf_counter() - t
    t0 = time.perf_counter()
    stage("building", import_seconds=imported)

    try:
        model = PMedian.from_cost_matrix(
            matrix,
            np.ones(n),
            p_facilities=int(job["p"]),
            facility_capacities=np.full(n, float(job["capacity"])),
        )
    except MemoryError:
        result = {"status": f"out of memory building the model (cap {SPOPT_MEMORY_GB} GB)"}
        (work / "result.json").write_text(json.dumps(result))
        return 0
    build = time.perf_counter() - t0
    stage("solving", build_seconds=build, at=time.perf_counter() - t0)
    cbc_log = work / "cbc.log"
    solver = pulp.PULP_CBC_CMD(
        msg=False,
        timeLimit=float(job["time_limit"]),
        timeMode="elapsed",  # wall clock, as the engine's limit (CBC's default is CPU time)
        threads=int(job["threads"]),
        logPath=str(cbc_log),
    )
    t = time.perf_counter()
    status_text = ""
    try:
        model.solve(solver, results=False)
    except RuntimeError:  # spopt: "Model is not solved: ..." (the status comes below)
        status_text = "no solution"
    except MemoryError:
        status_text = f"out of memory (cap {SPOPT_MEMORY_GB} GB)"
    solve = time.perf_counter() - t
    problem = model.problem
    result: dict[str, Any] = {
        "import_seconds": imported,
        "build_seconds": build,
        "solve_seconds": solve,
        "seconds": build + solve,
        "pulp_status": pulp.LpStatus.get(problem.status, str(problem.status)),
        "pulp_solution_status": pulp.LpSolution.get(problem.sol_status, str(problem.sol_status)),
        "cbc_objective": problem.objective.value() if not status_text else None,
    }
    result.update(_cbc_log_figures(cbc_log))
    if status_text:
        why = result.get("cbc_result") or result["pulp_status"]
        result.update(status=f"{status_text} (CBC: {why})", venue_of=None)
    else:
        values = np.array(
            [[v.value() or 0.0 for v in row] for row in model.cli_assgn_vars], dtype=float
        )
        venue_of = np.where(values.max(axis=1) > 0.5, values.argmax(axis=1), -1)
        optimal = problem.sol_status == pulp.LpSolutionOptimal
        result.update(
            status="optimal (CBC)" if optimal else "stopped on time limit (feasible)",
            venue_of=venue_of.tolist(),
        )
    (work / "result.json").write_text(json.dumps(result))
    return 0


def _cbc_log_figures(path: Path) -> dict[str, Any]:
    """CBC's final 'Result' block: its objective, lower bound and gap (when printed)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    out: dict[str, Any] = {}
    result = re.search(r"^Result - (.+)$", text, flags=re.MULTILINE)
    if result:
        out["cbc_result"] = result.group(1).strip()
    for key, label in (("cbc_lower_bound", "Lower bound"), ("cbc_gap", "Gap")):
        found = re.search(rf"^{label}:\s*([-+0-9.eE]+)", text, flags=re.MULTILINE)
        if found:
            out[key] = float(found.group(1))
    times = re.findall(
        r"Total time \(CPU seconds\):\s*([0-9.]+)\s*\(Wallclock seconds\):\s*([0-9.]+)", text
    )
    if times:
        out["cbc_cpu_seconds"], out["cbc_wall_seconds"] = map(float, times[-1])
    return out


# --- reporting ------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in (
        "ortools",
        "numpy",
        "scikit-learn",
        "k-means-constrained",
        "spopt",
        "pulp",
        "geopandas",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        import clustering

        out["clustering"] = str(clustering.__version__)
    except Exception as exc:
        out["clustering"] = f"import failed: {exc}"
    out["cbc"] = _cbc_version()
    return out


def _cbc_version() -> str:
    if importlib.util.find_spec("pulp") is None:
        return "not installed"
    try:
        import pulp

        run = subprocess.run(
            [pulp.PULP_CBC_CMD().path, "-quit"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
        found = re.search(r"Version:\s*(\S+)", run.stdout)
        return found.group(1) if found else "unknown"
    except Exception:
        return "unknown"


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def rows_for_sample(
    sample: str, n: int, p: int, matrix: np.ndarray, outcomes: list[Outcome]
) -> list[dict[str, Any]]:
    """One row per method, with the ratios against the engine's bound and travel."""
    engine = next((o for o in outcomes if o.method == ENGINE), None)
    lb_km = None
    engine_km = None
    if engine is not None and engine.venue_of is not None:
        lb_km = engine.extra["lower_bound_m"] / 1000.0
        engine_km = evaluate(matrix, engine.venue_of, p)["total_km"]
    rows = []
    for o in outcomes:
        row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
        row.update(sample=sample, method=o.method, n=n, p=p, status=o.status, note=o.note)
        row["seconds"] = _num(o.seconds, 2)
        row["engine_lower_bound_km"] = _num(lb_km, 1)
        if o.venue_of is not None:
            m = evaluate(matrix, o.venue_of, p)
            row.update(
                clusters=m["clusters"],
                total_km=f"{m['total_km']:.1f}",
                worst_km=f"{m['worst_km']:.2f}",
                sizes_ok="yes" if m["sizes_ok"] else f"no ({m['size_range']})",
                venues_in_cluster="yes" if m["venues_in_cluster"] else "no",
            )
            if lb_km:
                row["travel_over_lower_bound"] = f"{m['total_km'] / lb_km:.4f}"
            if engine_km is not None and o.method != ENGINE and m["total_km"] > 0:
                row["engine_vs_method_pct"] = (
                    f"{100.0 * (engine_km - m['total_km']) / m['total_km']:+.2f}"
                )
        if o.method == ENGINE and o.venue_of is not None:
            row["engine_gap_pct"] = f"{100.0 * o.extra['gap']:.2f}"
            if o.extra.get("construction_m") is not None:
                row["construction_km"] = f"{o.extra['construction_m'] / 1000.0:.1f}"
                row["construction_seconds"] = _num(o.extra.get("construction_seconds"), 2)
            row["note"] = (
                f"objective {o.extra['objective_m'] / 1000:.1f} km as the engine reports it; "
                "construction as first reported (engine's number)"
            )
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], time_limit: float, spopt_wall: float) -> str:
    head = [
        ("method", "method"),
        ("clusters", "clusters"),
        ("total_km", "total km"),
        ("worst_km", "worst km"),
        ("seconds", "seconds"),
        ("sizes_ok", "sizes 8–12"),
        ("travel_over_lower_bound", "travel / engine LB"),
        ("engine_vs_method_pct", "engine vs method"),
        ("status", "status"),
    ]
    out = [
        "# Peer comparison (geography only)",
        "",
        f"Straight-line travel, sizes {MIN_SIZE}–{MAX_SIZE}, the same p for every method; "
        f"time limit {time_limit:g} s for the engine and for CBC (spopt's whole run capped at "
        f"{spopt_wall:g} s). Travel is recomputed from each method's assignment. "
        "*travel / engine LB*: the method's total over the engine's lower bound (1.0 = "
        "provably optimal). *engine vs method*: (engine − method) / method; negative means "
        "the engine's layout travels less.",
        "",
    ]
    for sample in dict.fromkeys(r["sample"] for r in rows):
        mine = [r for r in rows if r["sample"] == sample]
        first = mine[0]
        engine = next((r for r in mine if r["method"] == ENGINE), None)
        out.append(f"## {sample} (n = {first['n']}, p = {first['p']})")
        out.append("")
        if engine is not None and engine["engine_lower_bound_km"]:
            out.append(
                f"Engine lower bound {engine['engine_lower_bound_km']} km, gap "
                f"{engine['engine_gap_pct']} %; its first construction: "
                f"{engine['construction_km'] or '–'} km "
                f"at {engine['construction_seconds'] or '–'} s."
            )
            out.append("")
        out.append("| " + " | ".join(label for _, label in head) + " |")
        out.append("|" + "|".join("---" for _ in head) + "|")
        for r in mine:
            cells = []
            for key, _ in head:
                value = str(r[key]) if r[key] != "" else "–"
                if key == "engine_vs_method_pct" and r[key] != "":
                    value += " %"
                cells.append(value.replace("|", "/"))
            out.append("| " + " | ".join(cells) + " |")
        notes = [f"- {r['method']}: {r['note']}" for r in mine if r["note"]]
        if notes:
            out += ["", *notes]
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--spopt-worker"]:
        return spopt_worker(Path(argv[1]))
    parser = argparse.ArgumentParser(description="Engine vs peer methods on the samples.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument(
        "--samples", nargs="+", choices=sorted(SAMPLES), default=list(SAMPLES), metavar="NAME"
    )
    parser.add_argument("--skip-spopt", action="store_true")
    parser.add_argument(
        "--spopt-wall",
        type=float,
        help="seconds before the spopt run (model building + CBC) is stopped "
        "(default 2 × time limit + 60)",
    )
    args = parser.parse_args(argv)
    spopt_wall = args.spopt_wall or 2 * args.time_limit + 60
    started = time.perf_counter()

    import clustering
    from clustering.model.sizes import resolve

    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for sample in args.samples:
        centres = clustering.load_centres(SAMPLES[sample])
        frame = centres.frame
        n = len(frame)
        rule = clustering.SizeRule(MIN_SIZE, MAX_SIZE)
        p = resolve(rule, n).n_clusters
        xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
        matrix = straight_lines(xy)
        print(f"{sample}: {n} schools, p = {p} ({frame.crs.to_string()})", flush=True)
        outcomes: list[Outcome] = []
        try:
            outcomes.append(run_engine(centres, rule, args.time_limit))
        except Exception as exc:  # recorded; the peers still run
            print(f"!!! {sample}: the engine failed: {type(exc).__name__}: {exc}", flush=True)
            outcomes.append(Outcome(ENGINE, None, None, f"failed: {type(exc).__name__}: {exc}"))
        engine = outcomes[0]
        if engine.venue_of is not None and engine.extra["n_clusters"] != p:
            print(f"!!! {sample}: the engine formed {engine.extra['n_clusters']} clusters, not {p}")
        for n_init in (1, 10):
            outcomes.append(run_kmeans(xy, matrix, p, n_init))
        # the engine held to ten times what k-means-constrained (n_init=1) took
        quick = outcomes[1].seconds
        if quick is not None and engine.venue_of is not None:
            limit = max(1.0, 10.0 * quick)
            try:
                short = run_engine(centres, rule, limit)
            except Exception as exc:
                short = Outcome(QUICK, None, None, f"failed: {type(exc).__name__}: {exc}")
            else:
                short = Outcome(
                    QUICK,
                    short.venue_of,
                    short.seconds,
                    short.status,
                    note=f"time limit {limit:.2f} s = 10 x k-means-constrained (n_init=1)",
                    extra=short.extra,
                )
                if outcomes[1].venue_of is not None:
                    mine = evaluate(matrix, short.venue_of, p)["total_km"]
                    theirs = evaluate(matrix, outcomes[1].venue_of, p)["total_km"]
                    short.note += (
                        f"; {100.0 * (mine - theirs) / theirs:+.2f} % travel against "
                        "k-means-constrained (n_init=1)"
                    )
            outcomes.append(short)
        if args.skip_spopt:
            outcomes.append(Outcome("spopt PMedian + CBC", None, None, "skipped (--skip-spopt)"))
        else:
            outcomes.append(run_spopt(matrix, p, args.time_limit, spopt_wall))
        sample_rows = rows_for_sample(sample, n, p, matrix, outcomes)
        for r in sample_rows:
            print(
                f"  {r['method']:<36} total {r['total_km'] or '-':>8} km  worst "
                f"{r['worst_km'] or '-':>6} km  {r['seconds'] or '-':>7} s  sizes "
                f"{r['sizes_ok'] or '-'}  /LB {r['travel_over_lower_bound'] or '-'}  "
                f"engine vs {r['engine_vs_method_pct'] or '-'}%  [{r['status']}]",
                flush=True,
            )
        rows += sample_rows
        details[sample] = {
            "n": n,
            "p": p,
            "crs": frame.crs.to_string(),
            "methods": {o.method: jsonable({"status": o.status, **o.extra}) for o in outcomes},
        }

    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "peers.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    (args.out / "peers.md").write_text(markdown(rows, args.time_limit, spopt_wall) + "\n")
    run = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "time_limit": args.time_limit,
        "spopt_wall": spopt_wall,
        "seed": SEED,
        "workers": WORKERS,
        "sizes": [MIN_SIZE, MAX_SIZE],
        "versions": _versions(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "wall_seconds": time.perf_counter() - started,
        "notes": [
            "travel recomputed from straight-line metres in the loader's projected CRS",
            "spopt PMedian cannot enforce the minimum size; open venues need not serve themselves",
            "k-means venues are cluster medoids",
        ],
        "samples": details,
    }
    (args.out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    print(f"wrote {args.out / 'peers.csv'}, {args.out / 'peers.md'}, {args.out / 'run.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
