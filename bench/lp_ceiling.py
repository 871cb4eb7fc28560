"""How high can a bound from the LP relaxation go? A ceiling, measured with HiGHS.

    python bench/lp_ceiling.py --out DIR [--samples kentucky hampshire surrey] [--nearest 25]

The engine's lower bound is Lagrangian: it relaxes "each school in exactly one
cluster", and with count bounds alone (sizes 8–12) each venue's subproblem has
the integrality property, so the best bound of that family equals the LP
relaxation of the strong formulation (``x_ij ≤ y_j``, sizes on opened venues,
``p`` venues). This script solves that LP with HiGHS (``scipy.optimize.linprog``)
on a restricted set of pairs: each venue's ``--nearest`` nearest schools (itself
included). Dropping pairs can only raise an LP's minimum, so the figure is an
upper limit on the full LP — on every bound of this family — and says how close
to a layout any such bound can come. Geography only (straight-line metres in the
loader's projected CRS), sizes 8–12, ``p`` as the engine resolves it.

Outputs in ``DIR``: ``lp_ceiling.csv`` (sample, n, p, nearest, lp_km, status,
seconds) and ``run.json`` (command, versions, machine).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import platform
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SAMPLES = {
    "hampshire": REPO_ROOT / "data" / "sample" / "hampshire_primary_schools_2022.csv",
    "surrey": REPO_ROOT / "data" / "sample" / "surrey_primary_schools_2022.csv",
    "kentucky": REPO_ROOT / "data" / "sample" / "kentucky_schools_2016_17.csv",
}
MIN_SIZE, MAX_SIZE = 8, 12


def restricted_lp(
    xy: np.ndarray, p: int, lo: int, hi: int, nearest: int
) -> tuple[float, str, float]:
    """The LP of the size-bounded p-median on each venue's ``nearest`` nearest points.

    Returns (minimum in metres, HiGHS status message, seconds).
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog
    from scipy.spatial import cKDTree

    n = len(xy)
    k = min(nearest, n)
    dist, near = cKDTree(xy).query(xy, k=k)  # venue j's k nearest members (j first)
    members, venues = near.ravel(), np.repeat(np.arange(n), k)
    m = len(members)
    cost = np.concatenate([dist.ravel(), np.zeros(n)])
    pair, y = np.arange(m), m + venues
    ones = np.ones(m)
    assign = sp.csr_matrix((ones, (members, pair)), shape=(n, m + n))
    count = sp.csr_matrix((np.ones(n), (np.zeros(n), m + np.arange(n))), shape=(1, m + n))
    upper = sp.csr_matrix(
        (np.concatenate([ones, -ones]), (np.concatenate([pair, pair]), np.concatenate([pair, y]))),
        shape=(m, m + n),
    )
    size = sp.csr_matrix((ones, (venues, pair)), shape=(n, m + n))
    opened = sp.csr_matrix((np.ones(n), (np.arange(n), m + np.arange(n))), shape=(n, m + n))
    a_ub = sp.vstack([upper, size - hi * opened, lo * opened - size]).tocsr()
    t = time.perf_counter()
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.zeros(a_ub.shape[0]),
        A_eq=sp.vstack([assign, count]).tocsr(),
        b_eq=np.concatenate([np.ones(n), [p]]),
        bounds=(0, 1),
        method="highs",
    )
    seconds = time.perf_counter() - t
    value = float(res.fun) if res.status == 0 else float("nan")
    return value, str(res.message), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Upper limit on LP-family lower bounds.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--samples", nargs="+", choices=sorted(SAMPLES), default=["kentucky"], metavar="NAME"
    )
    parser.add_argument("--nearest", type=int, default=25)
    args = parser.parse_args(argv)

    import clustering
    from clustering.spec import resolve

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for sample in args.samples:
        frame = clustering.load_centres(SAMPLES[sample]).frame
        n = len(frame)
        p = resolve(clustering.SizeRule(MIN_SIZE, MAX_SIZE), n).n_clusters
        xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
        value, message, seconds = restricted_lp(xy, p, MIN_SIZE, MAX_SIZE, args.nearest)
        row = {
            "sample": sample,
            "n": n,
            "p": p,
            "nearest": args.nearest,
            "lp_km": round(value / 1000, 3),
            "status": message,
            "seconds": round(seconds, 2),
        }
        print(row, flush=True)
        rows.append(row)
    with open(args.out / "lp_ceiling.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    record = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            **{pkg: metadata.version(pkg) for pkg in ("numpy", "scipy")},
        },
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "rows": rows,
    }
    (args.out / "run.json").write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
