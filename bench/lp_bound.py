"""The LP relaxation on the samples, solved exactly, against the engine's Lagrangian bound.

    python bench/lp_bound.py --out DIR [--samples hampshire surrey kentucky]
                             [--nearest 25] [--bound-seconds 10]

The engine's lower bound is Lagrangian: it relaxes "each school in exactly one
cluster". With count bounds alone (sizes 8–12) each venue's subproblem has the
integrality property, so the best bound of that family equals the LP relaxation
of the strong formulation (``x_ij ≤ y_j``, sizes on opened venues, ``p``
venues). This script solves that LP exactly with HiGHS (``scipy.optimize.linprog``)
by column generation: start from each venue's ``--nearest`` nearest schools,
price every other pair with the duals (reduced cost ``d_ij − u_i − μ_j + ν_j``:
assignment, upper and lower size rows), add the pairs that price negative (up to
ten per school per round) and solve again until none does. It then runs the
engine's bound routine (``clustering.bound.lagrangian_bound``) for
``--bound-seconds`` on the same problem and reports both.

When the two agree, no bound of this family can certify a smaller gap: what is
left between a layout and the bound is the LP's integrality gap (plus whatever
the layout lacks), and only a stronger relaxation (cuts, branching) closes it.

Geography only: straight-line metres in the loader's projected CRS, sizes 8–12,
``p`` as the engine resolves it. No pricing round starts after ``--max-seconds``; a row
that stopped there says ``converged = False`` and its ``lp_km`` is then only an upper
limit on the LP (still an upper limit on every bound of this family).
Outputs in ``DIR``: ``lp_bound.csv`` (sample, n, p, lp_km, converged, rounds, pairs,
lp_seconds, status, lagrangian_km, lagrangian_seconds, lagrangian_below_lp_pct) and
``run.json`` (command, versions, machine, rows).
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
if str(REPO_ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "bench"))

from _common import MAX_SIZE, MIN_SIZE, SAMPLES  # noqa: E402

#: reduced cost below which a pair is added (metres)
PRICE_TOL = 1e-6


def _restricted(dist: np.ndarray, members, venues, p: int, lo: int, hi: int):
    """Solve the LP on the pairs ``(members[k], venues[k])``; returns HiGHS's result."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    n, m = len(dist), len(members)
    cost = np.concatenate([dist[members, venues], np.zeros(n)])
    pair, ones, y = np.arange(m), np.ones(m), m + np.arange(n)
    assign = sp.csr_matrix((ones, (members, pair)), shape=(n, m + n))
    count = sp.csr_matrix((np.ones(n), (np.zeros(n), y)), shape=(1, m + n))
    upper = sp.csr_matrix(
        (
            np.concatenate([ones, -ones]),
            (np.concatenate([pair, pair]), np.concatenate([pair, m + venues])),
        ),
        shape=(m, m + n),
    )
    size = sp.csr_matrix((ones, (venues, pair)), shape=(n, m + n))
    opened = sp.csr_matrix((np.ones(n), (np.arange(n), y)), shape=(n, m + n))
    a_ub = sp.vstack([upper, size - hi * opened, lo * opened - size]).tocsr()
    return linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.zeros(a_ub.shape[0]),
        A_eq=sp.vstack([assign, count]).tocsr(),
        b_eq=np.concatenate([np.ones(n), [p]]),
        bounds=(0, 1),
        method="highs",
    )


def lp_relaxation(
    dist: np.ndarray, p: int, lo: int, hi: int, nearest: int, max_seconds: float = 600.0
) -> dict:
    """The LP of the size-bounded p-median on every pair, by column generation.

    ``converged`` says whether no pair priced negative at the end; if not (no new
    round starts after ``max_seconds``), ``lp_km`` is the restricted LP's value:
    an upper limit on the full LP, not the LP.
    """
    n = len(dist)
    k = min(nearest, n)
    near = np.argsort(dist, axis=0)[:k]  # venue j's k nearest members (j first)
    members, venues = near.T.ravel().astype(np.int64), np.repeat(np.arange(n), k)
    t0 = time.perf_counter()
    converged = False
    rounds = 0
    while time.perf_counter() - t0 < max_seconds:
        rounds += 1
        res = _restricted(dist, members, venues, p, lo, hi)
        if res.status != 0:
            return {
                "lp_km": float("nan"),
                "converged": False,
                "rounds": rounds,
                "status": str(res.message),
            }
        m = len(members)
        u = res.eqlin.marginals[:n]
        mu = res.ineqlin.marginals[m : m + n]
        nu = res.ineqlin.marginals[m + n : m + 2 * n]
        reduced = dist - u[:, None] - mu[None, :] + nu[None, :]
        reduced[members, venues] = np.inf
        best = np.argsort(reduced, axis=1)[:, :10]
        rows = np.repeat(np.arange(n), best.shape[1])
        cols = best.ravel()
        add = reduced[rows, cols] < -PRICE_TOL
        print(f"  round {rounds}: LP {res.fun / 1000:,.3f} km, {m} pairs, {add.sum()} to add")
        if not add.any():
            converged = True
            break
        members = np.concatenate([members, rows[add]])
        venues = np.concatenate([venues, cols[add]])
    return {
        "lp_km": float(res.fun) / 1000,
        "converged": converged,
        "rounds": rounds,
        "pairs": len(members),
        "lp_seconds": time.perf_counter() - t0,
        "status": str(res.message),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The exact LP bound against the engine's.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--samples", nargs="+", choices=sorted(SAMPLES), default=sorted(SAMPLES), metavar="NAME"
    )
    parser.add_argument("--nearest", type=int, default=25)
    parser.add_argument("--bound-seconds", type=float, default=10.0)
    parser.add_argument(
        "--max-seconds", type=float, default=600.0, help="no pricing round starts after this"
    )
    args = parser.parse_args(argv)

    import clustering
    from clustering.model.sizes import Bounds, resolve
    from clustering.solver import bound

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for sample in args.samples:
        frame = clustering.load_centres(SAMPLES[sample]).frame
        n = len(frame)
        p = resolve(clustering.SizeRule(MIN_SIZE, MAX_SIZE), n).n_clusters
        xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
        dist = np.hypot(xy[:, 0][:, None] - xy[:, 0][None, :], xy[:, 1][:, None] - xy[:, 1])
        print(f"{sample}: {n} schools, p = {p}", flush=True)
        lp = lp_relaxation(dist, p, MIN_SIZE, MAX_SIZE, args.nearest, args.max_seconds)
        row = {"sample": sample, "n": n, "p": p, **lp}
        t = time.perf_counter()
        lb = bound.lagrangian_bound(
            dist,
            Bounds(n=n, min_size=MIN_SIZE, max_size=MAX_SIZE, n_clusters=p),
            1.03 * row["lp_km"] * 1000,  # the step sizes aim at a layout about 3 % above
            time_limit=args.bound_seconds,
        )
        row["lagrangian_km"] = lb.value / 1000
        row["lagrangian_seconds"] = time.perf_counter() - t
        row["lagrangian_below_lp_pct"] = 100 * (1 - row["lagrangian_km"] / row["lp_km"])
        row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        print(row, flush=True)
        rows.append(row)
    with open(args.out / "lp_bound.csv", "w", newline="") as fh:
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
