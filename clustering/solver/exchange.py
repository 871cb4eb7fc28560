"""Exchange local search for the weighted objective (travel + every term).

Swap two members of neighbouring clusters, or move one when the sizes allow,
whenever that lowers ``travel + Σ weight × part``; venues stay where they are.
This is the exchange method anticlustering tools use for diversity, with travel
added: each candidate's change of travel and contrast is computed exactly from
the clusters' running score sums, so a full sweep costs ``O(n · neighbours ·
size)``; the other terms (themes, partnerships, …) then price the best
candidate exactly. Each term brings its own state
(:meth:`clustering.model.terms.Term.exchange`). It gives the CP-SAT
neighbourhood search a mixed starting point.
"""

from __future__ import annotations

import numpy as np

from ..model.objective import Objective
from ..model.sizes import Bounds
from ..model.terms import Clusters
from .clock import Clock

__all__ = ["exchange"]


def exchange(
    costs: np.ndarray,
    venue_of: np.ndarray,
    objective: Objective,
    bounds: Bounds,
    *,
    neighbours: int = 6,
    time_limit: float = 5.0,
    clock: Clock | None = None,
) -> tuple[np.ndarray, int]:
    """Improve ``venue_of`` by first-improvement swaps and moves; returns it and the count.

    ``time_limit`` is counted on ``clock`` (wall-clock seconds by default).
    """
    clock = clock or Clock()
    started = clock.now()
    if time_limit <= 0:
        return venue_of, 0
    n = len(venue_of)
    venues = np.unique(venue_of)
    label = np.searchsorted(venues, venue_of)
    k = len(venues)
    # travel and arc terms (stability, boundary) per member → venue, in cost units
    arc = objective.arc_costs(costs)
    if bounds.allowed is not None:
        arc = np.where(bounds.allowed, arc, np.inf)
    costs, travel_w = arc, 1.0
    # each term's running state: those that price every candidate at once (contrast)
    # take part in the sweep; the others (themes, partnerships, …) price its best
    clusters = Clusters(label, venues)
    states = [t.exchange(clusters, objective.travel_scale) for t in objective.all_terms]
    states = [d for d in states if d is not None]
    sweep = [d for d in states if d.vectorised]
    side = _Side(bounds, label, [d for d in states if not d.vectorised])
    count = np.bincount(label, minlength=k)
    w = bounds.weights
    load = None if w is None else np.bincount(label, weights=w, minlength=k)
    quotas = [(m.astype(float), lo, hi) for m, lo, hi in bounds.quotas]
    qcount = [np.bincount(label, weights=m, minlength=k) for m, _, _ in quotas]
    is_venue = np.zeros(n, dtype=bool)
    is_venue[venues] = True
    for g in bounds.together:  # must-link members stay put
        is_venue[g] = True
    near = np.argsort(costs[np.ix_(venues, venues)], axis=1)[:, 1 : neighbours + 1]
    changes = 0
    improved = True
    while improved and clock.since(started) < time_limit:
        improved = False
        for a in range(k):
            if clock.since(started) >= time_limit:
                break  # the sweep's moves so far are kept
            for b in near[a]:
                ia = np.flatnonzero((label == a) & ~is_venue)
                ib = np.flatnonzero((label == b) & ~is_venue)
                clock.work(elements=25 * (2 * n + (len(ia) + 1) * (len(ib) + 1) * (1 + len(sweep))))
                if len(ia) == 0 or len(ib) == 0:
                    continue
                va, vb = venues[a], venues[b]
                # swap i (a -> b) with j (b -> a): travel change
                delta = travel_w * (
                    (costs[ia, vb] - costs[ia, va])[:, None]
                    + (costs[ib, va] - costs[ib, vb])[None, :]
                )
                for d in sweep:
                    delta = delta + d.swaps(a, b, ia, ib)
                if load is not None:
                    shift = w[ia][:, None] - w[ib][None, :]
                    ok = (
                        (load[a] - shift >= bounds.min_weight - 1e-9)
                        & (load[a] - shift <= bounds.max_weight + 1e-9)
                        & (load[b] + shift >= bounds.min_weight - 1e-9)
                        & (load[b] + shift <= bounds.max_weight + 1e-9)
                    )
                    delta = np.where(ok, delta, np.inf)
                for (mask, q_lo, q_hi), qc in zip(quotas, qcount, strict=True):
                    shift = mask[ia][:, None] - mask[ib][None, :]
                    ok = (qc[a] - shift >= q_lo) & (qc[a] - shift <= q_hi)
                    ok &= (qc[b] + shift >= q_lo) & (qc[b] + shift <= q_hi)
                    delta = np.where(ok, delta, np.inf)
                r, c = np.unravel_index(np.argmin(delta), delta.shape)
                if side.active and delta[r, c] < -1e-9:
                    delta[r, c] += side.delta([(ia[r], a, b), (ib[c], b, a)])
                if delta[r, c] < -1e-9:
                    i, j = ia[r], ib[c]
                    label[i], label[j] = b, a
                    for d in states:
                        d.apply([(i, a, b), (j, b, a)])
                    if load is not None:
                        load[a] += w[j] - w[i]
                        load[b] += w[i] - w[j]
                    for (mask, _, _), qc in zip(quotas, qcount, strict=True):
                        qc[a] += mask[j] - mask[i]
                        qc[b] += mask[i] - mask[j]
                    changes += 1
                    improved = True
                    continue
                # single move a -> b when sizes allow
                if count[a] - 1 < bounds.min_size or count[b] + 1 > bounds.max_size:
                    continue
                delta = travel_w * (costs[ia, vb] - costs[ia, va])
                for d in sweep:
                    delta = delta + d.moves(a, b, ia)
                if load is not None:
                    ok = (load[a] - w[ia] >= bounds.min_weight - 1e-9) & (
                        load[b] + w[ia] <= bounds.max_weight + 1e-9
                    )
                    delta = np.where(ok, delta, np.inf)
                for (mask, q_lo, q_hi), qc in zip(quotas, qcount, strict=True):
                    ok = (qc[a] - mask[ia] >= q_lo) & (qc[b] + mask[ia] <= q_hi)
                    delta = np.where(ok, delta, np.inf)
                r = int(np.argmin(delta))
                if side.active and delta[r] < -1e-9:
                    delta[r] += side.delta([(ia[r], a, b)])
                if delta[r] < -1e-9:
                    i = ia[r]
                    label[i] = b
                    for d in states:
                        d.apply([(i, a, b)])
                    if load is not None:
                        load[a] -= w[i]
                        load[b] += w[i]
                    for (mask, _, _), qc in zip(quotas, qcount, strict=True):
                        qc[a] -= mask[i]
                        qc[b] += mask[i]
                    count[a] -= 1
                    count[b] += 1
                    changes += 1
                    improved = True
    return venues[label], changes


class _Side:
    """Exact change of what the sweep does not vectorise: the terms that price the sweep's
    best candidate only, and cannot-link groups (a move breaking one costs +inf)."""

    def __init__(self, bounds: Bounds, label: np.ndarray, terms: list):
        self.label = label  # shared with the sweep, updated by it
        self.terms = terms
        self.apart_of: dict[int, list[np.ndarray]] = {}
        for g in bounds.apart:
            for i in g.tolist():
                self.apart_of.setdefault(i, []).append(g)
        self.active = bool(self.terms or self.apart_of)

    def delta(self, moves: list[tuple[int, int, int]]) -> float:
        """Change in cost units if each ``(centre, from, to)`` move were made."""
        label = self.label.copy()
        for i, _, to in moves:
            label[i] = to
        for i, _, _ in moves:
            for g in self.apart_of.get(int(i), ()):
                if np.count_nonzero(label[g] == label[i]) > 1:
                    return np.inf
        out = 0.0
        for term in self.terms:
            out += term.delta(moves, label)
        return out
