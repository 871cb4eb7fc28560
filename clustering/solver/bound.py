"""A valid lower bound for the whole problem by Lagrangian relaxation.

Relax "each centre belongs to exactly one cluster" with multipliers ``λ``.
What remains splits by venue: venue ``j`` alone picks the members that make
``Σ (cost[i, j] − λ_i)`` smallest within its size bounds, and the ``p`` venues
with the smallest values are opened. For every ``λ``

    L(λ) = Σ_i λ_i + Σ_{p smallest j} v_j(λ)

is at most the optimal total over *all* layouts (every centre a candidate
venue, every assignment allowed), so the gap reported against it is honest.
Subgradient steps raise ``L``. Each venue's subproblem is solved exactly for
count bounds (sort). With a weight cap each venue's subproblem is a 0-1
knapsack: its LP relaxation (a fractional knapsack) is computed for every
venue, and the knapsack itself is solved exactly by dynamic programming for
the venues that could be opened (weights floored to at most
``KNAPSACK_STEPS`` units of the cap, which only relaxes it). Each venue's
value is the largest of its valid relaxations, so the bound stays valid and
becomes the strong Lagrangian bound of the capacitated p-median.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..model.sizes import Bounds
from .clock import Clock

__all__ = ["LowerBound", "lagrangian_bound", "relaxed_costs"]

#: the knapsack's capacity in discrete steps: finer is tighter and slower
KNAPSACK_STEPS = 1000


@dataclass(frozen=True)
class LowerBound:
    """A lower bound on the total member → venue cost and how it was found."""

    value: float
    iterations: int
    seconds: float
    multipliers: np.ndarray
    #: each venue's subproblem value at the best multipliers
    venue_values: np.ndarray | None = None
    n_clusters: int = 0
    #: the exact knapsacks at the best multipliers: (venues, best gain by room,
    #: members' discrete weights, each venue's room)
    knapsacks: tuple | None = None
    #: the size bounds the subproblems were solved with
    min_size: int = 1
    max_size: int = 1 << 30

    def closed_venues(self, upper: float, *, step: float = 0.0) -> np.ndarray:
        """Venues that no layout cheaper than ``upper`` (by at least ``step``) can open.

        Opening venue ``j`` forces its value into the bound in place of the
        largest opened one; when that bound reaches ``upper - step`` every
        layout opening ``j`` costs at least that much (Lagrangian fixing).
        With integer costs, ``step = 1`` keeps exactly the layouts that
        improve on ``upper``.
        """
        v = self.venue_values
        p = self.n_clusters
        if v is None or p <= 0 or p >= len(v) or not np.isfinite(upper):
            return np.zeros(0 if v is None else len(v), dtype=bool)
        order = np.argsort(v, kind="stable")
        opened = order[:p]
        forced = self.value - float(v[opened].max()) + v
        closed = forced > upper - step + 1e-9 * max(abs(upper), 1.0)
        closed[opened] = False
        return closed

    def open_pairs(self, costs: np.ndarray, upper: float, *, step: float = 0.0) -> np.ndarray:
        """``ok[i, j]``: some layout cheaper than ``upper`` (by ``step``) may put ``i`` with ``j``.

        Forcing member ``i`` into venue ``j`` opens ``j`` (see :meth:`closed_venues`)
        and raises ``j``'s subproblem value to at least that of the subproblem
        with ``i`` forced in; when the bound this gives reaches ``upper - step``
        the pair can be dropped (reduced-cost fixing). ``ok[j, j]`` says whether
        ``j`` may be a venue. Both relaxations of the subproblem are used: the
        count-bounded one (exact: ``i`` joins the members already chosen, or
        takes the place of the dearest one the minimum size forces in) and, with
        a weight cap, the knapsack with ``i`` forced in.
        """
        v = self.venue_values
        n = costs.shape[0]
        p = self.n_clusters
        if v is None or p <= 0 or p >= n or not np.isfinite(upper):
            return np.ones((n, n), dtype=bool)
        order = np.argsort(v, kind="stable")
        opened = np.zeros(n, dtype=bool)
        opened[order[:p]] = True
        # the bound without venue j's own value, for a layout that opens j
        base = self.value - np.where(opened, v, float(v[order[:p]].max()))
        lam = self.multipliers
        reduced = costs - lam[:, None]
        diag = np.arange(n)
        reduced[diag, diag] = np.inf
        forced = _forced_count_values(reduced, lam, self.min_size, self.max_size)
        if self.knapsacks is not None:
            # venue j's knapsack with member i forced in: i's reduced cost plus the
            # best the room left after i can hold (i itself still allowed: a relaxation)
            venues, tables, w, room = self.knapsacks
            left = room[venues][None, :] - w[:, None]
            gain = np.take_along_axis(tables.T, np.clip(left, 0, tables.shape[1] - 1), axis=0)
            value = reduced[:, venues] - lam[venues][None, :] - gain
            value = np.where(left >= 0, value, np.inf)
            forced[:, venues] = np.maximum(forced[:, venues], value)
        # forcing a member in never lowers a venue's value below its own
        forced = np.maximum(forced, v[None, :])
        forced[diag, diag] = v
        limit = upper - step + 1e-9 * max(abs(upper), 1.0)
        return base[None, :] + forced <= limit


def _forced_count_values(reduced: np.ndarray, lam: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``out[i, j]``: venue ``j``'s count-bounded subproblem value with member ``i`` forced in.

    ``reduced[i, j] = cost[i, j] − λ_i`` with an infinite diagonal. Venue ``j``
    alone takes its ``c`` smallest reduced costs (the ``lo − 1`` the minimum size
    forces in, more while they are negative, at most ``hi − 1``). With ``i``
    forced in, the others are the ``c'`` smallest for one place less, so the
    value rises by ``r_ij`` less the reduced cost of the member ``i`` displaces
    (zero when ``i`` was chosen already).
    """
    n = reduced.shape[0]
    cols = np.arange(n)
    srt = np.sort(reduced, axis=0)
    finite = np.where(np.isfinite(srt), srt, 0.0)
    prefix = np.vstack([np.zeros(n), np.cumsum(finite, axis=0)])
    negative = (srt < 0).sum(axis=0)
    top = max(n - 1, 0)
    c = np.clip(np.maximum(lo - 1, np.minimum(negative, hi - 1)), 0, top)
    c2 = np.clip(np.maximum(lo - 2, np.minimum(negative, hi - 2)), 0, top)
    own = -lam + prefix[c, cols]
    last = srt[np.maximum(c - 1, 0), cols]
    drop = np.where(c > c2, last, 0.0)
    chosen = (c > 0)[None, :] & (reduced <= last[None, :])
    extra = np.where(chosen, 0.0, np.maximum(reduced - drop[None, :], 0.0))
    return own[None, :] + extra


def relaxed_costs(arc: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Member → venue costs for the bound: a forbidden pair costs a large finite amount.

    Allowing forbidden pairs at any cost is a relaxation, so the bound stays valid.
    """
    if bounds.allowed is None:
        return arc
    big = 10.0 * float(arc.max(initial=0.0)) + 1.0
    return np.where(bounds.allowed, arc, big)


def _pick(vals: np.ndarray, idx: np.ndarray, lam: np.ndarray, lo: int, hi: int):
    """Best ``lo-1 .. hi-1`` members per venue column among candidate rows ``vals``."""
    n = vals.shape[1]
    k = min(hi - 1, vals.shape[0])
    if k <= 0:
        return -lam.copy(), np.empty((0, n), dtype=np.int64), np.zeros((0, n), dtype=bool)
    part = np.argpartition(vals, k - 1, axis=0)[:k]
    top = np.take_along_axis(vals, part, axis=0)
    order = np.argsort(top, axis=0)
    idx = np.take_along_axis(np.take_along_axis(idx, part, axis=0), order, axis=0)
    top = np.take_along_axis(top, order, axis=0)
    forced = np.arange(k)[:, None] < lo - 1
    take = forced | (top < 0)
    values = -lam + np.where(take, top, 0.0).sum(axis=0)
    return values, idx, take & (idx >= 0)


class _Candidates:
    """Which members each venue's subproblem must look at, read in about ``O(k·n)``.

    Each venue column keeps its ``k`` nearest other centres, evaluated exactly.
    Any other centre ``i`` matters to venue ``j`` only if its reduced cost
    ``cost[i, j] − λ_i`` is negative or could displace one of the members the
    minimum size forces in. Every unlisted pair with reduced cost below a
    threshold ``tau`` (at least 0, and at least 90 % of the venues' largest
    forced values) is found row by row from each centre's sorted costs and
    added. A venue whose forced values exceed ``tau`` and whose unlisted
    members might undercut them (``beyond[j] − max λ`` is a lower bound on any
    unlisted reduced cost) is evaluated on its whole column. The venue values
    are therefore exact, as in the dense computation.
    """

    def __init__(self, costs: np.ndarray, k: int) -> None:
        n = costs.shape[0]
        masked = costs.astype(float, copy=True)
        masked[np.arange(n), np.arange(n)] = np.inf
        self.n, self.k = n, min(k, n - 1)
        if self.k >= n - 1:
            self.rows = np.argsort(masked, axis=0)[: n - 1]
        else:
            self.rows = np.argpartition(masked, self.k - 1, axis=0)[: self.k]
        self.near = np.take_along_axis(masked, self.rows, axis=0)
        self.costs = costs
        if self.k < n - 1:
            self.beyond = np.take_along_axis(
                masked, np.argpartition(masked, self.k, axis=0)[self.k : self.k + 1], axis=0
            )[0]
            self.row_order = np.argsort(masked, axis=1).astype(np.int32)
            row_sorted = np.take_along_axis(masked, self.row_order, axis=1)
            # rows laid end to end, each shifted above the last, so one
            # searchsorted counts every row's members below its threshold
            top = float(np.max(costs)) + 1.0
            self.cap = top + 0.5  # thresholds above every real cost, below the venue itself
            self.shift = 2.0 * top + 4.0
            row_sorted[~np.isfinite(row_sorted)] = top + 1.0
            self.flat = (row_sorted + self.shift * np.arange(n)[:, None]).ravel()
            self.listed = np.sort((self.rows.astype(np.int64) * n + np.arange(n)).ravel())
        self.exact_columns = 0

    def values(self, lam: np.ndarray, lo: int, hi: int):
        n = self.n
        vals = self.near - lam[self.rows]
        if self.k >= n - 1:
            return _pick(vals, self.rows, lam, lo, hi)
        # the largest value the minimum size forces in, from the lists alone
        if lo > 1:
            forced = np.partition(vals, lo - 2, axis=0)[lo - 2]
            tau = float(np.quantile(np.maximum(forced, 0.0), 0.9))
        else:
            forced, tau = np.full(n, -np.inf), 0.0
        # every unlisted pair with reduced cost below tau, found row by row
        extra_vals, extra_idx = self._below(lam, tau)
        vals = np.vstack([vals, extra_vals])
        idx = np.vstack([self.rows, extra_idx])
        values, picked, take = _pick(vals, idx, lam, lo, hi)
        # venues whose forced members might lie beyond both: evaluate their whole column
        unsure = np.flatnonzero((forced > tau) & (self.beyond - lam.max() < forced))
        self.exact_columns = len(unsure)
        if len(unsure):
            col = self.costs[:, unsure] - lam[:, None]
            col[unsure, np.arange(len(unsure))] = np.inf
            full_idx = np.broadcast_to(np.arange(n)[:, None], col.shape)
            v2, p2, t2 = _pick(col, full_idx, lam[unsure], lo, hi)
            values[unsure], picked[:, unsure], take[:, unsure] = v2, p2, t2
        return values, picked, take

    def _below(self, lam: np.ndarray, tau: float):
        """Unlisted pairs ``(i, j)`` with ``cost[i, j] − λ_i < tau``, as padded columns."""
        n = self.n
        rows = np.arange(n)
        # costs are never negative: a threshold below zero finds nothing
        limit = np.clip(lam + tau, -1.0, self.cap) + self.shift * rows
        counts = np.clip(np.searchsorted(self.flat, limit) - n * rows, 0, n - 1)
        total = int(counts.sum())
        if total == 0:
            return np.empty((0, n)), np.empty((0, n), dtype=np.int64)
        i = np.repeat(rows, counts)
        pos = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        j = self.row_order[i, pos].astype(np.int64)
        keys = i * n + j
        at = np.minimum(np.searchsorted(self.listed, keys), len(self.listed) - 1)
        keep = self.listed[at] != keys
        i, j = i[keep], j[keep]
        if len(i) == 0:
            return np.empty((0, n)), np.empty((0, n), dtype=np.int64)
        order = np.argsort(j, kind="stable")
        i, j = i[order], j[order]
        per = np.bincount(j, minlength=n)
        slot = np.arange(len(j)) - np.repeat(np.cumsum(per) - per, per)
        extra_vals = np.full((int(per.max()), n), np.inf)
        extra_idx = np.full((int(per.max()), n), -1, dtype=np.int64)
        extra_vals[slot, j] = self.costs[i, j] - lam[i]
        extra_idx[slot, j] = i
        return extra_vals, extra_idx


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


class _Knapsack:
    """Exact 0-1 knapsack values of chosen venues, vectorised across venues.

    Weights are floored to integer steps of ``cap / KNAPSACK_STEPS`` (or kept
    when they already are small integers); a venue's own weight takes room
    first. Flooring lets more members fit, so each value is a relaxation of
    the true subproblem and the bound stays valid.
    """

    def __init__(self, weights: np.ndarray, cap: float) -> None:
        w = np.asarray(weights, dtype=float)
        integral = np.all(w == np.round(w)) and float(cap) <= 4 * KNAPSACK_STEPS
        unit = 1.0 if integral else max(float(cap) / KNAPSACK_STEPS, 1e-12)
        self.w = np.floor(w / unit + 1e-9).astype(np.int64)
        self.cap = int(np.floor(float(cap) / unit + 1e-9))
        self.room = self.cap - self.w  # what each venue has left after itself

    def solve(self, reduced: np.ndarray, lam: np.ndarray, venues: np.ndarray):
        """Each venue's exact value, its chosen members and its table of best gains.

        ``reduced`` holds ``cost[i, j] − λ_i`` with an infinite diagonal.
        """
        m = len(venues)
        sub = reduced[:, venues]
        fits = (sub < 0) & (self.w[:, None] <= np.maximum(self.room[venues], -1)[None, :])
        counts = fits.sum(axis=0)
        depth = int(counts.max()) if m else 0
        gains = np.zeros((depth, m))
        items = np.full((depth, m), -1, dtype=np.int64)
        if depth:
            rows, cols = np.nonzero(fits.T)  # venue-major: rows are venue positions
            slot = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
            items[slot, rows] = cols
            gains[slot, rows] = -sub[cols, rows]
        wts = np.where(items >= 0, self.w[np.maximum(items, 0)], 0)
        cap = max(int(self.room[venues].max()) if m else 0, 0)
        dp = np.zeros((m, cap + 1))
        keep = np.zeros((depth, m, cap + 1), dtype=bool)
        grid = np.arange(cap + 1)[None, :]
        for s in range(depth):
            idx = grid - wts[s][:, None]
            shifted = np.take_along_axis(dp, np.maximum(idx, 0), axis=1) + gains[s][:, None]
            better = (idx >= 0) & (shifted > dp)
            keep[s] = better
            dp = np.where(better, shifted, dp)
        room = self.room[venues]
        ok = room >= 0
        best = np.where(ok, dp[np.arange(m), np.clip(room, 0, cap)], 0.0)
        values = np.where(ok, -lam[venues] - best, np.inf)
        chosen = []
        for v in range(m):
            c, picks = int(room[v]), []
            if c >= 0:
                for s in range(depth - 1, -1, -1):
                    if keep[s, v, c]:
                        picks.append(int(items[s, v]))
                        c -= int(wts[s, v])
            chosen.append(np.asarray(picks, dtype=np.int64))
        return values, chosen, dp


def lagrangian_bound(
    costs: np.ndarray,
    bounds: Bounds,
    upper: float,
    *,
    start: np.ndarray | None = None,
    time_limit: float = 5.0,
    max_iterations: int = 1000,
    tolerance: float = 1e-4,
    neighbours: int | None = 80,
    clock: Clock | None = None,
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
    neighbours
        Candidate members read per venue (``None``: all). Fewer make each step
        cheaper; the bound stays valid (see :class:`_Candidates`).
    clock
        The clock ``time_limit`` is counted on (each step is charged to it).
    """
    t0 = time.perf_counter()
    clock = clock or Clock()
    started = clock.now()
    n, p = costs.shape[0], bounds.n_clusters
    hi_size = bounds.max_size
    lam = np.array(start if start is not None else costs.min(axis=0), dtype=float)
    weights = bounds.weights
    use_knapsack = weights is not None and np.isfinite(bounds.max_weight)
    k = n - 1 if use_knapsack or neighbours is None else min(n - 1, max(neighbours, hi_size))
    cand = _Candidates(costs, k)
    reduced = costs - lam[:, None] if use_knapsack else None
    knapsack = _Knapsack(weights, bounds.max_weight) if use_knapsack else None
    diag = np.arange(n)
    best, best_lam, theta, stall, iterations = -np.inf, lam.copy(), 1.0, 0, 0
    best_values = None
    best_tables = None
    for it in range(1, max_iterations + 1):
        iterations = it
        values, idx, take = cand.values(lam, bounds.min_size, bounds.max_size)
        exact_picks: dict[int, np.ndarray] = {}
        if use_knapsack:
            reduced[:] = costs
            reduced -= lam[:, None]
            reduced[diag, diag] = np.inf
            values = np.maximum(values, _knapsack_values(reduced, lam, weights, bounds.max_weight))
            # the exact knapsack for the venues that could be opened; the rest keep
            # their (smaller, still valid) relaxed values
            if p < n:
                first = np.argsort(values, kind="stable")[: min(n, 2 * p + 10)]
            else:
                first = np.arange(n)
            exact, chosen, tables = knapsack.solve(reduced, lam, first)
            values[first] = np.maximum(values[first], exact)
            exact_picks = dict(zip(first.tolist(), chosen, strict=True))
        opened = np.argpartition(values, p - 1)[:p] if p < n else np.arange(n)
        value = lam.sum() + values[opened].sum()
        if value > best + 1e-9:
            best, best_lam, best_values, stall = value, lam.copy(), values.copy(), 0
            if use_knapsack:
                best_tables = (first.copy(), tables.copy())
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        if upper - best <= tolerance * max(abs(upper), 1.0) or theta < 1e-5:
            break
        clock.work(elements=6 * n * (n if use_knapsack else k + 1), steps=4)
        if clock.since(started) > time_limit:
            break
        times = np.zeros(n)
        times[opened] += 1.0
        if exact_picks:
            picked = [exact_picks.get(int(j)) for j in opened]
            for j, got in zip(opened, picked, strict=True):
                if got is None:  # a relaxed venue: its count-bound members
                    got = idx[:, j][take[:, j]]
                np.add.at(times, got, 1.0)
        else:
            picked = idx[:, opened][take[:, opened]]
            np.add.at(times, picked, 1.0)
        grad = 1.0 - times
        norm = float(grad @ grad)
        if norm == 0:  # the relaxed solution is a layout: the bound is tight
            break
        lam += theta * (upper - value) / norm * grad
    return LowerBound(
        float(best),
        iterations,
        time.perf_counter() - t0,
        best_lam,
        best_values,
        int(p),
        None if best_tables is None else (*best_tables, knapsack.w, knapsack.room),
        int(bounds.min_size),
        int(bounds.max_size),
    )


def sparse_bound(
    xy: np.ndarray, lam: np.ndarray, *, min_size: int, max_size: int, n_clusters: int
) -> float:
    """``L(λ)`` for straight-line costs between ``xy`` (metres), without an n × n matrix.

    For very large inputs solved in areas: any multipliers give a valid bound
    on the whole set, so the areas' multipliers, laid side by side, are
    evaluated here. Every member → venue pair with reduced cost
    ``cost[i, j] − λ_i`` below a threshold ``τ`` is found with a KD-tree
    (radius ``λ_i + τ`` around each member); any other pair costs more than
    ``τ``, so where the minimum size forces in members not found they are
    counted at ``τ`` and no venue's value is overstated. Weight caps, quotas
    and other rules are dropped, which only relaxes the problem.
    """
    from scipy.spatial import cKDTree

    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    lam = np.asarray(lam, dtype=float)
    lo, hi, p = int(min_size), int(max_size), int(n_clusters)
    tree = cKDTree(xy)
    # τ: about the distance at which a venue finds the members its minimum size forces in
    k = min(n, max(lo, 2))
    dist, _ = tree.query(xy, k=k)
    tau = float(np.quantile(dist[:, -1], 0.9)) if n > 1 else 0.0
    balls = tree.query_ball_point(xy, r=np.maximum(lam + tau, 0.0))
    counts = np.fromiter((len(b) for b in balls), dtype=np.int64, count=n)
    members = np.repeat(np.arange(n), counts)
    venues = np.fromiter((j for b in balls for j in b), dtype=np.int64, count=int(counts.sum()))
    keep = members != venues
    members, venues = members[keep], venues[keep]
    reduced = np.hypot(*(xy[members] - xy[venues]).T) - lam[members]
    phantom = max(lo - 1, 0)
    if phantom:
        venues = np.concatenate([venues, np.repeat(np.arange(n), phantom)])
        reduced = np.concatenate([reduced, np.full(n * phantom, tau)])
    order = np.lexsort((reduced, venues))
    venues, reduced = venues[order], reduced[order]
    per = np.bincount(venues, minlength=n)
    rank = np.arange(len(venues)) - np.repeat(np.cumsum(per) - per, per)
    take = (rank < hi - 1) & ((rank < lo - 1) | (reduced < 0))
    values = -lam + np.bincount(venues[take], weights=reduced[take], minlength=n)
    opened = np.argpartition(values, p - 1)[:p] if p < n else np.arange(n)
    return float(lam.sum() + values[opened].sum())
