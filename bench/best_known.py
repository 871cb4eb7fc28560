"""Record the best layout any method here finds for each bundled sample (geography only).

    python bench/best_known.py [--samples hampshire surrey kentucky] [--seconds 600]
                               [--seeds 0 1] [--methods engine restricted] [--out DIR]
    python bench/best_known.py --short 60 --seeds 0 1 2 [--samples ...]

The reference a short run is measured against: for each sample (the schools of
``clustering.load_centres``, sizes 8–12, the engine's own cluster count, travel in
straight-line metres between projected points, as ``bench/peers.py`` measures it), every
method given here runs for ``--seconds`` and the best layout found so far — in this run or
an earlier one, kept in ``DIR`` — is written back:

* ``engine``: the engine through its public API (``clustering.form_clusters``), one run
  per seed;
* ``restricted``: CP-SAT alone on the whole sample (``clustering.solver.cpsat``, the
  engine's own model), each school offered its 30 nearest venues, hinted with the
  size-bounded k-means layout (``k-means-constrained``, each cluster meeting at its
  medoid), two workers.

Every layout's total is recomputed here from the straight-line matrix, and its sizes,
cluster count and venues checked; a layout that fails is reported and never recorded.

Outputs in ``DIR`` (default ``bench/results/best_known``): ``<sample>.csv``
(``centre_id,venue_id``: the best layout), ``summary.csv`` (per sample: schools,
clusters, best total km, the method, seed and seconds that found it, when and at which
commit) and ``runs.csv`` (every run of every invocation: sample, method, seed, seconds,
total km, valid). :func:`best_known_km` reads ``summary.csv`` for other scripts.

``--short S`` measures instead how far the engine's S-second layouts stand from the recorded
best, one run per seed: ``short_<S>s.csv`` (sample, seed, total km, best known km, per cent
above it; measured once all have run, so against a better layout one of them found too;
``--rescore S`` measures a written file again).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if str(REPO_ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "bench"))

from _common import MAX_SIZE, MIN_SIZE, SAMPLES  # noqa: E402

OUT = REPO_ROOT / "bench" / "results" / "best_known"
SUMMARY_FIELDS = [
    "sample",
    "n",
    "p",
    "total_km",
    "method",
    "seed",
    "seconds",
    "recorded_utc",
    "commit",
]
RUN_FIELDS = ["recorded_utc", "commit", "sample", "method", "seed", "seconds", "total_km", "valid"]
CANDIDATES = 30


def best_known_km(sample: str, folder: Path = OUT) -> float | None:
    """The best total (km) recorded for ``sample``, or ``None``."""
    path = folder / "summary.csv"
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["sample"] == sample:
                return float(row["total_km"])
    return None


def read_layout(path: Path, ids: list[str]) -> np.ndarray | None:
    """A recorded layout as each school's venue row (``None`` if missing or not these ids)."""
    if not path.exists():
        return None
    row = {cid: k for k, cid in enumerate(ids)}
    venue_of = np.full(len(ids), -1, dtype=np.int64)
    with path.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["centre_id"] not in row or r["venue_id"] not in row:
                return None
            venue_of[row[r["centre_id"]]] = row[r["venue_id"]]
    return venue_of


def straight_lines(xy: np.ndarray) -> np.ndarray:
    dx = xy[:, 0][:, None] - xy[:, 0][None, :]
    dy = xy[:, 1][:, None] - xy[:, 1][None, :]
    return np.sqrt(dx * dx + dy * dy)


def check(venue_of: np.ndarray, p: int) -> list[str]:
    """What ``venue_of`` breaks (empty when it is a valid layout of ``p`` clusters)."""
    out = []
    if np.any(venue_of < 0):
        return ["a school has no venue"]
    venues, sizes = np.unique(venue_of, return_counts=True)
    if len(venues) != p:
        out.append(f"{len(venues)} clusters, not {p}")
    if sizes.min() < MIN_SIZE or sizes.max() > MAX_SIZE:
        out.append(f"sizes {sizes.min()}–{sizes.max()}, not {MIN_SIZE}–{MAX_SIZE}")
    if np.any(venue_of[venues] != venues):
        out.append("a venue is not in its own cluster")
    return out


def run_engine(centres, rule, seconds: float, seed: int) -> np.ndarray:
    import clustering

    layout = clustering.form_clusters(
        centres, rule, time_limit=seconds, seed=seed, workers=2, baselines=False
    )
    ids = centres.frame["centre_id"].astype(str).tolist()
    row = {cid: k for k, cid in enumerate(ids)}
    venue_of = np.full(len(ids), -1, dtype=np.int64)
    table = layout.assignments
    for cid, venue in zip(table["centre_id"].astype(str), table["venue_id"], strict=True):
        if cid in row and str(venue) in row:
            venue_of[row[cid]] = row[str(venue)]
    return venue_of


def run_restricted(xy: np.ndarray, matrix: np.ndarray, p: int, seconds: float, seed: int):
    from k_means_constrained import KMeansConstrained

    from clustering.model.sizes import Bounds
    from clustering.solver.cpsat import solve_cpsat

    n = len(xy)
    labels = KMeansConstrained(
        n_clusters=p, size_min=MIN_SIZE, size_max=MAX_SIZE, n_init=1, random_state=seed
    ).fit_predict(xy)
    hint = np.empty(n, dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        hint[members] = members[int(np.argmin(matrix[np.ix_(members, members)].sum(axis=0)))]
    bounds = Bounds(n, MIN_SIZE, MAX_SIZE, p)
    result = solve_cpsat(
        matrix,
        bounds,
        scale=1.0,  # whole metres
        hint=hint,
        candidates=CANDIDATES,
        time_limit=seconds,
        workers=2,
        seed=seed,
    )
    return result.venue_of if result.venue_of is not None else hint


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _read_summary(folder: Path) -> dict[str, dict]:
    path = folder / "summary.csv"
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {row["sample"]: row for row in csv.DictReader(f)}


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def rescored(rows: list[dict], summary: dict[str, dict]) -> list[dict]:
    """Short runs measured against each sample's best known as it stands now (a short run
    may itself have found a better layout after the earlier ones were measured)."""
    out = []
    for row in rows:
        best = summary.get(row["sample"])
        if best is not None:
            best_km, km = float(best["total_km"]), float(row["total_km"])
            row = dict(row, best_known_km=f"{best_km:.3f}")
            row["above_best_pct"] = f"{100.0 * (km / best_km - 1.0):.3f}"
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", nargs="+", choices=sorted(SAMPLES), default=list(SAMPLES))
    parser.add_argument("--seconds", type=float, default=600.0, help="per run (default 600)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--methods", nargs="+", choices=["engine", "restricted"], default=["engine", "restricted"]
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--short",
        type=float,
        metavar="S",
        help="instead: the engine at S seconds for each seed, against the recorded best "
        "(writes DIR/short_<S>s.csv; a short run's better layout is recorded too)",
    )
    parser.add_argument(
        "--rescore",
        type=float,
        metavar="S",
        help="only measure DIR/short_<S>s.csv again against the best known recorded now",
    )
    args = parser.parse_args(argv)
    if args.rescore is not None:
        path = args.out / f"short_{args.rescore:g}s.csv"
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        _write_csv(path, list(rows[0]), rescored(rows, _read_summary(args.out)))
        return 0
    if args.short is not None:
        args.seconds, args.methods = args.short, ["engine"]

    import clustering
    from clustering.model.sizes import resolve

    args.out.mkdir(parents=True, exist_ok=True)
    summary = _read_summary(args.out)
    commit = _commit()
    runs_path = args.out / "runs.csv"
    new_runs = not runs_path.exists()
    failed = 0
    short_rows: list[dict] = []
    for sample in args.samples:
        centres = clustering.load_centres(SAMPLES[sample])
        frame = centres.frame
        ids = frame["centre_id"].astype(str).tolist()
        n = len(ids)
        rule = clustering.SizeRule(MIN_SIZE, MAX_SIZE)
        p = resolve(rule, n).n_clusters
        xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
        matrix = straight_lines(xy)
        best = summary.get(sample)
        best_km = float(best["total_km"]) if best else np.inf
        if best:  # the recorded layout is checked again, never trusted
            recorded = read_layout(args.out / f"{sample}.csv", ids)
            broken = ["no layout file"] if recorded is None else check(recorded, p)
            km = None if broken else float(matrix[np.arange(n), recorded].sum()) / 1000.0
            if broken or abs(km - best_km) > 0.01:
                print(f"!!! {sample}: the recorded best layout does not check out; dropped")
                summary.pop(sample)
                best_km = np.inf
        print(f"{sample}: {n} schools, p = {p}; best known so far: {best_km:,.1f} km", flush=True)
        for method in args.methods:
            for seed in args.seeds:
                t = time.perf_counter()
                if method == "engine":
                    venue_of = run_engine(centres, rule, args.seconds, seed)
                else:
                    venue_of = run_restricted(xy, matrix, p, args.seconds, seed)
                seconds = time.perf_counter() - t
                broken = check(venue_of, p)
                km = float(matrix[np.arange(n), venue_of].sum()) / 1000.0 if not broken else None
                now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
                with runs_path.open("a", newline="", encoding="utf-8") as f:
                    writer = csv.DictWriter(f, fieldnames=RUN_FIELDS)
                    if new_runs:
                        writer.writeheader()
                        new_runs = False
                    writer.writerow(
                        {
                            "recorded_utc": now,
                            "commit": commit,
                            "sample": sample,
                            "method": method,
                            "seed": seed,
                            "seconds": f"{seconds:.1f}",
                            "total_km": "" if km is None else f"{km:.3f}",
                            "valid": "yes" if not broken else "; ".join(broken),
                        }
                    )
                if broken:
                    failed += 1
                    print(f"!!! {sample} {method} seed {seed}: INVALID: {'; '.join(broken)}")
                    continue
                print(f"  {method:<10} seed {seed}: {km:,.1f} km in {seconds:.0f} s", flush=True)
                if args.short is not None:
                    short_rows.append(
                        {
                            "recorded_utc": now,
                            "commit": commit,
                            "sample": sample,
                            "seed": seed,
                            "time_limit": args.short,
                            "seconds": f"{seconds:.1f}",
                            "total_km": f"{km:.3f}",
                            "best_known_km": f"{best_km:.3f}",
                            "above_best_pct": f"{100.0 * (km / best_km - 1.0):.3f}",
                        }
                    )
                if km < best_km - 1e-6:
                    best_km = km
                    summary[sample] = {
                        "sample": sample,
                        "n": n,
                        "p": p,
                        "total_km": f"{km:.3f}",
                        "method": method,
                        "seed": seed,
                        "seconds": f"{seconds:.1f}",
                        "recorded_utc": now,
                        "commit": commit,
                    }
                    _write_csv(
                        args.out / f"{sample}.csv",
                        ["centre_id", "venue_id"],
                        [{"centre_id": ids[i], "venue_id": ids[venue_of[i]]} for i in range(n)],
                    )
                    _write_csv(args.out / "summary.csv", SUMMARY_FIELDS, list(summary.values()))
                    print(f"  new best known for {sample}: {km:,.1f} km", flush=True)
    if short_rows:
        rows = rescored(short_rows, summary)
        _write_csv(args.out / f"short_{args.short:g}s.csv", list(rows[0]), rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
