"""The layout, its objective and its rules, as arrays over its centres and clusters.

Centres are the rows of ``layout.centres``; clusters are numbered ``0..k-1`` in
the order of their venue rows. Every other piece of the explanations reads
these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...input.files import norm_id
from ...model.layout import Layout
from ...model.terms import Clusters
from ..metrics import distance_scale

__all__ = ["Arrays", "Choice", "VenueRanks", "can_explain", "group_rules"]

#: rows of centres read against every venue at a time (2,048 × 2,404 venues: 39 MB a block)
ROW_BLOCK = 2048


def can_explain(layout: Layout) -> bool:
    """Whether ``layout.problem`` holds what explanations need (a layout from the engine)."""
    problem = getattr(layout, "problem", None)
    if problem is None:
        return False
    centres = layout.centres
    n = len(centres)
    matrix = getattr(problem.costs, "matrix", None)
    return (
        n > 0
        and matrix is not None
        and np.shape(matrix) == (n, n)
        and {"centre_id", "cluster", "is_venue"} <= set(centres.columns)
    )


class Arrays:
    """The layout's centres, clusters, objective and rules, as arrays."""

    def __init__(self, layout: Layout):
        if not can_explain(layout):
            raise ValueError(
                "this layout has no solved problem (layout.problem); explanations need a "
                "layout made by clustering.form_clusters"
            )
        problem = layout.problem
        self.layout = layout
        centres = layout.centres
        self.n = n = len(centres)
        self.ids = centres["centre_id"].astype(str).to_numpy()
        raw = centres["name"] if "name" in centres.columns else centres["centre_id"]
        self.names = raw.astype(object).where(raw.notna(), "").astype(str).to_numpy()
        self.row_of = {cid: r for r, cid in enumerate(self.ids)}
        # a matrix that computes on demand (straight lines for many centres) stays so:
        # everything here reads it at pairs, rows or small blocks, never whole
        matrix = problem.costs.matrix
        self.costs = matrix if _on_demand(matrix) else np.asarray(matrix, dtype=float)
        self.objective = problem.objective
        self.constraints = problem.constraints
        self.rule = problem.rule
        self.compiled = problem.compiled
        self.factor, self.suffix = distance_scale(layout.unit)
        self.unit_text = "km" if layout.unit == "m" else str(layout.unit)

        # clusters: index 0..k-1 in the order of their venue rows
        labels = centres["cluster"].to_numpy(dtype=np.int64)
        is_venue = centres["is_venue"].to_numpy(dtype=bool)
        venue_rows = np.flatnonzero(is_venue)
        order = np.argsort(labels[venue_rows], kind="stable")
        by_label = labels[venue_rows][order]
        self.venue_of = venue_rows[order][np.searchsorted(by_label, labels)]
        self.venues = np.unique(self.venue_of)
        self.k = k = len(self.venues)
        self.k_of = np.searchsorted(self.venues, self.venue_of)
        self.labels = labels[self.venues]
        self.index_of_label = {str(int(lab)): c for c, lab in enumerate(self.labels)}
        self.size = np.bincount(self.k_of, minlength=k)
        rows_by = np.argsort(self.k_of, kind="stable")
        self.members = np.split(rows_by, np.cumsum(self.size)[:-1])
        self.padded = np.full((k, int(self.size.max())), -1, dtype=np.int64)
        for c, m in enumerate(self.members):
            self.padded[c, : len(m)] = m
        self.coordinator = (
            centres["coordinator"].to_numpy(dtype=bool)
            if "coordinator" in centres.columns
            else is_venue.copy()
        )

        # the objective, part by part: each term prices the candidate moves itself
        obj = self.objective
        self.weights = obj.weighted()
        # what a venue's choice changes, in cost units
        lazy = _on_demand(self.costs)
        self.arc = _ArcCosts(obj, self.costs) if lazy else obj.arc_costs(self.costs)
        self.clusters = Clusters(self.k_of, self.venues)
        self.what_if = [(t.name, t.what_if(self.clusters)) for t in obj.all_terms]
        self.base_parts = obj.parts(self.costs, self.venue_of)

        # the rules
        rule = self.rule
        self.min_size, self.max_size = int(rule.min_size), int(rule.max_size)
        self.size_by = rule.size_by
        self.loads = None
        if rule.size_by is not None and rule.size_by in centres.columns:
            self.loads = pd.to_numeric(centres[rule.size_by], errors="coerce").to_numpy(float)
            self.loads = np.nan_to_num(self.loads)
            self.load = np.bincount(self.k_of, weights=self.loads, minlength=k)
            self.w_lo = float(rule.min_weight or 0.0)
            self.w_hi = float(rule.max_weight) if rule.max_weight is not None else np.inf
        self.quotas = []
        for quota, mask in problem.quotas:
            mask = np.asarray(mask, dtype=bool)
            hi = self.max_size if quota.max is None else int(quota.max)
            count = np.bincount(self.k_of, weights=mask.astype(float), minlength=k)
            self.quotas.append((quota, mask, int(quota.min), hi, count))
        self.group_of = np.full(n, -1, dtype=np.int64)
        self.groups = [np.asarray(g, dtype=np.int64) for g in self.compiled.together]
        for g, rows in enumerate(self.groups):
            self.group_of[rows] = g
        self.group_rule = group_rules(self.constraints, self.row_of, n)
        self.apart: dict[int, set[int]] = {}
        for g in self.compiled.apart:
            g = [int(x) for x in g]
            for r in g:
                self.apart.setdefault(r, set()).update(x for x in g if x != r)
        self.allowed = self.compiled.allowed
        self.max_distance = self.constraints.max_distance
        self.regions = self.compiled.regions
        self.boundary = self.constraints.boundary
        self.locked = np.zeros(k, dtype=bool)
        prev = self.constraints.previous
        if prev is not None and self.constraints.lock_clusters:
            lock = {str(x) for x in self.constraints.lock_clusters}
            rows = [r for r, cid in enumerate(self.ids) if prev.cluster.get(cid) in lock]
            self.locked[self.k_of[rows]] = True
        self.eligible = self.compiled.coordinators

    def who(self, r: int) -> str:
        """``Name (id)``, or the id alone when the centre has no other name."""
        name, cid = self.names[r], self.ids[r]
        return f"{name} ({cid})" if name and name != cid else cid

    def many(self, rows, limit: int = 3) -> str:
        rows = list(rows)
        shown = ", ".join(self.who(r) for r in rows[:limit])
        return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")

    def dist(self, cost: float) -> str:
        """A cost as a distance in prose: ``3.2 km``."""
        return f"{cost * self.factor:,.1f} {self.unit_text}"

    def km(self, change: float) -> str:
        """A change of the total in prose: ``+1.20 km``."""
        return f"{change:+,.2f} {self.unit_text}"

    def label(self, c: int) -> int:
        """Cluster ``c``'s label (as in ``layout.centres["cluster"]``)."""
        return int(self.labels[c])

    def venue_block(self, rows: np.ndarray):
        """For the centres ``rows``: their cost to every venue, which venues each could
        use, and which of those are nearer than its own (rows × clusters each)."""
        rows = np.asarray(rows, dtype=np.int64)
        dv = np.asarray(self.costs[np.ix_(rows, self.venues)], dtype=float)
        usable = np.ones(dv.shape, dtype=bool)
        if self.allowed is not None:
            usable &= self.allowed[np.ix_(rows, self.venues)]
        if self.regions is not None:
            usable &= self.regions[rows][:, None] == self.regions[self.venues][None, :]
        own = dv[np.arange(len(rows)), self.k_of[rows]]
        nearer = (dv < own[:, None] - 1e-9) & usable
        return dv, usable, nearer

    def venue_ranks(self, rows: np.ndarray, alternatives: int = 0) -> VenueRanks:
        """Each row's venue rank, the venues in its reach, the nearest usable venue
        nearer than its own and its ``alternatives`` nearest other clusters.

        Read in blocks of :data:`ROW_BLOCK` rows, so memory stays at a block's
        rows × clusters whatever the number of centres.
        """
        rows = np.asarray(rows, dtype=np.int64)
        m = len(rows)
        count = max(0, min(alternatives, self.k - 1))
        out = VenueRanks(
            rank=np.zeros(m, dtype=np.int64),
            reach=np.zeros(m, dtype=np.int64),
            closest=np.full(m, -1, dtype=np.int64),
            alt=np.zeros((m, count), dtype=np.int64),
        )
        for start in range(0, m, ROW_BLOCK):
            block = rows[start : start + ROW_BLOCK]
            part = slice(start, start + len(block))
            dv, usable, nearer = self.venue_block(block)
            out.rank[part] = 1 + nearer.sum(axis=1)
            out.reach[part] = usable.sum(axis=1)
            masked = np.where(nearer, dv, np.inf)
            first = np.argmin(masked, axis=1)
            out.closest[part] = np.where(nearer.any(axis=1), first, -1)
            if count:
                dv[np.arange(len(block)), self.k_of[block]] = np.inf
                out.alt[part] = _nearest(dv, count)
        return out


@dataclass
class Choice:
    """The priced way of moving each centre ``i`` to cluster ``b`` (arrays, one per pair)."""

    i: np.ndarray
    b: np.ndarray
    j: np.ndarray  # swap partner, -1 for a plain move
    new_venue: np.ndarray  # venue of i's cluster afterwards (-1: the cluster would vanish)
    total: np.ndarray  # change of the weighted total, in km (or the matrix unit)
    parts: dict[str, np.ndarray]  # change of each part, in its own unit
    flags: np.ndarray  # (rules, pairs) bool: which rule each breaks
    names: list[str]  # the rules of ``flags``
    #: the size and weight rules a plain move would break (why a swap was priced instead)
    size_flags: np.ndarray | None = None

    def blocked(self) -> np.ndarray:
        return self.flags.any(axis=0)


@dataclass
class VenueRanks:
    """Per centre: how its venue ranks among those it could use, and its nearest others."""

    rank: np.ndarray  # of its venue among the venues it could use (1 = the nearest)
    reach: np.ndarray  # venues it could use
    closest: np.ndarray  # the cluster of the nearest usable venue nearer than its own, or -1
    alt: np.ndarray  # rows × A: the other clusters whose venues are nearest, nearest first


def _nearest(d: np.ndarray, count: int) -> np.ndarray:
    """Per row of ``d``: the ``count`` columns of least value, least first (ties: lower
    column first, as a stable sort)."""
    if count < d.shape[1]:
        part = np.argpartition(d, count - 1, axis=1)[:, :count]
    else:
        part = np.argsort(d, axis=1)[:, :count]
    inner = np.take_along_axis(d, part, axis=1)
    return np.take_along_axis(part, np.argsort(inner, axis=1, kind="stable"), axis=1)


def _on_demand(matrix) -> bool:
    """Whether ``matrix`` computes what is read (e.g. straight lines between many points)."""
    return not isinstance(matrix, np.ndarray) and hasattr(matrix, "__getitem__")


class _ArcCosts:
    """:meth:`Objective.arc_costs` read where indexed, never built whole."""

    def __init__(self, objective, costs) -> None:
        self.objective, self.costs = objective, costs
        self.shape = costs.shape

    def __getitem__(self, key):
        if not isinstance(key, tuple) or len(key) != 2:
            raise IndexError("index with [rows, cols]")
        return self.objective.arc_at(self.costs, *key)


def group_rules(constraints, row_of: dict[str, int], n: int) -> list[str]:
    """For each row: the rules that tie it to its must-share group, in words."""
    c = constraints
    src: list[set[str]] = [set() for _ in range(n)]
    for group in c.must_link:
        for cid in group:
            r = row_of.get(norm_id(cid))
            if r is not None:
                src[r].add("must-link")
    if c.partnerships_hard:
        for a, b in c.partnerships:
            ra, rb = row_of.get(norm_id(a)), row_of.get(norm_id(b))
            if ra is not None and rb is not None:
                src[ra].add("hard partnership")
                src[rb].add("hard partnership")
    for cid in c.lock_centres:
        r = row_of.get(norm_id(cid))
        if r is not None:
            src[r].add("locked to its previous cluster")
    return [", ".join(sorted(s)) or "must-link" for s in src]
