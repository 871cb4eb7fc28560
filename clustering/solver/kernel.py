"""Kernel search: exact re-solves of the whole part over growing sets of venues.

The Lagrangian bound ranks every centre as a venue (its subproblem value). The
*kernel* is the current layout's venues plus the best-ranked ones; CP-SAT
solves the whole part with venues restricted to the kernel and a *bucket* of
the next-ranked venues, starting from the best layout so far. Venues that an
improved layout opens join the kernel; buckets are tried in rank order.
Venues and member → venue pairs that no better layout can use (Lagrangian
fixing against the best total so far) are left out of every model. This is
the kernel search of Angelelli, Mansini and Speranza (2010), with the
Lagrangian values in place of the LP relaxation's.

Each model is small (a few venues per member), so CP-SAT with one worker and
its full LP relaxation solves it to optimality in a fraction of a second to a
few seconds; the result is a better start for the exact model and the
large-neighbourhood search.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..model.objective import Objective
from ..model.sizes import Bounds
from .bound import LowerBound
from .clock import Clock
from .construct import layout_cost
from .cpsat import solve_cpsat
from .incumbent import Incumbent

__all__ = ["kernel_search"]


def kernel_search(
    costs: np.ndarray,
    bounds: Bounds,
    best: Incumbent,
    lb: LowerBound,
    relaxed: np.ndarray,
    *,
    scale: float,
    step: float,
    time_limit: float,
    seed: int = 0,
    objective: Objective | None = None,
    kernel_size: float = 1.5,
    move_time: float = 2.0,
    stop: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
    clock: Clock | None = None,
) -> dict:
    """Improve ``best`` by restricted exact solves; returns counts.

    Parameters
    ----------
    lb
        The part's Lagrangian bound (its venue values rank the venues).
    relaxed
        The member → venue costs the bound was computed on.
    kernel_size
        The kernel's best-ranked venues, as a multiple of the cluster count.
    """
    t0 = time.perf_counter()
    clock = clock or Clock()
    started = clock.now()
    n, p = costs.shape[0], bounds.n_clusters
    stats = {"kernel_models": 0, "kernel_improvements": 0}
    if lb.venue_values is None or p < 1:
        return stats
    order = [int(j) for j in np.argsort(lb.venue_values, kind="stable")]
    venue_of, upper = best.get()
    kernel = set(order[: int(np.ceil(kernel_size * p))]) | set(np.unique(venue_of).tolist())
    rest = [j for j in order if j not in kernel]
    buckets = [[], *(rest[k : k + p] for k in range(0, len(rest), p))]
    idx = np.arange(n)
    for bucket in buckets:
        left = time_limit - clock.since(started)
        if left <= 0.05 or (stop is not None and stop.is_set()):
            break
        venue_of, upper = best.get()
        closed = lb.closed_venues(upper, step=step)
        venues = np.array(sorted(j for j in kernel | set(bucket) if not closed[j]))
        venues = np.union1d(venues, np.unique(venue_of))
        if bucket and not np.isin(bucket, venues).any():
            continue  # every venue of this bucket is closed by the bound
        allowed = np.zeros((n, n), dtype=bool)
        allowed[:, venues] = True
        allowed &= lb.open_pairs(relaxed, upper, step=step)
        if bounds.allowed is not None:
            allowed &= bounds.allowed
        allowed[idx, venue_of] = True  # the best layout stays representable (the hint)
        result = solve_cpsat(
            costs,
            replace(bounds, allowed=allowed),
            scale=scale,
            hint=venue_of,
            candidates=n,
            time_limit=min(move_time, left),
            workers=1,
            seed=seed + stats["kernel_models"],
            objective=objective,
            clock=clock,
        )
        stats["kernel_models"] += 1
        if result.venue_of is None:
            continue
        value = (
            layout_cost(costs, result.venue_of)
            if objective is None
            else objective.cost(costs, result.venue_of)
        )
        if best.offer(result.venue_of, value):
            stats["kernel_improvements"] += 1
            kernel |= set(np.unique(result.venue_of).tolist())
            if progress is not None:
                progress(value)
    stats["kernel_seconds"] = time.perf_counter() - t0
    return stats
