"""Run the engine on capacitated p-median (CPMP) benchmark instances, reproducibly.

    python bench/cpmp.py INSTANCE... --time-limit S --out DIR [--seed N] [--workers 2]
                         [--best-known CSV] [--all] [--quiet]

Two instance formats, told apart by their content (see ../shared/benchmarks/README.md):

* OR-Library ``pmedcap``: line 1 ``problem_no optimum``, line 2 ``n p Q``, then n lines
  ``id x y demand``; distance = floor(euclidean); every point a venue of capacity Q.
* Lorena–Senne ``.dat``: line 1 ``n p``, then n lines ``x y capacity demand``;
  distance = real euclidean. The engine takes one capacity per instance, so a file
  whose capacities differ is refused (with its name), not solved.

The engine runs through its public API only (``clustering.form_clusters`` with the
benchmark's distance matrix). Every reported total is recomputed here from the written
assignment and the instance's distance rule — never the engine's own number — and the
assignment is checked (exactly p venues, every venue its own venue, every point
assigned, capacity respected); a failed check is printed loudly and the instance is
marked ``INVALID`` in ``summary.csv``.

Outputs in ``DIR``: ``<instance>.csv`` (``point,venue``, 1-based point numbers in file
order), ``summary.csv`` (``instance,n,p,objective,best_known,gap_pct,seconds,
seconds_to_best,lower_bound,status``; ``seconds`` is the wall time of the engine call,
``seconds_to_best`` when the engine first held the layout it returned, from its own
progress record) and ``run.json``
(one record appended per run: command, seed, limits, versions, machine, and per
instance the total time including reading, the engine's own figures and the checks).

Exit status: 0 when every instance that ran gave a valid layout; 1 when nothing ran
(missing or unreadable files, or engine errors on all of them); 2 when some instance
ended ``INVALID`` or ``ERROR``.

``best_known`` comes from ``../shared/benchmarks/best_known_values.csv`` (matched by file
name), else from ``--best-known`` (columns ``instance,value``), else from a pmedcap file's
own header. A total counts as "at best known" within 0.005 (published real-valued totals
have two decimals); a total below the best known is flagged.

The engine is handed the coordinates only for its construction (distances come as the
matrix); grids so small that every x/y lies within ±180/±90 would look like degrees to
the loader, so they are translated (which changes no distance; ``run.json`` records the
shift).

The parsing and checking functions (:func:`read_instance`, :func:`distances`,
:func:`recompute`, :func:`violations`, :func:`read_assignment`; assignments as 0-based
``venue_of`` arrays) import without the engine, for tests::

    sys.path.insert(0, "bench"); import cpmp
    # or importlib: register the module in sys.modules before exec_module (dataclasses)
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
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

from _common import jsonable  # noqa: E402

#: where ``--all`` looks, and where the best-known values live
BENCHMARKS = REPO_ROOT.parent / "shared" / "benchmarks"
BEST_KNOWN_FILE = BENCHMARKS / "best_known_values.csv"

#: an objective within this of the best-known value counts as "at best known"
#: (published real-valued totals are rounded to two decimals)
AT_BEST_ABS = 0.005
AT_BEST_REL = 1e-9

SUMMARY_COLUMNS = [
    "instance",
    "n",
    "p",
    "objective",
    "best_known",
    "gap_pct",
    "seconds",
    "seconds_to_best",
    "lower_bound",
    "status",
]

PMEDCAP = "pmedcap"
LORENA_SENNE = "lorena-senne"


class InstanceError(ValueError):
    """A benchmark file that cannot be read (the message names the file and line)."""


@dataclass
class Instance:
    """One CPMP instance: points in file order, each a candidate venue of capacity Q."""

    name: str
    path: Path
    format: str  # PMEDCAP or LORENA_SENNE
    n: int
    p: int
    capacity: float
    x: np.ndarray
    y: np.ndarray
    demand: np.ndarray
    #: ``"floor"`` (OR-Library) or ``"real"`` euclidean distances
    rounding: str
    #: the optimum the file itself states (pmedcap line 1), if any
    file_optimum: float | None = None
    warnings: list[str] = field(default_factory=list)


# --- reading ----------------------------------------------------------------------------


def _numbers(path: Path, lineno: int, tokens: list[str], what: str) -> list[float]:
    out = []
    for tok in tokens:
        try:
            value = float(tok)
        except ValueError:
            raise InstanceError(
                f"{path}: line {lineno}: {tok!r} is not a number (expected {what})"
            ) from None
        if not math.isfinite(value):
            raise InstanceError(f"{path}: line {lineno}: {tok!r} is not finite ({what})")
        out.append(value)
    return out


def _whole(path: Path, lineno: int, value: float, name: str, least: int) -> int:
    if not float(value).is_integer() or value < least:
        raise InstanceError(
            f"{path}: line {lineno}: {name} must be a whole number >= {least} (got {value:g})"
        )
    return int(value)


def read_instance(path: str | Path) -> Instance:
    """Read a pmedcap or Lorena–Senne file (format told by content).

    Blank lines, tabs, Windows line ends and ``#`` comment lines are tolerated. Raises
    :class:`InstanceError` naming the file and line for anything malformed, and for
    Lorena–Senne files whose capacities differ between points.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except UnicodeDecodeError:
        raise InstanceError(f"{path}: not a text file") from None
    lines = [
        (k + 1, line.split())
        for k, line in enumerate(text.splitlines())
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if len(lines) < 2:
        raise InstanceError(f"{path}: too short to be a CPMP instance ({len(lines)} data lines)")
    (l1, t1), (l2, t2) = lines[0], lines[1]
    if len(t1) == 2 and len(t2) == 3:
        fmt, row_width, header = PMEDCAP, 4, 2
        optimum_line = _numbers(path, l1, t1, "problem_no optimum")
        n_, p_, q_ = _numbers(path, l2, t2, "n p Q")
        n = _whole(path, l2, n_, "n", 1)
        p = _whole(path, l2, p_, "p", 1)
        capacity = q_
        file_optimum: float | None = optimum_line[1]
        what = "id x y demand"
    elif len(t1) == 2 and len(t2) == 4:
        fmt, row_width, header = LORENA_SENNE, 4, 1
        n_, p_ = _numbers(path, l1, t1, "n p")
        n = _whole(path, l1, n_, "n", 1)
        p = _whole(path, l1, p_, "p", 1)
        capacity = math.nan  # from the rows
        file_optimum = None
        what = "x y capacity demand"
    else:
        raise InstanceError(
            f"{path}: cannot tell the format: line {l1} has {len(t1)} value(s) and line {l2} "
            f"{len(t2)}; expected 'problem_no optimum' then 'n p Q' (OR-Library pmedcap) "
            "or 'n p' then 'x y capacity demand' rows (Lorena–Senne)"
        )
    if p > n:
        raise InstanceError(f"{path}: p = {p} venues but only n = {n} points")
    rows = lines[header : header + n]
    if len(rows) < n:
        raise InstanceError(
            f"{path}: the header says n = {n} points but the file has {len(rows)} point rows"
        )
    values = np.empty((n, row_width), dtype=float)
    for k, (lineno, tokens) in enumerate(rows):
        if len(tokens) != row_width:
            raise InstanceError(
                f"{path}: line {lineno}: expected {row_width} numbers ({what}) for point "
                f"{k + 1}, found {len(tokens)}"
            )
        values[k] = _numbers(path, lineno, tokens, what)
    warnings: list[str] = []
    extra = lines[header + n :]
    if extra:
        lineno, tokens = extra[0]
        if len(tokens) == row_width:
            raise InstanceError(f"{path}: line {lineno}: more point rows than the header's n = {n}")
        warnings.append(f"{path}: ignored {len(extra)} line(s) after the points (from {lineno})")
    line_of = [lineno for lineno, _ in rows]
    if fmt == PMEDCAP:
        ids, x, y, demand = values.T
        if not np.array_equal(ids, np.arange(1, n + 1)):
            warnings.append(f"{path}: point ids are not 1..n in order; file order is used")
    else:
        x, y, caps, demand = values.T
        if not np.all(caps == caps[0]):
            k = int(np.flatnonzero(caps != caps[0])[0])
            raise InstanceError(
                f"{path}: capacities differ between points (line {line_of[0]}: {caps[0]:g}, "
                f"line {line_of[k]}: {caps[k]:g}); the engine supports one uniform capacity "
                "per instance, so this file cannot be run"
            )
        capacity = float(caps[0])
    if capacity <= 0:
        raise InstanceError(f"{path}: the capacity must be above 0 (got {capacity:g})")
    if np.any(demand < 0):
        k = int(np.flatnonzero(demand < 0)[0])
        raise InstanceError(f"{path}: line {line_of[k]}: negative demand {demand[k]:g}")
    return Instance(
        name=path.stem,
        path=path,
        format=fmt,
        n=n,
        p=p,
        capacity=float(capacity),
        x=np.ascontiguousarray(x),
        y=np.ascontiguousarray(y),
        demand=np.ascontiguousarray(demand),
        rounding="floor" if fmt == PMEDCAP else "real",
        file_optimum=file_optimum,
        warnings=warnings,
    )


# --- distances and checks ----------------------------------------------------------------


def pair_distances(inst: Instance, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Distance from point ``rows[k]`` to point ``cols[k]`` (0-based) by the instance's rule."""
    dx = inst.x[rows] - inst.x[cols]
    dy = inst.y[rows] - inst.y[cols]
    d = np.sqrt(dx * dx + dy * dy)
    return np.floor(d) if inst.rounding == "floor" else d


def distances(inst: Instance) -> np.ndarray:
    """The n × n point → venue distance matrix (floor or real euclidean)."""
    dx = inst.x[:, None] - inst.x[None, :]
    d = dx * dx
    del dx
    dy = inst.y[:, None] - inst.y[None, :]
    d += dy * dy
    del dy
    np.sqrt(d, out=d)
    if inst.rounding == "floor":
        np.floor(d, out=d)
    return d


def recompute(inst: Instance, venue_of: np.ndarray) -> float:
    """Total distance of the assignment ``venue_of`` (0-based venue index of each point)."""
    venue_of = np.asarray(venue_of, dtype=np.int64)
    return float(pair_distances(inst, np.arange(inst.n), venue_of).sum())


def violations(inst: Instance, venue_of: np.ndarray) -> list[str]:
    """What the assignment ``venue_of`` (0-based, -1 = unassigned) breaks, in words."""
    venue_of = np.asarray(venue_of, dtype=np.int64)
    out: list[str] = []
    if venue_of.shape != (inst.n,):
        return [f"{venue_of.size} assignments for {inst.n} points"]
    unassigned = np.flatnonzero((venue_of < 0) | (venue_of >= inst.n))
    if len(unassigned):
        shown = ", ".join(str(i + 1) for i in unassigned[:5])
        out.append(f"{len(unassigned)} point(s) without a valid venue (e.g. point {shown})")
        return out
    venues = np.unique(venue_of)
    if len(venues) != inst.p:
        out.append(f"{len(venues)} venues instead of p = {inst.p}")
    not_own = venues[venue_of[venues] != venues]
    if len(not_own):
        shown = ", ".join(str(v + 1) for v in not_own[:5])
        out.append(f"{len(not_own)} venue(s) not assigned to themselves (e.g. point {shown})")
    load = np.bincount(venue_of, weights=inst.demand, minlength=inst.n)
    over = np.flatnonzero(load > inst.capacity + 1e-9 * max(1.0, inst.capacity))
    if len(over):
        v = int(over[np.argmax(load[over])])
        out.append(
            f"{len(over)} venue(s) over capacity {inst.capacity:g} "
            f"(worst: point {v + 1} with demand {load[v]:g})"
        )
    return out


def write_assignment(path: Path, venue_of: np.ndarray) -> None:
    """``point,venue`` with 1-based point numbers in file order (-1 → empty venue)."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["point", "venue"])
        for i, v in enumerate(np.asarray(venue_of, dtype=np.int64)):
            w.writerow([i + 1, int(v) + 1 if v >= 0 else ""])


def read_assignment(path: str | Path, n: int) -> np.ndarray:
    """Read a ``point,venue`` file back as 0-based ``venue_of`` (-1 where missing)."""
    venue_of = np.full(n, -1, dtype=np.int64)
    with Path(path).open(newline="") as f:
        for row in csv.DictReader(f):
            point = int(row["point"])
            if 1 <= point <= n and row["venue"].strip():
                venue_of[point - 1] = int(row["venue"]) - 1
    return venue_of


# --- best-known values ------------------------------------------------------------------


def _read_best_known(path: Path, keys: tuple[str, ...]) -> dict[str, float]:
    """name → value from a CSV; each of ``keys`` (columns) that exists names the instance,
    by file name and by stem."""
    out: dict[str, float] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            try:
                value = float(row["value"])
            except (KeyError, TypeError, ValueError):
                continue
            for key in keys:
                name = (row.get(key) or "").strip()
                if name:
                    out.setdefault(Path(name).name, value)
                    out.setdefault(Path(name).stem, value)
    return out


def best_known_for(
    inst: Instance, shared: dict[str, float], given: dict[str, float]
) -> tuple[float | None, str]:
    """The best-known total and where it came from: the shared table (by file name), the
    ``--best-known`` file, or the pmedcap file's own header."""
    for table, label in ((shared, str(BEST_KNOWN_FILE)), (given, "--best-known")):
        for key in (inst.path.name, inst.name):
            if key in table:
                return table[key], label
    if inst.file_optimum is not None:
        return inst.file_optimum, "file header"
    return None, ""


def at_best(objective: float, best: float | None) -> bool:
    if best is None:
        return False
    return objective <= best + AT_BEST_ABS + AT_BEST_REL * abs(best)


# --- running ------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("ortools", "numpy", "pandas", "geopandas"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        import clustering

        out["clustering"] = str(clustering.__version__)
    except Exception as exc:  # the engine may be mid-edit; the record says so
        out["clustering"] = f"import failed: {exc}"
    return out


def _engine_fingerprint() -> dict[str, str]:
    """The engine's source as run: git HEAD (read-only) and a hash of clustering/*.py,
    which also captures uncommitted edits."""
    digest = hashlib.sha256()
    for src in sorted((REPO_ROOT / "clustering").rglob("*.py")):
        digest.update(str(src.relative_to(REPO_ROOT)).encode())
        digest.update(src.read_bytes())
    out = {"clustering_sources_sha256": digest.hexdigest()}
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        out["git_head"] = head.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        out["git_head"] = "unknown"
    return out


def _machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python_implementation": platform.python_implementation(),
    }


def _fmt(value: float | None, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


#: the loader takes x/y all within ±180/±90 for degrees, and EPSG:3857 spans about ±2e7 m
_DEGREE_LIKE = (180.0, 90.0)
_MERCATOR_EXTENT = 1.9e7


def engine_coordinates(inst: Instance) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """x/y as handed to the loader (EPSG:3857 metres) and the shift applied to them.

    The engine gets the distances as a matrix, so its coordinates only guide the
    construction; a translation changes no distance. Small benchmark grids (every
    value within ±180/±90) would look like degrees to the loader, and very large ones
    fall outside Web Mercator, so those are moved to start at (1000, 1000).
    """
    x, y = inst.x, inst.y
    degree_like = np.all(np.abs(x) <= _DEGREE_LIKE[0]) and np.all(np.abs(y) <= _DEGREE_LIKE[1])
    too_far = max(np.abs(x).max(), np.abs(y).max()) > _MERCATOR_EXTENT
    if not (degree_like or too_far):
        return x, y, (0.0, 0.0)
    shift = (1000.0 - float(x.min()), 1000.0 - float(y.min()))
    return x + shift[0], y + shift[1], shift


def solve(
    inst: Instance,
    *,
    time_limit: float,
    seed: int,
    workers: int,
    quiet: bool,
) -> tuple[np.ndarray, Any, float]:
    """Run the engine's public API on ``inst``; returns 0-based ``venue_of``, the layout
    and the wall time of the ``form_clusters`` call."""
    import pandas as pd

    import clustering

    ids = [str(i) for i in range(1, inst.n + 1)]
    x, y, _ = engine_coordinates(inst)
    frame = pd.DataFrame({"id": ids, "name": ids, "x": x, "y": y, "demand": inst.demand})
    centres = clustering.load_centres(frame, crs="EPSG:3857")
    matrix = pd.DataFrame(distances(inst), index=ids, columns=ids)
    rule = clustering.SizeRule(
        min_size=1,
        max_size=inst.n,
        n_clusters=inst.p,
        size_by="demand",
        max_weight=inst.capacity,
    )

    def progress(event: clustering.Progress) -> None:
        print(
            f"    {event.seconds:7.2f} s  {event.stage:<14} objective {event.objective:,.2f}"
            f"  bound {event.lower_bound:,.2f}",
            flush=True,
        )

    t = time.perf_counter()
    layout = clustering.form_clusters(
        centres,
        rule,
        distances=matrix,
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        baselines=False,
        progress=None if quiet else progress,
    )
    seconds = time.perf_counter() - t
    del matrix
    assignments = layout.assignments
    index = {cid: k for k, cid in enumerate(ids)}
    venue_of = np.full(inst.n, -1, dtype=np.int64)
    for cid, venue in zip(
        assignments["centre_id"].astype(str), assignments["venue_id"], strict=True
    ):
        if cid in index and isinstance(venue, str | int) and str(venue) in index:
            venue_of[index[cid]] = index[str(venue)]
    return venue_of, layout, seconds


def _unique_names(instances: list[Instance]) -> None:
    seen: dict[str, int] = {}
    for inst in instances:
        seen[inst.name] = seen.get(inst.name, 0) + 1
    for inst in instances:
        if seen[inst.name] > 1:
            inst.name = f"{inst.path.parent.name}_{inst.path.stem}"


def _all_instances() -> list[Path]:
    return sorted((BENCHMARKS / "pmedcap1").glob("*.txt")) + sorted(
        (BENCHMARKS / "lorena_senne").glob("*.dat")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the clustering engine on CPMP benchmark instances and check the results."
    )
    parser.add_argument("instances", nargs="*", type=Path, help="pmedcap .txt / Lorena–Senne .dat")
    parser.add_argument("--all", action="store_true", help=f"every instance under {BENCHMARKS}")
    parser.add_argument("--time-limit", type=float, required=True, help="seconds per instance")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--best-known", type=Path, help="CSV with columns instance,value")
    parser.add_argument("--quiet", action="store_true", help="no engine progress lines")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    paths: list[Path] = list(args.instances)
    if args.all:
        if not BENCHMARKS.is_dir():
            print(f"skipped: {os.path.relpath(BENCHMARKS, REPO_ROOT)} not found")
            return 0
        paths += _all_instances()
    if not paths:
        parser.error("give instance files or --all")
    unique: list[Path] = []
    for path in paths:
        if path.resolve() not in {p.resolve() for p in unique}:
            unique.append(path)

    # read every file first, so a bad one is reported before any long solve
    instances: list[Instance] = []
    read_seconds: dict[int, float] = {}
    for path in unique:
        if not path.exists():
            print(f"missing: {path} does not exist; skipped", file=sys.stderr)
            continue
        t = time.perf_counter()
        try:
            inst = read_instance(path)
        except (InstanceError, OSError) as exc:
            print(f"unreadable: {exc}; skipped", file=sys.stderr)
            continue
        read_seconds[id(inst)] = time.perf_counter() - t
        for note in inst.warnings:
            print(f"warning: {note}", file=sys.stderr)
        instances.append(inst)
    if not instances:
        print("nothing ran: no readable instance", file=sys.stderr)
        return 1
    _unique_names(instances)

    shared = (
        _read_best_known(BEST_KNOWN_FILE, ("file", "instance")) if BEST_KNOWN_FILE.is_file() else {}
    )
    given: dict[str, float] = {}
    if args.best_known is not None:
        if not args.best_known.is_file():
            print(f"warning: --best-known {args.best_known} not found", file=sys.stderr)
        else:
            given = _read_best_known(args.best_known, ("instance", "file"))

    t = time.perf_counter()
    try:
        import clustering  # noqa: F401  (imported once here, so no instance's time includes it)
    except Exception as exc:
        print(f"nothing ran: the engine does not import: {type(exc).__name__}: {exc}")
        return 1
    import_seconds = time.perf_counter() - t

    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for inst in instances:
        best, best_source = best_known_for(inst, shared, given)
        if (
            inst.file_optimum is not None
            and best is not None
            and best_source != "file header"
            and abs(best - inst.file_optimum) > AT_BEST_ABS
        ):
            print(
                f"warning: {inst.name}: best known {best:g} ({best_source}) differs from the "
                f"file header's optimum {inst.file_optimum:g}",
                file=sys.stderr,
            )
        if not args.quiet:  # context for the engine's progress lines that follow
            print(
                f"{inst.name}: n={inst.n} p={inst.p} Q={inst.capacity:g} ({inst.format}, "
                f"{inst.rounding} euclidean)",
                flush=True,
            )
        t = time.perf_counter()
        record: dict[str, Any] = {
            "instance": inst.name,
            "path": str(inst.path),
            "format": inst.format,
            "n": inst.n,
            "p": inst.p,
            "capacity": inst.capacity,
            "distance": f"{inst.rounding} euclidean",
            "best_known": best,
            "best_known_source": best_source,
            "read_seconds": read_seconds.get(id(inst), 0.0),
            "coordinate_shift": list(engine_coordinates(inst)[2]),
        }
        objective: float | None = None
        lower: float | None = None
        seconds: float | None = None
        to_best: float | None = None
        try:
            venue_of, layout, seconds = solve(
                inst,
                time_limit=args.time_limit,
                seed=args.seed,
                workers=args.workers,
                quiet=args.quiet,
            )
        except Exception as exc:  # the engine's error, recorded; the other instances still run
            status = "ERROR"
            message = f"{type(exc).__name__}: {exc}"
            print(f"!!! {inst.name}: the engine failed: {message}", file=sys.stderr)
            record["error"] = message
        else:
            write_assignment(args.out / f"{inst.name}.csv", venue_of)
            # the total and the checks come from the file just written
            written = read_assignment(args.out / f"{inst.name}.csv", inst.n)
            problems = violations(inst, written)
            assigned = bool(np.all((written >= 0) & (written < inst.n)))
            objective = recompute(inst, written) if assigned else None
            lower = float(layout.lower_bound)
            to_best = layout.stats.get("best_found_seconds")
            status = "INVALID" if problems else str(layout.status)
            if problems:
                for problem in problems:
                    print(f"!!! INVALID {inst.name}: {problem}", file=sys.stderr)
            if objective is not None and abs(objective - layout.objective) > 1e-6 * max(
                1.0, abs(objective)
            ):
                print(
                    f"!!! {inst.name}: recomputed total {objective:.6f} differs from the "
                    f"engine's {layout.objective:.6f}",
                    file=sys.stderr,
                )
            if objective is not None and lower > objective + 1e-6 * max(1.0, objective):
                print(
                    f"!!! {inst.name}: the engine's lower bound {lower:.6f} is above the "
                    f"recomputed total {objective:.6f}",
                    file=sys.stderr,
                )
            below = best is not None and objective is not None and not problems
            if below and objective < best - AT_BEST_ABS - AT_BEST_REL * abs(best):
                print(
                    f"!!! {inst.name}: total {objective:.6f} is below the best known "
                    f"{best:g}: check the distance rule and the reference value",
                    file=sys.stderr,
                )
            record.update(
                checks=problems or ["passed"],
                engine_objective=float(layout.objective),
                engine_status=str(layout.status),
                engine_gap=float(layout.gap),
                stats=jsonable(layout.stats),
            )
        total = time.perf_counter() - t + record["read_seconds"]
        gap_pct = (
            100.0 * (objective - best) / best
            if objective is not None and best not in (None, 0)
            else None
        )
        row = {
            "instance": inst.name,
            "n": inst.n,
            "p": inst.p,
            "objective": _fmt(objective),
            "best_known": _fmt(best),
            "gap_pct": _fmt(gap_pct, 4),
            "seconds": _fmt(seconds, 3),
            "seconds_to_best": _fmt(to_best, 3),
            "lower_bound": _fmt(lower),
            "status": status,
        }
        rows.append(row)
        record.update(
            objective=objective,
            gap_pct=gap_pct,
            lower_bound=lower,
            status=status,
            engine_seconds=seconds,
            seconds_to_best=to_best,
            total_seconds=total,
        )
        records.append(record)
        print(
            f"{inst.name}: objective {row['objective'] or '-'}  best known "
            f"{row['best_known'] or '-'}  gap {row['gap_pct'] or '-'}%  "
            f"{row['seconds'] or '-'} s (best found at {row['seconds_to_best'] or '-'} s)  "
            f"[{status}]",
            flush=True,
        )

    with (args.out / "summary.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        w.writeheader()
        w.writerows(rows)

    ran = [r for r in records if r["engine_seconds"] is not None]
    secs = [r["engine_seconds"] for r in ran]
    to_best = [r["seconds_to_best"] for r in ran if r.get("seconds_to_best") is not None]
    valid = [r for r in ran if r["status"] != "INVALID"]
    with_best = [r for r in valid if r["best_known"] is not None]
    hits = sum(at_best(r["objective"], r["best_known"]) for r in with_best)
    if secs:
        print(
            f"done: {len(ran)} instance(s); seconds median {statistics.median(secs):.2f}, "
            f"max {max(secs):.2f}; to the final layout median "
            f"{statistics.median(to_best) if to_best else math.nan:.2f}, "
            f"max {max(to_best, default=math.nan):.2f}; at best known {hits}/{len(with_best)}"
            + (f"; INVALID {len(ran) - len(valid)}" if len(valid) < len(ran) else "")
            + (f"; engine errors {len(records) - len(ran)}" if len(ran) < len(records) else ""),
            flush=True,
        )
    else:
        print(f"done: no instance solved ({len(records)} engine error(s))", flush=True)

    run = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seed": args.seed,
        "time_limit": args.time_limit,
        "workers": args.workers,
        "versions": _versions(),
        "engine": _engine_fingerprint(),
        "machine": _machine(),
        "at_best_known": f"objective <= best + {AT_BEST_ABS} + {AT_BEST_REL:g} * best",
        "wall_seconds": time.perf_counter() - started,
        "engine_import_seconds": import_seconds,
        "instances": jsonable(records),
    }
    log = args.out / "run.json"
    history: list[Any] = []
    if log.is_file():
        try:
            old = json.loads(log.read_text())
            history = old if isinstance(old, list) else [old]
        except json.JSONDecodeError:
            print(f"warning: {log} was not JSON; starting a new log", file=sys.stderr)
    history.append(run)
    log.write_text(json.dumps(history, indent=2) + "\n")

    if not ran:
        return 1
    if any(r["status"] in ("INVALID", "ERROR") for r in records):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
