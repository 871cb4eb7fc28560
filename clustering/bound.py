"""A valid lower bound for the whole problem by Lagrangian relaxation.

Relax "each centre belongs to exactly one cluster" with multipliers ``λ``.
What remains splits by venue: venue ``j`` alone picks the members that make
``Σ (cost[i, j] − λ_i)`` smallest within its size bounds, and the ``p`` venues
with the smallest values are opened. For every ``λ``

    L(λ) = Σ_i λ_i + Σ_{p smallest j} v_j(λ)

is at most the optimal total over *all* layouts (every centre a candidate
venue, every assignment allowed), so the gap reported against it is honest.
Subgradient steps raise ``L``. Each venue's subproblem is solved exactly for
count bounds (sort); with a weight cap its LP relaxation (a fractional
knapsack) is also computed and the larger of the two relaxations is used,
both being valid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .spec import Bounds

__all__ = ["LowerBound", "lagrangian_bound"]


@dataclass(frozen=True)
class LowerBound:
    """A lower bound on the total member → venue cost and how it was found."""

    value: float
    iterations: int
    seconds: float
    multipliers: np.ndarray


def _count_values(reduced: np.ndarray, lam: np.ndarray, lo: int, hi: int):
    """Exact venue values with ``lo..hi`` members and who each venue picks."""
    n = reduced.shape[0]
    k = min(hi - 1, n - 1)
    if k <= 0:
        return -lam.copy(), np.empty((0, n), dtype=np.int64), np.zeros((0, n), dtype=bool)
    idx = np.argpartition(reduced, k - 1, axis=0)[:k]
    vals = np.take_along_axis(reduced, idx, axis=0)
    order = np.argsort(vals, axis=0)
    idx = np.take_along_axis(idx, order, axis=0)
    vals = np.take_along_axis(vals, order, axis=0)
    forced = np.arange(k)[:, None] < lo - 1
    take = forced | (vals < 0)
    values = -lam + np.where(take, vals, 0.0).sum(axis=0)
    return values, idx, take


def _knapsack_values(reduced: np.ndarray, lam: np.ndarray, weights: np.ndarray, cap: float):
    """LP relaxation of each venue's weight-capped subproblem (fractional knapsack)."""
    n = reduced.shape[0]
    values = -lam.copy()
    rows, cols = np.nonzero(reduced < 0)
    if len(rows) == 0:
        return values
    room = cap - weights  # what each venue has left after itself
    r = reduced[rows, cols]
    w = weights[rows]
    ratio = np.where(w > 0, r / np.maximum(w, 1e-12), -np.inf)
    order = np.lexsort((ratio, cols))
    rows, cols, r, w = rows[order], cols[order], r[order], w[order]
    cum = np.cumsum(w)
    start = np.searchsorted(cols, np.arange(n))
    base = np.concatenate([[0.0], cum])[start]
    used_before = cum - w - base[cols]
    left = room[cols] - used_before
    frac = np.clip(np.where(w > 0, left / np.maximum(w, 1e-12), 1.0), 0.0, 1.0)
    np.add.at(values, cols, frac * r)
    return values


def lagrangian_bound(
    costs: np.ndarray,
    bounds: Bounds,
    upper: float,
    *,
    start: np.ndarray | None = None,
    time_limit: float = 5.0,
    max_iterations: int = 1000,
    tolerance: float = 1e-4,
) -> LowerBound:
    """Raise ``L(λ)`` by subgradient steps for at most ``time_limit`` seconds.

    Parameters
    ----------
    costs
        ``(n, n)`` member → venue costs.
    bounds
        Sizes, weights and the number of clusters.
    upper
        The cost of a known layout (step sizes aim at it).
    start
        Initial multipliers, e.g. each centre's cost to its venue in a good layout.
    """
    t0 = time.perf_counter()
    n, p = costs.shape[0], bounds.n_clusters
    lam = np.array(start if start is not None else costs.min(axis=0), dtype=float)
    reduced = costs - lam[:, None]
    diag = np.arange(n)
    best, best_lam, theta, stall, iterations = -np.inf, lam.copy(), 1.0, 0, 0
    weights = bounds.weights
    use_knapsack = weights is not None and np.isfinite(bounds.max_weight)
    for it in range(1, max_iterations + 1):
        iterations = it
        reduced[:] = costs
        reduced -= lam[:, None]
        reduced[diag, diag] = np.inf
        values, idx, take = _count_values(reduced, lam, bounds.min_size, bounds.max_size)
        if use_knapsack:
            values = np.maximum(values, _knapsack_values(reduced, lam, weights, bounds.max_weight))
        opened = np.argpartition(values, p - 1)[:p] if p < n else np.arange(n)
        value = lam.sum() + values[opened].sum()
        if value > best + 1e-9:
            best, best_lam, stall = value, lam.copy(), 0
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        if upper - best <= tolerance * max(abs(upper), 1.0) or theta < 1e-5:
            break
        if time.perf_counter() - t0 > time_limit:
            break
        times = np.zeros(n)
        times[opened] += 1.0
        picked = idx[:, opened][take[:, opened]]
        np.add.at(times, picked, 1.0)
        grad = 1.0 - times
        norm = float(grad @ grad)
        if norm == 0:  # the relaxed solution is a layout: the bound is tight
            break
        lam += theta * (upper - value) / norm * grad
    return LowerBound(float(best), iterations, time.perf_counter() - t0, best_lam)
